// Issue 9, the state items: the monitor's record of a container survives a full disk (exit codes,
// starts and restarts are recorded; no 0-byte temp file is left), readers never signal a pid they
// have not verified, a monitor killed between two runs leaves an exited container (not
// "Restarting" forever), a stop whose CLI dies right after asking still completes (the restart
// policy is not silently off), OOMKilled belongs to the run it happened in, and `wait` on a
// `run -d --rm` container prints its exit code.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { run } from '../../lib/index.js';
import { cleanupAll, cli, psRows, containerState, isRoot, pk, processAlive, procStatField, tempDir, tempRoot, testCgroupParent, until } from '../helpers.js';

async function runDetached(root: string, ...args: string[]): Promise<string> {
  const r = await cli(['run', '-d', ...args], { root });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A workload that ends with `code` on SIGUSR1 (forwarded by the monitor) and ignores SIGTERM's default. */
const untilUsr1 = (code: number) => ['host', 'sh', '-c', `trap "exit ${code}" USR1; trap "exit 0" TERM; while :; do sleep 0.05; done`];

/** Fills the filesystem of `dir` (a file of its own, written until ENOSPC); returns the file. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Files in the container dirs of `root` that a failed state write could leave: temp files, empty spares. */
function stateLitter(root: string): string[] {
  const out: string[] = [];
  const dir = join(root, 'containers');
  for (const id of readdirSync(dir)) {
    for (const name of readdirSync(join(dir, id))) {
      const st = statSync(join(dir, id, name), { throwIfNoEntry: false });
      if (/\.tmp$/.test(name) || (/^state\.json/.test(name) && st && st.size === 0)) out.push(`${id.slice(0, 12)}/${name}`);
    }
  }
  return out;
}

/** Sockets the process holds (a monitor: one per attach client, besides its own). */
function socketCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

describe.skipIf(!isRoot)('container state', () => {
  const mounts: string[] = [];
  const roots: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const root of roots) {
      const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
      if (ids.length) await pk(root, 'rm', '-f', ...ids);
    }
    for (const m of mounts) {
      rmSync(join(m, 'filler'), { force: true });
      execFileSync('umount', [m]);
    }
    await cleanupAll();
  });
  const newRoot = () => {
    const r = tempRoot();
    roots.push(r);
    return r;
  };

  it('full disk: exit codes, starts and restarts are recorded; nothing is lost when space returns', async () => {
    const root = join(tempDir('fulldisk'), 'root');
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'pocker-test-fulldisk', root]);
    mounts.push(root);
    roots.push(root);
    // Made while there is space: one running, one created, one created with a restart policy.
    const running = await runDetached(root, ...untilUsr1(42));
    const created = (await pk(root, 'create', ...untilUsr1(7))).stdout.trim();
    const restarting = (await pk(root, 'create', '--restart', 'on-failure:2', 'host', 'sh', '-c', 'exit 3')).stdout.trim();
    await until('the first container to run', () => containerState(root, running).status === 'running');

    const filler = fill(root);
    // The disk is full: a write of one more block fails.
    expect(() => writeFileSync(join(root, 'probe'), Buffer.alloc(8192))).toThrow(/ENOSPC/);
    rmSync(join(root, 'probe'), { force: true });

    // An exit on a full disk is recorded with its code (it read Exited (137) forever before).
    expect((await pk(root, 'kill', '-s', 'USR1', running)).code).toBe(0);
    await until('the exit to be recorded', () => containerState(root, running).status === 'exited');
    expect(containerState(root, running)).toMatchObject({ status: 'exited', exitCode: 42 });

    // A start on a full disk reads running, with its live, verified pid (it read Created before).
    const s = await pk(root, 'start', created);
    expect(s.code, s.stderr).toBe(0);
    const st = containerState(root, created) as ReturnType<typeof containerState> & { pidStart: number };
    expect(st.status).toBe('running');
    expect(processAlive(st.pid)).toBe(true);
    expect(Number(procStatField(st.pid, 22))).toBe(st.pidStart);
    expect(((await psRows(root)).rows).find((c) => c.ID === created)?.State).toBe('running');

    // Restarts on a full disk: every run and its end are recorded.
    expect((await pk(root, 'start', restarting)).code).toBe(0);
    await until('the restart policy to end', () => containerState(root, restarting).status === 'exited');
    expect(containerState(root, restarting)).toMatchObject({ status: 'exited', exitCode: 3, restartCount: 2 });

    // stop works on a full disk (its request needs no data block).
    expect((await pk(root, 'stop', '-t', '5', created)).code).toBe(0);
    expect(containerState(root, created)).toMatchObject({ status: 'exited', exitCode: 0 });
    expect(stateLitter(root)).toEqual([]);

    // Space returns: every record is right, and everything can be removed.
    rmSync(filler);
    const ps = (await psRows(root)).rows;
    const status = (id: string) => ps.find((c) => c.ID === id)?.Status ?? '';
    expect(status(running)).toMatch(/^Exited \(42\)/);
    expect(status(created)).toMatch(/^Exited \(0\)/);
    expect(status(restarting)).toMatch(/^Exited \(3\)/);
    expect(stateLitter(root)).toEqual([]);
    const rm = await pk(root, 'rm', running, created, restarting);
    expect(rm.code, rm.stderr).toBe(0);
    expect(readdirSync(join(root, 'containers'))).toEqual([]);
  });

  it('a start whose state cannot be recorded does not happen (ENOSPC), and leaves nothing behind', async () => {
    const root = join(tempDir('fulldisk2'), 'root');
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'pocker-test-fulldisk', root]);
    mounts.push(root);
    roots.push(root);
    const id = (await pk(root, 'create', 'host', 'true')).stdout.trim();
    // The reserved spares are taken away (as a container made by an older pocker has none).
    for (const spare of ['state.json.spare0', 'state.json.spare1']) rmSync(join(root, 'containers', id, spare));
    const filler = fill(root);
    const r = await pk(root, 'start', id);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/ENOSPC|no space/i);
    expect(containerState(root, id).status).toBe('created');
    expect(stateLitter(root)).toEqual([]);
    rmSync(filler);
    expect((await pk(root, 'start', id)).code).toBe(0);
    await until('it to run and exit', () => containerState(root, id).status === 'exited');
    expect((await pk(root, 'rm', id)).code).toBe(0);
  });

  it('a stale pid in state.json is never signalled (kill, stop, rm -f)', async () => {
    const root = newRoot();
    // A process of this test stands for one that got the container's pid after it.
    const decoy = spawn('sleep', ['600'], { stdio: 'ignore' });
    children.push(decoy);
    await until('the decoy to run', () => processAlive(decoy.pid!));
    const id = await runDetached(root, ...untilUsr1(0));
    const file = join(root, 'containers', id, 'state.json');
    await until('it to run', () => containerState(root, id).status === 'running');
    const real = containerState(root, id);
    // The record names the decoy's pid with the container's start time (a reused pid), then with
    // no start time at all (an older monitor's record: the pid must then be the monitor's child).
    const forged = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...forged, pid: decoy.pid }));
    expect((await pk(root, 'kill', id)).code).toBe(0);
    expect(processAlive(decoy.pid!)).toBe(true);
    const { pidStart: _drop, ...legacy } = { ...forged, pid: decoy.pid } as Record<string, unknown>;
    writeFileSync(file, JSON.stringify(legacy));
    expect((await pk(root, 'kill', id)).code).toBe(0);
    expect(processAlive(decoy.pid!)).toBe(true);
    // stop and rm -f end the real container (the monitor knows its pid), never the decoy.
    writeFileSync(file, JSON.stringify({ ...forged, pid: decoy.pid }));
    expect((await pk(root, 'stop', '-t', '5', id)).code).toBe(0);
    expect(processAlive(real.pid)).toBe(false);
    expect(containerState(root, id)).toMatchObject({ status: 'exited', exitCode: 0 });
    expect(processAlive(decoy.pid!)).toBe(true);
    const id2 = await runDetached(root, ...untilUsr1(0));
    await until('it to run', () => containerState(root, id2).status === 'running');
    const real2 = containerState(root, id2).pid;
    const file2 = join(root, 'containers', id2, 'state.json');
    writeFileSync(file2, JSON.stringify({ ...(JSON.parse(readFileSync(file2, 'utf8')) as object), pid: decoy.pid }));
    expect((await pk(root, 'rm', '-f', id2)).code).toBe(0);
    await until('the container to be gone', () => !processAlive(real2));
    expect(processAlive(decoy.pid!)).toBe(true);
    decoy.kill('SIGKILL');
  });

  it('a monitor killed between two runs leaves an exited container, not Restarting forever', async () => {
    const root = newRoot();
    // Every run fails: the back-off doubles, so the restarting state lasts.
    const id = await runDetached(root, '--restart', 'always', 'host', 'sh', '-c', 'exit 3');
    await until('it to be between two runs', () => containerState(root, id).status === 'restarting' && containerState(root, id).restartCount >= 2);
    const monitor = containerState(root, id).monitorPid;
    process.kill(monitor, 'SIGKILL');
    await until('the monitor to end', () => !processAlive(monitor));
    const doc = (JSON.parse((await pk(root, 'inspect', id)).stdout) as Array<{ State: Record<string, unknown> }>)[0]!;
    expect(doc.State).toMatchObject({ Status: 'exited', Running: false, Restarting: false, ExitCode: 3 });
    expect(((await psRows(root)).rows).find((c) => c.ID === id)?.Status).toMatch(/^Exited \(3\)/);
    expect((await pk(root, 'rm', id)).code).toBe(0);
  });

  for (const verb of [['stop', '-t', '30'], ['rm', '-f']]) {
    it(`\`${verb.join(' ')}\` killed right after it asked: the container still ends, its policy does not start it again`, async () => {
      const root = newRoot();
      const id = await runDetached(root, '--restart', 'always', ...untilUsr1(0));
      await until('it to run', () => containerState(root, id).status === 'running');
      const { monitorPid, pid } = containerState(root, id);
      const r = await cli(['--root', root, ...verb, id], { env: { POCKER_FAULT: 'after-stop-mark' } });
      expect(r.signal).toBe('SIGKILL');
      // The monitor carries the stop out and, with the policy not applying, ends: nothing can restart it.
      await until('the monitor to end', () => !processAlive(monitorPid));
      expect(processAlive(pid)).toBe(false);
      expect(containerState(root, id)).toMatchObject({ status: 'exited', exitCode: verb[0] === 'stop' ? 0 : 137, restartCount: 0 });
      // start makes the policy apply again.
      expect((await pk(root, 'start', id)).code).toBe(0);
      expect(containerState(root, id).status).toBe('running');
      expect((await pk(root, 'rm', '-f', id)).code).toBe(0);
    });
  }

  it('OOMKilled belongs to the run it happened in (not carried across restarts)', async () => {
    const root = newRoot();
    const shared = tempDir('oom');
    // Run 1 is OOM-killed; run 2 (the policy's only restart) ends with 3 within its limit.
    const script = 'if [ -e /d/ran ]; then exit 3; fi; touch /d/ran; tail /dev/zero';
    const id = await runDetached(root, '--restart', 'on-failure:1', '-m', '16m', '--memory-swap', '16m', '-v', `${shared}:/d`, 'host', 'sh', '-c', script);
    await until('both runs to end', () => containerState(root, id).status === 'exited', 60_000);
    expect(containerState(root, id)).toMatchObject({ exitCode: 3, oomKilled: false, restartCount: 1 });
    expect((await pk(root, 'rm', id)).code).toBe(0);
  });

  it('`wait` on a `run -d --rm` container begun before its removal prints its exit code', async () => {
    const root = newRoot();
    const id = await runDetached(root, '--rm', ...untilUsr1(42));
    await until('it to run', () => containerState(root, id).status === 'running');
    const monitor = containerState(root, id).monitorPid;
    const sockets = () => socketCount(monitor);
    const before = sockets();
    const waiting = cli(['--root', root, 'wait', id]);
    // The waiter is connected to the monitor (one more socket there) before the container ends.
    await until('the waiter to connect', () => sockets() > before);
    expect((await pk(root, 'kill', '-s', 'USR1', id)).code).toBe(0);
    const w = await waiting;
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toBe('42\n');
    await until('the container to be removed', () => !readdirSync(join(root, 'containers')).includes(id));
  });

  it('the library: wait() of a run({ detach, rm }) container gives its exit code (not -1)', async () => {
    const root = newRoot();
    const c = await run({ root, cgroupParent: testCgroupParent(), image: 'host', detach: true, rm: true, cmd: untilUsr1(42).slice(1) });
    const monitor = containerState(root, c.id).monitorPid;
    const before = socketCount(monitor);
    const waiting = c.wait();
    await until('the waiter to connect', () => socketCount(monitor) > before);
    c.kill('SIGUSR1');
    expect(await waiting).toEqual({ exitCode: 42, signal: null, oomKilled: false });
    await until('the container to be removed', () => !readdirSync(join(root, 'containers')).includes(c.id));
  });
});
