// Named volumes: the library's API (createVolume, listVolumes, inspectVolume, removeVolume,
// pruneVolumes, volumeDiskUsage), with Docker Engine API's shapes (Volume, VolumesPruneReport). The
// store itself (layout, lock, records) is ./store.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { PockerError, invalid } from '../errors.js';
import { containerDir, stateRoot } from '../container/store.js';
import {
  ANONYMOUS_LABEL,
  createVolumeLocked,
  randomVolumeName,
  readVolume,
  readVolumeSync,
  readVolumes,
  removeVolumeLocked,
  removeVolumeLockedSync,
  sweepVolumesLocked,
  treeSize,
  validateVolumeName,
  volumeDataDir,
  volumeNotFound,
  volumeUsers,
  withVolumesLock,
  withVolumesLockSync,
  type VolumeRecord,
} from './store.js';

export { ANONYMOUS_LABEL, validateVolumeName } from './store.js';

/** Options naming the state root (volumes live in `<root>/volumes/`). */
export interface VolumeRootOptions {
  /** State directory (default $POCKER_ROOT, else /var/lib/pocker). */
  root?: string;
}

/** Docker Engine API's Volume (what `docker volume inspect` prints). */
export interface VolumeInspect {
  Name: string;
  /** Always `local`. */
  Driver: 'local';
  /** The host directory containers mount: `<root>/volumes/<name>/_data`. */
  Mountpoint: string;
  /** RFC 3339, seconds. */
  CreatedAt: string;
  Labels: Record<string, string>;
  /** Always `local`. */
  Scope: 'local';
  /** The driver's options (the local driver's: none are accepted yet). */
  Options: Record<string, string>;
}

/** A volume with what `system df` shows of it (Docker's Volume.UsageData). */
export interface VolumeUsage extends VolumeInspect {
  UsageData: {
    /** Bytes in its files. */
    Size: number;
    /** How many containers use it. */
    RefCount: number;
  };
}

/** Options of createVolume(). */
export interface VolumeCreateOptions extends VolumeRootOptions {
  /** The name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`); default 64 random hex digits. */
  name?: string;
  /** `--label` (kept as given when the volume exists already: Docker's create is idempotent). */
  labels?: Record<string, string>;
  /** Only `local`. */
  driver?: string;
}

/** Filters of listVolumes() (`volume ls --filter`): each list is OR'ed, the kinds AND'ed. */
export interface VolumeFilters {
  /** Part of the name. */
  name?: string[];
  /** `KEY` or `KEY=VALUE`. */
  label?: string[];
  /** true: used by no container; false: used by one at least. */
  dangling?: boolean;
  /** Only `local` matches. */
  driver?: string[];
}

/** Options of listVolumes(). */
export interface VolumeListOptions extends VolumeRootOptions {
  filters?: VolumeFilters;
}

/** Options of removeVolume(). */
export interface VolumeRemoveOptions extends VolumeRootOptions {
  /** No error when the volume does not exist (`volume rm -f`). Still refused while a container uses it. */
  force?: boolean;
}

/** Options of pruneVolumes(). */
export interface VolumePruneOptions extends VolumeRootOptions {
  /** Every unused volume; without it only anonymous ones (Docker ≥ 23). */
  all?: boolean;
  /** `--filter label=KEY[=VALUE]` (and `label!=`): only volumes that match. */
  filters?: { label?: string[]; 'label!'?: string[] };
}

/** What pruneVolumes() removed (Docker's VolumesPruneReport). */
export interface VolumePruneResult {
  /** Names of the removed volumes. */
  deleted: string[];
  /** Bytes their files held. */
  reclaimedBytes: number;
}

function inspectOf(root: string, r: VolumeRecord): VolumeInspect {
  return { CreatedAt: r.createdAt, Driver: 'local', Labels: { ...r.labels }, Mountpoint: volumeDataDir(root, r.name), Name: r.name, Options: { ...r.options }, Scope: 'local' };
}

function checkLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw invalid(`invalid volume labels ${JSON.stringify(labels)}: must be an object of strings`);
  for (const [k, v] of Object.entries(labels)) {
    if (k === '' || typeof v !== 'string' || k.includes('\0') || v.includes('\0')) throw invalid(`invalid volume label ${JSON.stringify(k)}: keys must be non-empty and values strings`);
  }
  return { ...(labels as Record<string, string>) };
}

