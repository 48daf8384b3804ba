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
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';

import { detectCgroups, planCgroups } from '../cgroup/index.js';
import { PockerError, fromSystemError } from '../errors.js';
import { writeFileAtomicSync, withFileLock } from '../fsutil.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';
import {
  RecordVersionError,
  configDocument,
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

/** The state directory `options.root` names, or $POCKER_ROOT, or /var/lib/pocker. */
export function stateRoot(options?: RootOptions): string {
  return options?.root ?? (process.env.POCKER_ROOT || DEFAULT_STATE_ROOT);
}

const ID = /^[0-9a-f]{64}$/;

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

// ---------------------------------------------------------------------------------------------
// records

function idOf(dir: string): string {
  return dir.slice(dir.lastIndexOf('/') + 1);
}

/** Reads and parses a JSON file; null when it does not exist (yet) or is not JSON. */
function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/**
 * The container's config.json, migrated to the current shape; null when it does not exist yet (a
 * container being created). Throws RecordVersionError (newer pocker) or ERR_POCKER_STORE_CORRUPT.
 */
export function readConfig(dir: string): ContainerConfigRecord | null {
  const doc = readJsonFile(join(dir, 'config.json'));
  return doc === null ? null : parseConfigRecord(doc, idOf(dir));
}

/** readConfig(dir)'s `meta`, or null. */
export function readMeta(dir: string): ContainerMeta | null {
  return readConfig(dir)?.meta ?? null;
}

/** The container's state.json (migrated), or null (a foreground container has none). Throws RecordVersionError. */
export function readState(dir: string): ContainerState | null {
  const doc = readJsonFile(join(dir, 'state.json'));
  return doc === null ? null : parseStateRecord(doc, idOf(dir));
}

/**
 * Writes config.json atomically: the OCI document `spec` (built by lib/spec: the store does not look
 * into it) with the pocker section (version, the runtime fields lib/spec defines, `meta`). A record
 * that has not changed is not rewritten (a `start` on a full disk needs no new space).
 */
export function writeConfig(dir: string, spec: OciDocument, meta: ContainerMeta, runtime: Record<string, unknown> = {}, durable = true): void {
  const text = `${JSON.stringify(configDocument(spec, meta, runtime))}\n`;
  try {
    if (readFileSync(join(dir, 'config.json'), 'utf8') === text) return;
  } catch {
    /* not written yet */
  }
  writeFileAtomicSync(join(dir, 'config.json'), text, { mode: 0o600, durable });
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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return /(^|\/)pocker-init( |$)/.test(cmdline);
  } catch {
    return false;
  }
}

/** This process, as a container's `owner` (pid and /proc start time, field 22 of /proc/self/stat). */
export function currentOwner(): { pid: number; start: string } {
  let start = '';
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    /* no /proc */
  }
  return { pid: process.pid, start };
}

/** Field 22 of /proc/<pid>/stat (start time, clock ticks since boot), the state letter, the parent; null when gone. */
function procStat(pid: number): { start: number; state: string; ppid: number } | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: Number(fields[19]), state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/**
 * Is `pid` the live process state.json names: its start time is `start` (recorded by the monitor)
 * or, for a record of an older monitor without one, it is a child of `parent` (the container's
 * first process is its monitor's child)? A pid that fails this is stale: never signalled.
 */
export function verifiedPid(pid: number, start: number | undefined, parent?: number): boolean {
  const p = procStat(pid);
  if (!p || p.state.startsWith('Z')) return false;
  if (start) return p.start === start;
  return parent === undefined || p.ppid === parent;
}

/** Is the monitor state.json names alive (a pocker-init, with the recorded start time when there is one)? */
export function monitorAlive(state: Pick<ContainerState, 'monitorPid' | 'monitorStart'>): boolean {
  return isPockerInit(state.monitorPid) && verifiedPid(state.monitorPid, state.monitorStart);
}

/** Is the process `owner` (pid and start time) still alive? */
function ownerAlive(owner: { pid: number; start: string }): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${owner.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return !fields[0]!.startsWith('Z') && (!owner.start || fields[19] === owner.start);
  } catch {
    return false;
  }
}

/**
 * The container's state with its processes verified (pid and start time): state.json saying
 * running while its monitor is gone reads as exited: 137 (SIGKILL: the container died with its
 * monitor) or, between two runs of a restart policy, the last run's exit (`restarting` off). A
 * `pid` that is no longer the container's process reads as 0: nobody signals a stale pid. Throws
 * RecordVersionError.
 */
export function effectiveState(dir: string): { state: ContainerState | null; deadMonitor: boolean } {
  const state = readState(dir);
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
  /**
   * True when there is no state.json and the process that created the container is gone (killed
   * during create/start), or config.json is missing (its creator died before writing it): it is
   * not running, and rm / prune remove what it may have left (cgroups, directory, name).
   */
  deadOwner: boolean;
}

