// The container lifecycle as library functions with typed results: list, inspect, stop, kill,
// wait, remove, rename, logs, stats, top and prune over the on-disk state (containers/<id>/
// config.json, the monitor's state.json and json-file log). The CLI (lib/cli/containers.ts,
// lifecycle.ts, logs.ts) only parses its flags and formats what these return.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

import { PockerError, invalid } from '../errors.js';
import { native } from '../native.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';
import type { ExitStatus } from '../types.js';
import * as st from './containers.js';
import type { ListedContainer, LogEntry } from './containers.js';
import { pruneContainers as pruneExited } from './lifecycle.js';
import { filterContainers, normalizeFilters, type ContainerFilters } from './filters.js';
import { releaseName, renameContainer as renameClaim } from './names.js';
import * as stats from './stats.js';
import type { ContainerStats, StatsSample } from './stats.js';
import { logTimeNanos, timeValueNanos, type TimeValue } from './timestamps.js';

export type { LogEntry } from './containers.js';
export type { ContainerFilters, ContainerStatusFilter } from './filters.js';
export type { ContainerStats } from './stats.js';
export type { TimeValue } from './timestamps.js';

/** Options every operation takes. */
export interface StateOptions {
  /** State directory (default $POCKER_ROOT, else /var/lib/pocker). */
  root?: string;
}

/** The state directory `options.root` names, or $POCKER_ROOT, or /var/lib/pocker. */
export function stateRoot(options?: StateOptions): string {
  return options?.root ?? (process.env.POCKER_ROOT || DEFAULT_STATE_ROOT);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([name, n]) => [n as number, name as NodeJS.Signals]));

// ---------------------------------------------------------------------------------------------
// list / inspect

/**
 * A container's status: `created` (by create, not started yet), `running` (or between two runs of
 * a restart policy: `restarting`), or `exited` (ended, or its monitor or creator died).
 */
export type ContainerStatusName = 'created' | 'running' | 'restarting' | 'exited';

/** One container, as `pocker ps` lists it. */
export interface ContainerInfo {
  /** The full id (64 hex digits); `id.slice(0, 12)` is the short form. */
  id: string;
  name: string;
  /** The image as Docker shows it: its stored name (else id), `host`, or the rootfs path. */
  image: string;
  /** The image's id (`sha256:…`), or '' for `host` and rootfs containers. */
  imageId: string;
  /** The command line (entrypoint and command), untruncated. */
  command: string;
  /** The command line as arguments. */
  args: string[];
  /** When the container was created (ISO 8601), or '' when unknown (its creator died early). */
  created: string;
  status: ContainerStatusName;
  /** Docker's STATUS text: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Restarting (1) …`. */
  statusText: string;
  /** Host pid of the container's first process (0 unless running). */
  pid: number;
  /** The exit code once exited (128+N when killed by signal N), else null. */
  exitCode: number | null;
  oomKilled: boolean;
  /** How often its monitor has restarted it (--restart). */
  restartCount: number;
  /** True when a `pocker run` in the foreground owns it (no monitor: stop/kill/rm -f refuse). */
  foreground: boolean;
  /** When it started (ISO 8601), or ''. */
  startedAt: string;
  /** When it ended (ISO 8601), or '' unless exited. */
  finishedAt: string;
  /** The json-file log ('' for a foreground container). */
  logPath: string;
  /**
   * Bytes in the container's writable layer (its files' sizes, as Docker's SizeRw): only when
   * listContainers() was asked for `size`. A `host` container's writable layer is a tmpfs inside
   * the container and counts as 0.
   */
  sizeRw?: number;
  /**
   * The writable layer plus the image's layers (Docker's SizeRootFs, the "virtual" size), or 0 when
   * unknown (`host`, and a `--rootfs` directory that contains the state root): only with `size`.
   */
  sizeRootFs?: number;
}

function imageText(c: ListedContainer): string {
  const image = c.config?.image;
  if (!image) return '';
  if ('host' in image) return 'host';
  if ('rootfs' in image) return image.rootfs;
  return image.name || image.id;
}

function statusOf(c: ListedContainer): ContainerStatusName {
  return c.status === 'running' && c.state?.restarting ? 'restarting' : c.status;
}