function checkDriver(driver: unknown): void {
  if (driver !== undefined && driver !== 'local') throw invalid(`invalid volume driver ${JSON.stringify(driver)}: pocker has only the local driver`);
}

/** Creates a volume (or returns the one of that name: Docker's create is idempotent). */
export async function createVolume(options: VolumeCreateOptions = {}): Promise<VolumeInspect> {
  const name = options.name === undefined || options.name === '' ? randomVolumeName() : validateVolumeName(options.name);
  const labels = checkLabels(options.labels);
  checkDriver(options.driver);
  const root = stateRoot(options);
  return withVolumesLock(root, async () => {
    await sweepVolumesLocked(root);
    const { record } = await createVolumeLocked(root, name, labels);
    return inspectOf(root, record);
  });
}

/** Docker's label filter: `KEY` (has it) or `KEY=VALUE`. */
function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels, filter);
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

function checkFilters(f: VolumeFilters | undefined): VolumeFilters {
  if (f === undefined) return {};
  if (typeof f !== 'object' || f === null) throw invalid(`invalid volume filters ${JSON.stringify(f)}: must be an object`);
  for (const k of Object.keys(f)) {
    if (!['name', 'label', 'dangling', 'driver'].includes(k)) throw invalid(`invalid filter '${k}'`);
  }
  if (f.dangling !== undefined && typeof f.dangling !== 'boolean') throw invalid(`invalid filter 'dangling=${String(f.dangling)}'`);
  return f;
}

/** The volumes (sorted by name), with Docker's `volume ls` filters. */
export async function listVolumes(options: VolumeListOptions = {}): Promise<VolumeInspect[]> {
  const f = checkFilters(options.filters);
  return (await listWithUsers(stateRoot(options)))
    .filter(({ v, users }) => {
      if (f.name?.length && !f.name.some((n) => v.Name.includes(n))) return false;
      if (f.label?.length && !f.label.every((l) => labelMatches(v.Labels, l))) return false;
      if (f.dangling !== undefined && (users.length === 0) !== f.dangling) return false;
      if (f.driver?.length && !f.driver.includes('local')) return false;
      return true;
    })
    .map(({ v }) => v);
}

async function listWithUsers(root: string): Promise<Array<{ v: VolumeInspect; users: string[] }>> {
  // The sweep needs write access: a reader that cannot take the lock lists what is there.
  if (existsSync(join(root, 'volumes'))) await withVolumesLock(root, () => sweepVolumesLocked(root)).catch(() => undefined);
  const users = volumeUsers(root);
  return (await readVolumes(root)).map((r) => ({ v: inspectOf(root, r), users: users.get(r.name) ?? [] }));
}

/** One volume (Docker's `volume inspect`). ERR_POCKER_NOT_FOUND: "get NAME: no such volume". */
export async function inspectVolume(name: string, options: VolumeRootOptions = {}): Promise<VolumeInspect> {
  if (typeof name !== 'string') throw invalid(`invalid volume name ${JSON.stringify(name)}`);
  const root = stateRoot(options);
  const r = await readVolume(root, name);
  if (!r) throw volumeNotFound(name);
  return inspectOf(root, r);
}

/**
 * Removes a volume. Refused while any container (running or not) uses it: ERR_POCKER_CONFLICT,
 * Docker's "remove NAME: volume is in use - [ID, …]". A missing volume: ERR_POCKER_NOT_FOUND unless `force`.
 */
export async function removeVolume(name: string, options: VolumeRemoveOptions = {}): Promise<void> {
  if (typeof name !== 'string') throw invalid(`invalid volume name ${JSON.stringify(name)}`);
  const root = stateRoot(options);
  await withVolumesLock(root, async () => {
    const r = await readVolume(root, name);
    if (!r) {
      if (options.force) return;
      throw volumeNotFound(name);
    }
    const users = volumeUsers(root).get(name) ?? [];
    if (users.length) throw new PockerError(`remove ${name}: volume is in use - [${users.join(', ')}]`, { code: 'ERR_POCKER_CONFLICT', step: 'remove' });
    await removeVolumeLocked(root, name);
  });
}