/** Reads one container's config and state. Throws RecordVersionError for a newer pocker's records. */
export function describeContainer(entry: ContainerEntry): ListedContainer {
  const config = readMeta(entry.dir);
  const { state, deadMonitor } = effectiveState(entry.dir);
  // Without state.json the container is its creator's (a foreground run, or a detached one not yet
  // handed to its monitor): a creator that died (or never wrote config.json) leaves no running container.
  let deadOwner = false;
  if (!state) {
    deadOwner = config ? !!config.owner && !ownerAlive(config.owner) : true;
    // Re-read: a detached container's monitor may have written state.json meanwhile.
    if (deadOwner && existsSync(join(entry.dir, 'state.json'))) return describeContainer(entry);
  }
  const name = config?.name ?? entry.name;
  return { ...entry, name, config, state, status: state ? state.status : deadOwner ? 'exited' : 'running', foreground: !state, deadMonitor, deadOwner };
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
 * Finds a container by full id, unique id prefix or name (Docker's lookup order). Throws a
 * PockerError `ERR_POCKER_NOT_FOUND` ("No such container") or `ERR_POCKER_AMBIGUOUS`. The entry's
 * name is the recorded one (the short id while config.json is not written, or not readable).
 */
export function findContainer(root: string, ref: string): ContainerEntry {
  const ids = containerIds(root);
  /** The entry, and whether its config.json exists but this pocker cannot read it. */
  const read = (id: string): { e: ContainerEntry; unreadable: boolean } => {
    try {
      return { e: entryOf(root, id, readMeta(containerDir(root, id))?.name), unreadable: false };
    } catch {
      // A record this pocker cannot read (a newer pocker's): its id names it.
      return { e: entryOf(root, id), unreadable: true };
    }
  };
  const entry = (id: string): ContainerEntry => read(id).e;
  if (ids.includes(ref)) return entry(ref);
  const byPrefix = /^[0-9a-f]{1,63}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (byPrefix.length > 1) {
    throw new PockerError(`multiple containers found with prefix ${ref}`, { code: 'ERR_POCKER_AMBIGUOUS', step: 'lookup' });
  }
  if (byPrefix.length === 1) return entry(byPrefix[0]!);
  // The name claim says which container holds a name; then the containers whose record names it.
  const claimed = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ref) ? idByName(root, ref) : null;
  if (claimed) {
    const { e, unreadable } = read(claimed);
    // A record a newer pocker wrote is found by its name claim (for rm -f, and a clear refusal).
    if (e.name === ref || unreadable) return { ...e, name: ref };
  }
  const named = ids.map(entry).find((e) => e.name === ref);
  if (named) return named;
  throw new PockerError(`No such container: ${ref}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/** Finds and reads a container (findContainer + describeContainer). */
export function lookupContainer(root: string, ref: string): ListedContainer {
  return describeContainer(findContainer(root, ref));
}

/** Options of listContainerRecords(). */
export interface ListRecordsOptions {
  /** Called for a container whose records this pocker cannot read (newer version, corrupt); it is left out. */
  onUnreadable?: (id: string, err: PockerError) => void;
}

/** Every container under `root`, newest first. */
export function listContainerRecords(root: string, options: ListRecordsOptions = {}): ListedContainer[] {
  const list: ListedContainer[] = [];
  for (const id of containerIds(root)) {
    try {
      const c = describeContainer(entryOf(root, id));
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
 * The cgroup dirs a container may have: its record's (as lib/cgroup planned them at creation) or,
 * without a readable record (its creator died before writing it, or a newer pocker wrote it), the
 * dirs lib/cgroup plans for its id under the default parent (`pocker`) and the parents other
 * containers of the root record, those that exist.
 */
export function containerCgroupDirs(root: string, c: Pick<ListedContainer, 'id' | 'config'>): string[] {
  if (c.config) return c.config.cgroups ?? [];
  const parents = new Set<string>(['pocker']);
  for (const id of containerIds(root)) {
    try {
      const parent = readMeta(containerDir(root, id))?.cgroupParent;
      if (parent) parents.add(parent);
    } catch {
      /* unreadable: no parent to learn */
    }
  }
  let info;
  try {
    info = detectCgroups();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const parent of parents) {
    try {
      out.push(...planCgroups(info, parent, c.id, {}).leafDirs);
    } catch {
      /* not a parent lib/cgroup accepts */
    }
  }
  return out.filter((d) => existsSync(d));
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

/** Removes the container's directory (with everything in it); the name is released by the caller (names.ts). */
export function removeContainerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
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

// ---------------------------------------------------------------------------------------------
// logs

/** One json-file log entry. */
export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** The log files of a container, oldest first (rotated ones are <log>.N … <log>.1). */
export function logFiles(logPath: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${logPath}.${i}`); i++) rotated.unshift(`${logPath}.${i}`);
  return existsSync(logPath) ? [...rotated, logPath] : rotated;
}

/** Parses json-file lines (a torn last line, being written, is left out). */
export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      /* partial line */
    }
  }
  return out;
}

export { RecordVersionError };
