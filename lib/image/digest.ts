// Content digests (OCI `algorithm:hex`): parsing, hashing, and OCI chain ids.
import { createHash } from 'node:crypto';
import { PockerError } from '../errors.js';
import type { SetupStep } from '../errors.js';

/** The digest algorithms pocker accepts, with the length of their hex encoding. */
const HEX_LENGTH = { sha256: 64, sha512: 128 } as const;

export type DigestAlgorithm = keyof typeof HEX_LENGTH;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/**
 * Why `digest` is not a digest pocker can verify, in go-digest's words (`unsupported digest
 * algorithm`, `invalid checksum digest format`, `invalid checksum digest length`, or `invalid
 * digest format` when there is no `algorithm:`), or undefined when it is one: `sha256:<64 hex>` or
 * `sha512:<128 hex>`, lower case, as the OCI image spec requires for these registered algorithms.
 */
export function digestProblem(digest: unknown): string | undefined {
  if (typeof digest !== 'string') return 'invalid digest format';
  const colon = digest.indexOf(':');
  if (colon <= 0) return 'invalid digest format';
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (!Object.hasOwn(HEX_LENGTH, algorithm)) return 'unsupported digest algorithm';
  if (!/^[a-f0-9]+$/.test(hex)) return 'invalid checksum digest format';
  if (hex.length !== HEX_LENGTH[algorithm as DigestAlgorithm]) return 'invalid checksum digest length';
  return undefined;
}

/**
 * Parses and validates `sha256:<64 hex digits>` or `sha512:<128 hex digits>` (see
 * {@link digestProblem}). Anything else is an ERR_POCKER_INVALID error of `step`, naming `what`
 * (`blob digest`, `diff id #2`, …) and the value:
 * `invalid blob digest "sha256:abc": invalid checksum digest length (expected …)`.
 */
export function parseDigest(digest: unknown, step: SetupStep = 'store', what = 'digest'): ParsedDigest {
  const problem = digestProblem(digest);
  if (problem === undefined) {
    const s = digest as string;
    const colon = s.indexOf(':');
    return { algorithm: s.slice(0, colon) as DigestAlgorithm, hex: s.slice(colon + 1) };
  }
  const shown = typeof digest === 'string' ? JSON.stringify(digest.length > 150 ? `${digest.slice(0, 150)}…` : digest) : String(digest);
  throw new PockerError(`invalid ${what} ${shown}: ${problem} (expected sha256:<64 hex digits> or sha512:<128 hex digits>)`, {
    code: 'ERR_POCKER_INVALID',
    step,
  });
}

/** True when `digest` is a valid sha256/sha512 digest string (see {@link digestProblem}). */
export function isDigest(digest: unknown): digest is string {
  return digestProblem(digest) === undefined;
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
