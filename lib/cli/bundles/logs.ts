// dist/cli/logs.cjs: `pocker logs` alone (../single.ts).
import { addLogsCommand } from '../logs.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['logs'], [addLogsCommand]);
