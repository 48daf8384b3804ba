// pocker's nftables table (lib/network/nft.ts), in the test run's own network namespace: rules made
// and removed exactly, reconcile keeps what is live and what is not its root's, and a published port
// really forwards — the path built by hand here (a bridge, veth pairs into namespaces of sleeping
// `unshare --net` processes, a node server in one of them), reached at 127.0.0.1, at the bridge's
// address from the host, and from a second namespace through the host (hairpin).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { join } from 'node:path';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addPortRules,
  enableRouteLocalnet,
  ensureNetworkRules,
  listRules,
  nftStats,
  reconcileRules,
  removeContainerRules,
  removeNetworkRules,
  rootTag,
} from '../../lib/network/nft.js';
import type { PortMapping } from '../../lib/network/ports.js';
import { native } from '../../lib/native.js';
import { repoRoot, tempDir, tempRoot, until, removeTempDirs } from '../helpers.js';

const newId = (): string => randomBytes(32).toString('hex');

/** nft, a test tool: by its path, so these tests also run with nft hidden from PATH (pocker never needs it). */
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';

function nft(...args: string[]): string {
  return execFileSync(NFT, args, { encoding: 'utf8' });
}

/** The whole table as text ('' when there is none). */
function tableText(): string {
  try {
    return execFileSync(NFT, ['list', 'table', 'inet', 'pocker'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** Runs `fn` and returns what it cost in nft calls and ms. */
async function cost(fn: () => Promise<unknown>): Promise<{ calls: number; ms: number }> {
  const [c0, m0] = [nftStats.calls, nftStats.ms];
  await fn();
  return { calls: nftStats.calls - c0, ms: Math.round((nftStats.ms - m0) * 100) / 100 };
}

afterAll(() => {
  try {
    nft('delete', 'table', 'inet', 'pocker');
  } catch {
    /* none */
  }
  removeTempDirs();
});

describe('nftables rules', () => {
  it('makes the table and a network rules, again without duplicates, and removes them exactly', async () => {
    const root = tempRoot();
    const net = { id: newId(), bridge: 'pkt-a0', subnets: ['10.77.0.0/24', 'fd77::/64'], internal: false };
    const made = await cost(() => ensureNetworkRules(root, net));
    const rules = await listRules(root);
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.every((r) => r.comment === `pocker:${rootTag(root)}:${net.id}`)).toBe(true);
    const text = tableText();
    for (const chain of ['prerouting', 'output', 'postrouting', 'forward']) expect(text).toContain(`chain ${chain}`);
    expect(text).toMatch(/ip saddr 10\.77\.0\.0\/24 oifname != "pkt-a0" masquerade/);
    expect(text).toMatch(/ip6 saddr fd77::\/64 oifname != "pkt-a0" masquerade/);
    expect(text).toMatch(/ct status dnat ip saddr 10\.77\.0\.0\/24 ip daddr 10\.77\.0\.0\/24 oifname "pkt-a0" masquerade/);
    expect(text).toMatch(/oifname "pkt-a0" ip saddr 127\.0\.0\.0\/8 masquerade/);
    expect(text).toMatch(/iifname "pkt-a0" accept/);

    // Again: the same rules, not twice as many.
    const again = await cost(() => ensureNetworkRules(root, net));
    expect((await listRules(root)).length).toBe(rules.length);

    // A container's ports.
    const cid = newId();
    const mappings: PortMapping[] = [
      { hostIp: '', hostPort: 8080, containerIp: '10.77.0.2', containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 5353, containerIp: '10.77.0.2', containerPort: 53, protocol: 'udp' },
    ];
    const ports = await cost(() => addPortRules(root, cid, net.bridge, mappings));
    const mine = (await listRules(root)).filter((r) => r.id === cid);
    expect(mine.map((r) => r.chain).sort()).toEqual(['output', 'output', 'prerouting', 'prerouting']);
    expect(tableText()).toMatch(/fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 10\.77\.0\.2:80/);
    expect(tableText()).toMatch(/ip daddr 127\.0\.0\.1 udp dport 5353 dnat ip to 10\.77\.0\.2:53/);

    const unpublish = await cost(() => removeContainerRules(root, cid));
    expect((await listRules(root)).filter((r) => r.id === cid)).toEqual([]);
    expect((await listRules(root)).length).toBe(rules.length);
    const removed = await cost(() => removeNetworkRules(root, net.id));
    expect(await listRules(root)).toEqual([]);
    // Idempotent: nothing left to remove is no error.
    await removeNetworkRules(root, net.id);
    await removeContainerRules(root, cid);
    console.log(`nft cost (calls, ms): ensureNetworkRules ${made.calls}/${made.ms}, again ${again.calls}/${again.ms}, ` +
      `addPortRules(2 ports) ${ports.calls}/${ports.ms}, removeContainerRules ${unpublish.calls}/${unpublish.ms}, removeNetworkRules ${removed.calls}/${removed.ms}`);
  });

  it('--internal: drops what leaves the network, no NAT', async () => {
    const root = tempRoot();
    const net = { id: newId(), bridge: 'pkt-i0', subnets: ['10.78.0.0/24'], internal: true };
    await ensureNetworkRules(root, net);
    const text = tableText();
    expect(text).toMatch(/iifname "pkt-i0" oifname != "pkt-i0" drop/);
    expect(text).toMatch(/oifname "pkt-i0" iifname != "pkt-i0" drop/);
    expect(text).not.toMatch(/10\.78\.0\.0\/24.*masquerade/);
    // The drops come before any accept of the chain (another network's accept cannot pass them).
    const other = tempRoot();
    await ensureNetworkRules(other, { id: newId(), bridge: 'pkt-o0', subnets: ['10.79.0.0/24'], internal: false });
    await ensureNetworkRules(root, net);
    const forward = tableText().split('chain forward')[1]!;
    expect(forward.indexOf('drop comment')).toBeGreaterThan(0);
    expect(forward.indexOf('drop comment')).toBeLessThan(forward.indexOf('accept comment'));
    await removeNetworkRules(root, net.id);
    await reconcileRules(other, new Set(), new Set());
    expect(await listRules(root)).toEqual([]);
    expect(await listRules(other)).toEqual([]);
  });

  it('reconcile removes only its root rules of ids that are not live; other roots and foreign rules stay', async () => {
    const a = tempRoot();
    const b = tempRoot();
    const [netA, netB, live, dead, deadB] = [newId(), newId(), newId(), newId(), newId()];
    await ensureNetworkRules(a, { id: netA, bridge: 'pkt-ra', subnets: ['10.80.0.0/24'], internal: false });
    await ensureNetworkRules(b, { id: netB, bridge: 'pkt-rb', subnets: ['10.81.0.0/24'], internal: false });
    const m = (port: number, ip: string): PortMapping[] => [{ hostIp: '', hostPort: port, containerIp: ip, containerPort: 80, protocol: 'tcp' }];
    await addPortRules(a, live, 'pkt-ra', m(8001, '10.80.0.2'));
    await addPortRules(a, dead, 'pkt-ra', m(8002, '10.80.0.3'));
    await addPortRules(b, deadB, 'pkt-rb', m(8003, '10.81.0.2'));
    // A rule someone added by hand to pocker's table (no pocker comment): never ours to remove.
    nft('add', 'rule', 'inet', 'pocker', 'forward', 'iifname', 'foreign0', 'accept', 'comment', '"hand-made"');
    const before = (await listRules(b)).length;

    const gone = await reconcileRules(a, new Set([live]), new Set([netA]));
    expect(gone).toBe(2); // dead's prerouting + output
    const ids = (await listRules(a)).map((r) => r.id);
    expect(ids).toContain(live);
    expect(ids).toContain(netA);
    expect(ids).not.toContain(dead);
    expect((await listRules(b)).length).toBe(before); // root b untouched, its dead container too
    expect(tableText()).toContain('hand-made');

    // Removing a's network leaves b's network alone; a whole-root reconcile with nothing live empties a only.
    await removeNetworkRules(a, netB); // b's id under a's root: nothing
    expect((await listRules(b)).some((r) => r.id === netB)).toBe(true);
    await reconcileRules(a, new Set(), new Set());
    expect(await listRules(a)).toEqual([]);
    expect((await listRules(b)).length).toBe(before);
    await reconcileRules(b, new Set(), new Set());
    expect(await listRules(b)).toEqual([]);
    expect(tableText()).toContain('hand-made');
  });

  it('no nft program: the rules are made, listed and removed through netlink alone; bad input is refused before the kernel', async () => {
    const root = tempRoot();
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    const net = { id: newId(), bridge: 'pkt-n0', subnets: ['10.82.0.0/24'], internal: false };
    const cid = newId();
    try {
      await ensureNetworkRules(root, net);
      await addPortRules(root, cid, 'pkt-n0', [{ hostIp: '', hostPort: 1, containerIp: '10.82.0.2', containerPort: 1, protocol: 'tcp' }]);
      await ensureNetworkRules(root, { id: newId(), bridge: 'pkt-n1', subnets: ['10.83.0.0/24'], internal: true });
      expect((await listRules(root)).filter((r) => r.id === cid).map((r) => r.chain).sort()).toEqual(['output', 'prerouting']);
      // What the addon could not encode is refused in TypeScript, nothing sent.
      const before = (await listRules(root)).length;
      await expect(ensureNetworkRules(root, { id: newId(), bridge: 'bad name!', subnets: ['10.84.0.0/24'], internal: false })).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'network' });
      await expect(ensureNetworkRules(root, { id: newId(), bridge: 'pkt-n2', subnets: ['10.84.0.0/33'], internal: false })).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID' });
      await expect(addPortRules(root, newId(), 'pkt-n0', [{ hostIp: '', hostPort: 70000, containerIp: '10.82.0.2', containerPort: 1, protocol: 'tcp' }])).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID' });
      expect((await listRules(root)).length).toBe(before);
      await removeContainerRules(root, cid);
      await reconcileRules(root, new Set(), new Set());
      expect(await listRules(root)).toEqual([]);
    } finally {
      process.env.PATH = path;
    }
    expect(tableText()).not.toContain('pkt-n0');
  });

  it('a kernel without nf_tables (no nfnetlink socket): ERR_POCKER_UNSUPPORTED naming what is missing; --internal, list and reconcile need none', () => {
    // strace's fault injection makes every socket(2) of a child node fail with EPROTONOSUPPORT, what
    // a kernel without nfnetlink answers; the child drives lib/network/nft.ts from dist/.
    const script = join(tempDir(), 'unsupported.mjs');
    writeFileSync(script, `
      import { ensureNetworkRules, addPortRules, listRules, reconcileRules } from ${JSON.stringify(join(repoRoot, 'dist/network/nft.js'))};
      const root = ${JSON.stringify(tempRoot())};
      const out = {};
      for (const [what, f] of [
        ['bridge', () => ensureNetworkRules(root, { id: 'n1', bridge: 'pkt-u0', subnets: ['10.86.0.0/24'], internal: false })],
        ['internal', () => ensureNetworkRules(root, { id: 'n2', bridge: 'pkt-u1', subnets: ['10.87.0.0/24'], internal: true })],
        ['ports', () => addPortRules(root, 'c1', 'pkt-u0', [{ hostIp: '', hostPort: 8080, containerIp: '10.86.0.2', containerPort: 80, protocol: 'tcp' }])],
        ['list', () => listRules(root)],
        ['reconcile', () => reconcileRules(root, new Set(), new Set())],
      ]) {
        try { out[what] = { ok: await f() ?? null }; } catch (e) { out[what] = { code: e.code, errno: e.errno, syscall: e.syscall, step: e.step, message: e.message }; }
      }
      console.log(JSON.stringify(out));
    `);
    const stdout = execFileSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=socket', '-e', 'inject=socket:error=EPROTONOSUPPORT', process.execPath, script], { encoding: 'utf8' });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, { ok?: unknown; code?: string; errno?: number; syscall?: string; step?: string; message?: string }>;
    const unsupported = { code: 'ERR_POCKER_UNSUPPORTED', errno: -constants.errno.EPROTONOSUPPORT, syscall: 'socket', step: 'network' };
    expect(out.bridge).toMatchObject(unsupported);
    expect(out.bridge!.message).toMatch(/needs the kernel's nftables \(nf_tables.*EPROTONOSUPPORT/);
    expect(out.ports).toMatchObject(unsupported);
    expect(out.internal).toEqual({ ok: null });
    expect(out.list).toEqual({ ok: [] });
    expect(out.reconcile).toEqual({ ok: 0 });
  });

  it('one batch is atomic: a stale handle (a rule another pocker deleted) fails it whole, ENOENT on NFT_MSG_DELRULE', async () => {
    const root = tempRoot();
    const cid = newId();
    await addPortRules(root, cid, 'pkt-s0', [{ hostIp: '', hostPort: 2, containerIp: '10.85.0.2', containerPort: 2, protocol: 'tcp' }]);
    const [a, b] = (await listRules(root)).filter((r) => r.id === cid);
    nft('delete', 'rule', 'inet', 'pocker', b!.chain, 'handle', String(b!.handle));
    // What removeRulesOf sends when it lost that race: the kernel refuses the stale handle and
    // applies nothing of the batch (a is still there); removeRulesOf lists again and retries.
    let err: unknown;
    try {
      native().nftApply('pocker', [{ op: 'delete', chain: a!.chain, handle: a!.handle }, { op: 'delete', chain: b!.chain, handle: b!.handle }]);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'recvmsg', step: 'network', index: 1, request: 'NFT_MSG_DELRULE' });
    expect((await listRules(root)).map((r) => r.handle)).toEqual([a!.handle]);
    await removeContainerRules(root, cid);
    expect(await listRules(root)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// A published port, for real

/** A network namespace held by a sleeping `unshare --net` child (gone when it is killed). */
interface Netns {
  proc: ChildProcess;
  pid: number;
  path: string;
}

async function newNetns(): Promise<Netns> {
  const proc = spawn('unshare', ['--net', '--', 'sleep', '1000000'], { stdio: 'ignore' });
  const pid = proc.pid!;
  const mine = readlinkSync('/proc/self/ns/net');
  await until('the unshare child in its own netns', () => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== mine && readFileComm(pid) === 'sleep';
    } catch {
      return false;
    }
  });
  return { proc, pid, path: `/proc/${pid}/ns/net` };
}

function readFileComm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

function inNs(ns: Netns, cmd: string, ...args: string[]): string {
  return execFileSync('nsenter', [`--net=${ns.path}`, '--', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ip` in this (the test's) namespace. */
function ip(...args: string[]): void {
  execFileSync('ip', args);
}

/** A TCP client from this namespace: what the server said. */
function fetchFromHost(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = connect({ host, port }, () => undefined);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
  });
}

const CLIENT = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});let o='';s.setEncoding('utf8');s.on('data',d=>o+=d);s.on('end',()=>{process.stdout.write(o)});s.on('error',e=>{console.error(e.message);process.exit(1)});s.setTimeout(5000,()=>{console.error('timeout');process.exit(1)})`;
// Answers each connection with the peer's address, then closes; UDP: echoes the peer's address.
const SERVER = `const n=require('net');n.createServer(s=>s.end(s.remoteAddress)).listen(80,'0.0.0.0',()=>{const u=require('dgram').createSocket('udp4');u.on('message',(m,r)=>u.send(r.address,r.port,r.address));u.bind(53,()=>console.log('ready'))})`;

describe('a published port forwards', () => {
  const root = tempRoot();
  const netId = newId();
  const cid = newId();
  const BR = 'pkt-br0';
  let c1: Netns;
  let c2: Netns;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    c1 = await newNetns();
    c2 = await newNetns();
    ip('link', 'add', BR, 'type', 'bridge');
    ip('addr', 'add', '10.88.0.1/24', 'dev', BR);
    ip('link', 'set', BR, 'up');
    for (const [i, ns] of [[1, c1], [2, c2]] as const) {
      ip('link', 'add', `pkt-h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(ns.pid));
      ip('link', 'set', `pkt-h${i}`, 'master', BR, 'up');
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
      inNs(ns, 'ip', 'addr', 'add', `10.88.0.${i + 1}/24`, 'dev', 'eth0');
      inNs(ns, 'ip', 'link', 'set', 'eth0', 'up');
      inNs(ns, 'ip', 'route', 'add', 'default', 'via', '10.88.0.1');
    }
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1'); // this namespace's own
    enableRouteLocalnet(BR);
    await ensureNetworkRules(root, { id: netId, bridge: BR, subnets: ['10.88.0.0/24'], internal: false });
    server = spawn('nsenter', [`--net=${c1.path}`, '--', process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    for (const ns of [c1, c2]) ns?.proc.kill('SIGKILL');
    try {
      ip('link', 'del', BR);
    } catch {
      /* gone */
    }
    await reconcileRules(root, new Set(), new Set());
  });

  it('at 127.0.0.1, at the bridge address, from a second namespace (hairpin), TCP and UDP; nothing once removed', async () => {
    await addPortRules(root, cid, BR, [
      { hostIp: '', hostPort: 8080, containerIp: '10.88.0.2', containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 8081, containerIp: '10.88.0.2', containerPort: 80, protocol: 'tcp' },
      { hostIp: '', hostPort: 5300, containerIp: '10.88.0.2', containerPort: 53, protocol: 'udp' },
    ]);
    // The server sees the masqueraded source (the bridge's address): from 127.0.0.1 too.
    expect(await fetchFromHost('127.0.0.1', 8080)).toBe('10.88.0.1');
    expect(await fetchFromHost('127.0.0.1', 8081)).toBe('10.88.0.1');
    expect(await fetchFromHost('10.88.0.1', 8080)).toBe('10.88.0.1');
    // Hairpin: the second namespace reaches the port through the host's address.
    expect(inNs(c2, process.execPath, '-e', CLIENT, '10.88.0.1', '8080')).toBe('10.88.0.1');
    // 127.0.0.1:8081 is published on 127.0.0.1 only: not through the bridge address.
    expect(() => inNs(c2, process.execPath, '-e', CLIENT, '10.88.0.1', '8081')).toThrow();
    // UDP.
    const udp = execFileSync(process.execPath, ['-e',
      `const u=require('dgram').createSocket('udp4');u.on('message',m=>{process.stdout.write(m);process.exit(0)});u.send('x',5300,'127.0.0.1');setTimeout(()=>process.exit(1),5000)`,
    ], { encoding: 'utf8' });
    expect(udp).toBe('10.88.0.1');

    await removeContainerRules(root, cid);
    await expect(fetchFromHost('127.0.0.1', 8080)).rejects.toThrow(/ECONNREFUSED/);
  });
});
