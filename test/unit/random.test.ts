// lib/random.ts: the addon's getrandom and SHA-256 (cpp/addon/random.cpp), the same as node:crypto's.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { randomBelow, randomBytes, randomHex, sha256Hex } from '../../lib/random.js';

describe('random bytes and SHA-256 without node:crypto', () => {
  it("the addon's SHA-256 is node:crypto's, for empty, ASCII, non-ASCII, lone-surrogate and large text", () => {
    const addon = native() as unknown as { sha256Hex(text: string): string | undefined };
    for (const text of ['', 'abc', 'héllo ✓ 𝄞', 'a\uD800b', 'x'.repeat(1 << 20)]) {
      const want = createHash('sha256').update(text).digest('hex');
      // Node's own binary carries OpenSSL: here the native path must be the one taken.
      expect(addon.sha256Hex(text)).toBe(want);
      expect(sha256Hex(text)).toBe(want);
    }
  });

  it('randomBytes gives the size asked for, different every time; bad sizes are type errors', () => {
    const addon = native() as unknown as { randomBytes(size: number): Buffer };
    expect(addon.randomBytes(0).length).toBe(0);
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect([a.length, b.length]).toEqual([32, 32]);
    expect(a.equals(b)).toBe(false);
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
    for (const bad of [-1, 1.5, 65537, Number.NaN]) expect(() => addon.randomBytes(bad)).toThrow(TypeError);
  });

  it('randomBelow stays in range and reaches every value', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = randomBelow(7);
      expect(x >= 0 && x < 7 && Number.isInteger(x)).toBe(true);
      seen.add(x);
    }
    expect(seen.size).toBe(7);
    expect(randomBelow(1)).toBe(0);
    expect(() => randomBelow(0)).toThrow(/integer from 1/);
    expect(() => randomBelow(2 ** 32 + 1)).toThrow(/integer from 1/);
  });
});
