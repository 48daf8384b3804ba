// dist/cli/images.cjs: `pocker images | rmi | tag | history | login | logout` alone (../single.ts).
import { addImageCommands } from '../images.js';
import { MODULE_NAMES } from '../command-names.js';
import { singleCommand } from '../single.js';

export const { names, programFor, main, warmUp } = singleCommand(['images', 'rmi', 'tag', 'history', 'login', 'logout'], [[MODULE_NAMES.images, addImageCommands]]);
