// ps, stop, kill, wait, rm, inspect over detached containers; unique and auto-generated names.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, containerState, isRoot, pk, processAlive, removeAllContainers, rootTracker, until } from '../helpers.js';

const state = containerState;
const alive = processAlive;
const removeAll = removeAllContainers;

describe.skipIf(!isRoot)('container commands', () => {
  const { newRoot, removeAll: removeRoots } = rootTracker();
  afterAll(async () => {
    await removeRoots();
    await cleanupAll();
  });

  it('ps lists running containers, ps -a all of them, -q ids, --format json one object a line; auto names', async () => {
    const root = newRoot();
    const up = (await cli(['run', '-d', 'host', 'sleep', '100'], { root })).stdout.trim();
    const done = (await cli(['run', '-d', '--name', 'finished', 'host', 'sh', '-c', 'exit 3'], { root })).stdout.trim();
    await until(`container ${done} to exit`, () => state(root, done).status === 'exited');

    const ps = await pk(root, 'ps');
    expect(ps.code).toBe(0);
    const lines = ps.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${up.slice(0, 12)}\\s+host\\s+"sleep 100"\\s+(\\d+ seconds?|Less than a second) ago\\s+Up (\\d+ seconds?|Less than a second)\\s+[a-z]+_[a-z]+$`));
    const auto = lines[1]!.split(/\s+/).pop()!;
    expect(auto).toMatch(/^[a-z]+_[a-z]+$/);

    const all = await pk(root, 'ps', '-a');
    expect(all.stdout).toMatch(/Exited \(3\) .* finished\n/);
    expect((await pk(root, 'ps', '-q')).stdout).toBe(`${up.slice(0, 12)}\n`);
    expect((await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean).sort()).toEqual([up, done].sort());
    const json = (await pk(root, 'ps', '-a', '--format', 'json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json.find((j) => j.Names === 'finished')).toMatchObject({ ID: done.slice(0, 12), Image: 'host', State: 'exited', Command: '"sh -c exit 3"' });
    expect(json.find((j) => j.Names === auto)).toMatchObject({ ID: up.slice(0, 12), State: 'running', Status: expect.stringMatching(/^Up /) });

    // A long command is truncated to 20 characters, like Docker (not with --no-trunc).
    const long = (await cli(['run', '-d', 'host', 'sh', '-c', 'echo a long command line; exit 0'], { root })).stdout.trim();
    expect((await pk(root, 'ps', '-a')).stdout).toContain('"sh -c echo a long c…"');
    expect((await pk(root, 'ps', '-a', '--no-trunc')).stdout).toMatch(new RegExp(`\\n${long}\\s+host\\s+"sh -c echo a long command line; exit 0"\\s`));
    await removeAll(root);
    expect((await pk(root, 'ps', '-aq')).stdout).toBe('');
  });

  it('stop of a PID 1 that ignores SIGTERM: killed after -t 1, exit 137 in ps -a and inspect', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'stubborn', 'host', 'sleep', '100'], { root })).stdout.trim();
    const t0 = Date.now();
    const stop = await pk(root, 'stop', '-t', '1', 'stubborn');
    expect([stop.code, stop.stdout]).toEqual([0, 'stubborn\n']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect((await pk(root, 'ps', '-a')).stdout).toMatch(/Exited \(137\) .*stubborn\n/);
    const inspect = await pk(root, 'inspect', id.slice(0, 6));
    const [info] = JSON.parse(inspect.stdout) as Array<Record<string, any>>;
    expect(info).toMatchObject({
      Id: id,
      Name: '/stubborn',
      Path: 'sleep',
      Args: ['100'],
      State: { Status: 'exited', Running: false, Pid: 0, ExitCode: 137, OOMKilled: false },
      Config: { Image: 'host', Cmd: ['sleep', '100'] },
      LogPath: join(root, 'containers', id, `${id}-json.log`),
    });
    expect(Date.parse(info!.State.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(info!.State.StartedAt));
    // `inspect` looks for any object (Docker: "error: no such object: nope"); `container inspect` for a container.
    const missing = await pk(root, 'inspect', 'nope');
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([1, '[]\n', 'error: no such object: nope\n']);
    const missingContainer = await pk(root, 'container', 'inspect', 'nope');
    expect([missingContainer.code, missingContainer.stdout, missingContainer.stderr]).toEqual([1, '[]\n', 'pocker: No such container: nope\n']);
  });

  it('kill -s sends the signal through the monitor; wait prints the exit code', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--init', '--name', 'k', 'host', 'sleep', '100'], { root })).stdout.trim();
    const waiter = pk(root, 'wait', 'k');
    const kill = await pk(root, 'kill', '-s', 'USR1', id.slice(0, 12));
    expect([kill.code, kill.stdout]).toEqual([0, `${id.slice(0, 12)}\n`]);
    expect(await waiter).toMatchObject({ code: 0, stdout: '138\n' });
    const again = await pk(root, 'kill', 'k');
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/is not running/)]);
    // Docker: the daemon's "Invalid signal: NOPE", exit 1.
    const bad = await pk(root, 'kill', '-s', 'NOPE', 'k');
    expect(bad.code).toBe(1);
  });

  it('rm refuses a running container; rm -f kills it, removes its state and frees its name', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'busy', 'host', 'sleep', '100'], { root })).stdout.trim();
    const { pid, monitorPid } = state(root, id);
    const refused = await pk(root, 'rm', 'busy');
    expect([refused.code, refused.stderr]).toEqual([
      1,
      'pocker: cannot remove container "/busy": container is running: stop the container before removing or force remove\n',
    ]);
    const conflict = await cli(['run', '-d', '--name', 'busy', 'host', 'true'], { root });
    expect([conflict.code, conflict.stderr]).toEqual([125, expect.stringContaining(`Conflict. The container name "/busy" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`)]);
    const rm = await pk(root, 'rm', '-f', 'busy');
    expect([rm.code, rm.stdout]).toEqual([0, 'busy\n']);
    expect(existsSync(join(root, 'containers', id))).toBe(false);
    expect(existsSync(join(root, 'names', 'busy'))).toBe(false);
    expect(alive(pid) || alive(monitorPid)).toBe(false);
    const reuse = await cli(['run', '-d', '--name', 'busy', 'host', 'true'], { root });
    expect(reuse.code).toBe(0);
    // A --rm container's monitor removes only its directory: the name is free again afterwards.
    const gone = await cli(['run', '-d', '--rm', '--name', 'brief', 'host', 'true'], { root });
    expect(gone.code).toBe(0);
    await until("the --rm container's directory to be removed", () => !(existsSync(join(root, 'containers', gone.stdout.trim()))), 20_000);
    expect((await cli(['run', '-d', '--name', 'brief', 'host', 'true'], { root })).code).toBe(0);
    await removeAll(root);
  });

  it('20 parallel run -d with the same name: exactly one succeeds, the others fail with a name conflict', async () => {
    const root = newRoot();
    const results = await Promise.all(Array.from({ length: 20 }, () => cli(['run', '-d', '--name', 'same', 'host', 'sleep', '5'], { root })));
    const ok = results.filter((r) => r.code === 0);
    expect(ok).toHaveLength(1);
    const id = ok[0]!.stdout.trim();
    for (const r of results.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Conflict. The container name "/same" is already in use by container "${id}"`);
    }
    expect((await pk(root, 'ps', '-aq', '--no-trunc')).stdout).toBe(`${id}\n`);
    await removeAll(root);
  });

  it('a SIGKILLed monitor: ps -a shows Exited (137), never Up', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'orphan', 'host', 'sleep', '100'], { root })).stdout.trim();
    const { pid, monitorPid } = state(root, id);
    process.kill(monitorPid, 'SIGKILL');
    await until(`process ${monitorPid} to end`, () => !alive(monitorPid));
    expect(state(root, id).status).toBe('running'); // nobody recorded the end
    const ps = await pk(root, 'ps', '-a');
    expect(ps.stdout).toMatch(/Exited \(137\).*orphan\n/);
    expect(ps.stdout).not.toMatch(/Up /);
    expect((await pk(root, 'ps', '-q')).stdout).toBe('');
    const [info] = JSON.parse((await pk(root, 'inspect', 'orphan')).stdout) as Array<{ State: { Running: boolean; ExitCode: number } }>;
    expect(info!.State).toMatchObject({ Running: false, ExitCode: 137 });
    // The container itself dies with its monitor (or is ended here).
    await until(`process ${pid} to end`, () => !alive(pid));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    expect((await pk(root, 'rm', 'orphan')).code).toBe(0);
  });
});
