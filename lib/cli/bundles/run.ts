// dist/cli/run.cjs: `pocker run` alone (../single.ts).
import { MODULE_NAMES } from '../command-names.js';
import { addRunCommand, executeRun } from '../run.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['run'], [[MODULE_NAMES.run, addRunCommand]], executeRun);
