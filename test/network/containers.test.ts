// Containers on networks, end to end through the CLI and the library, in this run's own network
// namespace (only lo at the start): name and alias resolution (TCP and UDP) on a user-defined
// network, published ports from 127.0.0.1, the bridge's address and another container (hairpin),
// `-p 80` and `pocker port`, --internal, `container:`, connect/disconnect while running, 50
// containers in parallel, fault points and a SIGKILLed CLI followed by rm -f / network prune, and
// bad input (exit 125, nothing created). Packets go only to containers made here and 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { inspectContainer, removeContainer, run } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { listRules, removeContainerRules, removeNetworkRules } from '../../lib/network/nft.js';
import { claimedPorts } from '../../lib/network/ports.js';
import { defaultBridgeName, readEndpoints, readNetworks } from '../../lib/network/store.js';
import { builtinsLoadedBy, cleanupAll, cli, containerState, copyRootfs, hostBusybox, isRoot, longTest, pk, removeTempDirs, tempDir, testCgroupParent, tempRoot, until } from '../helpers.js';

const roots: string[] = [];
function newRoot(): string {
  const r = tempRoot();
  roots.push(r);
  return r;
}

// Three CLI calls per root, a dozen roots: the roots are cleaned side by side (each is its own
// store), with room for a loaded machine or the emulated guest (a 60 s hook timed out there).
afterAll(async () => {
  await Promise.all(
    roots.map(async (root) => {
      const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
      if (ids.length) await pk(root, 'rm', '-f', ...ids);
      await pk(root, 'network', 'prune', '-f');
    }),
  );
  await cleanupAll();
  removeTempDirs();
}, 600_000);

/** A TCP (port 80) and UDP (port 53) server answering with `tcp:NAME` / `udp:NAME:<message>`. */
const SERVER = (name: string) =>
  `const net=require('net'),dgram=require('dgram');` +
  `net.createServer(s=>s.end('tcp:${name}\\n')).listen(80,'::');` +
  `const u=dgram.createSocket('udp4');u.on('message',(m,r)=>u.send('udp:${name}:'+m,r.port,r.address));u.bind(53);`;

/** Connects to HOST (argv[1]) over TCP port PORT (argv[2], default 80), retrying until a deadline; with UDP (argv[3]=udp) too. */
const CLIENT =
  `const [h,p='80',udp]=process.argv.slice(1);const net=require('net'),dgram=require('dgram');const end=Date.now()+15000;` +
  `const tcp=()=>new Promise((res,rej)=>{const s=net.connect(+p,h);let d='';s.on('data',x=>d+=x);s.on('end',()=>res(d.trim()));s.on('error',rej)});` +
  `const ud=()=>new Promise((res,rej)=>{const c=dgram.createSocket('udp4');const t=setTimeout(()=>{c.close();rej(new Error('udp timeout'))},300);` +
  `c.on('message',m=>{clearTimeout(t);c.close();res(String(m))});c.send('ping',53,h,e=>e&&rej(e))});` +
  `const retry=async f=>{for(;;){try{return await f()}catch(e){if(Date.now()>end)throw e;await new Promise(r=>setTimeout(r,50))}}};` +
  `(async()=>{const t=await retry(tcp);const u=udp?await retry(ud):'';console.log([t,u].filter(Boolean).join(' '))})().catch(e=>{console.error(e.message);process.exit(3)});`;

const node = process.execPath;

/** Everything of a root's networks that a container may leave: host ends, leases, container rules, port claims. */
async function leftovers(root: string): Promise<{ veths: string[]; leases: string[]; containerRules: number; claims: number }> {
  const nets = readNetworks(root);
  const netIds = new Set(nets.map((n) => n.id));
  const rules = await listRules(root);
  // Host ends on this root's bridges, or on none (a bridge removed under them): other tests' are not ours.
  const bridges = new Set([...nets.map((n) => n.bridge), defaultBridgeName(root)]);
  return {
    veths: native()
      .netLinks()
      .filter((l) => l.kind === 'veth' && l.name.startsWith('vp') && (!l.master || bridges.has(l.master)))
      .map((l) => l.name),
    leases: nets.flatMap((n) => readEndpoints(root, n.id).map((e) => `${n.name}:${e.ipv4}`)),
    containerRules: rules.filter((r) => !netIds.has(r.id)).length,
    claims: claimedPorts(root).length,
  };
}

const NOTHING = { veths: [], leases: [], containerRules: 0, claims: 0 };

