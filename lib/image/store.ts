// The image store (layout in DESIGN.md, "Storage"):
//
//   <root>/blobs/<alg>/<hex>       content-addressed blobs (OCI image layout), verified on write
//   <root>/layers/<chainid-hex>/   extracted read-only overlay lower dirs, one per chain id
//   <root>/layers/<chainid-hex>.json   their metadata (diffId, parent, blob digest, size, created)
//   <root>/images.json             { version: 1, images: { <canonical name>: ImageRecord } }
//   <root>/tmp/                    partial downloads and extractions
//   <root>/store.lock              flock'd by every writer of images.json, layers/, blobs/
//
// Safety against concurrent pocker processes and SIGKILL at any point:
// - Nothing appears in blobs/ or layers/ except by rename(2) from tmp/ (same filesystem), after
//   the content has been verified (and, for blobs, fsync'd). A killed download or extraction only
//   leaves garbage in tmp/.
// - images.json is only rewritten under the lock, through a temp file + fsync + rename + fsync of
//   the directory; it is validated on every read and a corrupt file is an error, never a reset.
// - tmp/ belongs to owners: every ImageStore that writes creates `tmp/<id>/` and holds an flock on
//   `tmp/<id>.lock` for as long as it is open. Opening a store removes the tmp dirs of owners whose
//   lock is free, i.e. whose process is dead (the kernel drops flocks with their holder).
// - Leases: a blob written or a layer extracted by a pull is not referenced by any image until the
//   pull records it (putImage). Until then the writer's owner file lists it, and prune() (under the
//   lock) keeps whatever a live owner lists. putImage() drops the leases its record now covers;
//   close() (or the process's death) drops the rest.
import { createHash } from 'node:crypto';
import { close as closeCb, constants, createReadStream, ftruncate as ftruncateCb, open as openCb, write as writeCb } from 'node:fs';
import { open, rename, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

import { PockerError, asPockerError, fromSystemError, type PockerErrorCode, type SetupStep } from '../errors.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { chainIds, digestOf, parseDigest } from './digest.js';
import { fsyncPath, lstatAsync, mkdirAsync, readFileAsync, readdirAsync, statAsync, writeFileAtomic } from '../fsutil.js';
import { randomHex } from '../random.js';
import { lockedBySomeoneElse, nativeFlock, tryFlock, withFileLock, type FlockFn } from './lock.js';
import { toBuffer } from './streams.js';
import { layerCompression, type LayerCompression } from './types.js';
import { isoTime } from '../state/timestamps.js';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const ftruncateFd = promisify(ftruncateCb);
const writeFd = promisify(writeCb);

// ---------------------------------------------------------------------------------------------
// Types

/** One image in images.json, under its canonical name (`docker.io/library/alpine:3.20`). */
export interface ImageRecord {
  /** The image id: the config digest. */
  id: string;
  /** The digest of the platform manifest. */
  manifestDigest: string;
  /** The digest of the index / manifest list the manifest was chosen from, if any. */
  indexDigest?: string;
  /** The digest of the image config blob (= id). */
  configDigest: string;
  /** Chain ids of the layers, base first (each one a directory in layers/). */
  layers: string[];
  /** RFC 3339 time the image was created (from its config) or stored. */
  created: string;
  /** Size in bytes, as the caller computed it (e.g. the sum of the uncompressed layers). */
  size: number;
}

/** An image record with its name. */
export interface ImageEntry extends ImageRecord {
  name: string;
}

export interface ImagesFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

/** layers/<chainid-hex>.json */
export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** The chain id of the layer below, null for a base layer. */
  parent: string | null;
  /** The (compressed) blob the layer was extracted from. */
  blobDigest: string;
  mediaType: string;
  /** Disk usage of the extracted directory (st_blocks × 512, hard links once). */
  size: number;
  /** Tar entries extracted. */
  entries: number;
  /** RFC 3339 time of extraction. */
  created: string;
}

export interface LayerInfo extends LayerRecord {
  /** The extracted directory (an overlay lower dir). */
  path: string;
}

export interface ImageStoreOptions {
  /** How long to wait for store.lock before failing with ERR_POCKER_LOCK_TIMEOUT (default 30 s). */
  lockTimeoutMs?: number;
  /** The flock implementation (default: the native addon's). */
  flock?: FlockFn;
}

export interface EnsureLayerOptions {
  /** Compressed bytes read from the blob so far. */
  onProgress?: (bytes: number) => void;
}

export interface PruneOptions {
  /**
   * true (default): remove only what no image references (blobs, layers, stale tmp entries).
   * false: also remove every image whose id is not in `keepImages` first (`image prune -a`).
   */
  dangling?: boolean;
  /** Image ids in use (by containers): never removed by `dangling: false`. */
  keepImages?: Iterable<string>;
  /** Chain ids in use as lower dirs (by containers): kept even when no image references them. */
  keepLayers?: Iterable<string>;
}

export interface PruneResult {
  /** Names of the image records removed (only with `dangling: false`). */
  imagesRemoved: string[];
  blobsRemoved: string[];
  layersRemoved: string[];
  /** Disk space freed (st_blocks × 512), tmp/ garbage included. */
  freedBytes: number;
}

export interface LayerUsage {
  chainId: string;
  diffId?: string;
  /** Disk usage (st_blocks × 512; a hard-linked inode counts once in the whole store). */
  size: number;
  /** Names of the images that use the layer. */
  images: string[];
}

export interface ImageUsage {
  name: string;
  id: string;
  /** Disk usage of all its layers. */
  size: number;
  /** Of which layers other images (with another id) use too. */
  sharedSize: number;
  /** Of which layers only this image id uses. */
  uniqueSize: number;
}

export interface DiskUsage {
  layers: LayerUsage[];
  images: ImageUsage[];
  blobs: { count: number; size: number };
  totals: {
    /** Image records (names). */
    images: number;
    layers: number;
    layersSize: number;
    blobsSize: number;
    tmpSize: number;
    /** Everything under the root. */
    size: number;
    /** What prune() would free now: unreferenced layers and blobs (leases aside), and tmp/. */
    reclaimable: number;
  };
}

/** OCI chain ids of a stack of diff ids, base first (also ImageStore#chainId). */
export function chainId(diffIds: readonly string[]): string[] {
  return chainIds(diffIds);
}

