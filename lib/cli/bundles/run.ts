// dist/cli/run.cjs: `pocker run` alone (../single.ts).
import { addRunCommand, executeRun } from '../run.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['run'], [addRunCommand], executeRun);
