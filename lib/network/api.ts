// The library's networks: createNetwork, listNetworks, inspectNetwork, removeNetwork,
// pruneNetworks, connectNetwork, disconnectNetwork (and releaseNetworkResources, what the monitor's
// `pocker network __release ID` runs at a container's last end). Inspect output uses Docker
// Engine API field names.
import { describeContainer, findContainer, listContainerRecords, readConfig, stateRoot, verifiedPid, withContainerLock, writeConfig } from '../container/index.js';
import { PockerError } from '../errors.js';
import { native, type NetInterfaceSpec } from '../native.js';
import { connectRunning, disconnectContainer, networkStarted, readNetworkDoc, releaseContainerNetwork, type EndpointSettings, type NetworkRequest } from './attach.js';
import { removeNetworkRules } from './nft.js';
import { reconcilePublished } from './publish.js';
import {
  containerLive,
  createNetworkRecord,
  DEFAULT_NETWORK,
  findNetwork,
  readEndpoints,
  readNetworks,
  reconcileEndpoints,
  removeNetworkRecord,
  withNetworkLock,
  type NetworkCreateOptions,
  type NetworkRecord,
} from './store.js';

export type { NetworkCreateOptions, NetworkRecord, EndpointSettings };

/** Options every network call takes. */
export interface NetworkOptions {
  /** State directory (default $POCKER_ROOT, else /var/lib/pocker). */
  root?: string;
}

/** Docker's network inspect document. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge';
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string>; Config: Array<{ Subnet: string; Gateway: string }> };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** A row of listNetworks(). */
export interface NetworkSummary {
  id: string;
  name: string;
  driver: 'bridge';
  scope: 'local';
  internal: boolean;
  ipv6: boolean;
  created: string;
  subnets: Array<{ subnet: string; gateway: string }>;
  labels: Record<string, string>;
}

