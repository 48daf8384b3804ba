// The container store: the only reader and writer of <root>/containers/<id>/.
//
//   containers/<id>/config.json      OCI spec + pocker section (record.ts), written once by create/run
//                                    (and rewritten by rename), atomically
//   containers/<id>/state.json       `created` written here; then the monitor's (cpp/init/monitor.cpp)
//   containers/<id>/lock             flock'd by start (until the monitor took over) and rm
//   containers/<id>/state.json.spare0, .spare1   blocks reserved for the monitor's next state writes
//                                    (cpp/init/state.h: an exit status is never lost to a full disk)
//   containers/<id>/stop-requested   left by stop / rm -f: a symlink to "<signal> <timeout>" that the
//                                    monitor carries out (and then does not restart the container)
//   containers/<id>/attach.sock      the monitor's attach socket
//   containers/<id>/<id>-json.log    the json-file log (and .1 … .N when rotated)
//   containers/<id>/{rootfs,upper,work,scratch,volumes}/   the layout run() asks for
//   names/<name>/owner, names/.lock  the name claims (names.ts)
//
// Records are versioned (record.ts): an older one is migrated on read, a newer one refused with a
// RecordVersionError (ERR_POCKER_UNSUPPORTED), which ps skips with a warning, inspect/start/rm
// report, and rm -f removes anyway.
import { isFrozen } from '../cgroup/freezer.js';
import { chmodSync, closeSync, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:fs';
import { join, resolve } from 'node:path';

import { cgroupParentsOfProcess, findContainerCgroupDirs } from '../cgroup/index.js';
import { procStat } from '../proc.js';
import { PockerError, fromSystemError } from '../errors.js';
import { native, type NativeAddon } from '../native.js';
import { mapLimit, readFileAsync, readdirAsync, removeTreeSync, writeFileAtomicSync, withFileLock } from '../fsutil.js';
import { defaultStateRoot } from '../rootless/paths.js';
import {
  RECORD_VERSION,
  RecordVersionError,
  configDocument,
  corruptRecord,
  parseConfigRecord,
  parseStateRecord,
  stateDocument,
  type ContainerConfigRecord,
  type ContainerMeta,
  type ContainerState,
  type OciDocument,
} from './record.js';

/** Options naming the state root. */
export interface RootOptions {
  /** State directory (default $POCKER_ROOT, else /var/lib/pocker). */
  root?: string;
}

/** The state directory `options.root` names, or $POCKER_ROOT, or /var/lib/pocker (root) / ~/.local/share/pocker (rootless). */
export function stateRoot(options?: RootOptions): string {
  return options?.root ?? defaultStateRoot();
}

const ID = /^[0-9a-f]{64}$/;
/** A container name as Docker allows it. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** <root>/containers */
export function containersDir(root: string): string {
  return join(root, 'containers');
}

/** <root>/containers/<id> */
export function containerDir(root: string, id: string): string {
  return join(root, 'containers', id);
}

/** The json-file log of the container in `dir` (rotated ones are `<log>.1` … `<log>.N`). */
export function logPathOf(dir: string, id: string): string {
  return join(dir, `${id}-json.log`);
}

/** The monitor's attach socket. */
export function attachSocketPath(dir: string): string {
  return join(dir, 'attach.sock');
}

/** A container found by lookup: where it lives. */
export interface ContainerEntry {
  id: string;
  name: string;
  dir: string;
  /** The json-file log (it exists for detached containers). */
  logPath: string;
}

function entryOf(root: string, id: string, name = id.slice(0, 12)): ContainerEntry {
  const dir = containerDir(root, id);
  return { id, name, dir, logPath: logPathOf(dir, id) };
}

/** The ids of the containers under `root` (directory names), unsorted. */
export function containerIds(root: string): string[] {
  try {
    return readdirSync(containersDir(root)).filter((d) => ID.test(d));
  } catch {
    return [];
  }
}

/** containerIds(), read without blocking the event loop. */
export async function containerIdsAsync(root: string): Promise<string[]> {
  try {
    return (await readdirAsync(containersDir(root))).filter((d) => ID.test(d));
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// records

function idOf(dir: string): string {
  return dir.slice(dir.lastIndexOf('/') + 1);
}

type RecordFile = 'config' | 'state';

/** Containers whose records the async readers read at once (two files each). */
const READ_AHEAD = 32;

/**
 * Record files of one container read ahead without blocking the event loop (the async API's
 * readers: readRecordsAhead()): the synchronous readers below take each once, for their first read
 * of that file, and read it again themselves when they must look twice (a monitor that just ended,
 * a creator that died). One set of checks and migrations serves both.
 */
export type RecordsReadAhead = { [F in RecordFile]?: { text: string } | { err: unknown } };

/** Reads `files` of the container at `dir` asynchronously, for the readers below. */
export async function readRecordsAhead(dir: string, files: readonly RecordFile[] = ['config', 'state']): Promise<RecordsReadAhead> {
  const ahead: RecordsReadAhead = {};
  await Promise.all(
    files.map(async (f) => {
      try {
        ahead[f] = { text: await readFileAsync(join(dir, `${f}.json`), 'utf8') };
      } catch (err) {
        ahead[f] = { err };
      }
    }),
  );
  return ahead;
}

/**
 * Reads and parses a record file (or takes it from `ahead`): undefined when it does not exist
 * (yet). A file that exists but is no JSON document (empty, truncated, garbled, unreadable) is a damaged record:
 * ERR_POCKER_STORE_CORRUPT. Records are written atomically (temp + rename), so a reader never
 * sees one half-written: damage is damage, not a race.
 */
function readRecordFile(dir: string, file: RecordFile, ahead?: RecordsReadAhead): unknown {
  let text: string;
  const got = ahead?.[file];
  if (ahead) delete ahead[file];
  try {
    if (got && 'err' in got) throw got.err;
    text = got ? got.text : readFileSync(join(dir, `${file}.json`), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw corruptRecord(file, idOf(dir), `cannot read it: ${code ?? String(err)}`);
  }
  if (!text.trim()) throw corruptRecord(file, idOf(dir), 'empty file');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw corruptRecord(file, idOf(dir), `not JSON: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
  }
}

/**
 * The container's config.json, migrated to the current shape; null when it does not exist yet (a
 * container being created). Throws RecordVersionError (newer pocker) or ERR_POCKER_STORE_CORRUPT
 * (a damaged record: empty, truncated, garbled, `null`).
 */
export function readConfig(dir: string, ahead?: RecordsReadAhead): ContainerConfigRecord | null {
  const doc = readRecordFile(dir, 'config', ahead);
  return doc === undefined ? null : parseConfigRecord(doc, idOf(dir));
}

/** readConfig(dir)'s `meta`, or null. */
export function readMeta(dir: string, ahead?: RecordsReadAhead): ContainerMeta | null {
  return readConfig(dir, ahead)?.meta ?? null;
}

/**
 * The container's state.json (migrated), or null (a foreground container has none). Throws
 * RecordVersionError, or ERR_POCKER_STORE_CORRUPT for a damaged one.
 */
export function readState(dir: string, ahead?: RecordsReadAhead): ContainerState | null {
  const doc = readRecordFile(dir, 'state', ahead);
  return doc === undefined ? null : parseStateRecord(doc, idOf(dir));
}

/**
 * Is `err` a damaged record (ERR_POCKER_STORE_CORRUPT, or a version no pocker writes) rather than
 * one a newer pocker wrote? Damaged containers are listed as dead and removed by rm and prune; a
 * newer pocker's are left alone (rm -f only).
 */
export function isDamagedRecord(err: unknown): err is PockerError {
  if (err instanceof RecordVersionError) return !(typeof err.version === 'number' && Number.isInteger(err.version) && err.version > RECORD_VERSION);
  return err instanceof PockerError && err.code === 'ERR_POCKER_STORE_CORRUPT';
}

/**
 * Writes config.json atomically: the OCI document `spec` (built by lib/spec: the store does not look
 * into it) with the pocker section (version, the runtime fields lib/spec defines, `meta`). A record
 * that has not changed is not rewritten (a `start` on a full disk needs no new space).
 */
export function writeConfig(dir: string, spec: OciDocument, meta: ContainerMeta, runtime: Record<string, unknown> = {}, durable = true): void {
  const text = `${JSON.stringify(configDocument(spec, meta, runtime))}\n`;
  const path = join(dir, 'config.json');
  // Unchanged: nothing to write. existsSync first: a new container has none yet, and the failed
  // read's exception cost every run and create (issue 12).
  try {
    if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  } catch {
    /* unreadable: written anew */
  }
  writeFileAtomicSync(path, text, { mode: 0o600, durable });
}

/** Writes state.json atomically (the store writes `created`; the monitor writes the rest). */
export function writeState(dir: string, state: ContainerState): void {
  writeFileAtomicSync(join(dir, 'state.json'), `${JSON.stringify(stateDocument(state))}\n`, { mode: 0o600 });
}

/** The spare files the monitor writes state.json through (cpp/init/state.h kStateSpares). */
export const STATE_SPARES = ['state.json.spare0', 'state.json.spare1'] as const;
const STATE_SPARE_SIZE = 4096;

/**
 * Reserves the blocks of the monitor's spare state files (zeros written: the monitor's
 * posix_fallocate of them then needs no new space), so that a container made now can be started,
 * and its end recorded, once the disk is full. Throws (ENOSPC…) when they cannot be had.
 */
export function reserveStateSpares(dir: string): void {
  for (const name of STATE_SPARES) {
    const path = join(dir, name);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      const st = fstatSync(fd);
      if (st.size >= STATE_SPARE_SIZE && st.blocks * 512 >= STATE_SPARE_SIZE) continue;
      const zeros = Buffer.alloc(STATE_SPARE_SIZE);
      for (let off = 0; off < zeros.length; ) off += writeSync(fd, zeros, off, zeros.length - off, off);
    } catch (err) {
      rmSync(path, { force: true });
      throw err;
    } finally {
      closeSync(fd);
    }
  }
}

/** state.json of a container that `create` (or `run -d`, before its start) made. */
export const CREATED_STATE: ContainerState = { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, signal: 0, oomKilled: false, startedAt: '', finishedAt: '' };

// ---------------------------------------------------------------------------------------------
// processes

/** Is `pid` a live pocker-init (its exe is pocker-init's memfd, or its command line names it)? */
export function isPockerInit(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    /* gone, or a zombie */
  }
  if (exe.startsWith('/memfd:pocker-init')) return true;
  const p = procStat(pid);
  if (!p || p.state.startsWith('Z')) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return /(^|\/)pocker-init( |$)/.test(cmdline);
  } catch {
    return false;
  }
}

/** This process, as a container's `owner` (pid and /proc start time, field 22 of /proc/self/stat). */
export function currentOwner(): { pid: number; start: string } {
  return { pid: process.pid, start: procStat('self')?.start ?? '' };
}

/**
 * Is `pid` the live process state.json names: its start time is `start` (recorded by the monitor)
 * or, for a record of an older monitor without one, it is a child of `parent` (the container's
 * first process is its monitor's child)? A pid that fails this is stale: never signalled.
 */
export function verifiedPid(pid: number, start: number | undefined, parent?: number): boolean {
  const p = procStat(pid);
  if (!p || p.state.startsWith('Z')) return false;
  if (start) return p.start === String(start);
  return parent === undefined || p.ppid === parent;
}

/** Is the monitor state.json names alive (a pocker-init, with the recorded start time when there is one)? */
export function monitorAlive(state: Pick<ContainerState, 'monitorPid' | 'monitorStart'>): boolean {
  return isPockerInit(state.monitorPid) && verifiedPid(state.monitorPid, state.monitorStart);
}

/** Is the process `owner` (pid and start time) still alive? */
function ownerAlive(owner: { pid: number; start: string }): boolean {
  const p = procStat(owner.pid);
  return !!p && !p.state.startsWith('Z') && (!owner.start || p.start === owner.start);
}

/**
 * The container's state with its processes verified (pid and start time): state.json saying
 * running while its monitor is gone reads as exited: 137 (SIGKILL: the container died with its
 * monitor) or, between two runs of a restart policy, the last run's exit (`restarting` off). A
 * `pid` that is no longer the container's process reads as 0: nobody signals a stale pid. Throws
 * RecordVersionError.
 */
export function effectiveState(dir: string, ahead?: RecordsReadAhead): { state: ContainerState | null; deadMonitor: boolean } {
  const state = readState(dir, ahead);
  if (state?.status !== 'running') return { state, deadMonitor: false };
  if (!monitorAlive(state)) {
    // Re-read: the monitor may have recorded the exit and ended between the two reads.
    const again = readState(dir);
    if (again?.status === 'exited') return { state: again, deadMonitor: false };
    const ended = state.restarting ? {} : { exitCode: 137, signal: 9 };
    return { state: { ...state, ...ended, status: 'exited', restarting: false, pid: 0 }, deadMonitor: true };
  }
  if (state.pid > 0 && !verifiedPid(state.pid, state.pidStart, state.monitorPid)) return { state: { ...state, pid: 0 }, deadMonitor: false };
  return { state, deadMonitor: false };
}

/**
 * The live monitors of containers under `root`, by container id: pocker-init processes holding a
 * file under `<root>/containers/<id>/` open (a detached monitor keeps its json-file log open, also
 * once its directory was deleted: "… (deleted)"). Found from /proc, not from any record, so they
 * are found when the records are damaged or gone. Only this root's: another root's monitors (other
 * users, parallel tests) are never returned.
 */
export function findMonitors(root: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const base = monitorBase(root);
  let pids: number[];
  try {
    pids = pockerInitCandidates();
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (pid === process.pid) continue;
    const id = monitorContainerId(pid, base);
    if (id) out.set(id, [...(out.get(id) ?? []), pid]);
  }
  return out;
}

/**
 * The processes that may be monitors: the addon's scan of /proc for a pocker-init image (one
 * readlink a process, in C++: this JavaScript loop cost `ps` ~15 us a process, ~7 ms on a machine
 * of 500), else every process (monitorContainerId checks the image itself).
 */
function pockerInitCandidates(): number[] {
  let addon: NativeAddon | undefined;
  try {
    addon = native();
  } catch {
    return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number);
  }
  return addon.pockerInitPids();
}

/** The id of the container under `base` (`<root>/containers/`) whose files pocker-init `pid` holds open, or null. */
function monitorContainerId(pid: number, base: string): string | null {
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null; // gone, a kernel thread, or not ours to read
  }
  if (!exe.startsWith('/memfd:pocker-init') && !/\/pocker-init( \(deleted\))?$/.test(exe)) return null;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith(base)) continue;
    const id = target.slice(base.length, base.length + 64);
    if (ID.test(id) && target[base.length + 64] === '/') return id;
  }
  return null;
}

/** Is `pid` still a monitor of container `id` under `root` (checked again right before it is signalled)? */
export function isMonitorOf(root: string, id: string, pid: number): boolean {
  return monitorContainerId(pid, monitorBase(root)) === id;
}

/** `<root>/containers/` as /proc shows the paths under it (symlinks resolved). */
function monitorBase(root: string): string {
  try {
    return `${realpathSync(containersDir(root))}/`;
  } catch {
    return `${resolve(containersDir(root))}/`;
  }
}

/** Monitor pids of (up to `limit`) containers under `root` whose state.json says running. */
export function runningMonitorPids(root: string, limit = 4): number[] {
  const out: number[] = [];
  for (const id of containerIds(root)) {
    let s: ContainerState | null = null;
    try {
      s = readState(containerDir(root, id));
    } catch {
      continue; // a record this pocker cannot read
    }
    if (s?.status === 'running' && s.monitorPid > 0) out.push(s.monitorPid);
    if (out.length >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// lookup and listing

/** A container with its records read. */
export interface ListedContainer extends ContainerEntry {
  /** config.json's store part (migrated), or null while its creator has not written it. */
  config: ContainerMeta | null;
  /** state.json, with a dead monitor's "running" turned into exited (137). Null: foreground. */
  state: ContainerState | null;
  /** created, running (restarting included: `state.restarting`) or exited (a foreground container, without state.json, is running). */
  status: 'running' | 'exited' | 'created';
  /** True when the container has no state.json: a live `pocker run` in the foreground owns it. */
  foreground: boolean;
  /** True when state.json said running but its monitor is gone. */
  deadMonitor: boolean;
  /** True when it runs but its cgroup is frozen (`pocker pause`). */
  paused?: boolean;
  /**
   * True when there is no state.json and the process that created the container is gone (killed
   * during create/start), or config.json is missing (its creator died before writing it): it is
   * not running, and rm / prune remove what it may have left (cgroups, directory, name).
   */
  deadOwner: boolean;
  /**
   * Why its records cannot be read (empty, truncated, garbled or `null` config.json or state.json),
   * or null. A damaged container is listed as dead (status `exited`, nothing known of its run):
   * rm removes it (killing what its cgroups and a verified monitor say still runs: rm -f), prune too.
   */
  damaged: string | null;
}

/**
 * A container whose records are damaged, with what can still be read (config.json when only
 * state.json is damaged).
 */
function damagedContainer(entry: ContainerEntry, err: PockerError): ListedContainer {
  let config: ContainerMeta | null = null;
  try {
    config = readMeta(entry.dir);
  } catch {
    /* config.json is (also) damaged */
  }
  const name = config?.name ?? entry.name;
  return { ...entry, name, config, state: null, status: 'exited', foreground: false, deadMonitor: false, deadOwner: false, damaged: err.message };
}

/**
 * Reads one container's config and state. A damaged record is described as such (`damaged`);
 * throws RecordVersionError for a newer pocker's records.
 */
export function describeContainer(entry: ContainerEntry, ahead?: RecordsReadAhead): ListedContainer {
  try {
    return describeRecords(entry, ahead);
  } catch (err) {
    if (isDamagedRecord(err)) return damagedContainer(entry, err);
    throw err;
  }
}

/** Reads one container's config and state. Throws RecordVersionError for a newer pocker's records. */
function describeRecords(entry: ContainerEntry, ahead?: RecordsReadAhead): ListedContainer {
  const config = readMeta(entry.dir, ahead);
  const { state, deadMonitor } = effectiveState(entry.dir, ahead);
  // Without state.json the container is its creator's (a foreground run, or a detached one not yet
  // handed to its monitor): a creator that died (or never wrote config.json) leaves no running container.
  let deadOwner = false;
  if (!state) {
    deadOwner = config ? !!config.owner && !ownerAlive(config.owner) : true;
    // Re-read: a detached container's monitor may have written state.json meanwhile.
    if (deadOwner && existsSync(join(entry.dir, 'state.json'))) return describeRecords(entry);
  }
  const name = config?.name ?? entry.name;
  const status = state ? state.status : deadOwner ? 'exited' : 'running';
  // Paused: the kernel's freezer says so (the only record of a pause).
  const paused = status === 'running' && !!config?.cgroups.length && isFrozen(config.cgroups);
  return { ...entry, name, config, state, status, foreground: !state, deadMonitor, deadOwner, damaged: null, ...(paused ? { paused } : {}) };
}

/** The id names/<name>/owner records, when that container exists. */
function idByName(root: string, name: string): string | null {
  try {
    const id = readFileSync(join(root, 'names', name, 'owner'), 'utf8').trim();
    return ID.test(id) && existsSync(containerDir(root, id)) ? id : null;
  } catch {
    return null;
  }
}

/**
 * Finds a container by full id, exact name or unique id prefix (Docker's lookup order: a name is
 * never shadowed by another container's id prefix). Throws a PockerError `ERR_POCKER_NOT_FOUND`
 * ("No such container") or `ERR_POCKER_AMBIGUOUS`. The entry's name is the recorded one (the short
 * id while config.json is not written, or not readable).
 */
export function findContainer(root: string, ref: string, known?: { ids: string[]; ahead: Map<string, RecordsReadAhead> }): ContainerEntry {
  const ids = known?.ids ?? containerIds(root);
  /** The entry, and whether its config.json exists but this pocker cannot read it. */
  const read = (id: string): { e: ContainerEntry; unreadable: boolean } => {
    try {
      return { e: entryOf(root, id, readMeta(containerDir(root, id), known?.ahead.get(id))?.name), unreadable: false };
    } catch {
      // A record this pocker cannot read (a newer pocker's, or a damaged one): its id names it.
      return { e: entryOf(root, id), unreadable: true };
    }
  };
  const entry = (id: string): ContainerEntry => read(id).e;
  if (ids.includes(ref)) return entry(ref);
  if (NAME.test(ref)) {
    // The name claim says which container holds a name; then the containers whose record names it.
    const claimed = idByName(root, ref);
    if (claimed) {
      const { e, unreadable } = read(claimed);
      // A record this pocker cannot read (damaged, newer) or that is gone from a directory that is
      // still there (a creator, or an rm -f, killed half-way) is found by its name claim: rm -f
      // must be able to finish it.
      if (e.name === ref || unreadable || !existsSync(join(e.dir, 'config.json'))) return { ...e, name: ref };
    }
    const named = ids.map(entry).find((e) => e.name === ref);
    if (named) return named;
  }
  const byPrefix = /^[0-9a-f]{1,63}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (byPrefix.length > 1) {
    throw new PockerError(`multiple containers found with prefix ${ref}`, { code: 'ERR_POCKER_AMBIGUOUS', step: 'lookup' });
  }
  if (byPrefix.length === 1) return entry(byPrefix[0]!);
  throw new PockerError(`No such container: ${ref}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/** describeContainer() with the records read without blocking the event loop. */
export async function describeContainerAsync(entry: ContainerEntry): Promise<ListedContainer> {
  return describeContainer(entry, await readRecordsAhead(entry.dir));
}

/** Finds and reads a container (findContainer + describeContainer). */
export function lookupContainer(root: string, ref: string): ListedContainer {
  return describeContainer(findContainer(root, ref));
}

/**
 * findContainer() with the records it needs read without blocking the event loop: the container's
 * for a full id, the name claim's and the id prefix's for a claimed name, else every container's
 * (a name is looked up in the records).
 */
export async function findContainerAsync(root: string, ref: string): Promise<ContainerEntry> {
  const ids = await containerIdsAsync(root);
  let wanted: string[];
  if (ids.includes(ref)) wanted = [ref];
  else {
    const claimed = NAME.test(ref) ? idByName(root, ref) : null;
    const byPrefix = /^[0-9a-f]{1,63}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
    wanted = claimed ? [claimed, ...byPrefix] : NAME.test(ref) ? ids : byPrefix;
  }
  const ahead = new Map(await mapLimit(wanted, READ_AHEAD, async (id) => [id, await readRecordsAhead(containerDir(root, id), ['config'])] as const));
  return findContainer(root, ref, { ids, ahead });
}

/** lookupContainer() with the records read without blocking the event loop. */
export async function lookupContainerAsync(root: string, ref: string): Promise<ListedContainer> {
  return describeContainerAsync(await findContainerAsync(root, ref));
}

/** Options of listContainerRecords(). */
export interface ListRecordsOptions {
  /** Called for a container whose records this pocker cannot read (newer version, corrupt); it is left out. */
  onUnreadable?: (id: string, err: PockerError) => void;
}

/** Every container under `root`, newest first. */
export function listContainerRecords(root: string, options: ListRecordsOptions = {}): ListedContainer[] {
  return listOf(root, containerIds(root), options);
}

/** listContainerRecords() with the records read without blocking the event loop. */
export async function listContainerRecordsAsync(root: string, options: ListRecordsOptions = {}): Promise<ListedContainer[]> {
  const ids = await containerIdsAsync(root);
  const ahead = new Map(await mapLimit(ids, READ_AHEAD, async (id) => [id, await readRecordsAhead(containerDir(root, id))] as const));
  return listOf(root, ids, options, ahead);
}

function listOf(root: string, ids: readonly string[], options: ListRecordsOptions, ahead?: Map<string, RecordsReadAhead>): ListedContainer[] {
  const list: ListedContainer[] = [];
  for (const id of ids) {
    try {
      const c = describeContainer(entryOf(root, id), ahead?.get(id));
      if (existsSync(c.dir)) list.push(c);
    } catch (err) {
      if (!(err instanceof PockerError)) throw err;
      options.onUnreadable?.(id, err);
    }
  }
  const time = (c: ListedContainer) => Date.parse(c.config?.created ?? '') || 0;
  return list.sort((a, b) => time(b) - time(a));
}

// ---------------------------------------------------------------------------------------------
// the cgroup handle

/**
 * The cgroup dirs a container may have: its record's (as lib/cgroup planned them at creation) and
 * those that exist named after its id under its parent, in every mounted hierarchy (a start killed
 * after making them, a record that lost them). Without a readable record (its creator died before
 * writing it, it is damaged, or a newer pocker wrote it): those under the default parent
 * (`pocker`), the parents the root's other containers record and `moreParents`.
 */
export function containerCgroupDirs(root: string, c: Pick<ListedContainer, 'id' | 'config'>, moreParents: string[] = []): string[] {
  const recorded = c.config?.cgroups ?? [];
  const known = [...recorded];
  const parents = [...moreParents];
  if (c.config?.cgroupParent) parents.push(c.config.cgroupParent);
  if (!c.config) {
    for (const id of containerIds(root)) {
      try {
        known.push(...(readMeta(containerDir(root, id))?.cgroups ?? []));
      } catch {
        /* unreadable: no parent to learn */
      }
    }
  }
  return [...new Set([...recorded, ...findContainerCgroupDirs(c.id, known, undefined, parents)])];
}

// ---------------------------------------------------------------------------------------------
// orphans: what runs, or holds cgroups, for a container no record explains

/** A container of this root that has no directory (deleted under its monitor, or half-removed). */
export interface OrphanContainer {
  id: string;
  /** Its live monitors (pocker-init processes holding its files open). */
  monitors: number[];
  /** Its cgroup dirs that exist. */
  cgroups: string[];
  /** The name claims that still name it. */
  names: string[];
}

/** The first processes a monitor started (its children): the container's init, an exec's process. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The containers of `root` that no record explains: a live monitor (findMonitors) whose container
 * has no directory, or a name claim naming an id that has none (its cgroups may be left). Only
 * things tied to this root: a monitor by the files it holds under `<root>/containers/`, a cgroup by
 * an id this root's monitors or name claims give (another root's containers are never judged).
 */
export function findOrphans(root: string, monitors: Map<string, number[]> = findMonitors(root)): OrphanContainer[] {
  const byId = new Map<string, OrphanContainer>();
  const orphan = (id: string): OrphanContainer => {
    let o = byId.get(id);
    if (!o) byId.set(id, (o = { id, monitors: [], cgroups: [], names: [] }));
    return o;
  };
  for (const [id, pids] of monitors) if (!existsSync(containerDir(root, id))) orphan(id).monitors.push(...pids);
  let names: string[] = [];
  try {
    names = readdirSync(join(root, 'names')).filter((n) => !n.startsWith('.'));
  } catch {
    /* no names yet */
  }
  for (const name of names) {
    let owner = '';
    try {
      owner = readFileSync(join(root, 'names', name, 'owner'), 'utf8').trim();
    } catch {
      continue;
    }
    if (ID.test(owner) && !existsSync(containerDir(root, owner))) orphan(owner).names.push(name);
  }
  for (const o of byId.values()) {
    const parents = o.monitors.flatMap((m) => childrenOf(m).flatMap((child) => cgroupParentsOfProcess(child, o.id)));
    o.cgroups = containerCgroupDirs(root, { id: o.id, config: null }, parents);
  }
  return [...byId.values()];
}

// ---------------------------------------------------------------------------------------------
// the per-container lock, creation and removal

/** Options of withContainerLock(). */
export interface ContainerLockOptions {
  /** Give up after this long (default 30 s): ERR_POCKER_LOCK_TIMEOUT. */
  timeoutMs?: number;
}

function notFound(dir: string): PockerError {
  return new PockerError(`No such container: ${idOf(dir)}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/**
 * Runs `fn` holding the container's lock (an flock on `<dir>/lock`, tried without blocking and
 * polled, so the event loop goes on; ERR_POCKER_LOCK_TIMEOUT after `timeoutMs`): `start` holds it
 * until the monitor has taken over and `rm` while it removes, so a container is never started
 * twice at once, nor removed half-started. Throws `ERR_POCKER_NOT_FOUND` when the container was
 * removed while we waited.
 */
export async function withContainerLock<T>(dir: string, fn: () => Promise<T>, options: ContainerLockOptions = {}): Promise<T> {
  try {
    return await withFileLock(
      join(dir, 'lock'),
      async () => {
        if (!existsSync(join(dir, 'config.json'))) throw notFound(dir);
        return await fn();
      },
      { step: 'lookup', what: `the lock of container ${idOf(dir).slice(0, 12)}`, openFlags: constants.O_RDWR | constants.O_CREAT, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) },
    );
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!(err instanceof PockerError) && (code === 'ENOENT' || code === 'ENOTDIR')) throw notFound(dir);
    throw err;
  }
}

/** What createContainerDir() lays out. */
export interface ContainerLayoutDirs {
  /** Sub-directories to make (absolute, inside the container's directory), in order, with their modes. */
  dirs: Array<{ path: string; mode: number }>;
  /** The OCI document (from lib/spec) and the store's record. */
  spec: OciDocument;
  meta: ContainerMeta;
  /** The runtime fields of config.json's pocker section (lib/spec's). */
  runtime?: Record<string, unknown>;
  /** Write state.json `created` first (a container a monitor will run is `created` from the moment config.json exists). */
  created: boolean;
}

/**
 * Makes the container's directory and sub-directories and writes its records (state.json first,
 * then config.json: a directory with config.json is a complete container). On failure the
 * directory is removed and the error thrown (a PockerError, step `state`).
 */
export function createContainerDir(dir: string, layout: ContainerLayoutDirs): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const d of layout.dirs) mkdirSync(d.path, { recursive: true, mode: d.mode });
    if (layout.created) {
      // Blocks for the monitor's state writes, reserved now: a created container can be started,
      // and its end recorded, on a disk that has filled up meanwhile.
      reserveStateSpares(dir);
      writeState(dir, CREATED_STATE);
    }
    // A foreground container's record lives as long as its `pocker run` (removed when it ends, and
    // read as not running once that process is gone): atomic, but not worth two fsyncs on every
    // run(). A record a monitor will run (create, run -d) must survive a crash: fsync'd.
    writeConfig(dir, layout.spec, layout.meta, layout.runtime, layout.created);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof PockerError) throw err;
    throw fromSystemError(err, 'state', `cannot create the container directory ${dir}`);
  }
}

/**
 * Removes the container's directory (with everything in it); the name is released by the caller
 * (names.ts). A rootless container's overlay leaves its work directory `work/work` mode 0000 (the
 * kernel makes it so, owned by the user as root of the container's namespace), with a whiteout
 * the kernel may leave in it: the caller's own directories it cannot read are opened up first.
 */
export function removeContainerDir(dir: string): void {
  try {
    removeTreeSync(dir, 5);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code !== 'EACCES' && code !== 'EPERM') || process.getuid?.() === 0) throw err;
    openOwnDirs(dir, process.getuid?.() ?? -1);
    removeTreeSync(dir, 5);
  }
}

/** Gives the owner rwx on every directory below `dir` that `uid` owns (those it can then list). */
function openOwnDirs(dir: string, uid: number): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory() || st.uid !== uid) return;
  if ((st.mode & 0o700) !== 0o700) chmodSync(dir, (st.mode & 0o7777) | 0o700);
  for (const name of readdirSync(dir)) openOwnDirs(join(dir, name), uid);
}

/** What `stop` / `rm -f` ask a container's monitor to do. */
export interface StopRequest {
  /** The stop signal (number). */
  signal: number;
  /** Seconds before SIGKILL (negative: never). */
  timeout: number;
}

/**
 * `stop` / `rm -f`: the monitor must not restart the container. With `request` (a monitor that
 * carries out stops: its state.json has `monitorStart`), the marker is a symlink whose target is
 * "<signal> <timeout>": made under a temporary name and renamed into place (atomic, and it needs no
 * data block on a full disk); the monitor sees it (dnotify), signals the container, and SIGKILLs
 * it after the timeout, so the stop completes even if the caller dies right after this.
 */
export function markStopRequested(dir: string, request?: StopRequest): void {
  try {
    if (!request) {
      // 'wx': never through a symlink marker already there (its target is no path).
      writeFileSync(join(dir, 'stop-requested'), '', { flag: 'wx' });
      return;
    }
    const tmp = join(dir, `.stop-requested.${process.pid}`);
    rmSync(tmp, { force: true });
    symlinkSync(`${request.signal} ${Math.trunc(request.timeout)}`, tmp);
    renameSync(tmp, join(dir, 'stop-requested'));
  } catch {
    /* the container's directory is already gone */
  }
}

/** `start`: the restart policy applies again. */
export function clearStopRequested(dir: string): void {
  rmSync(join(dir, 'stop-requested'), { force: true });
}

export { RecordVersionError };
