// Queries over the containers of a state root, with typed results: list, inspect, logs (in
// logs.ts), stats, top. Everything is read through the container store (lib/container); the lifecycle operations
// (stop, kill, restart, wait, rm, rename, prune) are in lib/runtime/lifecycle.ts, beside run/start.
// The CLI (lib/cli/containers.ts, lifecycle.ts, logs.ts, ps.ts) parses its flags and formats what
// these return.
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { containerStatusText } from '../cli/format.js';
import {
  describeContainerAsync,
  listContainerRecords,
  listContainerRecordsAsync,
  lookupContainer,
  lookupContainerAsync,
  stateRoot,
  type ContainerState,
  type ListedContainer,
  type RootOptions,
} from '../container/index.js';
import { mapLimit, readFileAsync } from '../fsutil.js';
import { PockerError, foregroundError, invalid, notRunningError, type SetupStep } from '../errors.js';
import { filterContainers, normalizeFilters, type ContainerFilters } from './filters.js';
import type { ContainerInfo, ContainerStatusName } from './info.js';
import * as stats from './stats.js';
import type { ContainerStats, StatsSample } from './stats.js';
import type { SeccompChoice } from '../spec/seccomp.js';
import type { EndpointSettings } from '../network/attach.js';
import type { DockerPortMap } from '../network/ports.js';

export { containerLogs, followLogs, streamLogs, type LogEntry, type LogsOptions } from './logs.js';
export type { ContainerFilters, ContainerStatusFilter } from './filters.js';
export type { ContainerInfo, ContainerStatusName } from './info.js';
export type { ContainerStats } from './stats.js';
export type { TimeValue } from './timestamps.js';
export { stateRoot };

/** Options every operation takes (the store's root). */
export type StateOptions = RootOptions;


// ---------------------------------------------------------------------------------------------
// list / inspect

function imageText(c: ListedContainer): string {
  const image = c.config?.image;
  if (!image) return '';
  if ('host' in image) return 'host';
  if ('rootfs' in image) return image.rootfs;
  return image.name || image.id;
}

function statusOf(c: ListedContainer): ContainerStatusName {
  if (c.damaged) return 'dead';
  if (c.status === 'running' && c.paused) return 'paused';
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
    state: statusOf(c),
    status: containerStatusText(c, now),
    pid: c.status === 'running' ? (s?.pid ?? 0) : 0,
    exitCode: c.status === 'running' || c.damaged ? null : c.deadOwner ? 137 : (s?.exitCode ?? 0),
    oomKilled: s?.oomKilled ?? false,
    restartCount: s?.restartCount ?? 0,
    foreground: c.status === 'running' && !s,
    startedAt: s?.startedAt ?? '',
    finishedAt: (c.status === 'exited' && s?.finishedAt) || '',
    logPath: s ? c.logPath : '',
    labels: { ...(c.config?.labels ?? {}) },
  };
}

/** Finds a container (id, unique id prefix or name) and reads its state, without blocking the event loop on its records. */
function lookup(root: string, ref: string): Promise<ListedContainer> {
  return lookupContainerAsync(root, ref);
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
  /**
   * Called for each container whose records this pocker cannot read (written by a newer pocker:
   * PockerError ERR_POCKER_UNSUPPORTED); such containers are left out of the list.
   */
  onUnreadable?: (id: string, err: PockerError) => void;
}

/** A layer directory's size as the image store recorded it (`<layer>.json`), else its files' sizes. */
async function layerSize(dir: string): Promise<number> {
  try {
    const size = (JSON.parse(await readFileAsync(`${dir}.json`, 'utf8')) as { size?: unknown }).size;
    if (typeof size === 'number') return size;
  } catch {
    /* no record: count the files */
  }
  return stats.treeSize(dir);
}