function inspectOf(root: string, n: NetworkRecord): NetworkInspect {
  const containers: NetworkInspect['Containers'] = {};
  for (const e of readEndpoints(root, n.id)) {
    if (!containerLive(root, e.container)) continue;
    const s = readNetworkDoc(root, e.container)?.Networks[n.name];
    const len = (fam: 4 | 6) => n.subnets.find((x) => x.subnet.includes(':') === (fam === 6))?.subnet.split('/')[1] ?? '';
    containers[e.container] = {
      Name: e.name,
      EndpointID: s?.EndpointID ?? '',
      MacAddress: e.mac,
      IPv4Address: e.ipv4 ? `${e.ipv4}/${len(4)}` : '',
      IPv6Address: e.ipv6 ? `${e.ipv6}/${len(6)}` : '',
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: n.ipv6,
    IPAM: { Driver: 'default', Options: {}, Config: n.subnets.map((s) => ({ Subnet: s.subnet, Gateway: s.gateway })) },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: { ...n.labels },
  };
}

/** Creates a user-defined bridge network (nothing in the kernel until a container attaches). */
export function createNetwork(name: string, options: NetworkCreateOptions & NetworkOptions = {}): NetworkInspect {
  const root = stateRoot(options);
  const { root: _r, ...o } = options;
  return inspectOf(root, createNetworkRecord(root, name, o));
}

/** Every network of the store (the default `bridge` once it has been used), by name. */
export function listNetworks(options: NetworkOptions = {}): NetworkSummary[] {
  const root = stateRoot(options);
  return readNetworks(root)
    .map((n) => ({ id: n.id, name: n.name, driver: n.driver, scope: 'local' as const, internal: n.internal, ipv6: n.ipv6, created: n.created, subnets: n.subnets.map((s) => ({ ...s })), labels: { ...n.labels } }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One network by name, id or id prefix (Docker's inspect document). */
export function inspectNetwork(ref: string, options: NetworkOptions = {}): NetworkInspect {
  const root = stateRoot(options);
  return inspectOf(root, findNetwork(root, ref));
}

/** Removes a network's bridge and rules (the kernel side). */
async function teardown(root: string, n: NetworkRecord): Promise<void> {
  await removeNetworkRules(root, n.id);
  try {
    if (native().netLinks().some((l) => l.name === n.bridge)) native().netDeleteLink(n.bridge);
  } catch (err) {
    throw new PockerError(`cannot delete the bridge ${n.bridge}: ${(err as Error).message}`, { code: 'ERR_POCKER', step: 'network', cause: err });
  }
}

/**
 * Removes a network: refused (ERR_POCKER_CONFLICT) while a container uses it, and for the
 * predefined `bridge` (ERR_POCKER_INVALID).
 */
export async function removeNetwork(ref: string, options: NetworkOptions = {}): Promise<void> {
  const root = stateRoot(options);
  reconcileEndpoints(root);
  const n = withNetworkLock(root, () => {
    const net = findNetwork(root, ref);
    if (net.name === DEFAULT_NETWORK) throw new PockerError(`${DEFAULT_NETWORK} is a pre-defined network and cannot be removed`, { code: 'ERR_POCKER_INVALID', step: 'network' });
    const users = readEndpoints(root, net.id);
    if (users.length) {
      throw new PockerError(`error while removing network: network ${net.name} id ${net.id} has active endpoints (${users.map((e) => e.name).join(', ')})`, { code: 'ERR_POCKER_CONFLICT', step: 'network' });
    }
    removeNetworkRecord(root, net.id);
    return net;
  });
  await teardown(root, n);
}

/** What pruneNetworks() did. */
export interface NetworkPruneResult {
  /** Names of the removed networks. */
  deleted: string[];
}

/**
 * Reconciles everything networking left of dead containers (leases, published ports' claims and
 * rules, host ends of veths, hosts entries), then removes every user-defined network no container
 * uses; the default network's bridge and rules go too while unused (its record stays).
 */
export async function pruneNetworks(options: NetworkOptions = {}): Promise<NetworkPruneResult> {
  const root = stateRoot(options);
  for (const { endpoint } of reconcileEndpoints(root)) await releaseContainerNetwork(root, endpoint.container, { deleteHostEnds: true });
  const liveContainers = new Set(listContainerRecords(root).filter((c) => containerLive(root, c.id)).map((c) => c.id));
  const deleted: string[] = [];
  const doomed = withNetworkLock(root, () => {
    const out: NetworkRecord[] = [];
    for (const n of readNetworks(root)) {
      if (readEndpoints(root, n.id).length) continue;
      if (n.name !== DEFAULT_NETWORK) {
        removeNetworkRecord(root, n.id);
        deleted.push(n.name);
      }
      out.push(n);
    }
    return out;
  });
  for (const n of doomed) await teardown(root, n);
  const liveNets = new Set(readNetworks(root).filter((n) => !doomed.some((d) => d.id === n.id)).map((n) => n.id));
  await reconcilePublished(root, liveContainers, liveNets);
  return { deleted: deleted.sort() };
}

/** What connectNetwork() takes. */
export interface ConnectOptions extends NetworkOptions {
  ip?: string;
  ip6?: string;
  aliases?: string[];
  mac?: string;
}

function runningPid(root: string, ref: string): { id: string; name: string; hostname: string; pid: number } {
  const c = describeContainer(findContainer(root, ref));
  if (c.status !== 'running' || !c.state?.pid || !verifiedPid(c.state.pid, c.state.pidStart)) {
    throw new PockerError(`container ${ref} is not running: pocker connects running (detached) containers only`, { code: 'ERR_POCKER_NOT_RUNNING', step: 'network' });
  }
  const doc = readNetworkDoc(root, c.id);
  if (!doc) throw new PockerError(`container ${ref} has no network namespace of its own (--network host, none or container:): it cannot be connected`, { code: 'ERR_POCKER_INVALID', step: 'network' });
  return { id: c.id, name: c.name, hostname: doc.hostname, pid: c.state.pid };
}

/** The id of the network a recorded request names (`bridge`: the default network), or null when it is gone. */
function requestNetworkId(root: string, ref: string, all: NetworkRecord[]): string | null {
  try {
    return findNetwork(root, ref, all).id;
  } catch {
    return null;
  }
}

/**
 * Records a connect (`add`) or a disconnect of network `netId` in the container's config.json, for
 * its later runs: the run config's network requests (what `pocker start` and `restart` plumb) and
 * pocker.network.interfaces (what its monitor plumbs again at a restart policy's next run:
 * cpp/init/net.h reloadInterfaces). A foreground container (no run config) has no later run.
 */
async function recordNetworks(root: string, id: string, netId: string, add?: { req: NetworkRequest; iface: NetInterfaceSpec; bridge: string }): Promise<void> {
  const entry = findContainer(root, id);
  await withContainerLock(entry.dir, async () => {
    const record = readConfig(entry.dir);
    const run = record?.meta.run;
    if (!record || !run) return;
    const all = readNetworks(root);
    const bridge = add?.bridge ?? all.find((n) => n.id === netId)?.bridge;
    const reqs = (run.config.networks ?? []).filter((r) => requestNetworkId(root, r.network, all) !== netId);
    if (add) reqs.push(add.req);
    let runtime = record.runtime;
    const section = record.runtime.network as { interfaces?: NetInterfaceSpec[] } | undefined;
    if (section && typeof section === 'object') {
      const interfaces = (section.interfaces ?? []).filter((i) => i.bridge !== bridge);
      if (add) interfaces.push(add.iface);
      runtime = { ...record.runtime, network: { ...section, interfaces } };
    }
    writeConfig(entry.dir, record.spec, { ...record.meta, run: { ...run, config: { ...run.config, networks: reqs } } }, runtime);
  });
}

/**
 * Connects a running container to a network: a new interface (eth1 …) with an address, hosts
 * updated. Recorded: the container's later runs (start, restart, a restart policy) have it too.
 */
export async function connectNetwork(network: string, container: string, options: ConnectOptions = {}): Promise<EndpointSettings> {
  const root = stateRoot(options);
  const c = runningPid(root, container);
  const req: NetworkRequest = {
    network,
    ...(options.ip !== undefined ? { ip: options.ip } : {}),
    ...(options.ip6 !== undefined ? { ip6: options.ip6 } : {}),
    ...(options.aliases ? { aliases: options.aliases } : {}),
    ...(options.mac !== undefined ? { mac: options.mac } : {}),
  };
  const made = await connectRunning(root, { id: c.id, name: c.name, hostname: c.hostname }, c.pid, req);
  networkStarted(root, c.id);
  await recordNetworks(root, c.id, made.network.id, { req, iface: made.iface, bridge: made.network.bridge });
  return made.settings;
}

/**
 * Disconnects a container from a network: a running one loses its interface now; a stopped one
 * starts without it (recorded, as a connect is). Hosts files updated.
 */
export async function disconnectNetwork(network: string, container: string, options: NetworkOptions & { force?: boolean } = {}): Promise<void> {
  const root = stateRoot(options);
  const c = describeContainer(findContainer(root, container));
  const pid = c.status === 'running' && c.state?.pid && verifiedPid(c.state.pid, c.state.pidStart) ? c.state.pid : 0;
  const all = readNetworks(root);
  const net = findNetwork(root, network, all);
  const recorded = (c.config?.run?.config.networks ?? []).some((r) => requestNetworkId(root, r.network, all) === net.id);
  const attached = readEndpoints(root, net.id).some((e) => e.container === c.id) || !!readNetworkDoc(root, c.id)?.Networks[net.name];
  if (attached || !recorded) disconnectContainer(root, c.id, pid, network);
  if (recorded) await recordNetworks(root, c.id, net.id);
}

/**
 * Gives back a container's network resources (published ports, leases, veth host ends, hosts
 * entries): the monitor runs `pocker network __release ID` at the container's last end; rm runs it
 * too. Idempotent; refuses nothing (a live container is released all the same: the caller knows).
 */
export async function releaseNetworkResources(id: string, options: NetworkOptions = {}): Promise<void> {
  await releaseContainerNetwork(stateRoot(options), id);
}
