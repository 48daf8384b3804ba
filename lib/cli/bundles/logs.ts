// dist/cli/logs.cjs: `pocker logs` alone (../single.ts).
import { addLogsCommand } from '../logs.js';
import { MODULE_NAMES } from '../command-names.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['logs'], [[MODULE_NAMES.logs, addLogsCommand]]);
