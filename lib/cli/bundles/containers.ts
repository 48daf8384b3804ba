// dist/cli/containers.cjs: `pocker inspect|stop|kill|wait|rm` (../single.ts), the container
// commands scripts run most after `run` and `ps`.
import { addContainerCommands } from '../containers.js';
import { MODULE_NAMES } from '../command-names.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['inspect', 'stop', 'kill', 'wait', 'rm'], [[MODULE_NAMES.containers, addContainerCommands]]);
