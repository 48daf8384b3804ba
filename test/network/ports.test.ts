// Host-port allocation (lib/network/ports.ts) in the test run's own network namespace: claim files
// made with O_EXCL under <root>/networks/ports, conflicts between containers and with a host
// process (Docker's "port is already allocated"), free ports from 32768-60999, ranges, release and
// reconcile, nothing left behind by a failed allocation.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocatePorts,
  claimedPorts,
  parsePublish,
  portsDir,
  reconcilePorts,
  releasePorts,
} from '../../lib/network/ports.js';
import { PockerError } from '../../lib/errors.js';
import { listRules, nftStats } from '../../lib/network/nft.js';
import { publishPorts, reconcilePublished, unpublishPorts } from '../../lib/network/publish.js';
import { busyboxRootfs, cleanupAll, pk, removeTempDirs, tempRoot } from '../helpers.js';

const newId = (): string => randomBytes(32).toString('hex');

afterAll(async () => {
  await cleanupAll();
  removeTempDirs();
});

function claimFiles(root: string): string[] {
  try {
    return readdirSync(portsDir(root)).filter((n) => n !== 'lock').sort();
  } catch {
    return [];
  }
}

function listen(port: number, host = '0.0.0.0'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ port, host }, () => resolve(s));
  });
}

