// One cgroup interface over v1 and v2. Planning is pure (paths only); creation goes through an
// injected CgroupOps: the native addon's cgroupApply (cpp/common/cgroup.cpp, the one translation of
// OCI linux.resources into control files, shared with pocker-init) and cgroupRemove, or a fake in
// tests. This module is the only TS one that knows cgroup paths (stats and cleanup included).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { PockerError, fromSystemError, invalid } from '../errors.js';
import { V1_JOINED, type CgroupInfo } from './detect.js';
import { normalizeResources, toOciResources, type LinuxResources, type Resources } from './resources.js';

export { detectCgroups, parseMountinfo, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC } from './detect.js';
export type { CgroupInfo, MountEntry } from './detect.js';
export { normalizeResources, toOciResources } from './resources.js';
export type { Resources, NormalizedResources, LinuxResources } from './resources.js';
export { cgroupJoinTargets, cgroupParentsOfProcess, cgroupProcs, findContainerCgroupDirs, readCgroupUsage, type CgroupUsage } from './usage.js';

/** What cgroupApply made (cpp/common/cgroup.h CgroupPaths). */
export interface CgroupApplied {
  version: 1 | 2;
  /** The container's leaves: one per joined v1 hierarchy, or the v2 leaf. */
  dirs: string[];
  /** v1: <leaf>/tasks files the container's first process writes 0 into. */
  v1Tasks: string[];
  /** The cgroup2 leaf the container is born in (CLONE_INTO_CGROUP): v2's, or a v1 hybrid's. */
  v2Leaf?: string;
  /** v1 memory.oom_control, v2 memory.events. */
  oomFile?: string;
}

/**
 * A stand-in for the kernel's files (tests): every operation cgroupApply performs goes through it.
 * Errors thrown carry Node's negative `errno`; read returns undefined for a missing file.
 */
export interface CgroupFsDouble {
  mkdir(path: string): void;
  write(path: string, value: string): void;
  read(path: string): string | undefined;
  exists(path: string): boolean;
  remove(path: string): void;
}

export interface CgroupApplyOptions {
  /** The layout to use (default: detected by the addon from /proc/self/mountinfo and statfs). */
  layout?: CgroupInfo;
  fs?: CgroupFsDouble;
  /** The cgroups exist (a running container's): write the resources given, create nothing. */
  update?: boolean;
  /**
   * v2: how many leading segments of the path are a subtree delegated to the caller (a rootless
   * user's): controllers are checked against its cgroup.controllers and enabled from it down only.
   */
  delegated?: number;
}

/** The kernel side, implemented by the native addon (see NativeAddon in lib/native.ts). */
export interface CgroupOps {
  /**
   * Creates the cgroups of `cgroupsPath` (under each hierarchy's root) with these OCI resources
   * (an object or its JSON); throws a SystemError-shaped error (step `cgroup`) after removing
   * whatever it created.
   */
  cgroupApply(cgroupsPath: string, resources: LinuxResources | string, options?: CgroupApplyOptions): CgroupApplied;
  cgroupRemove(path: string): void;
}

export interface CgroupPlan {
  version: 1 | 2;
  /** The container's cgroup dir(s): one on v2, one per joined hierarchy on v1. */
  leafDirs: string[];
  /**
   * The cgroup2 leaf the container is born in (CLONE_INTO_CGROUP): v2's, or a v1 hybrid's (the
   * last of leafDirs). cgroup2 has no per-thread `tasks`: a write to its cgroup.procs takes the
   * kernel's global threadgroup lock even for a process moving itself, and that lock's RCU grace
   * period cost ~11 ms of every hybrid run's wall time.
   */
  v2Leaf?: string;
  /**
   * v1: the `tasks` files the container's first process writes 0 into, joining each hierarchy
   * itself (moving the current thread skips the kernel's global threadgroup lock and its RCU
   * grace period, 5-13 ms when another process writes the pid into cgroup.procs).
   */
  v1Tasks: string[];
  /** v1 <memory leaf>/memory.oom_control, v2 <leaf>/memory.events; both have an "oom_kill N" line. */
  oomFile?: { version: 1 | 2; path: string };
  /**
   * v1: what the container sees at /sys/fs/cgroup: per joined hierarchy, its mount point's name
   * (`cpu,cpuacct`, `memory`...) and the container's own leaf there, bound read-only by pocker-init.
   */
  views?: { name: string; source: string }[];
  statsFiles: {
    /** v1 cpuacct.usage (ns) | v2 cpu.stat (usage_usec line). */
    cpuUsage?: string;
    memoryCurrent?: string;
    pidsCurrent?: string;
  };
}