function infoOf(c: ListedContainer, now: number): ContainerInfo {
  const s = c.state;
  const image = c.config?.image;
  const args = c.config?.args ?? [];
  return {
    id: c.id,
    name: c.name,
    image: imageText(c),
    imageId: image && 'id' in image ? image.id : '',
    command: args.join(' '),
    args,
    created: c.config?.created ?? '',
    status: statusOf(c),
    statusText: st.containerStatus(c, now),
    pid: c.status === 'running' ? (s?.pid ?? 0) : 0,
    exitCode: c.status === 'running' ? null : c.deadOwner ? 137 : (s?.exitCode ?? 0),
    oomKilled: s?.oomKilled ?? false,
    restartCount: s?.restartCount ?? 0,
    foreground: c.status === 'running' && !s,
    startedAt: s?.startedAt ?? '',
    finishedAt: (c.status === 'exited' && s?.finishedAt) || '',
    logPath: s ? c.logPath : '',
  };
}

/** Finds a container (id, unique id prefix or name) and reads its state. */
function lookup(root: string, ref: string): ListedContainer {
  return st.describeContainer(st.findContainer(root, ref));
}

/** Options of listContainers(). */
export interface ListOptions extends StateOptions {
  /** Stopped containers too (default: the running ones, restarting included). */
  all?: boolean;
  /**
   * Only the containers these filters match (`ps --filter`): see ContainerFilters. A status or
   * exited filter implies `all`. Throws ERR_POCKER_INVALID for an unknown key or a bad value, and
   * ERR_POCKER_NOT_FOUND / ERR_POCKER_AMBIGUOUS when `before` or `since` names no single container.
   */
  filters?: ContainerFilters;
  /** Only the N most recently created containers, stopped ones included (`ps -n N`; `ps -l` is 1). 0 or less: no limit. */
  last?: number;
  /** Compute `sizeRw` and `sizeRootFs` (walks each listed container's writable layer: slower). */
  size?: boolean;
}

/** A layer directory's size as the image store recorded it (`<layer>.json`), else its files' sizes. */
function layerSize(dir: string): number {
  try {
    const size = (JSON.parse(readFileSync(`${dir}.json`, 'utf8')) as { size?: unknown }).size;
    if (typeof size === 'number') return size;
  } catch {
    /* no record: count the files */
  }
  return stats.treeSize(dir);
}

/** Docker's SizeRw and SizeRootFs of a container. */
function sizesOf(c: ListedContainer): { sizeRw: number; sizeRootFs: number } {
  const sizeRw = stats.treeSize(join(c.dir, 'upper'));
  const image = c.config?.image;
  let base = 0;
  if (image && 'layers' in image) base = image.layers.reduce((sum, dir) => sum + layerSize(dir), 0);
  // A rootfs that contains the state root (its writable layer is then a `scratch` tmpfs) is not walked.
  else if (image && 'rootfs' in image && !existsSync(join(c.dir, 'scratch'))) base = stats.treeSize(image.rootfs);
  return { sizeRw, sizeRootFs: base > 0 ? sizeRw + base : 0 };
}

/**
 * The containers under the state root, newest first: the running ones (restarting included), or
 * all with `all`; with `filters`, `last` and `size` as `ps` has them.
 */
export function listContainers(options: ListOptions = {}): ContainerInfo[] {
  const filters = normalizeFilters(options.filters);
  if (options.last !== undefined && !Number.isInteger(options.last)) throw invalid(`invalid last ${String(options.last)}: a whole number`);
  const now = Date.now();
  const listed = st.listContainers(stateRoot(options));
  const byId = new Map(listed.map((c) => [c.id, c]));
  const shown = filterContainers(
    listed.map((c) => infoOf(c, now)),
    filters,
    { ...(options.all ? { all: true } : {}), ...(options.last !== undefined ? { last: options.last } : {}) },
  );
  return options.size ? shown.map((info) => ({ ...info, ...sizesOf(byId.get(info.id)!) })) : shown;
}

