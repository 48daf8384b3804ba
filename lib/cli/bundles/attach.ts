// dist/cli/attach.cjs: `pocker start | restart | attach` alone (../single.ts).
import { addAttachCommands } from '../attach.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['start', 'restart', 'attach'], [addAttachCommands]);
