// cgroups for a rootless caller. A user may only write cgroups that were delegated to it: on cgroup
// v2 a subtree whose directory and cgroup.procs/cgroup.subtree_control files it owns (systemd's
// user@UID.service, or a directory root chowned to it). Without one (or on cgroup v1, which has
// no safe delegation) a limit flag is refused before anything is made, and a run without limits
// makes no cgroup at all: the container stays in the caller's own cgroup.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CgroupInfo } from '../cgroup/detect.js';
import type { CgroupPlan } from '../cgroup/index.js';
import type { Resources } from '../cgroup/resources.js';
import { PockerError, fromSystemError } from '../errors.js';

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

/** The leaf a caller's processes are moved into when they sit in the delegated cgroup itself. */
export const EVACUATION_LEAF = 'init';

/** The delegated subtree a rootless cgroup parent (`<delegated>/pocker`) lies in. */
export function delegatedOfParent(parent: string): string | undefined {
  const p = parent.replace(/^\/+|\/+$/g, '');
  return p.endsWith('/pocker') ? p.slice(0, -'/pocker'.length) : undefined;
}

/**
 * cgroup v2's "no internal processes" rule: a cgroup with processes of its own cannot enable
 * controllers for its children. systemd keeps a user's processes in leaves below user@UID.service
 * (init.scope, app.slice/…), so the delegated cgroup itself is empty; where root delegated one
 * directory and put the user's shell straight into it, its processes are first moved into a leaf
 * of their own, `<delegated>/init` (as Podman and rootlesskit's cgroup2 evacuation do), and the
 * delegated cgroup becomes free to enable controllers for pocker's containers. Nothing happens when
 * the caller lives below the delegated cgroup (the systemd case).
 */
export function evacuateDelegated(mount: string, delegated: string, selfCgroup?: string): void {
  const own = (selfCgroup ?? ownCgroupPath(readFileSync('/proc/self/cgroup', 'utf8')) ?? '').replace(/^\/+|\/+$/g, '');
  if (own !== delegated) return;
  const dir = join(mount, delegated);
  const leaf = join(dir, EVACUATION_LEAF);
  try {
    mkdirSync(leaf);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, 'cgroup', `cannot make ${leaf} for this user's processes (they sit in the delegated cgroup ${dir}, which cannot enable controllers while they do)`);
  }
  // Each pid of the delegated cgroup (this process among them) moves to the leaf; one that exited meanwhile is skipped.
  const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  for (const pid of procs) {
    try {
      writeFileSync(join(leaf, 'cgroup.procs'), pid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw fromSystemError(err, 'cgroup', `cannot move process ${pid} from the delegated cgroup ${dir} into ${leaf}`);
    }
  }
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
    throw refuse(`no cgroup v2 directory above this process's own cgroup is owned by uid ${uid} (systemd delegates user@${uid}.service to a logged-in user: from a login shell's session scope, start pocker with systemd-run --user --scope; otherwise root can chown a directory under ${mount} to the user, with cgroup.procs and cgroup.subtree_control)`);
  }
  return `${delegated}/pocker`;
}
