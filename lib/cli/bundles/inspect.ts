// dist/cli/inspect.cjs: `pocker inspect` alone (../single.ts): the state readers, the templates and
// the image and volume lookups it falls back to, without the lifecycle code of stop, kill and rm
// (the containers bundle), whose larger code cache cost every `inspect` ~0.7 ms.
import { addInspectOnly } from '../containers.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['inspect'], [[['inspect'], addInspectOnly]]);
