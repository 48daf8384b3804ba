// The container store without containers (no root): lookup order (issue 10 finding 8), damaged
// records (issue 9 defect 2), stale name claims (defect 12), the CLI's `-e ""` (defect 14). Records
// are laid out by hand in a temp root; no process, cgroup or mount is made.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { containerStatusText } from '../../lib/cli/format.js';
import { CliError } from '../../lib/cli/failure.js';
import { resolveEnvFlags } from '../../lib/cli/run.js';
import {
  claimName,
  describeContainer,
  findContainer,
  findOrphans,
  listContainerRecords,
  releaseStaleNames,
  stateDocument,
  CREATED_STATE,
} from '../../lib/container/index.js';
import { flockAvailable } from '../../lib/image/lock.js';
import { thrown } from './thrown.js';

const hasFlock = flockAvailable();

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'pocker-container-store-unit-'));
  roots.push(root);
  return root;
}

/** A container record (version 1 shape: the store part itself) named `name`, with its name claim; its id. */
function layOut(root: string, name: string, id = randomBytes(32).toString('hex'), state: string | null = JSON.stringify(stateDocument({ ...CREATED_STATE }))): string {
  const dir = join(root, 'containers', id);
  mkdirSync(dir, { recursive: true });
  if (state !== null) writeFileSync(join(dir, 'state.json'), state);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ id, name, created: new Date().toISOString(), args: ['true'], image: { host: true }, cgroups: [] }));
  mkdirSync(join(root, 'names', name), { recursive: true });
  writeFileSync(join(root, 'names', name, 'owner'), `${id}\n`);
  return id;
}

describe('lookup order (issue 10 finding 8)', () => {
  it('exact id, then exact name, then a unique id prefix', () => {
    const root = newRoot();
    const a = layOut(root, 'first', `abc${randomBytes(31).toString('hex').slice(0, 61)}`);
    const b = layOut(root, 'abc');
    expect(findContainer(root, 'abc').id).toBe(b);
    expect(findContainer(root, a).id).toBe(a);
    expect(findContainer(root, a.slice(0, 5)).id).toBe(a);
    // A name that is the full id of another container: the id wins (Docker's order).
    const c = layOut(root, b);
    expect(findContainer(root, b).id).toBe(b);
    expect(findContainer(root, 'first').id).toBe(a);
    expect(c).not.toBe(b);
    expect(thrown(() => findContainer(root, 'nope'))).toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', message: 'No such container: nope' });
  });
});

describe('damaged records (issue 9 defect 2)', () => {
  for (const [what, text] of [
    ['empty', ''],
    ['blank', ' \n'],
    ['truncated', '{"version":2,"status":"runn'],
    ['garbled', 'x\u0000y'],
    ['null', 'null'],
    ['an array', '[]'],
    ['an object without status', '{}'],
    ['a version no pocker writes', '{"version":"two","status":"running"}'],
  ] as const) {
    it(`a state.json that is ${what}: described as damaged (exited, nothing known of its run), listed, found by name`, () => {
      const root = newRoot();
      const id = layOut(root, 'broken', undefined, text);
      const c = describeContainer(findContainer(root, 'broken'));
      expect(c).toMatchObject({ id, name: 'broken', status: 'exited', state: null, foreground: false });
      expect(c.damaged).toMatch(/state\.json (is not a container record|has an invalid version)/);
      expect(listContainerRecords(root).map((l) => l.id)).toEqual([id]);
      expect(containerStatusText(c)).toBe('Dead');
    });
  }

  it('a garbled config.json: found through its name claim, named by it, described as damaged', () => {
    const root = newRoot();
    const id = layOut(root, 'cfg');
    writeFileSync(join(root, 'containers', id, 'config.json'), '{"id":');
    const entry = findContainer(root, 'cfg');
    expect(entry).toMatchObject({ id, name: 'cfg' });
    const c = describeContainer(entry);
    expect(c.damaged).toMatch(/config\.json is not a container record \(not JSON/);
    expect(c.config).toBeNull();
  });

  it("a newer pocker's record is not damaged: still refused (rm -f only), never listed as dead", () => {
    const root = newRoot();
    const id = layOut(root, 'future', undefined, JSON.stringify({ version: 3, status: 'running' }));
    expect(thrown(() => describeContainer(findContainer(root, 'future')))).toMatchObject({ code: 'ERR_POCKER_UNSUPPORTED' });
    const unreadable: string[] = [];
    expect(listContainerRecords(root, { onUnreadable: (i) => unreadable.push(i) })).toEqual([]);
    expect(unreadable).toEqual([id]);
  });

  it('a directory whose config.json is gone (a killed rm -f) is still found by its name', () => {
    const root = newRoot();
    const id = layOut(root, 'half');
    rmSync(join(root, 'containers', id, 'config.json'));
    expect(findContainer(root, 'half')).toMatchObject({ id, name: 'half' });
  });
});

describe.skipIf(!hasFlock)('name claims (issue 9 defect 12)', () => {
  it('releaseStaleNames releases claims of removed containers, empty owners and claims without owner; keeps live ones', async () => {
    const root = newRoot();
    layOut(root, 'live');
    const gone = layOut(root, 'gone');
    rmSync(join(root, 'containers', gone), { recursive: true });
    mkdirSync(join(root, 'names', 'zero'));
    writeFileSync(join(root, 'names', 'zero', 'owner'), '');
    mkdirSync(join(root, 'names', 'noowner'));
    expect((await releaseStaleNames(root)).sort()).toEqual(['gone', 'noowner', 'zero']);
    expect(readdirSync(join(root, 'names')).filter((n) => !n.startsWith('.'))).toEqual(['live']);
  });

  it('claiming a name sweeps the stale claims (a run -d --rm container leaves its claim behind)', async () => {
    const root = newRoot();
    const gone = layOut(root, 'was-rm');
    rmSync(join(root, 'containers', gone), { recursive: true });
    const id = randomBytes(32).toString('hex');
    await claimName(root, 'next', id, () => mkdirSync(join(root, 'containers', id), { recursive: true }));
    expect(existsSync(join(root, 'names', 'was-rm'))).toBe(false);
    expect(existsSync(join(root, 'names', 'next', 'owner'))).toBe(true);
  });

  it('findOrphans reports an id a stale claim names (its cgroups, if any, are looked for), not the live containers', () => {
    const root = newRoot();
    layOut(root, 'live');
    const gone = layOut(root, 'gone');
    rmSync(join(root, 'containers', gone), { recursive: true });
    expect(findOrphans(root, new Map())).toEqual([{ id: gone, monitors: [], cgroups: [], names: ['gone'] }]);
  });
});

describe('CLI -e (issue 9 defect 14)', () => {
  it('an entry without a name is refused as Docker refuses it (exit 125); KEY alone still reads the environment', () => {
    for (const bad of ['', '=x']) {
      const err = thrown(() => resolveEnvFlags([bad], {}));
      expect(err).toBeInstanceOf(CliError);
      expect(err).toMatchObject({ exitCode: 125, message: `invalid argument ${JSON.stringify(bad)} for "-e, --env" flag: invalid environment variable: ${bad}` });
    }
    expect(resolveEnvFlags(['A', 'B=1', 'C'], { A: 'a' })).toEqual(['A=a', 'B=1']);
  });
});