describe('host port allocation', () => {
  it('claims fixed, free and ranged ports, one claim file each, and releases them', async () => {
    const root = tempRoot();
    const c = newId();
    const got = await allocatePorts(root, c, parsePublish(['18080:80', '127.0.0.1:18081:81/udp', '90', '19000-19002:9000-9002', '19100-19110:443']), '172.17.0.2');
    expect(got.slice(0, 2)).toEqual([
      { hostIp: '', hostPort: 18080, containerIp: '172.17.0.2', containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 18081, containerIp: '172.17.0.2', containerPort: 81, protocol: 'udp' },
    ]);
    expect(got[2]!.containerPort).toBe(90);
    expect(got[2]!.hostPort).toBeGreaterThanOrEqual(32768);
    expect(got[2]!.hostPort).toBeLessThanOrEqual(60999);
    expect(got.slice(3, 6).map((m) => [m.hostPort, m.containerPort])).toEqual([[19000, 9000], [19001, 9001], [19002, 9002]]);
    expect(got[6]).toMatchObject({ hostPort: 19100, containerPort: 443 });
    expect(claimFiles(root)).toEqual([`tcp-any-${got[2]!.hostPort}`, 'tcp-any-18080', 'tcp-any-19000', 'tcp-any-19001', 'tcp-any-19002', 'tcp-any-19100', 'udp-127.0.0.1-18081'].sort());
    expect(claimedPorts(root).every((p) => p.container === c)).toBe(true);
    expect(releasePorts(root, c)).toBe(7);
    expect(claimFiles(root)).toEqual([]);
    expect(releasePorts(root, c)).toBe(0);
  });

  it('a port another container holds: "port is already allocated", nothing of the failed call left', async () => {
    const root = tempRoot();
    const [a, b] = [newId(), newId()];
    await allocatePorts(root, a, parsePublish(['18090:80']), '172.17.0.2');
    // A container directory keeps a's claim live even with its allocator (this process) ... alive anyway.
    mkdirSync(join(root, 'containers', a), { recursive: true });
    const err = await allocatePorts(root, b, parsePublish(['18091:81', '18090:80']), '172.17.0.3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PockerError);
    expect(err).toMatchObject({ code: 'ERR_POCKER_CONFLICT', step: 'network' });
    expect((err as Error).message).toBe('Bind for 0.0.0.0:18090 failed: port is already allocated');
    expect(claimFiles(root)).toEqual(['tcp-any-18090']); // b's 18091 went back
    // A single address clashes with "all addresses" and the other way round; another address does not.
    await expect(allocatePorts(root, b, parsePublish(['127.0.0.1:18090:80']), '172.17.0.3')).rejects.toThrow(/Bind for 127\.0\.0\.1:18090 failed: port is already allocated/);
    await allocatePorts(root, b, parsePublish(['127.0.0.1:18092:80']), '172.17.0.3');
    await expect(allocatePorts(root, newId(), parsePublish(['18092:80']), '172.17.0.4')).rejects.toThrow(/Bind for 0\.0\.0\.0:18092 failed: port is already allocated/);
    // Another protocol is another port.
    await allocatePorts(root, b, parsePublish(['18090:80/udp']), '172.17.0.3');
    // A dynamic port never takes a claimed one.
    const many = await allocatePorts(root, newId(), parsePublish(Array.from({ length: 20 }, (_, i) => String(1000 + i))), '172.17.0.5');
    expect(new Set(many.map((m) => m.hostPort)).size).toBe(20);
  });

  it('a port a process of this host listens on: refused, clear error, no claim left', async () => {
    const root = tempRoot();
    const server = await listen(18100);
    try {
      const err = await allocatePorts(root, newId(), parsePublish(['18100:80']), '172.17.0.2').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_POCKER_CONFLICT', step: 'network' });
      expect((err as Error).message).toMatch(/^Bind for 0\.0\.0\.0:18100 failed: port is already allocated \(a process of this host listens on it\)$/);
      expect(claimFiles(root)).toEqual([]);
      // A range skips it.
      const got = await allocatePorts(root, newId(), parsePublish(['18100-18101:80']), '172.17.0.2');
      expect(got[0]!.hostPort).toBe(18101);
    } finally {
      server.close();
    }
    // An address that is not this host's.
    const bad = await allocatePorts(root, newId(), parsePublish(['192.0.2.55:18102:80']), '172.17.0.2').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'network' });
    expect((bad as Error).message).toMatch(/cannot assign requested address/);
  });

  it('the bind test (the addon\'s netBindTest) sees UDP and IPv6 holders, and frees what it bound', async () => {
    const root = tempRoot();
    // A UDP socket of this host on 127.0.0.1:18110, and a TCP listener on [::1]:18111.
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(18110, '127.0.0.1', resolve));
    const v6 = await listen(18111, '::1');
    try {
      const err = await allocatePorts(root, newId(), parsePublish(['127.0.0.1:18110:53/udp']), '172.17.0.2').catch((e: unknown) => e);
      expect((err as Error).message).toBe('Bind for 127.0.0.1:18110 failed: port is already allocated (a process of this host listens on it)');
      // The TCP port of the same number is free; so is UDP on another address.
      await allocatePorts(root, newId(), parsePublish(['127.0.0.1:18110:53']), '172.17.0.2');
      const v6err = await allocatePorts(root, newId(), parsePublish(['[::1]:18111:80']), '172.17.0.2').catch((e: unknown) => e);
      expect((v6err as Error).message).toBe('Bind for [::1]:18111 failed: port is already allocated (a process of this host listens on it)');
      // All addresses of both families (`::`, dual-stack as the kernel's default) overlap [::1].
      await expect(allocatePorts(root, newId(), parsePublish(['[::]:18111:80']), '172.17.0.2')).rejects.toThrow(/port is already allocated/);
      expect(claimFiles(root)).toEqual(['tcp-127.0.0.1-18110']);
    } finally {
      udp.close();
      v6.close();
    }
    // What the test bound is closed again: a host process can take every port the checks used.
    for (const [port, host] of [[18112, '0.0.0.0'], [18113, '::']] as const) {
      await allocatePorts(root, newId(), parsePublish([`${host.includes(':') ? `[${host}]` : host}:${port}:80`]), '172.17.0.2');
      (await listen(port, host)).close();
    }
    const udp2 = createSocket('udp4');
    await allocatePorts(root, newId(), parsePublish(['127.0.0.1:18114:53/udp']), '172.17.0.2');
    await new Promise<void>((resolve, reject) => {
      udp2.once('error', reject);
      udp2.bind(18114, '127.0.0.1', resolve);
    });
    udp2.close();
  });

  it('stale claims (dead container, dead allocator) are taken over and reconciled; live ones stay', async () => {
    const root = tempRoot();
    const dir = portsDir(root);
    mkdirSync(dir, { recursive: true });
    const dead = newId();
    // A claim of a process long gone (no such pid) for a container with no directory.
    writeFileSync(join(dir, 'tcp-any-18200'), JSON.stringify({ container: dead, pid: 999999999, pidStart: '1' }));
    writeFileSync(join(dir, 'tcp-any-18201'), JSON.stringify({ container: dead, pid: 999999999, pidStart: '1' }));
    const c = newId();
    const got = await allocatePorts(root, c, parsePublish(['18200:80']), '172.17.0.2');
    expect(got[0]!.hostPort).toBe(18200);
    expect(claimedPorts(root).find((p) => p.port === 18200)!.container).toBe(c);
    // Reconcile: c's claim is kept (its allocator, this process, lives); the dead one goes.
    expect(reconcilePorts(root, new Set())).toBe(1);
    expect(claimFiles(root)).toEqual(['tcp-any-18200']);
    expect(reconcilePorts(root, new Set([c]))).toBe(0);
  });

  it('publishPorts: claims and rules together (no nft program needed), unpublish and reconcile leave nothing', async () => {
    const root = tempRoot();
    const c = newId();
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await publishPorts(root, c, 'pkt-p0', '10.90.0.2', parsePublish(['18300:80']));
      expect((await listRules(root)).filter((r) => r.id === c)).toHaveLength(2);
      await unpublishPorts(root, c);
    } finally {
      process.env.PATH = path;
    }
    expect(claimFiles(root)).toEqual([]);
    expect(await listRules(root)).toEqual([]);

    const p = await publishPorts(root, c, 'pkt-p0', '10.90.0.2', parsePublish(['18300:80', '53/udp']), parsePublish(['80', '443']));
    expect(p.ports['80/tcp']).toEqual([{ HostIp: '0.0.0.0', HostPort: '18300' }]);
    expect(p.ports['443/tcp']).toBeNull();
    expect(p.ports['53/udp']).toHaveLength(1);
    expect((await listRules(root)).filter((r) => r.id === c)).toHaveLength(4);
    await unpublishPorts(root, c);
    const calls = nftStats.calls;
    await unpublishPorts(root, c); // no claim left: no nft call
    expect(nftStats.calls).toBe(calls);
    expect(await listRules(root)).toEqual([]);
    expect(claimFiles(root)).toEqual([]);

    // A host address of the other family than the container's.
    await expect(publishPorts(root, c, 'pkt-p0', '10.90.0.2', parsePublish(['[::1]:18302:80']))).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'network' });
    expect(claimFiles(root)).toEqual([]);

    // What a SIGKILLed run leaves (rules + claims of a container whose allocator is gone) goes on reconcile.
    const d = newId();
    await publishPorts(root, d, 'pkt-p0', '10.90.0.3', parsePublish(['18301:80']));
    const claim = join(portsDir(root), 'tcp-any-18301');
    writeFileSync(claim, JSON.stringify({ container: d, pid: 999999999, pidStart: '1' }));
    expect(await reconcilePublished(root, new Set(), new Set())).toEqual({ rules: 2, claims: 1 });
    expect(await listRules(root)).toEqual([]);
    expect(claimFiles(root)).toEqual([]);
  });

  it('pocker port and ps PORTS read containers/<id>/network.json (Docker shape)', async () => {
    const root = tempRoot();
    const run = await pk(root, 'run', '-d', '--rootfs', busyboxRootfs(), '--name', 'web', 'sleep', '1000');
    expect(run.code, run.stderr).toBe(0);
    const id = run.stdout.trim();
    try {
      // No network.json (yet): nothing published.
      expect((await pk(root, 'port', 'web')).stdout).toBe('');
      const missing = await pk(root, 'port', 'web', '80');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe("pocker: Error: No public port '80/tcp' published for web\n");
      writeFileSync(join(root, 'containers', id, 'network.json'), JSON.stringify({
        Networks: {},
        Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8081' }], '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }], '443/tcp': null },
      }));
      const all = await pk(root, 'port', 'web');
      expect(all.code).toBe(0);
      expect(all.stdout).toBe('53/udp -> 0.0.0.0:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> 127.0.0.1:8081\n');
      expect((await pk(root, 'port', id.slice(0, 12), '80/tcp')).stdout).toBe('0.0.0.0:8080\n127.0.0.1:8081\n');
      expect((await pk(root, 'port', 'web', '53/udp')).stdout).toBe('0.0.0.0:5353\n');
      expect((await pk(root, 'port', 'nosuch')).code).toBe(1);
      const ps = await pk(root, 'ps', '--format', '{{.Names}} {{.Ports}}');
      // Docker's DisplayablePorts: groups (same public and private port, or unpublished) first, then the other mappings.
      expect(ps.stdout).toBe('web 443/tcp, 0.0.0.0:5353->53/udp, 0.0.0.0:8080->80/tcp, 127.0.0.1:8081->80/tcp\n');
    } finally {
      await pk(root, 'rm', '-f', 'web');
    }
  });
});
