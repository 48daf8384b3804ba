// The native half of container networking (cpp/common/netlink.cpp, cpp/init/net.cpp,
// cpp/addon/net.cpp): the addon's net* calls, and pocker-init plumbing a hand-written
// `pocker.network` section (net-store builds the real one) into a container it starts from a plain
// OCI document. Runs in the network namespace the `network` project made for the run.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { native, type NativeEvent, type NetInterfaceSpec } from '../../lib/native.js';
import { DEFAULT_MOUNTS } from '../../lib/spec/defaults.js';
import { encodeSpec } from '../../lib/spec/build.js';
import type { Spec } from '../../lib/spec/oci.js';
import { cleanupAll, copyRootfs, isRoot, processAlive, tempDir, until } from '../helpers.js';

const BRIDGE = 'pktest0';
const SUBNET4 = '10.88.0.1/24';
const SUBNET6 = 'fd00:88::1/64';

/** `pocker.network` (lib/spec/pocker.ts PockerNetwork), written by hand here. */
interface NetworkSection {
  interfaces: NetInterfaceSpec[];
  cleanup?: string[];
}

const iface = (over: Partial<NetInterfaceSpec> = {}): NetInterfaceSpec => ({
  name: 'eth0',
  hostName: 'pktest0h0',
  bridge: BRIDGE,
  addresses: ['10.88.0.2/24', 'fd00:88::2/64'],
  gateway: '10.88.0.1',
  gateway6: 'fd00:88::1',
  mac: '02:42:0a:58:00:02',
  mtu: 1400,
  ...over,
});

let rootfs = '';
function doc(args: string[], out: string, opts: { network?: NetworkSection; netns?: boolean; detach?: Record<string, unknown>; restart?: { policy: string; max: number } } = {}): Spec {
  rootfs ||= copyRootfs();
  const namespaces: { type: string }[] = [{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }];
  if (opts.netns !== false) namespaces.push({ type: 'network' });
  const d = {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: rootfs },
    mounts: [...DEFAULT_MOUNTS, { destination: '/out', type: 'bind', source: out, options: ['rbind'] }],
    linux: { namespaces },
    pocker: {
      version: 2,
      monitor: opts.detach ? { foreground: false, detach: opts.detach, ...(opts.restart ? { restart: opts.restart } : {}) } : { foreground: true },
      ...(opts.network ? { network: opts.network } : {}),
    },
  };
  return d as unknown as Spec;
}

interface Started {
  events: NativeEvent[];
  pid: Promise<number>;
  done: Promise<NativeEvent[]>;
}

/** Spawns pocker-init on a document (with POCKER_FAULT set for the spawn when given). */
function spawnDoc(spec: Spec, fault?: string): Started {
  const events: NativeEvent[] = [];
  let onPid!: (pid: number) => void;
  const pid = new Promise<number>((r) => (onPid = r));
  let onDone!: (e: NativeEvent[]) => void;
  const done = new Promise<NativeEvent[]>((r) => (onDone = r));
  const devnull = openSync('/dev/null', 'r+');
  if (fault) process.env.POCKER_FAULT = fault;
  try {
    native().spawn({
      spec: encodeSpec(spec),
      stdio: [devnull, devnull, devnull],
      onEvent: (ev) => {
        events.push(ev);
        if (ev.type === 'pid') onPid(ev.pid);
        if (ev.type === 'reaped') {
          onPid(0);
          onDone(events);
        }
      },
    });
  } finally {
    delete process.env.POCKER_FAULT;
    closeSync(devnull);
  }
  return { events, pid, done };
}

// One cleanup for the file (it removes the temp dirs, the shared rootfs copy among them).
afterAll(async () => {
  expect(await cleanupAll()).toEqual([]);
  expect(pocketLinks()).toEqual([]);
  // The bridge too: a later file of the run (nft.test.ts) uses the same 10.88.0.0/24 on its own
  // bridge, and a route left on this one takes its packets (seen when other files ran first).
  native().netDeleteLink(BRIDGE);
});

const links = () => native().netLinks();
const link = (name: string) => links().find((l) => l.name === name);
const pocketLinks = () => links().filter((l) => l.name.startsWith('pktest0h'));

