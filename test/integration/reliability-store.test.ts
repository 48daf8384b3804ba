// Issue 9 (store items) and issue 10 finding 8, against real containers: damaged records (defect 2),
// cgroups left by a killed start (7), containers no record explains (8), name claims that leak
// (12), rmi on a full disk (13), the CLI's --env-file / -e "" / images --format (14), and the
// lookup order exact id, exact name, unique id prefix (10.8). Each test has its own --root and the
// test cgroup parent; everything it makes is removed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { buildOciLayout } from '../image-builder.js';
import { cleanupAll, cli, psRows, isRoot, pockerBin, processAlive, tempDir, tempRoot, testCgroupParent, until } from '../helpers.js';

const pk = (root: string, ...args: string[]) => cli(['--root', root, ...args]);

afterAll(async () => {
  await cleanupAll();
});

interface State {
  pid: number;
  monitorPid: number;
}

/** `run -d` of a long sleep named `name` under the test cgroup parent; its id, pids and cgroup dirs. */
async function runDetached(root: string, name: string, ...extra: string[]): Promise<{ id: string; pid: number; monitorPid: number; cgroups: string[] }> {
  const r = await pk(root, 'run', '-d', '--name', name, '--cgroup-parent', testCgroupParent(), ...extra, 'host', 'sleep', '1000');
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  const dir = join(root, 'containers', id);
  await until('state.json says running', () => {
    try {
      return (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { status: string }).status === 'running';
    } catch {
      return false;
    }
  });
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
  const cgroups = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { pocker: { container: { cgroups: string[] } } }).pocker.container.cgroups;
  return { id, pid: s.pid, monitorPid: s.monitorPid, cgroups };
}

const names = (root: string) => (existsSync(join(root, 'names')) ? readdirSync(join(root, 'names')).filter((n) => !n.startsWith('.')) : []);
const containers = (root: string) => (existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []);

