// Published ports: `-p` parsing (Docker's go-connections ParsePortSpec), `-P` (the image's
// ExposedPorts), host-port allocation, and Docker's ways of printing them (ps PORTS, `pocker port`,
// inspect's NetworkSettings.Ports). The DNAT rules themselves are lib/network/nft.ts's.
//
// Allocation: a host port is claimed by creating `<root>/networks/ports/<proto>-<hostIp|any>-<port>`
// with O_EXCL (content: the container and the allocating process, as IPAM's leases), under the
// ports lock (<root>/networks/ports/lock: a claim on `any` conflicts with one on a single address,
// which one O_EXCL file cannot say, and a stale claim is taken over without a race). A test bind
// then refuses a port a host process listens on. Free ports come from 32768–60999 (Linux's default
// ip_local_port_range, Docker's too), starting at a random place.
import { constants, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync, closeSync, existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { PockerError, errnoName, invalid } from '../errors.js';
import { native } from '../native.js';
import { procStat } from '../proc.js';
import { withFileLockThenSync } from '../fsutil.js';
import { ipFamily } from './addr.js';

export type Protocol = 'tcp' | 'udp';

/** One parsed `-p` value: `[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/tcp|/udp]`. */
export interface PortSpec {
  /** '' = all of the host's addresses. IPv6 without brackets. */
  hostIp: string;
  /** 0 (with hostPortEnd 0) = any free port. */
  hostPortStart: number;
  hostPortEnd: number;
  containerPortStart: number;
  containerPortEnd: number;
  protocol: Protocol;
}

/** One published port. */
export interface PortMapping {
  /** '' = all of the host's addresses. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  protocol: Protocol;
}

/** Docker's NetworkSettings.Ports: `{"80/tcp": [{HostIp: "0.0.0.0", HostPort: "8080"}]}` (null: exposed, not published). */
export type DockerPortMap = Record<string, Array<{ HostIp: string; HostPort: string }> | null>;

export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

// ---------------------------------------------------------------------------------------------
// Parsing

function parsePort(text: string, what: string, raw: string, allowZero: boolean): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  const min = allowZero ? 0 : 1;
  if (!m || start < min || end > 65535 || end < start || (start === 0 && end !== 0)) {
    throw invalid(`invalid publish ${JSON.stringify(raw)}: invalid ${what}: ${text}`);
  }
  return [start, end];
}

/** One `-p` value, as Docker's ParsePortSpec reads it. */
export function parsePortSpec(raw: string): PortSpec {
  if (typeof raw !== 'string' || raw === '') throw invalid(`invalid publish ${JSON.stringify(raw)}: no port specified`);
  const parts = raw.split(':');
  const n = parts.length;
  let containerPart = parts[n - 1]!;
  let hostPart = '';
  let ip = '';
  if (n === 2) hostPart = parts[0]!;
  else if (n === 3) [ip, hostPart] = [parts[0]!, parts[1]!];
  else if (n > 3) [ip, hostPart] = [parts.slice(0, n - 2).join(':'), parts[n - 2]!];
  let protocol = 'tcp';
  const slash = containerPart.indexOf('/');
  if (slash >= 0) {
    protocol = containerPart.slice(slash + 1).toLowerCase();
    containerPart = containerPart.slice(0, slash);
  }
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && ipFamily(ip) === 0) throw invalid(`invalid publish ${JSON.stringify(raw)}: invalid IP address: ${ip}`);
  if (containerPart === '') throw invalid(`invalid publish ${JSON.stringify(raw)}: no port specified: ${raw}<empty>`);
  const [cs, ce] = parsePort(containerPart, 'containerPort', raw, false);
  let [hs, he] = [0, 0];
  if (hostPart !== '') [hs, he] = parsePort(hostPart, 'hostPort', raw, true);
  // A host range for a single container port: any free port of the range (Docker).
  if (hostPart !== '' && hs !== 0 && he - hs !== ce - cs && ce !== cs) {
    throw invalid(`invalid publish ${JSON.stringify(raw)}: invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  }
  if (protocol !== 'tcp' && protocol !== 'udp') throw invalid(`invalid publish ${JSON.stringify(raw)}: invalid proto: ${protocol} (tcp or udp)`);
  // 0.0.0.0 and :: mean all addresses (for IPv4: as Docker prints them).
  if (ip === '0.0.0.0') ip = '';
  return { hostIp: ip, hostPortStart: hs, hostPortEnd: he, containerPortStart: cs, containerPortEnd: ce, protocol };
}

/** Every `-p` value (RunOptions.publish). */
export function parsePublish(values: readonly string[]): PortSpec[] {
  if (!Array.isArray(values)) throw invalid(`invalid publish ${JSON.stringify(values)}: must be an array of strings`);
  return values.map((v) => parsePortSpec(v));
}

/** `-P`: every port of the image's Config.ExposedPorts (`"80/tcp": {}`), to a free host port. */
export function exposedPorts(imageConfig: { ExposedPorts?: Record<string, unknown> | null } | null | undefined): PortSpec[] {
  const out: PortSpec[] = [];
  for (const key of Object.keys(imageConfig?.ExposedPorts ?? {})) {
    const [port = '', proto = 'tcp'] = key.split('/');
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port);
    if (!m || (proto !== 'tcp' && proto !== 'udp')) continue; // sctp, or junk: not published
    const s = Number(m[1]);
    const e = m[2] !== undefined ? Number(m[2]) : s;
    if (s < 1 || e > 65535 || e < s) continue;
    out.push({ hostIp: '', hostPortStart: 0, hostPortEnd: 0, containerPortStart: s, containerPortEnd: e, protocol: proto });
  }
  return out.sort((a, b) => a.containerPortStart - b.containerPortStart || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

/** `-p` specs plus `-P`'s: an exposed port already published by a `-p` is left to it. */
export function withPublishAll(specs: PortSpec[], exposed: PortSpec[]): PortSpec[] {
  const taken = new Set<string>();
  for (const s of specs) for (let p = s.containerPortStart; p <= s.containerPortEnd; p++) taken.add(`${p}/${s.protocol}`);
  const more: PortSpec[] = [];
  for (const e of exposed) {
    for (let p = e.containerPortStart; p <= e.containerPortEnd; p++) {
      if (!taken.has(`${p}/${e.protocol}`)) more.push({ ...e, containerPortStart: p, containerPortEnd: p });
    }
  }
  return [...specs, ...more];
}

// ---------------------------------------------------------------------------------------------
// Allocation

/** <root>/networks/ports */
export function portsDir(root: string): string {
  return join(root, 'networks', 'ports');
}

interface Claim {
  container: string;
  pid: number;
  pidStart: string;
}

function claimName(protocol: Protocol, hostIp: string, port: number): string {
  return `${protocol}-${hostIp === '' ? 'any' : hostIp}-${port}`;
}

function parseClaimName(name: string): { protocol: Protocol; hostIp: string; port: number } | null {
  const m = /^(tcp|udp)-(.+)-(\d+)$/.exec(name);
  if (!m) return null;
  return { protocol: m[1] as Protocol, hostIp: m[2] === 'any' ? '' : m[2]!, port: Number(m[3]) };
}

function readClaim(dir: string, name: string): Claim | null {
  try {
    const c = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Partial<Claim>;
    return typeof c.container === 'string' ? { container: c.container, pid: Number(c.pid) || 0, pidStart: String(c.pidStart ?? '') } : null;
  } catch {
    return null;
  }
}

/** A process's start time (/proc/PID/stat field 22), '' when it is gone: with the pid, who holds a lease or claim. */
const procStart = (pid: number | 'self'): string => procStat(pid)?.start ?? '';

function allocatorAlive(c: Claim): boolean {
  return c.pid > 0 && c.pidStart !== '' && procStart(c.pid) === c.pidStart;
}

/** Options of allocatePorts(). */
export interface AllocateOptions {
  /** Is container `id` live (its claims kept)? Default: its directory exists (publishPorts passes: it runs). */
  isLive?: (id: string) => boolean;
  /** Skip the test bind (tests of the claim files alone). */
  noBindCheck?: boolean;
}

function allocated(protocol: Protocol, hostIp: string, port: number, why?: string): PockerError {
  const ip = hostIp === '' ? '0.0.0.0' : hostIp.includes(':') ? `[${hostIp}]` : hostIp;
  return new PockerError(`Bind for ${ip}:${port} failed: port is already allocated${why ? ` (${why})` : ''}`, {
    code: 'ERR_POCKER_CONFLICT',
    step: 'network',
    path: `${port}/${protocol}`,
  });
}

/**
 * Can this process bind hostIp:port (nothing of the host listens there)? 'inuse', 'ok', or an
 * error code. Through the addon (netBindTest): Node's net.createServer() would load node:net,
 * node:stream and node:cluster for this one bind (~5 ms of a `run -p` here).
 */
function testBind(protocol: Protocol, hostIp: string, port: number): string {
  const err = native().netBindTest(protocol, hostIp === '' ? '0.0.0.0' : hostIp, port);
  return err === 0 ? 'ok' : err === osConstants.errno.EADDRINUSE ? 'inuse' : errnoName(err);
}

/**
 * Claims host ports for `specs` (parsed `-p`/`-P`) of container `containerId` whose address is
 * `containerIp`, and returns one mapping per published port. A fixed port held by another
 * container's claim, or by a process of this host, is "port is already allocated"
 * (ERR_POCKER_CONFLICT, step `network`); nothing stays claimed when it fails.
 */
export async function allocatePorts(root: string, containerId: string, specs: PortSpec[], containerIp: string, options: AllocateOptions = {}): Promise<PortMapping[]> {
  if (specs.length === 0) return [];
  const dir = portsDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const isLive = options.isLive ?? ((id: string) => existsSync(join(root, 'containers', id)));
  const me: Claim = { container: containerId, pid: process.pid, pidStart: procStart('self') };
  // The critical section is synchronous (the bind test is the addon's): no AsyncLocalStorage is
  // entered for it (withFileLockThenSync), which would turn on promise hooks for the rest of a run.
  return withFileLockThenSync(join(dir, 'lock'), () => {
    // What is claimed, by name; stale claims (a dead container's, whose allocator is gone too) go.
    const names = new Set(readdirSync(dir).filter((n) => parseClaimName(n) !== null));
    const mine: string[] = [];
    const taken = (protocol: Protocol, hostIp: string, port: number): boolean => {
      const clash = (name: string): boolean => {
        if (!names.has(name)) return false;
        const c = readClaim(dir, name);
        if (c && (c.container === containerId || isLive(c.container) || allocatorAlive(c))) return true;
        try {
          unlinkSync(join(dir, name));
        } catch {
          /* gone already */
        }
        names.delete(name);
        return false;
      };
      if (clash(claimName(protocol, hostIp, port)) || clash(claimName(protocol, '', port))) return true;
      if (hostIp === '') {
        for (const n of [...names]) {
          const p = parseClaimName(n);
          if (p && p.protocol === protocol && p.port === port && clash(n)) return true;
        }
      }
      return false;
    };
    const claim = (protocol: Protocol, hostIp: string, port: number): void => {
      const name = claimName(protocol, hostIp, port);
      const fd = openSync(join(dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      names.add(name);
      mine.push(name);
    };
    /** Claims one port; null when taken (or held by a host process), with the reason. */
    const tryPort = (protocol: Protocol, hostIp: string, port: number): string | null => {
      if (taken(protocol, hostIp, port)) return 'claimed';
      claim(protocol, hostIp, port);
      if (options.noBindCheck) return null;
      const bound = testBind(protocol, hostIp, port);
      if (bound === 'ok') return null;
      unlinkSync(join(dir, mine.pop()!));
      names.delete(claimName(protocol, hostIp, port));
      return bound;
    };
    const out: PortMapping[] = [];
    try {
      for (const s of specs) {
        for (let i = 0; i <= s.containerPortEnd - s.containerPortStart; i++) {
          const containerPort = s.containerPortStart + i;
          let first: number;
          let last: number;
          let fixed: boolean;
          if (s.hostPortStart === 0) {
            [first, last, fixed] = [EPHEMERAL_FIRST, EPHEMERAL_LAST, false];
          } else if (s.hostPortEnd - s.hostPortStart === s.containerPortEnd - s.containerPortStart) {
            [first, last, fixed] = [s.hostPortStart + i, s.hostPortStart + i, true];
          } else {
            [first, last, fixed] = [s.hostPortStart, s.hostPortEnd, false];
          }
          const count = last - first + 1;
          const offset = s.hostPortStart === 0 ? Math.floor(Math.random() * count) : 0;
          let got = 0;
          let why: string | null = null;
          for (let k = 0; k < count && got === 0; k++) {
            const port = first + ((offset + k) % count);
            why = tryPort(s.protocol, s.hostIp, port);
            if (why === null) got = port;
            else if (why !== 'claimed' && why !== 'inuse') {
              // Not a port question: the address is not this host's (EADDRNOTAVAIL), ...
              throw new PockerError(`cannot publish on ${s.hostIp || '0.0.0.0'}:${port}/${s.protocol}: ${why === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : why}`, {
                code: why === 'EADDRNOTAVAIL' ? 'ERR_POCKER_INVALID' : 'ERR_POCKER',
                step: 'network',
                path: `${port}/${s.protocol}`,
              });
            }
          }
          if (got === 0) {
            if (fixed) throw allocated(s.protocol, s.hostIp, first, why === 'inuse' ? 'a process of this host listens on it' : undefined);
            throw new PockerError(`no free host port for ${containerPort}/${s.protocol} in ${first}-${last}`, { code: 'ERR_POCKER_CONFLICT', step: 'network', path: `${containerPort}/${s.protocol}` });
          }
          out.push({ hostIp: s.hostIp, hostPort: got, containerIp, containerPort, protocol: s.protocol });
        }
      }
      return out;
    } catch (err) {
      for (const name of mine) {
        try {
          unlinkSync(join(dir, name));
        } catch {
          /* gone */
        }
      }
      throw err;
    }
  }, { step: 'network', what: 'the ports lock' });
}

/** The claim files of the ports dir with their content. */
function claims(root: string): Array<{ name: string; claim: Claim | null }> {
  const dir = portsDir(root);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => parseClaimName(n) !== null).map((name) => ({ name, claim: readClaim(dir, name) }));
}

/** Releases every host port container `containerId` holds (idempotent). Returns how many went. */
export function releasePorts(root: string, containerId: string): number {
  let n = 0;
  for (const { name, claim } of claims(root)) {
    if (claim?.container !== containerId) continue;
    try {
      unlinkSync(join(portsDir(root), name));
      n++;
    } catch {
      /* released by someone else */
    }
  }
  return n;
}

/**
 * Drops the claims of containers not in `live` whose allocating process is gone too (a claim being
 * made for a container still starting is kept). Returns how many went.
 */
export function reconcilePorts(root: string, live: Set<string>): number {
  let n = 0;
  for (const { name, claim } of claims(root)) {
    if (claim && (live.has(claim.container) || allocatorAlive(claim))) continue;
    try {
      unlinkSync(join(portsDir(root), name));
      n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

/** The host ports claimed under `root`: for tests and `network inspect`. */
export function claimedPorts(root: string): Array<{ protocol: Protocol; hostIp: string; port: number; container: string }> {
  return claims(root).flatMap(({ name, claim }) => {
    const p = parseClaimName(name);
    return p && claim ? [{ ...p, container: claim.container }] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// Printing, as Docker does

/** Docker's HostIp for a mapping ('' = all: 0.0.0.0). */
function dockerHostIp(hostIp: string): string {
  return hostIp === '' ? '0.0.0.0' : hostIp;
}

/** Mappings (and exposed, unpublished ports) as Docker's NetworkSettings.Ports. */
export function toDockerPorts(mappings: PortMapping[], exposed: PortSpec[] = []): DockerPortMap {
  const out: DockerPortMap = {};
  for (const e of exposed) for (let p = e.containerPortStart; p <= e.containerPortEnd; p++) out[`${p}/${e.protocol}`] ??= null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.protocol}`;
    (out[key] ??= []).push({ HostIp: dockerHostIp(m.hostIp), HostPort: String(m.hostPort) });
  }
  return out;
}

/** One of Docker's api types.Port (what `ps` groups). */
interface ApiPort {
  IP: string;
  PrivatePort: number;
  PublicPort: number;
  Type: string;
}

function apiPorts(ports: DockerPortMap): ApiPort[] {
  const out: ApiPort[] = [];
  for (const [key, bindings] of Object.entries(ports)) {
    const [p = '', type = 'tcp'] = key.split('/');
    const private_ = Number(p);
    if (!Number.isInteger(private_)) continue;
    if (!bindings || bindings.length === 0) out.push({ IP: '', PrivatePort: private_, PublicPort: 0, Type: type });
    else for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: private_, PublicPort: Number(b.HostPort) || 0, Type: type });
  }
  return out;
}

