// dist/cli/create.cjs: `pocker create`, and `start`/`restart`/`attach`, which scripts run after it
// (../single.ts). Apart from the run bundle, which they would make larger for every `run` (~1 ms:
// start's attach machinery); each command line builds its own module's commands only. The code
// cache is warmed by a `create` (../start.ts).
import { addAttachCommands } from '../attach.js';
import { MODULE_NAMES } from '../command-names.js';
import { addCreateCommand, executeRun } from '../run.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(
  ['create', 'start', 'restart', 'attach'],
  [[MODULE_NAMES.create, addCreateCommand], [MODULE_NAMES.attach, addAttachCommands]],
  executeRun,
);
