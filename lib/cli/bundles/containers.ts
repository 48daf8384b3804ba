// dist/cli/containers.cjs: `pocker stop | kill | wait | rm | inspect` alone (../single.ts).
import { addContainerCommands } from '../containers.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['stop', 'kill', 'wait', 'rm', 'inspect'], [addContainerCommands]);