// `@`: systemd's user@UID.service, the delegated subtree of a rootless caller.
const NAME = /^[A-Za-z0-9_.@-]+$/;

/** "pocker/test-1" -> ["pocker", "test-1"]; leading/trailing slashes are tolerated. */
function parentSegments(parent: string): string[] {
  const segs = parent.replace(/^\/+|\/+$/g, '').split('/');
  for (const s of segs) {
    if (!NAME.test(s) || s === '.' || s === '..') throw invalid(`invalid cgroup parent: ${JSON.stringify(parent)}`);
  }
  return segs;
}

function checkId(id: string): void {
  if (!NAME.test(id) || id === '.' || id === '..') throw invalid(`invalid cgroup name: ${JSON.stringify(id)}`);
}

interface Hierarchy {
  mount: string;
  controllers: string[];
}

function v1Hierarchies(info: CgroupInfo): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const c of V1_JOINED) {
    const mount = info.v1Mounts?.[c];
    if (!mount) continue;
    let h = out.find((x) => x.mount === mount);
    if (!h) out.push((h = { mount, controllers: [] }));
    h.controllers.push(c);
  }
  return out;
}

function unifiedMount(info: CgroupInfo): string {
  if (!info.unifiedMount) throw invalid('cgroup v2 layout without a cgroup2 mount');
  return info.unifiedMount;
}

/**
 * `mount`/`rel`, where `rel` is made of checked names (parentSegments, checkId: no "", "." or "..",
 * no "/") and `mount` is an absolute mount point: plain concatenation is exact there. path.join
 * normalizes every argument (~4 us a call with a spread here, and a plan makes some thirty): the
 * cold plan cost ~0.5 ms of every `pocker run`, twice (run plans, createCgroups checks the plan).
 */
function under(mount: string, rel: string): string {
  return `${mount.endsWith('/') ? mount.slice(0, -1) : mount}/${rel}`;
}

/** The container's cgroup paths. Pure: nothing is read or created. Validates names and resources. */
export function planCgroups(info: CgroupInfo, parent: string, id: string, res: Resources): CgroupPlan {
  const segs = parentSegments(parent);
  checkId(id);
  normalizeResources(res);
  const rel = `${segs.join('/')}/${id}`;
  if (info.version === 2) {
    const leaf = under(unifiedMount(info), rel);
    return {
      version: 2,
      leafDirs: [leaf],
      v2Leaf: leaf,
      v1Tasks: [],
      oomFile: { version: 2, path: `${leaf}/memory.events` },
      statsFiles: {
        cpuUsage: `${leaf}/cpu.stat`,
        memoryCurrent: `${leaf}/memory.current`,
        pidsCurrent: `${leaf}/pids.current`,
      },
    };
  }
  const hierarchies = v1Hierarchies(info);
  if (hierarchies.length === 0) throw invalid('cgroup v1 layout without any of the cpu, cpuacct, cpuset, memory, pids hierarchies');
  const leafOf = (c: string): string | undefined => {
    const mount = info.v1Mounts?.[c];
    return mount ? under(mount, rel) : undefined;
  };
  // The joined hierarchies (with limits) first, then the others and a hybrid's cgroup2 (no limit).
  const otherMounts = [...(info.v1Others ?? []), ...(info.hybridUnified !== undefined ? [info.hybridUnified] : [])];
  const mounts = [...hierarchies.map((h) => h.mount), ...otherMounts];
  const leafDirs = mounts.map((m) => under(m, rel));
  const cpuacct = leafOf('cpuacct');
  const memory = leafOf('memory');
  const pids = leafOf('pids');
  const hybridLeaf = info.hybridUnified !== undefined ? leafDirs.at(-1) : undefined;
  return {
    version: 1,
    leafDirs,
    ...(hybridLeaf !== undefined ? { v2Leaf: hybridLeaf } : {}),
    v1Tasks: (hybridLeaf !== undefined ? leafDirs.slice(0, -1) : leafDirs).map((d) => `${d}/tasks`),
    views: mounts.map((m, i) => ({ name: basename(m), source: leafDirs[i]! })),
    ...(memory ? { oomFile: { version: 1 as const, path: `${memory}/memory.oom_control` } } : {}),
    statsFiles: {
      ...(cpuacct ? { cpuUsage: `${cpuacct}/cpuacct.usage` } : {}),
      ...(memory ? { memoryCurrent: `${memory}/memory.usage_in_bytes` } : {}),
      ...(pids ? { pidsCurrent: `${pids}/pids.current` } : {}),
    },
  };
}