/** One container, as `pocker inspect` prints it (Docker's field names). */
export interface ContainerDetails {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: 'created' | 'running' | 'restarting' | 'exited';
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Image: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[];
    Image: string;
    WorkingDir: string;
    Tty: boolean;
    OpenStdin: boolean;
    StdinOnce: boolean;
    /** The image's StopSignal, if any. */
    StopSignal?: string;
  };
  HostConfig: {
    /** Bytes (0: unlimited). */
    Memory: number;
    /** Bytes of memory + swap (-1 unlimited, 0 unset). */
    MemorySwap: number;
    NanoCpus: number;
    CpuShares: number;
    CpusetCpus: string;
    /** null: unlimited. */
    PidsLimit: number | null;
    RestartPolicy: { Name: '' | 'no' | 'on-failure' | 'always' | 'unless-stopped'; MaximumRetryCount: number };
    AutoRemove: boolean;
    ReadonlyRootfs: boolean;
    NetworkMode: string;
    Init: boolean;
    CgroupParent: string;
    Binds: string[];
    Tmpfs: Record<string, string>;
    LogConfig: { Type: 'json-file'; Config: Record<string, string> };
  };
  Mounts: Array<{ Type: 'bind' | 'tmpfs' | 'volume'; Source: string; Destination: string; RW: boolean }>;
}

const RESTART_NAMES = ['no', 'on-failure', 'always', 'unless-stopped'] as const;

/**
 * Docker's inspect document of container `ref` (id, id prefix or name). Throws a PockerError
 * `ERR_POCKER_NOT_FOUND` / `ERR_POCKER_AMBIGUOUS` (step `lookup`).
 */
