// dist/cli/ps.cjs: `pocker ps` alone (../single.ts).
import { addPsOnly } from '../containers.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['ps'], [[['ps'], addPsOnly]]);
