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

/**
 * The bundled CLI's directory (scripts/bundle-cli.mjs declares it from the bundle's __dirname):
 * the bundle then makes no file: URL of its own path to turn back into that path (~0.7 ms of
 * every start here). Undefined in the ES modules, which use import.meta.url.
 */
declare const __pockerBundleDir: string | undefined;

/** The package root (the directory holding package.json). */
export const packageRoot = findRoot(typeof __pockerBundleDir === 'string' ? __pockerBundleDir : dirname(fileURLToPath(import.meta.url)));
