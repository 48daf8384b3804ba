// A container's networks from start to end: leases (lib/network/store.ts), the bridge and its
// rules (lib/network/nft.ts), published ports (lib/network/publish.ts), the container's own
// /etc/hosts and /etc/resolv.conf (files in its directory, bind-mounted), and
// `containers/<id>/network.json` (inspect's NetworkSettings, `pocker port`, ps PORTS).
//
// Name resolution on user-defined networks: every member's hosts file lists the other members
// (name, aliases, address). When a member comes or goes (start, end, connect, disconnect) the hosts
// files of the network's members are rewritten IN PLACE (truncate + write on the same inode: a
// bind-mounted file replaced by rename would leave the container looking at the old inode). This
// needs no resident process (pocker has no daemon, and a DNS responder kept by the monitors would
// cost every monitor a socket and a server loop) and works with every resolver in every image
// (musl, glibc, busybox read /etc/hosts first). The cost: a rewrite per member on each change, and
// no DNS for names (`nslookup` asks the nameservers of resolv.conf, which are the host's).
import { sha256Hex } from '../random.js';
import { parseAddHost, type NetworkRequest } from './flags.js';
export { parseAddHost, validateNetworkFlags, type NetworkRequest } from './flags.js';
import { closeSync, constants, existsSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { containerDir } from '../container/store.js';
import { PockerError } from '../errors.js';
import { native, type NetInterfaceSpec, type NetSnapshot } from '../native.js';
import { packageRoot } from '../paths.js';
import { parseCidr } from './addr.js';
import { enableRouteLocalnet, ensureNetworkRules } from './nft.js';
import { type DockerPortMap, type PortSpec } from './ports.js';
import { publishPorts, unpublishPorts } from './publish.js';
import {
  allocateEndpoint,
  checkRequestedAddress,
  DEFAULT_NETWORK,
  ensureDefaultNetwork,
  findNetwork,
  readEndpoints,
  readNetworks,
  releaseEndpoints,
  settleEndpoints,
  withNetworkLock,
  type Endpoint,
  type NetworkRecord,
} from './store.js';

/** What a container's network setup needs besides its requests. */
export interface ContainerNetworkInfo {
  id: string;
  name: string;
  hostname: string;
  /** --add-host `name:ip` entries. */
  extraHosts?: string[];
  /** --dns, --dns-search, --dns-option. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/** Docker's NetworkSettings.Networks[name]. */
export interface EndpointSettings {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  Aliases: string[];
}

/** containers/<id>/network.json. */
export interface ContainerNetworkDoc {
  version: 1;
  name: string;
  hostname: string;
  extraHosts: string[];
  Ports: DockerPortMap;
  Networks: Record<string, EndpointSettings>;
}

function bad(message: string, path?: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_INVALID', step: 'validate', ...(path ? { path } : {}) });
}

/**
 * Checks the requests against the store before anything is created: each network exists (the
 * default one may still have to be recorded), --ip/--ip6 lie in its subnets (Docker: only on
 * user-defined networks), no network twice. Throws ERR_POCKER_INVALID / ERR_POCKER_NOT_FOUND.
 */
export function checkNetworkRequests(root: string, reqs: NetworkRequest[]): void {
  const all = readNetworks(root);
  const seen = new Set<string>();
  for (const r of reqs) {
    if (r.network === DEFAULT_NETWORK) {
      if (r.ip !== undefined || r.ip6 !== undefined) throw bad('user specified IP address is supported on user defined networks only');
      if (r.aliases?.length) throw bad('network-scoped alias is supported only for containers in user defined networks');
    } else {
      let net: NetworkRecord;
      try {
        net = findNetwork(root, r.network, all);
      } catch (err) {
        if (err instanceof PockerError && err.code === 'ERR_POCKER_NOT_FOUND') throw new PockerError(`network ${r.network} not found`, { code: 'ERR_POCKER_NOT_FOUND', step: 'validate', path: r.network });
        throw err;
      }
      checkRequestedAddress(net, r.ip, 4);
      checkRequestedAddress(net, r.ip6, 6);
    }
    const key = r.network === DEFAULT_NETWORK ? DEFAULT_NETWORK : findNetwork(root, r.network, all).id;
    if (seen.has(key)) throw bad(`the container is connected to network ${r.network} twice`);
    seen.add(key);
  }
}

/** The veth's host end: `vp` + 12 hex of sha256(container id, interface) (15 bytes at most). */
export function hostEndName(containerId: string, iface: string): string {
  return `vp${sha256Hex(`${containerId}/${iface}`).slice(0, 12)}`;
}

/**
 * The namespace's links, addresses and routes, read once for a whole start or connect (one
 * netlink socket and one link dump: each question used to open its own socket and dump the links
 * again). An empty snapshot when netlink cannot be read: the callers then make what is missing
 * and report the kernel's own error from there.
 */
export function netSnapshot(): NetSnapshot {
  try {
    return native().netSnapshot();
  } catch {
    return { links: [], addresses: [], routes: [] };
  }
}

/** MTU of the device of the default route here (1500 without one). */
export function defaultMtu(snap: NetSnapshot = netSnapshot()): number {
  const r = snap.routes.find((x) => x.dst === '0.0.0.0/0' && x.dev !== '') ?? snap.routes.find((x) => x.dst === '::/0' && x.dev !== '');
  const mtu = r ? snap.links.find((l) => l.name === r.dev)?.mtu : undefined;
  return mtu && mtu >= 68 ? mtu : 1500;
}

/** Whether the bridge of `net` is there, up, with its gateway addresses (nothing to do for it). */
function bridgeReady(snap: NetSnapshot, net: NetworkRecord): boolean {
  const link = snap.links.find((l) => l.name === net.bridge);
  if (!link || link.kind !== 'bridge' || !link.up) return false;
  const have = new Set(snap.addresses.filter((a) => a.name === net.bridge).map((a) => a.address));
  return net.subnets.every((s) => have.has(`${s.gateway}/${parseCidr(s.subnet)!.bits}`));
}

/**
 * Makes a network's bridge (with its gateways) and its rules when the bridge is missing: rules
 * first (they name the bridge, which need not exist yet), so a crash in between is mended by the
 * next attach, which finds no bridge and writes the rules again. A bridge that `snap` shows ready
 * costs nothing more: no netlink request, no nftables batch, no sysctl write.
 */
export async function ensureBridge(root: string, net: NetworkRecord, mtu: number, snap: NetSnapshot = netSnapshot()): Promise<void> {
  const n = native();
  if (bridgeReady(snap, net)) return;
  const exists = snap.links.some((l) => l.name === net.bridge && l.kind === 'bridge');
  if (!exists) {
    try {
      await ensureNetworkRules(root, { id: net.id, bridge: net.bridge, subnets: net.subnets.map((s) => s.subnet), internal: net.internal });
    } catch (err) {
      // No nf_tables in the kernel: say how to do without a bridge too (it may be the default, not chosen).
      if (err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') {
        throw new PockerError(`${err.message}; or run the container with --network none (POCKER_DEFAULT_NETWORK=none makes that the default)`, {
          code: 'ERR_POCKER_UNSUPPORTED',
          step: 'network',
          ...(err.path !== undefined ? { path: err.path } : {}),
          ...(err.syscall !== undefined ? { syscall: err.syscall } : {}),
          ...(err.errno !== undefined ? { errno: err.errno } : {}),
          cause: err,
        });
      }
      throw err;
    }
    if (!net.internal) {
      try {
        writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
        if (net.ipv6) writeFileSync('/proc/sys/net/ipv6/conf/all/forwarding', '1');
      } catch {
        /* read-only /proc/sys: published ports from this host still work */
      }
    }
  }
  try {
    n.netBridge(net.bridge, net.subnets.map((s) => `${s.gateway}/${parseCidr(s.subnet)!.bits}`), mtu);
  } catch (err) {
    throw fromNative(err, `cannot create the bridge ${net.bridge} of network ${net.name}`);
  }
  if (!net.internal) enableRouteLocalnet(net.bridge);
}

function fromNative(err: unknown, what: string): PockerError {
  if (err instanceof PockerError) return err;
  const e = err as { code?: string; message?: string; errno?: number; syscall?: string; path?: string };
  return new PockerError(`${what}: ${e.code ?? e.message}`, {
    code: 'ERR_POCKER',
    step: 'network',
    ...(e.syscall ? { syscall: e.syscall } : {}),
    ...(e.path ? { path: e.path } : {}),
    cause: err,
  });
}

function prefixLen(net: NetworkRecord, family: 4 | 6): number {
  const s = net.subnets.find((x) => x.subnet.includes(':') === (family === 6));
  return s ? parseCidr(s.subnet)!.bits : 0;
}

function gatewayOf(net: NetworkRecord, family: 4 | 6): string {
  return net.subnets.find((x) => x.subnet.includes(':') === (family === 6))?.gateway ?? '';
}

/** The interface pocker-init plumbs for an endpoint. */
export function interfaceOf(net: NetworkRecord, e: Endpoint, mtu: number): NetInterfaceSpec {
  const addresses = [...(e.ipv4 ? [`${e.ipv4}/${prefixLen(net, 4)}`] : []), ...(e.ipv6 ? [`${e.ipv6}/${prefixLen(net, 6)}`] : [])];
  // --internal: no default route (no way out of the network).
  const gw4 = net.internal ? '' : gatewayOf(net, 4);
  const gw6 = net.internal ? '' : gatewayOf(net, 6);
  return { name: e.iface, hostName: e.hostName, bridge: net.bridge, addresses, ...(gw4 ? { gateway: gw4 } : {}), ...(gw6 ? { gateway6: gw6 } : {}), mac: e.mac, mtu };
}

function endpointSettings(net: NetworkRecord, e: Endpoint): EndpointSettings {
  return {
    NetworkID: net.id,
    EndpointID: sha256Hex(`${net.id}/${e.container}`),
    Gateway: e.ipv4 ? gatewayOf(net, 4) : '',
    IPAddress: e.ipv4,
    IPPrefixLen: e.ipv4 ? prefixLen(net, 4) : 0,
    IPv6Gateway: e.ipv6 ? gatewayOf(net, 6) : '',
    GlobalIPv6Address: e.ipv6,
    GlobalIPv6PrefixLen: e.ipv6 ? prefixLen(net, 6) : 0,
    MacAddress: e.mac,
    Aliases: net.name === DEFAULT_NETWORK ? [] : [...e.aliases],
  };
}

// ---------------------------------------------------------------------------------------------
// containers/<id>/network.json, hosts, resolv.conf

export function networkDocPath(root: string, id: string): string {
  return join(containerDir(root, id), 'network.json');
}

export function readNetworkDoc(root: string, id: string): ContainerNetworkDoc | null {
  try {
    const d = JSON.parse(readFileSync(networkDocPath(root, id), 'utf8')) as ContainerNetworkDoc;
    return d && typeof d === 'object' ? { ...d, Ports: d.Ports ?? {}, Networks: d.Networks ?? {}, extraHosts: d.extraHosts ?? [] } : null;
  } catch {
    return null;
  }
}

function writeNetworkDoc(root: string, id: string, doc: ContainerNetworkDoc): void {
  if (!existsSync(containerDir(root, id))) return;
  writeInPlace(networkDocPath(root, id), `${JSON.stringify(doc, null, 2)}\n`);
}

/** network.json of a container on a user-mode network (pasta, slirp4netns): its published ports only. */
export function writeUserModeNetworkDoc(root: string, id: string, name: string, hostname: string, ports: DockerPortMap): void {
  writeNetworkDoc(root, id, { version: 1, name, hostname, extraHosts: [], Ports: ports, Networks: {} });
}

/**
 * Writes `text` over the file at `path` on the same inode (made 0644 if missing): written from
 * offset 0, then cut to its length. Not O_TRUNC: ext4 (auto_da_alloc) starts writing back a file
 * truncated to zero when it is closed, as it does the source of a rename over an existing file —
 * 1-7 ms each on this machine under load, for files that need no durability (a container's hosts,
 * resolv.conf and network.json are made again at each start). A reader may meet a mix of the old
 * and new text for an instant, as it could meet an empty file with O_TRUNC.
 */
function writeInPlace(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  try {
    const b = Buffer.from(text);
    let at = 0;
    while (at < b.length) at += writeSync(fd, b, at, b.length - at, at);
    ftruncateSync(fd, b.length);
  } finally {
    closeSync(fd);
  }
}

const HOSTS_HEAD = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

/**
 * The hosts file of container `id`: localhost, --add-host, its own addresses with its hostname,
 * name and aliases, then the other members of its user-defined networks (name and aliases).
 * Called under the networks lock (the endpoints it reads are consistent).
 */
function hostsText(id: string, doc: ContainerNetworkDoc, nets: NetworkRecord[], eps: Endpoints): string {
  const lines = [...HOSTS_HEAD];
  for (const h of doc.extraHosts) {
    const { host, ip } = parseAddHost(h);
    lines.push(`${ip}\t${host}`);
  }
  const seen = new Set<string>();
  const others: string[] = [];
  for (const net of nets) {
    for (const e of eps(net.id)) {
      const mine = e.container === id;
      if (!mine && net.name === DEFAULT_NETWORK) continue; // the default bridge resolves no names (Docker's)
      const names = mine ? [doc.hostname, doc.name, ...e.aliases] : [e.name, ...e.aliases];
      const uniq = [...new Set(names.filter((x) => x !== ''))];
      for (const ip of [e.ipv4, e.ipv6]) {
        if (!ip) continue;
        const line = `${ip}\t${uniq.join(' ')}`;
        if (seen.has(line)) continue;
        seen.add(line);
        (mine ? lines : others).push(line);
      }
    }
  }
  return `${[...lines, ...others].join('\n')}\n`;
}

/** Endpoints by network id, each endpoints.json read once per rewrite (under the lock). */
type Endpoints = (netId: string) => Endpoint[];

function endpointsCache(root: string): Endpoints {
  const cache = new Map<string, Endpoint[]>();
  return (netId) => {
    let e = cache.get(netId);
    if (!e) cache.set(netId, (e = readEndpoints(root, netId)));
    return e;
  };
}

/** Rewrites container `id`'s hosts file in place (same inode: it is bind-mounted; never a rename). */
function rewriteHosts(root: string, id: string, all: NetworkRecord[], eps: Endpoints): void {
  const doc = readNetworkDoc(root, id);
  const path = join(containerDir(root, id), 'hosts');
  if (!doc || !existsSync(path)) return;
  const nets = all.filter((n) => eps(n.id).some((e) => e.container === id));
  try {
    writeInPlace(path, hostsText(id, doc, nets, eps));
  } catch {
    /* the container went away meanwhile */
  }
}

/** The hosts files of every member of these networks, and of `also` (under the lock). */
function rewriteMembers(root: string, nets: NetworkRecord[], also?: string): void {
  const all = readNetworks(root);
  const eps = endpointsCache(root);
  const members = new Set<string>();
  for (const net of nets) if (net.name !== DEFAULT_NETWORK) for (const e of eps(net.id)) members.add(e.container);
  if (also !== undefined) members.add(also);
  for (const id of members) rewriteHosts(root, id, all, eps);
}

/** Docker's resolv.conf: the host's, loopback nameservers dropped (none left: 8.8.8.8, 8.8.4.4); --dns and friends override. */
export function resolvText(info: Pick<ContainerNetworkInfo, 'dns' | 'dnsSearch' | 'dnsOptions'>, hostText?: string): string {
  let host = hostText;
  if (host === undefined) {
    try {
      host = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      host = '';
    }
  }
  const ns: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  for (const raw of host.split('\n')) {
    const f = raw.trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) {
      const ip = f[1].replace(/%.*$/, '');
      if (!(ip.startsWith('127.') || ip === '::1')) ns.push(f[1]);
    } else if ((f[0] === 'search' || f[0] === 'domain') && f.length > 1) search.splice(0, search.length, ...f.slice(1));
    else if (f[0] === 'options') options.push(...f.slice(1));
  }
  const servers = info.dns?.length ? info.dns : ns.length ? ns : ['8.8.8.8', '8.8.4.4'];
  const s = info.dnsSearch?.length ? info.dnsSearch : search;
  const o = info.dnsOptions?.length ? info.dnsOptions : options;
  return [...servers.map((x) => `nameserver ${x}`), ...(s.length ? [`search ${s.join(' ')}`] : []), ...(o.length ? [`options ${o.join(' ')}`] : [])].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Start and end

/** What setupContainerNetwork() made, for the OCI document. */
export interface ContainerNetworkSetup {
  interfaces: NetInterfaceSpec[];
  /** The argv the monitor runs at the container's last end (`pocker network __release ID`). */
  cleanup: string[];
  /** Files bind-mounted at /etc/hosts and /etc/resolv.conf. */
  hosts: string;
  resolv: string;
}

/** `node bin/pocker.cjs --root ROOT network __release ID`. */
export function releaseArgv(root: string, id: string): string[] {
  return [process.execPath, join(packageRoot, 'bin', 'pocker.cjs'), '--root', root, 'network', '__release', id];
}

/**
 * For a (re)start of container `info.id` in a namespace of its own: leases on each requested
 * network (eth0, eth1 … in order), bridges and rules, published ports (on the first network),
 * hosts and resolv.conf, network.json. On failure everything it made is given back.
 */
export async function setupContainerNetwork(
  root: string,
  info: ContainerNetworkInfo,
  reqs: NetworkRequest[],
  publish: PortSpec[] = [],
  exposed: PortSpec[] = [],
): Promise<ContainerNetworkSetup> {
  const dir = containerDir(root, info.id);
  const snap = netSnapshot();
  const mtu = defaultMtu(snap);
  const interfaces: NetInterfaceSpec[] = [];
  const doc: ContainerNetworkDoc = { version: 1, name: info.name, hostname: info.hostname, extraHosts: [...(info.extraHosts ?? [])], Ports: {}, Networks: {} };
  const hosts = join(dir, 'hosts');
  const resolv = join(dir, 'resolv.conf');
  try {
    const pairs: Array<{ net: NetworkRecord; endpoint: Endpoint }> = [];
    for (const [i, r] of reqs.entries()) {
      const netId = r.network === DEFAULT_NETWORK ? ensureDefaultNetwork(root).id : findNetwork(root, r.network).id;
      const iface = `eth${i}`;
      pairs.push(
        allocateEndpoint(root, netId, {
          container: info.id,
          name: info.name,
          hostname: info.hostname,
          aliases: [...(r.aliases ?? [])],
          iface,
          hostName: hostEndName(info.id, iface),
          ...(r.ip !== undefined ? { ipv4: r.ip } : {}),
          ...(r.ip6 !== undefined ? { ipv6: r.ip6 } : {}),
          ...(r.mac !== undefined ? { mac: r.mac } : {}),
        }),
      );
    }
    for (const { net, endpoint } of pairs) {
      await ensureBridge(root, net, mtu, snap);
      const spec = interfaceOf(net, endpoint, mtu);
      // One default route: the first network's (the others' gateways would clash with it).
      if (interfaces.length > 0) {
        delete spec.gateway;
        delete spec.gateway6;
      }
      interfaces.push(spec);
      doc.Networks[net.name] = endpointSettings(net, endpoint);
    }
    const first = pairs[0];
    if (publish.length || exposed.length) {
      if (!first) throw bad('published ports need a bridge network (--network none or host publishes nothing)');
      const ip = first.endpoint.ipv4 || first.endpoint.ipv6;
      const published = await publishPorts(root, info.id, first.net.bridge, ip, publish, exposed);
      doc.Ports = published.ports;
    }
    writeInPlace(resolv, resolvText(info));
    if (!existsSync(hosts)) writeInPlace(hosts, ''); // (written in full under the lock below)
    writeNetworkDoc(root, info.id, doc);
    withNetworkLock(root, () => rewriteMembers(root, pairs.map((p) => p.net), info.id));
    return { interfaces, cleanup: releaseArgv(root, info.id), hosts, resolv };
  } catch (err) {
    await releaseContainerNetwork(root, info.id, { deleteHostEnds: true }).catch(() => undefined);
    throw err;
  }
}

/** The container's leases are its own from now on (its allocator may go). */
export function networkStarted(root: string, id: string): void {
  settleEndpoints(root, id);
}

/**
 * Gives back everything of container `id`'s networks (idempotent; `network __release`, rm, the
 * end of a foreground run): its published ports (rules and claims), its leases, host ends of its
 * veths that are still there, its entry in the other members' hosts files; network.json keeps
 * no address (unless `dirGoing`: the caller removes the container's directory next).
 */
export async function releaseContainerNetwork(root: string, id: string, options: { deleteHostEnds?: boolean; dirGoing?: boolean } = {}): Promise<void> {
  await unpublishPorts(root, id);
  let hostEnds: string[] = [];
  withNetworkLock(root, () => {
    for (const net of readNetworks(root)) for (const e of readEndpoints(root, net.id)) if (e.container === id) hostEnds.push(e.hostName);
    rewriteMembers(root, releaseEndpoints(root, id));
  });
  // At a container's normal end its namespace is going: the kernel removes the pairs in its own
  // batched teardown, while an RTM_DELLINK of a veth waits for RCU (20-30 ms). Only the reconciling
  // paths (rm, prune: a monitor that died) delete what may be left.
  if (options.deleteHostEnds && hostEnds.length) {
    const n = native();
    const links = new Set(n.netLinks().map((l) => l.name));
    for (const h of hostEnds) if (links.has(h)) n.netDeleteLink(h);
    hostEnds = [];
  }
  if (options.dirGoing) return;
  const doc = readNetworkDoc(root, id);
  if (doc && (Object.keys(doc.Networks).length || Object.keys(doc.Ports).length)) writeNetworkDoc(root, id, { ...doc, Ports: {}, Networks: {} });
}

// ---------------------------------------------------------------------------------------------
// connect / disconnect of a running container

/**
 * Attaches running container (`pid`) to another network: lease, bridge, veth into its namespace,
 * hosts. Returns its settings and the interface made (what a later run plumbs again).
 */
export async function connectRunning(root: string, info: ContainerNetworkInfo, pid: number, req: NetworkRequest): Promise<{ settings: EndpointSettings; iface: NetInterfaceSpec; network: NetworkRecord }> {
  checkNetworkRequests(root, [req]);
  const net = req.network === DEFAULT_NETWORK ? ensureDefaultNetwork(root) : findNetwork(root, req.network);
  const doc = readNetworkDoc(root, info.id) ?? { version: 1 as const, name: info.name, hostname: info.hostname, extraHosts: [], Ports: {}, Networks: {} };
  if (doc.Networks[net.name]) throw new PockerError(`endpoint with name ${info.name} already exists in network ${net.name}`, { code: 'ERR_POCKER_CONFLICT', step: 'network' });
  // The first free ethN inside the container.
  const used = new Set(native().netAddresses(pid).map((a) => a.name));
  for (const l of Object.values(doc.Networks)) void l;
  let k = 0;
  const taken = new Set<string>();
  for (const n of readNetworks(root)) for (const e of readEndpoints(root, n.id)) if (e.container === info.id) taken.add(e.iface);
  while (taken.has(`eth${k}`) || used.has(`eth${k}`)) k++;
  const iface = `eth${k}`;
  const { endpoint } = allocateEndpoint(root, net.id, {
    container: info.id,
    name: info.name,
    hostname: info.hostname,
    aliases: [...(req.aliases ?? [])],
    iface,
    hostName: hostEndName(info.id, iface),
    ...(req.ip !== undefined ? { ipv4: req.ip } : {}),
    ...(req.ip6 !== undefined ? { ipv6: req.ip6 } : {}),
    ...(req.mac !== undefined ? { mac: req.mac } : {}),
  });
  let spec: NetInterfaceSpec;
  try {
    const snap = netSnapshot();
    const mtu = defaultMtu(snap);
    await ensureBridge(root, net, mtu, snap);
    spec = interfaceOf(net, endpoint, mtu);
    // A second network gives no second default route (the first network's stays).
    if (Object.keys(doc.Networks).length > 0) {
      delete spec.gateway;
      delete spec.gateway6;
    }
    native().netAttach(pid, spec);
  } catch (err) {
    releaseEndpoints(root, info.id, net.id);
    throw fromNative(err, `cannot connect to network ${net.name}`);
  }
  settleEndpoints(root, info.id);
  const settings = endpointSettings(net, endpoint);
  writeNetworkDoc(root, info.id, { ...doc, Networks: { ...doc.Networks, [net.name]: settings } });
  withNetworkLock(root, () => rewriteMembers(root, [net], info.id));
  return { settings, iface: spec, network: net };
}

/** Detaches running container (`pid`, 0 when it does not run) from a network. */
export function disconnectContainer(root: string, id: string, pid: number, netRef: string): void {
  const net = findNetwork(root, netRef);
  const ep = readEndpoints(root, net.id).find((e) => e.container === id);
  const doc = readNetworkDoc(root, id);
  if (!ep && !doc?.Networks[net.name]) {
    throw new PockerError(`container ${id.slice(0, 12)} is not connected to network ${net.name}`, { code: 'ERR_POCKER_INVALID', step: 'network' });
  }
  if (ep && pid > 0) {
    try {
      native().netDetach(pid, ep.iface);
    } catch {
      /* the namespace went away meanwhile */
    }
  }
  withNetworkLock(root, () => rewriteMembers(root, releaseEndpoints(root, id, net.id), id));
  if (doc) {
    const { [net.name]: _gone, ...rest } = doc.Networks;
    writeNetworkDoc(root, id, { ...doc, Networks: rest });
  }
}