describe.skipIf(!isRoot)('addon: links, bridges, addresses, routes', () => {
  afterEach(() => {
    native().netDeleteLink(BRIDGE);
  });

  it('creates a bridge once (idempotent), with its addresses, up; deletes it', () => {
    const n = native();
    expect(n.netBridge(BRIDGE, [SUBNET4, SUBNET6], 1500)).toBe(true);
    expect(n.netBridge(BRIDGE, [SUBNET4, SUBNET6], 1500)).toBe(false);
    const br = link(BRIDGE)!;
    expect(br).toMatchObject({ kind: 'bridge', up: true, mtu: 1500 });
    expect(br.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(br.mac.slice(0, 2), 16) & 3).toBe(2); // locally administered unicast
    const addrs = n.netAddresses().filter((a) => a.name === BRIDGE).map((a) => a.address);
    expect(addrs.sort()).toEqual(['10.88.0.1/24', 'fd00:88::1/64']);
    // A missing address is added on the next call; the ones there are kept.
    expect(n.netBridge(BRIDGE, [SUBNET4, '10.89.0.1/24'], 1500)).toBe(false);
    expect(n.netAddresses().filter((a) => a.name === BRIDGE).length).toBe(3);
    expect(n.netRoutes()).toEqual(expect.arrayContaining([{ dst: '10.88.0.0/24', dev: BRIDGE }, { dst: 'fd00:88::/64', dev: BRIDGE }]));
    expect(n.netDeleteLink(BRIDGE)).toBe(true);
    expect(n.netDeleteLink(BRIDGE)).toBe(false);
    expect(link(BRIDGE)).toBeUndefined();
  });

  it('refuses a non-bridge of that name and bad input with SystemError-shaped errors (step network)', () => {
    const n = native();
    expect(() => n.netBridge('lo', [], 0)).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'RTM_NEWLINK', path: 'lo', step: 'network' }));
    expect(() => n.netBridge(BRIDGE, ['10.88.0.300/24'], 0)).toThrow(expect.objectContaining({ code: 'EINVAL', step: 'network' }));
    expect(link(BRIDGE)).toBeUndefined();
    expect(() => n.netBridge('x'.repeat(16), [], 0)).toThrow(expect.objectContaining({ step: 'network', syscall: 'RTM_GETLINK' }));
    expect(() => (n.netBridge as unknown as (x: unknown) => void)(5)).toThrow(TypeError);
    // An attribute longer than netlink's 16-bit length is refused, never truncated.
    expect(() => n.netDeleteLink('x'.repeat(70_000))).toThrow(expect.objectContaining({ code: 'EMSGSIZE', syscall: 'RTM_DELLINK' }));
  });
});

