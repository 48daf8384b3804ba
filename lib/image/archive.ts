// Moving images without a registry: `load` (docker-save and OCI image layout tarballs), `save`
// (a tarball both `docker load` and OCI tools read) and `import` (a root filesystem tarball becomes a
// one-layer image, with Dockerfile-like `--change`s).
//
// load: the tarball is streamed once into a private staging dir under the store's tmp/ (never held
// in memory; archive paths are only map keys, never filesystem paths, so a hostile archive name
// cannot reach anything). Every `blobs/<alg>/<hex>` entry is verified against its name while it
// streams, and every other file is hashed. Then the whole archive is checked (manifests, configs,
// sizes, diff ids of uncompressed docker-save layers) before anything is written to the store: a
// corrupt archive leaves no blob, layer or image record behind. Only then are the blobs written
// (verified again by the store), the layers extracted (ensureLayer: one per chain id, safe
// extraction) and the names recorded.
//
// save: writes what Docker 25+ writes: an OCI image layout (`oci-layout`, `index.json`, `blobs/`)
// plus Docker's `manifest.json` and `repositories`, with uncompressed layers (docker-save layers are
// tars whose digest is the diff id; stored gzip blobs are decompressed, twice: once to learn the
// size and check the digest before any output, once to stream it). `format: 'oci'` writes only the
// OCI layout, with the stored blobs as they are when they are all there (the pulled digests).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { close as closeCb, constants as fsConstants, createReadStream, open as openCb, write as writeCb } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { extract as tarExtract, pack as tarPack, type Header, type Pack } from 'tar-stream';

type TarHeaders = Partial<Header> & Pick<Header, 'name'>;

import { drained, toBuffer } from './streams.js';
import { isSignalSpec } from '../signals.js';
import { randomHex } from '../random.js';
import { PockerError, invalid, type PockerErrorCode, type SetupStep } from '../errors.js';
import { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { HashingStream, VerifyingStream } from './hashing.js';
import { lockedBySomeoneElse, nativeFlock, tryFlock } from './lock.js';
import { parseReference } from './reference.js';
import { hostPlatform, selectManifest } from './registry.js';
import { ImageStore, type ImageRecord } from './store.js';
import {
  ANNOTATION_REF_NAME,
  CONFIG_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  MEDIA_TYPE_OCI_MANIFEST,
  type ContainerConfig,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './types.js';
import { isoTime } from '../state/timestamps.js';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const writeFd = promisify(writeCb);

// ---------------------------------------------------------------------------------------------
// Public types

/** containerd's (and Docker 25+'s) annotation with the full image name in an OCI layout's index.json. */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';

/** What loadImages() and importRootfs() report while they work. */
export type ArchiveEvent =
  /** A layer: `Loading layer` (with bytes read so far), `Already exists`, `Loaded`. */
  | { type: 'layer'; id: string; status: 'Loading layer' | 'Already exists' | 'Loaded'; current?: number; total?: number }
  /** A name now points to another image than before (Docker: "renaming the old one … to empty string"). */
  | { type: 'replaced'; name: string; previousId: string; id: string }
  /** An image was recorded: under `name` (canonical), or by its id only when untagged. */
  | { type: 'loaded'; name?: string; id: string };

export interface LoadOptions {
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  onEvent?: (event: ArchiveEvent) => void;
}

export interface SaveOptions {
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  /**
   * `docker` (default): an OCI layout with uncompressed layers plus Docker's manifest.json and
   * repositories (what Docker 25+ writes; `docker load`, skopeo's docker-archive: and oci-archive:
   * read it). `oci`: the OCI layout only, with the stored blobs as they are when possible.
   */
  format?: 'docker' | 'oci';
}

export interface ImportOptions {
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  /** `REPOSITORY[:TAG]` to record the image under (default: untagged, by id only). */
  reference?: string;
  /** Dockerfile-like instructions applied to the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL, ONBUILD. */
  changes?: string[];
  /** The history comment (default `Imported from <source>`). */
  message?: string;
  /** Where the tarball came from, for the default comment (default `-`). */
  source?: string;
  onEvent?: (event: ArchiveEvent) => void;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Biggest JSON document (manifest, index, config, manifest.json) read into memory. */
const MAX_JSON_BYTES = 32 * 1024 * 1024;
/** Staged files are written in batches of about this size. */
const WRITE_BATCH = 1 << 20;
/** Symlinks followed in a row inside an archive before giving up. */
const MAX_LINK_HOPS = 16;
/** Fixed times of saved entries: the same images give the same tarball. */
const EPOCH = new Date(0);

function archiveError(message: string, step: SetupStep, code: PockerErrorCode = 'ERR_POCKER_INVALID', cause?: unknown): PockerError {
  return new PockerError(message, { code, step, ...(cause !== undefined ? { cause } : {}) });
}

function digestError(message: string, step: SetupStep): PockerError {
  return archiveError(message, step, 'ERR_POCKER_DIGEST');
}

const inputBytes = (chunk: unknown): Buffer => toBuffer(chunk, 'the input', 'load');

/** Docker shows layers by the first 12 hex digits of a digest. */
function shortId(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** Compression by magic number. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

type ZstdZlib = typeof zlib & { createZstdDecompress?: () => Transform };

/** A decompressor for `compression`, or undefined for plain data. Unsupported ones: ERR_POCKER_UNSUPPORTED. */
function decompressor(compression: Compression, what: string, step: SetupStep): Transform | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd': {
      const zstd = (zlib as ZstdZlib).createZstdDecompress;
      if (typeof zstd !== 'function') {
        throw archiveError(`${what} is zstd-compressed: that needs Node ≥ 22.15 (this is Node ${process.version})`, step, 'ERR_POCKER_UNSUPPORTED');
      }
      return zstd.call(zlib);
    }
    default:
      throw archiveError(`${what} is ${compression}-compressed: pocker reads plain, gzip and zstd tarballs (decompress it first)`, step, 'ERR_POCKER_UNSUPPORTED');
  }
}

/** Reads the first `n` bytes of a stream and gives them back with a stream of everything (head included). */
async function peek(input: Readable | AsyncIterable<unknown>, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = inputBytes(r.value);
    chunks.push(b);
    length += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    let finished = done;
    try {
      if (head.length) yield head;
      while (!finished) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          break;
        }
        yield inputBytes(r.value);
      }
    } finally {
      if (!finished) await it.return?.();
    }
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}

/** The input, decompressed when its magic number says so. */
async function decompressedInput(input: Readable | AsyncIterable<unknown>, what: string, step: SetupStep): Promise<Readable> {
  const { head, stream } = await peek(input, 6);
  const d = decompressor(sniffCompression(head), what, step);
  if (!d) return stream;
  stream.on('error', (err) => d.destroy(err));
  d.on('close', () => {
    if (!stream.destroyed && !stream.readableEnded) stream.destroy();
  });
  return stream.pipe(d);
}

