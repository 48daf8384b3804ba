// The network store and IPAM (lib/network/store.ts, lib/network/addr.ts): records, the default
// network's subnet picked clear of this namespace's routes, bad input refused with nothing written,
// leases under the lock, released and reconciled against live containers.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { bigToIp, ipToBig, overlaps, parseCidr } from '../../lib/network/addr.js';
import {
  allocateEndpoint,
  createNetworkRecord,
  ensureDefaultNetwork,
  findNetwork,
  readEndpoints,
  readNetworks,
  reconcileEndpoints,
  releaseEndpoints,
  networksDir,
  type EndpointRequest,
} from '../../lib/network/store.js';
import { native } from '../../lib/native.js';
import { removeTempDirs, tempRoot } from '../helpers.js';

afterAll(() => removeTempDirs());

const newId = (): string => randomBytes(32).toString('hex');
const req = (container: string, over: Partial<EndpointRequest> = {}): EndpointRequest => ({
  container,
  name: `c-${container.slice(0, 6)}`,
  hostname: container.slice(0, 12),
  aliases: [],
  iface: 'eth0',
  hostName: `vp${container.slice(0, 12)}`,
  ...over,
});

describe('addresses', () => {
  it('parses, prints and compares IPv4 and IPv6', () => {
    expect(bigToIp(ipToBig('172.17.0.2'), 4)).toBe('172.17.0.2');
    expect(bigToIp(ipToBig('fd00:1::5'), 6)).toBe('fd00:1::5');
    expect(bigToIp(ipToBig('::1'), 6)).toBe('::1');
    expect(bigToIp(ipToBig('2001:db8:0:0:1:0:0:1'), 6)).toBe('2001:db8::1:0:0:1');
    expect(parseCidr('10.1.2.3/16')).toMatchObject({ family: 4, bits: 16, base: ipToBig('10.1.0.0') });
    expect(parseCidr('10.1.2.3/33')).toBeNull();
    expect(parseCidr('nope/8')).toBeNull();
    expect(overlaps(parseCidr('10.0.0.0/8')!, parseCidr('10.9.0.0/16')!)).toBe(true);
    expect(overlaps(parseCidr('10.0.0.0/16')!, parseCidr('10.1.0.0/16')!)).toBe(false);
  });
});