/** Docker's SizeRw and SizeRootFs of a container. */
async function sizesOf(c: ListedContainer): Promise<{ sizeRw: number; sizeRootFs: number }> {
  const sizeRw = await stats.treeSize(join(c.dir, 'upper'));
  const image = c.config?.image;
  let base = 0;
  if (image && 'layers' in image) for (const dir of image.layers) base += await layerSize(dir);
  // A rootfs that contains the state root (its writable layer is then a `scratch` tmpfs) is not walked.
  else if (image && 'rootfs' in image && !existsSync(join(c.dir, 'scratch'))) base = await stats.treeSize(image.rootfs);
  return { sizeRw, sizeRootFs: base > 0 ? sizeRw + base : 0 };
}

/**
 * The containers under the state root, newest first: the running ones (restarting included), or
 * all with `all`; with `filters`, `last` and `size` as `ps` has them.
 */
export async function listContainers(options: ListOptions = {}): Promise<ContainerInfo[]> {
  const filters = normalizeFilters(options.filters);
  if (options.last !== undefined && !Number.isInteger(options.last)) throw invalid(`invalid last ${String(options.last)}: a whole number`);
  const now = Date.now();
  const listed = await listContainerRecordsAsync(stateRoot(options), options.onUnreadable ? { onUnreadable: options.onUnreadable } : {});
  const byId = new Map(listed.map((c) => [c.id, c]));
  const shown = filterContainers(
    listed.map((c) => infoOf(c, now)),
    filters,
    { ...(options.all ? { all: true } : {}), ...(options.last !== undefined ? { last: options.last } : {}) },
  );
  if (!options.size) return shown;
  return mapLimit(shown, 4, async (info) => ({ ...info, ...(await sizesOf(byId.get(info.id)!)) }));
}

/** One container, as `pocker inspect` prints it (Docker's field names). */
export interface ContainerDetails {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead';
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
    /** `run --label` (issue 12). */
    Labels: Record<string, string>;
    /** `run --stop-timeout` (issue 12). */
    StopTimeout?: number;
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
    /** Docker's: the --security-opt values that differ from the defaults (a profile file as its JSON), or null. */
    SecurityOpt: string[] | null;
    CgroupParent: string;
    // Issue 12 (i12-flags): the run flags, with Docker's names.
    MemoryReservation: number;
    OomKillDisable: boolean;
    ShmSize: number;
    Ulimits: Array<{ Name: string; Soft: number; Hard: number }>;
    Devices: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
    GroupAdd: string[] | null;
    Sysctls: Record<string, string>;
    PidMode: string;
    IpcMode: string;
    UTSMode: string;
    /** Docker's: `""` (the host's user namespace) or the mode (`auto`; `private` for explicit maps). */
    UsernsMode: string;
    /** podman's: the user namespace's maps as CONTAINER:HOST:SIZE (empty lists: the host's). */
    IDMappings: { UidMap: string[]; GidMap: string[] };
    Binds: string[];
    Tmpfs: Record<string, string>;
    LogConfig: { Type: 'json-file'; Config: Record<string, string> };
  };
  /**
   * A container in a user namespace of its own (issue 13): how its image's layers reach it, `idmapped`
   * (shared, mounted idmapped) or `copied` (its own chowned copy: the layers' filesystem cannot be
   * mounted idmapped); `pending` before its first start.
   */
  GraphDriver?: { Name: 'overlay'; Data: { UsernsLayers: 'idmapped' | 'copied' | 'pending' } };
  Mounts: Array<{ Type: 'bind' | 'tmpfs' | 'volume'; Name?: string; Driver?: string; Source: string; Destination: string; RW: boolean }>;
  /** Docker's NetworkSettings: the first network's address at the top level (as Docker's default bridge). */
  NetworkSettings: {
    Networks: Record<string, EndpointSettings>;
    IPAddress: string;
    IPPrefixLen: number;
    Gateway: string;
    GlobalIPv6Address: string;
    IPv6Gateway: string;
    MacAddress: string;
    Ports: DockerPortMap;
  };
}