/** A readable of the stream through the transforms, errors of every stage reaching the end. */
function chain(source: Readable, ...transforms: Transform[]): Readable {
  let current: Readable = source;
  for (const t of transforms) {
    const from = current;
    from.on('error', (err) => t.destroy(err));
    t.on('close', () => {
      if (!from.destroyed && !from.readableEnded) from.destroy();
    });
    current = from.pipe(t);
  }
  return current;
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The canonical name an image reference is stored under (`alpine` → `docker.io/library/alpine:latest`). */
export function canonicalName(reference: string): string {
  const ref = parseReference(reference);
  return ref.digest ? `${ref.name}@${ref.digest}` : ref.canonical;
}

/** Is the stored name an image id (an untagged image) rather than a reference? */
function isIdName(name: string): boolean {
  return /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(name);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Staging: a private dir in the store's tmp/, owned like the store's own entries

/**
 * A directory `tmp/<id>/` kept alive by an flock on `tmp/<id>.lock`, the store's convention for
 * tmp/ owners: another pocker opening the store leaves it alone while this process lives, and
 * removes it once it is dead (a SIGKILL'd load leaves nothing for good).
 */
class Staging {
  private constructor(
    readonly dir: string,
    private readonly lockPath: string,
    private readonly fd: number,
  ) {}

  static async create(store: ImageStore): Promise<Staging> {
    await store.open();
    return store.withLock(async () => {
      const id = `${process.pid}-${randomHex(6)}`;
      const lockPath = join(store.tmpDir, `${id}.lock`);
      const dir = join(store.tmpDir, id);
      const fd = await openFd(lockPath, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      try {
        if (!tryFlock(nativeFlock(), fd, true, lockPath)) throw lockedBySomeoneElse(lockPath);
        const data = Buffer.from(`${JSON.stringify({ pid: process.pid, leases: [] })}\n`);
        await writeFd(fd, data, 0, data.length, 0);
        await mkdir(dir, { mode: 0o700 });
      } catch (err) {
        await closeFd(fd).catch(() => {});
        await rm(lockPath, { force: true });
        throw err;
      }
      return new Staging(dir, lockPath, fd);
    });
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    await rm(this.lockPath, { force: true }).catch(() => {});
    await closeFd(this.fd).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Reading an archive

interface StagedFile {
  /** Where its content is, in the staging dir. */
  path: string;
  size: number;
  /** `sha256:<hex>` of the content (`sha512:` for entries under blobs/sha512/). */
  digest: string;
}

/** Normalises an archive path: no leading `./` or `/`, no trailing `/`; undefined when it climbs out. */
function archivePath(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (n === '' || n === '.' || n.split('/').includes('..')) return undefined;
  return n;
}

const BLOB_PATH_RE = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/;

class StagedArchive {
  readonly files = new Map<string, StagedFile>();
  readonly links = new Map<string, string>();

  /** The file at an archive path, through symlinks and hard links. */
  file(name: string): StagedFile | undefined {
    let path = archivePath(name);
    for (let hops = 0; path !== undefined && hops <= MAX_LINK_HOPS; hops++) {
      const f = this.files.get(path);
      if (f) return f;
      path = this.links.get(path);
    }
    return undefined;
  }

  /** The blob with this digest (verified when it was staged), or undefined. */
  blob(digest: string): StagedFile | undefined {
    const { algorithm, hex } = parseDigest(digest, 'load', 'blob digest');
    const f = this.file(`blobs/${algorithm}/${hex}`);
    return f && f.digest === digest ? f : undefined;
  }

  has(name: string): boolean {
    return this.file(name) !== undefined;
  }

  async json(f: StagedFile, what: string): Promise<unknown> {
    if (f.size > MAX_JSON_BYTES) throw archiveError(`${what} is too large (${f.size} bytes)`, 'load');
    const text = await readFile(f.path, 'utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw archiveError(`${what} is not valid JSON: ${(err as Error).message}`, 'load');
    }
  }
}

/** Streams a (maybe compressed) tarball into `dir`, hashing every file and verifying every blob. */
async function stageArchive(input: Readable, dir: string): Promise<StagedArchive> {
  const archive = new StagedArchive();
  const source = await decompressedInput(input, 'the archive', 'load');
  const extractor = tarExtract();
  let feedError: unknown;
  source.on('error', (err) => {
    feedError = err;
    extractor.destroy(err);
  });
  source.pipe(extractor as unknown as Writable);
  let counter = 0;
  try {
    for await (const entry of extractor) {
      const header = entry.header;
      const name = archivePath(header.name);
      const type = header.type ?? 'file';
      if (name === undefined || (type !== 'file' && type !== 'contiguous-file')) {
        if (name !== undefined && (type === 'symlink' || type === 'link') && header.linkname) {
          // A symlink is relative to its directory; a hard link names another archive path.
          const target = type === 'symlink' && !header.linkname.startsWith('/') ? posix.join(posix.dirname(name), header.linkname) : header.linkname;
          const resolved = archivePath(target);
          if (resolved !== undefined) archive.links.set(name, resolved);
        }
        entry.resume();
        await once(entry, 'end').catch(() => {});
        continue;
      }
      const m = BLOB_PATH_RE.exec(name);
      const algorithm: DigestAlgorithm = m?.[1] === 'sha512' ? 'sha512' : 'sha256';
      const path = join(dir, `f${counter++}`);
      const fh: FileHandle = await open(path, 'wx', 0o600);
      const hash = createHash(algorithm);
      let size = 0;
      try {
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = async () => {
          const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
          pending = [];
          pendingBytes = 0;
          let off = 0;
          while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, null)).bytesWritten;
        };
        for await (const chunk of entry) {
          const buf = inputBytes(chunk);
          hash.update(buf);
          size += buf.length;
          pending.push(buf);
          pendingBytes += buf.length;
          if (pendingBytes >= WRITE_BATCH) await flush();
        }
        if (pendingBytes) await flush();
      } finally {
        await fh.close();
      }
      const digest = `${algorithm}:${hash.digest('hex')}`;
      if (m && digest !== `${m[1]}:${m[2]}`) {
        throw digestError(`the archive's blob ${m[1]}:${m[2]} is corrupt: its content has digest ${digest}`, 'load');
      }
      archive.links.delete(name);
      archive.files.set(name, { path, size, digest });
    }
  } catch (err) {
    source.destroy();
    extractor.destroy();
    if (err instanceof PockerError) throw err;
    const cause = feedError ?? err;
    if (cause instanceof PockerError) throw cause;
    throw archiveError(`cannot read the archive: ${(cause as Error)?.message ?? String(cause)}`, 'load', 'ERR_POCKER_INVALID', cause);
  }
  if (feedError) {
    throw feedError instanceof PockerError ? feedError : archiveError(`cannot read the archive: ${(feedError as Error).message}`, 'load', 'ERR_POCKER_INVALID', feedError);
  }
  return archive;
}

// ---------------------------------------------------------------------------------------------
// load

/** One image of an archive, checked and ready to be written to the store. */
interface ImagePlan {
  /** Canonical names (empty: untagged). */
  names: string[];
  manifestDigest: string;
  indexDigest?: string;
  configDigest: string;
  config: ImageConfig;
  layers: Array<{ digest: string; mediaType: string; size: number }>;
  diffIds: string[];
}

/** A blob to write: from the staging dir, or generated (a manifest pocker made). */
interface BlobSource {
  size: number;
  path?: string;
  data?: Buffer;
}

function parseConfig(raw: unknown, what: string): ImageConfig {
  if (!isObject(raw)) throw archiveError(`${what} is not a JSON object`, 'load');
  const rootfs = raw.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every((d) => typeof d === 'string')) {
    throw archiveError(`${what} is not an image config (rootfs.diff_ids missing)`, 'load');
  }
  if (raw.config !== undefined && raw.config !== null && !isObject(raw.config)) throw archiveError(`${what}: "config" is not an object`, 'load');
  if (typeof raw.os === 'string' && raw.os !== '' && raw.os !== 'linux') {
    throw archiveError(`${what}: the image is for ${raw.os}, pocker runs linux images`, 'load', 'ERR_POCKER_UNSUPPORTED');
  }
  for (const [i, d] of (rootfs.diff_ids as string[]).entries()) parseDigest(d, 'load', `diff id #${i} of ${what}`);
  return raw as unknown as ImageConfig;
}

function checkLayerMediaType(mediaType: string, what: string): void {
  if (/encrypted/.test(mediaType)) throw archiveError(`${what} has media type ${mediaType}: encrypted layers are not supported`, 'load', 'ERR_POCKER_UNSUPPORTED');
  if (!/tar/.test(mediaType)) throw archiveError(`${what} has media type ${mediaType}: not a layer`, 'load', 'ERR_POCKER_UNSUPPORTED');
}

/** Names from an index.json descriptor: containerd's full name, else a ref.name that is a full reference (a bare tag names nothing). */
function annotationNames(desc: Descriptor): string[] {
  const a = desc.annotations ?? {};
  const full = a[ANNOTATION_IMAGE_NAME];
  if (typeof full === 'string' && full !== '') return [canonicalName(full)];
  const ref = a[ANNOTATION_REF_NAME];
  if (typeof ref === 'string' && /[/:@]/.test(ref)) {
    try {
      return [canonicalName(ref)];
    } catch {
      return [];
    }
  }
  return [];
}

function stagedOrFail(archive: StagedArchive, desc: { digest: string; size: number }, what: string): StagedFile {
  const f = archive.blob(desc.digest);
  if (!f) throw archiveError(`${what} (${desc.digest}) is not in the archive`, 'load', 'ERR_POCKER_NOT_FOUND');
  if (f.size !== desc.size) throw digestError(`${what} (${desc.digest}) has ${f.size} bytes, its descriptor says ${desc.size}`, 'load');
  return f;
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  if (!isObject(d) || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw archiveError(`${what} is not a valid descriptor`, 'load');
  }
  parseDigest(d.digest, 'load', `digest of ${what}`);
  return { ...(d as unknown as Descriptor), mediaType: typeof d.mediaType === 'string' ? d.mediaType : '' };
}

/** Plans of an OCI image layout (index.json + blobs/). */
async function planOciLayout(archive: StagedArchive, blobs: Map<string, BlobSource>): Promise<ImagePlan[]> {
  const layout = archive.file('oci-layout');
  if (layout) {
    const l = await archive.json(layout, 'oci-layout');
    if (isObject(l) && typeof l.imageLayoutVersion === 'string' && !l.imageLayoutVersion.startsWith('1.')) {
      throw archiveError(`oci-layout: unsupported image layout version ${l.imageLayoutVersion}`, 'load', 'ERR_POCKER_UNSUPPORTED');
    }
  }
  const index = await archive.json(archive.file('index.json')!, 'index.json');
  if (!isObject(index) || !Array.isArray(index.manifests)) throw archiveError('index.json is not an image index', 'load');
  const plans = new Map<string, ImagePlan>();
  for (const [i, raw] of (index.manifests as unknown[]).entries()) {
    const desc = checkDescriptor(raw, `index.json manifests[${i}]`);
    const names = annotationNames(desc);
    let manifestDesc = desc;
    let indexDigest: string | undefined;
    const file = stagedOrFail(archive, desc, `index.json manifests[${i}]`);
    let doc = await archive.json(file, `blob ${desc.digest}`);
    const isIndex = INDEX_MEDIA_TYPES.includes(desc.mediaType) || (desc.mediaType === '' && isObject(doc) && Array.isArray(doc.manifests));
    if (isIndex) {
      if (!isObject(doc) || !Array.isArray(doc.manifests)) throw archiveError(`blob ${desc.digest} is not an image index`, 'load');
      // The platform of this host, among the manifests the archive actually holds.
      const present = (doc.manifests as unknown[])
        .map((m, j) => checkDescriptor(m, `manifests[${j}] of index ${desc.digest}`))
        .filter((m) => archive.blob(m.digest) !== undefined);
      manifestDesc = selectManifest({ ...(doc as unknown as ImageIndex), manifests: present }, hostPlatform(), names[0] ?? desc.digest);
      if (INDEX_MEDIA_TYPES.includes(manifestDesc.mediaType)) throw archiveError(`nested index ${manifestDesc.digest}: indexes of indexes are not supported`, 'load', 'ERR_POCKER_UNSUPPORTED');
      indexDigest = desc.digest;
      blobs.set(desc.digest, { size: file.size, path: file.path });
      const mfile = stagedOrFail(archive, manifestDesc, `manifest ${manifestDesc.digest}`);
      doc = await archive.json(mfile, `manifest ${manifestDesc.digest}`);
    } else if (desc.mediaType !== '' && !MANIFEST_MEDIA_TYPES.includes(desc.mediaType)) {
      continue; // an artifact or something else that is not an image
    }
    const existing = plans.get(manifestDesc.digest);
    if (existing) {
      for (const n of names) if (!existing.names.includes(n)) existing.names.push(n);
      continue;
    }
    const plan = await planManifest(archive, blobs, manifestDesc, doc, names);
    if (indexDigest) plan.indexDigest = indexDigest;
    plans.set(manifestDesc.digest, plan);
  }
  if (plans.size === 0) throw archiveError('index.json names no image manifest', 'load', 'ERR_POCKER_NOT_FOUND');
  return [...plans.values()];
}

async function planManifest(archive: StagedArchive, blobs: Map<string, BlobSource>, desc: Descriptor, doc: unknown, names: string[]): Promise<ImagePlan> {
  const what = `manifest ${desc.digest}`;
  if (!isObject(doc) || doc.schemaVersion !== 2 || !Array.isArray(doc.layers)) throw archiveError(`${what} is not an image manifest`, 'load');
  if (typeof doc.mediaType === 'string' && !MANIFEST_MEDIA_TYPES.includes(doc.mediaType)) {
    throw archiveError(`${what} has media type ${doc.mediaType}: not an image manifest`, 'load', 'ERR_POCKER_UNSUPPORTED');
  }
  const mfile = stagedOrFail(archive, desc, what);
  const configDesc = checkDescriptor(doc.config, `the config of ${what}`);
  if (configDesc.mediaType !== '' && !CONFIG_MEDIA_TYPES.includes(configDesc.mediaType)) {
    throw archiveError(`${what}: config media type ${configDesc.mediaType} is not an image config`, 'load', 'ERR_POCKER_UNSUPPORTED');
  }
  const cfile = stagedOrFail(archive, configDesc, `the config of ${what}`);
  const config = parseConfig(await archive.json(cfile, `config ${configDesc.digest}`), `config ${configDesc.digest}`);
  const layers = (doc.layers as unknown[]).map((l, i) => checkDescriptor(l, `layer #${i} of ${what}`));
  if (layers.length !== config.rootfs.diff_ids.length) {
    throw archiveError(`${what} has ${layers.length} layers but its config ${config.rootfs.diff_ids.length} diff ids`, 'load');
  }
  blobs.set(desc.digest, { size: mfile.size, path: mfile.path });
  blobs.set(configDesc.digest, { size: cfile.size, path: cfile.path });
  for (const [i, l] of layers.entries()) {
    checkLayerMediaType(l.mediaType, `layer #${i} of ${what}`);
    const f = stagedOrFail(archive, l, `layer #${i} of ${what}`);
    blobs.set(l.digest, { size: f.size, path: f.path });
  }
  return {
    names: [...names],
    manifestDigest: desc.digest,
    configDigest: configDesc.digest,
    config,
    layers: layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
    diffIds: [...config.rootfs.diff_ids],
  };
}

/** Plans of a docker-save tarball (manifest.json: Config, RepoTags, Layers). */
async function planDockerSave(archive: StagedArchive, blobs: Map<string, BlobSource>): Promise<ImagePlan[]> {
  const doc = await archive.json(archive.file('manifest.json')!, 'manifest.json');
  if (!Array.isArray(doc)) throw archiveError('manifest.json is not a list of images', 'load');
  const plans = new Map<string, ImagePlan>();
  for (const [i, item] of doc.entries()) {
    const what = `manifest.json entry #${i}`;
    if (!isObject(item) || typeof item.Config !== 'string' || !Array.isArray(item.Layers) || !item.Layers.every((l) => typeof l === 'string')) {
      throw archiveError(`${what} has no Config and Layers`, 'load');
    }
    const repoTags = Array.isArray(item.RepoTags) ? item.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    let names: string[];
    try {
      names = repoTags.map((t) => canonicalName(t));
    } catch (err) {
      throw archiveError(`${what}: ${(err as Error).message}`, 'load');
    }
    const cfile = archive.file(item.Config);
    if (!cfile) throw archiveError(`${what}: its config ${item.Config} is not in the archive`, 'load', 'ERR_POCKER_NOT_FOUND');
    const configDigest = cfile.digest;
    const config = parseConfig(await archive.json(cfile, `config ${item.Config}`), `config ${item.Config}`);
    const diffIds = config.rootfs.diff_ids;
    const paths = item.Layers as string[];
    if (paths.length !== diffIds.length) throw archiveError(`${what} has ${paths.length} layers but its config ${diffIds.length} diff ids`, 'load');
    const layers: ImagePlan['layers'] = [];
    for (const [j, p] of paths.entries()) {
      const f = archive.file(p);
      if (!f) throw archiveError(`${what}: layer ${p} is not in the archive`, 'load', 'ERR_POCKER_NOT_FOUND');
      const compression = sniffCompression(await readHead(f.path, 6));
      let mediaType: string;
      if (compression === 'none') {
        // An uncompressed layer: its digest is its diff id.
        if (f.digest !== diffIds[j]) throw digestError(`${what}: layer ${p} has digest ${f.digest}, not its diff id ${diffIds[j]}`, 'load');
        mediaType = MEDIA_TYPE_OCI_LAYER;
      } else if (compression === 'gzip') mediaType = MEDIA_TYPE_OCI_LAYER_GZIP;
      else if (compression === 'zstd') mediaType = MEDIA_TYPE_OCI_LAYER_ZSTD;
      else throw archiveError(`${what}: layer ${p} is ${compression}-compressed, which pocker cannot read`, 'load', 'ERR_POCKER_UNSUPPORTED');
      layers.push({ digest: f.digest, mediaType, size: f.size });
      blobs.set(f.digest, { size: f.size, path: f.path });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: configDigest, size: cfile.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const data = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = digestOf(data);
    blobs.set(configDigest, { size: cfile.size, path: cfile.path });
    blobs.set(manifestDigest, { size: data.length, data });
    const existing = plans.get(manifestDigest);
    if (existing) {
      for (const n of names) if (!existing.names.includes(n)) existing.names.push(n);
      continue;
    }
    plans.set(manifestDigest, { names, manifestDigest, configDigest, config, layers, diffIds: [...diffIds] });
  }
  if (plans.size === 0) throw archiveError('manifest.json names no image', 'load', 'ERR_POCKER_NOT_FOUND');
  return [...plans.values()];
}

/** manifest.json's RepoTags by config digest (Docker 25+ archives have both files). */
async function dockerNamesByConfig(archive: StagedArchive): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const f = archive.file('manifest.json');
  if (!f) return out;
  let doc: unknown;
  try {
    doc = await archive.json(f, 'manifest.json');
  } catch {
    return out;
  }
  if (!Array.isArray(doc)) return out;
  for (const item of doc) {
    if (!isObject(item) || typeof item.Config !== 'string' || !Array.isArray(item.RepoTags)) continue;
    const cfile = archive.file(item.Config);
    if (!cfile) continue;
    const names = out.get(cfile.digest) ?? [];
    for (const t of item.RepoTags) {
      if (typeof t !== 'string') continue;
      try {
        const n = canonicalName(t);
        if (!names.includes(n)) names.push(n);
      } catch {
        // An invalid tag in the Docker half of the archive: the OCI half decides.
      }
    }
    out.set(cfile.digest, names);
  }
  return out;
}

/**
 * Loads the images of a docker-save or OCI image layout tarball (plain or gzip'd) into the store.
 * Returns what was recorded: canonical names (`docker.io/library/alpine:latest`), and the id
 * (`sha256:…`) of each untagged image.
 */
export async function loadImages(input: Readable, options: LoadOptions = {}): Promise<string[]> {
  const emit = options.onEvent ?? (() => {});
  const store = new ImageStore(options.root);
  let staging: Staging | undefined;
  try {
    staging = await Staging.create(store);
    const archive = await stageArchive(input, staging.dir);

    // Everything is checked before the store is touched.
    const blobs = new Map<string, BlobSource>();
    let plans: ImagePlan[];
    if (archive.has('index.json')) {
      plans = await planOciLayout(archive, blobs);
      const dockerNames = await dockerNamesByConfig(archive);
      for (const p of plans) for (const n of dockerNames.get(p.configDigest) ?? []) if (!p.names.includes(n)) p.names.push(n);
    } else if (archive.has('manifest.json')) {
      plans = await planDockerSave(archive, blobs);
    } else if (archive.has('repositories')) {
      throw archiveError('this is a docker-save archive from before Docker 1.10 (no manifest.json): not supported', 'load', 'ERR_POCKER_UNSUPPORTED');
    } else {
      throw archiveError('not a docker-save or OCI image layout archive: it has neither manifest.json nor index.json', 'load');
    }

    // Blobs, then layers, then names.
    for (const [digest, src] of blobs) {
      if (await store.claimBlob(digest)) continue;
      const body: Readable = src.data ? Readable.from([src.data]) : createReadStream(src.path!);
      await store.writeBlob({ digest, size: src.size }, body);
    }
    const loaded: string[] = [];
    for (const plan of plans) {
      const chainIds = store.chainId(plan.diffIds);
      for (const [i, layer] of plan.layers.entries()) {
        const id = shortId(layer.digest);
        const present = await store.hasLayer(chainIds[i]!);
        if (!present) emit({ type: 'layer', id, status: 'Loading layer', current: 0, total: layer.size });
        // Also for a present layer: leases it until the image is recorded.
        await store.ensureLayer(chainIds[i]!, plan.diffIds[i]!, i === 0 ? null : chainIds[i - 1]!, layer.digest, layer.mediaType, {
          onProgress: (current) => emit({ type: 'layer', id, status: 'Loading layer', current, total: layer.size }),
        });
        emit({ type: 'layer', id, status: present ? 'Already exists' : 'Loaded' });
      }
      const record: ImageRecord = {
        id: plan.configDigest,
        manifestDigest: plan.manifestDigest,
        ...(plan.indexDigest ? { indexDigest: plan.indexDigest } : {}),
        configDigest: plan.configDigest,
        layers: chainIds,
        created: typeof plan.config.created === 'string' && !Number.isNaN(Date.parse(plan.config.created)) ? plan.config.created : isoTime(),
        size: plan.layers.reduce((n, l) => n + l.size, 0),
      };
      loaded.push(...(await recordImage(store, plan.names, record, emit)));
    }
    return loaded;
  } finally {
    await staging?.dispose();
    await store.close();
  }
}

/** Records the image under each name; untagged, under its id unless some name already has that id. */
async function recordImage(store: ImageStore, names: string[], record: ImageRecord, emit: (e: ArchiveEvent) => void): Promise<string[]> {
  if (names.length === 0) {
    const known = (await store.listImages()).some((i) => i.id === record.id);
    if (!known) await store.putImage(record.id, record);
    emit({ type: 'loaded', id: record.id });
    return [record.id];
  }
  for (const name of names) {
    const previous = await store.putImage(name, record);
    if (previous && previous.id !== record.id) emit({ type: 'replaced', name, previousId: previous.id, id: record.id });
    emit({ type: 'loaded', name, id: record.id });
  }
  return [...names];
}

// ---------------------------------------------------------------------------------------------
// save

interface SavedBlob {
  digest: string;
  size: number;
  /** Content: bytes, or a stream made when it is written. */
  data?: Buffer;
  open?: () => Promise<Readable>;
}

interface SavedImage {
  id: string;
  /** Canonical names with a tag, as asked for. */
  names: string[];
  config: SavedBlob;
  manifest: SavedBlob;
  /** The layers as the manifest lists them. */
  layers: SavedBlob[];
  /** Uncompressed layer blobs, in manifest.json's order (docker format). */
  diffIds: string[];
}

/** An image by reference (first) or id / unique id prefix; undefined when absent. */
async function findImage(store: ImageStore, arg: string): Promise<{ name: string; record: ImageRecord; byId: boolean } | undefined> {
  let name: string | undefined;
  try {
    name = canonicalName(arg);
  } catch {
    name = undefined;
  }
  if (name) {
    const record = await store.getImage(name);
    if (record) return { name, record, byId: false };
  }
  const found = await store.resolveImage(arg);
  if (!found) return undefined;
  const { name: foundName, ...record } = found;
  // A full stored name matched: a name; an id or a prefix of one: by id.
  return { name: foundName, record, byId: foundName !== arg || isIdName(foundName) };
}

/** Where a layer's content is in the store: the manifest's blob, else the blob it was extracted from. */
async function layerBlob(store: ImageStore, manifestDigest: string | undefined, chainId: string): Promise<string | undefined> {
  if (manifestDigest && (await store.hasBlob(manifestDigest))) return manifestDigest;
  const meta = await store.getLayer(chainId);
  if (meta && (await store.hasBlob(meta.blobDigest))) return meta.blobDigest;
  return undefined;
}

/** The uncompressed layer `diffId` from blob `digest`: its size (checked against the digest now) and how to stream it. */
async function uncompressedLayer(store: ImageStore, digest: string, diffId: string): Promise<SavedBlob> {
  const path = store.blobPath(digest);
  const compression = sniffCompression(await readHead(path, 6));
  const what = `layer ${diffId}`;
  if (compression === 'none') {
    if (digest !== diffId) throw digestError(`${what}: its uncompressed blob ${digest} does not have the diff id's digest`, 'save');
    const { size } = await stat(path);
    return { digest: diffId, size, open: () => store.openBlob(digest) };
  }
  decompressor(compression, `blob ${digest}`, 'save'); // unsupported: fails now
  const stream = () => store.openBlob(digest).then((s) => chain(s, decompressor(compression, `blob ${digest}`, 'save')!));
  const hasher = new HashingStream(parseDigest(diffId).algorithm);
  const src = await stream();
  src.on('error', (err) => hasher.destroy(err));
  src.pipe(hasher);
  hasher.resume();
  await once(hasher, 'end');
  if (hasher.digest !== diffId) throw digestError(`${what}: blob ${digest} decompresses to content with digest ${hasher.digest}`, 'save');
  const size = hasher.bytes;
  return { digest: diffId, size, open: async () => chain(await stream(), new VerifyingStream(diffId, (why) => digestError(`${what}: ${why}`, 'save'), size)) };
}

async function prepareImage(store: ImageStore, record: ImageRecord, names: string[], format: 'docker' | 'oci'): Promise<SavedImage> {
  const configData = await store.readBlob(record.configDigest);
  let config: ImageConfig;
  try {
    config = parseConfig(JSON.parse(configData.toString('utf8')) as unknown, `config ${record.configDigest}`);
  } catch (err) {
    if (err instanceof PockerError) throw err;
    throw archiveError(`config ${record.configDigest} is not valid JSON`, 'save');
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== record.layers.length) throw archiveError(`image ${record.id}: ${record.layers.length} layers but ${diffIds.length} diff ids`, 'save');
  const manifestData = await store.readBlob(record.manifestDigest);
  let manifest: ImageManifest | undefined;
  try {
    const m = JSON.parse(manifestData.toString('utf8')) as unknown;
    if (isObject(m) && Array.isArray(m.layers) && isObject(m.config)) manifest = m as unknown as ImageManifest;
  } catch {
    manifest = undefined;
  }
  const configBlob: SavedBlob = { digest: record.configDigest, size: configData.length, data: configData };
  const base = { id: record.id, names, config: configBlob, diffIds: [...diffIds] };

  // OCI: the stored blobs as they are, when every one is there.
  if (format === 'oci' && manifest && manifest.layers.length === diffIds.length && manifest.config.digest === record.configDigest) {
    let all = true;
    for (const l of manifest.layers) if (!(await store.hasBlob(l.digest))) all = false;
    if (all) {
      return {
        ...base,
        manifest: { digest: record.manifestDigest, size: manifestData.length, data: manifestData },
        layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, open: () => store.openBlob(l.digest) })),
      };
    }
  }

  // Uncompressed layers (their digests are the diff ids).
  const layers: SavedBlob[] = [];
  for (const [i, diffId] of diffIds.entries()) {
    const blob = await layerBlob(store, manifest?.layers[i]?.digest, record.layers[i]!);
    if (!blob) {
      throw archiveError(`image ${record.id}: the content of layer ${diffId} is not in the store (pull or load the image again)`, 'save', 'ERR_POCKER_NOT_FOUND');
    }
    layers.push(await uncompressedLayer(store, blob, diffId));
  }
  // The stored manifest when it already lists exactly these blobs, else a new OCI manifest.
  const reusable =
    manifest &&
    (manifest.mediaType === undefined || manifest.mediaType === MEDIA_TYPE_OCI_MANIFEST) &&
    manifest.config.digest === record.configDigest &&
    manifest.layers.length === layers.length &&
    manifest.layers.every((l, i) => l.digest === layers[i]!.digest && l.size === layers[i]!.size);
  let manifestBlob: SavedBlob;
  if (reusable) manifestBlob = { digest: record.manifestDigest, size: manifestData.length, data: manifestData };
  else {
    const m: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: record.configDigest, size: configData.length },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPE_OCI_LAYER, digest: l.digest, size: l.size })),
    };
    const data = Buffer.from(JSON.stringify(m));
    manifestBlob = { digest: digestOf(data), size: data.length, data };
  }
  return { ...base, manifest: manifestBlob, layers };
}

