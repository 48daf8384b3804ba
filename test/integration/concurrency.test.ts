// Concurrency: many `pocker run -d` at once on one root. Distinct names all succeed; one name claimed
// by 20 processes at once goes to exactly one of them; the state files stay valid JSON throughout.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, isRoot, pk, tempRoot, until } from '../helpers.js';


/** Every config.json and state.json under root/containers parses as JSON (returns how many were read). */
function checkStateFiles(root: string): number {
  const dir = join(root, 'containers');
  let n = 0;
  for (const id of existsSync(dir) ? readdirSync(dir) : []) {
    for (const f of ['config.json', 'state.json']) {
      const p = join(dir, id, f);
      if (!existsSync(p)) continue;
      expect(() => JSON.parse(readFileSync(p, 'utf8')), p).not.toThrow();
      n++;
    }
  }
  return n;
}

/** Live pocker-init processes holding a file under `root` open (the detached monitors hold their log). */
function monitorsOf(root: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const exe = readlinkSync(`/proc/${pid}/exe`);
      if (!exe.startsWith('/memfd:pocker-init')) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(root); } catch { return false; } })) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe.skipIf(!isRoot)('concurrent run -d', () => {
  const root = isRoot ? tempRoot() : '';
  afterAll(async () => {
    const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
    if (ids.length) await pk(root, 'rm', '-f', ...ids);
    await cleanupAll();
  });

  it('50 distinct names all start; 20 with the same name: exactly one wins, 19 get a name conflict (125)', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `par${i}`);
    const runs = await Promise.all(names.map((name) => cli(['run', '-d', '--name', name, 'host', 'sleep', '30'], { root })));
    for (const [i, r] of runs.entries()) {
      expect(r.code, `${names[i]}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(runs.map((r) => r.stdout.trim())).size).toBe(50);
    expect(checkStateFiles(root)).toBe(100); // config.json and state.json of each

    const ps = await pk(root, 'ps', '--format', 'json', '--no-trunc');
    expect(ps.code).toBe(0);
    const listed = ps.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ID: string; Names: string; State: string });
    expect(listed.map((c) => c.Names).sort()).toEqual([...names].sort());
    expect(listed.every((c) => c.State === 'running')).toBe(true);
    expect(listed.map((c) => c.ID).sort()).toEqual(runs.map((r) => r.stdout.trim()).sort());

    const same = await Promise.all(Array.from({ length: 20 }, () => cli(['run', '-d', '--name', 'same', 'host', 'sleep', '30'], { root })));
    const won = same.filter((r) => r.code === 0);
    const lost = same.filter((r) => r.code !== 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    const winner = won[0]!.stdout.trim();
    for (const r of lost) {
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Conflict. The container name "/same" is already in use by container "${winner}"`);
      expect(r.stdout).toBe('');
    }
    // The losers left nothing: 51 containers, the names dir holds 51 claims.
    expect(readdirSync(join(root, 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d))).toHaveLength(51);
    expect(readdirSync(join(root, 'names')).filter((d) => !d.startsWith('.'))).toHaveLength(51);
    expect(readFileSync(join(root, 'names', 'same', 'owner'), 'utf8').trim()).toBe(winner);
    expect(checkStateFiles(root)).toBe(102);
    const inspect = await pk(root, 'inspect', 'same');
    expect((JSON.parse(inspect.stdout) as Array<{ Id: string; State: { Running: boolean } }>)[0]).toMatchObject({ Id: winner, State: { Running: true } });

    // rm -f all of them, in parallel (10 processes of 5 or 6 containers each).
    const all = [...names, 'same'];
    const rms = await Promise.all(Array.from({ length: 10 }, (_, i) => pk(root, 'rm', '-f', ...all.filter((_, j) => j % 10 === i))));
    for (const r of rms) expect(r.code, r.stderr).toBe(0);
    expect((await pk(root, 'ps', '-aq')).stdout).toBe('');
    expect(readdirSync(join(root, 'containers'))).toEqual([]);
    expect(readdirSync(join(root, 'names')).filter((d) => !d.startsWith('.'))).toEqual([]);
    await until("the monitors of this root to end", () => !(monitorsOf(root).length), 20_000);
    expect(monitorsOf(root)).toEqual([]);
  }, 180_000);
});
