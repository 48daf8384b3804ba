// Random bytes and SHA-256 digests of text, through the native addon when it has them
// (cpp/addon/random.cpp: getrandom(2), and the OpenSSL Node carries), else node:crypto. A short
// CLI command (`run --rm`, `rm`, `create`) then never loads node:crypto, whose ~20 internal modules
// cost it 3-8 ms of CPU here, for a container id, a temp file's name or the seccomp cache's key.
// The CLI bundle gets node:crypto as a stand-in loaded at first use (bin/pocker.cjs), so the
// fallback below costs nothing until it runs.
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';

import { invalid } from './errors.js';
import { native } from './native.js';

interface RandomAddon {
  randomBytes?: (size: number) => Buffer;
  sha256Hex?: (text: string) => string | undefined;
}

let addon: RandomAddon | null | undefined;

/** The addon's functions, or null where the addon cannot load (a unit test without a build). */
function nativeRandom(): RandomAddon | null {
  if (addon === undefined) {
    try {
      addon = native() as RandomAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** `size` bytes from the kernel's CSPRNG. */
export function randomBytes(size: number): Buffer {
  const a = nativeRandom();
  return typeof a?.randomBytes === 'function' ? a.randomBytes(size) : cryptoRandomBytes(size);
}

/** `size` random bytes as 2 × `size` lowercase hex digits. */
export function randomHex(size: number): string {
  return randomBytes(size).toString('hex');
}

/** A uniformly random integer in [0, n), n ≤ 2^32 (rejection sampling: no modulo bias). */
export function randomBelow(n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0 || n > 2 ** 32) throw invalid(`randomBelow(${n}): n must be an integer from 1 to 2^32`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const x = randomBytes(4).readUInt32LE(0);
    if (x < limit) return x % n;
  }
}

/** The SHA-256 digest of `text` (its UTF-8 bytes), in hex. */
export function sha256Hex(text: string): string {
  const a = nativeRandom();
  const hex = typeof a?.sha256Hex === 'function' ? a.sha256Hex(text) : undefined;
  return hex ?? createHash('sha256').update(text).digest('hex');
}