describe.skipIf(!isRoot)('pocker-init: pocker.network', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
    native().netDeleteLink(BRIDGE);
  });

  it('plumbs eth0 (address, MAC, MTU, default routes) on the bridge; the container talks to the bridge address over IPv4 and IPv6', async () => {
    native().netBridge(BRIDGE, [SUBNET4, SUBNET6], 1500);
    const got: string[] = [];
    server = createServer((s) => s.on('data', (d) => got.push(d.toString().trim())));
    await new Promise<void>((r) => server!.listen(0, '::', r));
    const port = (server.address() as { port: number }).port;
    const out = tempDir('net-out');
    const script = [
      'exec > /out/report 2>&1',
      'echo mac $(cat /sys/class/net/eth0/address)',
      'echo mtu $(cat /sys/class/net/eth0/mtu)',
      'echo loflags $(cat /sys/class/net/lo/flags)',
      'ip addr show eth0',
      'ip route',
      'ip -6 route',
      `echo v4 | nc 10.88.0.1 ${port} && echo sent4`,
      `echo v6 | nc fd00:88::1 ${port} && echo sent6`,
    ].join('\n');
    const c = spawnDoc(doc(['/bin/sh', '-c', script], out, { network: { interfaces: [iface()] } }));
    const events = await c.done;
    expect(events.find((e) => e.type === 'error')).toBeUndefined();
    expect(events.find((e) => e.type === 'exit')).toMatchObject({ exitCode: 0 });
    const report = readFileSync(join(out, 'report'), 'utf8');
    expect(report).toContain('mac 02:42:0a:58:00:02');
    expect(report).toContain('mtu 1400');
    expect(report).toMatch(/loflags 0x9\b/); // IFF_UP | IFF_LOOPBACK
    expect(report).toMatch(/inet 10\.88\.0\.2\/24 /);
    expect(report).toMatch(/inet6 fd00:88::2\/64 /);
    expect(report).toMatch(/^default via 10\.88\.0\.1 dev eth0/m);
    expect(report).toMatch(/^default via fd00:88::1 dev eth0/m);
    expect(report).toContain('sent4');
    expect(report).toContain('sent6');
    await until('the server got both lines', () => got.length === 2);
    expect(got.sort()).toEqual(['v4', 'v6']);
    // The container's namespace died with it, and the kernel removes the pair (asynchronously).
    await until('the pair is gone', () => pocketLinks().length === 0);
  });

  it('the host end is on the bridge and up while the container runs; it goes with the namespace at the end', async () => {
    native().netBridge(BRIDGE, [SUBNET4], 1500);
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'while [ ! -e /out/done ]; do sleep 0.05; done'], out, { network: { interfaces: [iface({ addresses: ['10.88.0.3/24'], gateway6: undefined })] } }));
    const pid = await c.pid;
    await until('started', () => c.events.some((e) => e.type === 'started'));
    expect(link('pktest0h0')).toMatchObject({ kind: 'veth', master: BRIDGE, up: true, mtu: 1400 });
    expect(native().netAddresses(pid)).toEqual(expect.arrayContaining([{ name: 'eth0', address: '10.88.0.3/24' }, { name: 'lo', address: '127.0.0.1/8' }]));
    writeFileSync(join(out, 'done'), '');
    await c.done;
    await until('the pair is gone', () => pocketLinks().length === 0);
  });

  it('lo is up in a new network namespace without interfaces (--network none)', async () => {
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'cat /sys/class/net/lo/flags > /out/flags; ls /sys/class/net > /out/devs'], out));
    expect((await c.done).find((e) => e.type === 'exit')).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(out, 'flags'), 'utf8').trim()).toBe('0x9');
    expect(readFileSync(join(out, 'devs'), 'utf8').trim()).toBe('lo');
  });

  it('refuses interfaces without a network namespace of their own, naming the JSON path', async () => {
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/true'], out, { netns: false, network: { interfaces: [iface()] } }));
    expect((await c.done).find((e) => e.type === 'error')).toMatchObject({ step: 'read-spec', path: expect.stringContaining('pocker.network.interfaces') });
    const bad = spawnDoc(doc(['/bin/true'], out, { network: { interfaces: [iface({ hostName: 'x'.repeat(16) })] } }));
    expect((await bad.done).find((e) => e.type === 'error')).toMatchObject({ step: 'read-spec', path: 'spec: pocker.network.interfaces[0].hostName: expected an interface name of 1 to 15 bytes' });
  });

  it.each<[string, Partial<NetInterfaceSpec>, Record<string, unknown>]>([
    ['an invalid address', { addresses: ['10.88.0.300/24'] }, { code: 'EINVAL', syscall: 'parse-address', path: 'eth0 10.88.0.300/24' }],
    ['a missing bridge', { bridge: 'pknobridge' }, { code: 'ENODEV', syscall: 'RTM_GETLINK', path: 'pknobridge' }],
    // The pair and the address exist when the route fails: the host end is deleted.
    ['an unreachable gateway', { gateway: '10.99.0.1' }, { code: 'ENETUNREACH', syscall: 'RTM_NEWROUTE', path: 'eth0 via 10.99.0.1' }],
  ])('%s: step network, nothing started, no link left', async (_what, over, want) => {
    native().netBridge(BRIDGE, [SUBNET4, SUBNET6], 1500);
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'touch /out/ran'], out, { network: { interfaces: [iface(over)] } }));
    const events = await c.done;
    expect(events.find((e) => e.type === 'error')).toMatchObject({ step: 'network', ...want });
    expect(events.some((e) => e.type === 'started')).toBe(false);
    expect(existsSync(join(out, 'ran'))).toBe(false);
    expect(pocketLinks()).toEqual([]);
  });

  // POCKER_FAULT=<point>: the monitor SIGKILLs itself right after that step. The container's first
  // process (still waiting for its go) sees its socket close and exits; its network namespace dies
  // with it and the kernel deletes the pair, host end included: no process, no link remains, and
  // nothing ever ran. (net-store's tests check its own records on top of this.)
  it.each(['net-veth', 'net-addr', 'net-route'])('fault point %s: the monitor dies; the container never runs; the pair goes with its namespace', async (point) => {
    native().netBridge(BRIDGE, [SUBNET4, SUBNET6], 1500);
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'touch /out/ran'], out, { network: { interfaces: [iface()] } }), point);
    const pid = await c.pid;
    const events = await c.done;
    expect(events.at(-1)).toMatchObject({ type: 'reaped', signal: 9 });
    expect(events.some((e) => e.type === 'started')).toBe(false);
    await until('the container process is gone', () => pid === 0 || !processAlive(pid));
    await until('the veth pair is gone', () => pocketLinks().length === 0);
    expect(existsSync(join(out, 'ran'))).toBe(false);
  });

  it('network connect/disconnect: netAttach plumbs eth1 into a running container, netDetach removes it', async () => {
    native().netBridge(BRIDGE, [SUBNET4], 1500);
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'while [ ! -e /out/done ]; do sleep 0.05; done; cat /sys/class/net/eth1/address > /out/mac 2>&1'], out));
    const pid = await c.pid;
    await until('started', () => c.events.some((e) => e.type === 'started'));
    const n = native();
    n.netAttach(pid, iface({ name: 'eth1', hostName: 'pktest0h1', addresses: ['10.88.0.9/24'], gateway: '10.88.0.1', gateway6: undefined, mac: '02:42:0a:58:00:09' }));
    expect(n.netAddresses(pid)).toContainEqual({ name: 'eth1', address: '10.88.0.9/24' });
    expect(link('pktest0h1')).toMatchObject({ master: BRIDGE, up: true });
    // The same name again: EEXIST, and the existing pair is untouched.
    expect(() => n.netAttach(pid, iface({ name: 'eth1', hostName: 'pktest0h2', addresses: [] }))).toThrow(expect.objectContaining({ code: 'EEXIST', step: 'network' }));
    expect(link('pktest0h1')).toBeDefined();
    expect(link('pktest0h2')).toBeUndefined();
    // Node's own namespace never changed.
    expect(n.netLinks().map((l) => l.name)).toContain(BRIDGE);
    expect(n.netDetach(pid, 'eth1')).toBe(true);
    expect(n.netDetach(pid, 'eth1')).toBe(false);
    expect(link('pktest0h1')).toBeUndefined();
    writeFileSync(join(out, 'done'), '');
    await c.done;
    expect(() => n.netAttach(pid, iface())).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', step: 'network' }));
  });

  it('a restart policy plumbs every run again (a new namespace each time)', async () => {
    native().netBridge(BRIDGE, [SUBNET4], 1500);
    const out = tempDir('net-out');
    const state = tempDir('net-state');
    const script = 'ip -4 addr show eth0 | grep -o "inet [0-9./]*" >> /out/runs; [ $(wc -l < /out/runs) -ge 3 ]';
    const c = spawnDoc(
      doc(['/bin/sh', '-c', script], out, {
        network: { interfaces: [iface({ addresses: ['10.88.0.4/24'], gateway6: undefined })] },
        detach: { stateDir: state, logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: false },
        restart: { policy: 'on-failure', max: 5 },
      }),
    );
    await c.done; // the caller's process; the monitor lives on
    const status = () => (JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { status: string; exitCode: number }).status;
    await until('the restarts ended', () => existsSync(join(state, 'state.json')) && status() === 'exited', 30_000);
    expect(readFileSync(join(out, 'runs'), 'utf8')).toBe('inet 10.88.0.4/24\n'.repeat(3));
    await until('the pair is gone', () => pocketLinks().length === 0);
  });
});

