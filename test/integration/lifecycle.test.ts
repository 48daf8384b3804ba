// stats, top, rename, container prune, cp (both ways, through a planted symlink), rm -f after the
// monitor died: on real detached containers.
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cgroupParentDirs, cleanupAll, cli, containerState, isRoot, pk, removeAllContainers, rootTracker, sleep, tempDir, until } from '../helpers.js';

interface Config {
  name: string;
  cgroups: string[];
}

const state = containerState;
/** The store's part of config.json (`pocker.container`: lib/container/record.ts). */
const config = (root: string, id: string) => (JSON.parse(readFileSync(join(root, 'containers', id, 'config.json'), 'utf8')) as { pocker: { container: Config } }).pocker.container;

const removeAll = removeAllContainers;

async function waitExited(root: string, id: string): Promise<void> {
  await until(`container ${id} to exit`, () => state(root, id).status === 'exited');
}

/** Waits until `path` exists in the running container (its root seen through /proc/<pid>/root). */
async function waitInside(root: string, id: string, path: string): Promise<void> {
  const pid = state(root, id).pid;
  await until(`${path} to appear in the container`, () => existsSync(`/proc/${pid}/root${path}`));
}

/** Parses Docker's "464KiB" / "64MiB" sizes. */
function parseBinary(text: string): number {
  const m = /^([\d.]+)(B|KiB|MiB|GiB|TiB)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(m[2]!);
}

