// Small stream helpers shared by the archive writers (save, export, commit).
import type { Writable } from 'node:stream';

/** Resolves on 'drain'; fails on 'error' or 'close'. Leaves no listener behind. */
export function drained(output: Writable): Promise<void> {
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
    const onClose = () => done(new Error('the output was closed'));
    output.on('drain', onDrain);
    output.on('error', onError);
    output.on('close', onClose);
  });
}
