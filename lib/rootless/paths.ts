// Where a rootless (non-root) caller keeps its state, as Podman does:
//   data:    $XDG_DATA_HOME/pocker, default ~/.local/share/pocker (containers, images, volumes,
//            networks: the same layout as /var/lib/pocker)
//   runtime: $XDG_RUNTIME_DIR/pocker (sockets, pids of the user-mode network helpers); when
//            XDG_RUNTIME_DIR is unset (su, runuser, cron) /tmp/pocker-run-<uid>, a 0700 directory
//            whose owner and mode are checked, so another user cannot plant one for us.
import { lstatSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';

/** True when this process is not root: pocker then runs rootless. */
export function isRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

function ownedDir(path: string, uid: number): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === uid;
  } catch {
    return false;
  }
}

/**
 * The caller's home: $HOME when it is a directory the caller owns, else the passwd entry's (runuser
 * and setpriv can leave root's HOME in the environment).
 */
export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.geteuid?.() ?? 0;
  if (env.HOME && ownedDir(env.HOME, uid)) return env.HOME;
  return userInfo().homedir;
}

/** The rootless data root: $XDG_DATA_HOME/pocker or ~/.local/share/pocker. */
export function rootlessDataRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_DATA_HOME || join(homeDir(env), '.local', 'share'), 'pocker');
}

/** The default state root: $POCKER_ROOT, /var/lib/pocker as root, the rootless data root otherwise. */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.POCKER_ROOT) return env.POCKER_ROOT;
  return isRootless() ? rootlessDataRoot(env) : DEFAULT_STATE_ROOT;
}

/**
 * The caller's runtime directory, made when missing: $XDG_RUNTIME_DIR/pocker, else (unset, or not
 * the caller's) /tmp/pocker-run-<uid>. Either must be a real directory (no symlink) the caller owns
 * with no access for group or others: anything else is refused (ERR_POCKER_CONFLICT) instead of
 * used, since another user could have made it to read or replace our sockets.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env, tmp = '/tmp'): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0 && !env.XDG_RUNTIME_DIR) return '/run/pocker';
  const base = env.XDG_RUNTIME_DIR && ownedDir(env.XDG_RUNTIME_DIR, uid) ? env.XDG_RUNTIME_DIR : undefined;
  const dir = base ? join(base, 'pocker') : join(tmp, `pocker-run-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new PockerError(`cannot create the runtime directory ${dir}: ${(err as Error).message}`, {
        code: ((err as NodeJS.ErrnoException).code as 'EACCES') ?? 'ERR_POCKER',
        step: 'state',
        path: dir,
        cause: err,
      });
    }
  }
  checkPrivateDir(dir, uid);
  return dir;
}

/** Refuses a runtime dir that is a symlink, not a directory, someone else's, or open to others. */
export function checkPrivateDir(dir: string, uid: number): void {
  const st = lstatSync(dir);
  let why: string | undefined;
  if (st.isSymbolicLink()) why = 'is a symlink';
  else if (!st.isDirectory()) why = 'is not a directory';
  else if (st.uid !== uid) why = `is owned by uid ${st.uid}, not by this user (uid ${uid})`;
  else if ((st.mode & 0o077) !== 0) why = `has mode ${(st.mode & 0o777).toString(8)}, not 700`;
  if (why) {
    throw new PockerError(`refusing the runtime directory ${dir}: it ${why} (remove it, or set XDG_RUNTIME_DIR)`, {
      code: 'ERR_POCKER_CONFLICT',
      step: 'state',
      path: dir,
    });
  }
}
