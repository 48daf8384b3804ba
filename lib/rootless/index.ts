// Rootless mode: what changes when the caller is not root. Chosen automatically (isRootless()):
// the state root is the caller's (paths.ts), the container gets a user namespace mapped with the
// caller's subordinate ids (idmap.ts), cgroups only where delegated (cgroup.ts), networking is
// none, host or a user-mode stack (network.ts). run() asks checkRootless() before anything is
// made and records callerIdMaps() as the container's user namespace maps (as --uidmap's: the spec
// gets a user namespace from them, and pocker-init's monitor writes them through newuidmap).
import { readFileSync } from 'node:fs';

import type { CgroupInfo } from '../cgroup/detect.js';
import { planCgroups, type CgroupPlan } from '../cgroup/index.js';
import { PockerError } from '../errors.js';
import type { ResolvedRunConfig } from '../runtime/options.js';
import { delegatedOfParent, evacuateDelegated, noCgroupPlan, rootlessCgroupParent } from './cgroup.js';
import { rootlessIdMaps, type RootlessIdMaps } from './idmap.js';
import { checkUnprivilegedPorts, isUserModeNetwork, userModeHelper } from './network.js';

export { isRootless, defaultStateRoot, rootlessDataRoot, runtimeDir } from './paths.js';
export { rootlessIdMaps, type RootlessIdMaps } from './idmap.js';
export { limitFlags, delegatedCgroup, delegatedOfParent } from './cgroup.js';
export { isUserModeNetwork, userModeHelper, userModeSetup } from './network.js';

/**
 * Validates what a rootless caller asked for before any kernel object exists: bridge and
 * user-defined networks need root; a user-mode network needs pasta or slirp4netns; a published
 * port below net.ipv4.ip_unprivileged_port_start cannot be bound.
 */
export function checkRootless(cfg: ResolvedRunConfig): void {
  if (cfg.userns) {
    throw new PockerError(`${cfg.userns.mode === 'auto' ? '--userns auto' : '--uidmap/--gidmap'} needs root: a rootless container always runs in a user namespace mapped with this user's own ids and /etc/subuid, /etc/subgid ranges`, {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'validate',
    });
  }
  if (cfg.networks?.length) {
    throw new PockerError(
      `rootless containers cannot use --network ${cfg.networks.map((n) => n.network).join(', ')}: bridges, veths and nftables need root; use --network none (default), host, pasta or slirp4netns (-p picks one)`,
      { code: 'ERR_POCKER_UNSUPPORTED', step: 'validate' },
    );
  }
  if (isUserModeNetwork(cfg.network)) {
    userModeHelper(cfg.network);
    if (cfg.publish?.length) checkUnprivilegedPorts(cfg.publish, () => Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()));
  }
}

/**
 * The cgroup plan of a rootless container: none without limits (it stays in the caller's cgroup),
 * else the container's leaf under the caller's delegated subtree (the clear error without one).
 * Returns the parent used too (undefined: none).
 */
export function rootlessCgroupPlan(info: CgroupInfo, cfg: Pick<ResolvedRunConfig, 'id' | 'resources'>): { plan: CgroupPlan; parent?: string } {
  const uid = process.geteuid?.() ?? 0;
  const parent = rootlessCgroupParent(info, cfg.resources, uid);
  if (parent === undefined) return { plan: noCgroupPlan(info) };
  return { plan: planCgroups(info, parent, cfg.id, cfg.resources), parent };
}

/**
 * Before a rootless container's cgroup is made under `parent` (`<delegated>/pocker`): the caller's
 * processes leave the delegated cgroup itself when they sit there (evacuateDelegated), so that it
 * can enable controllers. Returns the delegated subtree, for createCgroups/updateCgroups.
 */
export function prepareDelegated(info: CgroupInfo, parent: string): string | undefined {
  const delegated = delegatedOfParent(parent);
  if (delegated === undefined || info.version !== 2) return undefined;
  evacuateDelegated(info.unifiedMount ?? '/sys/fs/cgroup', delegated);
  return delegated;
}

let cachedMaps: RootlessIdMaps | undefined;

/** The caller's id maps (read once per process). */
export function callerIdMaps(): RootlessIdMaps {
  return (cachedMaps ??= rootlessIdMaps());
}