/** Waits for `event` on `emitter`, or fails as soon as `abort` does. */
async function waitFor(emitter: NodeJS.EventEmitter, event: string, abort: Promise<never>): Promise<void> {
  await Promise.race([once(emitter, event), abort]);
}


/** Adds one entry to the pack: bytes, or a stream of exactly `size` bytes. */
async function addEntry(pack: Pack, header: TarHeaders, body: Buffer | (() => Promise<Readable>) | undefined, size: number, abort: Promise<never>): Promise<void> {
  const full: TarHeaders = { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, type: 'file', ...header, size };
  if (body === undefined || Buffer.isBuffer(body)) {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        pack.entry(full, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      }),
      abort,
    ]);
    return;
  }
  const source = await body();
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  done.catch(() => {});
  const sink = pack.entry(full, (err) => settle(err));
  try {
    for await (const chunk of source) {
      if (!sink.write(toBuffer(chunk, 'a blob', 'save'))) await waitFor(sink, 'drain', abort);
    }
  } catch (err) {
    sink.destroy(err as Error);
    throw err;
  }
  (sink as unknown as { end(): void }).end();
  await Promise.race([done, abort]);
}

/**
 * Writes the images (names, ids or id prefixes) as one tarball to `output` (ended at the end).
 * Every blob's digest is checked before it is written; a failure before the first byte leaves the
 * output untouched, later ones destroy the tar stream (the CLI writes to a temp file and renames).
 */
