// The network flags of a container, checked for syntax only (no store, no kernel): --network's
// requests (--ip, --ip6, --network-alias, --mac-address), --add-host, --dns. Pure.

import { PockerError } from '../errors.js';
import { ipFamily } from './addr.js';

/** One network a container asks for (`--network NAME` with its --ip, --network-alias, --mac-address). */
export interface NetworkRequest {
  /** A network's name or id; `bridge` is the default network. */
  network: string;
  ip?: string;
  ip6?: string;
  aliases?: string[];
  mac?: string;
}

const MAC_RE = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

function bad(message: string, path?: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_INVALID', step: 'validate', ...(path ? { path } : {}) });
}

/** Validates `--add-host host:ip` (Docker's `host=ip` too; `host-gateway` is refused). */
export function parseAddHost(v: string): { host: string; ip: string } {
  if (typeof v !== 'string') throw bad(`invalid argument ${JSON.stringify(v)} for "--add-host" flag`);
  const sep = v.indexOf('=') >= 0 ? v.indexOf('=') : v.indexOf(':');
  const host = sep > 0 ? v.slice(0, sep) : '';
  let ip = sep > 0 ? v.slice(sep + 1) : '';
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (!HOSTNAME_RE.test(host) || ipFamily(ip) === 0) throw bad(`invalid argument "${v}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`, v);
  return { host, ip };
}

/** Validates the per-container flags (pure). */
export function validateNetworkFlags(reqs: NetworkRequest[], info: { extraHosts?: string[]; dns?: string[] }): void {
  for (const r of reqs) {
    if (r.ip !== undefined && ipFamily(r.ip) !== 4) throw bad(`invalid IPv4 address: ${r.ip}`, r.ip);
    if (r.ip6 !== undefined && ipFamily(r.ip6) !== 6) throw bad(`invalid IPv6 address: ${r.ip6}`, r.ip6);
    if (r.mac !== undefined && (!MAC_RE.test(r.mac) || (parseInt(r.mac.slice(0, 2), 16) & 1) === 1)) throw bad(`invalid MAC address: ${r.mac}`, r.mac);
    for (const a of r.aliases ?? []) if (!HOSTNAME_RE.test(a)) throw bad(`invalid network alias ${JSON.stringify(a)}`, a);
  }
  for (const h of info.extraHosts ?? []) parseAddHost(h);
  for (const d of info.dns ?? []) if (ipFamily(d) === 0) throw bad(`invalid argument "${d}" for "--dns" flag: ${d} is not an ip address`, d);
}

