// Content digests (OCI `algorithm:hex`): parsing, hashing, and OCI chain ids.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { PockerError } from '../errors.js';
import type { SetupStep } from '../types.js';

/** The digest algorithms pocker accepts, with the length of their hex encoding. */
const HEX_LENGTH = { sha256: 64, sha512: 128 } as const;

export type DigestAlgorithm = keyof typeof HEX_LENGTH;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/**
 * Parses and validates `sha256:<64 hex>` or `sha512:<128 hex>` (lower case, as the OCI image spec
 * requires for these registered algorithms). Anything else is an ERR_POCKER_INVALID error.
 */
export function parseDigest(digest: unknown, step: SetupStep = 'store', what = 'digest'): ParsedDigest {
  if (typeof digest === 'string') {
    const colon = digest.indexOf(':');
    const algorithm = digest.slice(0, colon);
    const hex = digest.slice(colon + 1);
    if (colon > 0 && Object.hasOwn(HEX_LENGTH, algorithm)) {
      const length = HEX_LENGTH[algorithm as DigestAlgorithm];
      if (hex.length === length && /^[0-9a-f]+$/.test(hex)) return { algorithm: algorithm as DigestAlgorithm, hex };
    }
  }
  const shown = typeof digest === 'string' ? JSON.stringify(digest.length > 150 ? `${digest.slice(0, 150)}…` : digest) : String(digest);
  throw new PockerError(`invalid ${what} ${shown}: expected sha256:<64 hex digits> or sha512:<128 hex digits>`, {
    code: 'ERR_POCKER_INVALID',
    step,
  });
}

/** True when `digest` is a valid sha256/sha512 digest string. */
export function isDigest(digest: unknown): digest is string {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** `sha256:<hex>` of a buffer or string (or with another supported algorithm). */
export function digestOf(data: string | Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/**
 * OCI chain ids of a stack of layers, bottom first (image-spec config.md, "Layer ChainID"):
 * ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, diffId] of diffIds.entries()) {
    parseDigest(diffId, 'store', `diff id #${i}`);
    out.push(i === 0 ? diffId : digestOf(`${out[i - 1]} ${diffId}`));
  }
  return out;
}

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
