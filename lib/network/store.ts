// The network store: `<root>/networks/<id>/network.json` (one bridge network's definition) and
// `<root>/networks/<id>/endpoints.json` (its IPAM leases: one endpoint per attached container),
// every read-modify-write under one lock, `<root>/networks/lock` (flock; the image store's and the
// ports' helper). Writes are atomic (temp + rename); network.json is fsync'd, endpoints.json is not
// (writeEndpoints says why). The published ports' claims live beside it in `<root>/networks/ports/`
// (lib/network/ports.ts).
//
// Leases are reconciled against live containers (a container that runs, or whose allocating
// process still lives) every time the lock is taken for an allocation and by `network prune`, so a
// SIGKILLed run never keeps an address for good.
import { randomBytes, randomHex } from '../random.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { describeContainer } from '../container/index.js';
import { containerDir } from '../container/store.js';
import { procStat } from '../proc.js';
import { PockerError } from '../errors.js';
import { withFileLockSync, writeFileAtomicSync } from '../fsutil.js';
import { native } from '../native.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';
import { bigToIp, cidrText, contains, defaultPools, hostRange, ipFamily, ipToBig, overlaps, parseCidr, type Cidr } from './addr.js';
import { rootTag } from './nft.js';
import { isoTime } from '../state/timestamps.js';

export const NETWORK_RECORD_VERSION = 1;
/** The default network's name (Docker's). */
export const DEFAULT_NETWORK = 'bridge';

/** One subnet of a network and its gateway (the bridge's address). */
export interface NetworkSubnet {
  subnet: string;
  gateway: string;
}

/** A network's definition (network.json). */
export interface NetworkRecord {
  version: typeof NETWORK_RECORD_VERSION;
  /** 64 hex. */
  id: string;
  name: string;
  driver: 'bridge';
  /** IPv4 first, then IPv6 (with `ipv6`). */
  subnets: NetworkSubnet[];
  internal: boolean;
  ipv6: boolean;
  /** The bridge device (`pocker0` for the default network, `pk-<id12>` else). */
  bridge: string;
  /** RFC 3339. */
  created: string;
  labels: Record<string, string>;
}

/**
 * A container's attachment to a network: its lease. The request's fields (EndpointRequest, below),
 * with the addresses and MAC settled and the process that made it.
 */
export interface Endpoint extends Required<EndpointRequest> {
  /** '' when the network has no subnet of that family. */
  ipv4: string;
  ipv6: string;
  mac: string;
  /** The process that made the lease (kept while it lives: the container may still be starting). */
  allocator: { pid: number; start: string };
}

export function networksDir(root: string): string {
  return join(root, 'networks');
}

