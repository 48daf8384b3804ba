// The CLI's output: writing to stdout/stderr with backpressure, and writing a tar archive to
// `-o FILE` (save, export) the way Docker does. (Ending quietly when the reader of stdout or
// stderr goes away is ./program.ts's endQuietlyOnEpipe: start-up must not load this module.)
import { randomHex } from '../random.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';

/**
 * Writes `text` to `stream` (stdout, stderr), waiting for it to drain when it asks to: a long
 * output (a large log) is never held in memory. Rejects when the stream fails (other than EPIPE,
 * which endQuietlyOnEpipe() turns into the end of the process).
 */
export function writeOut(stream: NodeJS.WritableStream & Partial<Pick<Writable, 'destroyed'>>, text: string): Promise<void> {
  if (stream.destroyed) return new Promise(() => {}); // errored (EPIPE): the process is ending
  if (stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain);
      stream.off('error', done);
      if (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err);
      } else resolve();
    };
    const onDrain = () => done();
    stream.once('drain', onDrain);
    stream.once('error', done);
  });
}

function opened(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', (err) => reject(err));
  });
}

/**
 * Runs `write` into `target`. A regular (or missing) file gets a temp file in the same directory,
 * renamed when complete, so a failure never leaves a half-written archive (nor destroys an older
 * one); a device, fifo or symlink (`-o /dev/stdout`, a named pipe) is written in place.
 */
export async function writeToFile(target: string, write: (out: Writable) => Promise<void>): Promise<void> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing && !existing.isFile()) {
    const out = createWriteStream(target, { flags: 'w' });
    await opened(out);
    await write(out);
    return;
  }
  const tmp = join(dirname(target), `.${basename(target)}.pocker-tmp-${randomHex(6)}`);
  const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
  try {
    await opened(out);
    await write(out);
    await rename(tmp, target);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}
