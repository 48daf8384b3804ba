// The PockerError a function throws (the unit tests' expectation of a refused input).
import { expect } from 'vitest';

import { PockerError } from '../../lib/errors.js';

export function thrown(fn: () => unknown): PockerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PockerError);
    return err as PockerError;
  }
  throw new Error('expected a PockerError');
}
