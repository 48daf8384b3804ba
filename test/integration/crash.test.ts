// Crash safety: the CLI SIGKILLed at each step of create/start (POCKER_FAULT=<point> makes run()
// SIGKILL its own process there), and a detached container's monitor SIGKILLed. Afterwards `ps -a`
// shows no ghost "Up", and `rm -f` (or `container prune -f`) leaves no cgroup, mount, pocker-init
// process, state dir or name claim behind.
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, holdsFileUnder, psRows, type PsRow, existingCgroupParentDirs, isRoot, mountinfoLinesNaming, pk, sleep, tempRoot, testCgroupParent, until } from '../helpers.js';


const readOr = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};
const statOf = (pid: string) => {
  const s = readOr(`/proc/${pid}/stat`);
  return s ? s.slice(s.lastIndexOf(')') + 2).split(' ') : null;
};
const isInit = (pid: string) => {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:pocker-init') && !statOf(pid)?.[0]?.startsWith('Z');
  } catch {
    return false;
  }
};

/**
 * pocker-init processes of this test: holding a file under `root` open (a detached monitor's log),
 * inside the test cgroup parent (a container's init), the parent of one of those (a foreground
 * monitor), or a child of `cliPid`.
 */
function initsOf(root: string, cliPid = -1): string[] {
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const inTestCgroup = new Set(pids.filter((p) => readOr(`/proc/${p}/cgroup`).includes(`/${testCgroupParent()}/`)));
  const parentsOfThose = new Set([...inTestCgroup].map((p) => statOf(p)?.[1]).filter(Boolean) as string[]);
  return pids.filter((p) => {
    if (!isInit(p)) return false;
    return inTestCgroup.has(p) || parentsOfThose.has(p) || statOf(p)?.[1] === String(cliPid) || holdsFileUnder(p, root);
  });
}

/** Container leaves under the test cgroup parent, in every hierarchy. */
const testLeaves = () => existingCgroupParentDirs().flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)));

/** No cgroup leaf, mount, pocker-init, container dir or name claim of `root` is left. */
async function expectNothingLeft(root: string): Promise<void> {
  await until("the pocker-init processes of this root to end", () => !(initsOf(root).length), 20_000);
  expect(initsOf(root)).toEqual([]);
  expect(testLeaves()).toEqual([]);
  expect(mountinfoLinesNaming(root)).toEqual([]);
  const ls = (d: string) => (existsSync(d) ? readdirSync(d).filter((e) => !e.startsWith('.')) : []);
  expect(ls(join(root, 'containers'))).toEqual([]);
  expect(ls(join(root, 'names'))).toEqual([]);
  expect((await psRows(root)).rows).toEqual([]);
}

/** `ps -a` is consistent: a container listed as running really runs (state.json running, monitor alive). */
async function expectConsistent(root: string, detached: boolean): Promise<PsRow[]> {
  const list = (await psRows(root)).rows;
  for (const c of list) {
    if (c.State === 'running') {
      expect(detached, `${c.Names} reads as running though its foreground run was killed`).toBe(true);
      const st = JSON.parse(readFileSync(join(root, 'containers', c.ID, 'state.json'), 'utf8')) as { status: string; monitorPid: number };
      expect(st.status).toBe('running');
      expect(isInit(String(st.monitorPid))).toBe(true);
      expect(c.Status).toMatch(/^Up /);
    } else if (c.State === 'created') {
      // A detached run killed before its monitor took over: created, as Docker leaves it.
      expect(detached, `${c.Names} reads as created though it ran in the foreground`).toBe(true);
      expect(c.Status).toBe('Created');
    } else {
      expect(c.State).toBe('exited');
      expect(c.Status).toMatch(/^Exited \(\d+\)/);
    }
  }
  return list;
}

const POINTS = ['after-claim', 'after-dir', 'after-cgroups', 'after-spawn', 'after-started'] as const;

