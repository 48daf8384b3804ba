// A container's cgroups seen from outside, by their dirs (config.json `cgroups`): what it uses
// (stats), its processes (top), how a process joins it (exec), and finding the dirs of a container
// whose record was lost (rm, prune). The file names of v1 and v2 live here, not in lib/state.
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { parseMountinfo } from './detect.js';

/** The counters of a container's cgroups. */
export interface CgroupUsage {
  /** Cumulative CPU time in nanoseconds (null: no cpu accounting). */
  cpuNs: number | null;
  /** Memory in use, page cache's inactive files left out (as Docker does). */
  memUsage: number;
  /** The memory limit, or the host's memory when it is unlimited (or larger). */
  memLimit: number;
  pids: number;
  blkRead: number;
  blkWrite: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The first of `dirs` holding `file`, or null. */
function leafWith(dirs: string[], file: string): string | null {
  for (const d of dirs) if (existsSync(join(d, file))) return join(d, file);
  return null;
}

/** "key value" lines (memory.stat, cpu.stat) -> a map. */
function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

function num(text: string | null): number {
  const n = Number((text ?? '').trim());
  return Number.isFinite(n) ? n : 0;
}

function blockIO(dirs: string[]): { read: number; write: number } {
  let r = 0;
  let w = 0;
  const v2 = leafWith(dirs, 'io.stat');
  if (v2) {
    for (const line of (read(v2) ?? '').split('\n')) {
      r += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
      w += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
    }
    return { read: r, write: w };
  }
  const v1 = leafWith(dirs, 'blkio.throttle.io_service_bytes');
  for (const line of (v1 ? read(v1) ?? '' : '').split('\n')) {
    const [, op, n] = line.trim().split(/\s+/);
    if (op === 'Read') r += Number(n ?? 0);
    if (op === 'Write') w += Number(n ?? 0);
  }
  return { read: r, write: w };
}

/** Reads the counters of a container's cgroup dirs (v1 or v2) now; what is missing counts 0. */
export function readCgroupUsage(dirs: string[]): CgroupUsage {
  let cpuNs: number | null = null;
  const v1cpu = leafWith(dirs, 'cpuacct.usage');
  if (v1cpu) cpuNs = num(read(v1cpu));
  else {
    const v2cpu = leafWith(dirs, 'cpu.stat');
    const usec = v2cpu ? keyValues(read(v2cpu) ?? '').get('usage_usec') : undefined;
    if (usec !== undefined) cpuNs = usec * 1000;
  }
  const host = totalmem();
  let memUsage = 0;
  let memLimit = host;
  const v1mem = leafWith(dirs, 'memory.usage_in_bytes');
  const v2mem = v1mem ? null : leafWith(dirs, 'memory.current');
  if (v1mem) {
    const stat = keyValues(read(join(v1mem, '..', 'memory.stat')) ?? '');
    const usage = num(read(v1mem));
    const inactive = stat.get('total_inactive_file') ?? 0;
    memUsage = inactive < usage ? usage - inactive : usage;
    const limit = num(read(join(v1mem, '..', 'memory.limit_in_bytes')));
    memLimit = limit > 0 && limit < host ? limit : host;
  } else if (v2mem) {
    const stat = keyValues(read(join(v2mem, '..', 'memory.stat')) ?? '');
    const usage = num(read(v2mem));
    const inactive = stat.get('inactive_file') ?? 0;
    memUsage = inactive < usage ? usage - inactive : usage;
    const max = (read(join(v2mem, '..', 'memory.max')) ?? 'max').trim();
    const limit = max === 'max' ? host : Number(max);
    memLimit = limit > 0 && limit < host ? limit : host;
  }
  const pidsFile = leafWith(dirs, 'pids.current');
  const pids = pidsFile ? num(read(pidsFile)) : 0;
  const blk = blockIO(dirs);
  return { cpuNs, memUsage, memLimit, pids, blkRead: blk.read, blkWrite: blk.write };
}

/** The host pids in the container's cgroup (cgroup.procs of its first dir), sorted. */
export function cgroupProcs(dirs: string[]): number[] {
  const first = dirs[0];
  if (!first) return [];
  return (read(join(first, 'cgroup.procs')) ?? '')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
}

/**
 * How a new process (exec) joins a container's cgroup dirs: the v2 leaf through CLONE_INTO_CGROUP,
 * or the v1 `tasks` files it writes 0 into itself. A v1 hybrid's cgroup2 leaf (no `tasks`, a
 * cgroup.procs) is born into too, as the container was (see CgroupPlan.v2Leaf).
 */
export function cgroupJoinTargets(dirs: string[], version: 1 | 2): { v2Leaf?: string; v1Tasks: string[] } {
  if (version === 2) return dirs[0] ? { v2Leaf: dirs[0], v1Tasks: [] } : { v1Tasks: [] };
  const cgroup2 = (d: string) => !existsSync(join(d, 'tasks')) && existsSync(join(d, 'cgroup.procs'));
  const hybridLeaf = dirs.find(cgroup2);
  return { ...(hybridLeaf !== undefined ? { v2Leaf: hybridLeaf } : {}), v1Tasks: dirs.filter((d) => d !== hybridLeaf).map((d) => join(d, 'tasks')) };
}

/** Mount points of every cgroup hierarchy (v1 controllers, named v1 hierarchies, cgroup2). */
function cgroupMountPoints(mountinfo?: string): string[] {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return []; // no /proc
    }
  }
  return parseMountinfo(text)
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
}

/**
 * The cgroup parents (paths relative to a hierarchy's root, e.g. `pocker` or `a/b`) of the cgroups
 * named `id` that process `pid` is in (/proc/<pid>/cgroup): where a container whose record is gone
 * has its cgroups, learned from one of its processes.
 */
export function cgroupParentsOfProcess(pid: number, id: string): string[] {
  const out = new Set<string>();
  for (const line of (read(`/proc/${pid}/cgroup`) ?? '').split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (path.endsWith(`/${id}`)) {
      const parent = path.slice(1, -id.length - 1);
      if (parent) out.add(parent);
    }
  }
  return [...out];
}

/**
 * The cgroup dirs a container may have when its record does not say (config.json lost): a leaf
 * named after `id` under the default parent (`pocker`) and under the parents of `knownDirs` (the
 * recorded cgroup dirs of the root's other containers), in every mounted hierarchy; only those
 * that exist.
 */
export function findContainerCgroupDirs(id: string, knownDirs: string[], mountinfo?: string, moreParents: string[] = []): string[] {
  const mounts = cgroupMountPoints(mountinfo);
  const parents = new Set<string>(['pocker', ...moreParents]);
  for (const dir of knownDirs) {
    const mount = mounts.find((m) => dir.startsWith(`${m}/`));
    if (mount) parents.add(dir.slice(mount.length + 1, dir.lastIndexOf('/')));
  }
  const out: string[] = [];
  for (const mount of mounts) for (const parent of parents) if (parent) out.push(join(mount, parent, id));
  return out.filter((d) => existsSync(d));
}