/** Polls a TCP connection from this process until it answers (a server in a container). */
function fetchTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let d = '';
    s.on('data', (x) => (d += String(x)));
    s.on('end', () => resolve(d.trim()));
    s.on('error', reject);
  });
}

async function retryTcp(host: string, port: number): Promise<string> {
  let got = '';
  await until(`${host}:${port} to answer`, async () => {
    got = await fetchTcp(host, port);
    return true;
  });
  return got;
}

describe.skipIf(!isRoot)('containers on networks', () => {
  it('two containers on a user network reach each other by name and alias (TCP and UDP); hosts files follow', async () => {
    const root = newRoot();
    expect((await pk(root, 'network', 'create', '--subnet', '10.40.0.0/24', 'front')).code).toBe(0);
    const srv = await pk(root, 'run', '-d', '--name', 'srv', '--network', 'front', '--network-alias', 'web', '--add-host', 'extra.example:10.1.2.3', '--dns', '10.0.0.53', 'host', node, '-e', SERVER('srv'));
    expect(srv).toMatchObject({ code: 0, stderr: '' });
    for (const target of ['srv', 'web']) {
      const c = await pk(root, 'run', '--rm', '--network', 'front', 'host', node, '-e', CLIENT, target, '80', 'udp');
      expect(c.stderr).toBe('');
      expect(c.stdout).toBe('tcp:srv udp:srv:ping\n');
    }
    const id = srv.stdout.trim();
    const hosts = readFileSync(join(root, 'containers', id, 'hosts'), 'utf8');
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost\n/);
    expect(hosts).toContain('10.1.2.3\textra.example\n');
    expect(hosts).toContain(`10.40.0.2\t${id.slice(0, 12)} srv web\n`);
    // The client containers (--rm) came and went: no line of theirs stays.
    expect(hosts.trim().split('\n').length).toBe(8);
    expect(readFileSync(join(root, 'containers', id, 'resolv.conf'), 'utf8')).toBe('nameserver 10.0.0.53\n');
    const doc = await inspectContainer('srv', { root });
    expect(doc.NetworkSettings).toMatchObject({ IPAddress: '10.40.0.2', Gateway: '10.40.0.1', MacAddress: '02:42:0a:28:00:02', Networks: { front: { IPAddress: '10.40.0.2', Aliases: ['web'] } } });
    expect(doc.HostConfig.NetworkMode).toBe('front');
    const inspect = JSON.parse((await pk(root, 'network', 'inspect', 'front')).stdout) as Array<{ Containers: Record<string, { Name: string; IPv4Address: string }> }>;
    expect(inspect[0]!.Containers).toEqual({ [id]: expect.objectContaining({ Name: 'srv', IPv4Address: '10.40.0.2/24' }) });
    // In use: refused.
    const rm = await pk(root, 'network', 'rm', 'front');
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/has active endpoints/);
    expect((await pk(root, 'rm', '-f', 'srv')).code).toBe(0);
    expect(await leftovers(root)).toEqual(NOTHING);
    expect((await pk(root, 'network', 'rm', 'front')).code).toBe(0);
    expect(native().netLinks().filter((l) => l.name.startsWith('pk-'))).toEqual([]);
  });

  it('published ports: 127.0.0.1 and all addresses, from this host, the bridge address and another container (hairpin); -p 80 and pocker port', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.41.0.0/24', 'pub');
    const a = await pk(root, 'run', '-d', '--name', 'pa', '--network', 'pub', '-p', '127.0.0.1:18080:80', '-p', '18081:80', '-p', '80', 'host', node, '-e', SERVER('pa'));
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(await retryTcp('127.0.0.1', 18080)).toBe('tcp:pa');
    expect(await retryTcp('127.0.0.1', 18081)).toBe('tcp:pa');
    // The bridge's address (the gateway) is one of this host's.
    expect(await retryTcp('10.41.0.1', 18081)).toBe('tcp:pa');
    const port = await pk(root, 'port', 'pa');
    const free = [...port.stdout.matchAll(/^80\/tcp -> 0\.0\.0\.0:(\d+)$/gm)].map((m) => Number(m[1])).filter((p) => p !== 18081);
    expect(port.stdout).toContain('80/tcp -> 127.0.0.1:18080\n');
    expect(port.stdout).toContain('80/tcp -> 0.0.0.0:18081\n');
    expect(free.length).toBe(1);
    const freePort = free[0]!;
    expect(freePort).toBeGreaterThanOrEqual(32768);
    expect(await retryTcp('127.0.0.1', freePort)).toBe('tcp:pa');
    const ps = await pk(root, 'ps', '--format', '{{.Ports}}');
    expect(ps.stdout).toContain('127.0.0.1:18080->80/tcp');
    // Hairpin: another container of the network, through the host's address.
    const b = await pk(root, 'run', '--rm', '--network', 'pub', 'host', node, '-e', CLIENT, '10.41.0.1', '18081');
    expect(b).toMatchObject({ stdout: 'tcp:pa\n', stderr: '' });
    // A port another container holds: a clear error, exit 125, nothing left of the second container.
    const clash = await pk(root, 'run', '-d', '--name', 'pb', '--network', 'pub', '-p', '18081:80', 'host', 'true');
    expect(clash.code).toBe(125);
    expect(clash.stderr).toMatch(/port is already allocated/);
    expect((await pk(root, 'ps', '-a', '--format', '{{.Names}}')).stdout).toBe('pa\n');
    expect(readEndpoints(root, readNetworks(root).find((n) => n.name === 'pub')!.id).length).toBe(1);
    expect((await inspectContainer('pa', { root })).NetworkSettings.Ports['80/tcp']).toEqual(expect.arrayContaining([{ HostIp: '127.0.0.1', HostPort: '18080' }, { HostIp: '0.0.0.0', HostPort: '18081' }]));
    await pk(root, 'rm', '-f', 'pa');
    expect(await leftovers(root)).toEqual(NOTHING);
    await expect(fetchTcp('127.0.0.1', 18081)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('bridge is the default network (no --network, no POCKER_DEFAULT_NETWORK); --internal has no way out; container: shares one namespace', async () => {
    const root = newRoot();
    // An empty POCKER_DEFAULT_NETWORK is unset: root's own default, Docker's bridge.
    const d = await cli(['--root', root, 'run', '--rm', '--cgroup-parent', testCgroupParent(), 'host', 'sh', '-c', 'ip -4 -o addr show eth0; ip route'], { env: { POCKER_DEFAULT_NETWORK: '' } });
    expect(d.stderr).toBe('');
    expect(d.stdout).toMatch(/eth0 +inet 172\.(1[7-9]|2\d|3[01])\.0\.2\/16/);
    expect(d.stdout).toMatch(/^default via 172\.\d+\.0\.1 dev eth0/m);
    // The library's run() has the same default.
    const saved = process.env.POCKER_DEFAULT_NETWORK;
    delete process.env.POCKER_DEFAULT_NETWORK;
    try {
      await run({ image: 'host', cmd: ['sleep', '60'], detach: true, name: 'libdefault', root, cgroupParent: testCgroupParent() });
    } finally {
      if (saved !== undefined) process.env.POCKER_DEFAULT_NETWORK = saved;
    }
    const lib = await inspectContainer('libdefault', { root });
    expect(Object.keys(lib.NetworkSettings.Networks)).toEqual(['bridge']);
    expect(lib.HostConfig.NetworkMode).toBe('bridge');
    await pk(root, 'rm', '-f', 'libdefault');
    await pk(root, 'network', 'create', '--internal', '--subnet', '10.42.0.0/24', 'inner');
    const i = await pk(root, 'run', '--rm', '--network', 'inner', 'host', 'sh', '-c', 'ip route; busybox wget -T 2 -q -O- http://10.99.0.1/ 2>&1; echo rc=$?');
    expect(i.stdout).not.toMatch(/default/);
    expect(i.stdout).toMatch(/10\.42\.0\.0\/24 dev eth0/);
    expect(i.stdout).toMatch(/unreachable|rc=1/i);
    const a = await pk(root, 'run', '-d', '--name', 'donor', '--network', 'inner', 'host', 'sleep', '60');
    expect(a.code).toBe(0);
    const j = await pk(root, 'run', '--rm', '--network', 'container:donor', 'host', 'sh', '-c', 'ip -4 -o addr show eth0; cat /etc/hosts');
    expect(j.stdout).toMatch(/inet 10\.42\.0\.2\/24/);
    expect(j.stdout).toContain('donor');
    const e = await pk(root, 'exec', 'donor', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    expect(e.stdout).toMatch(/inet 10\.42\.0\.2\/24/);
    await pk(root, 'rm', '-f', 'donor');
    expect(await leftovers(root)).toEqual(NOTHING);
  });

  it('a run on the default bridge loads neither node:net, node:stream nor node:perf_hooks (addresses are checked without node:net: ~3 ms a run)', () => {
    const root = newRoot();
    const r = builtinsLoadedBy(['--root', root, 'run', '--rm', '--cgroup-parent', testCgroupParent(), 'host', 'sh', '-c', 'ip -4 -o addr show eth0'], { POCKER_DEFAULT_NETWORK: '' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/eth0 +inet 172\.(1[7-9]|2\d|3[01])\.0\.\d+\/16/);
    // Nor node:perf_hooks (the global `performance`'s first read loads it: ~1.4 ms).
    expect(r.loaded.filter((m) => ['net', 'stream', 'dns', 'perf_hooks'].includes(m))).toEqual([]);
  });

  it('a run that publishes ports (-p, TCP and UDP) loads no socket module: the host-port check binds through the addon (~5 ms a run)', () => {
    const root = newRoot();
    const r = builtinsLoadedBy(['--root', root, 'run', '--rm', '--cgroup-parent', testCgroupParent(), '-p', '127.0.0.1:18420:80', '-p', '127.0.0.1:18421:53/udp', 'host', 'true'], { POCKER_DEFAULT_NETWORK: '' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.loaded.filter((m) => ['net', 'dgram', 'cluster', 'stream', 'child_process', 'perf_hooks', 'internal/promise_hooks'].includes(m))).toEqual([]);
  });

  it('connect and disconnect while running: an interface comes and goes, names follow', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.43.0.0/24', 'one');
    await pk(root, 'network', 'create', '--subnet', '10.44.0.0/24', 'two');
    await pk(root, 'run', '-d', '--name', 'c1', '--network', 'one', 'host', node, '-e', SERVER('c1'));
    await pk(root, 'run', '-d', '--name', 'c2', '--network', 'two', 'host', 'sleep', '60');
    const con = await pk(root, 'network', 'connect', '--alias', 'svc', 'two', 'c1');
    expect(con).toMatchObject({ code: 0, stderr: '' });
    expect((await pk(root, 'exec', 'c1', 'ip', '-4', '-o', 'addr', 'show', 'eth1')).stdout).toMatch(/inet 10\.44\.0\.3\/24/);
    // c2 resolves c1 and its alias on network two now.
    const r = await pk(root, 'exec', 'c2', node, '-e', CLIENT, 'svc');
    expect(r.stdout).toBe('tcp:c1\n');
    expect((await inspectContainer('c1', { root })).NetworkSettings.Networks).toMatchObject({ one: { IPAddress: '10.43.0.2' }, two: { IPAddress: '10.44.0.3', Aliases: ['svc'] } });
    expect((await pk(root, 'network', 'disconnect', 'two', 'c1')).code).toBe(0);
    expect((await pk(root, 'exec', 'c1', 'ip', '-o', 'link')).stdout).not.toContain('eth1');
    const c2id = (await inspectContainer('c2', { root })).Id;
    expect(readFileSync(join(root, 'containers', c2id, 'hosts'), 'utf8')).not.toMatch(/\bc1\b/);
    // Several --network flags: one interface each, in order.
    const both = await pk(root, 'run', '--rm', '--network', 'one', '--network', 'two', 'host', 'sh', '-c', 'ip -4 -o addr show eth0; ip -4 -o addr show eth1; ip route');
    expect(both.stdout).toMatch(/eth0 +inet 10\.43\.0\.\d+\/24/);
    expect(both.stdout).toMatch(/eth1 +inet 10\.44\.0\.\d+\/24/);
    expect(both.stdout).toMatch(/^default via 10\.43\.0\.1 dev eth0/m);
    await pk(root, 'rm', '-f', 'c1', 'c2');
    expect(await leftovers(root)).toEqual(NOTHING);
  });

  it('a connected network comes back at every later run (restart policy, pocker restart, start); a disconnect of a stopped container sticks', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.50.0.0/24', 'base');
    await pk(root, 'network', 'create', '--subnet', '10.51.0.0/24', 'extra');
    const peer = (await pk(root, 'run', '-d', '--name', 'peer', '--network', 'extra', 'host', 'sleep', '120')).stdout.trim();
    // Ends (exit 3, so on-failure restarts it) when /stop appears; each run removes it first.
    const loop = 'rm -f /stop; while [ ! -e /stop ]; do sleep 0.05; done; exit 3';
    const r = await pk(root, 'run', '-d', '--name', 'r1', '--network', 'base', '--restart', 'on-failure', 'host', 'sh', '-c', loop);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const id = r.stdout.trim();
    const con = await pk(root, 'network', 'connect', '--alias', 'svc', '--ip', '10.51.0.50', 'extra', 'r1');
    expect(con).toMatchObject({ code: 0, stderr: '' });
    const eth1 = async () => (await pk(root, 'exec', 'r1', 'ip', '-4', '-o', 'addr', 'show', 'eth1')).stdout;
    const peerHosts = () => readFileSync(join(root, 'containers', peer, 'hosts'), 'utf8');
    expect(await eth1()).toMatch(/inet 10\.51\.0\.50\/24/);
    // The workload ends as soon as /stop appears, so the exec that makes it may be ended with its
    // pid namespace before it reports (137: seen in the slow cgroup-v2 guest); either way /stop is there.
    const stop = async () => expect([0, 137]).toContain((await pk(root, 'exec', 'r1', 'touch', '/stop')).code);
    const restarts = async () => (await inspectContainer('r1', { root })).RestartCount;
    const running = async () => (await inspectContainer('r1', { root })).State.Running;
    // 1. The restart policy: the monitor runs it again in a new namespace, with the connected interface.
    await stop();
    await until('the restart policy to run r1 again', async () => (await restarts()) === 1 && (await running()) && (await pk(root, 'exec', 'r1', 'true')).code === 0);
    expect(await eth1()).toMatch(/inet 10\.51\.0\.50\/24/);
    expect((await pk(root, 'exec', 'r1', 'ip', '-4', '-o', 'addr', 'show', 'eth0')).stdout).toMatch(/inet 10\.50\.0\.2\/24/);
    expect(peerHosts()).toMatch(/^10\.51\.0\.50\tr1 svc$/m);
    expect(readFileSync(join(root, 'containers', id, 'hosts'), 'utf8')).toMatch(/^10\.51\.0\.50\t\S+ r1 svc$/m);
    // 2. pocker restart (stop, then start: the leases are given back and taken again).
    expect((await pk(root, 'restart', '-t', '1', 'r1')).code).toBe(0);
    expect(await eth1()).toMatch(/inet 10\.51\.0\.50\/24/);
    expect((await inspectContainer('r1', { root })).NetworkSettings.Networks).toMatchObject({ base: { IPAddress: '10.50.0.2' }, extra: { IPAddress: '10.51.0.50', Aliases: ['svc'] } });
    expect(peerHosts()).toMatch(/^10\.51\.0\.50\tr1 svc$/m);
    // 3. Stopped, disconnected: it stays disconnected at its next start.
    expect((await pk(root, 'stop', '-t', '1', 'r1')).code).toBe(0);
    expect(peerHosts()).not.toMatch(/\br1\b/);
    const dis = await pk(root, 'network', 'disconnect', 'extra', 'r1');
    expect(dis).toMatchObject({ code: 0, stderr: '' });
    expect((await pk(root, 'network', 'disconnect', 'extra', 'r1')).stderr).toMatch(/is not connected to network extra/);
    expect((await pk(root, 'start', 'r1')).code).toBe(0);
    expect((await pk(root, 'exec', 'r1', 'ip', '-o', 'link')).stdout).not.toContain('eth1');
    expect(Object.keys((await inspectContainer('r1', { root })).NetworkSettings.Networks)).toEqual(['base']);
    expect(peerHosts()).not.toMatch(/\br1\b/);
    // ... and through a restart policy's run too.
    await stop();
    await until('the restart policy to run r1 again', async () => (await restarts()) === 1 && (await running()) && (await pk(root, 'exec', 'r1', 'true')).code === 0);
    expect((await pk(root, 'exec', 'r1', 'ip', '-o', 'link')).stdout).not.toContain('eth1');
    await pk(root, 'rm', '-f', 'r1', 'peer');
    expect(await leftovers(root)).toEqual(NOTHING);
  }, longTest(120_000));

  it('50 containers started in parallel on one network get 50 distinct addresses', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.45.0.0/24', 'many');
    const started = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run({ image: 'host', cmd: ['sleep', '60'], network: 'many', detach: true, name: `m${i}`, root, cgroupParent: testCgroupParent() })),
    );
    const ips = await Promise.all(started.map(async (c) => (await inspectContainer(c.id, { root })).NetworkSettings.IPAddress));
    expect(new Set(ips).size).toBe(50);
    expect(ips.every((ip) => /^10\.45\.0\.\d+$/.test(ip))).toBe(true);
    await Promise.all(started.map((c) => removeContainer(c.id, { root, force: true })));
    expect(await leftovers(root)).toEqual(NOTHING);
  }, longTest(180_000));

  it.each(['net-veth', 'net-addr', 'net-route'])('monitor SIGKILLed at %s: the start fails; rm -f and network prune leave nothing', async (fault) => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.46.0.0/24', 'f');
    const r = await cli(['--root', root, 'run', '-d', '--name', 'x', '--network', 'f', '-p', '18090:80', 'host', 'sleep', '60'], { env: { POCKER_FAULT: fault } });
    expect(r.code, r.stderr).toBe(125);
    await pk(root, 'rm', '-f', 'x');
    await pk(root, 'network', 'prune', '-f');
    expect(await leftovers(root)).toEqual(NOTHING);
    expect(readNetworks(root)).toEqual([]);
  });

  it('CLI SIGKILLed after the network was set up (and after the start): rm -f / network prune leave nothing', async () => {
    for (const fault of ['after-network', 'after-spawn', 'after-started']) {
      const root = newRoot();
      await pk(root, 'network', 'create', '--subnet', '10.47.0.0/24', 'g');
      // A member that stays: its hosts file must lose the killed run's entry.
      const witness = (await pk(root, 'run', '-d', '--name', 'w', '--network', 'g', 'host', 'sleep', '60')).stdout.trim();
      const hostsOf = () => readFileSync(join(root, 'containers', witness, 'hosts'), 'utf8');
      const r = await cli(['--root', root, 'run', '--name', 'y', '--network', 'g', '-p', '18091:80', 'host', 'sleep', '60'], { env: { POCKER_FAULT: fault } });
      expect(r.signal, fault).toBe('SIGKILL');
      // The foreground monitor kills the container when its caller is gone and runs network __release.
      await until(`${fault}: the container to end`, async () => !(await pk(root, 'ps', '--format', '{{.Names}}')).stdout.includes('y'));
      await pk(root, 'rm', '-f', 'y');
      await pk(root, 'network', 'prune', '-f');
      expect(hostsOf(), fault).not.toMatch(/\by\b/);
      expect(readNetworks(root).flatMap((n) => readEndpoints(root, n.id).map((e) => e.name)), fault).toEqual(['w']);
      await pk(root, 'rm', '-f', 'w');
      await pk(root, 'network', 'prune', '-f');
      expect(await leftovers(root), fault).toEqual(NOTHING);
    }
  }, longTest(120_000));

  it('bad input: exit 125, a clear message, nothing created', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.48.0.0/24', 'h');
    const cases: Array<[string[], RegExp]> = [
      [['--network', 'nope'], /network nope not found/],
      [['--network', 'h', '--ip', '10.49.0.5'], /no configured subnet or ip-range contain the IP address 10\.49\.0\.5/],
      [['--network', 'bridge', '--ip', '172.17.0.5'], /user specified IP address is supported on user defined networks only/],
      [['--network', 'h', '--mac-address', 'zz'], /invalid MAC address/],
      [['--network', 'none', '-p', '80'], /conflicting options: port publishing/],
      [['--add-host', 'nocolon'], /--add-host/],
    ];
    for (const [args, re] of cases) {
      const r = await pk(root, 'run', '--rm', ...args, 'host', 'true');
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr).toMatch(re);
    }
    let dirs: string[] = [];
    try {
      dirs = readdirSync(join(root, 'containers'));
    } catch {
      /* never made */
    }
    expect(dirs).toEqual([]);
    expect(await leftovers(root)).toEqual(NOTHING);
    expect(readNetworks(root).map((n) => n.name)).toEqual(['h']);
  });
});

