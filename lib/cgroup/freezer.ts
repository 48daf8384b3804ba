// The cgroup freezer (`pocker pause` / `unpause`): v2's cgroup.freeze in the container's leaf (the
// kernel reports "frozen 1" in cgroup.events once every task is stopped), v1's freezer.state in its
// freezer hierarchy leaf (FREEZING until every task is stopped, then FROZEN). The kernel's file is
// the only record of a pause: nothing else can go stale.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PockerError, fromSystemError } from '../errors.js';
import { native } from '../native.js';

interface Freezer {
  version: 1 | 2;
  /** The container's cgroup dir that has the freezer. */
  dir: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The freezer among a container's cgroup dirs (its v2 leaf, or its v1 freezer leaf), or null. */
export function freezerOf(dirs: readonly string[]): Freezer | null {
  for (const dir of dirs) {
    if (read(join(dir, 'cgroup.freeze')) !== null) return { version: 2, dir };
    if (read(join(dir, 'freezer.state')) !== null) return { version: 1, dir };
  }
  return null;
}

/** True when the container's cgroup is frozen or freezing. */
export function isFrozen(dirs: readonly string[]): boolean {
  const f = freezerOf(dirs);
  if (!f) return false;
  if (f.version === 2) return read(join(f.dir, 'cgroup.freeze')) === '1';
  const state = read(join(f.dir, 'freezer.state'));
  return state === 'FROZEN' || state === 'FREEZING';
}

/** Freezes (or thaws) the cgroup and waits until the kernel says every task is (un)frozen. */
export async function setFrozen(dirs: readonly string[], frozen: boolean, what: string): Promise<void> {
  const f = freezerOf(dirs);
  // Nothing to thaw once the cgroups are gone (see the ENOENT case below).
  if (!f && !frozen && dirs.every((d) => !existsSync(d))) return;
  if (!f) {
    throw new PockerError(`cannot ${frozen ? 'pause' : 'unpause'} ${what}: its cgroups have no freezer (a container started by an older pocker, or the freezer controller is not mounted)`, {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'cgroup',
    });
  }
  const file = join(f.dir, f.version === 2 ? 'cgroup.freeze' : 'freezer.state');
  try {
    native().cgroupWrite(file, f.version === 2 ? (frozen ? '1' : '0') : frozen ? 'FROZEN' : 'THAWED');
  } catch (err) {
    // A thaw of a cgroup that is gone is done: on v2 a SIGKILL ends frozen tasks at once, and the
    // monitor may remove the cgroup before the thaw is written (rm -f / kill of a paused container).
    if (!frozen && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fromSystemError(err, 'cgroup', `cannot ${frozen ? 'pause' : 'unpause'} ${what}`);
  }
  // The state settles within milliseconds (tasks in uninterruptible sleep may take longer); no
  // notification covers v1, so both are read until settled, for at most 10 s.
  // A thaw is done too once the cgroup is gone: a thaw that lets a pending SIGKILL through ends the
  // container, and its monitor may remove the cgroup before the state is read here.
  const done = () => {
    const state = read(join(f.dir, f.version === 2 ? 'cgroup.events' : 'freezer.state'));
    if (state === null) return !frozen;
    return f.version === 2 ? new RegExp(`^frozen ${frozen ? 1 : 0}$`, 'm').test(state) : state === (frozen ? 'FROZEN' : 'THAWED');
  };
  for (let waited = 0; !done(); waited += 5) {
    if (waited >= 10_000) throw new PockerError(`${what} did not ${frozen ? 'freeze' : 'thaw'} within 10 s`, { code: 'ERR_POCKER', step: 'cgroup' });
    if (f.version === 1 && frozen) native().cgroupWrite(file, 'FROZEN'); // v1: FREEZING is retried by writing again
    await sleep(5);
  }
}