// ---------------------------------------------------------------------------------------------
// Helpers

const IMAGES_VERSION = 1;
const NAME_RE = /^[^\s\x00-\x1f\x7f]{1,1024}$/;
/** Writes reach the blob file in batches of about this size. */
const WRITE_BATCH = 1 << 20;

/** The default store root: $POCKER_ROOT, /var/lib/pocker as root, $XDG_DATA_HOME/pocker otherwise. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(defaultStateRoot(env));
}

function storeError(message: string, code: PockerErrorCode, step: SetupStep, extra: { path?: string; cause?: unknown } = {}): PockerError {
  return new PockerError(message, { code, step, ...extra });
}

function digestError(message: string, step: SetupStep, path?: string): PockerError {
  return storeError(message, 'ERR_POCKER_DIGEST', step, path ? { path } : {});
}

function notFound(message: string, path?: string): PockerError {
  return storeError(message, 'ERR_POCKER_NOT_FOUND', 'store', path ? { path } : {});
}


const isErrno = (err: unknown, ...codes: string[]): boolean => codes.includes((err as { code?: string })?.code ?? '');

async function exists(path: string): Promise<boolean> {
  try {
    await lstatAsync(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw fromSystemError(err, 'store', `cannot stat ${path}`);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstatAsync(path)).isDirectory();
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw fromSystemError(err, 'store', `cannot stat ${path}`);
  }
}

async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  let buf = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  while (buf.length > 0) {
    const { bytesWritten } = await fh.write(buf, 0, buf.length, null);
    buf = buf.subarray(bytesWritten);
  }
}

/**
 * rm -rf of a tree. Rootless, a layer's directories may belong to subordinate ids the caller cannot
 * write: those trees are emptied in a user namespace mapped like the caller's containers.
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    if (!isErrno(err, 'EACCES', 'EPERM')) throw err;
    const userns = await import('../rootless/userns.js');
    if (!userns.needsUsernsWorker()) throw err;
    await userns.removeInUserns([path]);
  }
}

const sourceBytes = (chunk: unknown): Buffer => toBuffer(chunk, 'blob source', 'pull');

/**
 * `du`-like disk usage of a tree: st_blocks × 512 of every inode, without following symlinks,
 * counting an inode with several links once (`seen` may be shared between calls). Missing paths
 * count 0 (a concurrent prune).
 */
export async function diskUsageOf(path: string, seen: Set<string> = new Set()): Promise<number> {
  let st;
  try {
    st = await lstatAsync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 0;
    throw fromSystemError(err, 'store', `cannot stat ${path}`);
  }
  let total = 0;
  const key = `${st.dev}:${st.ino}`;
  if (!seen.has(key)) {
    seen.add(key);
    total += st.blocks * 512;
  }
  if (st.isDirectory()) {
    let names: string[];
    try {
      names = await readdirAsync(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return total;
      // Rootless: a directory of a subordinate id (mode 0700 in the image) is not the caller's to
      // read; its content is not counted.
      if (isErrno(err, 'EACCES') && process.geteuid?.() !== 0) return total;
      throw fromSystemError(err, 'store', `cannot read ${path}`);
    }
    // A bounded fan-out: fast on big layers without opening thousands of requests at once.
    for (let i = 0; i < names.length; i += 64) {
      const sizes = await Promise.all(names.slice(i, i + 64).map((n) => diskUsageOf(join(path, n), seen)));
      for (const s of sizes) total += s;
    }
  }
  return total;
}

/** Magic numbers of the compressions pocker knows. */
function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

// node:zlib is imported where a layer is unpacked: evaluating it costs ~2 ms that listings do not need.
type ZstdZlib = typeof import('node:zlib') & { createZstdDecompress?: () => Transform };

function zstdUnsupported(blobDigest: string): PockerError {
  return storeError(
    `layer ${blobDigest} is zstd-compressed: zstd layers need Node ≥ 22.15 (this is Node ${process.version})`,
    'ERR_POCKER_UNSUPPORTED',
    'pull',
  );
}

function validateName(name: unknown, what = 'image name'): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new PockerError(`invalid ${what} ${JSON.stringify(name)}: must be 1-1024 printable characters without spaces`, {
      code: 'ERR_POCKER_INVALID',
      step: 'store',
    });
  }
  return name;
}

/** Problems of one record (empty when valid). */
function recordProblems(r: unknown): string[] {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return ['not an object'];
  const rec = r as Record<string, unknown>;
  const problems: string[] = [];
  const digestField = (field: string, optional = false) => {
    if (optional && rec[field] === undefined) return;
    try {
      parseDigest(rec[field]);
    } catch {
      problems.push(`${field} is not a digest`);
    }
  };
  digestField('id');
  digestField('manifestDigest');
  digestField('indexDigest', true);
  digestField('configDigest');
  if (rec.id !== rec.configDigest) problems.push('id differs from configDigest');
  if (!Array.isArray(rec.layers)) problems.push('layers is not an array');
  else
    rec.layers.forEach((l, i) => {
      try {
        if (parseDigest(l).algorithm !== 'sha256') problems.push(`layers[${i}] is not a sha256 chain id`);
      } catch {
        problems.push(`layers[${i}] is not a chain id`);
      }
    });
  if (typeof rec.created !== 'string' || Number.isNaN(Date.parse(rec.created))) problems.push('created is not a date');
  if (typeof rec.size !== 'number' || !Number.isSafeInteger(rec.size) || rec.size < 0) problems.push('size is not a byte count');
  return problems;
}

/** A copy of the record with exactly the known fields (nothing foreign is stored). */
function cleanRecord(r: ImageRecord): ImageRecord {
  return {
    id: r.id,
    manifestDigest: r.manifestDigest,
    ...(r.indexDigest !== undefined ? { indexDigest: r.indexDigest } : {}),
    configDigest: r.configDigest,
    layers: [...r.layers],
    created: r.created,
    size: r.size,
  };
}

interface Owner {
  id: string;
  /** tmp/<id>/: this owner's partial files. */
  dir: string;
  /** tmp/<id>.lock: flock'd while the owner lives; holds its leases as JSON. */
  lockPath: string;
  fd: number;
  /** Blob digests and `layer:<chainId>` keys this owner protects from prune(). */
  leases: Set<string>;
  /** False while `dir` could not be made (a full disk): made when a writer needs it (#ownerDir). */
  hasDir: boolean;
}

