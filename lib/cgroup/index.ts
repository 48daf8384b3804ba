// One cgroup interface over v1 and v2. Planning is pure (paths only); creation goes through an
// injected CgroupOps (the native addon's mkdir / open+write / kill-and-rmdir, or a recording fake in
// tests). Reading kernel files (cgroup.controllers, a parent's cpuset.cpus, stats) uses node:fs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { PockerError, fromSystemError, invalid } from '../errors.js';
import type { CgroupInfo } from './detect.js';
import {
  neededControllers,
  normalizeResources,
  v1Writes,
  v2Writes,
  type CgroupWrite,
  type NormalizedResources,
  type Resources,
} from './resources.js';

export { detectCgroups, parseMountinfo, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC } from './detect.js';
export type { CgroupInfo, MountEntry } from './detect.js';
export { normalizeResources, sharesToWeight } from './resources.js';
export type { Resources, NormalizedResources } from './resources.js';

/** The kernel side, implemented by the native addon (see NativeAddon in lib/native.ts). */
export interface CgroupOps {
  cgroupCreate(path: string): void;
  cgroupWrite(path: string, value: string): void;
  cgroupRemove(path: string): void;
}

export interface CgroupPlan {
  version: 1 | 2;
  /** The container's cgroup dir(s): one on v2, one per joined hierarchy on v1. */
  leafDirs: string[];
  /** v2: the leaf, for CLONE_INTO_CGROUP. */
  v2Leaf?: string;
  /**
   * v1: the `tasks` files the container's first process writes 0 into, joining each hierarchy
   * itself (moving the current thread skips the kernel's global threadgroup lock and its RCU
   * grace period, 5-13 ms when another process writes the pid into cgroup.procs).
   */
  v1Tasks: string[];
  /** v1 <memory leaf>/memory.oom_control, v2 <leaf>/memory.events; both have an "oom_kill N" line. */
  oomFile?: { version: 1 | 2; path: string };
  statsFiles: {
    /** v1 cpuacct.usage (ns) | v2 cpu.stat (usage_usec line). */
    cpuUsage?: string;
    memoryCurrent?: string;
    pidsCurrent?: string;
  };
}

/** v1 hierarchies a container joins, in this order; co-mounted controllers are joined once. */
const V1_JOINED = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids'] as const;
/** v2 controllers enabled for the container's subtree (when the kernel offers them). */
const V2_WANTED = ['cpu', 'cpuset', 'memory', 'pids'] as const;

const NAME = /^[A-Za-z0-9_.-]+$/;

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

/** The container's cgroup paths. Pure: nothing is read or created. Validates names and resources. */
export function planCgroups(info: CgroupInfo, parent: string, id: string, res: Resources): CgroupPlan {
  const segs = parentSegments(parent);
  checkId(id);
  normalizeResources(res);
  if (info.version === 2) {
    const leaf = join(unifiedMount(info), ...segs, id);
    return {
      version: 2,
      leafDirs: [leaf],
      v2Leaf: leaf,
      v1Tasks: [],
      oomFile: { version: 2, path: join(leaf, 'memory.events') },
      statsFiles: {
        cpuUsage: join(leaf, 'cpu.stat'),
        memoryCurrent: join(leaf, 'memory.current'),
        pidsCurrent: join(leaf, 'pids.current'),
      },
    };
  }
  const hierarchies = v1Hierarchies(info);
  if (hierarchies.length === 0) throw invalid('cgroup v1 layout without any of the cpu, cpuacct, cpuset, memory, pids hierarchies');
  const leafOf = (c: string): string | undefined => {
    const mount = info.v1Mounts?.[c];
    return mount ? join(mount, ...segs, id) : undefined;
  };
  const leafDirs = hierarchies.map((h) => join(h.mount, ...segs, id));
  const cpuacct = leafOf('cpuacct');
  const memory = leafOf('memory');
  const pids = leafOf('pids');
  return {
    version: 1,
    leafDirs,
    v1Tasks: leafDirs.map((d) => join(d, 'tasks')),
    ...(memory ? { oomFile: { version: 1 as const, path: join(memory, 'memory.oom_control') } } : {}),
    statsFiles: {
      ...(cpuacct ? { cpuUsage: join(cpuacct, 'cpuacct.usage') } : {}),
      ...(memory ? { memoryCurrent: join(memory, 'memory.usage_in_bytes') } : {}),
      ...(pids ? { pidsCurrent: join(pids, 'pids.current') } : {}),
    },
  };
}

