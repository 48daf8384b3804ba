// The volume store: the only reader and writer of <root>/volumes/.
//
//   volumes/.lock                 flock'd by every change (create, remove, prune, the sweep) and by
//                                 run() from making a container's volumes until its record exists,
//                                 so a volume is never removed between the two
//   volumes/<name>/volume.json    the record (version 1; written atomically, last)
//   volumes/<name>/_data/         what containers see (Docker's Mountpoint)
//   volumes/.new-*, .rm-*         a create or remove under way (or killed): swept under the lock
//
// A volume appears whole: its directory is made under a temporary name with _data and volume.json
// in it, then renamed into place. A removal renames it away first, then deletes it. Which
// containers use a volume is read from their records (ContainerMeta.volumes).
import { randomHex } from '../random.js';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { PockerError, fromSystemError } from '../errors.js';
import { withFileLock, withFileLockSync, writeFileAtomic } from '../fsutil.js';
import { containerDir, listContainerRecords } from '../container/store.js';
import { recordEvent } from '../state/events.js';
import { VOLUME_NAME, volumeDataDir } from './names.js';
import { isoTime } from '../state/timestamps.js';

export { ANONYMOUS_LABEL, VOLUME_NAME_CHARS, randomVolumeName, validateVolumeName, volumeDataDir } from './names.js';

/** The record of a volume (volume.json). */
export interface VolumeRecord {
  version: 1;
  name: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** An anonymous volume of a `--rm` container: removed once that container is gone. */
  autoRemove?: string;
}

/** <root>/volumes */
export function volumesDir(root: string): string {
  return join(root, 'volumes');
}

/** Docker's CreatedAt: RFC 3339 in seconds. */
function now(): string {
  return isoTime().replace(/\.\d+Z$/, 'Z');
}

