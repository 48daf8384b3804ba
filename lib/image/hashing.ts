// HashingStream, apart from ./digest.ts: a class that extends node:stream's Transform loads
// node:stream (~7 ms here) when its module is evaluated, and ./digest.ts is evaluated by every
// command that parses an image reference (`pocker ps` among them; issue 12).
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { DigestAlgorithm } from './digest.js';

/**
 * A pass-through stream that hashes and counts what flows through it. `digest` and `bytes` are
 * final once the stream has ended.
 */
export class HashingStream extends Transform {
  readonly algorithm: DigestAlgorithm;
  bytes = 0;
  #hash: Hash;
  #digest: string | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    super();
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = `${this.algorithm}:${this.#hash.digest('hex')}`;
    callback();
  }

  /** The digest of everything that went through; undefined until the stream has been flushed. */
  get digest(): string | undefined {
    return this.#digest;
  }
}
