// pocker-init's runc-compatible CLI on an OCI bundle: create/start/state/kill/delete, their error
// cases, cleanup after a failed create, the console socket. Root only.
//
// The container inherits create's stdio, so every call gets files, never pipes (a pipe would stay
// open as long as the container lives).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { busyboxRootfs, cleanupAll, isRoot, repoRoot, tempDir, testCgroupParent, until } from '../helpers.js';

const INIT = join(repoRoot, 'build', 'Release', 'pocker-init');
const RUNC = '/usr/sbin/runc';

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function call(runtime: string, root: string, args: string[], cwd?: string): Result {
  const dir = tempDir('runc-io');
  const out = openSync(join(dir, 'out'), 'w+');
  const err = openSync(join(dir, 'err'), 'w+');
  const r = spawnSync(runtime, ['--root', root, ...args], { stdio: ['ignore', out, err], cwd, timeout: 30_000 });
  closeSync(out);
  closeSync(err);
  return { status: r.status, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
}
const pk = (root: string, ...args: string[]): Result => call(INIT, root, args);

let seq = 0;
/** A bundle from `runc spec`, edited: busybox rootfs, `args`, no terminal, a test cgroup. */
function bundle(args: string[], edit: (c: Record<string, any>) => void = () => {}): { dir: string; cgroup: string } {
  const dir = tempDir('bundle');
  expect(spawnSync('cp', ['-a', busyboxRootfs(), join(dir, 'rootfs')]).status).toBe(0);
  expect(spawnSync(RUNC, ['spec', '--bundle', dir]).status).toBe(0);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cgroup = `/${testCgroupParent()}/runc-${++seq}`;
  config.process.terminal = false;
  config.process.args = args;
  config.root = { path: 'rootfs', readonly: false };
  config.linux.cgroupsPath = cgroup;
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { dir, cgroup };
}

function state(root: string, id: string): Record<string, any> {
  const r = pk(root, 'state', id);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function leafExists(cgroup: string): boolean {
  return ['memory', 'pids', 'cpu,cpuacct', 'devices', 'unified'].some((h) => existsSync(join('/sys/fs/cgroup', h, cgroup)));
}

describe.skipIf(!isRoot || !existsSync(RUNC))('pocker-init runc verbs', () => {
  afterAll(async () => {
    expect(await cleanupAll()).toEqual([]);
  });

  it('create, state, start, kill, delete', async () => {
    const root = tempDir('runc-root');
    const out = tempDir('runc-out');
    const { dir, cgroup } = bundle(['sh', '-c', 'echo hello; exec sleep 60']);
    const logFd = openSync(join(out, 'log'), 'w');
    const pidFile = join(out, 'pid');
    const r = spawnSync(INIT, ['--root', root, 'create', '--pid-file', pidFile, 'c1'], { cwd: dir, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(readFileSync(pidFile, 'utf8')).toMatch(/^\d+$/);
    let st = state(root, 'c1');
    expect(Object.keys(st)).toEqual(['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner']);
    expect(st).toMatchObject({ id: 'c1', pid, status: 'created', bundle: dir, rootfs: join(dir, 'rootfs'), owner: '' });
    expect(st.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(leafExists(cgroup)).toBe(true);
    // cgroup v1: a devices cgroup that allows only the default nodes (and mknod).
    const devicesList = join('/sys/fs/cgroup/devices', cgroup, 'devices.list');
    if (existsSync('/sys/fs/cgroup/devices/devices.list')) {
      const rules = readFileSync(devicesList, 'utf8');
      expect(rules).not.toMatch(/^a /m);
      expect(rules).toMatch(/^c 1:3 rwm$/m);
      expect(rules).not.toMatch(/^b 8:/m);
    }
    // Nothing printed before start; the container's parent is no pocker process.
    expect(readFileSync(join(out, 'log'), 'utf8')).toBe('');
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    expect(readFileSync(`/proc/${ppid}/comm`, 'utf8')).not.toMatch(/pocker/);

    expect(pk(root, 'start', 'c1').status).toBe(0);
    expect(state(root, 'c1').status).toBe('running');
    await until('output', () => readFileSync(join(out, 'log'), 'utf8') === 'hello\n');
    const again = pk(root, 'start', 'c1');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/cannot start an already running container/);
    const del = pk(root, 'delete', 'c1');
    expect(del.status).toBe(1);
    expect(del.stderr).toMatch(/cannot delete container c1 that is not stopped: running/);

    expect(pk(root, 'kill', 'c1', 'KILL').status).toBe(0);
    await until('stopped', () => state(root, 'c1').status === 'stopped');
    st = state(root, 'c1');
    expect(st.pid).toBe(0);
    const k = pk(root, 'kill', 'c1');
    expect(k.status).toBe(1);
    expect(k.stderr).toMatch(/container not running/);
    expect(pk(root, 'start', 'c1').stderr).toMatch(/cannot start a container that has stopped/);
    expect(pk(root, 'delete', 'c1').status).toBe(0);
    expect(existsSync(join(root, 'c1'))).toBe(false);
    expect(leafExists(cgroup)).toBe(false);
  });

  it('refuses a duplicate id, reports a missing container, deletes with --force', () => {
    const root = tempDir('runc-root');
    const { dir, cgroup } = bundle(['sleep', '60']);
    expect(pk(root, 'create', '--bundle', dir, 'c2').status).toBe(0);
    const dup = pk(root, 'create', '--bundle', dir, 'c2');
    expect(dup.status).toBe(1);
    expect(dup.stderr).toMatch(/container with given ID already exists/);
    const created = pk(root, 'delete', 'c2');
    expect(created.status).toBe(1);
    expect(created.stderr).toMatch(/not stopped: created/);
    const pid = state(root, 'c2').pid;
    expect(pk(root, 'delete', '--force', 'c2').status).toBe(0);
    expect(existsSync(`/proc/${pid}/stat`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))).toBe(false);
    expect(leafExists(cgroup)).toBe(false);
    for (const verb of ['state', 'start', 'kill', 'delete']) {
      const r = pk(root, verb, 'c2');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/container does not exist/);
    }
    expect(pk(root, 'delete', '-f', 'c2').status).toBe(0);
  });

  it('a failed create leaves no state dir, cgroup or process (json log line)', () => {
    const root = tempDir('runc-root');
    const log = join(tempDir('runc-log'), 'log.json');
    const { dir, cgroup } = bundle(['/no/such/binary']);
    const r = call(INIT, root, ['--log', log, '--log-format', 'json', 'create', '-b', dir, 'bad']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no\/such\/binary/);
    const entry = JSON.parse(readFileSync(log, 'utf8').trim());
    expect(entry).toMatchObject({ level: 'error' });
    expect(entry.msg).toMatch(/no\/such\/binary/);
    expect(existsSync(join(root, 'bad'))).toBe(false);
    expect(leafExists(cgroup)).toBe(false);
    // A setup failure inside the container (a bind of a missing source).
    const b2 = bundle(['true'], (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/no/such/dir', options: ['bind'] }));
    expect(pk(root, 'create', '-b', b2.dir, 'bad2').status).toBe(1);
    expect(existsSync(join(root, 'bad2'))).toBe(false);
    expect(leafExists(b2.cgroup)).toBe(false);
  });

  it('a bundle with a user namespace (linux.namespaces user, uidMappings/gidMappings): run maps it; joining one is refused', () => {
    const root = tempDir('runc-root');
    const host = 1_700_500_000;
    const { dir, cgroup } = bundle(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: host, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: host, size: 65536 }];
    });
    // As with runc, the bundle's rootfs belongs to the namespace's root.
    expect(spawnSync('chown', ['-R', `${host}:${host}`, join(dir, 'rootfs')]).status).toBe(0);
    const r = call(INIT, root, ['run', '-b', dir, 'u1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out.slice(0, 3).map((l) => l.trim().split(/\s+/).join(' '))).toEqual([`0 ${host} 65536`, `0 ${host} 65536`, '0']);
    expect(out[3]).toMatch(/^-\S+\s+\d+\s+0\s+0\s/);
    expect(existsSync(join(root, 'u1'))).toBe(false);
    expect(leafExists(cgroup)).toBe(false);
    const j = bundle(['true'], (c) => c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }));
    const refused = pk(root, 'create', '-b', j.dir, 'u2');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('linux.namespaces[');
    expect(refused.stderr).toContain('joining an existing user namespace is not supported yet');
  });

  it('state has the shape of runc state', () => {
    const root = tempDir('runc-root');
    const runcRoot = tempDir('runc-ref');
    const a = bundle(['sleep', '60'], (c) => (c.annotations = { 'org.example': 'x' }));
    const b = bundle(['sleep', '60'], (c) => (c.annotations = { 'org.example': 'x' }));
    expect(pk(root, 'create', '-b', a.dir, 'shape').status).toBe(0);
    const ref = call(RUNC, runcRoot, ['create', '-b', b.dir, 'shape']);
    try {
      expect(ref.status, ref.stderr).toBe(0);
      const mine = state(root, 'shape');
      const theirs = JSON.parse(call(RUNC, runcRoot, ['state', 'shape']).stdout);
      expect(Object.keys(mine)).toEqual(Object.keys(theirs));
      expect(mine.annotations).toEqual(theirs.annotations);
      expect(mine.status).toBe(theirs.status);
    } finally {
      pk(root, 'delete', '-f', 'shape');
      call(RUNC, runcRoot, ['delete', '-f', 'shape']);
    }
  });

  it('runs prestart, createRuntime, poststart and poststop hooks with the state on stdin; a failing prestart fails create', async () => {
    const root = tempDir('runc-root');
    const out = tempDir('runc-hooks');
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${join(out, name)}`], timeout: 10 });
    const { dir, cgroup } = bundle(['sleep', '60'], (c) => {
      c.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    expect(pk(root, 'create', '-b', dir, 'h1').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'prestart'), 'utf8'))).toMatchObject({ id: 'h1', status: 'created', bundle: dir });
    expect(JSON.parse(readFileSync(join(out, 'createRuntime'), 'utf8')).status).toBe('created');
    expect(existsSync(join(out, 'poststart'))).toBe(false);
    expect(pk(root, 'start', 'h1').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'poststart'), 'utf8')).status).toBe('running');
    expect(pk(root, 'delete', '-f', 'h1').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'poststop'), 'utf8'))).toMatchObject({ id: 'h1', status: 'stopped', pid: 0 });
    expect(leafExists(cgroup)).toBe(false);

    const bad = bundle(['sleep', '60'], (c) => (c.hooks = { prestart: [{ path: '/bin/false' }] }));
    const r = pk(root, 'create', '-b', bad.dir, 'h2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/prestart hook \/bin\/false: exit status 1/);
    expect(existsSync(join(root, 'h2'))).toBe(false);
    expect(leafExists(bad.cgroup)).toBe(false);
  });

  it('--console-socket receives the pty master', async () => {
    const root = tempDir('runc-root');
    const sock = join(tempDir('runc-console'), 'console.sock');
    const { dir } = bundle(['sh', '-c', 'tty; sleep 60'], (c) => (c.process.terminal = true));
    // A receiver: accepts one connection, prints the message and whether the passed fd is a tty,
    // then reads what the container writes to it.
    const py = [
      'import socket, array, os, sys',
      `s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(${JSON.stringify(sock)}); s.listen(1)`,
      'print("listening", flush=True)',
      'c, _ = s.accept()',
      'fds = array.array("i")',
      'msg, anc, _, _ = c.recvmsg(64, socket.CMSG_SPACE(4))',
      'for lvl, typ, data in anc: fds.frombytes(data[:4])',
      'print(msg.decode(), len(fds), os.isatty(fds[0]), flush=True)',
      'print(os.read(fds[0], 100).decode().strip(), flush=True)',
    ].join('\n');
    const receiver = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    receiver.stdout.on('data', (d) => (text += d));
    await until('listening', () => text.includes('listening'));
    const noSocket = pk(root, 'create', '-b', dir, 'tty0');
    expect(noSocket.status).toBe(1);
    const r = pk(root, 'create', '-b', dir, '--console-socket', sock, 'tty1');
    expect(r.status, r.stderr).toBe(0);
    expect(pk(root, 'start', 'tty1').status).toBe(0);
    await until('tty output', () => /\/dev\/(pts|console)/.test(text.split('\n')[2] ?? ''));
    expect(text).toMatch(/\/dev\/ptmx 1 True/);
    receiver.kill();
    expect(pk(root, 'delete', '-f', 'tty1').status).toBe(0);
  });
});