function notFound(name: string): PockerError {
  return new PockerError(`get ${name}: no such volume`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isObject(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** A volume's record, or null when there is no such volume. A damaged record: ERR_POCKER_STORE_CORRUPT. */
export async function readVolume(root: string, name: string): Promise<VolumeRecord | null> {
  if (!VOLUME_NAME.test(name)) return null;
  let text: string;
  try {
    text = await readFile(join(volumesDir(root), name, 'volume.json'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw fromSystemError(err, 'store', `cannot read volume ${name}`);
  }
  return parseVolume(name, text);
}

/** readVolume(), synchronous (for the end of a foreground `run --rm`, whose cleanup is synchronous). */
export function readVolumeSync(root: string, name: string): VolumeRecord | null {
  if (!VOLUME_NAME.test(name)) return null;
  let text: string;
  try {
    text = readFileSync(join(volumesDir(root), name, 'volume.json'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw fromSystemError(err, 'store', `cannot read volume ${name}`);
  }
  return parseVolume(name, text);
}

function parseVolume(name: string, text: string): VolumeRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = null;
  }
  if (!isObject(doc) || doc.version !== 1 || doc.name !== name) {
    throw new PockerError(`volume ${name}: volume.json is not a volume record`, { code: 'ERR_POCKER_STORE_CORRUPT', step: 'store' });
  }
  return {
    version: 1,
    name,
    createdAt: typeof doc.createdAt === 'string' ? doc.createdAt : '',
    labels: stringMap(doc.labels),
    options: stringMap(doc.options),
    ...(typeof doc.autoRemove === 'string' ? { autoRemove: doc.autoRemove } : {}),
  };
}

/** The names of the volumes under `root` (directories with a record), sorted. */
export async function volumeNames(root: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(volumesDir(root));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (VOLUME_NAME.test(e) && existsSync(join(volumesDir(root), e, 'volume.json'))) out.push(e);
  }
  return out.sort();
}

/**
 * The records of `names` (default: every volume, by name), in that order: the one loop that reads
 * volume records for the listing, prune, the removal of anonymous volumes and the sweep. A missing
 * or damaged record is left out (a listing shows what it can read; nothing removes a damaged one).
 */
export async function readVolumes(root: string, names?: readonly string[]): Promise<VolumeRecord[]> {
  const out: VolumeRecord[] = [];
  for (const name of names ?? (await volumeNames(root))) {
    try {
      const r = await readVolume(root, name);
      if (r) out.push(r);
    } catch {
      // damaged: left out
    }
  }
  return out;
}

/** Runs `fn` holding the volume store's lock. */
export async function withVolumesLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  try {
    await mkdir(volumesDir(root), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fromSystemError(err, 'store', `cannot create ${volumesDir(root)}`);
  }
  return withFileLock(join(volumesDir(root), '.lock'), fn, { step: 'store', what: 'the volume store lock' });
}

/** Which containers (ids) use each volume: from the containers' records. */
export function volumeUsers(root: string): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const c of listContainerRecords(root)) {
    for (const v of c.config?.volumes ?? []) users.set(v, [...(users.get(v) ?? []), c.id]);
  }
  return users;
}

/** Creates a volume (caller holds the lock). An existing one is returned as it is (Docker's create is idempotent). */
export async function createVolumeLocked(root: string, name: string, labels: Record<string, string>, autoRemove?: string): Promise<{ record: VolumeRecord; created: boolean }> {
  const existing = await readVolume(root, name);
  if (existing) return { record: existing, created: false };
  const dir = join(volumesDir(root), name);
  const tmp = join(volumesDir(root), `.new-${randomHex(6)}`);
  const record: VolumeRecord = { version: 1, name, createdAt: now(), labels, options: {}, ...(autoRemove ? { autoRemove } : {}) };
  try {
    // A directory left without a record (a killed remove) is in the way: take it away first.
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    await mkdir(tmp, { mode: 0o701 });
    await mkdir(join(tmp, '_data'), { mode: 0o755 });
    await writeFileAtomic(join(tmp, 'volume.json'), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw fromSystemError(err, 'store', `cannot create volume ${name}`);
  }
  // Docker's volume events: create and destroy, the name as the actor, the driver as attribute.
  recordEvent(root, 'volume', 'create', name, { driver: 'local' });
  return { record, created: true };
}

/** Removes a volume's directory (caller holds the lock): renamed away first, so it is never seen half-removed. */
export async function removeVolumeLocked(root: string, name: string): Promise<void> {
  const gone = join(volumesDir(root), `.rm-${randomHex(6)}`);
  try {
    await rename(join(volumesDir(root), name), gone);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fromSystemError(err, 'remove', `cannot remove volume ${name}`);
  }
  recordEvent(root, 'volume', 'destroy', name, { driver: 'local' });
  await rm(gone, { recursive: true, force: true, maxRetries: 3 });
}

/** removeVolumeLocked(), synchronous. */
export function removeVolumeLockedSync(root: string, name: string): void {
  const gone = join(volumesDir(root), `.rm-${randomHex(6)}`);
  try {
    renameSync(join(volumesDir(root), name), gone);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fromSystemError(err, 'remove', `cannot remove volume ${name}`);
  }
  recordEvent(root, 'volume', 'destroy', name, { driver: 'local' });
  rmSync(gone, { recursive: true, force: true, maxRetries: 3 });
}

/** withVolumesLock(), synchronous (the store's directory exists: the volumes to remove are in it). */
export function withVolumesLockSync<T>(root: string, fn: () => T): T {
  return withFileLockSync(join(volumesDir(root), '.lock'), fn, { step: 'store', what: 'the volume store lock' });
}

/**
 * The sweep (caller holds the lock): what a killed create or remove left (`.new-*`, `.rm-*`), and
 * the anonymous volumes of `--rm` containers that are gone (a detached `--rm` container's monitor
 * removes its directory, not its volumes).
 */
export async function sweepVolumesLocked(root: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(volumesDir(root));
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.startsWith('.new-') || e.startsWith('.rm-')) await rm(join(volumesDir(root), e), { recursive: true, force: true });
  }
  for (const r of await readVolumes(root)) {
    if (r.autoRemove && !existsSync(containerDir(root, r.autoRemove))) await removeVolumeLocked(root, r.name);
  }
}

/** The size of a directory tree: the sum of its files' sizes (a hard-linked file once), as Docker's. */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = await lstat(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) await walk(p);
      else {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.size;
      }
    }
  };
  await walk(dir);
  return total;
}

/** Is the volume's _data empty (or missing)? */
export async function isEmptyVolume(root: string, name: string): Promise<boolean> {
  try {
    return (await readdir(volumeDataDir(root, name))).length === 0;
  } catch {
    return true;
  }
}

export { notFound as volumeNotFound };
