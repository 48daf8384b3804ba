// Versioned records: containers written by the previous pocker (config.json / state.json without a
// version: test/fixtures/records-v1, copied from a real run of it) are migrated on read, so ps -a,
// inspect, logs, start, rename and rm work on them; a container written by a newer pocker (version
// 3) is refused with a clear message by ps, inspect, start and rm, and rm -f still removes it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { cleanupAll, pk, psRows, isRoot, repoRoot, tempRoot, testCgroupParent } from '../helpers.js';

const FIXTURES = join(repoRoot, 'test', 'fixtures', 'records-v1');

/** Lays out fixture `kind` as container `id` under `root` (as the previous pocker left it), with its name claim. */
function layOut(root: string, kind: 'created' | 'exited' | 'foreground', name: string): string {
  const id = randomBytes(32).toString('hex');
  const dir = join(root, 'containers', id);
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  mkdirSync(join(dir, 'scratch'));
  const sub = (text: string) =>
    text.replaceAll('@ROOT@', root).replaceAll('@ID@', id).replaceAll('@SHORT@', id.slice(0, 12)).replaceAll('@PARENT@', testCgroupParent());
  for (const file of ['config.json', 'state.json']) {
    const src = join(FIXTURES, kind, file);
    if (existsSync(src)) writeFileSync(join(dir, file), sub(readFileSync(src, 'utf8')), { mode: 0o600 });
  }
  if (existsSync(join(FIXTURES, kind, 'log.json'))) writeFileSync(join(dir, `${id}-json.log`), readFileSync(join(FIXTURES, kind, 'log.json')));
  mkdirSync(join(root, 'names', name), { recursive: true });
  writeFileSync(join(root, 'names', name, 'owner'), `${id}\n`);
  return id;
}

/** A container written by a (hypothetical) newer pocker: records of version 3. */
function layOutFuture(root: string, name: string): string {
  const id = randomBytes(32).toString('hex');
  const dir = join(root, 'containers', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ ociVersion: '1.3.0', process: { args: ['sleep', '1'] }, pocker: { version: 3, container: { id, name, renamedField: true } } }),
  );
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 3, phase: 'stopped' }));
  mkdirSync(join(root, 'names', name), { recursive: true });
  writeFileSync(join(root, 'names', name, 'owner'), `${id}\n`);
  return id;
}

describe.skipIf(!isRoot)('records written by another pocker version', () => {
  afterAll(async () => {
    await cleanupAll();
  });

  it('previous format (no version): ps -a, inspect, logs, start, rename and rm work on the migrated containers', async () => {
    const root = tempRoot();
    const created = layOut(root, 'created', 'mig-created');
    const exited = layOut(root, 'exited', 'mig-exited');
    const fg = layOut(root, 'foreground', 'mig-fg');

    const { rows: list, stderr } = await psRows(root);
    expect(stderr).toBe('');
    const byName = new Map(list.map((c) => [c.Names, c]));
    expect([...byName.keys()].sort()).toEqual(['mig-created', 'mig-exited', 'mig-fg']);
    expect(byName.get('mig-created')).toMatchObject({ ID: created, State: 'created', Status: 'Created' });
    expect(byName.get('mig-exited')).toMatchObject({ ID: exited, State: 'exited' });
    expect(byName.get('mig-exited')!.Status).toMatch(/^Exited \(3\) /);
    // Its creator is long dead: not running (the owner check of the old record still applies).
    expect(byName.get('mig-fg')).toMatchObject({ ID: fg, State: 'exited', Status: 'Exited (137)' });

    const insp = await pk(root, 'inspect', 'mig-created', exited.slice(0, 10));
    expect(insp.code, insp.stderr).toBe(0);
    const [ci, ei] = JSON.parse(insp.stdout) as Array<{ Id: string; Name: string; State: { Status: string; ExitCode: number }; Config: { Env: string[]; Cmd: string[] }; HostConfig: { CgroupParent: string } }>;
    expect(ci).toMatchObject({ Id: created, Name: '/mig-created', State: { Status: 'created' }, HostConfig: { CgroupParent: testCgroupParent() } });
    expect(ci!.Config.Env).toContain('FOO=bar');
    expect(ei).toMatchObject({ Id: exited, Name: '/mig-exited', State: { Status: 'exited', ExitCode: 3 } });

    const logs = await pk(root, 'logs', 'mig-exited');
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe('out1\n');
    expect(logs.stderr).toBe('err1\n');

    // start runs it from the stored run options (the record's run.config), as before.
    const started = await pk(root, 'start', '-a', 'mig-created');
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toBe('out bar\n');
    expect(started.stderr).toBe('err\n');
    expect((await pk(root, 'logs', 'mig-created')).stdout).toBe('out bar\n');
    const again = await pk(root, 'start', '-a', 'mig-exited');
    expect(again.code).toBe(3);
    expect((await pk(root, 'logs', 'mig-exited')).stdout).toBe('out1\nout1\n');

    // A rename rewrites config.json in the current format (the OCI document with the pocker section).
    const ren = await pk(root, 'rename', 'mig-exited', 'mig-renamed');
    expect(ren.code, ren.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(root, 'containers', exited, 'config.json'), 'utf8')) as { ociVersion: string; pocker: { version: number; container: { name: string; id: string } } };
    expect(doc.ociVersion).toBe('1.2.0');
    expect(doc.pocker.version).toBe(2);
    expect(doc.pocker.container).toMatchObject({ id: exited, name: 'mig-renamed' });
    expect((await psRows(root)).rows.map((c) => c.Names).sort()).toEqual(['mig-created', 'mig-fg', 'mig-renamed']);

    const rm = await pk(root, 'rm', 'mig-created', 'mig-renamed', 'mig-fg');
    expect(rm.code, rm.stderr).toBe(0);
    expect(readdirSync(join(root, 'containers'))).toEqual([]);
    expect(readdirSync(join(root, 'names')).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 60_000);

  it('a newer version is refused with a clear message by ps, inspect, start and rm; rm -f removes it', async () => {
    const root = tempRoot();
    const future = layOutFuture(root, 'fut');
    const created = layOut(root, 'created', 'mig-created');
    const newer = /container [0-9a-f]{12} was written by a newer pocker \(config version 3\); this pocker reads up to 2/;

    // ps lists what it can read and says what it left out.
    const { rows: list, stderr } = await psRows(root);
    expect(list.map((c) => c.ID)).toEqual([created]);
    expect(stderr).toMatch(newer);

    for (const ref of ['fut', future, future.slice(0, 8)]) {
      const insp = await pk(root, 'inspect', ref);
      expect(insp.code).toBe(1);
      expect(insp.stderr).toMatch(newer);
    }
    const start = await pk(root, 'start', 'fut');
    expect(start.code).not.toBe(0);
    expect(start.stderr).toMatch(newer);
    const rm = await pk(root, 'rm', 'fut');
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(newer);
    expect(existsSync(join(root, 'containers', future))).toBe(true);
    // prune leaves it alone too (it cannot tell whether it runs).
    expect((await pk(root, 'container', 'prune', '-f')).code).toBe(0);
    expect(existsSync(join(root, 'containers', future))).toBe(true);

    const rmf = await pk(root, 'rm', '-f', 'fut');
    expect(rmf.code, rmf.stderr).toBe(0);
    expect(existsSync(join(root, 'containers', future))).toBe(false);
    expect(existsSync(join(root, 'names', 'fut'))).toBe(false);
    expect(readdirSync(join(root, 'containers'))).toEqual([]);
  }, 60_000);
});