describe('network records', () => {
  it('the default network takes a pool subnet that clashes with no route here; its bridge is per root', () => {
    const root = tempRoot();
    // A route of this namespace on 172.17/16 pushes the default to the next pool.
    native().netBridge('pkstore0', ['172.17.0.1/16'], 1500);
    try {
      const d = ensureDefaultNetwork(root);
      expect(d).toMatchObject({ name: 'bridge', driver: 'bridge', internal: false });
      expect(d.subnets[0]!.subnet).not.toBe('172.17.0.0/16');
      expect(d.subnets[0]!.gateway).toBe(d.subnets[0]!.subnet.replace(/0\/\d+$/, '1'));
      expect(d.bridge).toMatch(/^pk0-[0-9a-f]{8}$/);
      expect(ensureDefaultNetwork(root).id).toBe(d.id);
    } finally {
      native().netDeleteLink('pkstore0');
    }
  });

  it('creates user networks; refuses bad input with nothing written', () => {
    const root = tempRoot();
    const a = createNetworkRecord(root, 'front', { subnets: ['10.50.0.0/24'] });
    expect(a).toMatchObject({ name: 'front', subnets: [{ subnet: '10.50.0.0/24', gateway: '10.50.0.1' }], bridge: `pk-${a.id.slice(0, 12)}` });
    const b = createNetworkRecord(root, 'v6', { subnets: ['10.51.0.0/24', 'fd00:51::/64'], gateways: ['10.51.0.254'], ipv6: true, internal: true });
    expect(b.subnets).toEqual([{ subnet: '10.51.0.0/24', gateway: '10.51.0.254' }, { subnet: 'fd00:51::/64', gateway: 'fd00:51::1' }]);
    expect(findNetwork(root, 'v6').id).toBe(b.id);
    expect(findNetwork(root, b.id.slice(0, 8)).id).toBe(b.id);
    const before = readdirSync(networksDir(root)).sort();
    const bad: Array<[string, Parameters<typeof createNetworkRecord>[2], string]> = [
      ['front', {}, 'ERR_POCKER_CONFLICT'],
      ['bridge', {}, 'ERR_POCKER_CONFLICT'],
      ['x', { subnets: ['10.50.0.128/25'] }, 'ERR_POCKER_CONFLICT'],
      ['x', { subnets: ['10.60.0.0/24'], gateways: ['10.61.0.1'] }, 'ERR_POCKER_INVALID'],
      ['x', { subnets: ['10.60.0.0/24'], gateways: ['10.60.0.255'] }, 'ERR_POCKER_INVALID'],
      ['x', { subnets: ['10.60.0.300/24'] }, 'ERR_POCKER_INVALID'],
      ['x', { subnets: ['fd00:9::/64'] }, 'ERR_POCKER_INVALID'],
      ['x', { driver: 'overlay' }, 'ERR_POCKER_INVALID'],
      ['-bad', {}, 'ERR_POCKER_INVALID'],
    ];
    for (const [name, o, code] of bad) {
      expect(() => createNetworkRecord(root, name, o), `${name} ${JSON.stringify(o)}`).toThrow(expect.objectContaining({ code, step: 'network' }));
    }
    expect(readdirSync(networksDir(root)).sort()).toEqual(before);
    expect(() => findNetwork(root, 'nope')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_NOT_FOUND', message: 'network nope not found' }));
  });
});

describe('IPAM', () => {
  it('leases the lowest free addresses, --ip inside the subnet, releases and reconciles', () => {
    const root = tempRoot();
    const n = createNetworkRecord(root, 'ipam', { subnets: ['10.70.0.0/24', 'fd00:70::/64'], ipv6: true });
    const [a, b, c] = [newId(), newId(), newId()];
    expect(allocateEndpoint(root, n.id, req(a)).endpoint).toMatchObject({ ipv4: '10.70.0.2', ipv6: 'fd00:70::2', mac: '02:42:0a:46:00:02' });
    expect(allocateEndpoint(root, n.id, req(b)).endpoint.ipv4).toBe('10.70.0.3');
    expect(allocateEndpoint(root, n.id, req(c, { ipv4: '10.70.0.9', mac: '02:00:00:00:00:09' })).endpoint).toMatchObject({ ipv4: '10.70.0.9', mac: '02:00:00:00:00:09' });
    expect(() => allocateEndpoint(root, n.id, req(newId(), { ipv4: '10.70.0.9' }))).toThrow(expect.objectContaining({ code: 'ERR_POCKER_CONFLICT' }));
    // Again for the same container: its lease is replaced, not doubled.
    allocateEndpoint(root, n.id, req(b));
    expect(readEndpoints(root, n.id).map((e) => e.ipv4).sort()).toEqual(['10.70.0.2', '10.70.0.3', '10.70.0.9']);
    expect(releaseEndpoints(root, a).map((x) => x.id)).toEqual([n.id]);
    expect(allocateEndpoint(root, n.id, req(newId())).endpoint.ipv4).toBe('10.70.0.2');
    // Leases of this (live) process are kept by reconcile; a dead allocator's with no container go.
    expect(reconcileEndpoints(root)).toEqual([]);
    const file = join(networksDir(root), n.id, 'endpoints.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { endpoints: Array<{ allocator: { pid: number; start: string } }> };
    for (const e of doc.endpoints) e.allocator = { pid: 999999, start: '1' };
    writeFileSync(file, JSON.stringify(doc));
    expect(reconcileEndpoints(root).length).toBe(3);
    expect(readEndpoints(root, n.id)).toEqual([]);
    expect(readNetworks(root).length).toBe(1);
  });
});