const LAYER_LEASE = 'layer:';

// ---------------------------------------------------------------------------------------------
// The store

export class ImageStore {
  readonly root: string;
  readonly #lockTimeoutMs: number | undefined;
  readonly #flockOverride: FlockFn | undefined;
  #owner: Owner | undefined;
  #opening: Promise<Owner> | undefined;
  #rootReady: Promise<void> | undefined;

  constructor(root: string = defaultStoreRoot(), options: ImageStoreOptions = {}) {
    if (typeof root !== 'string' || root === '') {
      throw new PockerError('invalid image store root: must be a path', { code: 'ERR_POCKER_INVALID', step: 'store' });
    }
    this.root = resolve(root);
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#flockOverride = options.flock;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get layersDir(): string {
    return join(this.root, 'layers');
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get imagesFile(): string {
    return join(this.root, 'images.json');
  }
  get lockFile(): string {
    return join(this.root, 'store.lock');
  }

  #flock(): FlockFn {
    return this.#flockOverride ?? nativeFlock();
  }

  // -------------------------------------------------------------------------------------------
  // Lock, open, close

  /** Runs fn with the store's exclusive lock (re-entrant within fn). */
  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.#ensureRoot();
    return withFileLock(this.lockFile, fn, {
      flock: this.#flock(),
      ...(this.#lockTimeoutMs !== undefined ? { timeoutMs: this.#lockTimeoutMs } : {}),
    });
  }

