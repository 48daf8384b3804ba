// Reading json-file logs (lib/state/logs.ts over lib/container/logs.ts) on logs written by the test
// in a fake container directory: logs of any size (issue 9 defect 3: `Maximum call stack size
// exceeded` at ~125k entries, also with --tail 1), lines that are not entries (defect 10: one
// `null` aborted `logs`, `-t` printed `undefined undefined`), --tail reading backward across
// rotated files, and a follower across 100 rotations that loses no line (defect 4).
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { LOG_CHUNK, linesBackward, linesForward } from '../../lib/container/logs.js';
import { containerLogs, followLogs, streamLogs, type LogEntry } from '../../lib/index.js';
import { resolveRunOptions } from '../../lib/runtime/options.js';
import type { RunOptions } from '../../lib/types.js';

const root = mkdtempSync(join(tmpdir(), 'pocker-unit-logs-read-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fake container (records as lib/container/record.ts writes them, reduced); returns its log path. */
function container(name: string, status: 'running' | 'exited'): { log: string; setStatus: (s: 'running' | 'exited') => void } {
  const id = (++n).toString(16).padStart(64, 'a');
  const dir = join(root, 'containers', id);
  mkdirSync(dir, { recursive: true });
  const meta = { id, name, created: '', args: [], image: { host: true }, cgroups: [], process: { env: [], cwd: '/', user: '', caps: '0x0', noNewPrivs: false } };
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', pocker: { version: 2, container: meta } }));
  const setStatus = (s: 'running' | 'exited') => writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: s, pid: 1, monitorPid: 1 }));
  setStatus(status);
  return { log: join(dir, `${id}-json.log`), setStatus };
}

const T0 = Date.parse('2026-11-29T07:00:00Z');
/** The json-file line of entry i (its time i ms after T0). */
function line(i: number, text = `line ${i}\n`, stream: 'stdout' | 'stderr' = i % 7 === 0 ? 'stderr' : 'stdout'): string {
  return `${JSON.stringify({ log: text, stream, time: new Date(T0 + i).toISOString().replace('Z', '000001Z') })}\n`;
}
function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += line(i);
  return s;
}
const texts = (entries: LogEntry[]) => entries.map((e) => e.log);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `line ${from + k}\n`);

async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('logs of any size', () => {
  it('200,000 entries: all of them, --tail 1, --tail 3, streamed (was: Maximum call stack size exceeded)', async () => {
    const { log } = container('big', 'exited');
    writeFileSync(log, lines(0, 200_000));
    const all = await containerLogs('big', { root });
    expect(all).toHaveLength(200_000);
    expect(all[199_999]!.log).toBe('line 199999\n');
    expect(texts(await containerLogs('big', { root, tail: 1 }))).toEqual(['line 199999\n']);
    expect(texts(await containerLogs('big', { root, tail: 3 }))).toEqual(range(199_997, 200_000));
    let count = 0;
    let last = '';
    for await (const e of streamLogs('big', { root })) {
      count++;
      last = e.log;
    }
    expect([count, last]).toEqual([200_000, 'line 199999\n']);
    expect(texts(await collect(streamLogs('big', { root, tail: 2 })))).toEqual(range(199_998, 200_000));
  });

  it('--tail reads backward across rotated files, inside the since/until window', async () => {
    const { log } = container('rotated', 'exited');
    writeFileSync(`${log}.2`, lines(0, 100));
    writeFileSync(`${log}.1`, lines(100, 200));
    writeFileSync(log, lines(200, 230));
    expect(await containerLogs('rotated', { root })).toHaveLength(230);
    expect(texts(await containerLogs('rotated', { root, tail: 50 }))).toEqual(range(180, 230));
    expect(texts(await containerLogs('rotated', { root, tail: 150 }))).toEqual(range(80, 230));
    expect(texts(await containerLogs('rotated', { root, tail: 1000 }))).toEqual(range(0, 230));
    expect(await containerLogs('rotated', { root, tail: 0 })).toEqual([]);
    const at = (i: number) => new Date(T0 + i);
    // --tail counts what the window leaves.
    expect(texts(await containerLogs('rotated', { root, until: at(150), tail: 2 }))).toEqual(range(148, 150));
    expect(texts(await containerLogs('rotated', { root, since: at(95), until: at(104) }))).toEqual(range(95, 104));
  });

  it('lines across chunk boundaries read the same forward and backward (long lines, a torn last line)', async () => {
    const { log } = container('chunks', 'exited');
    let text = '';
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      const body = `${i}:${'x'.repeat((i * 7919) % (LOG_CHUNK + 5000))}\n`;
      expected.push(body);
      text += line(i, body);
    }
    writeFileSync(log, `${text}{"log":"torn`);
    expect(texts(await containerLogs('chunks', { root }))).toEqual(expected);
    expect(texts(await containerLogs('chunks', { root, tail: 25 }))).toEqual(expected.slice(-25));
    const fd = openSync(log, 'r');
    try {
      const end = Buffer.byteLength(text);
      const fwd: string[] = [];
      for await (const l of linesForward(fd, 0, end)) fwd.push(l.line!.toString());
      const back: string[] = [];
      for await (const l of linesBackward(fd, end)) back.unshift(l!.toString());
      expect(back).toEqual(fwd);
      expect(fwd).toHaveLength(60);
    } finally {
      closeSync(fd);
    }
  });
});

