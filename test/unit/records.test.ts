// The container records' format (lib/container/record.ts): version 1 (the previous pocker's, no
// version; fixtures from a real run in test/fixtures/records-v1) is migrated, version 2 round-trips,
// a newer version is refused with a clear message; and the shared file lock (lib/fsutil.ts) gives up
// with ERR_POCKER_LOCK_TIMEOUT instead of blocking.
import { fstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  RECORD_VERSION,
  configDocument,
  parseConfigRecord,
  parseStateRecord,
  stateDocument,
  type ContainerMeta,
} from '../../lib/container/record.js';
import { withFileLock, withFileLockSync, withFileLockThenSync, writeFileAtomic, writeFileAtomicSync, type FlockFn } from '../../lib/fsutil.js';
import { thrown } from './thrown.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'records-v1');
const ID = 'a'.repeat(64);
const fixture = (kind: string, file: string): unknown =>
  JSON.parse(
    readFileSync(join(FIXTURES, kind, file), 'utf8').replaceAll('@ROOT@', '/r').replaceAll('@ID@', ID).replaceAll('@SHORT@', ID.slice(0, 12)).replaceAll('@PARENT@', 'pocker'),
  );

describe('container records', () => {
  it('migrates a version 1 config.json (the old ContainerRecord) into the store part', () => {
    const raw = fixture('created', 'config.json') as Record<string, unknown>;
    const r = parseConfigRecord(raw, ID);
    expect(r.version).toBe(1);
    expect(r.spec).toEqual({ ociVersion: '1.2.0' });
    expect(r.meta).toMatchObject({ id: ID, name: 'mig-created', image: { host: true }, cgroupParent: 'pocker' });
    expect(r.meta.run?.config.userEnv).toEqual(['FOO=bar']);
    expect(r.meta.run?.layout.scratchUpper).toBe(true);
    // A foreground record keeps its owner; it has no run options.
    const fg = parseConfigRecord(fixture('foreground', 'config.json'), ID);
    expect(fg.meta.owner?.pid).toBeGreaterThan(0);
    expect(fg.meta.run).toBeUndefined();
  });

  it('writes version 2: the OCI document with the pocker section (the runtime fields of the spec kept), read back unchanged', () => {
    const meta = parseConfigRecord(fixture('exited', 'config.json'), ID).meta;
    const spec = { ociVersion: '1.2.0', process: { args: ['sh'] }, pocker: { init: true } } as unknown as Parameters<typeof configDocument>[0];
    const doc = JSON.parse(JSON.stringify(configDocument(spec, meta, { monitor: { detach: true } }))) as { pocker: { version: number; monitor: unknown; container: ContainerMeta; init?: unknown } };
    expect(doc.pocker.version).toBe(RECORD_VERSION);
    expect(doc.pocker.init).toBe(true);
    const back = parseConfigRecord(doc, ID);
    expect(back).toEqual({ version: 2, spec: { ociVersion: '1.2.0', process: { args: ['sh'] } }, runtime: { init: true, monitor: { detach: true } }, meta });
  });

  it('refuses a newer version (config and state), and what is not a record', () => {
    const newer = thrown(() => parseConfigRecord({ ociVersion: '1.3.0', pocker: { version: 3, container: {} } }, ID));
    expect(newer).toMatchObject({ code: 'ERR_POCKER_UNSUPPORTED' });
    expect(newer.message).toBe(`container ${ID.slice(0, 12)} was written by a newer pocker (config version 3); this pocker reads up to 2`);
    expect(thrown(() => parseStateRecord({ version: 7, status: 'running' }, ID)).message).toMatch(/newer pocker \(state version 7\)/);
    expect(thrown(() => parseConfigRecord({ ociVersion: '1.2.0', pocker: { version: 'two', container: {} } }, ID)).message).toMatch(/invalid version "two"/);
    expect(thrown(() => parseConfigRecord([1, 2], ID))).toMatchObject({ code: 'ERR_POCKER_STORE_CORRUPT' });
    expect(thrown(() => parseConfigRecord({ id: ID }, ID))).toMatchObject({ code: 'ERR_POCKER_STORE_CORRUPT' });
  });

  it('reads state.json of both versions; restarting is running with restarting: true', () => {
    expect(parseStateRecord(fixture('exited', 'state.json'), ID)).toMatchObject({ status: 'exited', exitCode: 3 });
    const created = parseStateRecord(fixture('created', 'state.json'), ID);
    expect(parseStateRecord(JSON.parse(JSON.stringify(stateDocument(created))), ID)).toEqual(created);
    expect(Object.keys(stateDocument(created))[0]).toBe('version');
    expect(parseStateRecord({ version: 2, status: 'restarting', pid: 0, monitorPid: 5 }, ID)).toMatchObject({ status: 'running', restarting: true });
    expect(thrown(() => parseStateRecord({ status: 'paused' }, ID))).toMatchObject({ code: 'ERR_POCKER_STORE_CORRUPT' });
  });
});

