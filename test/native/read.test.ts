// The addon's whole-file readers (cpp/addon/fs.cpp), with which bin/pocker.cjs reads the CLI's bundle
// and its V8 code cache: the same bytes fs reads, errors in the SystemError shape, and memory of
// their own (a file replaced or truncated afterwards changes nothing in what was read).
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';

import { native } from '../../lib/native.js';
import { repoRoot } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pocker-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readFileLatin1 and readFileBytes', () => {
  it('read what fs reads: every byte value, a large file, an empty one', () => {
    const all = Buffer.from(Array.from({ length: 256 * 40 }, (_, i) => i % 256));
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'pocker ');
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    for (const [name, data] of [['all', all], ['big', big]] as const) {
      const file = join(dir, name);
      writeFileSync(file, data);
      expect(native().readFileLatin1(file)).toBe(readFileSync(file, 'latin1'));
      expect(native().readFileBytes(file).equals(data)).toBe(true);
    }
    expect(native().readFileLatin1(empty)).toBe('');
    expect(native().readFileBytes(empty).length).toBe(0);
    // They read as many bytes as fstat gives: a procfs file, size 0, reads as empty (they are for
    // the package's own files).
    expect(native().readFileLatin1('/proc/self/stat')).toBe('');
  });

  it('keep what they read when the file is truncated or rewritten afterwards', () => {
    const file = join(dir, 'changing');
    writeFileSync(file, 'a'.repeat(100_000));
    const text = native().readFileLatin1(file);
    const bytes = native().readFileBytes(file);
    truncateSync(file, 0);
    writeFileSync(file, 'b'.repeat(10));
    expect(text.length).toBe(100_000);
    expect(text.slice(-3)).toBe('aaa');
    expect(bytes.length).toBe(100_000);
    expect(bytes.every((b) => b === 0x61)).toBe(true);
  });

  it('fail with the SystemError shape and step cli', () => {
    for (const read of [native().readFileLatin1, native().readFileBytes]) {
      expect(() => read(join(dir, 'nosuch'))).toThrow(expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'open', path: join(dir, 'nosuch'), step: 'cli' }));
      expect(() => read(dir)).toThrow(expect.objectContaining({ code: 'EISDIR', syscall: 'read', path: dir, step: 'cli' }));
      expect(() => (read as (p: unknown) => unknown)(42)).toThrow(TypeError);
    }
  });

  it('give vm.Script a source and code cache it accepts (the CLI bundle)', () => {
    const bundle = join(repoRoot, 'dist', 'cli', 'ps.cjs');
    const script = new Script(native().readFileLatin1(bundle), { filename: bundle, cachedData: native().readFileBytes(`${bundle}.v8cache`) });
    expect(script.cachedDataRejected).toBe(false);
  });
});
