// dist/cli/exec.cjs: `pocker exec` alone (../single.ts).
import { addExecCommand } from '../exec.js';
import { MODULE_NAMES } from '../command-names.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['exec'], [[MODULE_NAMES.exec, addExecCommand]]);