export function inspectContainer(ref: string, options: StateOptions = {}): ContainerDetails {
  const ZERO = '0001-01-01T00:00:00Z';
  const c = lookup(stateRoot(options), ref);
  const s = c.state;
  const args = c.config?.args ?? [];
  const image = c.config?.image;
  // The whole resolved configuration exists for containers a monitor runs (create, run -d).
  const r = c.config?.run?.config;
  const res = r?.resources ?? {};
  const mounts = r?.mounts ?? [];
  return {
    Id: c.id,
    Created: c.config?.created ?? '',
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: c.state?.restarting ? 'restarting' : c.status,
      Running: c.status === 'running',
      Paused: false,
      Restarting: !!c.state?.restarting,
      OOMKilled: s?.oomKilled ?? false,
      Dead: false,
      Pid: c.status === 'running' ? (s?.pid ?? 0) : 0,
      ExitCode: c.status === 'running' ? 0 : (s?.exitCode ?? 0),
      Error: c.deadMonitor ? 'the container monitor died' : '',
      StartedAt: s?.startedAt || c.config?.created || ZERO,
      FinishedAt: (c.status === 'exited' && s?.finishedAt) || ZERO,
    },
    Image: image && 'id' in image ? image.id : '',
    LogPath: c.state ? c.logPath : '',
    Name: `/${c.name}`,
    RestartCount: s?.restartCount ?? 0,
    Config: {
      Hostname: r?.hostname ?? '',
      User: c.config?.process?.user ?? '',
      Env: c.config?.process?.env ?? [],
      Cmd: args,
      Image: imageText(c),
      WorkingDir: c.config?.process?.cwd ?? '',
      Tty: r?.tty ?? false,
      OpenStdin: r?.interactive ?? false,
      StdinOnce: c.config?.run?.stdinOnce ?? false,
      ...(c.config?.stopSignal ? { StopSignal: c.config.stopSignal } : {}),
    },
    HostConfig: {
      Memory: res.memory ?? 0,
      MemorySwap: res.memorySwap ?? 0,
      NanoCpus: res.cpuQuota && res.cpuQuota.quota > 0 ? Math.round((res.cpuQuota.quota / res.cpuQuota.period) * 1e9) : 0,
      CpuShares: res.cpuShares ?? 0,
      CpusetCpus: res.cpusetCpus ?? '',
      PidsLimit: res.pidsLimit && res.pidsLimit > 0 ? res.pidsLimit : null,
      RestartPolicy: { Name: r ? RESTART_NAMES[r.restart.policy] : '', MaximumRetryCount: r?.restart.max ?? 0 },
      AutoRemove: r?.rm ?? false,
      ReadonlyRootfs: r?.readOnly ?? false,
      NetworkMode: r?.network ?? 'none',
      Init: r?.init ?? false,
      CgroupParent: r?.cgroupParent ?? '',
      Binds: mounts.filter((m) => m.kind === 'bind').map((m) => `${m.src}:${m.dst}${m.readonly ? ':ro' : ''}`),
      Tmpfs: Object.fromEntries(mounts.filter((m) => m.kind === 'tmpfs').map((m) => [m.dst, [m.readonly ? 'ro' : '', m.data].filter(Boolean).join(',')])),
      LogConfig: {
        Type: 'json-file',
        Config: {
          ...(r && r.log.maxSize ? { 'max-size': String(r.log.maxSize) } : {}),
          ...(r && r.log.maxFiles > 1 ? { 'max-file': String(r.log.maxFiles) } : {}),
        },
      },
    },
    Mounts: mounts.map((m) => ({
      Type: m.kind === 'image-volume' ? ('volume' as const) : m.kind,
      Source: m.src,
      Destination: m.dst,
      RW: !m.readonly,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// stop / kill / wait / remove / rename

/** Polls until the container has exited or `ms` passed (`Infinity` waits forever); null when its directory went away. */
async function waitExited(c: ListedContainer, ms: number): Promise<ListedContainer | null> {
  const end = Date.now() + ms;
  // Short at first (a killed container ends within a few ms, and stop/rm wait on this), then
  // longer, so that a long `wait` costs next to nothing.
  let delay = 10;
  for (;;) {
    if (!existsSync(c.dir)) return null;
    const now = st.describeContainer(c);
    if (now.status === 'exited') return now;
    if (Date.now() >= end) return now;
    await sleep(delay);
    delay = Math.min(delay * 1.5, 200);
  }
}

function signalTo(pid: number, sig: NodeJS.Signals | number): void {
  // pid 0 (a container between two runs) would signal our own process group.
  if (!(pid > 0)) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* it has just ended */
  }
}

/** `QUIT`, `SIGQUIT`, `3` -> `SIGQUIT` (undefined when it names no signal). */
function normalizeSignal(value: string | undefined): NodeJS.Signals | undefined {
  if (!value) return undefined;
  const signals = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) return Object.keys(signals).find((k) => signals[k] === Number(value)) as NodeJS.Signals | undefined;
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  return name in signals ? (name as NodeJS.Signals) : undefined;
}

/** `stop` / `rm -f`: the monitor of a container with a restart policy must not restart it. */
function markStopRequested(dir: string): void {
  try {
    writeFileSync(join(dir, 'stop-requested'), '');
  } catch {
    /* the container's directory is already gone */
  }
}

function foregroundError(message: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_FOREGROUND', step: 'lookup' });
}

function notRunningError(message: string, step: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_NOT_RUNNING', step });
}

/** Options of stopContainer(). */
export interface StopOptions extends StateOptions {
  /** Seconds to wait after the stop signal before SIGKILL (default 10; negative: wait forever). */
  timeout?: number;
}

/**
 * Stops a running detached container: its image's StopSignal (else SIGTERM), then SIGKILL after
 * `timeout` seconds; resolves once it has exited. A container that is not running is left alone.
 * Marks it stopped first, so that a restart policy does not start it again. Throws
 * `ERR_POCKER_FOREGROUND` for a container a foreground `pocker run` owns.
 */
export async function stopContainer(ref: string, options: StopOptions = {}): Promise<void> {
  const grace = options.timeout ?? 10;
  if (!Number.isInteger(grace)) throw invalid(`invalid timeout ${grace}: a whole number of seconds`);
  const c = lookup(stateRoot(options), ref);
  if (c.status !== 'running') return;
  if (!c.state) throw foregroundError(`cannot stop container ${ref}: it runs in the foreground of a pocker run`);
  markStopRequested(c.dir);
  // The monitor forwards the usual signals; any other (SIGKILL, real-time ones) goes to the
  // container's process itself.
  const stopSignal = normalizeSignal(c.config?.stopSignal) ?? 'SIGTERM';
  st.signalDetached(c.state, (osConstants.signals as Record<string, number>)[stopSignal]!);
  const now = await waitExited(c, grace < 0 ? Infinity : grace * 1000);
  if (now && now.status === 'running') {
    signalTo(c.state.pid, 'SIGKILL');
    await waitExited(c, 30_000);
  }
}

/**
 * Restarts a container (`pocker restart`): stops it as stopContainer() does (when it runs), then
 * starts it again with its monitor. Resolves once it runs.
 */
export async function restartContainer(ref: string, options: StopOptions = {}): Promise<void> {
  await stopContainer(ref, options);
  const { start } = await import('../runtime/run.js');
  await start(ref, { root: stateRoot(options) });
}

/** Options of killContainer(). */
export interface KillOptions extends StateOptions {
  /** The signal (name or number; default SIGKILL). */
  signal?: NodeJS.Signals | number;
}

/**
 * Sends a signal to a running detached container (through its monitor, which forwards it; SIGKILL
 * goes to the container's first process directly). Throws `ERR_POCKER_NOT_RUNNING` when it is not
 * running, `ERR_POCKER_FOREGROUND` for a foreground one, `ERR_POCKER_INVALID` for a bad signal.
 */
export async function killContainer(ref: string, options: KillOptions = {}): Promise<void> {
  const { signalNumber } = await import('../runtime/run.js');
  const sig = signalNumber(options.signal ?? 'SIGKILL');
  const c = lookup(stateRoot(options), ref);
  if (c.status !== 'running') throw notRunningError(`cannot kill container: ${c.id}: container ${c.id} is not running`, 'kill');
  if (!c.state) throw foregroundError(`cannot kill container ${ref}: it runs in the foreground of a pocker run`);
  st.signalDetached(c.state, sig);
}

/**
 * Resolves when the container has exited, with how it ended. Throws `ERR_POCKER_NOT_FOUND` when
 * it does not exist, or when it was removed (--rm) before its status could be read.
 */
export async function waitContainer(ref: string, options: StateOptions = {}): Promise<ExitStatus> {
  const c = lookup(stateRoot(options), ref);
  const end = await waitExited(c, Infinity);
  if (!end) throw new PockerError(`No such container: ${c.id}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'wait' });
  const s = end.state;
  if (!s) return { exitCode: 0, signal: null, oomKilled: false };
  return { exitCode: s.exitCode, signal: s.signal ? (signalNames.get(s.signal) ?? null) : null, oomKilled: s.oomKilled };
}

/** Options of removeContainer(). */
export interface RemoveOptions extends StateOptions {
  /** Kill a running container (SIGKILL) first; also releases a name left by a creator killed early. */
  force?: boolean;
}

/**
 * Removes a container: its directory, its name and (when its monitor or creator died) its cgroups.
 * A running container needs `force` (else `ERR_POCKER_RUNNING`); a foreground one is refused
 * (`ERR_POCKER_FOREGROUND`).
 */
export async function removeContainer(ref: string, options: RemoveOptions = {}): Promise<void> {
  const root = stateRoot(options);
  try {
    const found = st.findContainer(root, ref);
    // Under the container's lock: a start in progress finishes first (and is then seen running).
    // A directory without config.json (its creator died making it) has nothing to start.
    if (!existsSync(join(found.dir, 'config.json'))) await removeLocked(root, ref, st.describeContainer(found), !!options.force);
    else await st.withContainerLock(found.dir, () => removeLocked(root, ref, st.describeContainer(found), !!options.force));
  } finally {
    // A name claimed by a process killed before it made the container's directory: release it.
    if (options.force) st.releaseStaleNames(root, [ref]);
  }
}

async function removeLocked(root: string, ref: string, c: ListedContainer, force: boolean): Promise<void> {
  {
    if (c.status === 'running') {
      if (!force || !c.state) {
        throw c.state
          ? new PockerError(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`, { code: 'ERR_POCKER_RUNNING', step: 'remove' })
          : foregroundError(`cannot remove container "/${c.name}": it runs in the foreground of a pocker run`);
      }
      markStopRequested(c.dir);
      signalTo(c.state.pid, 'SIGKILL');
      if (c.state.restarting) signalTo(c.state.monitorPid, 'SIGTERM');
      await waitExited(c, 30_000);
    }
    // Waits (briefly) for the monitor to end, so that it has removed the cgroups.
    const monitorPid = c.state?.monitorPid ?? 0;
    for (let i = 0; i < 500 && st.isPockerInit(monitorPid); i++) await sleep(10);
    // A monitor (or, before it took over, the creating process, or a start) that died could not
    // clean up: kill what is left in the container's cgroups and remove them.
    if (c.deadMonitor || c.deadOwner || c.status === 'created') for (const dir of st.containerCgroupDirs(root, c)) native().cgroupRemove(dir);
    rmSync(c.dir, { recursive: true, force: true, maxRetries: 5 });
    releaseName(root, c.name, c.id);
  }
}