describe('lines that are not log entries', () => {
  const bad = ['null', '{}', '[]', '"str"', '{"log":5}', '{"log":"x","stream":"stdout"}', '{"log":"x","stream":"out","time":"2026-11-29T07:00:00Z"}', '{"log":"torn', '12'];

  it('are skipped and reported, never the end of reading; -t never prints undefined', async () => {
    const { log } = container('bad', 'exited');
    writeFileSync(log, line(0) + bad.map((b) => `${b}\n`).join('') + line(1) + '\n' + line(2));
    const seen: string[] = [];
    const entries = await containerLogs('bad', { root, timestamps: true, onBadLine: (f) => seen.push(f) });
    expect(entries.map((e) => e.log.split(' ').slice(1).join(' '))).toEqual(range(0, 3));
    expect(entries.every((e) => !e.log.includes('undefined'))).toBe(true);
    expect(seen).toEqual(bad.map(() => log));
    let tailBad = 0;
    expect(texts(await containerLogs('bad', { root, tail: 2, onBadLine: () => tailBad++ }))).toEqual(range(1, 3));
    expect(tailBad).toBe(0); // the two newest entries come before any bad line backward
    expect(texts(await containerLogs('bad', { root, tail: 3, onBadLine: () => tailBad++ }))).toEqual(range(0, 3));
    expect(tailBad).toBe(bad.length);
    expect(texts(await collect(streamLogs('bad', { root })))).toEqual(range(0, 3));
  });

  it('an overlong line (no newline for megabytes) is skipped without being held', async () => {
    const { log } = container('overlong', 'exited');
    writeFileSync(log, line(0) + 'y'.repeat(3 * 1024 * 1024) + '\n' + line(1));
    let count = 0;
    expect(texts(await containerLogs('overlong', { root, onBadLine: () => count++ }))).toEqual(range(0, 2));
    expect(texts(await containerLogs('overlong', { root, tail: 5, onBadLine: () => count++ }))).toEqual(range(0, 2));
    expect(count).toBe(2);
  });
});

describe('followLogs across rotations', () => {
  async function until(what: string, check: () => boolean): Promise<void> {
    for (let i = 0; !check(); i++) {
      if (i > 2000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('100 rotations with the follower mid-file at each: every line, in order, once', async () => {
    const { log, setStatus } = container('rotating', 'running');
    const maxFiles = 3;
    /** The monitor's rotation (cpp/init/logs.cpp): <log>.(n-1) dropped, .i -> .(i+1), <log> -> .1, a fresh <log>. */
    const rotate = () => {
      for (let i = maxFiles - 1; i >= 1; i--) {
        try {
          renameSync(i === 1 ? log : `${log}.${i - 1}`, `${log}.${i}`);
        } catch {
          /* not there yet */
        }
      }
      writeFileSync(log, '');
    };
    writeFileSync(log, lines(0, 5));
    const got: string[] = [];
    const done = (async () => {
      for await (const e of followLogs('rotating', { root })) got.push(e.log);
    })();
    let next = 5;
    for (let r = 0; r < 100; r++) {
      // The follower has read this file up to here...
      appendFileSync(log, lines(next, next + 3));
      next += 3;
      const seen = next;
      await until(`line ${seen - 1}`, () => got.length >= seen);
      // ...then more is written to it, a torn line completes, and it is rotated before the
      // follower reads again: it must finish the old file, then go on with the new one.
      const torn = line(next + 2);
      appendFileSync(log, lines(next, next + 2) + torn.slice(0, 20));
      appendFileSync(log, torn.slice(20));
      next += 3;
      rotate();
      appendFileSync(log, lines(next, next + 2));
      next += 2;
    }
    setStatus('exited');
    await done;
    expect(got).toEqual(range(0, next));
  });

  it('a follower that falls behind by less than max-file files still reads every line', async () => {
    const { log, setStatus } = container('behind', 'running');
    writeFileSync(log, lines(0, 10));
    const it = followLogs('behind', { root })[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ log: 'line 0\n' });
    // Two rotations while the follower waits (max-file 3: it still holds the oldest).
    appendFileSync(log, lines(10, 20));
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(20, 30));
    renameSync(`${log}.1`, `${log}.2`);
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(30, 40));
    setStatus('exited');
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
    expect(rest).toEqual(range(1, 40));
  });
});

describe('the default log cap', () => {
  const logOf = (logOpts?: RunOptions['logOpts']) => resolveRunOptions({ image: 'host', detach: true, ...(logOpts ? { logOpts } : {}) }, {}).log;

  it('10m x 5 without --log-opt; max-size=-1 is unbounded; max-size alone keeps one file (as Docker)', () => {
    expect(logOf()).toEqual({ maxSize: 10 * 1024 * 1024, maxFiles: 5 });
    expect(logOf({})).toEqual({ maxSize: 10 * 1024 * 1024, maxFiles: 5 });
    expect(logOf({ maxSize: '-1' })).toEqual({ maxSize: 0, maxFiles: 1 });
    expect(logOf({ maxSize: -1 })).toEqual({ maxSize: 0, maxFiles: 1 });
    expect(logOf({ maxSize: '20m' })).toEqual({ maxSize: 20 * 1024 * 1024, maxFiles: 1 });
    expect(logOf({ maxSize: '1k', maxFile: 3 })).toEqual({ maxSize: 1024, maxFiles: 3 });
    expect(() => logOf({ maxFile: 3 })).toThrow(/max-file needs max-size/);
    expect(() => logOf({ maxSize: '-1', maxFile: 3 })).toThrow(/max-file needs max-size/);
  });
});
