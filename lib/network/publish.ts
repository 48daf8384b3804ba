// Published ports from start to end, for the run flow (net-store's lib/network/attach.ts): claim the
// host ports (lib/network/ports.ts), then add their DNAT rules (lib/network/nft.ts) in one nftables
// transaction — or, if that fails, give the claims back, so nothing is left; and the reverse when
// the container ends (idempotent: usable from `network __release` and from reconcile).
import { PockerError } from '../errors.js';
import { isRootless } from '../rootless/paths.js';
import { ipFamily } from './addr.js';
import { addPortRules, reconcileRules, removeContainerRules } from './nft.js';
import { containerLive } from './store.js';
import { allocatePorts, claimedPorts, reconcilePorts, releasePorts, toDockerPorts, type AllocateOptions, type DockerPortMap, type PortMapping, type PortSpec } from './ports.js';

/** What publishPorts() made: the mappings and their NetworkSettings.Ports form (for network.json). */
export interface Published {
  mappings: PortMapping[];
  /** Docker's `Ports` (exposed-only ports as null). */
  ports: DockerPortMap;
}

/**
 * Claims host ports for `specs` and adds their rules. `exposed` (the image's ExposedPorts, parsed
 * with exposedPorts()) only adds the `null` entries Docker shows for exposed, unpublished ports.
 */
export async function publishPorts(
  root: string,
  containerId: string,
  bridge: string,
  containerIp: string,
  specs: PortSpec[],
  exposed: PortSpec[] = [],
  options: AllocateOptions = {},
): Promise<Published> {
  const six = ipFamily(containerIp) === 6;
  for (const s of specs) {
    if (s.hostIp !== '' && (ipFamily(s.hostIp) === 6) !== six) {
      throw new PockerError(`cannot publish ${s.hostIp.includes(':') ? `[${s.hostIp}]` : s.hostIp}:${s.hostPortStart || ''}:${s.containerPortStart}/${s.protocol}: the container's address ${containerIp} is IPv${six ? 6 : 4}`, {
        code: 'ERR_POCKER_INVALID',
        step: 'network',
      });
    }
  }
  // A claim is held while its container runs (a stopped one, or one a reboot or a SIGKILLed
  // monitor left recorded as running, holds no port: Docker's), or while its allocator lives.
  const mappings = await allocatePorts(root, containerId, specs, containerIp, { isLive: (id) => containerLive(root, id), ...options });
  try {
    await addPortRules(root, containerId, bridge, mappings);
  } catch (err) {
    releasePorts(root, containerId);
    throw err;
  }
  return { mappings, ports: toDockerPorts(mappings, exposed) };
}

/**
 * Removes a container's port rules and gives its host ports back (idempotent). A container without
 * a port claim costs no nftables request: publishPorts() claims before it adds rules and this removes the
 * rules before the claims, so rules without a claim cannot exist (reconcilePublished() still lists
 * the table for whatever addPortRules() alone made).
 */
export async function unpublishPorts(root: string, containerId: string): Promise<void> {
  if (!claimedPorts(root).some((p) => p.container === containerId)) return;
  // (A rootless caller's claims are a user-mode network's: no rule of theirs exists.)
  if (!isRootless()) await removeContainerRules(root, containerId);
  releasePorts(root, containerId);
}

/** Reconcile of everything this file makes: rules and claims of ids that are not live. */
export async function reconcilePublished(root: string, liveContainerIds: Set<string>, liveNetworkIds: Set<string>): Promise<{ rules: number; claims: number }> {
  const rules = await reconcileRules(root, liveContainerIds, liveNetworkIds);
  const claims = reconcilePorts(root, liveContainerIds);
  return { rules, claims };
}