/**
 * The addon's error as a PockerError of step `cgroup` (EOPNOTSUPP: a controller that is not there;
 * under a delegated subtree, one its owner was not given).
 */
function cgroupError(err: unknown, delegated?: string): PockerError {
  if (err instanceof PockerError) return err;
  const e = err as { code?: string; syscall?: string; path?: string };
  if (e.code === 'EOPNOTSUPP' && delegated !== undefined) {
    return new PockerError(
      `the ${e.syscall ?? ''} cgroup controller is not delegated to this user: ${e.path ?? delegated}/cgroup.controllers does not list it (root enables it in each parent's cgroup.subtree_control; systemd: Delegate=yes on user@.service); cannot apply the requested limit`,
      { code: 'ERR_POCKER_UNSUPPORTED', step: 'cgroup', ...(e.path ? { path: e.path } : {}), cause: err },
    );
  }
  if (e.code === 'EOPNOTSUPP') {
    return new PockerError(`the ${e.syscall ?? ''} cgroup controller is not available on this host; cannot apply the requested limit`, {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'cgroup',
      ...(e.path ? { path: e.path } : {}),
      cause: err,
    });
  }
  if (e.code === 'EEXIST' && e.syscall === 'mkdir') return fromSystemError(err, 'cgroup', `cgroup ${e.path ?? ''} already exists`);
  const what = e.syscall === 'mkdir' ? `cannot create cgroup ${e.path ?? ''}` : e.syscall === 'write' ? `cannot write ${e.path ?? ''}` : 'cgroup setup failed';
  return fromSystemError(err, 'cgroup', what);
}

/**
 * How many leading segments of `segs` the delegated subtree `delegated` (relative to the mount) is;
 * undefined without one. It must be a proper prefix of the parent (v2 only).
 */
function delegatedDepth(info: CgroupInfo, segs: string[], delegated: string | undefined): number | undefined {
  if (delegated === undefined) return undefined;
  const d = parentSegments(delegated);
  if (info.version !== 2 || d.length > segs.length || d.some((s, i) => segs[i] !== s)) {
    throw invalid(`cgroup parent ${JSON.stringify(segs.join('/'))} is not inside the delegated subtree ${JSON.stringify(delegated)}`);
  }
  return d.length;
}

/**
 * Creates the parent (each missing level) and the container's leaves and writes the limits: the
 * resources become OCI linux.resources (toOciResources) and the addon's cgroupApply does the rest
 * (every check before anything is created; on failure the leaves created so far are removed and a
 * PockerError of step 'cgroup' is thrown). Parent levels stay even when this call made them: they
 * are shared, and removing one could race with another container being created in it.
 * `delegated` (a rootless caller's subtree, relative to the mount, a prefix of `parent`): nothing
 * above it is written, and controllers are those it was given.
 */
