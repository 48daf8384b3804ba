// cgroups for a rootless caller. A user may only write cgroups that were delegated to it: on cgroup
// v2 a subtree whose directory and cgroup.procs/cgroup.subtree_control files it owns (systemd's
// user@UID.service, or a directory root chowned to it). Without one (or on cgroup v1, which has
// no safe delegation) a limit flag is refused before anything is made, and a run without limits
// makes no cgroup at all: the container stays in the caller's own cgroup.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type { CgroupInfo } from '../cgroup/detect.js';
import type { CgroupPlan } from '../cgroup/index.js';
import type { Resources } from '../cgroup/resources.js';
import { PockerError } from '../errors.js';

/** The flags a Resources came from, for the error. */
const FLAG_OF: Record<keyof Resources, string> = {
  memory: '--memory',
  memorySwap: '--memory-swap',
  cpuQuota: '--cpus',
  cpuShares: '--cpu-shares',
  cpusetCpus: '--cpuset-cpus',
  pidsLimit: '--pids-limit',
  memoryReservation: '--memory-reservation',
  oomKillDisable: '--oom-kill-disable',
};

/** The limit flags `res` holds (fields that are set to something that limits). */
export function limitFlags(res: Resources): string[] {
  return (Object.keys(res) as (keyof Resources)[]).filter((k) => res[k] !== undefined && res[k] !== false).map((k) => FLAG_OF[k] ?? k);
}

/** The caller's own cgroup v2 path ("/user.slice/…") from /proc/self/cgroup. */
export function ownCgroupPath(text: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3).trim() || '/';
  return undefined;
}

function ownedBy(path: string, uid: number): boolean {
  try {
    return statSync(path).uid === uid;
  } catch {
    return false;
  }
}

/**
 * The highest cgroup v2 directory on the way from the mount to the caller's own cgroup that the
 * caller owns with its cgroup.procs and cgroup.subtree_control (a delegated subtree), relative to
 * the mount; undefined when there is none.
 */
export function delegatedCgroup(mount: string, uid: number, selfCgroup?: string): string | undefined {
  const own = selfCgroup ?? ownCgroupPath(readFileSync('/proc/self/cgroup', 'utf8'));
  if (!own) return undefined;
  const segs = own.split('/').filter(Boolean);
  for (let i = 1; i <= segs.length; i++) {
    const rel = segs.slice(0, i).join('/');
    const dir = join(mount, rel);
    if (ownedBy(dir, uid) && ownedBy(join(dir, 'cgroup.procs'), uid) && ownedBy(join(dir, 'cgroup.subtree_control'), uid)) return rel;
  }
  return undefined;
}

/** A plan that makes no cgroup: the container stays in the caller's. */
export function noCgroupPlan(info: CgroupInfo): CgroupPlan {
  return { version: info.version, leafDirs: [], v1Tasks: [], statsFiles: {} };
}

/**
 * The cgroup parent a rootless container's cgroup goes under (`<delegated>/pocker`), undefined when
 * no limit is asked for (no cgroup then). Throws the clear error when limits are asked for and this
 * user has no delegated cgroup.
 */
export function rootlessCgroupParent(info: CgroupInfo, res: Resources, uid: number, selfCgroup?: string): string | undefined {
  const flags = limitFlags(res);
  if (flags.length === 0) return undefined;
  const refuse = (why: string): PockerError =>
    new PockerError(`this user has no delegated cgroup: ${why}; ${flags.join(', ')} cannot be applied (run without limit flags, or as root)`, {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'cgroup',
      path: info.unifiedMount ?? '/sys/fs/cgroup',
    });
  if (info.version === 1) throw refuse('this host uses cgroup v1, which cannot delegate a subtree to an unprivileged user (boot with cgroup v2: systemd.unified_cgroup_hierarchy=1)');
  const mount = info.unifiedMount ?? '/sys/fs/cgroup';
  const delegated = delegatedCgroup(mount, uid, selfCgroup);
  if (!delegated) {
    throw refuse(`no cgroup v2 directory above this process's own cgroup is owned by uid ${uid} (systemd delegates user@${uid}.service to a logged-in user; otherwise root can chown a directory under ${mount} to the user, with cgroup.procs and cgroup.subtree_control)`);
  }
  return `${delegated}/pocker`;
}
