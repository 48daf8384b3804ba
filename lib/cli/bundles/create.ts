// dist/cli/create.cjs: `pocker create` alone (../single.ts).
import { addCreateCommand, executeRun } from '../run.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['create'], [addCreateCommand], executeRun);