/**
 * Removes the unused volumes: anonymous ones only unless `all` (Docker ≥ 23), and of those the
 * ones whose labels match `filters`.
 */
export async function pruneVolumes(options: VolumePruneOptions = {}): Promise<VolumePruneResult> {
  const root = stateRoot(options);
  const want = options.filters?.label ?? [];
  const notWant = options.filters?.['label!'] ?? [];
  return withVolumesLock(root, async () => {
    await sweepVolumesLocked(root);
    const users = volumeUsers(root);
    const result: VolumePruneResult = { deleted: [], reclaimedBytes: 0 };
    for (const r of await readVolumes(root)) {
      const name = r.name;
      if ((users.get(name)?.length ?? 0) > 0) continue;
      if (!options.all && !Object.hasOwn(r.labels, ANONYMOUS_LABEL)) continue;
      if (!want.every((l) => labelMatches(r.labels, l)) || notWant.some((l) => labelMatches(r.labels, l))) continue;
      const size = await treeSize(volumeDataDir(root, name));
      await removeVolumeLocked(root, name);
      result.deleted.push(name);
      result.reclaimedBytes += size;
    }
    return result;
  });
}

/** Every volume with its size and how many containers use it (`system df`). */
export async function volumeDiskUsage(options: VolumeRootOptions = {}): Promise<VolumeUsage[]> {
  const root = stateRoot(options);
  const out: VolumeUsage[] = [];
  for (const { v, users } of await listWithUsers(root)) out.push({ ...v, UsageData: { Size: await treeSize(v.Mountpoint), RefCount: users.length } });
  return out;
}

/** A container's volume, as run() makes it. */
export interface ContainerVolume {
  name: string;
  anonymous: boolean;
}

/**
 * run(): makes the container's volumes that do not exist yet and runs `fn` (which writes the
 * container's record, naming them) under the volume store's lock, so that no `volume rm` or prune
 * slips in between. Anonymous volumes of a `--rm` container are tied to it (`autoRemove`).
 */
export async function withContainerVolumes<T>(root: string, volumes: ContainerVolume[], containerId: string, autoRemove: boolean, fn: () => Promise<T>): Promise<T> {
  if (volumes.length === 0) return fn();
  return withVolumesLock(root, async () => {
    await sweepVolumesLocked(root);
    const made: string[] = [];
    try {
      for (const v of volumes) {
        const { created } = await createVolumeLocked(root, v.name, v.anonymous ? { [ANONYMOUS_LABEL]: '' } : {}, v.anonymous && autoRemove ? containerId : undefined);
        if (created) made.push(v.name);
      }
      return await fn();
    } catch (err) {
      // No container came of it (a name in use, a full disk...): what was made for it goes too.
      if (!existsSync(containerDir(root, containerId))) for (const name of made) await removeVolumeLocked(root, name).catch(() => undefined);
      throw err;
    }
  });
}

/**
 * After a container is removed (`rm -v`): removes its anonymous volumes that no other container
 * uses. Named volumes stay (as Docker's).
 */
export async function removeAnonymousVolumes(root: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  return withVolumesLock(root, async () => {
    const users = volumeUsers(root);
    const removed: string[] = [];
    for (const r of await readVolumes(root, names)) {
      if (!Object.hasOwn(r.labels, ANONYMOUS_LABEL) || (users.get(r.name)?.length ?? 0) > 0) continue;
      await removeVolumeLocked(root, r.name);
      removed.push(r.name);
    }
    return removed;
  });
}

/**
 * removeAnonymousVolumes(), synchronous: the end of a foreground `run --rm` (its cleanup, which
 * removes the container's directory, is synchronous). Failures are left to the sweep.
 */
export function removeAnonymousVolumesSync(root: string, names: readonly string[]): void {
  if (names.length === 0) return;
  try {
    withVolumesLockSync(root, () => {
      const users = volumeUsers(root);
      for (const name of names) {
        const r = readVolumeSync(root, name);
        if (!r || !Object.hasOwn(r.labels, ANONYMOUS_LABEL) || (users.get(name)?.length ?? 0) > 0) continue;
        removeVolumeLockedSync(root, name);
      }
    });
  } catch {
    /* left for the sweep: they are tied to the container (autoRemove) */
  }
}
