// Small stream helpers shared by the archive readers and writers (load, save, export, commit, the store).
import type { Writable } from 'node:stream';

import { PockerError, type SetupStep } from '../errors.js';

/** A chunk of a byte stream as a Buffer (no copy); anything but bytes or a string is ERR_POCKER_INVALID. */
export function toBuffer(chunk: unknown, what: string, step: SetupStep): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new PockerError(`${what} yielded a ${typeof chunk}, not bytes`, { code: 'ERR_POCKER_INVALID', step });
}

/** Resolves on 'drain'; fails on 'error' or 'close'. Leaves no listener behind. */
export function drained(output: Writable, step: SetupStep): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      output.off('drain', onDrain);
      output.off('error', onError);
      output.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new PockerError('the output was closed', { code: 'EPIPE', step }));
    output.on('drain', onDrain);
    output.on('error', onError);
    output.on('close', onClose);
  });
}