describe.skipIf(!isRoot)('pocker-init: pocker.network.cleanup', () => {
  it('a restart whose network cannot be set up ends the policy (exit code 125) and runs the cleanup', async () => {
    native().netBridge(BRIDGE, [SUBNET4], 1500);
    const out = tempDir('net-out');
    const state = tempDir('net-state');
    const marker = join(out, 'cleanup');
    const c = spawnDoc(
      doc(['/bin/sh', '-c', 'echo run >> /out/runs; while [ ! -e /out/go ]; do sleep 0.05; done; exit 1'], out, {
        network: { interfaces: [iface({ addresses: ['10.88.0.5/24'], gateway6: undefined })], cleanup: ['/bin/sh', '-c', `echo ran > ${marker}`] },
        detach: { stateDir: state, logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: false },
        restart: { policy: 'always', max: 0 },
      }),
    );
    await c.done;
    await until('the first run', () => existsSync(join(out, 'runs')));
    // The bridge goes away while the first run is still running: the next run cannot join it.
    expect(native().netDeleteLink(BRIDGE)).toBe(true);
    writeFileSync(join(out, 'go'), '');
    const st = () => JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { status: string; exitCode: number; restartCount: number };
    await until('the policy ended', () => st().status === 'exited');
    expect(st()).toMatchObject({ exitCode: 125, restartCount: 1 });
    expect(readFileSync(join(out, 'runs'), 'utf8')).toBe('run\n');
    expect(readFileSync(marker, 'utf8')).toBe('ran\n');
    await until('the pair is gone', () => pocketLinks().length === 0);
  });


  it('runs the cleanup argv at a detached container\'s end, before the --rm removal (no shell)', async () => {
    const out = tempDir('net-out');
    const parent = tempDir('net-state');
    const state = join(parent, 'c1');
    mkdirSync(state);
    const marker = join(out, 'cleanup');
    // The argv is exec'd as is: `sh -c` here is the test's choice of program, not the monitor's.
    const fdsFile = join(out, 'fds');
    const script = `ls /proc/$$/fd > ${fdsFile}; { echo "args: $0 $1"; echo "path: $PATH"; ls ${state} >/dev/null 2>&1 && echo "dir: present"; } > ${marker}`;
    const cleanup = ['/bin/sh', '-c', script, 'one', 'two'];
    const c = spawnDoc(
      doc(['/bin/sh', '-c', 'while [ ! -e /out/done ]; do sleep 0.05; done'], out, {
        network: { interfaces: [], cleanup },
        detach: { stateDir: state, logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: true },
      }),
    );
    await c.done;
    expect(existsSync(marker)).toBe(false);
    writeFileSync(join(out, 'done'), '');
    await until('the container directory is removed', () => !existsSync(state));
    const text = readFileSync(marker, 'utf8');
    expect(text).toContain('args: one two');
    expect(text).toMatch(/path: .*\/usr\/sbin/);
    expect(text).toContain('dir: present');
    // Nothing of the monitor's (its sync socket is fd 3) crosses into the cleanup program (the shell
    // keeps its own copy of a redirected fd at 10 and up).
    const fds = readFileSync(fdsFile, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(fds.filter((fd) => fd < 10).sort()).toEqual([0, 1, 2]);
  });

  it('an exec plumbs and releases nothing, even with a network section in its document', async () => {
    native().netBridge(BRIDGE, [SUBNET4], 1500);
    const out = tempDir('net-out');
    const c = spawnDoc(doc(['/bin/sh', '-c', 'while [ ! -e /out/done ]; do sleep 0.05; done'], out));
    const pid = await c.pid;
    await until('started', () => c.events.some((e) => e.type === 'started'));
    const marker = join(out, 'cleanup');
    const execState = tempDir('net-exec-state');
    const exec = {
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['/bin/sh', '-c', 'ls /sys/class/net > /out/exec-devs'], env: ['PATH=/bin'], cwd: '/' },
      pocker: {
        version: 2,
        // Detached (exec -d), with a state dir of its own here so that its end can be awaited: a
        // detached monitor would run a cleanup argv at its end.
        monitor: { foreground: false, detach: { stateDir: execState, logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: false } },
        exec: { pid },
        network: { interfaces: [iface()], cleanup: ['/bin/sh', '-c', `echo ran > ${marker}`] },
      },
    } as unknown as Spec;
    await spawnDoc(exec).done;
    await until('the exec ended', () => JSON.parse(readFileSync(join(execState, 'state.json'), 'utf8')).status === 'exited');
    expect(readFileSync(join(out, 'exec-devs'), 'utf8').trim()).toBe('lo');
    expect(existsSync(marker)).toBe(false);
    expect(pocketLinks()).toEqual([]);
    writeFileSync(join(out, 'done'), '');
    await c.done;
  });

  it('a cleanup that hangs is SIGKILLed after 10 s, then the final state is written', async () => {
    const out = tempDir('net-out');
    const state = tempDir('net-state');
    const pidFile = join(out, 'cleanup.pid');
    const c = spawnDoc(
      doc(['/bin/true'], out, {
        network: { interfaces: [], cleanup: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 1000`] },
        detach: { stateDir: state, logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: false },
      }),
    );
    await c.done;
    await until('the cleanup ran', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const cleanupPid = Number(readFileSync(pidFile, 'utf8'));
    expect(JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')).status).not.toBe('exited');
    await until('the final state', () => JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')).status === 'exited', 20_000);
    expect(processAlive(cleanupPid)).toBe(false);
  });
});
