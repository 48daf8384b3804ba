// `pocker network create|ls|inspect|rm|prune` through the CLI and the library's typed calls
// (Docker's field names, exit 125 for bad input with nothing created).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createNetwork, inspectNetwork, listNetworks, pruneNetworks, removeNetwork } from '../../lib/index.js';
import { pk, removeTempDirs, tempRoot } from '../helpers.js';

afterAll(() => removeTempDirs());

const netDirs = (root: string): string[] => {
  try {
    return readdirSync(join(root, 'networks')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
};

describe('pocker network', () => {
  it('create, ls, inspect, rm', async () => {
    const root = tempRoot();
    const c = await pk(root, 'network', 'create', '--subnet', '10.31.0.0/24', '--gateway', '10.31.0.254', '--label', 'a=b', 'front');
    expect(c).toMatchObject({ code: 0, stderr: '' });
    const id = c.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ls = await pk(root, 'network', 'ls');
    expect(ls.stdout).toMatch(/^NETWORK ID +NAME +DRIVER +SCOPE\n/);
    expect(ls.stdout).toContain(`${id.slice(0, 12)}   front     bridge    local`);
    expect((await pk(root, 'network', 'ls', '-q', '--no-trunc')).stdout).toBe(`${id}\n`);
    const doc = JSON.parse((await pk(root, 'network', 'inspect', 'front')).stdout) as Array<Record<string, unknown>>;
    expect(doc[0]).toMatchObject({
      Name: 'front',
      Id: id,
      Driver: 'bridge',
      Scope: 'local',
      EnableIPv6: false,
      Internal: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.31.0.0/24', Gateway: '10.31.0.254' }] },
      Containers: {},
      Labels: { a: 'b' },
    });
    expect((await pk(root, 'network', 'inspect', '-f', '{{.Name}} {{.Internal}}', id.slice(0, 6))).stdout).toBe('front false\n');
    expect(await pk(root, 'network', 'rm', 'front')).toMatchObject({ code: 0, stdout: 'front\n' });
    expect(netDirs(root)).toEqual([]);
  });

  it('bad input: exit 125, a clear message, nothing created', async () => {
    const root = tempRoot();
    await pk(root, 'network', 'create', '--subnet', '10.32.0.0/16', 'a');
    const before = netDirs(root);
    const cases: Array<[string[], RegExp]> = [
      [['--subnet', '10.32.5.0/24', 'b'], /Pool overlaps with other one on this address space/],
      [['--subnet', '10.33.0.0/24', '--gateway', '10.34.0.1', 'b'], /no matching subnet for gateway 10\.34\.0\.1/],
      [['--subnet', 'banana', 'b'], /invalid subnet "banana"/],
      [['a'], /network with name a already exists/],
      [['-d', 'overlay', 'b'], /plugin "overlay" not found/],
      [['bridge'], /reserved/],
    ];
    for (const [args, re] of cases) {
      const r = await pk(root, 'network', 'create', ...args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr).toMatch(re);
    }
    expect(netDirs(root)).toEqual(before);
    const rm = await pk(root, 'network', 'rm', 'nope');
    expect(rm.code).toBe(1);
    expect(rm.stderr).toBe('pocker: network nope not found\n');
  });

  it('the library: typed calls, prune removes unused networks', async () => {
    const root = tempRoot();
    const n = createNetwork('lib', { root, subnets: ['10.35.0.0/24', 'fd00:35::/64'], ipv6: true, internal: true });
    expect(n).toMatchObject({ Name: 'lib', EnableIPv6: true, Internal: true, IPAM: { Config: [{ Subnet: '10.35.0.0/24', Gateway: '10.35.0.1' }, { Subnet: 'fd00:35::/64', Gateway: 'fd00:35::1' }] } });
    expect(inspectNetwork('lib', { root }).Id).toBe(n.Id);
    expect(listNetworks({ root }).map((x) => x.name)).toEqual(['lib']);
    createNetwork('other', { root });
    await expect(removeNetwork('bridge', { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_FOUND' });
    expect(await pruneNetworks({ root })).toEqual({ deleted: ['lib', 'other'] });
    expect(listNetworks({ root })).toEqual([]);
  });
});