/** How a user-namespaced container's layers reach it: pocker-init leaves idmap-lowers/ in its directory when it had to copy them. */
function usernsLayers(c: ListedContainer): 'idmapped' | 'copied' | 'pending' {
  if (existsSync(join(c.dir, 'idmap-lowers', '.complete'))) return 'copied';
  return c.status === 'created' ? 'pending' : 'idmapped';
}

/** NetworkSettings from containers/<id>/network.json (written while the container's network is up). */
async function networkSettings(root: string, id: string): Promise<ContainerDetails['NetworkSettings']> {
  let doc: { Networks?: Record<string, EndpointSettings>; Ports?: DockerPortMap } = {};
  try {
    doc = JSON.parse(await readFileAsync(join(root, 'containers', id, 'network.json'), 'utf8')) as typeof doc;
  } catch {
    /* none: no network of its own, or not started */
  }
  const networks = doc.Networks ?? {};
  const first = Object.values(networks)[0];
  return {
    Networks: networks,
    IPAddress: first?.IPAddress ?? '',
    IPPrefixLen: first?.IPPrefixLen ?? 0,
    Gateway: first?.Gateway ?? '',
    GlobalIPv6Address: first?.GlobalIPv6Address ?? '',
    IPv6Gateway: first?.IPv6Gateway ?? '',
    MacAddress: first?.MacAddress ?? '',
    Ports: doc.Ports ?? {},
  };
}

const RESTART_NAMES = ['no', 'on-failure', 'always', 'unless-stopped'] as const;

/** HostConfig.SecurityOpt as Docker shows it: seccomp=unconfined, seccomp=<the profile's JSON>, no-new-privileges. */
function securityOpt(r: { noNewPrivs: boolean; seccomp?: SeccompChoice } | undefined): string[] | null {
  if (!r) return null;
  const out: string[] = [];
  if (r.seccomp?.kind === 'unconfined') out.push('seccomp=unconfined');
  if (r.seccomp?.kind === 'custom') out.push(`seccomp=${JSON.stringify(r.seccomp.profile)}`);
  if (r.noNewPrivs) out.push('no-new-privileges');
  return out.length ? out : null;
}

/**
 * Docker's inspect document of container `ref` (id, id prefix or name). Throws a PockerError
 * `ERR_POCKER_NOT_FOUND` / `ERR_POCKER_AMBIGUOUS` (step `lookup`).
 */