export function createCgroups(plan: CgroupPlan, res: Resources, ops: CgroupOps, info: CgroupInfo, parent: string, delegated?: string): void {
  const r = normalizeResources(res);
  const segs = parentSegments(parent);
  const depth = delegatedDepth(info, segs, delegated);
  if (plan.version !== info.version) throw invalid('cgroup plan does not match the detected cgroup layout');
  const id = basename(plan.leafDirs[0] ?? '');
  checkId(id);
  const expected = planCgroups(info, parent, id, r).leafDirs;
  if (expected.join('\n') !== plan.leafDirs.join('\n')) throw invalid('cgroup plan does not match its parent');
  let applied: CgroupApplied;
  try {
    applied = ops.cgroupApply([...segs, id].join('/'), toOciResources(r), { layout: info, ...(depth !== undefined ? { delegated: depth } : {}) });
  } catch (err) {
    throw cgroupError(err, delegated);
  }
  if (applied.dirs.join('\n') !== plan.leafDirs.join('\n')) {
    // The two sides disagree on the paths: never leave what the addon made behind.
    for (const dir of applied.dirs) {
      try {
        ops.cgroupRemove(dir);
      } catch {
        // best effort
      }
    }
    throw new PockerError(`cgroup paths disagree: planned ${plan.leafDirs.join(', ')}, created ${applied.dirs.join(', ')}`, { code: 'ERR_POCKER', step: 'cgroup' });
  }
}

/**
 * Writes new limits into the existing cgroups of container `id` under `parent` (`pocker update`):
 * only the resources given, through the same translation as createCgroups (the addon's cgroupApply,
 * in update mode).
 */
export function updateCgroups(info: CgroupInfo, parent: string, id: string, res: Resources, ops: CgroupOps, delegated?: string): void {
  const r = normalizeResources(res);
  const segs = parentSegments(parent);
  checkId(id);
  const depth = delegatedDepth(info, segs, delegated);
  try {
    ops.cgroupApply([...segs, id].join('/'), toOciResources(r), { layout: info, update: true, ...(depth !== undefined ? { delegated: depth } : {}) });
  } catch (err) {
    throw cgroupError(err, delegated);
  }
}

/** Removes the container's leaves (killing what is left in them); the shared parent stays. */
export function removeCgroups(plan: CgroupPlan, ops: CgroupOps): void {
  let first: unknown;
  for (const dir of plan.leafDirs) {
    try {
      ops.cgroupRemove(dir);
    } catch (err) {
      first ??= fromSystemError(err, 'cgroup', `cannot remove cgroup ${dir}`);
    }
  }
  if (first !== undefined) throw first;
}

/** "key value" lines (cpu.stat, memory.events, memory.oom_control) -> value of key, or undefined. */
function keyedValue(text: string, key: string): number | undefined {
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v);
  }
  return undefined;
}

function readStat(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fromSystemError(err, 'cgroup', `cannot read ${path}`);
  }
}

/** CPU time used by the container, in nanoseconds (0 when no cpuacct hierarchy is mounted). */
export function readCpuUsageNs(plan: CgroupPlan): number {
  const file = plan.statsFiles.cpuUsage;
  if (!file) return 0;
  const text = readStat(file);
  if (plan.version === 1) return Number(text.trim());
  return (keyedValue(text, 'usage_usec') ?? 0) * 1000;
}

/** Memory in use, in bytes (0 without a memory hierarchy). */
export function readMemoryCurrent(plan: CgroupPlan): number {
  const file = plan.statsFiles.memoryCurrent;
  return file ? Number(readStat(file).trim()) : 0;
}

/** Number of tasks in the container (0 without a pids hierarchy). */
export function readPidsCurrent(plan: CgroupPlan): number {
  const file = plan.statsFiles.pidsCurrent;
  return file ? Number(readStat(file).trim()) : 0;
}

/** How many processes the OOM killer killed in the container (0 if the kernel does not say). */
export function readOomKills(plan: CgroupPlan): number {
  if (!plan.oomFile) return 0;
  return keyedValue(readStat(plan.oomFile.path), 'oom_kill') ?? 0;
}
