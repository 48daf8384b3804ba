// Detached containers: the container's own pocker-init monitor outlives the CLI, keeps its output
// in Docker's json-file log (rotated), and records its status in state.json.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { run } from '../../lib/index.js';
import { cleanupAll, cli, containerState, isRoot, processAlive, tempRoot, testCgroupParent, until } from '../helpers.js';

const state = containerState;
const alive = processAlive;
/** Whether `sig` is pending for the process (thread or shared mask of /proc/PID/status). */
function signalPending(pid: number, sig: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const bit = 1n << BigInt(sig - 1);
  return ['SigPnd', 'ShdPnd'].some((k) => (BigInt(`0x${/^${k}:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`) & bit) !== 0n);
}
const ppid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);

describe.skipIf(!isRoot)('detached containers', () => {
  afterAll(async () => {
    await cleanupAll();
  });

  it('run -d prints the id and returns while the container runs under its own monitor; logs keeps stdout and stderr apart', async () => {
    const root = tempRoot();
    const r = await cli(['run', '-d', 'host', 'sh', '-c', 'echo to-out; echo to-err >&2; exec sleep 30'], { root });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const s = state(root, id);
    expect(s.status).toBe('running');
    expect(alive(s.pid) && alive(s.monitorPid)).toBe(true);
    // The monitor left the CLI's process tree and session.
    expect(readFileSync(`/proc/${s.monitorPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]).toBe(String(s.monitorPid));
    expect(ppid(s.monitorPid)).not.toBe(process.pid);

    // Output reaches the log as the container writes it.
    await until('both lines in the log', () => readFileSync(join(root, 'containers', id, `${id}-json.log`), 'utf8').includes('to-err'));
    const logs = await cli(['--root', root, 'logs', id.slice(0, 12)]);
    expect([logs.code, logs.stdout, logs.stderr]).toEqual([0, 'to-out\n', 'to-err\n']);
    const lines = readFileSync(join(root, 'containers', id, `${id}-json.log`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines.map((l) => [l.stream, l.log])).toEqual(expect.arrayContaining([['stdout', 'to-out\n'], ['stderr', 'to-err\n']]));
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);

    // SIGKILL ends it; the monitor records the status, removes the cgroup and ends too.
    process.kill(s.pid, 'SIGKILL');
    await until(`container ${id} to exit`, () => state(root, id).status === 'exited');
    const end = state(root, id);
    expect(end).toMatchObject({ status: 'exited', exitCode: 137 });
    expect(Date.parse(end.finishedAt)).toBeGreaterThanOrEqual(Date.parse(end.startedAt));
    await until(`monitor ${s.monitorPid} to end`, () => !alive(s.monitorPid));
    expect(alive(s.monitorPid)).toBe(false);
    const leaf = readdirSync('/sys/fs/cgroup', { withFileTypes: true }).flatMap((d) =>
      existsSync(join('/sys/fs/cgroup', d.name, testCgroupParent(), id)) ? [d.name] : [],
    );
    expect(leaf).toEqual([]);
  });

  it('monitors started by different CLI runs share one sealed pocker-init image (not a copy each), each resident in at most 1 MiB', async () => {
    const root = tempRoot();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await cli(['run', '-d', 'host', 'sleep', '30'], { root });
      expect(r.code, r.stderr).toBe(0);
      ids.push(r.stdout.trim());
    }
    const images = ids.map((id) => {
      const m = state(root, id).monitorPid;
      expect(readlinkSync(`/proc/${m}/exe`)).toMatch(/^\/memfd:pocker-init/);
      return statSync(`/proc/${m}/exe`).ino;
    });
    expect(new Set(images).size).toBe(1);
    // The bound on a monitor's resident memory (bench/lifecycle.mjs measures it against
    // conmon): it follows pocker-init's size, so a build that grows the binary shows up here.
    for (const id of ids) {
      const status = readFileSync(`/proc/${state(root, id).monitorPid}/status`, 'utf8');
      const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
      expect(rssKiB).toBeGreaterThan(0);
      expect(rssKiB).toBeLessThanOrEqual(1024);
    }
    const rm = await cli(['--root', root, 'rm', '-f', ...ids]);
    expect(rm.code, rm.stderr).toBe(0);
  });

  it('the library: detach, kill through the monitor, wait() for the recorded status; --rm removes the state', async () => {
    const root = tempRoot();
    const c = await run({ image: 'host', cmd: ['sleep', '30'], detach: true, init: true, root, cgroupParent: testCgroupParent() });
    expect(c.stdout).toBeNull();
    c.kill('SIGTERM'); // the monitor forwards it; with --init, sleep is not PID 1 and dies of it
    expect(await c.wait()).toEqual({ exitCode: 143, signal: null, oomKilled: false });

    const gone = await run({ image: 'host', cmd: ['true'], detach: true, rm: true, root, cgroupParent: testCgroupParent() });
    await gone.wait();
    expect(existsSync(join(root, 'containers', gone.id))).toBe(false);
  });

  it('a signal the monitor does not forward goes to the container, never kills the monitor (a fixed bug)', async () => {
    const root = tempRoot();
    const c = await run({ image: 'host', cmd: ['sleep', '30'], detach: true, root, cgroupParent: testCgroupParent() });
    const s = state(root, c.id);
    const sig = os.constants.signals.SIGUSR1 + 24; // a real-time signal: PID 1 without a handler ignores it
    c.kill(sig);
    // The monitor takes signals from a signalfd: once it is no longer pending there, the monitor has
    // read it and forwarded it (a monitor the signal killed would be gone by then).
    await until('the monitor to take the signal', () => !alive(s.monitorPid) || !signalPending(s.monitorPid, sig));
    expect([alive(s.monitorPid), alive(s.pid), state(root, c.id).status]).toEqual([true, true, 'running']);
    c.kill('SIGKILL');
    expect((await c.wait()).exitCode).toBe(137);
  });

  it('rotates the log at max-size, keeping max-file files; logs --tail shows the newest lines', async () => {
    const root = tempRoot();
    const r = await cli(['run', '-d', '--log-opt', 'max-size=400', '--log-opt', 'max-file=2', 'host', 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); done'], { root });
    const id = r.stdout.trim();
    await until(`container ${id} to exit`, () => state(root, id).status === 'exited');
    const files = readdirSync(join(root, 'containers', id)).filter((f) => f.includes('-json.log')).sort();
    expect(files).toEqual([`${id}-json.log`, `${id}-json.log.1`]);
    for (const f of files) expect(statSync(join(root, 'containers', id, f)).size).toBeLessThanOrEqual(400);
    const tail = await cli(['--root', root, 'logs', '--tail', '2', id]);
    expect(tail.stdout).toBe('line 38\nline 39\n');
    const bad = await cli(['run', '-d', '--log-opt', 'max-file=2', 'host', 'true'], { root });
    expect([bad.code, bad.stderr]).toEqual([125, expect.stringMatching(/max-file needs max-size/)]);
  });

  it('logs -f follows a running container until it ends', async () => {
    const root = tempRoot();
    const r = await cli(['run', '-d', 'host', 'sh', '-c', 'echo one; sleep 1; echo two'], { root });
    const follow = await cli(['--root', root, 'logs', '-f', r.stdout.trim()]);
    expect([follow.code, follow.stdout]).toEqual([0, 'one\ntwo\n']);
  });
});