describe.skipIf(!isRoot)('lifecycle commands', () => {
  const { newRoot, removeAll: removeRoots } = rootTracker();
  afterAll(async () => {
    await removeRoots();
    await cleanupAll();
  });

  it('stats --no-stream: memory limit, pids and CPU % from the cgroup files', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'busy', '-m', '64m', '--cpus', '0.5', 'host', 'sh', '-c', 'sleep 100 & while :; do :; done'], { root })).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const idle = (await cli(['run', '-d', '--name', 'idle', 'host', 'sleep', '100'], { root })).stdout.trim();
    // Both of busy's processes (the shell and its sleep) are in its cgroup.
    await until('busy to run its two processes', async () => (await pk(root, 'stats', '--no-stream', '--format', 'json', 'busy')).stdout.includes('"PIDs":"2"'));

    const table = await pk(root, 'stats', '--no-stream');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(lines).toHaveLength(3);
    expect(table.stdout).toMatch(new RegExp(`\\n${id.slice(0, 12)}\\s+busy\\s+[\\d.]+%\\s+[\\d.]+\\w+ / 64MiB\\s+[\\d.]+%\\s+0B / 0B\\s+0B / 0B\\s+2\\n`));

    const json = await pk(root, 'stats', '--no-stream', '--format', 'json', 'busy', 'idle');
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    const busy = rows.find((r) => r.Name === 'busy')!;
    expect(busy.ID).toBe(id.slice(0, 12));
    const cgroups = config(root, id).cgroups;
    const pidsFile = cgroups.map((d) => join(d, 'pids.current')).find((f) => existsSync(f))!;
    expect(busy.PIDs).toBe(readFileSync(pidsFile, 'utf8').trim());
    const [usage, limit] = busy.MemUsage!.split(' / ');
    expect(parseBinary(limit!)).toBe(64 * 1024 * 1024);
    expect(parseBinary(usage!)).toBeGreaterThan(0);
    expect(parseBinary(usage!)).toBeLessThan(64 * 1024 * 1024);
    const cpu = Number(busy.CPUPerc!.replace('%', ''));
    expect(cpu).toBeGreaterThan(20);
    expect(cpu).toBeLessThan(80);
    // No -m: the limit is the host's memory; an idle container uses no CPU.
    const quiet = rows.find((r) => r.Name === 'idle')!;
    expect(quiet.ID).toBe(idle.slice(0, 12));
    expect(Math.abs(parseBinary(quiet.MemUsage!.split(' / ')[1]!) - totalmem()) / totalmem()).toBeLessThan(0.01);
    expect(Number(quiet.CPUPerc!.replace('%', ''))).toBeLessThan(5);
    expect(quiet.PIDs).toBe('1');

    // -a shows stopped containers (zeros); without it they are left out.
    const done = (await cli(['run', '-d', '--name', 'done', 'host', 'true'], { root })).stdout.trim();
    await waitExited(root, done);
    expect((await pk(root, 'stats', '--no-stream')).stdout).not.toContain('done');
    expect((await pk(root, 'stats', '--no-stream', '-a')).stdout).toMatch(/\sdone\s+0\.00%\s+0B \/ 0B\s+0\.00%\s+0B \/ 0B\s+0B \/ 0B\s+0\n/);
    const missing = await pk(root, 'stats', '--no-stream', 'nope');
    expect([missing.code, missing.stderr]).toEqual([1, 'pocker: No such container: nope\n']);
    await removeAll(root);
  });

  it("top lists the container's processes with Docker's columns", async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 't', 'host', 'sh', '-c', 'sleep 101 & sleep 102'], { root })).stdout.trim();
    const pid = state(root, id).pid;
    await until("three processes in the container's cgroup", () => !(readFileSync(join(config(root, id).cgroups[0]!, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length < 3), 20_000);
    const top = await pk(root, 'top', 't');
    expect(top.code).toBe(0);
    const lines = top.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    expect(lines).toHaveLength(4);
    expect(top.stdout).toMatch(new RegExp(`\\nroot\\s+${pid}\\s+\\d+\\s+\\d+\\s+\\S+\\s+\\?\\s+\\d\\d:\\d\\d:\\d\\d\\s+sh -c sleep 101 & sleep 102\\n`));
    expect(top.stdout).toMatch(new RegExp(`\\nroot\\s+\\d+\\s+${pid}\\s+.*sleep 101\\n`));
    expect(top.stdout).toMatch(new RegExp(`\\nroot\\s+\\d+\\s+${pid}\\s+.*sleep 102\\n`));
    // ps options: the host's ps, the container's rows only.
    const custom = await pk(root, 'top', 't', '-o', 'pid,comm');
    expect(custom.code).toBe(0);
    expect(custom.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(custom.stdout).toMatch(new RegExp(`\\n\\s*${pid} sh\\n`));
    await pk(root, 'rm', '-f', 't');
    const gone = await pk(root, 'top', 't');
    expect(gone.code).toBe(1);
  });

  it('rename: ps shows the new name, the old one is free, a taken one is refused', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'before', 'host', 'sleep', '100'], { root })).stdout.trim();
    await cli(['run', '-d', '--name', 'other', 'host', 'sleep', '100'], { root });
    const r = await pk(root, 'rename', 'before', 'after');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect((await pk(root, 'ps')).stdout).toMatch(new RegExp(`\\n${id.slice(0, 12)}\\s.*\\safter\\n`));
    expect(config(root, id).name).toBe('after');
    expect(existsSync(join(root, 'names', 'before'))).toBe(false);
    expect(readFileSync(join(root, 'names', 'after', 'owner'), 'utf8').trim()).toBe(id);
    // The old name can be taken again; the new one cannot.
    expect((await cli(['run', '-d', '--name', 'before', 'host', 'true'], { root })).code).toBe(0);
    expect((await cli(['run', '-d', '--name', 'after', 'host', 'true'], { root })).code).toBe(125);
    const taken = await pk(root, 'rename', 'after', 'other');
    expect([taken.code, taken.stderr]).toEqual([1, expect.stringContaining('Conflict. The container name "/other" is already in use')]);
    expect(config(root, id).name).toBe('after');
    const bad = await pk(root, 'rename', 'after', 'bad/name');
    expect(bad.code).toBe(1);
    expect((await pk(root, 'inspect', 'after')).stdout).toContain('"Name": "/after"');
    await removeAll(root);
  });

  it('container prune removes the exited containers only', async () => {
    const root = newRoot();
    const up = (await cli(['run', '-d', '--name', 'up', 'host', 'sleep', '100'], { root })).stdout.trim();
    const a = (await cli(['run', '-d', '--name', 'a', 'host', 'true'], { root })).stdout.trim();
    const b = (await cli(['run', '-d', '--name', 'b', 'host', 'sh', '-c', 'echo x > /f; exit 2'], { root })).stdout.trim();
    await waitExited(root, a);
    await waitExited(root, b);
    const no = await pk(root, 'container', 'prune');
    expect(no.stdout).toContain('WARNING! This will remove all stopped containers.');
    expect(existsSync(join(root, 'containers', a))).toBe(true);
    const prune = await pk(root, 'container', 'prune', '-f');
    expect(prune.code).toBe(0);
    const [head, tail, rest] = prune.stdout.split('\n\n');
    expect(head!.split('\n')[0]).toBe('Deleted Containers:');
    expect(head!.split('\n').slice(1).sort()).toEqual([a, b].sort());
    expect(tail).toMatch(/^Total reclaimed space: [\d.]+k?B\n$/);
    expect(rest).toBeUndefined();
    expect(existsSync(join(root, 'containers', a)) || existsSync(join(root, 'containers', b))).toBe(false);
    expect(existsSync(join(root, 'names', 'a'))).toBe(false);
    expect((await pk(root, 'ps', '-aq', '--no-trunc')).stdout).toBe(`${up}\n`);
    expect((await pk(root, 'container', 'prune', '-f')).stdout).toBe('Total reclaimed space: 0B\n');
    await removeAll(root);
  });

  it('cp in and out: files, directories, symlinks and modes; a planted symlink resolves inside the container', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'c', 'host', 'sh', '-c', 'mkdir -p /srv/d/sub && echo inner > /srv/d/sub/f && chmod 750 /srv/d/sub && ln -s sub/f /srv/d/l && ln -s /etc /data && ln -s ../../../../.. /srv/up && echo mine > /etc/pocker-cp-out && touch /ready && sleep 100'], { root })).stdout.trim();
    await waitInside(root, id, '/ready');
    const pid = state(root, id).pid;
    const host = tempDir('cp');

    // Out: a directory (recursive, modes, symlinks as symlinks) and a file.
    expect((await pk(root, 'cp', 'c:/srv/d', join(host, 'd'))).code).toBe(0);
    expect(readFileSync(join(host, 'd/sub/f'), 'utf8')).toBe('inner\n');
    expect(statSync(join(host, 'd/sub')).mode & 0o777).toBe(0o750);
    expect(readlinkSync(join(host, 'd/l'))).toBe('sub/f');
    mkdirSync(join(host, 'into'));
    expect((await pk(root, 'cp', 'c:/srv/d/sub/f', join(host, 'into'))).code).toBe(0);
    expect(readFileSync(join(host, 'into/f'), 'utf8')).toBe('inner\n');
    // Out through the planted symlink: the container's /etc, not the host's.
    expect(existsSync('/etc/pocker-cp-out')).toBe(false);
    expect((await pk(root, 'cp', 'c:/data/pocker-cp-out', join(host, 'out'))).code).toBe(0);
    expect(readFileSync(join(host, 'out'), 'utf8')).toBe('mine\n');
    // A symlink named itself is copied as a symlink.
    expect((await pk(root, 'cp', 'c:/data', join(host, 'data'))).code).toBe(0);
    expect(lstatSync(join(host, 'data')).isSymbolicLink()).toBe(true);

    // In: a file with its mode, a directory tree with a symlink.
    writeFileSync(join(host, 'script'), '#!/bin/sh\necho ran\n', { mode: 0o751 });
    expect((await pk(root, 'cp', join(host, 'script'), 'c:/srv/script')).code).toBe(0);
    expect(readFileSync(`/proc/${pid}/root/srv/script`, 'utf8')).toBe('#!/bin/sh\necho ran\n');
    expect(statSync(`/proc/${pid}/root/srv/script`).mode & 0o7777).toBe(0o751);
    mkdirSync(join(host, 'tree/a'), { recursive: true, mode: 0o755 });
    writeFileSync(join(host, 'tree/a/x'), 'x');
    symlinkSync('a/x', join(host, 'tree/lx'));
    expect((await pk(root, 'cp', join(host, 'tree'), 'c:/srv')).code).toBe(0);
    expect(readFileSync(`/proc/${pid}/root/srv/tree/a/x`, 'utf8')).toBe('x');
    expect(readlinkSync(`/proc/${pid}/root/srv/tree/lx`)).toBe('a/x');
    expect(readdirSync(`/proc/${pid}/root/srv`).sort()).toEqual(['d', 'script', 'tree', 'up']);

    // The planted symlink: /data -> /etc in the container. The write lands in the container's /etc.
    const sentinel = '/etc/pocker-cp-sentinel';
    writeFileSync(sentinel, 'host\n');
    writeFileSync(join(host, 'payload'), 'container\n');
    try {
      const into = await pk(root, 'cp', join(host, 'payload'), 'c:/data/pocker-cp-sentinel');
      expect([into.code, into.stderr]).toEqual([0, '']);
      expect(readFileSync(sentinel, 'utf8')).toBe('host\n');
      expect(readFileSync(`/proc/${pid}/root/etc/pocker-cp-sentinel`, 'utf8')).toBe('container\n');
      // A planted symlink climbing above the root (/srv/up -> ../../../../..) stays in it too.
      writeFileSync(join(host, 'payload'), 'deep\n');
      const deep = await pk(root, 'cp', join(host, 'payload'), 'c:/srv/up/etc/pocker-cp-sentinel');
      expect([deep.code, deep.stderr]).toEqual([0, '']);
      expect(readFileSync(sentinel, 'utf8')).toBe('host\n');
      expect(readFileSync(`/proc/${pid}/root/etc/pocker-cp-sentinel`, 'utf8')).toBe('deep\n');
    } finally {
      const { rmSync } = await import('node:fs');
      rmSync(sentinel, { force: true });
    }

    // Errors: a missing source, a stopped container.
    expect((await pk(root, 'cp', 'c:/nope', join(host, 'nope'))).code).toBe(1);
    await pk(root, 'rm', '-f', 'c');
    const stoppedId = (await cli(['run', '-d', '--name', 'stopped', 'host', 'true'], { root })).stdout.trim();
    await until('container "stopped" to exit', () => state(root, stoppedId).status === 'exited');
    const stopped = await pk(root, 'cp', join(host, 'payload'), 'stopped:/x');
    expect([stopped.code, stopped.stderr]).toEqual([1, expect.stringContaining('is not running')]);
    await removeAll(root);
  });

  it('rm -f after the monitor was SIGKILLed leaves no cgroup behind', async () => {
    const root = newRoot();
    const id = (await cli(['run', '-d', '--name', 'orphan', '--pids-limit', '20', 'host', 'sleep', '100'], { root })).stdout.trim();
    const { pid, monitorPid } = state(root, id);
    const leaves = config(root, id).cgroups;
    expect(leaves.length).toBeGreaterThan(0);
    process.kill(monitorPid, 'SIGKILL');
    await until("the monitor's /proc/<pid>/exe to go away", () => !(existsSync(`/proc/${monitorPid}/exe`)), 20_000);
    expect((await pk(root, 'ps', '-a')).stdout).toMatch(/Exited \(137\).*orphan\n/);
    const rm = await pk(root, 'rm', '-f', 'orphan');
    expect([rm.code, rm.stdout]).toEqual([0, 'orphan\n']);
    for (const leaf of leaves) expect(existsSync(leaf)).toBe(false);
    for (const parent of cgroupParentDirs()) {
      const left = existsSync(parent) ? readdirSync(parent).filter((e) => e.includes(id)) : [];
      expect(left).toEqual([]);
    }
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      alive = existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
      if (alive) await sleep(20);
    }
    expect(alive).toBe(false);
    expect(existsSync(join(root, 'containers', id))).toBe(false);
  });
});