describe.skipIf(!isRoot)('damaged records (issue 9 defect 2)', () => {
  for (const [what, text] of [
    ['empty', ''],
    ['truncated', '{"version":2,"status":"runn'],
    ['garbled', '\u0000\u0000garbage'],
    ['null', 'null'],
  ] as const) {
    it(`a running container with a ${what} state.json is listed Dead, inspect says why, rm refuses, rm -f kills and removes everything`, async () => {
      const root = tempRoot();
      const c = await runDetached(root, `dmg-${what}`);
      writeFileSync(join(root, 'containers', c.id, 'state.json'), text);

      const { rows } = await psRows(root);
      expect(rows).toEqual([expect.objectContaining({ ID: c.id, Names: `dmg-${what}`, State: 'dead', Status: 'Dead' })]);
      const ins = await pk(root, 'inspect', `dmg-${what}`);
      expect(ins.code, ins.stderr).toBe(0);
      const doc = (JSON.parse(ins.stdout) as Array<{ State: { Status: string; Dead: boolean; Error: string } }>)[0]!;
      expect(doc.State).toMatchObject({ Status: 'dead', Dead: true });
      expect(doc.State.Error).toMatch(/record is damaged.*state\.json/);

      // Never started on top of what may still run; stop is a no-op, as for any stopped container.
      const start = await pk(root, 'start', `dmg-${what}`);
      expect(start.code).not.toBe(0);
      expect(start.stderr).toMatch(/record is damaged.*rm -f/);
      // Something still runs for it: plain rm refuses (the message says what to do), rm -f kills it.
      const rm = await pk(root, 'rm', `dmg-${what}`);
      expect(rm.code).toBe(1);
      expect(rm.stderr).toMatch(/damaged and it still has processes.*rm -f/);
      const rmf = await pk(root, 'rm', '-f', `dmg-${what}`);
      expect(rmf.code, rmf.stderr).toBe(0);
      await until('the workload and its monitor are gone', () => !processAlive(c.pid) && !processAlive(c.monitorPid));
      expect(c.cgroups.filter((d) => existsSync(d))).toEqual([]);
      expect(containers(root)).toEqual([]);
      expect(names(root)).toEqual([]);
    });
  }

  it('a garbled config.json: found by its name, listed Dead; container prune removes an exited one, rm -f a running one', async () => {
    const root = tempRoot();
    const live = await runDetached(root, 'cfg-live');
    const ended = await runDetached(root, 'cfg-ended');
    const k = await pk(root, 'kill', 'cfg-ended');
    expect(k.code, k.stderr).toBe(0);
    await until('cfg-ended exited', () => !processAlive(ended.monitorPid));
    for (const id of [live.id, ended.id]) writeFileSync(join(root, 'containers', id, 'config.json'), '{"ociVersion": "1.2.0", "pock');

    const { rows } = await psRows(root);
    expect(rows.map((r) => r.Status).sort()).toEqual(['Dead', 'Dead']);
    const pr = await pk(root, 'container', 'prune', '-f');
    expect(pr.code, pr.stderr).toBe(0);
    expect(pr.stdout).toContain(ended.id);
    expect(pr.stdout).not.toContain(live.id);
    expect(containers(root)).toEqual([live.id]);
    expect(processAlive(live.pid)).toBe(true);

    const rmf = await pk(root, 'rm', '-f', 'cfg-live');
    expect(rmf.code, rmf.stderr).toBe(0);
    await until('the workload is gone', () => !processAlive(live.pid));
    expect([...live.cgroups, ...ended.cgroups].filter((d) => existsSync(d))).toEqual([]);
    expect(containers(root)).toEqual([]);
    expect(names(root)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('cgroups of stopped containers (issue 9 defect 7)', () => {
  it('rm and container prune remove the cgroups a killed start left, whatever the record says (exited, created)', async () => {
    const root = tempRoot();
    const a = await runDetached(root, 'leak-a');
    const b = await runDetached(root, 'leak-b');
    for (const name of ['leak-a', 'leak-b']) expect((await pk(root, 'stop', '-t', '0', name)).code).toBe(0);
    await until('monitors gone', () => !processAlive(a.monitorPid) && !processAlive(b.monitorPid));
    // What a `start` killed after making the cgroups leaves: the dirs, the record still `exited`.
    for (const d of [...a.cgroups, ...b.cgroups]) mkdirSync(d, { recursive: true });
    const rm = await pk(root, 'rm', 'leak-a');
    expect(rm.code, rm.stderr).toBe(0);
    expect(a.cgroups.filter((d) => existsSync(d))).toEqual([]);
    const pr = await pk(root, 'container', 'prune', '-f');
    expect(pr.code, pr.stderr).toBe(0);
    expect(b.cgroups.filter((d) => existsSync(d))).toEqual([]);
    expect(containers(root)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('containers no record explains (issue 9 defect 8)', () => {
  for (const verb of [['container', 'prune', '-f'], ['system', 'prune', '-f']]) {
    it(`a deleted containers/<id> with a live monitor: ps warns on stderr, ${verb.join(' ')} kills it and removes its cgroups and name`, async () => {
      const root = tempRoot();
      const c = await runDetached(root, 'ghost', '--restart', 'always');
      const kept = await runDetached(root, 'kept');
      rmSync(join(root, 'containers', c.id), { recursive: true, force: true });

      const { rows, stderr } = await psRows(root);
      expect(rows.map((r) => r.Names)).toEqual(['kept']);
      expect(stderr).toContain(`container ${c.id.slice(0, 12)} has no record but still runs (monitor pid ${c.monitorPid})`);

      const pr = await pk(root, ...verb);
      expect(pr.code, pr.stderr).toBe(0);
      expect(pr.stdout).toContain(c.id);
      await until('the ghost and its monitor are gone', () => !processAlive(c.pid) && !processAlive(c.monitorPid));
      expect(c.cgroups.filter((d) => existsSync(d))).toEqual([]);
      expect(names(root)).toEqual(['kept']);
      // The container that has a record is left alone.
      expect(processAlive(kept.pid)).toBe(true);
      expect((await psRows(root)).stderr).toBe('');
      expect((await pk(root, 'rm', '-f', 'kept')).code).toBe(0);
    });
  }
});

describe.skipIf(!isRoot)('cgroups no record explains (issue 9 defect 8)', () => {
  it('a deleted directory and a killed monitor: the name claim keeps the id known, ps warns, prune removes the cgroups', async () => {
    const root = tempRoot();
    // The root's records name the cgroup parent (a parent no record names is only found through a
    // live monitor's processes, or when it is the default `pocker`).
    const kept = await pk(root, 'create', '--name', 'kept', '--cgroup-parent', testCgroupParent(), 'host', 'true');
    expect(kept.code, kept.stderr).toBe(0);
    const c = await runDetached(root, 'lost');
    rmSync(join(root, 'containers', c.id), { recursive: true, force: true });
    // Started by this test: the monitor first (it would clean up), then its workload.
    process.kill(c.monitorPid, 'SIGKILL');
    process.kill(c.pid, 'SIGKILL');
    await until('monitor and workload gone', () => !processAlive(c.monitorPid) && !processAlive(c.pid));
    expect(c.cgroups.filter((d) => existsSync(d)).length).toBeGreaterThan(0);
    // Claiming another name sweeps stale claims, but not the one that still explains cgroups.
    const other = await pk(root, 'create', '--name', 'other', '--cgroup-parent', testCgroupParent(), 'host', 'true');
    expect(other.code, other.stderr).toBe(0);
    expect(names(root).sort()).toEqual(['kept', 'lost', 'other']);
    const { stderr } = await psRows(root);
    expect(stderr).toContain(`container ${c.id.slice(0, 12)} has no record but still has cgroups`);
    const pr = await pk(root, 'container', 'prune', '-f');
    expect(pr.code, pr.stderr).toBe(0);
    expect(c.cgroups.filter((d) => existsSync(d))).toEqual([]);
    expect(names(root)).toEqual([]);
    expect(containers(root)).toEqual([]);
    expect((await psRows(root)).stderr).toBe('');
  });
});

describe.skipIf(!isRoot)('name claims (issue 9 defect 12)', () => {
  it('run -d --rm: the name claim its monitor leaves is swept when names are next claimed, and by prune', async () => {
    const root = tempRoot();
    const r = await pk(root, 'run', '-d', '--rm', '--name', 'gone', '--cgroup-parent', testCgroupParent(), 'host', 'true');
    expect(r.code, r.stderr).toBe(0);
    await until('the --rm container removed itself', () => !existsSync(join(root, 'containers', r.stdout.trim())));
    const c = await pk(root, 'create', '--name', 'other', '--cgroup-parent', testCgroupParent(), 'host', 'true');
    expect(c.code, c.stderr).toBe(0);
    expect(names(root)).toEqual(['other']);
    expect((await pk(root, 'rm', 'other')).code).toBe(0);
    expect(names(root)).toEqual([]);
  });

  it('a 0-byte owner (a claim on a full disk) and a claim without owner are released by prune and do not block the name', async () => {
    const root = tempRoot();
    for (const n of ['zero', 'noowner']) mkdirSync(join(root, 'names', n), { recursive: true });
    writeFileSync(join(root, 'names', 'zero', 'owner'), '');
    const pr = await pk(root, 'container', 'prune', '-f');
    expect(pr.code, pr.stderr).toBe(0);
    expect(names(root)).toEqual([]);
  });

  it('missing config.json, and a killed rm -f (half-removed directory): rm -f NAME finishes the removal and releases the name', async () => {
    const root = tempRoot();
    const a = await runDetached(root, 'half');
    const b = await runDetached(root, 'noconf');
    for (const n of ['half', 'noconf']) expect((await pk(root, 'stop', '-t', '0', n)).code).toBe(0);
    // rm -f killed half-way: config.json and state.json already gone, other files left.
    rmSync(join(root, 'containers', a.id, 'config.json'));
    rmSync(join(root, 'containers', a.id, 'state.json'));
    rmSync(join(root, 'containers', b.id, 'config.json'));
    for (const n of ['half', 'noconf']) {
      const r = await pk(root, 'rm', '-f', n);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(containers(root)).toEqual([]);
    expect(names(root)).toEqual([]);
    expect([...a.cgroups, ...b.cgroups].filter((d) => existsSync(d))).toEqual([]);
  });
});

describe.skipIf(!isRoot)('lookup order (issue 10 finding 8)', () => {
  it('an exact name wins over another container whose id starts with it', async () => {
    const root = tempRoot();
    const a = await runDetached(root, 'first');
    // A container named after a prefix of the first one's id.
    const prefix = a.id.slice(0, 6);
    const b = await runDetached(root, prefix);
    const r = await pk(root, 'rm', '-f', prefix);
    expect(r.code, r.stderr).toBe(0);
    await until('the named container is gone', () => !processAlive(b.pid));
    expect(containers(root)).toEqual([a.id]);
    expect(processAlive(a.pid)).toBe(true);
    // The prefix now names no container: it is an id prefix again.
    expect((await pk(root, 'rm', '-f', prefix)).code).toBe(0);
    expect(containers(root)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('rmi on a full disk (issue 9 defect 13)', () => {
  it('on a full tmpfs root, tag fails with a clear error and rmi still frees space', async () => {
    const root = tempDir('tmpfs-root');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', root]);
    try {
      const layout = tempDir('layout');
      buildOciLayout(layout, { layers: [{ 'data/blob': Buffer.alloc(600_000, 7).toString('base64') }] });
      const tar = join(tempDir('tar'), 'image.tar');
      execFileSync('tar', ['-cf', tar, '-C', layout, '.']);
      const load = await pk(root, 'load', '-i', tar);
      expect(load.code, load.stderr).toBe(0);
      const listed = await pk(root, 'images', '--format', '{{.ID}}');
      const id = listed.stdout.trim().split('\n')[0]!;
      for (const t of ['one:1', 'two:1', 'three:1']) expect((await pk(root, 'tag', id, t)).code).toBe(0);
      // Fill the disk.
      spawnSync('dd', ['if=/dev/zero', `of=${join(root, 'fill')}`, 'bs=64k'], { stdio: 'ignore' });
      const tag = await pk(root, 'tag', id, 'four:1');
      expect(tag.code).not.toBe(0);
      expect(tag.stderr).toMatch(/ENOSPC|no space/i);
      for (const t of ['one:1', 'two:1', 'three:1']) {
        const rmi = await pk(root, 'rmi', t);
        expect(rmi.code, rmi.stderr).toBe(0);
      }
      const left = await pk(root, 'images', '--format', '{{.Repository}}:{{.Tag}}');
      expect(left.code, left.stderr).toBe(0);
      expect(left.stdout).not.toMatch(/one|two|three/);
      expect(readFileSync(join(root, 'images.json'), 'utf8')).not.toMatch(/one|two|three/);
      // The last name: the image goes, with its layer and blobs (the store opens on a full disk).
      const last = left.stdout.trim();
      const rmi = await pk(root, 'rmi', last);
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(rmi.stdout).toMatch(/^Deleted: sha256:/m);
      expect(readdirSync(join(root, 'layers'))).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', root]);
    }
  });
});

describe('CLI (issue 9 defect 14)', () => {
  /** Runs bin/pocker.cjs through its #! line, as a user's shell does. */
  const direct = (args: string[]) => spawnSync(pockerBin, args, { encoding: 'utf8' });

  it('run --env-file DIR or a missing file: pocker reports it (125), Node does not take the flag', () => {
    const root = tempRoot();
    for (const file of [tempDir('envdir'), join(tempDir('envmissing'), 'nope')]) {
      const r = direct(['--root', root, 'run', '--env-file', file, '--rm', 'host', 'true']);
      expect(r.status, r.stderr).toBe(125);
      expect(r.stderr).toMatch(/^pocker: cannot read env file /);
    }
  });

  it('-e "" is refused as Docker refuses it', async () => {
    const r = await pk(tempRoot(), 'run', '-e', '', '--rm', 'host', 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid environment variable');
  });

  it("images --format '{{.Nope' exits 1 with a template error (Docker: ImageWrite's error, exit 1), with no images too", async () => {
    const root = tempRoot();
    for (const f of ['{{.Nope', '{{.Nope}}']) {
      const r = await pk(root, 'images', '--format', f);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/template/);
    }
  });
});