function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Docker's PORTS column (docker/cli's DisplayablePorts): `0.0.0.0:8080->80/tcp`, consecutive ports
 * of one address grouped (`0.0.0.0:8000-8001->8000-8001/tcp`), exposed but unpublished ports as `80/tcp`.
 */
export function formatPortMap(ports: DockerPortMap): string {
  const list = apiPorts(ports).sort((a, b) =>
    a.PrivatePort !== b.PrivatePort ? a.PrivatePort - b.PrivatePort
      : a.IP !== b.IP ? (a.IP < b.IP ? -1 : 1)
        : a.PublicPort !== b.PublicPort ? a.PublicPort - b.PublicPort
          : a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0);
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const form = (key: string, g: { first: number; last: number }): string => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let group = g.first === g.last ? String(g.first) : `${g.first}-${g.last}`;
    if (ip !== '') group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const port of list) {
    const current = port.PrivatePort;
    let key = port.Type;
    if (port.IP !== '') {
      if (port.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(port.IP, port.PublicPort)}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(form(key, g));
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(form(key, g));
  return [...result, ...hostMappings].join(', ');
}

/** Mappings as Docker's PORTS column. */
export function formatPorts(mappings: PortMapping[], exposed: PortSpec[] = []): string {
  return formatPortMap(toDockerPorts(mappings, exposed));
}

/**
 * `pocker port`'s lines: `80/tcp -> 0.0.0.0:8080` for each binding, or, for one private port
 * (`80`, `80/udp`), its bindings `0.0.0.0:8080`; null when that port is not published.
 */
export function portLines(ports: DockerPortMap, privatePort?: string): string[] | null {
  const keys = Object.keys(ports).sort((a, b) => {
    const [pa = '', ta = ''] = a.split('/');
    const [pb = '', tb = ''] = b.split('/');
    return Number(pa) - Number(pb) || (ta < tb ? -1 : ta > tb ? 1 : 0);
  });
  if (privatePort !== undefined) {
    const key = privatePort.includes('/') ? privatePort.toLowerCase() : `${privatePort}/tcp`;
    const bindings = ports[key];
    if (!bindings || bindings.length === 0) return null;
    return bindings.map((b) => joinHostPort(b.HostIp, b.HostPort));
  }
  const out: string[] = [];
  for (const key of keys) for (const b of ports[key] ?? []) out.push(`${key} -> ${joinHostPort(b.HostIp, b.HostPort)}`);
  return out;
}

/**
 * The published ports of a container, from `<root>/containers/<id>/network.json` (written by the
 * network flow: `{ Ports: {"80/tcp": [{HostIp, HostPort}]}, ... }`); {} when there is none.
 */
export function readContainerPorts(root: string, id: string): DockerPortMap {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(join(root, 'containers', id, 'network.json'), 'utf8'));
  } catch {
    return {};
  }
  const ports = (doc as { Ports?: unknown } | null)?.Ports;
  if (!ports || typeof ports !== 'object') return {};
  const out: DockerPortMap = {};
  for (const [key, value] of Object.entries(ports as Record<string, unknown>)) {
    if (!/^\d+\/(tcp|udp|sctp)$/.test(key)) continue;
    if (!Array.isArray(value)) {
      out[key] = null;
      continue;
    }
    out[key] = value
      .filter((b): b is { HostIp?: unknown; HostPort?: unknown } => b !== null && typeof b === 'object')
      .map((b) => ({ HostIp: typeof b.HostIp === 'string' ? b.HostIp : '', HostPort: String(b.HostPort ?? '') }));
  }
  return out;
}