/**
 * Renames a container (a leading `/` is dropped). Throws `ERR_POCKER_NAME_CONFLICT` when another
 * container has the name, `ERR_POCKER_INVALID` for an invalid or unchanged name.
 */
export function renameContainer(ref: string, name: string, options: StateOptions = {}): void {
  const root = stateRoot(options);
  const c = lookup(root, ref);
  renameClaim(root, c.id, c.name, name.replace(/^\//, ''));
}

// ---------------------------------------------------------------------------------------------
// logs

/** Options of containerLogs() and followLogs(). */
export interface LogsOptions extends StateOptions {
  /** Only the last N entries (default: all); of those `since` and `until` leave. */
  tail?: number;
  /** Prefix each entry's `log` with its time and a space (as `logs -t` prints it). */
  timestamps?: boolean;
  /**
   * Only entries logged at or after this time (an entry's json-file `time`): a Date, Unix seconds
   * (fractions allowed), or a string as `logs --since` takes it: an RFC 3339 time
   * (`2024-01-02T15:04:05.123Z`, `2024-01-02T15:04`, `2024-01-02`; local without a zone), a Unix
   * timestamp (`1700000000.123456789`), or a Go duration before now (`10m`, `1h30m`, `42s`).
   * ERR_POCKER_INVALID when it is none of these.
   */
  since?: TimeValue;
  /** Only entries logged at or before this time (as `since`). followLogs() stops following then. */
  until?: TimeValue;
}

/** The [since, until] window of `options` in nanoseconds (undefined: unbounded). */
interface TimeWindow {
  since: bigint | undefined;
  until: bigint | undefined;
}

function timeWindow(options: LogsOptions): TimeWindow {
  const now = Date.now();
  return {
    since: options.since === undefined ? undefined : timeValueNanos(options.since, 'since', now),
    until: options.until === undefined ? undefined : timeValueNanos(options.until, 'until', now),
  };
}

function inWindow(e: LogEntry, w: TimeWindow): boolean {
  if (w.since === undefined && w.until === undefined) return true;
  const t = logTimeNanos(e.time);
  return (w.since === undefined || t >= w.since) && (w.until === undefined || t <= w.until);
}

function checkTail(tail: number | undefined): number {
  const n = tail ?? Infinity;
  if (!(n >= 0)) throw invalid(`invalid tail ${String(tail)}: a number or Infinity`);
  return n;
}

function stamp(entries: LogEntry[], timestamps: boolean | undefined): LogEntry[] {
  return timestamps ? entries.map((e) => ({ ...e, log: `${e.time} ${e.log}` })) : entries;
}

/**
 * The log's entries, and where they end in the current file (its inode and the byte after the last
 * complete line): following goes on from exactly there, so no line written meanwhile, and no line
 * torn at the moment of reading, is lost.
 */
function readLogsAt(c: st.ContainerEntry, tail: number, window: TimeWindow): { entries: LogEntry[]; offset: number; ino: number } {
  const all: LogEntry[] = [];
  let offset = 0;
  let ino = 0;
  for (const f of st.logFiles(c.logPath)) {
    if (f !== c.logPath) {
      all.push(...st.parseLogLines(readFileSync(f, 'utf8')));
      continue;
    }
    let fd: number;
    try {
      fd = openSync(f, 'r');
    } catch {
      continue; // rotated away meanwhile
    }
    try {
      ino = fstatSync(fd).ino;
      const buf = readFileSync(fd);
      offset = buf.lastIndexOf(0x0a) + 1;
      all.push(...st.parseLogLines(buf.subarray(0, offset).toString('utf8')));
    } finally {
      closeSync(fd);
    }
  }
  const inside = all.filter((e) => inWindow(e, window));
  return { entries: tail === Infinity ? inside : tail === 0 ? [] : inside.slice(-tail), offset, ino };
}

function readLogs(c: st.ContainerEntry, tail: number, window: TimeWindow): LogEntry[] {
  return readLogsAt(c, tail, window).entries;
}

/**
 * The entries of a detached container's json-file log, oldest first (rotated files included),
 * stdout and stderr apart (`stream`), between `since` and `until` when given.
 */
export function containerLogs(ref: string, options: LogsOptions = {}): LogEntry[] {
  const tail = checkTail(options.tail);
  const window = timeWindow(options);
  return stamp(readLogs(st.findContainer(stateRoot(options), ref), tail, window), options.timestamps);
}

/**
 * The log entries (as containerLogs() returns them), then those the container writes until it
 * ends, or until `until` (Docker's `logs -f --until`); follows across rotations. The options are
 * checked and the container looked up at once (throwing when invalid or not found).
 */
export function followLogs(ref: string, options: LogsOptions = {}): AsyncIterable<LogEntry> {
  const tail = checkTail(options.tail);
  const window = timeWindow(options);
  const c = st.findContainer(stateRoot(options), ref);
  const running = () => {
    try {
      return (JSON.parse(readFileSync(join(c.dir, 'state.json'), 'utf8')) as { status: string }).status === 'running';
    } catch {
      return false;
    }
  };
  const pastUntil = () => window.until !== undefined && BigInt(Date.now()) * 1_000_000n > window.until;
  async function* follow(): AsyncGenerator<LogEntry> {
    const first = readLogsAt(c, tail, window);
    yield* stamp(first.entries, options.timestamps);
    // Poll the current file from where that read ended; a rotation (the file shrank or was
    // replaced) starts it over.
    let { offset, ino } = first;
    for (;;) {
      // Read once more after the container ended, or `until` passed: what it wrote until then.
      const over = !running() || pastUntil();
      if (existsSync(c.logPath)) {
        const s = statSync(c.logPath);
        if (s.ino !== ino || s.size < offset) {
          offset = 0;
          ino = s.ino;
        }
        if (s.size > offset) {
          const text = readFileSync(c.logPath).subarray(offset).toString('utf8');
          const complete = text.slice(0, text.lastIndexOf('\n') + 1);
          offset += Buffer.byteLength(complete);
          const entries = st.parseLogLines(complete);
          const after = window.until === undefined ? -1 : entries.findIndex((e) => logTimeNanos(e.time) > window.until!);
          yield* stamp((after === -1 ? entries : entries.slice(0, after)).filter((e) => inWindow(e, window)), options.timestamps);
          if (after !== -1) return;
        }
      }
      if (over) return;
      await sleep(200);
    }
  }
  return follow();
}

// ---------------------------------------------------------------------------------------------
// stats / top

/** A raw sample of a container's counters, or null when it is not running. */
export function sampleContainer(c: ListedContainer): StatsSample | null {
  return c.status === 'running' && c.config ? stats.sampleStats(c.config.cgroups, c.state?.pid ?? 0) : null;
}

/** Combines two samples (null: not running) into a stats row. */
export function statsBetween(c: ListedContainer, a: StatsSample | null, b: StatsSample | null): ContainerStats {
  return a && b ? stats.statsOf(c, a, b) : stats.zeroStats(c);
}

/** Options of containerStats(). */
export interface StatsOptions extends StateOptions {
  /** Milliseconds between the two readings CPU % is computed from (default 1000, as Docker). */
  interval?: number;
}

/**
 * What a container uses (CPU %, memory usage/limit, network and block I/O, pids), from its cgroup
 * files and /proc, over `interval`. Zeros for a container that is not running.
 */
export async function containerStats(ref: string, options: StatsOptions = {}): Promise<ContainerStats> {
  const c = lookup(stateRoot(options), ref);
  const a = sampleContainer(c);
  await sleep(options.interval ?? 1000);
  const now = existsSync(c.dir) ? st.describeContainer(c) : c;
  return statsBetween(c, a, sampleContainer(now));
}

/** One process of a container (the columns of `ps -ef`). */
export interface ProcessRow {
  uid: string;
  pid: number;
  ppid: number;
  /** CPU utilization (percent, integer). */
  c: number;
  stime: string;
  tty: string;
  time: string;
  cmd: string;
}

/** The host pid of a running detached container; throws `ERR_POCKER_NOT_RUNNING` / `ERR_POCKER_FOREGROUND`. */
function runningOnly(c: ListedContainer, what: string): ListedContainer & { state: st.ContainerState } {
  if (c.status !== 'running') throw notRunningError(`${what}: container ${c.id} is not running`, what);
  if (!c.state) throw foregroundError(`${what}: container ${c.id} runs in the foreground of a pocker run`);
  return c as ListedContainer & { state: st.ContainerState };
}

/** The `ps -ef` rows of a container as strings (UID PID PPID C STIME TTY TIME CMD). */
function topCells(ref: string, options: StateOptions): string[][] {
  const c = runningOnly(lookup(stateRoot(options), ref), 'top');
  return stats.topRows(c.config?.cgroups ?? []);
}

/** The processes of a running detached container (read from its cgroup and /proc). */
export function containerTop(ref: string, options: StateOptions = {}): ProcessRow[] {
  return topCells(ref, options).map((r) => ({
    uid: r[0]!,
    pid: Number(r[1]),
    ppid: Number(r[2]),
    c: Number(r[3]),
    stime: r[4]!,
    tty: r[5]!,
    time: r[6]!,
    cmd: r[7]!,
  }));
}

/**
 * `top` as a table: with no `psArgs` (or `-ef`), the container's `ps -ef` rows; otherwise the
 * host's `ps psArgs…` output restricted to the container's pids. Throws `ERR_POCKER_PS` when ps
 * fails or prints no PID column.
 */
export async function containerTopTable(ref: string, psArgs: string[] = [], options: StateOptions = {}): Promise<{ titles: string[]; rows: string[][] }> {
  if (psArgs.length === 0 || (psArgs.length === 1 && psArgs[0] === '-ef')) return { titles: stats.TOP_TITLES, rows: topCells(ref, options) };
  const c = runningOnly(lookup(stateRoot(options), ref), 'top');
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('ps', psArgs, { encoding: 'utf8' });
  const psError = (message: string) => new PockerError(message, { code: 'ERR_POCKER_PS', step: 'top' });
  if (r.status !== 0) throw psError(`ps: ${(r.stderr || r.error?.message || 'failed').trim()}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  const header = lines[0] ?? '';
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw psError(`Couldn't find PID field in ps output`);
  const pids = new Set(stats.containerPids(c.config?.cgroups ?? []).map(String));
  // Rows are kept as ps printed them (one cell per line): CMD may hold spaces.
  return { titles: [header], rows: lines.slice(1).filter((l) => pids.has(l.trim().split(/\s+/)[pidCol] ?? '')).map((l) => [l]) };
}

// ---------------------------------------------------------------------------------------------
// prune

/** What pruneContainers() removed. */
export interface PruneResult {
  /** The ids of the removed containers. */
  deleted: string[];
  /** The bytes their directories held. */
  reclaimedBytes: number;
}

/**
 * Removes every exited detached container (and those whose creator died), plus the names left by
 * creators killed before they made a container's directory.
 */
export async function pruneContainers(options: StateOptions = {}): Promise<PruneResult> {
  const { deleted, reclaimed } = await pruneExited(stateRoot(options));
  return { deleted, reclaimedBytes: reclaimed };
}

/** Re-reads containers given by ref (or, without refs, the running ones / all): for `stats`. */
export function pickContainers(refs: string[], options: StateOptions & { all?: boolean } = {}): ListedContainer[] {
  const root = stateRoot(options);
  if (refs.length) return refs.map((ref) => lookup(root, ref));
  return st.listContainers(root).filter((c) => options.all || c.status === 'running');
}