export async function saveImages(names: string[], output: Writable, options: SaveOptions = {}): Promise<void> {
  const format = options.format ?? 'docker';
  if (format !== 'docker' && format !== 'oci') throw invalid(`invalid save format ${JSON.stringify(format)}: docker or oci`);
  if (!Array.isArray(names) || names.length === 0) throw invalid('save: name at least one image');
  const store = new ImageStore(options.root);
  try {
    const byId = new Map<string, { record: ImageRecord; names: string[] }>();
    for (const arg of names) {
      const found = await findImage(store, arg);
      if (!found) throw archiveError(`No such image: ${arg}`, 'save', 'ERR_POCKER_NOT_FOUND');
      const entry = byId.get(found.record.id) ?? { record: found.record, names: [] };
      if (!found.byId && !isIdName(found.name) && !found.name.includes('@') && !entry.names.includes(found.name)) entry.names.push(found.name);
      byId.set(found.record.id, entry);
    }
    const images: SavedImage[] = [];
    for (const { record, names: n } of byId.values()) images.push(await prepareImage(store, record, n, format));

    const pack = tarPack();
    let failPump!: (err: unknown) => void;
    let pumpError: unknown;
    const aborted = new Promise<never>((_, reject) => (failPump = reject));
    aborted.catch(() => {});
    const pumping = (async () => {
      try {
        for await (const chunk of pack) {
          if (!output.write(chunk)) await drained(output, 'save');
        }
        await new Promise<void>((resolve, reject) => {
          output.once('error', reject);
          output.end(() => resolve());
        });
      } catch (err) {
        pumpError = err;
        failPump(err);
        throw err;
      }
    })();
    pumping.catch(() => {});
    try {
      const dir = (name: string) => addEntry(pack, { name, type: 'directory', mode: 0o755 }, undefined, 0, aborted);
      const file = (name: string, data: Buffer) => addEntry(pack, { name }, data, data.length, aborted);
      const written = new Set<string>();
      const blob = async (b: SavedBlob) => {
        if (written.has(b.digest)) return;
        written.add(b.digest);
        const { algorithm, hex } = parseDigest(b.digest, 'save', 'blob digest');
        if (!written.has(`dir:${algorithm}`)) {
          written.add(`dir:${algorithm}`);
          await dir(`blobs/${algorithm}/`);
        }
        await addEntry(pack, { name: `blobs/${algorithm}/${hex}` }, b.data ?? b.open!, b.size, aborted);
      };
      await file('oci-layout', Buffer.from(`${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`));
      await dir('blobs/');
      for (const img of images) {
        await blob(img.config);
        for (const l of img.layers) await blob(l);
        await blob(img.manifest);
      }
      const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] };
      for (const img of images) {
        const desc: Descriptor = { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: img.manifest.digest, size: img.manifest.size };
        if (img.names.length === 0) index.manifests.push(desc);
        for (const name of img.names) {
          const ref = parseReference(name);
          index.manifests.push({ ...desc, annotations: { [ANNOTATION_IMAGE_NAME]: name, [ANNOTATION_REF_NAME]: ref.tag ?? 'latest' } });
        }
      }
      await file('index.json', Buffer.from(`${JSON.stringify(index)}\n`));
      if (format === 'docker') {
        const manifest = images.map((img) => ({
          Config: `blobs/${parseDigest(img.config.digest).algorithm}/${parseDigest(img.config.digest).hex}`,
          RepoTags: img.names.length ? img.names.map((n) => parseReference(n).familiar) : null,
          Layers: img.diffIds.map((d) => `blobs/${parseDigest(d).algorithm}/${parseDigest(d).hex}`),
        }));
        await file('manifest.json', Buffer.from(`${JSON.stringify(manifest)}\n`));
        const repositories: Record<string, Record<string, string>> = {};
        for (const img of images) {
          const top = img.diffIds.at(-1);
          if (!top) continue;
          for (const name of img.names) {
            const ref = parseReference(name);
            const repo = ref.familiar.slice(0, ref.familiar.length - (ref.tag ?? '').length - 1);
            (repositories[repo] ??= {})[ref.tag ?? 'latest'] = parseDigest(top).hex;
          }
        }
        await file('repositories', Buffer.from(`${JSON.stringify(repositories)}\n`));
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
      await pumping.catch(() => {});
      // The output's failure (EPIPE, ENOSPC) is the cause when there is one, not the pack's aftermath.
      throw pumpError ?? err;
    }
    await pumping;
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// import

/**
 * Writes an image's config and its OCI manifest over `layers` into the store (import, commit);
 * returns both digests. The layer blobs must be in the store already.
 */
export async function storeConfigAndManifest(
  store: ImageStore,
  config: ImageConfig,
  layers: Descriptor[],
): Promise<{ configDigest: string; manifestDigest: string }> {
  const configData = Buffer.from(JSON.stringify(config));
  const configDigest = digestOf(configData);
  await store.writeBlob({ digest: configDigest, size: configData.length }, Readable.from([configData]));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: configDigest, size: configData.length },
    layers,
  };
  const manifestData = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = digestOf(manifestData);
  await store.writeBlob({ digest: manifestDigest, size: manifestData.length }, Readable.from([manifestData]));
  return { configDigest, manifestDigest };
}

