// One error model (issue 8): every error the library throws is a PockerError whose code is one of
// lib/errors.ts's list and whose step is one of its SETUP_STEPS; no plain Error is thrown in lib/.
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import {
  POCKER_ERROR_CODES,
  PockerError,
  SETUP_STEPS,
  asPockerError,
  MIN_KERNEL,
  fromSystemError,
  isPockerErrorCode,
  kernelHint,
} from '../../lib/errors.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** `throw new Error(`, `reject(new TypeError(`, `cb(new Error(`, `done(new Error(`, `class X extends Error`: a plain error made in lib/. */
const PLAIN_ERROR = /\bnew (?:Error|TypeError|RangeError|SyntaxError)\s*\(|\bclass\s+\w+\s+extends\s+(?:Error|TypeError)\b|\bError\.captureStackTrace\b/;

describe('one error model', () => {
  it('codes: one list, no duplicates, no overlapping spellings; errno names and ABORT_ERR allowed', () => {
    expect(new Set(POCKER_ERROR_CODES).size).toBe(POCKER_ERROR_CODES.length);
    for (const c of POCKER_ERROR_CODES) expect(c).toMatch(/^ERR_POCKER(_[A-Z0-9]+)*$/);
    // Two codes where one is the other with a qualifier (ERR_POCKER_X vs ERR_POCKER_Y_X) say the same thing.
    const words = (c: string) => c.replace(/^ERR_POCKER_?/, '').split('_').filter(Boolean);
    for (const a of POCKER_ERROR_CODES) {
      for (const b of POCKER_ERROR_CODES) {
        if (a === b || words(a).length === 0 || a === 'ERR_POCKER_NOT_RUNNING' || b === 'ERR_POCKER_NOT_RUNNING') continue;
        const wb = words(b);
        expect(wb.length > words(a).length && words(a).every((w) => wb.includes(w)), `${b} overlaps ${a}`).toBe(false);
      }
    }
    expect(isPockerErrorCode('ENOENT')).toBe(true);
    expect(isPockerErrorCode('ABORT_ERR')).toBe(true);
    expect(isPockerErrorCode('ERR_POCKER_INVALID')).toBe(true);
    expect(isPockerErrorCode('ERR_INVALID_ARG_TYPE')).toBe(false);
    expect(isPockerErrorCode('ERR_POCKER_CGROUP_UNSUPPORTED')).toBe(false);
    expect(new Set(SETUP_STEPS).size).toBe(SETUP_STEPS.length);
  });

  it('an ENOSYS names the system call, this kernel and the kernel pocker needs (an older distribution\'s kernel)', () => {
    const sys = Object.assign(new Error('ENOSYS'), { code: 'ENOSYS', errno: -38, syscall: 'pidfd_open' });
    const err = fromSystemError(sys, 'spawn', 'cannot start pocker-init');
    expect(err).toMatchObject({ code: 'ENOSYS', errno: -38, syscall: 'pidfd_open', step: 'spawn' });
    expect(err.message).toBe(`cannot start pocker-init: ENOSYS (pidfd_open); this kernel (Linux ${release()}) lacks pidfd_open: pocker needs Linux ${MIN_KERNEL} or newer`);
    expect(kernelHint('ENOENT', 'open')).toBe('');
  });

  it("Node's own codes and plain errors become ERR_POCKER, system errors keep their errno name", () => {
    const node = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    const wrapped = fromSystemError(node, 'pull', 'cannot read the layer');
    expect(wrapped).toBeInstanceOf(PockerError);
    expect(wrapped).toMatchObject({ code: 'ERR_POCKER', step: 'pull', message: 'cannot read the layer: Premature close', cause: node });
    const sys = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: -2, syscall: 'open', path: '/x' });
    expect(fromSystemError(sys, 'store', 'cannot open')).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/x', message: 'cannot open: ENOENT (open /x)' });
    let parseError: unknown;
    try {
      JSON.parse('{');
    } catch (err) {
      parseError = err;
    }
    expect(asPockerError(parseError, 'load', 'manifest.json')).toMatchObject({ code: 'ERR_POCKER', step: 'load' });
    const abort = Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
    expect(asPockerError(abort, 'pull', 'pull')).toMatchObject({ code: 'ABORT_ERR' });
    const own = new PockerError('x', { code: 'ERR_POCKER_INVALID', step: 'validate' });
    expect(asPockerError(own, 'pull', 'pull')).toBe(own);
  });

  it('every step the C++ side reports (fail("step", ...), throwSystemError(..., "step")) is in SETUP_STEPS', () => {
    const found = new Set<string>();
    for (const f of tsFiles(join(repo, 'cpp')).concat(readdirSync(join(repo, 'cpp'), { recursive: true, encoding: 'utf8' }).filter((p) => /\.(cpp|h)$/.test(p)).map((p) => join(repo, 'cpp', p)))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?<![.\w])fail\(\s*"([a-z_-]+)"/g)) found.add(m[1]!);
      for (const m of text.matchAll(/\bthrowSystemError\([^;]*?,\s*"([a-z_-]+)"\s*\)/g)) found.add(m[1]!);
      for (const m of text.matchAll(/\bkStep\s*=\s*"([a-z_-]+)"/g)) found.add(m[1]!);
    }
    expect(found.size).toBeGreaterThan(10);
    const known = new Set<string>(SETUP_STEPS);
    expect([...found].filter((s) => !known.has(s)).sort()).toEqual([]);
  });

  it('no plain Error is made in lib/ (throw new Error, reject(new Error), class X extends Error)', () => {
    const hits: string[] = [];
    for (const f of tsFiles(join(repo, 'lib'))) {
      const rel = relative(repo, f);
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (PLAIN_ERROR.test(line) && !/^\s*(\/\/|\*)/.test(line) && !(rel === 'lib/errors.ts' && /class PockerError extends Error\b/.test(line))) hits.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(hits, `plain errors in lib/ (make them PockerErrors with a code from lib/errors.ts):\n${hits.join('\n')}`).toEqual([]);
  });
});