function networkDir(root: string, id: string): string {
  return join(networksDir(root), id);
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID_RE = /^[0-9a-f]{64}$/;

function netError(message: string, code: 'ERR_POCKER_INVALID' | 'ERR_POCKER_NOT_FOUND' | 'ERR_POCKER_CONFLICT' | 'ERR_POCKER_AMBIGUOUS' | 'ERR_POCKER', path?: string): PockerError {
  return new PockerError(message, { code, step: 'network', ...(path ? { path } : {}) });
}

/** Roots whose lock this process holds right now (the lock is taken synchronously: no interleaving). */
const held = new Set<string>();

/** Runs `fn` under the networks lock (re-entrant: a nested call runs under the lock already held). */
export function withNetworkLock<T>(root: string, fn: () => T): T {
  if (held.has(root)) return fn();
  mkdirSync(networksDir(root), { recursive: true, mode: 0o700 });
  return withFileLockSync(
    join(networksDir(root), 'lock'),
    () => {
      held.add(root);
      try {
        return fn();
      } finally {
        held.delete(root);
      }
    },
    { step: 'network', what: 'the networks lock' },
  );
}

/** A JSON file's document; undefined when it does not exist (or, with `emptyIsNone`, is empty). */
function readJson(path: string, emptyIsNone = false): unknown {
  try {
    const text = readFileSync(path, 'utf8');
    if (emptyIsNone && text === '') return undefined;
    return JSON.parse(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw netError(`cannot read ${path}: ${(err as Error).message}`, 'ERR_POCKER', path);
  }
}

function parseRecord(doc: unknown, path: string): NetworkRecord | null {
  if (doc === undefined) return null;
  const r = doc as Partial<NetworkRecord> | null;
  if (!r || typeof r !== 'object' || r.version !== NETWORK_RECORD_VERSION || typeof r.id !== 'string' || typeof r.name !== 'string' || !Array.isArray(r.subnets) || typeof r.bridge !== 'string') {
    throw new PockerError(`the network record ${path} is damaged or was written by a newer pocker`, { code: 'ERR_POCKER_STORE_CORRUPT', step: 'network', path });
  }
  return { ...r, labels: r.labels ?? {} } as NetworkRecord;
}

/** Every network of `root` (unsorted). */
export function readNetworks(root: string): NetworkRecord[] {
  let ids: string[];
  try {
    ids = readdirSync(networksDir(root)).filter((n) => ID_RE.test(n));
  } catch {
    return [];
  }
  const out: NetworkRecord[] = [];
  for (const id of ids) {
    const path = join(networkDir(root, id), 'network.json');
    const r = parseRecord(readJson(path), path);
    if (r) out.push(r);
  }
  return out;
}

function writeRecord(root: string, r: NetworkRecord): void {
  const dir = networkDir(root, r.id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomicSync(join(dir, 'network.json'), `${JSON.stringify(r, null, 2)}\n`);
}

/** The endpoints (leases) of network `id`. */
export function readEndpoints(root: string, id: string): Endpoint[] {
  // An empty file is what a power loss may leave of a write that was never fsync'd (writeEndpoints):
  // no container survived it, so it holds no lease.
  const doc = readJson(join(networkDir(root, id), 'endpoints.json'), true);
  if (!doc || typeof doc !== 'object') return [];
  const list = (doc as { endpoints?: unknown }).endpoints;
  return Array.isArray(list) ? (list as Endpoint[]).filter((e) => e && typeof e.container === 'string') : [];
}

/**
 * Atomic (temp + rename: a reader or a SIGKILL never sees half a file) but not fsync'd: a lease
 * matters only while its container lives, and no container outlives a power loss or a reboot,
 * after which every lease is reconciled away (its container does not run, its allocator is gone).
 * So durability would buy nothing, and it cost two fsyncs (file and directory) per write — three
 * writes per container (allocate, settle, release), 5-10 ms each on this machine's ext4 under
 * load: most of what a bridge added to run() (bench/README.md, "The network bench").
 */
function writeEndpoints(root: string, id: string, endpoints: Endpoint[]): void {
  mkdirSync(networkDir(root, id), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(join(networkDir(root, id), 'endpoints.json'), `${JSON.stringify({ version: 1, endpoints }, null, 2)}\n`, { durable: false });
}

/** Finds a network by name, full id or unique id prefix (Docker's order). */
export function findNetwork(root: string, ref: string, all: NetworkRecord[] = readNetworks(root)): NetworkRecord {
  const byName = all.find((n) => n.name === ref);
  if (byName) return byName;
  const byId = all.find((n) => n.id === ref);
  if (byId) return byId;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = all.filter((n) => n.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw netError(`network ${ref} is ambiguous (${hits.length} matches found based on ID prefix)`, 'ERR_POCKER_AMBIGUOUS', ref);
  }
  throw netError(`network ${ref} not found`, 'ERR_POCKER_NOT_FOUND', ref);
}

// ---------------------------------------------------------------------------------------------
// Liveness

/** A process's start time (/proc/PID/stat field 22), '' when it is gone: with the pid, who holds a lease or claim. */
const procStart = (pid: number | 'self'): string => procStat(pid)?.start ?? '';

export function selfAllocator(): { pid: number; start: string } {
  return { pid: process.pid, start: procStart('self') };
}

function allocatorAlive(a: Endpoint['allocator'] | undefined): boolean {
  return !!a && a.pid > 0 && a.start !== '' && procStart(a.pid) === a.start;
}

/** Does container `id` run (or is it about to: restarting)? */
export function containerLive(root: string, id: string): boolean {
  const dir = containerDir(root, id);
  if (!existsSync(dir)) return false;
  try {
    const c = describeContainer({ id, name: id.slice(0, 12), dir, logPath: '' });
    return c.status === 'running' && !c.deadOwner && !c.damaged;
  } catch {
    return false;
  }
}

/** An endpoint to keep: its container lives, or its allocator does (the container is starting). */
export function endpointLive(root: string, e: Endpoint): boolean {
  return allocatorAlive(e.allocator) || containerLive(root, e.container);
}

// ---------------------------------------------------------------------------------------------
// Creating networks

/** What createNetwork() takes (the library's and `pocker network create`'s options). */
export interface NetworkCreateOptions {
  /** Only `bridge`. */
  driver?: string;
  /** CIDRs: at most one IPv4 and (with ipv6) one IPv6. */
  subnets?: string[];
  /** Gateways, in the order of `subnets`. */
  gateways?: string[];
  internal?: boolean;
  ipv6?: boolean;
  labels?: Record<string, string>;
}

function routesCidrs(): Cidr[] {
  try {
    return native()
      .netRoutes()
      .map((r) => parseCidr(r.dst))
      .filter((c): c is Cidr => c !== null && c.bits > 0);
  } catch {
    return [];
  }
}

/** A free subnet of the pools: overlapping no network of `taken` and no route of this namespace. */
function pickSubnet(taken: Cidr[]): Cidr {
  const avoid = [...taken, ...routesCidrs()];
  for (const pool of defaultPools()) if (!avoid.some((c) => overlaps(c, pool))) return pool;
  throw netError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network', 'ERR_POCKER_CONFLICT');
}

/** A ULA /64 for an --ipv6 network without a given IPv6 subnet. */
function pickSubnet6(taken: Cidr[]): Cidr {
  for (let i = 0; i < 64; i++) {
    const c = parseCidr(`fd${randomHex(5).replace(/^(..)(....)(....)$/, '$1:$2:$3')}::/64`)!;
    if (!taken.some((t) => overlaps(t, c))) return c;
  }
  throw netError('could not find a free IPv6 subnet', 'ERR_POCKER_CONFLICT');
}

/** Validates options into subnets (no I/O but the routes). Throws ERR_POCKER_INVALID / CONFLICT. */
function planSubnets(o: NetworkCreateOptions, existing: NetworkRecord[]): NetworkSubnet[] {
  const subnets = o.subnets ?? [];
  const gateways = o.gateways ?? [];
  if (!Array.isArray(subnets) || !Array.isArray(gateways)) throw netError('invalid network options: subnets and gateways must be arrays', 'ERR_POCKER_INVALID');
  if (gateways.length > subnets.length) throw netError('every ip-range or gateway must have a corresponding subnet', 'ERR_POCKER_INVALID');
  const parsed = subnets.map((s) => {
    const c = parseCidr(s);
    if (!c) throw netError(`invalid subnet ${JSON.stringify(s)}: expected a CIDR (172.20.0.0/16, fd00:1::/64)`, 'ERR_POCKER_INVALID', s);
    if ((c.family === 4 && c.bits > 30) || (c.family === 6 && c.bits > 126)) throw netError(`invalid subnet ${s}: too small for a gateway and a container`, 'ERR_POCKER_INVALID', s);
    return c;
  });
  if (parsed.filter((c) => c.family === 4).length > 1 || parsed.filter((c) => c.family === 6).length > 1) {
    throw netError('a network takes at most one IPv4 and one IPv6 subnet', 'ERR_POCKER_INVALID');
  }
  if (parsed.some((c) => c.family === 6) && !o.ipv6) throw netError('an IPv6 subnet needs --ipv6 (EnableIPv6)', 'ERR_POCKER_INVALID');
  const taken = existing.flatMap((n) => n.subnets.map((s) => parseCidr(s.subnet)!));
  for (const c of parsed) {
    const clash = existing.find((n) => n.subnets.some((s) => overlaps(parseCidr(s.subnet)!, c)));
    if (clash) throw netError(`Pool overlaps with other one on this address space: ${cidrText(c)} overlaps network ${clash.name}`, 'ERR_POCKER_CONFLICT', cidrText(c));
  }
  const out: NetworkSubnet[] = [];
  const pairs: Array<{ c: Cidr; gw?: string }> = parsed.map((c, i) => ({ c, ...(gateways[i] !== undefined ? { gw: gateways[i] } : {}) }));
  if (!pairs.some((p) => p.c.family === 4)) pairs.unshift({ c: pickSubnet(taken) });
  if (o.ipv6 && !pairs.some((p) => p.c.family === 6)) pairs.push({ c: pickSubnet6(taken) });
  for (const { c, gw } of pairs) {
    let gateway: string;
    if (gw !== undefined) {
      if (typeof gw !== 'string' || ipFamily(gw) === 0) throw netError(`invalid gateway ${JSON.stringify(gw)}: expected an IP address`, 'ERR_POCKER_INVALID', String(gw));
      const { first, last } = hostRange(c);
      const n = ipToBig(gw);
      if (!contains(c, gw) || n < first || n > last) throw netError(`no matching subnet for gateway ${gw}: it is outside ${cidrText(c)} (or is its network or broadcast address)`, 'ERR_POCKER_INVALID', gw);
      gateway = gw;
    } else {
      gateway = bigToIp(hostRange(c).first, c.family);
    }
    out.push({ subnet: cidrText(c), gateway });
  }
  return out.sort((a, b) => (a.subnet.includes(':') ? 1 : 0) - (b.subnet.includes(':') ? 1 : 0));
}

function validateCreate(name: unknown, o: NetworkCreateOptions): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 128) {
    throw netError(`invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, 'ERR_POCKER_INVALID');
  }
  if (name === 'none' || name === 'host' || name === DEFAULT_NETWORK) {
    throw netError(`network name ${name} is reserved: it is a predefined network`, 'ERR_POCKER_CONFLICT', name);
  }
  if (o.driver !== undefined && o.driver !== 'bridge') throw netError(`plugin "${String(o.driver)}" not found: pocker has the bridge driver only`, 'ERR_POCKER_INVALID', String(o.driver));
  if (o.labels !== undefined && (typeof o.labels !== 'object' || o.labels === null || Object.values(o.labels).some((v) => typeof v !== 'string'))) {
    throw netError('invalid labels: must be an object of strings', 'ERR_POCKER_INVALID');
  }
}

/**
 * Records a new network (nothing in the kernel yet: its bridge and rules are made when the first
 * container attaches). Throws before writing anything on bad input, a duplicate name or an
 * overlapping subnet.
 */
export function createNetworkRecord(root: string, name: string, o: NetworkCreateOptions = {}): NetworkRecord {
  validateCreate(name, o);
  return withNetworkLock(root, () => {
    const existing = readNetworks(root);
    if (existing.some((n) => n.name === name)) throw netError(`network with name ${name} already exists`, 'ERR_POCKER_CONFLICT', name);
    const subnets = planSubnets(o, existing);
    const id = randomHex(32);
    const r: NetworkRecord = {
      version: NETWORK_RECORD_VERSION,
      id,
      name,
      driver: 'bridge',
      subnets,
      internal: !!o.internal,
      ipv6: !!o.ipv6,
      bridge: `pk-${id.slice(0, 12)}`,
      created: isoTime(),
      labels: { ...(o.labels ?? {}) },
    };
    writeRecord(root, r);
    return r;
  });
}

/** The default network's bridge device: `pocker0` for the default root, else one per root. */
export function defaultBridgeName(root: string): string {
  return root === DEFAULT_STATE_ROOT ? 'pocker0' : `pk0-${rootTag(root)}`;
}

/**
 * The default `bridge` network, recorded on first use: its subnet is $POCKER_DEFAULT_SUBNET, or the
 * first pool (lib/network/addr.ts defaultPools) that overlaps no route of this namespace and no
 * other network.
 */
export function ensureDefaultNetwork(root: string): NetworkRecord {
  const found = readNetworks(root).find((n) => n.name === DEFAULT_NETWORK);
  if (found) return found;
  const fixed = process.env.POCKER_DEFAULT_SUBNET?.trim();
  if (fixed && !parseCidr(fixed)) throw netError(`invalid POCKER_DEFAULT_SUBNET ${JSON.stringify(fixed)}: expected a CIDR`, 'ERR_POCKER_INVALID', fixed);
  return withNetworkLock(root, () => {
    const existing = readNetworks(root);
    const again = existing.find((n) => n.name === DEFAULT_NETWORK);
    if (again) return again;
    const subnets = planSubnets(fixed ? { subnets: [fixed] } : {}, existing);
    const id = randomHex(32);
    const r: NetworkRecord = {
      version: NETWORK_RECORD_VERSION,
      id,
      name: DEFAULT_NETWORK,
      driver: 'bridge',
      subnets,
      internal: false,
      ipv6: false,
      bridge: defaultBridgeName(root),
      created: isoTime(),
      labels: {},
    };
    writeRecord(root, r);
    return r;
  });
}

/** Removes a network's record (the caller removed its bridge and rules). */
export function removeNetworkRecord(root: string, id: string): void {
  rmSync(networkDir(root, id), { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// IPAM

/** What a container asks of a network (Endpoint, above, is the lease it gets). */
export interface EndpointRequest {
  container: string;
  /** The container's name and hostname (what other members resolve, with `aliases`). */
  name: string;
  hostname: string;
  aliases: string[];
  /** The interface in the container (eth0, eth1 …) and its host end. */
  iface: string;
  hostName: string;
  /** --ip / --ip6 */
  ipv4?: string;
  ipv6?: string;
  /** --mac-address */
  mac?: string;
}

/** Docker's MAC of an IPv4 address: 02:42 then the address's four bytes. */
export function macOf(ipv4: string): string {
  const bytes = ipv4 ? ipv4.split('.').map(Number) : [...randomBytes(4)];
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** Checks --ip/--ip6 against a network (before anything is created). */
export function checkRequestedAddress(net: NetworkRecord, ip: string | undefined, family: 4 | 6): void {
  if (ip === undefined) return;
  if (ipFamily(ip) !== family) throw netError(`invalid IPv${family} address: ${ip}`, 'ERR_POCKER_INVALID', ip);
  const s = net.subnets.find((x) => x.subnet.includes(':') === (family === 6));
  if (!s) throw netError(`invalid --ip${family === 6 ? '6' : ''} ${ip}: network ${net.name} has no IPv${family} subnet`, 'ERR_POCKER_INVALID', ip);
  const c = parseCidr(s.subnet)!;
  const { first, last } = hostRange(c);
  const n = ipToBig(ip);
  if (!contains(c, ip) || n < first || n > last) throw netError(`no configured subnet or ip-range contain the IP address ${ip} (network ${net.name}: ${s.subnet})`, 'ERR_POCKER_INVALID', ip);
  if (ip === s.gateway) throw netError(`Address already in use: ${ip} is the gateway of network ${net.name}`, 'ERR_POCKER_CONFLICT', ip);
}

function pickAddress(net: NetworkRecord, family: 4 | 6, used: Set<string>, wanted: string | undefined): string {
  const s = net.subnets.find((x) => x.subnet.includes(':') === (family === 6));
  if (!s) return '';
  if (wanted !== undefined) {
    if (used.has(wanted)) throw netError(`Address already in use: ${wanted} (network ${net.name})`, 'ERR_POCKER_CONFLICT', wanted);
    return wanted;
  }
  const c = parseCidr(s.subnet)!;
  const { first, last } = hostRange(c);
  const gw = ipToBig(s.gateway);
  // The lowest free address (Docker's sequential allocation), at most 65536 probes.
  for (let n = first, k = 0; n <= last && k < 65536; n++, k++) {
    if (n === gw) continue;
    const ip = bigToIp(n, family);
    if (!used.has(ip)) return ip;
  }
  throw netError(`no available IPv${family} addresses on network ${net.name} (${s.subnet})`, 'ERR_POCKER_CONFLICT', s.subnet);
}

/**
 * Leases an address (or two: IPv4 and IPv6) of network `netId` for a container, under the lock; a
 * lease it held already is replaced. Endpoints of containers that are gone are dropped first.
 */
export function allocateEndpoint(root: string, netId: string, req: EndpointRequest): { net: NetworkRecord; endpoint: Endpoint } {
  return withNetworkLock(root, () => {
    const net = readNetworks(root).find((n) => n.id === netId);
    if (!net) throw netError(`network ${netId} not found`, 'ERR_POCKER_NOT_FOUND', netId);
    const kept = readEndpoints(root, netId).filter((e) => e.container !== req.container && endpointLive(root, e));
    const used = new Set(kept.flatMap((e) => [e.ipv4, e.ipv6]).filter((x) => x !== ''));
    const ipv4 = pickAddress(net, 4, used, req.ipv4);
    const ipv6 = pickAddress(net, 6, used, req.ipv6);
    const endpoint: Endpoint = { ...req, aliases: [...req.aliases], ipv4, ipv6, mac: req.mac ?? macOf(ipv4), allocator: selfAllocator() };
    writeEndpoints(root, netId, [...kept, endpoint]);
    return { net, endpoint };
  });
}

/** Drops container `id`'s endpoints (all networks, or one); returns the networks it left. */
export function releaseEndpoints(root: string, container: string, netId?: string): NetworkRecord[] {
  return withNetworkLock(root, () => {
    const left: NetworkRecord[] = [];
    for (const net of readNetworks(root)) {
      if (netId !== undefined && net.id !== netId) continue;
      const eps = readEndpoints(root, net.id);
      const rest = eps.filter((e) => e.container !== container);
      if (rest.length === eps.length) continue;
      writeEndpoints(root, net.id, rest);
      left.push(net);
    }
    return left;
  });
}

/** Drops the endpoints of containers that are gone (and whose allocator is gone). Returns them. */
export function reconcileEndpoints(root: string): Array<{ net: NetworkRecord; endpoint: Endpoint }> {
  return withNetworkLock(root, () => {
    const dropped: Array<{ net: NetworkRecord; endpoint: Endpoint }> = [];
    for (const net of readNetworks(root)) {
      const eps = readEndpoints(root, net.id);
      const keep = eps.filter((e) => {
        const live = endpointLive(root, e);
        if (!live) dropped.push({ net, endpoint: e });
        return live;
      });
      if (keep.length !== eps.length) writeEndpoints(root, net.id, keep);
    }
    return dropped;
  });
}

/** Marks a container's endpoints as its own (no allocator any more: the container runs). */
export function settleEndpoints(root: string, container: string): void {
  withNetworkLock(root, () => {
    for (const net of readNetworks(root)) {
      const eps = readEndpoints(root, net.id);
      if (!eps.some((e) => e.container === container)) continue;
      writeEndpoints(root, net.id, eps.map((e) => (e.container === container ? { ...e, allocator: { pid: 0, start: '' } } : e)));
    }
  });
}