/**
 * Makes a one-layer image of a root filesystem tarball (plain, gzip or zstd: sniffed), with a
 * config for this host's platform and the `changes` applied. Returns the image id.
 */
export async function importRootfs(input: Readable, options: ImportOptions = {}): Promise<string> {
  const emit = options.onEvent ?? (() => {});
  let name: string | undefined;
  if (options.reference !== undefined) {
    const ref = parseReference(options.reference);
    if (ref.digest) throw invalid(`refusing to create a tag with a digest reference: ${options.reference}`);
    name = ref.canonical;
  }
  const containerConfig = parseChanges(options.changes ?? []);
  const store = new ImageStore(options.root);
  try {
    const tar = await decompressedInput(input, 'the root filesystem tarball', 'import');
    // Stored uncompressed: the layer's blob digest is its diff id.
    const { digest: diffId, size } = await store.importBlob(tar);
    const id12 = shortId(diffId);
    emit({ type: 'layer', id: id12, status: 'Loading layer', current: 0, total: size });
    await store.ensureLayer(diffId, diffId, null, diffId, MEDIA_TYPE_OCI_LAYER, {
      onProgress: (current) => emit({ type: 'layer', id: id12, status: 'Loading layer', current, total: size }),
    });
    emit({ type: 'layer', id: id12, status: 'Loaded' });

    const created = isoTime();
    const platform = hostPlatform();
    const config: ImageConfig = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: 'linux',
      created,
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: 'pocker import', comment: options.message || `Imported from ${options.source ?? '-'}` }],
    };
    const { configDigest, manifestDigest } = await storeConfigAndManifest(store, config, [
      { mediaType: MEDIA_TYPE_OCI_LAYER, digest: diffId, size },
    ]);
    const record: ImageRecord = { id: configDigest, manifestDigest, configDigest, layers: [diffId], created, size };
    await recordImage(store, name ? [name] : [], record, emit);
    return configDigest;
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// --change: Dockerfile instructions applied to an image config

