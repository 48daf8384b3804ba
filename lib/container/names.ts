// Container names: Docker-like `adjective_surname` auto names, and unique names claimed on disk.
//
// A name is claimed with `mkdir <root>/names/<name>` (atomic: EEXIST when taken) holding an `owner`
// file with the container id. The claim and the creation of the container's directory run under an
// exclusive flock on `<root>/names/.lock` (lib/fsutil.ts's locks: tried without blocking, with a
// timeout), so "names/<name> exists but containers/<id> does not" only ever means a stale claim (the
// container was removed, e.g. by its monitor with --rm, or its creator died): such a claim is taken
// over. The lock is held for a few syscalls only (and, in claimName, the creation of the directory).
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { removeTreeSync, withFileLockSync, withFileLockThenSync } from '../fsutil.js';
import { randomBelow } from '../random.js';
import { containerCgroupDirs, containerDir, readConfig, writeConfig } from './store.js';

const ADJECTIVES = [
  'amber', 'brave', 'calm', 'clever', 'cosmic', 'crisp', 'daring', 'deft', 'eager', 'early',
  'fluent', 'frosty', 'gentle', 'glad', 'golden', 'hardy', 'humble', 'jolly', 'keen', 'lively',
  'lucid', 'mellow', 'merry', 'nimble', 'noble', 'patient', 'plucky', 'proud', 'quiet', 'rapid',
  'rustic', 'serene', 'shiny', 'sober', 'steady', 'sunny', 'swift', 'tidy', 'vivid', 'witty',
];

const SURNAMES = [
  'ampere', 'babbage', 'bohr', 'boole', 'cerf', 'curie', 'dijkstra', 'euler', 'faraday', 'fermi',
  'feynman', 'gauss', 'goedel', 'hamilton', 'hopper', 'huygens', 'kepler', 'knuth', 'lamport', 'lovelace',
  'maxwell', 'meitner', 'mendel', 'noether', 'ohm', 'pascal', 'planck', 'ritchie', 'shannon', 'somerville',
  'tesla', 'thompson', 'torvalds', 'turing', 'volta', 'watt', 'wiener', 'wirth', 'wozniak', 'yalow',
];

/** A random `adjective_surname`. */
export function generateName(): string {
  return `${ADJECTIVES[randomBelow(ADJECTIVES.length)]}_${SURNAMES[randomBelow(SURNAMES.length)]}`;
}

export function namesDir(root: string): string {
  return join(root, 'names');
}

