// dist/cli/containers.cjs: `pocker stop|kill|wait|rm` (../single.ts), the container commands
// scripts run most after `run` and `ps` (`inspect` has a bundle of its own).
import { MODULE_NAMES } from '../command-names.js';
import { addContainerCommands } from '../containers.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['stop', 'kill', 'wait', 'rm'], [[MODULE_NAMES.containers, addContainerCommands]]);