export async function inspectContainer(ref: string, options: StateOptions = {}): Promise<ContainerDetails> {
  const ZERO = '0001-01-01T00:00:00Z';
  const c = await lookup(stateRoot(options), ref);
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
      Status: c.damaged ? 'dead' : c.state?.restarting ? 'restarting' : c.paused ? 'paused' : c.status,
      Running: c.status === 'running',
      Paused: !!c.paused,
      Restarting: !!c.state?.restarting,
      OOMKilled: s?.oomKilled ?? false,
      Dead: !!c.damaged,
      Pid: c.status === 'running' ? (s?.pid ?? 0) : 0,
      ExitCode: c.status === 'running' ? 0 : (s?.exitCode ?? 0),
      Error: c.damaged ? `the container's record is damaged: ${c.damaged}; pocker rm -f removes the container` : c.deadMonitor ? 'the container monitor died' : '',
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
      // Issue 12 (i12-flags):
      Labels: { ...(c.config?.labels ?? {}) },
      ...(c.config?.stopTimeout !== undefined ? { StopTimeout: c.config.stopTimeout } : {}),
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
      SecurityOpt: securityOpt(r),
      CgroupParent: r?.cgroupParent ?? '',
      // Issue 12 (i12-flags): Docker's HostConfig names.
      MemoryReservation: res.memoryReservation ?? 0,
      OomKillDisable: res.oomKillDisable ?? false,
      ShmSize: r?.shmSize ?? (r?.ipcMode === 'host' || r?.ipcMode === 'none' ? 0 : 67108864),
      Ulimits: (r?.rlimits ?? []).map((u) => ({ Name: u.type.slice('RLIMIT_'.length).toLowerCase(), Soft: u.soft, Hard: u.hard })),
      Devices: (r?.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.cgroupPermissions })),
      GroupAdd: r?.groupAdd ?? null,
      Sysctls: r?.sysctls ?? {},
      PidMode: r?.pidMode ?? '',
      IpcMode: r?.ipcMode ?? c.config?.ipcMode ?? 'private',
      UTSMode: r?.utsMode ?? '',
      UsernsMode: c.config?.userns ? (c.config.userns.mode === 'auto' ? 'auto' : 'private') : '',
      IDMappings: {
        UidMap: (c.config?.userns?.uidMappings ?? []).map((m) => `${m.containerID}:${m.hostID}:${m.size}`),
        GidMap: (c.config?.userns?.gidMappings ?? []).map((m) => `${m.containerID}:${m.hostID}:${m.size}`),
      },
      Binds: mounts.filter((m) => m.kind === 'bind' || (m.kind === 'volume' && !m.volume?.anonymous)).map((m) => `${m.kind === 'volume' ? m.volume!.name : m.src}:${m.dst}${m.readonly ? ':ro' : ''}`),
      Tmpfs: Object.fromEntries(mounts.filter((m) => m.kind === 'tmpfs').map((m) => [m.dst, [m.readonly ? 'ro' : '', m.data].filter(Boolean).join(',')])),
      LogConfig: {
        Type: 'json-file',
        Config: {
          ...(r && r.log.maxSize ? { 'max-size': String(r.log.maxSize) } : {}),
          ...(r && r.log.maxFiles > 1 ? { 'max-file': String(r.log.maxFiles) } : {}),
        },
      },
    },
    ...(c.config?.userns ? { GraphDriver: { Name: 'overlay' as const, Data: { UsernsLayers: usernsLayers(c) } } } : {}),
    Mounts: mounts.map((m) => ({
      Type: m.kind === 'image-volume' ? ('volume' as const) : m.kind,
      ...(m.volume ? { Name: m.volume.name, Driver: 'local' } : {}),
      Source: m.src,
      Destination: m.dst,
      RW: !m.readonly,
    })),
    NetworkSettings: await networkSettings(stateRoot(options), c.id),
  };
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
  const c = await lookup(stateRoot(options), ref);
  const a = sampleContainer(c);
  await sleep(options.interval ?? 1000);
  const now = existsSync(c.dir) ? await describeContainerAsync(c) : c;
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
function runningOnly(c: ListedContainer, what: SetupStep): ListedContainer & { state: ContainerState } {
  if (c.status !== 'running') throw notRunningError(`${what}: container ${c.id} is not running`, what);
  if (!c.state) throw foregroundError(`${what}: container ${c.id} runs in the foreground of a pocker run`);
  return c as ListedContainer & { state: ContainerState };
}

/** The `ps -ef` rows of a container as strings (UID PID PPID C STIME TTY TIME CMD). */
async function topCells(ref: string, options: StateOptions): Promise<string[][]> {
  const c = runningOnly(await lookup(stateRoot(options), ref), 'top');
  return stats.topRows(c.config?.cgroups ?? []);
}

/** The processes of a running detached container (read from its cgroup and /proc). */
export async function containerTop(ref: string, options: StateOptions = {}): Promise<ProcessRow[]> {
  return (await topCells(ref, options)).map((r) => ({
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
  if (psArgs.length === 0 || (psArgs.length === 1 && psArgs[0] === '-ef')) return { titles: stats.TOP_TITLES, rows: await topCells(ref, options) };
  const c = runningOnly(await lookup(stateRoot(options), ref), 'top');
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

/** Re-reads containers given by ref (or, without refs, the running ones / all): for `stats`. */
export function pickContainers(refs: string[], options: StateOptions & { all?: boolean } = {}): ListedContainer[] {
  const root = stateRoot(options);
  if (refs.length) return refs.map((ref) => lookupContainer(root, ref));
  return listContainerRecords(root).filter((c) => options.all || c.status === 'running');
}
