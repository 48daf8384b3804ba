// Container names: Docker-like `adjective_surname` auto names, and unique names claimed on disk.
//
// A name is claimed with `mkdir <root>/names/<name>` (atomic: EEXIST when taken) holding an `owner`
// file with the container id. The claim and the creation of the container's directory run under an
// exclusive flock on `<root>/names/.lock`, so "names/<name> exists but containers/<id> does not"
// only ever means a stale claim (the container was removed, e.g. by its monitor with --rm, or its
// creator died): such a claim is taken over. The flock is held for a few syscalls only.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { native } from '../native.js';

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
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
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
    { code: 'ERR_POCKER_NAME_CONFLICT', step: 'validate' },
  );
}

/** Runs fn under the exclusive flock on names/.lock (blocking: it is only ever held briefly). */
function withNamesLock<T>(root: string, fn: () => T): T {
  const dir = namesDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openSync(join(dir, '.lock'), 'a', 0o600);
  try {
    native().flock(fd, true, true);
    return fn();
  } finally {
    closeSync(fd); // releases the flock
  }
}

/** Claims `name` for container `id` (throws on an EEXIST that is not stale); no lock. */
function claimLocked(root: string, name: string, id: string): void {
  const dir = join(namesDir(root), name);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = nameOwner(root, name);
    if (owner && existsSync(join(root, 'containers', owner))) throw nameConflict(name, owner);
    // Stale: its container is gone. Move it aside (rename is atomic), then claim anew.
    const aside = join(namesDir(root), `.stale-${process.pid}-${randomInt(1e9)}`);
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
  }
  writeFileSync(join(dir, 'owner'), `${id}\n`, { mode: 0o600 });
}

/**
 * Claims a name for container `id` and runs `create` (which makes the container's directory) in
 * the same critical section; returns the name. With `name` undefined an `adjective_surname` not in
 * use is picked. A name in use by an existing container: PockerError ERR_POCKER_NAME_CONFLICT.
 * If `create` throws, the claim is released.
 */
export function claimName(root: string, name: string | undefined, id: string, create: (name: string) => void): string {
  return withNamesLock(root, () => {
    let chosen = name;
    if (chosen === undefined) {
      for (let i = 0; i < 64 && chosen === undefined; i++) {
        const candidate = i < 48 ? generateName() : `${generateName()}${randomInt(10)}`;
        try {
          claimLocked(root, candidate, id);
          chosen = candidate;
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_POCKER_NAME_CONFLICT') throw err;
        }
      }
      if (chosen === undefined) throw new PockerError('cannot find a free container name', { code: 'ERR_POCKER_NAME_CONFLICT', step: 'validate' });
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
    withNamesLock(root, () => {
      if (nameOwner(root, name) === id) rmSync(join(namesDir(root), name), { recursive: true, force: true });
    });
  } catch {
    /* best effort: a stale claim is taken over anyway */
  }
}

/**
 * Renames container `id` (in `<root>/containers/<id>/`) from `oldName` to `newName`, under the names
 * lock: the new name is claimed atomically (ERR_POCKER_NAME_CONFLICT when another container holds
 * it), config.json is rewritten atomically (temp file + rename), then the old claim is released.
 * If the rewrite fails the new claim is released and the old name stays.
 */
export function renameContainer(root: string, id: string, oldName: string, newName: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(newName)) {
    throw new PockerError(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  if (newName === oldName) {
    throw new PockerError('Renaming a container with the same name as its current name', { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  const dir = join(root, 'containers', id);
  withNamesLock(root, () => {
    if (!existsSync(dir)) throw new PockerError(`No such container: ${oldName}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
    claimLocked(root, newName, id);
    try {
      const file = join(dir, 'config.json');
      const config = JSON.parse(readFileSync(file, 'utf8')) as { name?: string };
      config.name = newName;
      const tmp = `${file}.rename-${process.pid}`;
      writeFileSync(tmp, `${JSON.stringify(config)}\n`, { mode: 0o600 });
      renameSync(tmp, file);
    } catch (err) {
      rmSync(join(namesDir(root), newName), { recursive: true, force: true });
      throw err;
    }
    if (nameOwner(root, oldName) === id) rmSync(join(namesDir(root), oldName), { recursive: true, force: true });
  });
}