  #ensureRoot(): Promise<void> {
    this.#rootReady ??= (async () => {
      try {
        await mkdirAsync(this.root, { recursive: true, mode: 0o711 });
      } catch (err) {
        this.#rootReady = undefined;
        throw fromSystemError(err, 'store', `cannot create the image store ${this.root}`);
      }
    })();
    return this.#rootReady;
  }

  /**
   * Prepares the store for writing: creates its directories, this store's owner entry in tmp/,
   * and removes what dead owners left in tmp/. Writers call it themselves; idempotent.
   */
  async open(): Promise<void> {
    await this.#open();
  }

  #open(): Promise<Owner> {
    if (this.#owner) return Promise.resolve(this.#owner);
    this.#opening ??= (async () => {
      try {
        await this.#ensureRoot();
        for (const dir of [this.blobsDir, join(this.blobsDir, 'sha256'), this.layersDir, this.tmpDir]) {
          await mkdirAsync(dir, { recursive: true, mode: 0o700 });
        }
        return await this.withLock(async () => {
          const id = `${process.pid}-${randomHex(6)}`;
          let hasDir = true;
          const lockPath = join(this.tmpDir, `${id}.lock`);
          const fd = await openFd(lockPath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
          try {
            if (!tryFlock(this.#flock(), fd, true, lockPath)) throw lockedBySomeoneElse(lockPath);
            // On a full disk the store still opens (rmi and prune free space); writers make the
            // directory when they need it, and fail then with ENOSPC.
            hasDir = await mkdirAsync(join(this.tmpDir, id), { mode: 0o700 }).then(
              () => true,
              (err: unknown) => {
                if (isErrno(err, 'ENOSPC', 'EDQUOT')) return false;
                throw err;
              },
            );
          } catch (err) {
            await closeFd(fd).catch(() => {});
            await rm(lockPath, { force: true });
            throw err;
          }
          const owner: Owner = { id, dir: join(this.tmpDir, id), lockPath, fd, leases: new Set(), hasDir };
          this.#owner = owner;
          // No lease yet: on a full disk an empty lease file reads as none (what rmi and prune,
          // which free space, need; a writer fails later, on what it writes).
          await this.#writeLeases().catch((err: unknown) => {
            if (!isErrno(err, 'ENOSPC', 'EDQUOT')) throw err;
          });
          await this.#cleanTmp();
          return owner;
        });
      } catch (err) {
        this.#opening = undefined;
        throw asPockerError(err, 'store', `cannot open the image store ${this.root}`);
      }
    })();
    return this.#opening;
  }

  /**
   * Releases this store's owner entry (its leases and its tmp dir); call it once the store's
   * operations have settled. The store can be opened again. Without close(), the process's exit
   * releases it (and the next open elsewhere cleans up).
   */
  async close(): Promise<void> {
    const opening = this.#opening;
    if (!opening) return;
    const owner = await opening.catch(() => undefined);
    this.#opening = undefined;
    this.#owner = undefined;
    if (!owner) return;
    await removeTree(owner.dir);
    await rm(owner.lockPath, { force: true });
    await closeFd(owner.fd).catch(() => {});
  }

  /** Rewrites this owner's lease list (under the store lock: prune reads it under the lock). */
  async #writeLeases(): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    const data = Buffer.from(`${JSON.stringify({ pid: process.pid, leases: [...owner.leases] })}\n`);
    await ftruncateFd(owner.fd, 0);
    let off = 0;
    while (off < data.length) off += (await writeFd(owner.fd, data, off, data.length - off, off)).bytesWritten;
  }

  async #addLeases(keys: Iterable<string>): Promise<void> {
    const owner = this.#owner;
    if (!owner) return;
    const before = owner.leases.size;
    for (const k of keys) owner.leases.add(k);
    if (owner.leases.size !== before) await this.#writeLeases();
  }

  /** The owner's tmp dir, made now if it could not be at open (a full disk then). */
  async #ownerDir(owner: Owner): Promise<string> {
    if (!owner.hasDir) {
      await mkdirAsync(owner.dir, { mode: 0o700 });
      owner.hasDir = true;
    }
    return owner.dir;
  }

  /** Owners in tmp/ whose process is alive (their lock is held), with their leases; removes the dead ones' entries. Under the store lock. */
  async #cleanTmp(): Promise<{ leases: Set<string>; freed: number }> {
    const leases = new Set<string>(this.#owner?.leases ?? []);
    const live = new Set<string>(this.#owner ? [this.#owner.id] : []);
    let names: string[];
    try {
      names = await readdirAsync(this.tmpDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { leases, freed: 0 };
      throw err;
    }
    const flock = this.#flock();
    for (const name of names) {
      if (!name.endsWith('.lock')) continue;
      const id = name.slice(0, -'.lock'.length);
      if (live.has(id)) continue;
      const path = join(this.tmpDir, name);
      let fd: number;
      try {
        fd = await openFd(path, constants.O_RDONLY);
      } catch {
        continue;
      }
      try {
        if (tryFlock(flock, fd, true, path)) continue; // free: a dead owner, removed below
        live.add(id);
        try {
          const parsed = JSON.parse(await readFileAsync(path, 'utf8')) as { leases?: unknown };
          if (Array.isArray(parsed.leases)) for (const l of parsed.leases) if (typeof l === 'string') leases.add(l);
        } catch {
          // A live owner whose lease list is unreadable: nothing to add.
        }
      } finally {
        await closeFd(fd).catch(() => {});
      }
    }
    let freed = 0;
    const seen = new Set<string>();
    for (const name of names) {
      const id = name.endsWith('.lock') ? name.slice(0, -'.lock'.length) : name;
      if (live.has(id)) continue;
      const path = join(this.tmpDir, name);
      freed += await diskUsageOf(path, seen);
      await removeTree(path);
    }
    return { leases, freed };
  }

  // -------------------------------------------------------------------------------------------
  // Blobs

  /** blobs/<alg>/<hex> of a digest (validated; the blob need not exist). */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest, 'store', 'blob digest');
    return join(this.blobsDir, algorithm, hex);
  }

  /** Is the blob in the store? (Its content was verified when it was written.) */
  async hasBlob(digest: string): Promise<boolean> {
    const path = this.blobPath(digest);
    try {
      return (await statAsync(path)).isFile();
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
      throw fromSystemError(err, 'store', `cannot stat blob ${digest}`);
    }
  }

  /**
   * hasBlob() for a pull that skips downloading what is already there: when the blob is present,
   * it is also leased to this store (kept by prune() until putImage() covers it, or close()).
   */
  async claimBlob(digest: string): Promise<boolean> {
    this.blobPath(digest); // validates
    await this.#open();
    return this.withLock(async () => {
      if (!(await this.hasBlob(digest))) return false;
      await this.#addLeases([digest]);
      return true;
    });
  }

  /** The blob's content, verified against its digest. */
  async readBlob(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    let data: Buffer;
    try {
      data = await readFileAsync(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(`blob ${digest} is not in the image store`, path);
      throw fromSystemError(err, 'store', `cannot read blob ${digest}`);
    }
    const parsed = parseDigest(digest);
    const actual = digestOf(data, parsed.algorithm);
    if (actual !== digest) throw digestError(`blob ${digest} in the store is corrupt: its content has digest ${actual}`, 'store', path);
    return data;
  }

  /** A stream of the blob's content; it fails at the end (ERR_POCKER_DIGEST) if the content does not match the digest. */
  async openBlob(digest: string, options: { verify?: boolean } = {}): Promise<Readable> {
    const path = this.blobPath(digest);
    const fh = await open(path, 'r').catch((err: unknown) => {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(`blob ${digest} is not in the image store`, path);
      throw fromSystemError(err, 'store', `cannot open blob ${digest}`);
    });
    const input = fh.createReadStream();
    if (options.verify === false) return input;
    const { VerifyingStream } = await import('./hashing.js');
    const verifier = new VerifyingStream(digest, (_why, actual) =>
      digestError(`blob ${digest} in the store is corrupt: its content has digest ${actual.digest}`, 'store', path));
    pipeline(input, verifier).catch(() => {}); // errors reach the consumer through the verifier
    return verifier;
  }

  /**
   * Streams a blob into the store while hashing it. At the end the size and digest must match
   * `expected`; then the file is fsync'd and renamed into blobs/ (if the blob is already there,
   * the temp file is dropped). On a mismatch, a truncated or failed source: ERR_POCKER_DIGEST (or
   * the source's error), step `pull`, and nothing is left behind. Returns the blob's path.
   */
  async writeBlob(
    expected: { digest: string; size: number },
    source: Readable | AsyncIterable<Buffer | Uint8Array | string>,
    onProgress?: (bytes: number) => void,
  ): Promise<string> {
    const digest = expected?.digest;
    const { algorithm, hex } = parseDigest(digest, 'pull', 'blob digest');
    const size = expected.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new PockerError(`invalid size ${String(size)} for blob ${digest}`, { code: 'ERR_POCKER_INVALID', step: 'pull' });
    }
    const owner = await this.#open();
    await this.#ownerDir(owner);
    const tmpPath = join(owner.dir, `blob-${hex.slice(0, 16)}-${randomHex(6)}`);
    let fh: FileHandle | undefined;
    let committed = false;
    try {
      fh = await open(tmpPath, 'wx', 0o644);
      const hash = createHash(algorithm);
      let bytes = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for await (const chunk of source) {
        const buf = sourceBytes(chunk);
        if (buf.length === 0) continue;
        bytes += buf.length;
        if (bytes > size) throw digestError(`blob ${digest} is larger than the expected ${size} bytes`, 'pull');
        hash.update(buf);
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= WRITE_BATCH) {
          const batch = pending;
          pending = [];
          pendingBytes = 0;
          await writeAll(fh, batch);
        }
        onProgress?.(bytes);
      }
      if (pending.length) await writeAll(fh, pending);
      if (bytes !== size) throw digestError(`blob ${digest} is truncated: got ${bytes} of ${size} bytes`, 'pull');
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) throw digestError(`blob ${digest} failed verification: its content has digest ${actual}`, 'pull');
      await fh.sync();
      await fh.close();
      fh = undefined;
      committed = true;
      return await this.#commitBlob(tmpPath, digest);
    } catch (err) {
      await fh?.close().catch(() => {});
      if (!committed) await rm(tmpPath, { force: true }).catch(() => {});
      throw asPockerError(err, 'pull', `download of blob ${digest} failed`);
    }
  }

  /** Moves a verified, fsync'd temp file into blobs/ (or drops it when the blob is there already) and leases the blob. */
  async #commitBlob(tmpPath: string, digest: string): Promise<string> {
    const final = this.blobPath(digest);
    try {
      await this.withLock(async () => {
        await mkdirAsync(dirname(final), { recursive: true, mode: 0o700 });
        if (await exists(final)) await unlink(tmpPath);
        else await rename(tmpPath, final);
        await this.#addLeases([digest]);
      });
      await fsyncPath(dirname(final));
      return final;
    } finally {
      await rm(tmpPath, { force: true }).catch(() => {});
    }
  }

  /**
   * Streams content whose digest is not known in advance (a layer built by commit or import, a
   * manifest pocker wrote) into the store; returns its sha256 digest, size and path.
   */
  async importBlob(source: Readable | AsyncIterable<Buffer | Uint8Array | string>): Promise<{ digest: string; size: number; path: string }> {
    const owner = await this.#open();
    await this.#ownerDir(owner);
    const tmpPath = join(owner.dir, `import-${randomHex(6)}`);
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmpPath, 'wx', 0o644);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of source) {
        const buf = sourceBytes(chunk);
        hash.update(buf);
        size += buf.length;
        await writeAll(fh, [buf]);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      const digest = `sha256:${hash.digest('hex')}`;
      return { digest, size, path: await this.#commitBlob(tmpPath, digest) };
    } catch (err) {
      await fh?.close().catch(() => {});
      await rm(tmpPath, { force: true }).catch(() => {});
      throw asPockerError(err, 'store', 'cannot import a blob');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Layers

  /** OCI chain ids of a stack of diff ids, base first. */
  chainId(diffIds: readonly string[]): string[] {
    return chainIds(diffIds);
  }

  /** layers/<chainid-hex> (the layer need not exist). */
  layerPath(chainId: string): string {
    const { algorithm, hex } = parseDigest(chainId, 'store', 'chain id');
    if (algorithm !== 'sha256') throw new PockerError(`invalid chain id ${chainId}: must be sha256`, { code: 'ERR_POCKER_INVALID', step: 'store' });
    return join(this.layersDir, hex);
  }

  #layerMetaPath(chainId: string): string {
    return `${this.layerPath(chainId)}.json`;
  }

  async hasLayer(chainId: string): Promise<boolean> {
    return isDirectory(this.layerPath(chainId));
  }

  /** The layer's metadata, or undefined when it is missing or unreadable. */
  async getLayer(chainId: string): Promise<LayerInfo | undefined> {
    const path = this.layerPath(chainId);
    if (!(await isDirectory(path))) return undefined;
    try {
      const rec = JSON.parse(await readFileAsync(this.#layerMetaPath(chainId), 'utf8')) as LayerRecord;
      if (rec.chainId !== chainId) return undefined;
      return { ...rec, path };
    } catch {
      return undefined;
    }
  }

  /**
   * Makes sure layers/<chainId> exists: if not, decompresses the blob (gzip; zstd where node:zlib
   * has it; plain tar), checks that the uncompressed stream has digest `diffId`, extracts it into
   * tmp/ and renames the result into place. When another process or promise extracts the same
   * layer at the same time, one wins and the other drops its copy.
   */
  async ensureLayer(
    chainId: string,
    diffId: string,
    parentChainId: string | null,
    blobDigest: string,
    mediaType: string,
    options: EnsureLayerOptions = {},
  ): Promise<LayerInfo> {
    parseDigest(diffId, 'pull', 'diff id');
    parseDigest(blobDigest, 'pull', 'blob digest');
    const path = this.layerPath(chainId);
    if (parentChainId !== null) this.layerPath(parentChainId);
    const expectedChain = parentChainId === null ? diffId : digestOf(`${parentChainId} ${diffId}`);
    if (expectedChain !== chainId) {
      throw new PockerError(
        `chain id ${chainId} does not match diff id ${diffId} on parent ${parentChainId ?? '(none)'} (expected ${expectedChain})`,
        { code: 'ERR_POCKER_INVALID', step: 'pull' },
      );
    }
    const owner = await this.#open();

    const existing = await this.withLock(async () => {
      if (!(await isDirectory(path))) return undefined;
      await this.#addLeases([LAYER_LEASE + chainId]);
      return (await this.getLayer(chainId)) ?? (await this.#writeMissingMeta(chainId, diffId, parentChainId, blobDigest, mediaType));
    });
    if (existing) return existing;

    if (/encrypted/.test(mediaType)) {
      throw storeError(`layer ${blobDigest} has media type ${mediaType}: encrypted layers are not supported`, 'ERR_POCKER_UNSUPPORTED', 'pull');
    }
    const zlib: ZstdZlib = await import('node:zlib');
    const zstd = zlib.createZstdDecompress;
    if (layerCompression(mediaType) === 'zstd' && typeof zstd !== 'function') throw zstdUnsupported(blobDigest);

    const blobPath = this.blobPath(blobDigest);
    // The content decides (some registries mislabel layers): gzip and zstd magic numbers, else tar.
    let head: Buffer;
    try {
      const fh = await open(blobPath, 'r');
      try {
        const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
        head = buffer.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(`blob ${blobDigest} of layer ${chainId} is not in the image store`, blobPath);
      throw fromSystemError(err, 'store', `cannot open blob ${blobDigest}`);
    }
    const compression = sniffCompression(head);
    if (compression === 'zstd' && typeof zstd !== 'function') throw zstdUnsupported(blobDigest);

    const random = randomHex(6);
    await this.#ownerDir(owner);
    const tmpLayer = join(owner.dir, `layer-${chainId.slice(7, 23)}-${random}`);
    const tmpMeta = `${tmpLayer}.json`;
    try {
      await mkdirAsync(tmpLayer, { mode: 0o755 });
      const { extractLayer } = await import('./extract.js');

      const diff = parseDigest(diffId);
      const input = createReadStream(blobPath);
      const { CountingStream, HashingStream } = await import('./hashing.js');
      const counter = new CountingStream(options.onProgress);
      // 256 KiB output chunks: with zlib's default 16 KiB, tar parsing of a large layer was ~2.5x slower.
      const decompress = compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 * 1024 }) : compression === 'zstd' ? zstd!.call(zlib) : undefined;
      const hasher = new HashingStream(diff.algorithm);
      // The extractor reads `feed`; the hash sees every byte, including what the extractor leaves
      // unread after the end-of-archive blocks (hasher is drained after extraction).
      const feed = new PassThrough();
      let pipeError: unknown;
      const piped = pipeline([input, counter, ...(decompress ? [decompress] : []), hasher]).catch((err: unknown) => {
        pipeError = err;
        feed.destroy(err as Error);
      });
      hasher.pipe(feed);

      let result: { entries: number; bytes: number };
      try {
        // Rootless with subordinate ids: owners as in the tar, set in a user namespace (lib/rootless/userns.ts).
        const userns = await import('../rootless/userns.js');
        result = userns.needsUsernsWorker() ? await userns.extractLayerInUserns(feed, tmpLayer) : await extractLayer(feed, tmpLayer);
      } catch (err) {
        const failure = pipeError ?? err;
        input.destroy();
        hasher.destroy();
        await piped;
        throw failure;
      }
      hasher.unpipe(feed);
      feed.destroy();
      hasher.resume();
      await piped;
      if (pipeError) throw pipeError;
      if (hasher.digest !== diffId) {
        throw digestError(`layer ${blobDigest} failed verification: its uncompressed content has digest ${hasher.digest}, not diff id ${diffId}`, 'pull', blobPath);
      }

      const record: LayerRecord = {
        chainId,
        diffId,
        parent: parentChainId,
        blobDigest,
        mediaType,
        size: await diskUsageOf(tmpLayer),
        entries: result.entries,
        created: isoTime(),
      };
      const fh = await open(tmpMeta, 'wx', 0o644);
      try {
        await fh.writeFile(`${JSON.stringify(record, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }

      const winner = await this.withLock(async () => {
        await this.#addLeases([LAYER_LEASE + chainId]);
        if (await isDirectory(path)) return (await this.getLayer(chainId)) ?? (await this.#writeMissingMeta(chainId, diffId, parentChainId, blobDigest, mediaType));
        await rename(tmpMeta, this.#layerMetaPath(chainId));
        await rename(tmpLayer, path);
        return undefined;
      });
      if (winner) return winner;
      await fsyncPath(this.layersDir);
      return { ...record, path };
    } catch (err) {
      throw asPockerError(err, 'pull', `cannot extract layer ${blobDigest}`);
    } finally {
      await removeTree(tmpLayer).catch(() => {});
      await rm(tmpMeta, { force: true }).catch(() => {});
    }
  }

  /** A layer dir without metadata (killed between the two renames): write what we know. Under the lock. */
  async #writeMissingMeta(chainId: string, diffId: string, parent: string | null, blobDigest: string, mediaType: string): Promise<LayerInfo> {
    const path = this.layerPath(chainId);
    const record: LayerRecord = { chainId, diffId, parent, blobDigest, mediaType, size: await diskUsageOf(path), entries: 0, created: isoTime() };
    await writeFileAtomic(this.#layerMetaPath(chainId), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644, tmpPath: join(await this.#ownerDir(this.#owner!), `meta-${randomHex(6)}`) });
    return { ...record, path };
  }

  // -------------------------------------------------------------------------------------------
  // Image records

  /**
   * images.json as it is now, read without the store's lock (nor making the store's directory):
   * `pocker images`, `inspect` and `history` read the list and need neither the addon (flock) nor
   * a write. A reader sees the old or the new list, because #writeImages replaces the file by
   * rename; but on a full disk it writes the file over in place, under the lock, and a reader then
   * may see it half written: a list that does not parse is read again under the lock. A caller that
   * changes the list holds the lock itself (re-entrant), so its reads are the locked ones.
   */
  async #snapshot(): Promise<ImagesFile> {
    try {
      return await this.#readImages();
    } catch (err) {
      if (err instanceof PockerError && err.code === 'ERR_POCKER_STORE_CORRUPT') return this.withLock(() => this.#readImages());
      throw err;
    }
  }

  /** Reads and validates images.json (missing: empty). Corrupt: ERR_POCKER_STORE_CORRUPT. */
  async #readImages(): Promise<ImagesFile> {
    const path = this.imagesFile;
    let text: string;
    try {
      text = await readFileAsync(path, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { version: IMAGES_VERSION, images: {} };
      throw fromSystemError(err, 'store', `cannot read ${path}`);
    }
    const corrupt = (why: string, cause?: unknown) =>
      storeError(`the image list ${path} is corrupt (${why}); pocker does not reset it: repair it, or move it away to start with no images`, 'ERR_POCKER_STORE_CORRUPT', 'store', {
        path,
        ...(cause !== undefined ? { cause } : {}),
      });
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw corrupt(`invalid JSON: ${(err as Error).message}`, err);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt('not a JSON object');
    const file = data as { version?: unknown; images?: unknown };
    if (file.version !== IMAGES_VERSION) throw corrupt(`unknown version ${JSON.stringify(file.version)}`);
    if (typeof file.images !== 'object' || file.images === null || Array.isArray(file.images)) throw corrupt('"images" is not an object');
    const images: Record<string, ImageRecord> = Object.create(null) as Record<string, ImageRecord>;
    for (const [name, rec] of Object.entries(file.images)) {
      if (!NAME_RE.test(name)) throw corrupt(`invalid image name ${JSON.stringify(name)}`);
      const problems = recordProblems(rec);
      if (problems.length) throw corrupt(`image ${JSON.stringify(name)}: ${problems.join(', ')}`);
      images[name] = cleanRecord(rec as ImageRecord);
    }
    return { version: IMAGES_VERSION, images };
  }

  /**
   * Atomic rewrite of images.json. Under the lock. On a full disk (ENOSPC, EDQUOT) the temp copy
   * cannot be written; a document no larger than the current file (rmi, untag: what frees space)
   * is then written over it in place (overwriteInPlace), so that a full disk never stops the user
   * from freeing space with pocker.
   */
  async #writeImages(file: ImagesFile): Promise<void> {
    const sorted: Record<string, ImageRecord> = {};
    for (const name of Object.keys(file.images).sort()) sorted[name] = file.images[name]!;
    const text = `${JSON.stringify({ version: IMAGES_VERSION, images: sorted }, null, 2)}\n`;
    try {
      await writeFileAtomic(this.imagesFile, text, { mode: 0o644, tmpPath: `${this.imagesFile}.tmp` });
    } catch (err) {
      if ((isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) && (await overwriteInPlace(this.imagesFile, Buffer.from(text)))) return;
      throw fromSystemError(err, 'store', `cannot write ${this.imagesFile}`);
    }
  }

  async getImage(name: string): Promise<ImageRecord | undefined> {
    validateName(name);
    return (await this.#snapshot()).images[name];
  }

  /** Every image, newest first (then by name). */
  async listImages(): Promise<ImageEntry[]> {
    const file = await this.#snapshot();
    return Object.entries(file.images)
      .map(([name, rec]) => ({ name, ...rec }))
      .sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * An image by name, by full id (`sha256:…`) or by a unique prefix of the id's hex (at least 4
   * digits), as `docker rmi`/`inspect` accept. A prefix matching several ids: ERR_POCKER_AMBIGUOUS.
   */
  async resolveImage(nameOrId: string): Promise<ImageEntry | undefined> {
    const file = await this.#snapshot();
    const byName = file.images[nameOrId];
    if (byName) return { name: nameOrId, ...byName };
    const m = /^(?:(sha256|sha512):)?([0-9a-f]{4,128})$/.exec(nameOrId);
    if (!m) return undefined;
    const matches = Object.entries(file.images)
      .filter(([, r]) => {
        const { algorithm, hex } = parseDigest(r.id);
        return (!m[1] || m[1] === algorithm) && hex.startsWith(m[2]!);
      })
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const ids = new Set(matches.map(([, r]) => r.id));
    if (ids.size > 1) {
      throw storeError(`image id prefix ${nameOrId} is ambiguous: it matches ${[...ids].join(', ')}`, 'ERR_POCKER_AMBIGUOUS', 'store');
    }
    const [first] = matches;
    return first ? { name: first[0], ...first[1] } : undefined;
  }

  /**
   * Records (or replaces) an image under `name`. Every blob (manifest, config, index) and layer it
   * refers to must already be in the store. Returns the record it replaced, if any.
   */
  async putImage(name: string, record: ImageRecord): Promise<ImageRecord | undefined> {
    validateName(name);
    const problems = recordProblems(record);
    if (problems.length) {
      throw new PockerError(`invalid image record for ${name}: ${problems.join(', ')}`, { code: 'ERR_POCKER_INVALID', step: 'store' });
    }
    const rec = cleanRecord(record);
    return this.withLock(async () => {
      for (const digest of [rec.manifestDigest, rec.configDigest, ...(rec.indexDigest ? [rec.indexDigest] : [])]) {
        if (!(await this.hasBlob(digest))) throw notFound(`cannot record image ${name}: blob ${digest} is not in the image store`, this.blobPath(digest));
      }
      for (const chainId of rec.layers) {
        if (!(await this.hasLayer(chainId))) throw notFound(`cannot record image ${name}: layer ${chainId} is not in the image store`, this.layerPath(chainId));
      }
      const file = await this.#readImages();
      const previous = file.images[name];
      file.images[name] = rec;
      await this.#writeImages(file);
      // What the record references is protected by it now.
      const owner = this.#owner;
      if (owner && owner.leases.size) {
        const covered = await this.#referencedBy([rec]);
        const before = owner.leases.size;
        for (const key of [...owner.leases]) if (covered.has(key)) owner.leases.delete(key);
        if (owner.leases.size !== before) await this.#writeLeases();
      }
      return previous;
    });
  }

  /** Removes the name. Returns the removed record (undefined when there was none). Blobs and layers stay until prune(). */
  async removeImage(name: string): Promise<ImageRecord | undefined> {
    validateName(name);
    return this.withLock(async () => {
      const file = await this.#readImages();
      const previous = file.images[name];
      if (!previous) return undefined;
      delete file.images[name];
      await this.#writeImages(file);
      return previous;
    });
  }

  /** Gives the image `source` (a name, id or unique id prefix) the name `target` too. Returns the record. */
  async tagImage(source: string, target: string): Promise<ImageRecord> {
    validateName(target, 'target image name');
    return this.withLock(async () => {
      const found = await this.resolveImage(source);
      if (!found) throw notFound(`no such image: ${source}`);
      const { name: _name, ...rec } = found;
      const file = await this.#readImages();
      file.images[target] = cleanRecord(rec);
      await this.#writeImages(file);
      return file.images[target]!;
    });
  }

  /** Names of the images whose layer stack contains chainId. */
  async imagesUsingLayer(chainId: string): Promise<string[]> {
    this.layerPath(chainId);
    const file = await this.#snapshot();
    return Object.entries(file.images)
      .filter(([, r]) => r.layers.includes(chainId))
      .map(([n]) => n)
      .sort();
  }

  // -------------------------------------------------------------------------------------------
  // Prune and disk usage

  /**
   * Blob digests and `layer:<chainId>` keys the records reference: their manifest, index, config,
   * layers, and each layer's blob (from the manifest and from the layer metadata).
   */
  async #referencedBy(records: Iterable<ImageRecord>): Promise<Set<string>> {
    const refs = new Set<string>();
    for (const r of records) {
      refs.add(r.manifestDigest);
      refs.add(r.configDigest);
      if (r.indexDigest) refs.add(r.indexDigest);
      for (const chainId of r.layers) {
        refs.add(LAYER_LEASE + chainId);
        const meta = await this.getLayer(chainId);
        if (meta) refs.add(meta.blobDigest);
      }
      try {
        const manifest = JSON.parse((await readFileAsync(this.blobPath(r.manifestDigest))).toString('utf8')) as {
          config?: { digest?: unknown };
          layers?: Array<{ digest?: unknown }>;
        };
        for (const d of [manifest.config?.digest, ...(Array.isArray(manifest.layers) ? manifest.layers.map((l) => l?.digest) : [])]) {
          if (typeof d === 'string') refs.add(d);
        }
      } catch {
        // A missing or foreign manifest: the layer metadata above still names the blobs.
      }
    }
    return refs;
  }

  /** Blob digests present in blobs/, with their paths. */
  async #listBlobs(): Promise<Array<{ digest: string; path: string }>> {
    const out: Array<{ digest: string; path: string }> = [];
    for (const algorithm of ['sha256', 'sha512']) {
      const dir = join(this.blobsDir, algorithm);
      let names: string[];
      try {
        names = await readdirAsync(dir);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw fromSystemError(err, 'store', `cannot read ${dir}`);
      }
      for (const hex of names) {
        const digest = `${algorithm}:${hex}`;
        try {
          parseDigest(digest);
        } catch {
          continue; // not ours
        }
        out.push({ digest, path: join(dir, hex) });
      }
    }
    return out;
  }

  /** Chain ids with an entry (dir and/or metadata) in layers/. */
  async #listLayers(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdirAsync(this.layersDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw fromSystemError(err, 'store', `cannot read ${this.layersDir}`);
    }
    const ids = new Set<string>();
    for (const name of names) {
      const hex = name.endsWith('.json') ? name.slice(0, -5) : name;
      if (/^[0-9a-f]{64}$/.test(hex)) ids.add(`sha256:${hex}`);
    }
    return [...ids].sort();
  }

  /**
   * Removes the blobs and layers no image references (nor a live pull leases, nor `keepLayers`),
   * and what dead processes left in tmp/; with `dangling: false`, first the images whose id is not
   * in `keepImages`. Returns what went and the space freed.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const dangling = options.dangling ?? true;
    const keepImages = new Set(options.keepImages ?? []);
    const keepLayers = new Set(options.keepLayers ?? []);
    const owner = await this.#open();
    const doomed: string[] = [];
    const result = await this.withLock(async () => {
      const res: PruneResult = { imagesRemoved: [], blobsRemoved: [], layersRemoved: [], freedBytes: 0 };
      const file = await this.#readImages();
      if (!dangling) {
        for (const [name, rec] of Object.entries(file.images)) {
          if (keepImages.has(rec.id)) continue;
          delete file.images[name];
          res.imagesRemoved.push(name);
        }
        if (res.imagesRemoved.length) await this.#writeImages(file);
      }
      const { leases, freed } = await this.#cleanTmp();
      res.freedBytes += freed;
      const keep = await this.#referencedBy(Object.values(file.images));
      for (const l of leases) keep.add(l);
      for (const c of keepLayers) keep.add(LAYER_LEASE + c);

      for (const chainId of await this.#listLayers()) {
        if (keep.has(LAYER_LEASE + chainId)) continue;
        const path = this.layerPath(chainId);
        // Out of layers/ atomically now; deleted after the lock is released.
        if (await exists(path)) {
          // Without its own tmp dir (a full disk) straight into tmp/: an entry of no live owner,
          // which the next clean-up of tmp/ removes if this process does not.
          const trashName = `prune-${chainId.slice(7, 23)}-${randomHex(6)}`;
          const trash = owner.hasDir ? join(owner.dir, trashName) : join(this.tmpDir, `${owner.id}-${trashName}`);
          await rename(path, trash);
          doomed.push(trash);
        }
        const meta = this.#layerMetaPath(chainId);
        res.freedBytes += await diskUsageOf(meta);
        await rm(meta, { force: true });
        res.layersRemoved.push(chainId);
      }
      for (const { digest, path } of await this.#listBlobs()) {
        if (keep.has(digest)) continue;
        res.freedBytes += await diskUsageOf(path);
        await rm(path, { force: true });
        res.blobsRemoved.push(digest);
      }
      return res;
    });
    for (const trash of doomed) {
      result.freedBytes += await diskUsageOf(trash);
      await removeTree(trash);
    }
    return result;
  }

  /** `system df`: disk usage per layer and image, blobs, tmp/, and what prune() would reclaim. */
  async diskUsage(): Promise<DiskUsage> {
    const file = await this.#snapshot();
    const referenced = await this.#referencedBy(Object.values(file.images));
    const seen = new Set<string>();
    const layerImages = new Map<string, string[]>();
    for (const [name, rec] of Object.entries(file.images)) {
      for (const c of rec.layers) layerImages.set(c, [...(layerImages.get(c) ?? []), name]);
    }
    const layers: LayerUsage[] = [];
    let reclaimable = 0;
    for (const chainId of await this.#listLayers()) {
      const path = this.layerPath(chainId);
      const size = (await diskUsageOf(path, seen)) + (await diskUsageOf(`${path}.json`, seen));
      const meta = await this.getLayer(chainId);
      layers.push({ chainId, ...(meta ? { diffId: meta.diffId } : {}), size, images: (layerImages.get(chainId) ?? []).sort() });
      if (!referenced.has(LAYER_LEASE + chainId)) reclaimable += size;
    }
    let blobsSize = 0;
    const blobList = await this.#listBlobs();
    for (const { digest, path } of blobList) {
      const size = await diskUsageOf(path, seen);
      blobsSize += size;
      if (!referenced.has(digest)) reclaimable += size;
    }
    const tmpSize = await diskUsageOf(this.tmpDir, seen);
    reclaimable += tmpSize;
    const sizeOf = new Map(layers.map((l) => [l.chainId, l.size]));
    const images: ImageUsage[] = Object.entries(file.images)
      .map(([name, rec]) => {
        let size = 0;
        let sharedSize = 0;
        for (const c of new Set(rec.layers)) {
          const s = sizeOf.get(c) ?? 0;
          size += s;
          const others = (layerImages.get(c) ?? []).some((n) => file.images[n]!.id !== rec.id);
          if (others) sharedSize += s;
        }
        return { name, id: rec.id, size, sharedSize, uniqueSize: size - sharedSize };
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const layersSize = layers.reduce((n, l) => n + l.size, 0);
    const rest = (await diskUsageOf(this.imagesFile, seen)) + (await diskUsageOf(this.lockFile, seen));
    return {
      layers,
      images,
      blobs: { count: blobList.length, size: blobsSize },
      totals: {
        images: images.length,
        layers: layers.length,
        layersSize,
        blobsSize,
        tmpSize,
        size: layersSize + blobsSize + tmpSize + rest,
        reclaimable,
      },
    };
  }
}

/**
 * Writes `data` over the file at `path` in place when it is no larger than the file: no block is
 * allocated, so it works on a full disk. The document is padded with spaces to the file's length
 * first (JSON allows trailing white space, so the file is a whole document before and after the
 * write), written with one pwrite at offset 0 and fsync'd, then the file is cut to the document's
 * length. Not atomic against a crash during that one write of a small file, which is why it is only
 * the fallback of the atomic rename. Returns false (nothing written) when `data` is larger.
 */
async function overwriteInPlace(path: string, data: Buffer): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_WRONLY);
  } catch {
    return false;
  }
  try {
    const { size } = await fh.stat();
    if (data.length > size) return false;
    const padded = Buffer.alloc(size, 0x20);
    data.copy(padded);
    // The padding ends with a newline, as the document does.
    if (size > data.length) padded[size - 1] = 0x0a;
    await fh.write(padded, 0, size, 0);
    await fh.sync();
    await fh.truncate(data.length);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}