/** The instructions `--change` accepts (Docker's list, HEALTHCHECK aside). */
export const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'] as const;

const DEFAULT_SHELL = ['/bin/sh', '-c'];

function changeError(message: string): PockerError {
  return invalid(message);
}

/** The JSON (exec) form `["a", "b"]`, or undefined when the text is not a JSON array of strings (then it is shell form). */
function jsonForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  } catch {
    // shell form
  }
  return undefined;
}

/** `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}` at text[i] (a `$`). */
function expandVariable(text: string, i: number, env: Map<string, string>): { value: string; next: number } {
  const nameRe = /^[A-Za-z_][A-Za-z0-9_]*/;
  if (text[i + 1] === '{') {
    let depth = 1;
    let j = i + 2;
    while (j < text.length && depth > 0) {
      if (text[j] === '\\') j++;
      else if (text[j] === '{') depth++;
      else if (text[j] === '}') depth--;
      j++;
    }
    if (depth !== 0) throw changeError(`missing '}' in ${JSON.stringify(text)}`);
    const inner = text.slice(i + 2, j - 1);
    const m = nameRe.exec(inner);
    if (!m) throw changeError(`bad substitution in ${JSON.stringify(text)}`);
    const name = m[0];
    const rest = inner.slice(name.length);
    const set = env.has(name);
    const value = env.get(name) ?? '';
    if (rest === '') return { value, next: j };
    const op = /^(:?[-+])([\s\S]*)$/.exec(rest);
    if (!op) throw changeError(`unsupported modifier ${JSON.stringify(rest)} in ${JSON.stringify(text)}`);
    const word = () => lexWords(op[2]!, env, false)[0] ?? '';
    switch (op[1]) {
      case ':-':
        return { value: value !== '' ? value : word(), next: j };
      case '-':
        return { value: set ? value : word(), next: j };
      case ':+':
        return { value: value !== '' ? word() : '', next: j };
      default:
        return { value: set ? word() : '', next: j };
    }
  }
  const m = nameRe.exec(text.slice(i + 1));
  if (!m) return { value: '$', next: i + 1 };
  return { value: env.get(m[0]) ?? '', next: i + 1 + m[0].length };
}