describe('lib/fsutil', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocker-unit-fsutil-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically (sync and async), leaving no temp file', async () => {
    writeFileAtomicSync(join(dir, 'a.json'), '{"a":1}\n');
    await writeFileAtomic(join(dir, 'a.json'), '{"a":2}\n', { mode: 0o644 });
    expect(readFileSync(join(dir, 'a.json'), 'utf8')).toBe('{"a":2}\n');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('a lock held elsewhere times out with ERR_POCKER_LOCK_TIMEOUT, without blocking the event loop', async () => {
    let attempts = 0;
    const busy: FlockFn = (_fd, _exclusive, wait) => {
      expect(wait).toBe(false);
      attempts++;
      return false;
    };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const err = await withFileLock(join(dir, 'lock'), () => 'never', { flock: busy, timeoutMs: 100, what: 'the test lock' }).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toMatchObject({ code: 'ERR_POCKER_LOCK_TIMEOUT', message: expect.stringMatching(/waiting for the test lock/) });
    expect(attempts).toBeGreaterThan(1);
    expect(ticks).toBeGreaterThan(0);
    // Free: fn runs, and its value comes back.
    expect(await withFileLock(join(dir, 'lock'), () => 'ran', { flock: () => true })).toBe('ran');
  });

  it('withFileLockThenSync: a synchronous critical section, exclusive with withFileLock in the process, re-entrant without AsyncLocalStorage', async () => {
    const path = join(dir, 'sync-lock');
    // One holder at a time, as flock on separate open files: a holder's descriptor closed since frees it.
    let owner: number | undefined;
    const flock: FlockFn = (fd) => {
      if (owner !== undefined && owner !== fd) {
        try {
          fstatSync(owner);
          return false;
        } catch {
          /* closed: free */
        }
      }
      owner = fd;
      return true;
    };
    const busy: FlockFn = () => false;

    // It waits for an async holder in this process (the in-process queue), never runs inside its section.
    const order: string[] = [];
    let started!: () => void;
    const inA = new Promise<void>((resolve) => (started = resolve));
    let finishA!: () => void;
    const gate = new Promise<void>((resolve) => (finishA = resolve));
    const a = withFileLock(path, async () => {
      order.push('a start');
      started();
      await gate;
      order.push('a end');
    }, { flock });
    await inA;
    const b = withFileLockThenSync(path, () => {
      order.push('b');
      return 'b done';
    }, { flock });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['a start']);
    finishA();
    expect(await b).toBe('b done');
    await a;
    expect(order).toEqual(['a start', 'a end', 'b']);

    // Nested calls of the same file inside its section run at once (a second descriptor's flock would
    // wait for the first until the timeout): withFileLockSync, withFileLock, and itself.
    const nested = await withFileLockThenSync(path, () => {
      const inner: string[] = [withFileLockSync(path, () => 'sync', { flock: busy, timeoutMs: 50 })];
      void withFileLock(path, () => inner.push('async, at once'), { flock: busy, timeoutMs: 50 });
      void withFileLockThenSync(path, () => inner.push('then-sync, at once'), { flock: busy, timeoutMs: 50 });
      return inner;
    }, { flock });
    expect(nested).toEqual(['sync', 'async, at once', 'then-sync, at once']);
    // withFileLockSync inside an async holder's section (its AsyncLocalStorage context) too.
    expect(await withFileLock(path, async () => {
      await Promise.resolve();
      return withFileLockSync(path, () => 'sync in async', { flock: busy, timeoutMs: 50 });
    }, { flock })).toBe('sync in async');

    // A throw is passed on, and the section is over: a later call is not taken for a nested one.
    await expect(withFileLockThenSync(path, () => {
      throw new Error('boom');
    }, { flock })).rejects.toThrow('boom');
    await expect(withFileLockThenSync(path, () => 'never', { flock: busy, timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_POCKER_LOCK_TIMEOUT' });
    expect(() => withFileLockSync(path, () => 'never', { flock: busy, timeoutMs: 50 })).toThrow(expect.objectContaining({ code: 'ERR_POCKER_LOCK_TIMEOUT' }) as Error);
  });
});
