// lib/network/addr.ts's ipFamily() is node:net's isIP written without node:net (loading it cost a
// bridge `pocker run` ~3 ms): the two must answer alike on every string. Compared on hand-picked
// edge cases and on strings generated from a fixed seed that look like addresses (groups of hex and
// decimal, ':' '::' '.', an IPv4 tail, a zone), where a regex differs first.
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';

import { ipFamily, ipToBig } from '../../lib/network/addr.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EDGES = [
  '', ' ', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1.2.3.4 ', ' 1.2.3.4',
  '1..3.4', '1.2.3.', '.1.2.3', '0x7f.0.0.1', '127.1', '10.0.0.1/8', '1.2.3.4%eth0',
  '::', ':::', '::1', '1::', ':1', '1:', '1:::2', '::1::', '1::2::3', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%eth 0', 'fe80::1%a.b:c-d',
  '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6::8', '12345::', 'g::1', 'FFFF::ffff', '::ffff:1.2.3.4', '::ffff:01.2.3.4', '::ffff:256.2.3.4', '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1.2.3.4::', '1.2.3.4::1', '::1.2.3.4', '::1.2.3.4:1', '::ffff:1.2.3.4%z',
  '[::1]', '2001:db8::/32', '2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8:0:0:0:ff00:42:8329',
];

function generated(n: number): string[] {
  const rand = prng(0x706f636b);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hex = () => Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick('0123456789abcdefABCDEFg'.split(''))).join('');
  const dec = () => String(pick([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 300, 1000])).padStart(rand() < 0.1 ? 3 : 0, '0');
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const groups = Math.floor(rand() * 10);
    for (let g = 0; g < groups; g++) s += (g ? pick([':', ':', ':', '::', '.']) : rand() < 0.2 ? pick([':', '::']) : '') + (rand() < 0.7 ? hex() : dec());
    if (rand() < 0.3) s += pick([':', '::']);
    if (rand() < 0.3) s += `${s ? pick([':', '::']) : ''}${dec()}.${dec()}.${dec()}.${dec()}`;
    if (rand() < 0.15) s += `%${pick(['eth0', '', 'a-b.c:d', 'x y', '1', 'a_b', 'x/y', 'a%b', 'A.Z-0:9'])}`;
    out.push(s);
  }
  return out;
}

describe('ipFamily', () => {
  it('answers as node:net isIP on edge cases and on 20000 generated address-like strings', () => {
    const differ = [...EDGES, ...generated(20000)].filter((s) => ipFamily(s) !== isIP(s));
    expect(differ).toEqual([]);
    // The corpus reaches all three answers (it is not all invalid).
    const answers = new Set(generated(20000).map((s) => ipFamily(s)));
    expect([...answers].sort()).toEqual([0, 4, 6]);
  });

  it('the addresses it accepts are the ones ipToBig converts', () => {
    expect(ipToBig('10.1.2.3')).toBe(0x0a010203n);
    expect(ipToBig('::ffff:1.2.3.4')).toBe(0xffff01020304n);
    expect(ipToBig('2001:db8::1')).toBe(0x20010db8000000000000000000000001n);
    expect(() => ipToBig('1.2.3.256')).toThrow(/not an IP address/);
  });
});
