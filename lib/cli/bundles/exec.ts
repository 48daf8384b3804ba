// dist/cli/exec.cjs: `pocker exec` alone (../single.ts).
import { addExecCommand } from '../exec.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['exec'], [addExecCommand]);
