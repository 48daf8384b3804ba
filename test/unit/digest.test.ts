// The one digest parser (lib/image/digest.ts): go-digest's reasons, the same for a reference's
// digest, a stored blob's, a layer's diff id and a pulled descriptor's.
import { describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { digestProblem, isDigest, parseDigest } from '../../lib/image/digest.js';
import { parseReference } from '../../lib/image/reference.js';
import { verifyingStream } from '../../lib/image/registry.js';

const HEX = 'a'.repeat(64);

describe('digestProblem / parseDigest', () => {
  it.each([
    [`sha256:${HEX}`, undefined],
    [`sha512:${'b'.repeat(128)}`, undefined],
    ['', 'invalid digest format'],
    [HEX, 'invalid digest format'],
    [`:${HEX}`, 'invalid digest format'],
    [42, 'invalid digest format'],
    [`md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`SHA256:${HEX}`, 'unsupported digest algorithm'],
    [`sha256:${HEX.toUpperCase()}`, 'invalid checksum digest format'],
    ['sha256:', 'invalid checksum digest format'],
    [`sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
    [`sha512:${HEX}`, 'invalid checksum digest length'],
  ])('%s: %s', (digest, problem) => {
    expect(digestProblem(digest)).toBe(problem);
    expect(isDigest(digest)).toBe(problem === undefined);
  });

  it('parseDigest names what it parsed, the value and the reason; ERR_POCKER_INVALID of the given step', () => {
    expect(parseDigest(`sha256:${HEX}`)).toEqual({ algorithm: 'sha256', hex: HEX });
    let err: unknown;
    try {
      parseDigest('sha256:abc', 'load', 'blob digest');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PockerError);
    expect(err).toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'load' });
    expect((err as Error).message).toBe(
      'invalid blob digest "sha256:abc": invalid checksum digest length (expected sha256:<64 hex digits> or sha512:<128 hex digits>)',
    );
    expect(() => parseDigest('x'.repeat(400))).toThrow(/^invalid digest "x{150}…": invalid digest format/);
  });

  it('a reference and a registry descriptor give the same reasons', () => {
    expect(() => parseReference(`alpine@sha256:${HEX.toUpperCase()}`)).toThrow(
      `invalid reference format: invalid checksum digest format: "sha256:${HEX.toUpperCase()}"`,
    );
    let err: unknown;
    try {
      verifyingStream({ digest: `sha256:${'a'.repeat(63)}`, size: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_POCKER_DIGEST', step: 'pull', message: `invalid digest "sha256:${'a'.repeat(63)}": invalid checksum digest length` });
  });
});
