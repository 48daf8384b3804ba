// create, start [-a] [-i], restart, attach and exec -d on real containers: a container made by
// `create` is run by its own monitor, which serves its stdio to attached clients (attach.sock).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { attach, create, inspectContainer, removeContainer, start } from '../../lib/index.js';
import { cleanupAll, cli, cliArgs, collect, containerState, havePythonPty, isRoot, pk, pockerBin, repoRoot, processAlive, rootTracker, testCgroupParent, until, existingCgroupParentDirs, waitForOutput } from '../helpers.js';
import { runOnPty } from '../pty.js';
import { findMonitors } from '../../lib/container/index.js';


const state = containerState;
const alive = processAlive;

/** Reads `stream` until `re` matches what came so far. */
function readUntil(stream: NodeJS.ReadableStream, re: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in ${JSON.stringify(text)}`)), ms);
    const onData = (d: Buffer) => {
      text += d.toString();
      if (re.test(text)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
  });
}

describe.skipIf(!isRoot)('create, start, attach', () => {
  const { newRoot, removeAll } = rootTracker();
  afterAll(async () => {
    await removeAll();
    await cleanupAll();
  });

  it('create makes a container that does not run: Created in ps -a, no process, no cgroup', async () => {
    const root = newRoot();
    const r = await cli(['--root', root, 'create', '--name', 'made', '-m', '64m', 'host', 'sh', '-c', 'echo hi'], { root });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(state(root, id).status).toBe('created');
    const ps = await pk(root, 'ps', '-a', '--format', '{{.Names}}|{{.State}}|{{.Status}}');
    expect(ps.stdout).toBe('made|created|Created\n');
    expect((await pk(root, 'ps', '-q')).stdout).toBe('');
    const doc = await inspectContainer('made', { root });
    expect(doc.State).toMatchObject({ Status: 'created', Running: false, Pid: 0 });
    expect(doc.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(doc.Config).toMatchObject({ Tty: false, OpenStdin: false, Cmd: ['sh', '-c', 'echo hi'] });
    for (const dir of existingCgroupParentDirs()) expect(existsSync(join(dir, id))).toBe(false);
    // A created container is removed without -f, as in Docker.
    const rm = await pk(root, 'rm', 'made');
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(join(root, 'containers', id))).toBe(false);
  });

  it('start -a: output from the first byte, stdout and stderr apart, the exit code comes back; start again appends to the log', async () => {
    const root = newRoot();
    expect((await cli(['--root', root, 'create', '--name', 'once', 'host', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { root })).code).toBe(0);
    const r = await pk(root, 'start', '-a', 'once');
    expect([r.code, r.stdout, r.stderr]).toEqual([3, 'out\n', 'err\n']);
    expect((await pk(root, 'ps', '-a', '--format', '{{.Status}}')).stdout).toMatch(/^Exited \(3\)/);
    // Start it again (it has exited): runs once more, with the same writable layer and log.
    const again = await pk(root, 'start', 'once');
    expect([again.code, again.stdout]).toEqual([0, 'once\n']);
    expect((await pk(root, 'wait', 'once')).stdout).toBe('3\n');
    const logs = await pk(root, 'logs', 'once');
    expect(logs.stdout).toBe('out\nout\n');
    expect(logs.stderr).toBe('err\nerr\n');
  });

  it('the writable layer survives a stop and a start', async () => {
    const root = newRoot();
    const rootfs = await import('../helpers.js').then((h) => h.copyRootfs());
    const id = (await cli(['--root', root, 'run', '-d', '--name', 'keep', '--rootfs', rootfs, 'sh', '-c', 'date >> /stamp; sleep 30'], { root })).stdout.trim();
    await until('a first stamp', async () => (await pk(root, 'exec', 'keep', 'cat', '/stamp')).stdout.split('\n').filter(Boolean).length === 1);
    expect((await pk(root, 'stop', '-t', '0', 'keep')).code).toBe(0);
    expect((await pk(root, 'start', 'keep')).code).toBe(0);
    await until('a second stamp', async () => (await pk(root, 'exec', 'keep', 'cat', '/stamp')).stdout.split('\n').filter(Boolean).length === 2);
    expect(state(root, id).status).toBe('running');
  });

  it('create -i, then start -ai: our stdin is the container\'s, and its end closes it (StdinOnce)', async () => {
    const root = newRoot();
    expect((await cli(['--root', root, 'create', '-i', '--name', 'cat', 'host', 'sh', '-c', 'cat; echo done'], { root })).code).toBe(0);
    expect((await inspectContainer('cat', { root })).Config).toMatchObject({ OpenStdin: true, StdinOnce: true });
    const r = await cli(['--root', root, 'start', '-ai', 'cat'], { input: 'line 1\nline 2\n' });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'line 1\nline 2\ndone\n', '']);
  });

  it('StdinOnce with more input than the pipes hold: every byte reaches the container, then its end (a fixed bug)', async () => {
    const root = newRoot();
    // The container reads only after a while: the input piles up in the monitor and its pipe, and
    // the end of input arrives while some of it is still pending there.
    expect((await cli(['--root', root, 'create', '-i', '--name', 'slow', 'host', 'sh', '-c', 'sleep 1; wc -c'], { root })).code).toBe(0);
    const r = await cli(['--root', root, 'start', '-ai', 'slow'], { input: 'x'.repeat(100_000), timeoutMs: 30_000 });
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, '100000', '']);
  });

  it('run -d -i and attach through the library: input, output, detach leaves it running, attach again', async () => {
    const root = newRoot();
    const c = await (await import('../../lib/index.js')).run({ image: 'host', cmd: ['sh', '-c', 'while read l; do echo "got $l"; done; echo bye'], detach: true, interactive: true, root, cgroupParent: testCgroupParent() });
    const a = await attach(c.id, { root });
    a.stdin!.write('one\n');
    expect(await readUntil(a.stdout!, /got one\n/)).toBe('got one\n');
    a.detach();
    // run -d -i is not StdinOnce: a client's end of input leaves the container's stdin open. Each
    // later attach that gets an answer proves the container outlived the previous client.
    const b = await attach(c.id, { root });
    const seen = readUntil(b.stdout!, /got two\n/);
    b.stdin!.end('two\n');
    await seen;
    const d = await attach(c.id, { root });
    d.stdin!.write('three\n');
    expect(await readUntil(d.stdout!, /got three\n/)).toBe('got three\n');
    expect(state(root, c.id).status).toBe('running');
    d.detach();
    await removeContainer(c.id, { root, force: true });
  });

  it('several clients see the same output; a client that does not read does not hold the container up', async () => {
    const root = newRoot();
    const { id } = await create({ image: 'host', cmd: ['sh', '-c', 'read go; head -c 20000000 /dev/zero; echo; echo end'], interactive: true, root, cgroupParent: testCgroupParent() });
    const c = await start(id, { root, attach: true });
    // A second client that never reads: past the monitor's bound it is dropped, the container goes on.
    const stuck = await attach(id, { root });
    stuck.stdout!.pause();
    let bytes = 0;
    c.stdout!.on('data', (d: Buffer) => (bytes += d.length));
    c.stdin!.write('go\n');
    const status = await c.wait();
    expect(status).toEqual({ exitCode: 0, signal: null, oomKilled: false });
    await until('all output', () => bytes === 20_000_000 + 5);
    stuck.detach();
  });

  it('start -a of a --rm container gives its exit code, and nothing is left', async () => {
    const root = newRoot();
    const { id } = await create({ image: 'host', cmd: ['sh', '-c', 'echo bye; exit 4'], rm: true, root, cgroupParent: testCgroupParent() });
    const c = await start(id, { root, attach: true });
    const [out, status] = await Promise.all([collect(c.stdout), c.wait()]);
    expect([out, status.exitCode]).toEqual(['bye\n', 4]);
    await until('the directory to go', () => !existsSync(join(root, 'containers', id)));
  });

  it('a tty container: attach resizes the terminal and types into it', async () => {
    const root = newRoot();
    const { id } = await create({ image: 'host', cmd: ['sh'], tty: true, interactive: true, root, cgroupParent: testCgroupParent() });
    const c = await start(id, { root, attach: true });
    expect(c.stderr).toBeNull();
    c.resize(44, 122);
    c.stdin!.write('stty size; tty; exit 6\n');
    const out = await readUntil(c.stdout!, /44 122\r?\n[^]*\/dev\/pts\/0/);
    expect(out).toMatch(/44 122/);
    expect((await c.wait()).exitCode).toBe(6);
  });

  const ptyDriver = havePythonPty();
  it.skipIf(!ptyDriver)('CLI attach on a terminal: Ctrl-P Ctrl-Q detaches (exit 0, container still up), a second attach ends with the exit code', async () => {
    const root = newRoot();
    const id = (await cli(['--root', root, 'run', '-dit', '--name', 'term', 'host', 'sh'], { root })).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // The CLI on a 30x90 terminal: it answers a command typed into the container, then either the
    // detach keys or `exit 7` end the session.
    const drive = (last: string) =>
      runOnPty([process.execPath, pockerBin, ...cliArgs(['--root', root, 'attach', 'term'])], [
        { send: 'stty size; echo $((6*7))\r' },
        { expect: /42\r*\n/ },
        { send: last },
      ]);
    const first = await drive('\x10\x11');
    expect(first.out).toMatch(/30 90\r*\n/);
    expect(first.out).toMatch(/42\r*\n/);
    expect(first.code).toBe(0);
    expect(state(root, id).status).toBe('running');
    const second = await drive('exit 7\r');
    expect(second.code).toBe(7);
    await until('the exit to be recorded', () => state(root, id).status === 'exited');
  }, 60_000);

  it('attach without a tty forwards signals (--sig-proxy, the default) and ends with the exit code', async () => {
    const root = newRoot();
    // The container ticks; the first tick the client prints proves the attach is served and the
    // client's signal handlers are in place (they are set before any output is piped).
    const script = 'trap "echo got INT; exit 9" INT; while :; do echo tick; sleep 0.05; done';
    expect((await cli(['--root', root, 'run', '-d', '--name', 'sig', 'host', 'sh', '-c', script], { root })).code).toBe(0);
    const child = spawn(process.execPath, [pockerBin, '--root', root, 'attach', '--sig-proxy', 'sig'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child.stdout);
    await waitForOutput(child.stdout, /tick\n/);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.once('close', (c) => res(c)));
    expect(await out).toMatch(/^(tick\n)*got INT\n$/);
    expect(code).toBe(9);
  });

  it('attach refuses a stopped container and a foreground one', async () => {
    const root = newRoot();
    expect((await cli(['--root', root, 'create', '--name', 'idle', 'host', 'true'], { root })).code).toBe(0);
    const r = await pk(root, 'attach', 'idle');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You cannot attach to a stopped container, start it first');
  });

  it('restart: a new process, running; a stopped container starts; the restart policy applies again after stop + start', async () => {
    const root = newRoot();
    const id = (await cli(['--root', root, 'run', '-d', '--name', 'rs', '--restart', 'always', 'host', 'sleep', '30'], { root })).stdout.trim();
    const before = state(root, id).pid;
    const r = await pk(root, 'restart', '-t', '1', 'rs');
    expect([r.code, r.stdout]).toEqual([0, 'rs\n']);
    const after = state(root, id);
    expect(after.status).toBe('running');
    expect(after.pid).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(alive(after.pid)).toBe(true);
    // stop marks it stopped for its policy; start clears that: a kill now restarts it.
    expect((await pk(root, 'stop', '-t', '0', 'rs')).code).toBe(0);
    expect((await pk(root, 'start', 'rs')).code).toBe(0);
    const pid = state(root, id).pid;
    process.kill(pid, 'SIGKILL');
    await until('the policy to restart it', () => {
      const s = state(root, id);
      return s.status === 'running' && s.pid !== pid && s.pid > 0;
    });
  });

  it('start of a running container does nothing; concurrent starts run it once', async () => {
    const root = newRoot();
    const id = (await cli(['--root', root, 'create', '--name', 'race', 'host', 'sleep', '30'], { root })).stdout.trim();
    const results = await Promise.all(Array.from({ length: 6 }, () => pk(root, 'start', 'race')));
    for (const r of results) expect([r.code, r.stdout], r.stderr).toEqual([0, 'race\n']);
    const s = state(root, id);
    expect(s.status).toBe('running');
    // One monitor, one container process in the container's cgroup.
    const cgroupOf = (p: string) => {
      try {
        return readFileSync(`/proc/${p}/cgroup`, 'utf8');
      } catch {
        return ''; // a process that ended meanwhile (other tests run beside this one)
      }
    };
    const inits = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cgroupOf(p).includes(`/${id}`));
    expect(inits).toEqual([String(s.pid)]);
    const again = await pk(root, 'start', 'race');
    expect(again.code).toBe(0);
    expect(state(root, id).pid).toBe(s.pid);
  });

  it('a start that cannot exec fails with Docker\'s message and leaves the container created and clean', async () => {
    const root = newRoot();
    const id = (await cli(['--root', root, 'create', '--name', 'bad', 'host', 'no-such-command-xyz'], { root })).stdout.trim();
    const r = await pk(root, 'start', 'bad');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('exec: "no-such-command-xyz": executable file not found in $PATH');
    expect(state(root, id).status).toBe('created');
    for (const dir of existingCgroupParentDirs()) expect(existsSync(join(dir, id))).toBe(false);
    expect(existsSync(join(root, 'containers', id, 'attach.sock'))).toBe(false);
  });

  it('exec -d: returns at once; the command runs on in the container', async () => {
    const root = newRoot();
    expect((await cli(['--root', root, 'run', '-d', '--name', 'bg', 'host', 'sleep', '30'], { root })).code).toBe(0);
    const t0 = Date.now();
    const r = await pk(root, 'exec', '-d', 'bg', 'sh', '-c', 'sleep 1; echo later > /tmp/exec-d-mark; sleep 30');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect(Date.now() - t0).toBeGreaterThan(0);
    await until('the detached command to write', async () => (await pk(root, 'exec', 'bg', 'cat', '/tmp/exec-d-mark')).stdout === 'later\n');
    expect((await pk(root, 'top', 'bg')).stdout).toContain('sleep 30');
  });

  it('crash safety: create and start SIGKILLed at each step leave a consistent, removable container', async () => {
    const root = newRoot();
    for (const point of ['after-claim', 'after-dir'] as const) {
      const r = await cli(['--root', root, 'create', '--name', `c-${point}`, 'host', 'sleep', '30'], { root, env: { POCKER_FAULT: point } });
      expect(r.signal).toBe('SIGKILL');
    }
    // after-claim left only a name claim; after-dir a created container.
    expect((await pk(root, 'ps', '-a', '--format', '{{.Names}} {{.Status}}')).stdout).toBe('c-after-dir Created\n');
    for (const point of ['after-cgroups', 'after-spawn', 'after-started'] as const) {
      const id = (await cli(['--root', root, 'create', '--name', `s-${point}`, 'host', 'sleep', '30'], { root })).stdout.trim();
      const r = await cli(['--root', root, 'start', `s-${point}`], { root, env: { POCKER_FAULT: point } });
      expect(r.signal).toBe('SIGKILL');
      await until('the state to settle', () => ['created', 'running'].includes(state(root, id).status) && (state(root, id).status === 'created' || alive(state(root, id).monitorPid)));
      // Killed before the monitor took over: still created once no monitor of it is left (one that
      // was spawned may still take over), and a new start runs it.
      await until('a monitor to take over, or none to be left', () => state(root, id).status === 'running' || (findMonitors(root).get(id) ?? []).length === 0);
      if (state(root, id).status === 'created') expect((await pk(root, 'start', `s-${point}`)).code).toBe(0);
      await until('it to run', () => state(root, id).status === 'running');
    }
    const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
    expect(ids).toHaveLength(4);
    expect((await pk(root, 'rm', '-f', ...ids, 'c-after-claim')).code).toBe(1); // c-after-claim: no such container
    expect(readdirSync(join(root, 'containers')).filter((e) => !e.startsWith('.'))).toEqual([]);
    expect(existsSync(join(root, 'names', 'c-after-claim'))).toBe(false);
    for (const dir of existingCgroupParentDirs()) for (const id of ids) expect(existsSync(join(dir, id))).toBe(false);
  }, 60_000);
});