/** The id recorded in names/<name>/owner, or null (no claim, or a claim without its file yet). */
export function nameOwner(root: string, name: string): string | null {
  try {
    return readFileSync(join(namesDir(root), name, 'owner'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export function nameConflict(name: string, id: string): PockerError {
  return new PockerError(
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    { code: 'ERR_POCKER_CONFLICT', step: 'validate' },
  );
}

const LOCK_OPTIONS = { step: 'validate', what: 'the container names lock' } as const;

function namesLockPath(root: string): string {
  const dir = namesDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, '.lock');
}

/**
 * Runs fn under the exclusive flock on names/.lock (never blocking the event loop while waiting
 * for it). Every critical section under it is synchronous: withFileLockThenSync, which needs no
 * AsyncLocalStorage for a nested call (~1 ms of every `pocker run`'s CPU).
 */
async function withNamesLock<T>(root: string, fn: () => T extends PromiseLike<unknown> ? never : T): Promise<T> {
  return withFileLockThenSync(namesLockPath(root), fn, LOCK_OPTIONS);
}

/** withNamesLock() for the synchronous APIs (rename, and releasing a name on a failure path). */
function withNamesLockSync<T>(root: string, fn: () => T): T {
  return withFileLockSync(namesLockPath(root), fn, LOCK_OPTIONS);
}

/** Claims `name` for container `id` (throws on an EEXIST that is not stale); no lock. */
function claimLocked(root: string, name: string, id: string): void {
  const dir = join(namesDir(root), name);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = nameOwner(root, name);
    if (owner && existsSync(containerDir(root, owner))) throw nameConflict(name, owner);
    // Stale: its container is gone. Move it aside (rename is atomic), then claim anew.
    const aside = join(namesDir(root), `.stale-${process.pid}-${randomBelow(1e9)}`);
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
  }
  try {
    writeFileSync(join(dir, 'owner'), `${id}\n`, { mode: 0o600 });
  } catch (err) {
    // A full disk: no claim without its owner (a 0-byte owner would hold the name for nobody).
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Removes the claims (all, or those in `only`) whose container has no directory, or that name no
 * container at all (no owner, or an empty one: a claimer killed, or a disk full, between mkdir and
 * its write); an owner that is something else is left alone. Under the names lock, where no claim is ever half-made. Returns the released names.
 */
function releaseStaleLocked(root: string, only?: string[], keepWithCgroups = false): string[] {
  const dir = namesDir(root);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.') && (!only || only.includes(n)));
  } catch {
    return [];
  }
  const released: string[] = [];
  for (const name of names) {
    let owner = '';
    try {
      owner = readFileSync(join(dir, name, 'owner'), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') continue; // unreadable: leave it
    }
    const isId = /^[0-9a-f]{64}$/.test(owner);
    // An owner that is neither an id nor empty is not this pocker's to judge.
    if (!isId && owner !== '') continue;
    if (!isId || !existsSync(containerDir(root, owner))) {
      // A claim is the last trace of which root an id belongs to: while cgroups named for it are
      // left (its directory deleted under a killed monitor), prune needs it to find and remove them.
      if (keepWithCgroups && isId && containerCgroupDirs(root, { id: owner, config: null }).length) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      released.push(name);
    }
  }
  return released;
}

/**
 * Claims a name for container `id` and runs `create` (which makes the container's directory) in
 * the same critical section; returns the name. With `name` undefined an `adjective_surname` not in
 * use is picked. A name in use by an existing container: PockerError ERR_POCKER_CONFLICT.
 * If `create` throws, the claim is released.
 */
export async function claimName(root: string, name: string | undefined, id: string, create: (name: string) => void): Promise<string> {
  return withNamesLock(root, () => {
    // The claims whose container went without releasing them (a `run -d --rm` container's monitor
    // removes its directory, not its name; a process killed half-way) are swept here, where names
    // are claimed: they never pile up.
    releaseStaleLocked(root, undefined, true);
    let chosen = name;
    if (chosen === undefined) {
      for (let i = 0; i < 64 && chosen === undefined; i++) {
        const candidate = i < 48 ? generateName() : `${generateName()}${randomBelow(10)}`;
        try {
          claimLocked(root, candidate, id);
          chosen = candidate;
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_POCKER_CONFLICT') throw err;
        }
      }
      if (chosen === undefined) throw new PockerError('cannot find a free container name', { code: 'ERR_POCKER_CONFLICT', step: 'validate' });
    } else {
      claimLocked(root, chosen, id);
    }
    try {
      create(chosen);
    } catch (err) {
      rmSync(join(namesDir(root), chosen), { recursive: true, force: true });
      throw err;
    }
    return chosen;
  });
}

/** Releases `name` if container `id` holds it (a claim taken over by another container is kept). */
export function releaseName(root: string, name: string, id: string): void {
  if (nameOwner(root, name) !== id) return;
  try {
    withNamesLockSync(root, () => {
      if (nameOwner(root, name) === id) removeTreeSync(join(namesDir(root), name));
    });
  } catch {
    /* best effort: a stale claim is taken over anyway */
  }
}

/**
 * Renames container `id` (in `<root>/containers/<id>/`) from `oldName` to `newName`, under the names
 * lock: the new name is claimed atomically (ERR_POCKER_CONFLICT when another container holds
 * it), config.json is rewritten through the store (atomically), then the old claim is released.
 * If the rewrite fails the new claim is released and the old name stays.
 */
export function renameContainer(root: string, id: string, oldName: string, newName: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(newName)) {
    throw new PockerError(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  if (newName === oldName) {
    throw new PockerError('Renaming a container with the same name as its current name', { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  const dir = containerDir(root, id);
  withNamesLockSync(root, () => {
    if (!existsSync(dir)) throw new PockerError(`No such container: ${oldName}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
    claimLocked(root, newName, id);
    try {
      const record = readConfig(dir);
      if (!record) throw new PockerError(`No such container: ${oldName}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
      writeConfig(dir, record.spec, { ...record.meta, name: newName }, record.runtime);
    } catch (err) {
      rmSync(join(namesDir(root), newName), { recursive: true, force: true });
      throw err;
    }
    if (nameOwner(root, oldName) === id) rmSync(join(namesDir(root), oldName), { recursive: true, force: true });
  });
}

/**
 * Releases the name claims (`names/<name>`, all of them or those in `only`) whose container does not
 * exist, or that name none (releaseStaleLocked): left by a `run -d --rm` container, a process killed
 * after claiming the name and before making the directory, a disk full during the claim. Checked
 * under the names lock, which the claim and the directory's creation hold together.
 */
export async function releaseStaleNames(root: string, only?: string[]): Promise<string[]> {
  try {
    if (!readdirSync(namesDir(root)).some((n) => !n.startsWith('.') && (!only || only.includes(n)))) return [];
  } catch {
    return [];
  }
  return withNamesLock(root, () => releaseStaleLocked(root, only));
}

/** The names container `id` holds (names/<name>/owner is `id`): what rm -f releases for a record it cannot read. */
export function namesOf(root: string, id: string): string[] {
  let names: string[];
  try {
    names = readdirSync(namesDir(root)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  return names.filter((n) => nameOwner(root, n) === id);
}