/** An HTTP GET of / from this process (busybox httpd in a container): the body. */
async function httpGet(host: string, port: number): Promise<string> {
  const raw = await new Promise<string>((resolve, reject) => {
    const sock = connect({ host, port }, () => sock.end('GET / HTTP/1.0\r\n\r\n'));
    let d = '';
    sock.on('data', (x) => (d += String(x)));
    sock.on('end', () => resolve(d));
    sock.on('error', reject);
  });
  return raw.split('\r\n\r\n').slice(1).join('\r\n\r\n').trim();
}

async function retryHttp(host: string, port: number): Promise<string> {
  let got = '';
  await until(`${host}:${port} to answer HTTP`, async () => {
    got = await httpGet(host, port).catch(() => '');
    return got !== '';
  });
  return got;
}

/** A busybox image whose config exposes 80/tcp and 8081/tcp (imported with --change EXPOSE). */
async function exposingImage(root: string): Promise<string> {
  const file = join(tempDir('expose-tar'), 'rootfs.tar');
  execFileSync('tar', ['--create', `--file=${file}`, '--numeric-owner', '-C', copyRootfs(undefined, 'expose-rootfs'), '.']);
  const r = await pk(root, 'import', '-c', 'EXPOSE 80', '-c', 'EXPOSE 8081/tcp', file, 'exposing:1');
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return 'exposing:1';
}

