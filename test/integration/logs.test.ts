// `pocker logs` on real detached containers (issue 9): a log of 130,000 entries (defect 3: it failed
// with "Maximum call stack size exceeded", also with --tail 1), `logs | head -1` (EPIPE ends it
// quietly with 0), lines that are not entries (defect 10: skipped and counted, `-t` never prints
// `undefined`), `logs -f` across 100 rotations (defect 4: lines were lost at each rotation), a full
// disk tearing a record (defect 9: the torn record swallowed the next one), and the default log cap.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, isRoot, pockerBin, repoRoot, tempDir, tempRoot, until } from '../helpers.js';

/** `pocker --root ROOT ARGS…` as a child process whose output the test reads as it comes. */
function spawnCli(root: string, ...args: string[]) {
  const child = spawn(process.execPath, [pockerBin, '--root', root, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, out, exited };
}

describe.skipIf(!isRoot)('logs: size, bad lines, rotation, full disk, default cap', () => {
  let root: string;
  const pk = (...args: string[]) => cli(['--root', root, ...args]);
  const runD = async (...args: string[]) => {
    const r = await pk('run', '-d', ...args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  const logPath = async (name: string) => (JSON.parse((await pk('inspect', name)).stdout) as Array<{ LogPath: string }>)[0]!.LogPath;

  beforeAll(() => {
    root = tempRoot();
  });

  afterAll(async () => {
    if (root) {
      const all = (await pk('ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
      if (all.length) await pk('rm', '-f', ...all);
    }
    await cleanupAll();
  });

  it('130,000 entries: all, --tail 1; `logs | head -1` ends quietly with 0 (EPIPE)', async () => {
    await runD('--name', 'many', 'host', 'seq', '1', '130000');
    expect((await pk('wait', 'many')).stdout).toBe('0\n');
    const all = await pk('logs', 'many');
    expect([all.code, all.stderr]).toEqual([0, '']);
    const lines = all.stdout.split('\n');
    expect(lines).toHaveLength(130_001);
    expect([lines[0], lines[129_999]]).toEqual(['1', '130000']);
    expect(await pk('logs', '--tail', '1', 'many')).toMatchObject({ code: 0, stdout: '130000\n', stderr: '' });
    expect(await pk('logs', '-n', '2', '-t', 'many')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\S+Z 129999\n\S+Z 130000\n$/) });

    // The reader goes away after the first chunk (`| head -1`): exit 0, nothing on stderr.
    const head = spawnCli(root, 'logs', 'many');
    await once(head.child.stdout, 'data');
    head.child.stdout.destroy();
    const [code, signal] = await head.exited;
    expect({ code, signal, stderr: head.out.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  });

  it('lines that are not entries are skipped and counted on stderr; -t prints only real times', async () => {
    await runD('--name', 'bad', 'host', 'sh', '-c', 'echo one; echo two >&2');
    expect((await pk('wait', 'bad')).stdout).toBe('0\n');
    const log = await logPath('bad');
    const good = `${JSON.stringify({ log: 'three\n', stream: 'stdout', time: new Date().toISOString() })}\n`;
    appendFileSync(log, ['null', '{}', '[]', '"str"', '{"log":5}'].map((l) => `${l}\n`).join('') + good);
    const r = await pk('logs', '-t', 'bad');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\S+Z one\n\S+Z three\n$/);
    expect(r.stdout).not.toContain('undefined');
    expect(r.stderr).toMatch(/^\S+Z two\npocker: skipped 5 lines of the log that are not log entries\n$/);
    expect(await pk('logs', '--tail', '1', 'bad')).toMatchObject({ code: 0, stdout: 'three\n', stderr: '' });
  });

  it('logs -f across more than 100 rotations loses no line (max-size=2k max-file=10)', async () => {
    const sig = tempDir('logs-sig');
    const n = 3500;
    await runD('--name', 'rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=10', '-v', `${sig}:/sig`, 'host', 'sh', '-c',
      `echo ready; while [ ! -e /sig/go ]; do sleep 0.05; done; i=0; while [ $i -lt ${n} ]; do echo $i; i=$((i+1)); if [ $((i % 15)) = 0 ]; then sleep 0.02; fi; done`);
    const follower = spawnCli(root, 'logs', '-f', 'rot');
    await until('the follower to print ready', () => follower.out.stdout.startsWith('ready\n'));
    writeFileSync(join(sig, 'go'), '');
    const [code] = await follower.exited;
    expect([code, follower.out.stderr]).toEqual([0, '']);
    // Exactly every line, in order, once.
    const expected = ['ready', ...Array.from({ length: n }, (_, i) => String(i))];
    expect(follower.out.stdout.split('\n').slice(0, -1)).toEqual(expected);
    // That many entries made more than 100 files of 2 KiB (an entry is 71 bytes + its number).
    const bytes = expected.reduce((sum, l) => sum + 71 + l.length, 0);
    expect(bytes / 2048).toBeGreaterThan(100);
    expect((await pk('logs', 'rot')).stdout.endsWith(`${n - 1}\n`)).toBe(true);
  });

  it('a full disk never tears a record into the next one (tmpfs --root)', async () => {
    const small = tempDir('logs-tmpfs');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'pocker-test-logs', small]);
    const pks = (...args: string[]) => cli(['--root', small, ...args]);
    try {
      const sig = tempDir('logs-sig9');
      const line = 'x'.repeat(120);
      const r = await pks('run', '-d', '--name', 'full', '-v', `${sig}:/sig`, 'host', 'sh', '-c',
        `echo start; while [ ! -e /sig/fill ]; do sleep 0.05; done; i=0; while [ $i -lt 200 ]; do echo "line $i ${line}"; i=$((i+1)); done; ` +
        'touch /sig/wrote; while [ ! -e /sig/more ]; do sleep 0.05; done; echo after');
      expect(r.code, r.stderr).toBe(0);
      const log = (JSON.parse((await pks('inspect', 'full')).stdout) as Array<{ LogPath: string }>)[0]!.LogPath;
      await until('start in the log', () => existsSync(log) && readFileSync(log, 'utf8').includes('start'));
      // Fill the disk: the log's writes fail part-way (a short write at a page boundary, then ENOSPC).
      const filler = join(small, 'filler');
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (let size = chunk.length; size >= 1; size >>= 2) {
          for (;;) {
            try {
              writeSync(fd, chunk, 0, size);
            } catch {
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      writeFileSync(join(sig, 'fill'), '');
      await until('the 200 lines to be written (or lost)', () => existsSync(join(sig, 'wrote')));
      rmSync(filler);
      writeFileSync(join(sig, 'more'), '');
      expect((await pks('wait', 'full')).stdout).toBe('0\n');
      // Every line of the file is a whole record; the first record after space returned is its own.
      for (const l of readFileSync(log, 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l), l).not.toThrow();
      const out = await pks('logs', 'full');
      expect([out.code, out.stderr]).toEqual([0, '']);
      const printed = out.stdout.split('\n').slice(0, -1);
      expect(printed[0]).toBe('start');
      expect(printed.at(-1)).toBe('after');
      // Some lines fitted before the disk was full; those that did not are lost whole.
      const middle = printed.slice(1, -1);
      expect(middle.length).toBeLessThan(200);
      middle.forEach((l, i) => expect(l).toBe(`line ${i} ${line}`));
    } finally {
      await pks('rm', '-f', 'full');
      execFileSync('umount', [small]);
    }
  });

  it('without --log-opt the log is capped at 10m x 5; max-size=-1 is unbounded', async () => {
    await runD('--name', 'capped', 'host', 'true');
    await runD('--name', 'unbounded', '--log-opt', 'max-size=-1', 'host', 'true');
    const cfg = async (name: string) => (JSON.parse((await pk('inspect', name)).stdout) as Array<{ HostConfig: { LogConfig: unknown } }>)[0]!.HostConfig.LogConfig;
    expect(await cfg('capped')).toEqual({ Type: 'json-file', Config: { 'max-size': String(10 * 1024 * 1024), 'max-file': '5' } });
    expect(await cfg('unbounded')).toEqual({ Type: 'json-file', Config: {} });
  });
});