/** Contents of a kernel file, trimmed; '' when it does not exist. */
function readTrim(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw fromSystemError(err, 'cgroup', `cannot read ${path}`);
  }
}

/** "cpu +memory io" -> {cpu, memory, io} */
function readTokens(path: string): Set<string> {
  return new Set(readTrim(path).split(/\s+/).filter(Boolean).map((t) => t.replace(/^[+]/, '')));
}

function unsupported(what: string, path: string): PockerError {
  return new PockerError(`the ${what} cgroup controller is not available on this host; cannot apply the requested limit`, {
    code: 'ERR_POCKER_UNSUPPORTED',
    step: 'cgroup',
    path,
  });
}

/** Runs the ops, wrapping their errors and remembering what was created. */
class Creator {
  readonly created: string[] = [];
  constructor(private readonly ops: CgroupOps) {}

  mkdir(path: string, remember: boolean): void {
    try {
      this.ops.cgroupCreate(path);
    } catch (err) {
      throw fromSystemError(err, 'cgroup', `cannot create cgroup ${path}`);
    }
    if (remember) this.created.push(path);
  }

  write(path: string, value: string, optional = false): void {
    try {
      this.ops.cgroupWrite(path, value);
    } catch (err) {
      if (optional && (err as { code?: string }).code === 'ENOENT') return;
      throw fromSystemError(err, 'cgroup', `cannot write ${JSON.stringify(value)} to ${path}`);
    }
  }

  writeAll(dir: string, writes: CgroupWrite[]): void {
    for (const w of writes) this.write(join(dir, w.file), w.value, w.optional);
  }
}

function leafExists(path: string): PockerError {
  return new PockerError(`cgroup ${path} already exists`, {
    code: 'EEXIST',
    errno: constants.errno.EEXIST,
    syscall: 'mkdir',
    step: 'cgroup',
    path,
  });
}

/**
 * Creates the parent (each missing level) and the container's leaves and writes the limits. On any
 * failure the leaves created so far are removed and a PockerError (step 'cgroup') is thrown. Parent
 * levels stay even when this call made them: they are shared, and removing one could race with
 * another container being created in it (and cgroupRemove kills what is inside).
 */
export function createCgroups(plan: CgroupPlan, res: Resources, ops: CgroupOps, info: CgroupInfo, parent: string): void {
  const r = normalizeResources(res);
  const segs = parentSegments(parent);
  if (plan.version !== info.version) throw invalid('cgroup plan does not match the detected cgroup layout');
  const c = new Creator(ops);
  try {
    if (plan.version === 2) createV2(plan, r, c, info, segs);
    else createV1(plan, r, c, info, segs);
  } catch (err) {
    for (const dir of c.created.reverse()) {
      try {
        ops.cgroupRemove(dir);
      } catch {
        // best effort: the original error is the one that matters
      }
    }
    throw err instanceof PockerError ? err : fromSystemError(err, 'cgroup', 'cgroup setup failed');
  }
}

