// --restart, carried out by the detached container's monitor.
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, containerState, isRoot, processAlive, tempRoot, until } from '../helpers.js';

const state = containerState;


describe.skipIf(!isRoot)('restart policies', () => {
  const root = tempRoot();
  afterAll(async () => {
    await cleanupAll();
  });

  it('on-failure:2 runs a failing container three times, then records its exit', async () => {
    const r = await cli(['run', '-d', '--restart', 'on-failure:2', 'host', 'sh', '-c', 'echo run; exit 3'], { root });
    const id = r.stdout.trim();
    await until(`container ${id} to exit`, () => state(root, id).status === 'exited');
    expect(state(root, id)).toMatchObject({ status: 'exited', exitCode: 3, restartCount: 2 });
    expect((await cli(['--root', root, 'logs', id])).stdout).toBe('run\nrun\nrun\n');
  });

  it('on-failure does not restart a clean exit', async () => {
    const id = (await cli(['run', '-d', '--restart', 'on-failure', 'host', 'true'], { root })).stdout.trim();
    await until(`container ${id} to exit`, () => state(root, id).status === 'exited');
    expect(state(root, id)).toMatchObject({ exitCode: 0, restartCount: 0 });
  });

  it('always restarts until `pocker stop`, which ends it for good', async () => {
    const id = (await cli(['run', '-d', '--restart', 'always', 'host', 'sh', '-c', 'sleep 0.1; exit 0'], { root })).stdout.trim();
    await until(`container ${id} to restart twice`, () => (state(root, id).restartCount ?? 0) >= 2);
    expect(state(root, id).restartCount).toBeGreaterThanOrEqual(2);
    expect((await cli(['--root', root, 'stop', '-t', '1', id])).code).toBe(0);
    expect(state(root, id).status).toBe('exited');
    const { restartCount: count, monitorPid } = state(root, id);
    // Only the monitor restarts; once it has ended, no restart can come.
    if (monitorPid) await until(`monitor ${monitorPid} to end`, () => !processAlive(monitorPid));
    expect(state(root, id)).toMatchObject({ status: 'exited', restartCount: count });
    expect((await cli(['--root', root, 'rm', id])).code).toBe(0);
  });

  it('between two runs: inspect says restarting (Status, Restarting, RestartCount) and the policy', async () => {
    // A failure every run: the backoff doubles (100, 200, 400 ms…), so the restarting state lasts.
    const id = (await cli(['run', '-d', '--restart', 'on-failure:5', 'host', 'sh', '-c', 'exit 1'], { root })).stdout.trim();
    await until(`container ${id} to be restarting after two restarts`, () => state(root, id).status === 'restarting' && state(root, id).restartCount >= 2);
    const doc = (JSON.parse((await cli(['--root', root, 'inspect', id])).stdout) as Array<Record<string, Record<string, unknown>>>)[0]!;
    expect(doc.State).toMatchObject({ Status: 'restarting', Restarting: true, Running: true });
    expect(doc.HostConfig!.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
    expect(doc.RestartCount).toBeGreaterThanOrEqual(2);
    expect((await cli(['--root', root, 'rm', '-f', id])).code).toBe(0);
  });

  it('refuses --restart with --rm, without -d, and an unknown policy (125)', async () => {
    for (const args of [['--rm', '-d', '--restart', 'always'], ['--restart', 'always'], ['-d', '--restart', 'sometimes']]) {
      const r = await cli(['run', ...args, 'host', 'true'], { root });
      expect(r.code).toBe(125);
    }
  });
});
