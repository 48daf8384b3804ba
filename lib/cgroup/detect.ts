// Run-time detection of the cgroup layout: pure v2 (cgroup2 at /sys/fs/cgroup), v1 "legacy" or
// "hybrid" (tmpfs at /sys/fs/cgroup with one mount per v1 hierarchy, maybe a cgroup2 beside them).
import { parseMountinfo } from '../mountinfo.js';
import { readFileSync, statfsSync } from 'node:fs';
import { PockerError } from '../errors.js';

export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const TMPFS_MAGIC = 0x01021994;

export interface CgroupInfo {
  version: 1 | 2;
  /** v2: where the cgroup2 hierarchy pocker uses is mounted. */
  unifiedMount?: string;
  /** v1: controller -> mount point of its hierarchy (co-mounted controllers share one). */
  v1Mounts?: Record<string, string>;
  /**
   * v1: mount points of the other hierarchies (controllers no limit is written to, named ones such
   * as name=systemd), in mountinfo order. A container joins them too, with no limit, so that its
   * /sys/fs/cgroup shows its own cgroup in each (as runc joins every hierarchy).
   */
  v1Others?: string[];
  /** v1 hybrid: the cgroup2 mounted beside the v1 hierarchies (`unified`), joined the same way. */
  hybridUnified?: string;
}

/** v1 hierarchies a container joins with its limits, in this order (as cpp/common/cgroup.cpp kV1Joined). */
export const V1_JOINED = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids'] as const;

/** Real v1 controller names (super options of a `cgroup` mount also hold rw, name=…, xattr, …). */
const V1_CONTROLLER_NAMES = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids',
  'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc',
]);

const DEFAULT_ROOT = '/sys/fs/cgroup';

function fromMounts(text: string, statfsType: number | undefined): CgroupInfo {
  const mounts = parseMountinfo(text);
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2');
  const v2Root = v2.find((m) => m.mountPoint === DEFAULT_ROOT);
  const v1Mounts: Record<string, string> = {};
  const others: string[] = [];
  const names = new Set<string>();
  const joined = new Set<string>(V1_JOINED);
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue;
    let controllers = false;
    let seen = false;
    let isJoined = false;
    let name = '';
    for (const opt of m.superOptions) {
      if (opt.startsWith('name=')) name = opt;
      if (!V1_CONTROLLER_NAMES.has(opt)) continue;
      controllers = true;
      isJoined ||= joined.has(opt);
      // The first mount of a hierarchy wins (others are bind mounts of the same hierarchy).
      if (v1Mounts[opt] === undefined) v1Mounts[opt] = m.mountPoint;
      else seen ||= v1Mounts[opt] !== m.mountPoint;
    }
    if (controllers ? !seen && !isJoined : name !== '' && !names.has(name)) {
      if (name) names.add(name);
      if (!others.includes(m.mountPoint)) others.push(m.mountPoint);
    }
  }
  if (statfsType === CGROUP2_SUPER_MAGIC || (statfsType === undefined && v2Root)) {
    return { version: 2, unifiedMount: (v2Root ?? v2[0])?.mountPoint ?? DEFAULT_ROOT };
  }
  if (Object.keys(v1Mounts).length > 0) {
    return { version: 1, v1Mounts, ...(others.length ? { v1Others: others } : {}), ...(v2[0] ? { hybridUnified: v2[0].mountPoint } : {}) };
  }
  // No v1 controller is mounted anywhere: a cgroup2 mount elsewhere is all there is.
  if (v2[0]) return { version: 2, unifiedMount: (v2Root ?? v2[0]).mountPoint };
  throw new PockerError('no cgroup filesystem is mounted (neither cgroup2 nor a v1 controller hierarchy)', {
    code: 'ERR_POCKER_UNSUPPORTED',
    step: 'cgroup',
    path: DEFAULT_ROOT,
  });
}

let hostInfo: CgroupInfo | undefined;

function copy(info: CgroupInfo): CgroupInfo {
  return {
    version: info.version,
    ...(info.unifiedMount !== undefined ? { unifiedMount: info.unifiedMount } : {}),
    ...(info.v1Mounts ? { v1Mounts: { ...info.v1Mounts } } : {}),
    ...(info.v1Others ? { v1Others: [...info.v1Others] } : {}),
    ...(info.hybridUnified !== undefined ? { hybridUnified: info.hybridUnified } : {}),
  };
}

/**
 * Detects the cgroup layout. Without arguments it looks at this host (/proc/self/mountinfo and
 * statfs of /sys/fs/cgroup) and caches the answer; with a mountinfo text (and optionally the statfs
 * f_type of /sys/fs/cgroup) it decides from those alone.
 */
export function detectCgroups(mountinfoText?: string, statfsType?: number): CgroupInfo {
  if (mountinfoText !== undefined) return fromMounts(mountinfoText, statfsType);
  if (statfsType === undefined && hostInfo) return copy(hostInfo);
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  let type = statfsType;
  if (type === undefined) {
    try {
      type = Number(statfsSync(DEFAULT_ROOT).type);
    } catch {
      type = undefined; // no /sys/fs/cgroup: decide from mountinfo alone
    }
  }
  const info = fromMounts(text, type);
  if (statfsType === undefined) hostInfo = copy(info);
  return info;
}

export { parseMountinfo, type MountEntry } from '../mountinfo.js';