/**
 * Dockerfile word processing: quotes removed (`'…'` literal, `"…"` with `\"`, `\\`, `\$` escapes
 * and expansion), `\x` outside quotes is `x`, `$VAR` expanded from `env` (null: no expansion).
 * `split`: whitespace separates words; otherwise the whole text is one word.
 */
function lexWords(text: string, env: Map<string, string> | null, split: boolean): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (split && /\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 < text.length) {
        cur += text[i + 1];
        i += 2;
      } else {
        cur += c;
        i++;
      }
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw changeError(`unexpected end of statement while looking for matching single-quote in ${JSON.stringify(text)}`);
      cur += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length && ['"', '\\', '$'].includes(text[i + 1]!)) {
          cur += text[i + 1];
          i += 2;
        } else if (text[i] === '$' && env) {
          const r = expandVariable(text, i, env);
          cur += r.value;
          i = r.next;
        } else cur += text[i++];
      }
      if (i >= text.length) throw changeError(`unexpected end of statement while looking for matching double-quote in ${JSON.stringify(text)}`);
      i++;
    } else if (c === '$' && env) {
      const r = expandVariable(text, i, env);
      cur += r.value;
      i = r.next;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** `KEY=VALUE…` pairs of ENV and LABEL (or the legacy `KEY VALUE` form: one pair, the value is the rest). */
function keyValues(instruction: string, rest: string, env: Map<string, string>): Array<[string, string]> {
  if (!(lexWords(rest, null, true)[0] ?? '').includes('=')) {
    const first = /^\S+/.exec(rest)![0];
    const valueText = rest.slice(first.length).trim();
    if (valueText === '') throw changeError(`${instruction} must have two arguments`);
    const key = lexWords(first, null, false)[0] ?? '';
    if (key === '') throw changeError(`${instruction} names can not be blank`);
    return [[key, lexWords(valueText, env, false)[0] ?? '']];
  }
  const pairs: Array<[string, string]> = [];
  for (const word of lexWords(rest, env, true)) {
    const eq = word.indexOf('=');
    if (eq === -1) throw changeError(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    const key = word.slice(0, eq);
    if (key === '') throw changeError(`${instruction} names can not be blank`);
    pairs.push([key, word.slice(eq + 1)]);
  }
  return pairs;
}

function envMap(env: string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) map.set(e.slice(0, eq), e.slice(eq + 1));
    else if (eq === -1) map.set(e, '');
  }
  return map;
}

