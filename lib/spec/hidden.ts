// The `host` image (and a --rootfs that holds pocker's stores) must not show pocker's own state: a
// container of it read another container's config.json (its env secrets), the credentials file
// and other users' state roots. Each store directory found inside a lower dir is masked in the
// container (linux.maskedPaths: an empty read-only tmpfs over it), as data in the document.
import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

import { DEFAULT_STATE_ROOT } from '../paths.js';

/** Places pocker keeps state: store roots, runtime dirs, credentials (its own and every user's
 * under /home and /run/user, listed only when `wanted` says a lower could hold them). */
export function pockerStoreDirs(activeRoot: string, env: NodeJS.ProcessEnv = process.env, wanted: (dir: string) => boolean = () => true): string[] {
  const dirs = new Set<string>([activeRoot, DEFAULT_STATE_ROOT, '/run/pocker']);
  if (env.POCKER_ROOT) dirs.add(env.POCKER_ROOT);
  const home = env.HOME || homedir();
  dirs.add(join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'pocker'));
  dirs.add(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'pocker'));
  if (env.XDG_RUNTIME_DIR) dirs.add(join(env.XDG_RUNTIME_DIR, 'pocker'));
  // Every user's defaults (rootless stores live in their homes and /run/user/<uid>).
  const homes = ['/root', ...(wanted('/home') ? list('/home').map((n) => join('/home', n)) : [])];
  for (const h of homes) {
    dirs.add(join(h, '.local', 'share', 'pocker'));
    dirs.add(join(h, '.config', 'pocker'));
  }
  if (wanted('/run/user')) for (const uid of list('/run/user')) dirs.add(join('/run/user', uid, 'pocker'));
  return [...dirs].filter((d) => isAbsolute(d) && wanted(d) && isDir(d));
}

/** The container paths to mask: each store dir inside one of the lowers, as seen from the
 * container's root. An image's layers hold none: nothing is looked up on disk then. */
export function hiddenStorePaths(lowers: string[], activeRoot: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const inside = (lower: string, dir: string): string | undefined => {
    const rel = relative(lower, dir);
    return rel.startsWith('..') || isAbsolute(rel) ? undefined : rel;
  };
  // A lower under the directory is enough to want it listed (/home/x as a lower, /home listed).
  const wanted = (dir: string): boolean => lowers.some((l) => inside(l, dir) !== undefined || inside(dir, l) !== undefined);
  const out = new Set<string>();
  for (const dir of pockerStoreDirs(activeRoot, env, wanted)) {
    for (const lower of lowers) {
      const rel = inside(lower, dir);
      if (rel) out.add(`/${rel}`);
    }
  }
  return [...out].sort();
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// Most candidates do not exist: no exception for those (~5-30 us each, and a `host` run asks ~20).
function isDir(p: string): boolean {
  try {
    return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}
