// `pocker pause` / `unpause`: the cgroup freezer (v1 freezer.state here, v2 cgroup.freeze in the
// guest), what ps/inspect/exec/stop/kill make of a paused container, Docker's refusals.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, cgroupParentDirs, cli, isRoot, rootTracker, testCgroupParent, until } from '../helpers.js';

const roots = rootTracker();

/** What the kernel says of the container's freezer: true when every task is frozen. */
function frozen(id: string): boolean {
  for (const dir of cgroupParentDirs()) {
    const events = join(dir, id, 'cgroup.events');
    if (existsSync(join(dir, id, 'cgroup.freeze'))) return /^frozen 1$/m.test(readFileSync(events, 'utf8'));
    const state = join(dir, id, 'freezer.state');
    if (existsSync(state)) return readFileSync(state, 'utf8').trim() === 'FROZEN';
  }
  throw new Error(`no freezer for ${id}`);
}

describe.skipIf(!isRoot)('pause and unpause', () => {
  afterAll(async () => {
    await roots.removeAll();
    expect(await cleanupAll()).toEqual([]);
  });

  it('freezes every process, shows Paused, refuses exec, and thaws; output goes on after unpause', async () => {
    const root = roots.newRoot();
    const pk = (...args: string[]) => cli(['--root', root, ...args]);
    const id = (await pk('run', '-d', '--name', 'p1', '--cgroup-parent', testCgroupParent(), 'host', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done')).stdout.trim();
    await until('output', async () => (await pk('logs', 'p1')).stdout.length > 0);
    const p = await pk('pause', 'p1');
    expect(p.stderr).toBe('');
    expect(p.stdout).toBe('p1\n');
    expect(frozen(id)).toBe(true);
    expect((await pk('ps', '--format', '{{.Status}}')).stdout).toMatch(/^Up .* \(Paused\)\n$/);
    expect((await pk('ps', '-q', '--filter', 'status=paused')).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect((await pk('ps', '-q', '--filter', 'status=running')).stdout).toBe('');
    const state = JSON.parse((await pk('inspect', 'p1')).stdout) as Array<{ State: { Status: string; Running: boolean; Paused: boolean } }>;
    expect(state[0]!.State).toMatchObject({ Status: 'paused', Running: true, Paused: true });
    const ex = await pk('exec', 'p1', 'true');
    expect(ex.code).not.toBe(0);
    // docker: "Container <id> is paused, unpause the container before exec"
    expect(ex.stderr).toMatch(new RegExp(`Container ${id} is paused, unpause the container before exec`));
    // Docker's refusals.
    const again = await pk('pause', 'p1');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`Container ${id} is already paused`));

    const lines = (await pk('logs', 'p1')).stdout.split('\n').length;
    expect((await pk('unpause', 'p1')).stdout).toBe('p1\n');
    expect(frozen(id)).toBe(false);
    await until('more output', async () => (await pk('logs', 'p1')).stdout.split('\n').length > lines);
    const not = await pk('unpause', 'p1');
    expect(not.code).toBe(1);
    expect(not.stderr).toMatch(new RegExp(`Container ${id} is not paused`));
    expect((await pk('ps', '--format', '{{.Status}}')).stdout).not.toMatch(/Paused/);
    const events = (await pk('events', '--since', '0', '--until', '0s', '--format', '{{.Action}}')).stdout;
    expect(events).toMatch(/^pause\nunpause$/m);
    expect((await pk('rm', '-f', 'p1')).code).toBe(0);
  });

  it('stop, kill and rm -f of a paused container: the signal arrives (thawed after it is sent)', async () => {
    const root = roots.newRoot();
    const pk = (...args: string[]) => cli(['--root', root, ...args]);
    for (const name of ['s', 'k', 'r']) {
      expect((await pk('run', '-d', '--name', name, '--cgroup-parent', testCgroupParent(), 'host', 'sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.05; done')).code).toBe(0);
      expect((await pk('pause', name)).code).toBe(0);
    }
    expect((await pk('stop', '-t', '30', 's')).code).toBe(0);
    expect(JSON.parse((await pk('inspect', 's')).stdout)[0].State).toMatchObject({ Status: 'exited', ExitCode: 7, Paused: false });
    const killed = await pk('kill', 'k');
    expect(killed.code, killed.stderr).toBe(0);
    expect((await pk('wait', 'k')).stdout).toBe('137\n');
    const removed = await pk('rm', '-f', 'r');
    expect(removed.code, removed.stderr).toBe(0);
    expect((await pk('ps', '-a', '--format', '{{.Names}}')).stdout.split('\n').sort()).toEqual(['', 'k', 's']);
    const stopped = await pk('pause', 's');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/is not running/);
    expect((await pk('rm', 's', 'k')).code).toBe(0);
  });
});
