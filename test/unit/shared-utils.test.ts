// The one copy of each small utility: signals (lib/signals.ts) and human sizes (lib/cli/format.ts).
import { describe, expect, it } from 'vitest';

import { bytesSize, humanSize } from '../../lib/cli/format.js';
import { PockerError } from '../../lib/errors.js';
import { isSignalSpec, normalizeSignal, signalName, signalNumber } from '../../lib/signals.js';

describe('signals', () => {
  it('names and numbers', () => {
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber('term')).toBe(15);
    expect(signalNumber(10)).toBe(10);
    expect(() => signalNumber('NOPE')).toThrow(PockerError);
    expect(() => signalNumber(65)).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID', step: 'kill' }));
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(0)).toBeNull();
    expect(normalizeSignal('QUIT')).toBe('SIGQUIT');
    expect(normalizeSignal('3')).toBe('SIGQUIT');
    expect(normalizeSignal('')).toBeUndefined();
    expect(normalizeSignal('NOPE')).toBeUndefined();
    expect(isSignalSpec('SIGRTMIN+3')).toBe(true);
    expect(isSignalSpec('0')).toBe(false);
  });
});

describe('human sizes (go-units)', () => {
  it('decimal HumanSizeWithPrecision and binary BytesSize', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(7_377_000, 3)).toBe('7.38MB');
    expect(humanSize(7_377_000)).toBe('7.377MB');
    expect(humanSize(99_950, 3)).toBe('100kB'); // the old progress-line copy printed 1kB here
    expect(bytesSize(1536 * 1024)).toBe('1.5MiB');
    expect(bytesSize(512 * 1024)).toBe('512KiB');
  });
});
