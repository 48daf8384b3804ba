// Where the package lives. Found by walking up to package.json, so the answer is the same from
// lib/ (tests), dist/ (the compiled library) and dist/cli.cjs (the bundled CLI).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** Where containers live when no --root, `root` option or $POCKER_ROOT names a state directory. */
export const DEFAULT_STATE_ROOT = '/var/lib/pocker';

/** The package root (the directory holding package.json). */
export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