/** `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, … */
function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(spec);
  if (!m) throw changeError(`invalid containerPort: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw changeError(`invalid proto: ${m[3]}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535) throw changeError(`invalid containerPort: ${spec}`);
  if (end < start) throw changeError(`invalid range specified for port: ${spec}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/**
 * Applies Dockerfile-like instructions (`docker import --change` / `commit --change`) to a copy of
 * `base` and returns it: `CMD`/`ENTRYPOINT` in JSON form (`["sh","-c","x"]`) or shell form
 * (`sh -c x` → `["/bin/sh","-c","sh -c x"]`, or the config's Shell); `ENV`/`LABEL` as `k=v …`
 * (quotes, `$VAR` expansion) or the legacy `k v`; `WORKDIR` (relative to the previous one);
 * `USER`; `EXPOSE` (`80`, `53/udp`, ranges); `VOLUME` (JSON or words); `STOPSIGNAL`; `ONBUILD`.
 * An ENTRYPOINT resets a Cmd that these changes did not set (as in a Dockerfile).
 * Anything else: ERR_POCKER_INVALID.
 */
export function parseChanges(changes: readonly string[], base: ContainerConfig = {}): ContainerConfig {
  const config: ContainerConfig = structuredClone(base);
  let cmdSet = false;
  for (const change of changes) {
    if (typeof change !== 'string') throw changeError(`invalid change ${String(change)}`);
    const text = change.trim();
    if (text === '') continue;
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text)!;
    const instruction = m[1]!.toUpperCase();
    const rest = (m[2] ?? '').trim();
    if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(instruction)) {
      throw changeError(`${m[1]} is not a valid change command (one of ${CHANGE_INSTRUCTIONS.join(', ')})`);
    }
    if (rest === '') throw changeError(`${instruction} requires at least one argument`);
    const env = envMap(config.Env);
    switch (instruction) {
      case 'CMD':
      case 'ENTRYPOINT': {
        const value = jsonForm(rest) ?? [...(config.Shell?.length ? config.Shell : DEFAULT_SHELL), rest];
        if (instruction === 'CMD') {
          config.Cmd = value;
          cmdSet = true;
        } else {
          config.Entrypoint = value;
          if (!cmdSet) config.Cmd = null;
        }
        break;
      }
      case 'ENV': {
        const list = [...(config.Env ?? [])];
        for (const [key, value] of keyValues('ENV', rest, env)) {
          const entry = `${key}=${value}`;
          const at = list.findIndex((e) => e === key || e.startsWith(`${key}=`));
          if (at === -1) list.push(entry);
          else list[at] = entry;
        }
        config.Env = list;
        break;
      }
      case 'LABEL': {
        const labels = { ...(config.Labels ?? {}) };
        for (const [key, value] of keyValues('LABEL', rest, env)) labels[key] = value;
        config.Labels = labels;
        break;
      }
      case 'WORKDIR': {
        const dir = lexWords(rest, env, false)[0] ?? '';
        if (dir === '') throw changeError('WORKDIR requires a path');
        config.WorkingDir = posix.resolve(config.WorkingDir || '/', dir);
        break;
      }
      case 'USER': {
        const user = lexWords(rest, env, false)[0] ?? '';
        if (user === '') throw changeError('USER requires a user');
        config.User = user;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const word of lexWords(rest, env, true)) for (const p of exposedPorts(word)) ports[p] = {};
        config.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const list = jsonForm(rest) ?? lexWords(rest, env, true);
        if (list.length === 0) throw changeError('VOLUME requires at least one argument');
        const volumes = { ...(config.Volumes ?? {}) };
        for (const v of list) {
          if (v.trim() === '') throw changeError('VOLUME specified can not be an empty string');
          volumes[v] = {};
        }
        config.Volumes = volumes;
        break;
      }
      case 'STOPSIGNAL': {
        const sig = lexWords(rest, env, false)[0] ?? '';
        if (!isSignalSpec(sig)) throw changeError(`Invalid signal: ${sig}`);
        config.StopSignal = sig;
        break;
      }
      case 'ONBUILD': {
        const trigger = /^\S+/.exec(rest)![0].toUpperCase();
        if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(trigger)) throw changeError(`${trigger} isn't allowed as an ONBUILD trigger`);
        config.OnBuild = [...(config.OnBuild ?? []), rest];
        break;
      }
    }
  }
  return config;
}