/** busybox httpd on port 80 serving `body` at / (the exposing image). */
const HTTPD = (body: string) => ['sh', '-c', `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`];

describe.skipIf(!isRoot || !hostBusybox())('networks end to end: -P, IPv6, a host that lost its kernel state', () => {
  it('-P publishes the image ExposedPorts on free host ports that pocker port reports and that answer', async () => {
    const root = newRoot();
    const image = await exposingImage(root);
    await pk(root, 'network', 'create', '--subnet', '10.53.0.0/24', 'pall');
    const r = await pk(root, 'run', '-d', '--name', 'web', '--network', 'pall', '-P', image, ...HTTPD('hello-P'));
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const port = await pk(root, 'port', 'web');
    expect(port.code).toBe(0);
    const lines = port.stdout.trim().split('\n').sort();
    expect(lines).toEqual([expect.stringMatching(/^80\/tcp -> 0\.0\.0\.0:\d+$/), expect.stringMatching(/^8081\/tcp -> 0\.0\.0\.0:\d+$/)]);
    const hostPorts = lines.map((l) => Number(l.split(':').pop()));
    expect(new Set(hostPorts).size).toBe(2);
    for (const p of hostPorts) expect(p).toBeGreaterThanOrEqual(32768);
    const p80 = hostPorts[0]!;
    expect((await pk(root, 'port', 'web', '80')).stdout).toBe(`0.0.0.0:${p80}\n`);
    // It answers on 127.0.0.1 and on the bridge's address.
    expect(await retryHttp('127.0.0.1', p80)).toBe('hello-P');
    expect(await retryHttp('10.53.0.1', p80)).toBe('hello-P');
    const ports = (await inspectContainer('web', { root })).NetworkSettings.Ports;
    expect(ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(p80) }], '8081/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPorts[1]) }] });
    expect((await pk(root, 'ps', '--format', '{{.Ports}}')).stdout).toContain(`0.0.0.0:${p80}->80/tcp`);
    // Without -P the exposed ports are only listed (null), never published.
    const quiet = await pk(root, 'run', '-d', '--name', 'quiet', '--network', 'pall', image, ...HTTPD('quiet'));
    expect(quiet.code).toBe(0);
    expect((await pk(root, 'port', 'quiet')).stdout).toBe('');
    expect((await inspectContainer('quiet', { root })).NetworkSettings.Ports).toEqual({ '80/tcp': null, '8081/tcp': null });
    await pk(root, 'rm', '-f', 'web', 'quiet');
    expect(await leftovers(root)).toEqual(NOTHING);
    await expect(httpGet('127.0.0.1', p80)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('IPv6: containers of an --ipv6 network get v6 addresses and reach each other by name over v6; no published port on [::1]', async () => {
    const root = newRoot();
    const net = await pk(root, 'network', 'create', '--ipv6', '--subnet', 'fd42:53::/64', '--subnet', '10.54.0.0/24', 'six');
    expect(net).toMatchObject({ code: 0, stderr: '' });
    const srv = await pk(root, 'run', '-d', '--name', 's6', '--network', 'six', '--network-alias', 'v6web', 'host', node, '-e', SERVER('s6'));
    expect(srv).toMatchObject({ code: 0, stderr: '' });
    const doc = await inspectContainer('s6', { root });
    expect(doc.NetworkSettings.Networks.six).toMatchObject({ IPAddress: '10.54.0.2', GlobalIPv6Address: 'fd42:53::2', GlobalIPv6PrefixLen: 64, IPv6Gateway: 'fd42:53::1' });
    expect((await pk(root, 'exec', 's6', 'ip', '-6', '-o', 'addr', 'show', 'eth0', 'scope', 'global')).stdout).toMatch(/inet6 fd42:53::2\/64/);
    expect((await pk(root, 'exec', 's6', 'ip', '-6', 'route', 'show', 'default')).stdout).toMatch(/^default via fd42:53::1 dev eth0/m);
    // By name and by alias, resolved to the v6 address only (family 6), over TCP.
    const CLIENT6 =
      `const dns=require('dns'),net=require('net');const h=process.argv[1];const end=Date.now()+15000;` +
      `const once=()=>new Promise((res,rej)=>dns.lookup(h,{family:6},(e,a)=>{if(e)return rej(e);const s=net.connect({host:a,port:80});let d='';s.on('data',x=>d+=x);s.on('end',()=>res(a+' '+d.trim()));s.on('error',rej)}));` +
      `(async()=>{for(;;){try{console.log(await once());return}catch(e){if(Date.now()>end)throw e;await new Promise(r=>setTimeout(r,50))}}})().catch(e=>{console.error(e.message);process.exit(3)})`;
    for (const name of ['s6', 'v6web']) {
      const c = await pk(root, 'run', '--rm', '--network', 'six', 'host', node, '-e', CLIENT6, name);
      expect(c, name).toMatchObject({ stdout: 'fd42:53::2 tcp:s6\n', stderr: '' });
    }
    // From this host over the bridge's v6 address (the gateway), straight to the container's.
    expect(await retryTcp('fd42:53::2', 80)).toBe('tcp:s6');
    // A published port on [::1] is refused with a clear error: the kernel has no route_localnet for
    // IPv6 (a DNAT of ::1 cannot leave lo), and a container with an IPv4 address publishes IPv4.
    const p6 = await pk(root, 'run', '-d', '--name', 'p6', '--network', 'six', '-p', '[::1]:18099:80', 'host', 'sleep', '60');
    expect(p6.code).toBe(125);
    expect(p6.stderr).toMatch(/\[::1\]:18099:80\/tcp: the container's address 10\.54\.0\.\d+ is IPv4/);
    expect((await pk(root, 'ps', '-a', '--format', '{{.Names}}')).stdout).toBe('s6\n');
    await pk(root, 'rm', '-f', 's6');
    expect(await leftovers(root)).toEqual(NOTHING);
  });

  it('a host that lost its kernel state (a reboot: processes, bridge and rules gone, the store kept) starts clean at the next command', async () => {
    const root = newRoot();
    await pk(root, 'network', 'create', '--subnet', '10.55.0.0/24', 'rb');
    const before = await pk(root, 'run', '-d', '--name', 'before', '--network', 'rb', '-p', '18098:80', 'host', node, '-e', SERVER('before'));
    expect(before).toMatchObject({ code: 0, stderr: '' });
    const id = before.stdout.trim();
    expect(await retryTcp('127.0.0.1', 18098)).toBe('tcp:before');
    const [net] = readNetworks(root);
    // The "reboot": every process of the container gone at once (monitor first, so nothing is
    // given back), then what the kernel held for this root: the bridge (the veth went with the
    // container's namespace) and its rules. The store — leases, port claims, state.json saying
    // running — is left as a power loss leaves it.
    const st = containerState(root, id);
    process.kill(st.monitorPid, 'SIGKILL');
    process.kill(st.pid, 'SIGKILL');
    await until('the container namespace to go', () => !native().netLinks().some((l) => l.master === net!.bridge));
    native().netDeleteLink(net!.bridge);
    await removeContainerRules(root, id);
    await removeNetworkRules(root, net!.id);
    expect(readEndpoints(root, net!.id).map((e) => e.ipv4)).toEqual(['10.55.0.2']);
    expect(claimedPorts(root).map((c) => c.port)).toEqual([18098]);
    // The next command: the same address and port are free again, the bridge and rules are made.
    const after = await pk(root, 'run', '-d', '--name', 'after', '--network', 'rb', '-p', '18098:80', 'host', node, '-e', SERVER('after'));
    expect(after).toMatchObject({ code: 0, stderr: '' });
    expect((await inspectContainer('after', { root })).NetworkSettings.IPAddress).toBe('10.55.0.2');
    expect(await retryTcp('127.0.0.1', 18098)).toBe('tcp:after');
    expect(readEndpoints(root, net!.id).map((e) => e.name)).toEqual(['after']);
    const ps = await pk(root, 'ps', '-a', '--format', '{{.Names}} {{.State}}');
    expect(ps.stdout.split('\n').filter(Boolean).sort()).toEqual(['after running', 'before exited']);
    // The dead one's hosts entry went from the survivor's file.
    expect(readFileSync(join(root, 'containers', after.stdout.trim(), 'hosts'), 'utf8')).not.toMatch(/\bbefore\b/);
    expect((await pk(root, 'rm', '-f', 'before', 'after')).code).toBe(0);
    expect((await pk(root, 'network', 'rm', 'rb')).code).toBe(0);
    expect(await leftovers(root)).toEqual(NOTHING);
    // An endpoints.json emptied by a power loss (never fsync'd) holds no lease.
    await pk(root, 'network', 'create', '--subnet', '10.56.0.0/24', 'rb2');
    const [net2] = readNetworks(root);
    writeFileSync(join(root, 'networks', net2!.id, 'endpoints.json'), '');
    const again = await pk(root, 'run', '--rm', '--network', 'rb2', 'host', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toMatch(/inet 10\.56\.0\.2\/24/);
  });
});
