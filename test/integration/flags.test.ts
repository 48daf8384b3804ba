// Docker's run flags of issue 12, each seen from inside a real container (root only): --ulimit,
// --shm-size, --device, --group-add, --sysctl, --pid host, --ipc, --uts host, --mount, --label
// (ps --filter label=, inspect), --stop-signal / --stop-timeout, --memory-reservation and
// --oom-kill-disable (cgroup v1 files), logs --details; and bad input: exit 125, nothing created.
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { constants as osConstants, hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { detectCgroups } from '../../lib/cgroup/index.js';
import { busyboxRootfs, cleanupAll, cli, containerState, isRoot, pk, rootTracker, tempDir, testCgroupParent, until } from '../helpers.js';

const roots = rootTracker();

/** `pocker run --rm ARGS` in `root`; stdout, stderr and exit code. */
const runIn = (root: string, ...args: string[]) => pk(root, 'run', '--rm', ...args);
const lines = (s: string) => s.split('\n').filter(Boolean);

describe.skipIf(!isRoot)('run flags of issue 12, seen from inside the container', () => {
  const root = roots.newRoot();
  afterAll(async () => {
    await roots.removeAll();
    await cleanupAll();
  });

  it('--ulimit: soft and hard limits, -1 is unlimited', async () => {
    const r = await runIn(root, '--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', '--ulimit', 'nproc=500', 'host', 'sh', '-c', 'ulimit -Sn; ulimit -Hn; ulimit -c; awk \'/^Max processes/{print $3, $4}\' /proc/self/limits');
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['1024', '2048', 'unlimited', '500 500']);
    expect(r.code).toBe(0);
  });

  it("exec runs with the container's --ulimit and --group-add (as Docker's exec)", async () => {
    const r = await pk(root, 'run', '-d', '--ulimit', 'nofile=512:1024', '--group-add', '4321', 'host', 'sleep', '1000');
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const e = await pk(root, 'exec', id, 'sh', '-c', 'ulimit -Sn; ulimit -Hn; id -G');
    expect(lines(e.stdout)).toEqual(['512', '1024', '0 4321']);
    expect((await pk(root, 'exec', '-u', '1000', id, 'id', '-G')).stdout.trim()).toBe('1000 4321');
    expect((await pk(root, 'rm', '-f', id)).code).toBe(0);
  });

  it('--shm-size: the size of /dev/shm (default 64m)', async () => {
    const r = await runIn(root, '--shm-size', '32m', 'host', 'sh', '-c', "df -k /dev/shm | awk 'NR==2{print $2}'");
    expect(r.stdout.trim()).toBe('32768');
    const d = await runIn(root, 'host', 'sh', '-c', "df -k /dev/shm | awk 'NR==2{print $2}'");
    expect(d.stdout.trim()).toBe('65536');
  });

  it('--device: a usable node at the container path, the host one at its own', async () => {
    const r = await runIn(root, '--device', '/dev/null:/dev/mynull', '--device', '/dev/zero', 'host', 'sh', '-c',
      "stat -c '%F %t:%T' /dev/mynull; echo data > /dev/mynull && echo wrote; head -c 4 /dev/zero | od -An -tx1 | tr -d ' '");
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['character special file 1:3', 'wrote', '00000000']);
    // Without --device there is no such node (the default set only).
    const none = await runIn(root, 'host', 'sh', '-c', 'test -e /dev/mynull && echo present || echo absent');
    expect(none.stdout.trim()).toBe('absent');
  });

  it('--group-add: gids and group names of the container, seen by id', async () => {
    const r = await runIn(root, '--group-add', '1234', '--group-add', 'extra', '--rootfs', busyboxRootfs(), 'id', '-G');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split(' ')).toEqual(['0', '1234', '2000']);
    // create, then start: the name is resolved when the container starts.
    const id = (await pk(root, 'create', '--group-add', 'extra', '--rootfs', busyboxRootfs(), 'id', '-G')).stdout.trim();
    const started = await pk(root, 'start', '-a', id);
    expect(started.stdout.trim()).toBe('0 2000');
    expect((await pk(root, 'rm', id)).code).toBe(0);
    const bad = await runIn(root, '--group-add', 'nosuchgroup', '--rootfs', busyboxRootfs(), 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/Unable to find group nosuchgroup: no matching entries in group file/);
  });

  it("--sysctl: the container's own IPC and network namespaces take the value, the host's do not change", async () => {
    const hostShmmax = readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim();
    const r = await runIn(root, '--sysctl', 'kernel.shmmax=123456789', '--sysctl', 'net.ipv4.ip_default_ttl=42', 'host', 'sh', '-c',
      'cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_default_ttl');
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['123456789', '42']);
    expect(readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim()).toBe(hostShmmax);
  });

  it("--pid host: the host's processes, /proc/1 the host's init", async () => {
    const r = await runIn(root, '--pid', 'host', 'host', 'sh', '-c', 'cat /proc/1/comm; readlink /proc/self/ns/pid');
    expect(lines(r.stdout)).toEqual([readFileSync('/proc/1/comm', 'utf8').trim(), readlinkSync('/proc/self/ns/pid')]);
    const own = await runIn(root, 'host', 'sh', '-c', 'readlink /proc/self/ns/pid');
    expect(own.stdout.trim()).not.toBe(readlinkSync('/proc/self/ns/pid'));
  });

  it("--uts host: the host's name and UTS namespace; -h with it is refused", async () => {
    const r = await runIn(root, '--uts', 'host', 'host', 'sh', '-c', 'hostname; readlink /proc/self/ns/uts; echo $HOSTNAME');
    expect(lines(r.stdout)).toEqual([hostname(), readlinkSync('/proc/self/ns/uts'), hostname()]);
    const bad = await runIn(root, '--uts', 'host', '-h', 'x', 'host', 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/Conflicting options: hostname and the UTS mode/);
  });

  it('--ipc: private (default), host, and container:NAME of a shareable container only', async () => {
    const hostIpc = readlinkSync('/proc/self/ns/ipc');
    const priv = await runIn(root, 'host', 'readlink', '/proc/self/ns/ipc');
    expect(priv.stdout.trim()).toMatch(/^ipc:\[\d+\]$/);
    expect(priv.stdout.trim()).not.toBe(hostIpc);
    const host = await runIn(root, '--ipc', 'host', 'host', 'readlink', '/proc/self/ns/ipc');
    expect(host.stdout.trim()).toBe(hostIpc);

    const donor = await pk(root, 'run', '-d', '--name', 'ipc-donor', '--ipc', 'shareable', 'host', 'sleep', '1000');
    expect(donor.code).toBe(0);
    const donorIpc = (await pk(root, 'exec', 'ipc-donor', 'readlink', '/proc/self/ns/ipc')).stdout.trim();
    expect(donorIpc).toMatch(/^ipc:\[\d+\]$/);
    const joined = await runIn(root, '--ipc', 'container:ipc-donor', 'host', 'readlink', '/proc/self/ns/ipc');
    expect(joined.stderr).toBe('');
    expect(joined.stdout.trim()).toBe(donorIpc);
    // --pid container:NAME joins its PID namespace the same way: its sleep is PID 1 there.
    const donorPid = (await pk(root, 'exec', 'ipc-donor', 'readlink', '/proc/self/ns/pid')).stdout.trim();
    const pidJoined = await runIn(root, '--pid', 'container:ipc-donor', 'host', 'sh', '-c', 'readlink /proc/self/ns/pid; cat /proc/1/comm');
    expect(lines(pidJoined.stdout)).toEqual([donorPid, 'sleep']);

    const plain = await pk(root, 'run', '-d', '--name', 'ipc-private', 'host', 'sleep', '1000');
    expect(plain.code).toBe(0);
    const refused = await runIn(root, '--ipc', 'container:ipc-private', 'host', 'true');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/non-shareable IPC/);
    const missing = await runIn(root, '--ipc', 'container:no-such', 'host', 'true');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/No such container: no-such/);
    expect((await pk(root, 'rm', '-f', 'ipc-donor', 'ipc-private')).code).toBe(0);
  });

  it('--mount: bind (read-only), tmpfs (size, mode), an anonymous volume', async () => {
    const dir = tempDir('mount-src');
    writeFileSync(join(dir, 'f'), 'from-host\n');
    const r = await runIn(root, '--mount', `type=bind,src=${dir},dst=/data,ro`, '--mount', 'type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770',
      '--mount', 'type=volume,dst=/vol', 'host', 'sh', '-c',
      "cat /data/f; touch /data/g 2>/dev/null && echo writable || echo read-only; df -k /scratch | awk 'NR==2{print $2}'; stat -c %a /scratch; echo v > /vol/x && cat /vol/x");
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['from-host', 'read-only', '1024', '1770', 'v']);
    expect(existsSync(join(dir, 'g'))).toBe(false);
    const named = await runIn(root, '--mount', 'type=volume,src=/abs,dst=/vol', 'host', 'true');
    expect(named.code).toBe(125);
    expect(named.stderr).toMatch(/a volume's source is a volume name, not a path/);
  });

  it('--label / --label-file: inspect Config.Labels, ps --filter label=KEY and label=KEY=VALUE', async () => {
    const file = join(tempDir('labels'), 'labels');
    writeFileSync(file, '# labels\ntier=back\n');
    const web = await pk(root, 'run', '-d', '--name', 'lbl-web', '-l', 'app=web', '--label', 'team', '--label-file', file, 'host', 'sleep', '1000');
    const db = await pk(root, 'run', '-d', '--name', 'lbl-db', '--label', 'app=db', 'host', 'sleep', '1000');
    expect([web.code, db.code]).toEqual([0, 0]);
    const names = async (...filters: string[]) =>
      lines((await pk(root, 'ps', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Names}}')).stdout).sort();
    expect(await names('label=app')).toEqual(['lbl-db', 'lbl-web']);
    expect(await names('label=app=web')).toEqual(['lbl-web']);
    expect(await names('label=team')).toEqual(['lbl-web']);
    expect(await names('label=app', 'label=tier=back')).toEqual(['lbl-web']);
    expect(await names('label=app=nope')).toEqual([]);
    expect((await pk(root, 'ps', '--filter', 'name=lbl-web', '--format', '{{.Labels}}')).stdout).toBe('app=web,team=,tier=back\n');
    const inspected = JSON.parse((await pk(root, 'inspect', 'lbl-web')).stdout) as Array<{ Config: { Labels: Record<string, string> } }>;
    expect(inspected[0]!.Config.Labels).toEqual({ app: 'web', team: '', tier: 'back' });
    expect((await pk(root, 'rm', '-f', 'lbl-web', 'lbl-db')).code).toBe(0);
  });

  it('--stop-signal is what stop sends (seen by a trap); --stop-timeout is the grace stop gives', async () => {
    const r = await pk(root, 'run', '-d', '--stop-signal', 'USR1', '--stop-timeout', '7', 'host', 'sh', '-c',
      'trap "echo got-usr1; exit 3" USR1; trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done');
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    await until('the trap to be set', async () => (await pk(root, 'logs', id)).stdout.includes('ready'));
    const stop = await pk(root, 'stop', id);
    expect(stop.code).toBe(0);
    expect((await pk(root, 'logs', id)).stdout).toBe('ready\ngot-usr1\n');
    expect(containerState(root, id)).toMatchObject({ status: 'exited', exitCode: 3 });
    // The stop request the monitor carried out: SIGUSR1, 7 seconds (not Docker's default 10).
    expect(readlinkSync(join(root, 'containers', id, 'stop-requested'))).toBe(`${osConstants.signals.SIGUSR1} 7`);
    const inspected = JSON.parse((await pk(root, 'inspect', id)).stdout) as Array<{ Config: { StopSignal?: string; StopTimeout?: number } }>;
    expect(inspected[0]!.Config).toMatchObject({ StopSignal: 'SIGUSR1', StopTimeout: 7 });
    // An explicit -t still wins.
    expect((await pk(root, 'start', id)).code).toBe(0);
    await until('the restarted trap', async () => (await pk(root, 'logs', id)).stdout.split('ready').length === 3);
    expect((await pk(root, 'stop', '-t', '4', id)).code).toBe(0);
    expect(readlinkSync(join(root, 'containers', id, 'stop-requested'))).toBe(`${osConstants.signals.SIGUSR1} 4`);
    expect((await pk(root, 'rm', id)).code).toBe(0);
  });

  it('logs --details: each line after a space (pocker records no log attributes), after the time with -t', async () => {
    const r = await pk(root, 'run', '-d', 'host', 'sh', '-c', 'echo one; echo two');
    const id = r.stdout.trim();
    await until('the container to exit', () => containerState(root, id).status === 'exited');
    expect((await pk(root, 'logs', '--details', id)).stdout).toBe(' one\n two\n');
    expect((await pk(root, 'logs', '--details', '-t', id)).stdout).toMatch(/^\S+Z {2}one\n\S+Z {2}two\n$/);
    expect((await pk(root, 'rm', id)).code).toBe(0);
  });

  it.skipIf(detectCgroups().version !== 1)('--memory-reservation and --oom-kill-disable: the memory cgroup v1 files', async () => {
    const r = await pk(root, 'run', '-d', '-m', '64m', '--memory-reservation', '32m', '--oom-kill-disable', 'host', 'sleep', '1000');
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const dir = join(detectCgroups().v1Mounts!.memory!, testCgroupParent(), id);
    expect(readFileSync(join(dir, 'memory.soft_limit_in_bytes'), 'utf8').trim()).toBe(String(32 * 1024 * 1024));
    expect(readFileSync(join(dir, 'memory.oom_control'), 'utf8')).toMatch(/^oom_kill_disable 1$/m);
    const inspected = JSON.parse((await pk(root, 'inspect', id)).stdout) as Array<{ HostConfig: { MemoryReservation: number; OomKillDisable: boolean } }>;
    expect(inspected[0]!.HostConfig).toMatchObject({ MemoryReservation: 32 * 1024 * 1024, OomKillDisable: true });
    expect((await pk(root, 'rm', '-f', id)).code).toBe(0);
  });

  it('bad input: exit 125 with a clear message, and nothing is created', async () => {
    const clean = roots.newRoot();
    const cases: Array<[string[], RegExp]> = [
      [['--ulimit', 'nofile=2048:1024'], /ulimit soft limit must be less than or equal to hard limit: 2048 > 1024/],
      [['--ulimit', 'bogus=1'], /invalid ulimit type: bogus/],
      [['--device', '/dev/no-such-device'], /error gathering device information while adding custom device "\/dev\/no-such-device": no such file or directory/],
      [['--device', '/dev/null:/dev/x:rwz'], /invalid device mode: rwz/],
      [['--sysctl', 'kernel.pid_max=100'], /sysctl 'kernel.pid_max=100' is not whitelisted/],
      [['--sysctl', 'net.ipv4.ip_forward=1', '--network', 'host'], /not allowed in the host's network namespace/],
      [['--shm-size', 'big'], /invalid shm size "big"/],
      [['--memory-reservation', '1k'], /Minimum memory reservation allowed is 6MB/],
      [['--pid', 'bogus'], /invalid --pid mode "bogus"/],
      [['--ipc', 'container:nobody'], /No such container: nobody/],
      [['--mount', 'type=bind,src=/no/such/dir,dst=/x'], /bind source path does not exist: \/no\/such\/dir/],
      [['--mount', 'type=tmpfs,dst=/x,bogus=1'], /unexpected key 'bogus' in 'bogus=1'/],
      [['--label-file', '/no/such/labels'], /open \/no\/such\/labels: no such file or directory/],
      [['--stop-signal', 'SIGNOPE'], /invalid signal: SIGNOPE/],
    ];
    for (const [flags, re] of cases) {
      const r = await pk(clean, 'run', '--rm', ...flags, 'host', 'true');
      expect({ flags, code: r.code }).toEqual({ flags, code: 125 });
      expect(r.stderr).toMatch(re);
      const c = await pk(clean, 'create', ...flags, 'host', 'true');
      expect({ flags, code: c.code }).toEqual({ flags, code: 125 });
    }
    const dir = join(clean, 'containers');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    expect(lines((await pk(clean, 'ps', '-a', '-q')).stdout)).toEqual([]);
  });
});

// The CLI contract without a container: `--help` lists the flags.
describe('run --help lists the issue-12 flags', () => {
  it('every flag', async () => {
    const r = await cli(['run', '--help']);
    for (const flag of ['-l, --label', '--label-file', '--stop-signal', '--stop-timeout', '--ulimit', '--shm-size', '--device', '--group-add', '--sysctl', '--oom-kill-disable', '--memory-reservation', '--pid', '--ipc', '--uts', '--mount']) {
      expect(r.stdout).toContain(flag);
    }
  });
});
