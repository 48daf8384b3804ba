// The lifecycle operations as library functions (lib/state/api.ts, exported from lib/index.ts), on
// detached containers started with run({ detach: true }).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  PockerError,
  containerLogs,
  containerStats,
  containerTop,
  followLogs,
  inspectContainer,
  killContainer,
  listContainers,
  pruneContainers,
  removeContainer,
  renameContainer,
  run,
  stopContainer,
  waitContainer,
  type LogEntry,
} from '../../lib/index.js';
import { cleanupAll, isRoot, tempRoot, sleep, testCgroupParent } from '../helpers.js';


describe.skipIf(!isRoot)('library lifecycle API', () => {
  const started: { id: string; root: string }[] = [];
  afterAll(async () => {
    for (const { id, root } of started) await removeContainer(id, { force: true, root }).catch(() => {});
    await cleanupAll();
  });

  async function detached(root: string, cmd: string[], name?: string): Promise<string> {
    const c = await run({ image: 'host', cmd, detach: true, root, cgroupParent: testCgroupParent(), ...(name ? { name } : {}) });
    started.push({ id: c.id, root });
    return c.id;
  }

  it('lists, inspects, renames, reads logs, tops, stats, stops, waits for and removes containers', async () => {
    const root = tempRoot();
    const id = await detached(root, ['sh', '-c', 'echo out; echo err >&2; exec sleep 60'], 'api-one');

    const running = await listContainers({ root });
    expect(running.map((c) => c.id)).toEqual([id]);
    const info = running[0]!;
    expect(info).toMatchObject({ name: 'api-one', image: 'host', state: 'running', exitCode: null, foreground: false });
    expect(info.command).toBe('sh -c echo out; echo err >&2; exec sleep 60');
    expect(info.status).toMatch(/^Up /);
    expect(info.pid).toBeGreaterThan(0);

    const details = await inspectContainer(id.slice(0, 12), { root });
    expect(details.Id).toBe(id);
    expect(details.Name).toBe('/api-one');
    expect(details.State).toMatchObject({ Status: 'running', Running: true, Pid: info.pid, ExitCode: 0 });

    await renameContainer('api-one', 'api-two', { root });
    expect((await inspectContainer('api-two', { root })).Id).toBe(id);
    await expect(inspectContainer('api-one', { root })).rejects.toThrow(PockerError);

    let logs: LogEntry[] = [];
    for (let i = 0; i < 50 && logs.length < 2; i++, await sleep(100)) logs = await containerLogs(id, { root });
    expect(logs.map((e) => [e.stream, e.log])).toEqual(expect.arrayContaining([['stdout', 'out\n'], ['stderr', 'err\n']]));
    expect(await containerLogs(id, { root, tail: 1 })).toHaveLength(1);
    expect((await containerLogs(id, { root, timestamps: true }))[0]!.log).toMatch(/^\d{4}-\d\d-\d\dT\S+Z /);

    const top = await containerTop(id, { root });
    expect(top.map((p) => p.pid)).toContain(info.pid);
    expect(top.find((p) => p.pid === info.pid)!.cmd).toBe('sleep 60');

    const stats = await containerStats(id, { root, interval: 200 });
    expect(stats).toMatchObject({ id, name: 'api-two', pids: 1 });
    expect(stats.memUsage).toBeGreaterThan(0);

    // A running container is not removed without force.
    await expect(removeContainer(id, { root })).rejects.toMatchObject({ code: 'ERR_POCKER_RUNNING' });

    const waiting = waitContainer(id, { root });
    await stopContainer(id, { root, timeout: 1 });
    // sleep as PID 1 ignores SIGTERM: killed after the grace period.
    expect(await waiting).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: false });
    expect(await listContainers({ root })).toEqual([]);
    const exited = (await listContainers({ root, all: true }))[0]!;
    expect(exited).toMatchObject({ id, state: 'exited', exitCode: 137, pid: 0 });
    expect(exited.status).toMatch(/^Exited \(137\)/);

    await expect(killContainer(id, { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_RUNNING' });
    await expect(containerTop(id, { root })).rejects.toThrow(/is not running/);

    await removeContainer(id, { root });
    expect(existsSync(join(root, 'containers', id))).toBe(false);
    await expect(removeContainer(id, { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
  });

  it('kills with a signal, follows logs to the end, and prunes exited containers', async () => {
    const root = tempRoot();
    const a = await detached(root, ['sh', '-c', 'trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.1; done']);
    const follow = (async () => {
      const seen: string[] = [];
      for await (const e of followLogs(a, { root })) seen.push(e.log);
      return seen;
    })();
    for (let i = 0; i < 50 && !(await containerLogs(a, { root })).length; i++) await sleep(100);
    await killContainer(a, { root, signal: 'SIGUSR1' });
    expect(await waitContainer(a, { root })).toMatchObject({ exitCode: 3 });
    expect(await follow).toEqual(['ready\n', 'got-usr1\n']);

    const b = await detached(root, ['true']);
    await waitContainer(b, { root });
    const c = await detached(root, ['sleep', '60']);
    const pruned = await pruneContainers({ root });
    expect(pruned.deleted.sort()).toEqual([a, b].sort());
    expect(pruned.reclaimedBytes).toBeGreaterThan(0);
    expect((await listContainers({ root, all: true })).map((x) => x.id)).toEqual([c]);

    await removeContainer(c, { root, force: true });
    expect(await listContainers({ root, all: true })).toEqual([]);
  });
});
