// dist/cli/pull.cjs: `pocker pull` alone (../single.ts).
import { addPullCommand } from '../pull.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['pull'], [addPullCommand]);