function createV2(plan: CgroupPlan, r: NormalizedResources, c: Creator, info: CgroupInfo, segs: string[]): void {
  const mount = unifiedMount(info);
  const leaf = plan.v2Leaf ?? plan.leafDirs[0];
  if (!leaf || plan.leafDirs.length !== 1 || leaf !== join(mount, ...segs, leaf.slice(leaf.lastIndexOf('/') + 1))) {
    throw invalid('cgroup plan does not match its parent');
  }
  // Everything is checked before anything is created.
  const available = readTokens(join(mount, 'cgroup.controllers'));
  for (const ctrl of neededControllers(r)) if (!available.has(ctrl)) throw unsupported(ctrl, mount);
  if (existsSync(leaf)) throw leafExists(leaf);
  const wanted = V2_WANTED.filter((ctrl) => available.has(ctrl));

  // Enable the controllers from the mount root down to the parent, writing only missing entries.
  const enable = (dir: string, fresh: boolean): void => {
    const enabled = fresh ? new Set<string>() : readTokens(join(dir, 'cgroup.subtree_control'));
    const missing = wanted.filter((ctrl) => !enabled.has(ctrl));
    if (missing.length > 0) c.write(join(dir, 'cgroup.subtree_control'), missing.map((m) => `+${m}`).join(' '));
  };
  let dir = mount;
  enable(dir, false);
  for (const seg of segs) {
    dir = join(dir, seg);
    const fresh = !existsSync(dir);
    if (fresh) c.mkdir(dir, false);
    enable(dir, fresh);
  }
  c.mkdir(leaf, true);
  c.writeAll(leaf, v2Writes(r));
}

function createV1(plan: CgroupPlan, r: NormalizedResources, c: Creator, info: CgroupInfo, segs: string[]): void {
  const hierarchies = v1Hierarchies(info);
  if (plan.leafDirs.length !== hierarchies.length) throw invalid('cgroup plan does not match the detected cgroup layout');
  hierarchies.forEach((h, i) => {
    if (!plan.leafDirs[i]!.startsWith(join(h.mount, ...segs) + '/')) throw invalid('cgroup plan does not match its parent');
  });
  const joined = new Set(hierarchies.flatMap((h) => h.controllers));
  for (const ctrl of neededControllers(r)) {
    if (!joined.has(ctrl)) throw unsupported(ctrl, '/sys/fs/cgroup');
  }
  for (const leaf of plan.leafDirs) if (existsSync(leaf)) throw leafExists(leaf);

  hierarchies.forEach((h, i) => {
    const leaf = plan.leafDirs[i]!;
    const cpuset = h.controllers.includes('cpuset');
    // A new cpuset cgroup has empty cpus/mems and takes no tasks until they are set: each level
    // gets its parent's values (an existing level that is still empty, left by a killed run, too).
    let cpus = cpuset ? readTrim(join(h.mount, 'cpuset.cpus')) : '';
    let mems = cpuset ? readTrim(join(h.mount, 'cpuset.mems')) : '';
    let dir = h.mount;
    for (const seg of segs) {
      dir = join(dir, seg);
      const fresh = !existsSync(dir);
      if (fresh) c.mkdir(dir, false);
      if (!cpuset) continue;
      const own = fresh ? { cpus: '', mems: '' } : { cpus: readTrim(join(dir, 'cpuset.cpus')), mems: readTrim(join(dir, 'cpuset.mems')) };
      if (own.cpus) cpus = own.cpus;
      else c.write(join(dir, 'cpuset.cpus'), cpus);
      if (own.mems) mems = own.mems;
      else c.write(join(dir, 'cpuset.mems'), mems);
    }
    c.mkdir(leaf, true);
    for (const ctrl of h.controllers) {
      if (ctrl === 'cpuset') {
        c.write(join(leaf, 'cpuset.cpus'), r.cpusetCpus ?? cpus);
        c.write(join(leaf, 'cpuset.mems'), mems);
      } else {
        const memsw = ctrl === 'memory' && existsSync(join(h.mount, 'memory.memsw.limit_in_bytes'));
        c.writeAll(leaf, v1Writes(ctrl, r, memsw));
      }
    }
  });
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
