// The image code's stream classes, apart from the modules that use them: a class that extends
// node:stream's Transform loads node:stream (1-7 ms here, by load) when its module is evaluated,
// and ./digest.ts and ./store.ts are evaluated by commands that never stream a blob (`pocker ps`,
// `images`, `inspect`; issue 12). So ./store.ts imports this module where it streams
// (`await import('./hashing.js')`); ./archive.ts and ./commit.ts, which always stream, at the top.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { parseDigest, type DigestAlgorithm } from './digest.js';

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

/**
 * A HashingStream that fails at its end unless the content has digest `expected` (and, with
 * `size`, exactly that many bytes): `mismatch(why, actual)` makes the error, `why` saying what
 * differed.
 */
export class VerifyingStream extends HashingStream {
  constructor(
    private readonly expected: string,
    private readonly mismatch: (why: string, actual: { digest: string | undefined; bytes: number }) => Error,
    private readonly size?: number,
  ) {
    super(parseDigest(expected).algorithm);
  }

  override _flush(callback: TransformCallback): void {
    super._flush((err) => {
      if (err) return callback(err);
      if (this.size !== undefined && this.bytes !== this.size) callback(this.mismatch(`expected ${this.size} bytes, got ${this.bytes}`, this));
      else if (this.digest !== this.expected) callback(this.mismatch(`expected digest ${this.expected}, got ${this.digest}`, this));
      else callback();
    });
  }
}

/** Counts the bytes going through, for progress reports. */
export class CountingStream extends Transform {
  bytes = 0;
  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
}
