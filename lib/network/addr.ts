// IP address arithmetic for IPAM: addresses as bigint (IPv4 and IPv6 alike), CIDRs, overlap.
// Pure: no I/O.
import { PockerError } from '../errors.js';

export type Family = 4 | 6;

// ipFamily is node:net's isIP, written here: node:net is the only public place it is, and loading
// node:net loads node:stream, perf_hooks and diagnostics_channel with it (~3 ms of every `pocker
// run` on a bridge network, which used nothing else of it). test/unit/addr.test.ts compares the
// two on edge cases and 20000 generated strings.
const V4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const V4 = new RegExp(`^(?:${V4_OCTET}\\.){3}${V4_OCTET}$`);
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;
const V6_ZONE = /^[0-9a-zA-Z.:-]+$/;

function isIPv6(ip: string): boolean {
  let text = ip;
  const zone = text.indexOf('%');
  if (zone !== -1) {
    if (!V6_ZONE.test(text.slice(zone + 1))) return false;
    text = text.slice(0, zone);
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  // An embedded IPv4 address ends the address (::ffff:1.2.3.4) and stands for two groups.
  const last = halves.length === 2 ? tail : head;
  let count = head.length + tail.length;
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    if (!V4.test(last.pop()!)) return false;
    count++;
  }
  if (!head.every((g) => V6_GROUP.test(g)) || !tail.every((g) => V6_GROUP.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** 4 or 6 for an IPv4 or IPv6 address (an IPv6 one may carry a %zone), 0 otherwise: node:net's isIP. */
export function ipFamily(ip: string): 0 | Family {
  if (V4.test(ip)) return 4;
  return isIPv6(ip) ? 6 : 0;
}

/** A parsed CIDR: the network's first address, the prefix length and the family. */
export interface Cidr {
  family: Family;
  /** The network address (host bits cleared). */
  base: bigint;
  bits: number;
}

const width = (f: Family): number => (f === 4 ? 32 : 128);

/** An address as a number; throws on anything ipFamily() refuses. */
export function ipToBig(ip: string): bigint {
  const f = ipFamily(ip);
  if (f === 4) return ip.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  if (f !== 6) throw new PockerError(`not an IP address: ${ip}`, { code: 'ERR_POCKER_INVALID', step: 'network', path: ip });
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBig(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** A number as an address of `family` (IPv6 in its shortest form, RFC 5952). */
export function bigToIp(n: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // The longest run (2 or more) of zero groups becomes ::
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `a.b.c.d/n` or `x::/n`; null when it is not one. `strict`: host bits must be zero. */
export function parseCidr(text: string, strict = false): Cidr | null {
  if (typeof text !== 'string') return null;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return null;
  const family = ipFamily(m[1]!);
  if (family === 0) return null;
  const bits = Number(m[2]);
  if (bits > width(family)) return null;
  const addr = ipToBig(m[1]!);
  const base = addr & mask(family, bits);
  if (strict && base !== addr) return null;
  return { family, base, bits };
}

export function mask(family: Family, bits: number): bigint {
  const w = BigInt(width(family));
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

export function cidrText(c: Cidr): string {
  return `${bigToIp(c.base, c.family)}/${c.bits}`;
}

/** The last address of the network. */
export function lastOf(c: Cidr): bigint {
  return c.base | ((1n << BigInt(width(c.family) - c.bits)) - 1n);
}

export function contains(c: Cidr, ip: string): boolean {
  const f = ipFamily(ip);
  if (f !== c.family) return false;
  const n = ipToBig(ip);
  return n >= c.base && n <= lastOf(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
}

/** Addresses a container may get: not the network's own (IPv4: nor its broadcast). */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  const last = lastOf(c);
  if (c.family === 4 && c.bits >= 31) return { first: c.base, last };
  return { first: c.base + 1n, last: c.family === 4 ? last - 1n : last };
}

/**
 * The default address pools (Docker's: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 steps),
 * or those of $POCKER_ADDRESS_POOLS (comma-separated CIDRs).
 */
export function defaultPools(env: NodeJS.ProcessEnv = process.env): Cidr[] {
  const given = env.POCKER_ADDRESS_POOLS?.trim();
  if (given) {
    return given.split(',').map((s) => {
      const c = parseCidr(s.trim());
      if (!c) throw new PockerError(`invalid POCKER_ADDRESS_POOLS entry ${JSON.stringify(s)}: expected a CIDR`, { code: 'ERR_POCKER_INVALID', step: 'network' });
      return c;
    });
  }
  const out: Cidr[] = [];
  for (let i = 17; i <= 31; i++) out.push(parseCidr(`172.${i}.0.0/16`)!);
  for (let i = 0; i < 256; i += 16) out.push(parseCidr(`192.168.${i}.0/20`)!);
  return out;
}