describe.skipIf(!isRoot)('crash safety', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) {
      const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
      if (ids.length) await pk(root, 'rm', '-f', ...ids);
    }
    await cleanupAll();
  });

  for (const detached of [true, false]) {
    for (const point of POINTS) {
      it(`${detached ? 'run -d' : 'run (foreground)'}: CLI SIGKILLed ${point}`, async () => {
        const root = tempRoot();
        roots.push(root);
        const name = `crash-${point}`;
        const r = await cli(['run', ...(detached ? ['-d'] : []), '--name', name, 'host', 'sleep', '30'], { root, env: { POCKER_FAULT: point } });
        expect(r.signal, r.stderr).toBe('SIGKILL');
        // A detached container's monitor, once spawned, carries on alone: let it settle (state.json
        // written, or gone); a foreground container's monitor kills it when the CLI's socket closes.
        for (let i = 0; i < 60; i++) {
          const ids = existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : [];
          const settled = ids.every((id) => existsSync(join(root, 'containers', id, 'state.json'))) || initsOf(root).length === 0;
          if (settled) break;
          await sleep(50);
        }
        const list = await expectConsistent(root, detached);
        if (!detached) expect(list.filter((c) => c.State === 'running')).toEqual([]);
        if (point === 'after-claim') {
          // Only the name was claimed: no container to list; prune and rm -f release the claim.
          expect(list).toEqual([]);
          expect(existsSync(join(root, 'names', name))).toBe(true);
          const prune = await pk(root, 'container', 'prune', '-f');
          expect(prune.code, prune.stderr).toBe(0);
        } else {
          expect(list.map((c) => c.Names)).toEqual([name]);
          const rm = await pk(root, 'rm', '-f', name);
          expect(rm.code, rm.stderr).toBe(0);
        }
        await expectNothingLeft(root);
        // The name is free again.
        const again = await cli(['run', '-d', '--name', name, 'host', 'true'], { root });
        expect(again.code, again.stderr).toBe(0);
        expect((await pk(root, 'rm', '-f', name)).code).toBe(0);
        await expectNothingLeft(root);
      }, 60_000);
    }
  }

  it('after-claim: rm -f NAME releases the stale claim too', async () => {
    const root = tempRoot();
    roots.push(root);
    const r = await cli(['run', '-d', '--name', 'stale', 'host', 'sleep', '30'], { root, env: { POCKER_FAULT: 'after-claim' } });
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(join(root, 'names', 'stale'))).toBe(true);
    const rm = await pk(root, 'rm', '-f', 'stale');
    expect(rm.stderr).toContain('No such container: stale');
    await expectNothingLeft(root);
  });

  it('the monitor SIGKILLed: Exited (137), never a ghost Up; rm -f cleans its cgroups', async () => {
    const root = tempRoot();
    roots.push(root);
    const id = (await cli(['run', '-d', '--name', 'orphan', 'host', 'sleep', '30'], { root })).stdout.trim();
    const st = JSON.parse(readFileSync(join(root, 'containers', id, 'state.json'), 'utf8')) as { pid: number; monitorPid: number };
    expect(isInit(String(st.monitorPid))).toBe(true);
    process.kill(st.monitorPid, 'SIGKILL');
    await until("the monitor to end", () => !(isInit(String(st.monitorPid))), 20_000);
    const list = await expectConsistent(root, true);
    expect(list).toMatchObject([{ ID: id, Names: 'orphan', State: 'exited', Status: expect.stringMatching(/^Exited \(137\)/) }]);
    // The container died with its monitor (PDEATHSIG).
    await until("the container process to be gone or a zombie", () => !(statOf(String(st.pid)) && !statOf(String(st.pid))![0]!.startsWith('Z')), 20_000);
    const rm = await pk(root, 'rm', '-f', 'orphan');
    expect(rm.code, rm.stderr).toBe(0);
    await expectNothingLeft(root);
  });

  it('a container dir without config.json (its creator died while making it): rm -f and prune remove it and its cgroups', async () => {
    const root = tempRoot();
    roots.push(root);
    // Another container records the test cgroup parent; it stays up meanwhile.
    const keep = (await cli(['run', '-d', '--name', 'keep', 'host', 'sleep', '30'], { root })).stdout.trim();
    const orphanIds = ['a', 'b'].map((c) => c.repeat(64));
    for (const id of orphanIds) {
      mkdirSync(join(root, 'containers', id, 'rootfs'), { recursive: true });
      for (const parent of existingCgroupParentDirs()) mkdirSync(join(parent, id));
    }
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(root, 'containers', orphanIds[1]!), old, old);
    const list = await expectConsistent(root, true);
    expect(list.map((c) => c.ID).sort()).toEqual([keep, ...orphanIds].sort());
    expect(list.find((c) => c.ID === keep)?.State).toBe('running');

    expect((await pk(root, 'rm', '-f', orphanIds[0]!.slice(0, 12))).code).toBe(0);
    const prune = await pk(root, 'container', 'prune', '-f');
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toContain(orphanIds[1]);
    expect(((await psRows(root)).rows).map((c) => c.ID)).toEqual([keep]);
    for (const parent of existingCgroupParentDirs()) for (const id of orphanIds) expect(existsSync(join(parent, id))).toBe(false);
    expect((await pk(root, 'rm', '-f', 'keep')).code).toBe(0);
    await expectNothingLeft(root);
  });
});
