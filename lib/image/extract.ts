// Safe extraction of one image layer (an already-decompressed tar stream) into its own directory,
// which becomes an overlay lower dir: whiteouts are written in overlayfs' format (`.wh.<name>` →
// a 0:0 character device `<name>`; `.wh..wh..opq` in D → xattr `trusted.overlay.opaque=y` on D).
//
// Every filesystem change goes through the addon's root-relative primitives (cpp/addon/extract.cpp):
// parents are resolved beneath `dest` with no symlink followed — not even one this layer created —
// and the last component is acted on with NOFOLLOW calls. So a hostile layer cannot change anything
// outside `dest`: entries that climb above the root (`..`), write, link or whiteout through a
// symlink, hardlink to something that is not an entry of this layer, or are otherwise invalid are
// refused with ERR_POCKER_LAYER_UNSAFE (step `extract`, `path` = the entry's name). The caller removes
// `dest` after a failure. Absolute names are made relative (as Docker does).
import { closeSync, constants as fsConstants, statfsSync, writeSync, writev as writevCb } from 'node:fs';
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { extract as tarExtract, type Extract, type Header } from 'tar-stream';

import { PockerError, fromSystemError } from '../errors.js';
import { native, type NativeAddon } from '../native.js';

/** One range of an id mapping (the OCI LinuxIDMapping shape): container ids → host ids. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface ExtractOptions {
  /** Maps the tar's uids to host uids (userns-remapped or rootless stores). Default: uids as in the tar. */
  uidMap?: IdMapping[];
  /** Maps the tar's gids; defaults to `uidMap`. */
  gidMap?: IdMapping[];
  /** Apply owners from the tar. Default: when running as root, or when a map is given. */
  chown?: boolean;
  /** Make device nodes (they need CAP_MKNOD of the initial user namespace). Default: when running as root; a user namespace's root skips them, as rootless Docker and Podman do. */
  devices?: boolean;
  /** xattr namespace of overlay opaque markers: `trusted` (default) or `user` (rootless overlay, `userxattr`). */
  overlayXattrNamespace?: 'trusted' | 'user';
  /** Called for every entry with its root-relative path ('.' for the root). */
  onEntry?(path: string): void;
}

export interface ExtractResult {
  /** Tar entries processed (whiteouts and skipped entries included). */
  entries: number;
  /** Bytes of regular-file content written. */
  bytes: number;
}

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const { S_IFCHR, S_IFBLK, S_IFIFO } = fsConstants;
/** Files up to this size are written synchronously (page-cache writes, microseconds); larger ones through the thread pool. */
const SYNC_WRITE_LIMIT = 1 << 20;
/** Large files are written in batches of about this size, one batch in flight while the next one is read. */
const WRITE_BATCH = 1 << 20;
/** Longest stretch of synchronous work before the loop yields to other I/O. */
const YIELD_AFTER_MS = 8;

const writevAsync = promisify(writevCb);

/** writev(2) of all of `bufs`, resuming after partial writes. */
async function writevAll(fd: number, bufs: Buffer[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    let n = (await writevAsync(fd, rest)).bytesWritten;
    let i = 0;
    while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

/**
 * Writes one file's content as it streams in. Small files synchronously (page-cache writes of a
 * few microseconds); large ones in ~1 MiB writev batches through the thread pool, one batch in
 * flight while the next is parsed, so the event loop is never blocked on the disk.
 */
async function writeContent(fd: number, content: AsyncIterable<unknown>, size: number): Promise<number> {
  let total = 0;
  if (size <= SYNC_WRITE_LIMIT) {
    for await (const data of content) {
      const chunk = data as Buffer;
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
      total += chunk.length;
    }
    return total;
  }
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let inflight: Promise<void> = Promise.resolve();
  let writeError: unknown;
  const flush = async () => {
    await inflight;
    if (writeError) throw writeError;
    const bufs = batch;
    batch = [];
    batchBytes = 0;
    inflight = writevAll(fd, bufs).catch((err: unknown) => {
      writeError = err;
    });
  };
  try {
    for await (const data of content) {
      const chunk = data as Buffer;
      batch.push(chunk);
      batchBytes += chunk.length;
      total += chunk.length;
      if (batchBytes >= WRITE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  } finally {
    await inflight; // never leave a write running on an fd that is about to be closed
  }
  if (writeError) throw writeError;
  return total;
}

/** The error of a refused layer. */
function unsafe(entry: string, why: string): PockerError {
  return new PockerError(`layer entry '${entry}' refused: ${why}`, { code: 'ERR_POCKER_LAYER_UNSAFE', step: 'extract', path: entry });
}

/**
 * Cleans a tar name into root-relative components: a leading '/', empty and '.' components are
 * dropped, '..' is applied lexically (the kernel never sees it) and refused when it climbs above
 * the root.
 */
function cleanPath(name: string, entry: string, what: string): string[] {
  if (name === '') throw unsafe(entry, `empty ${what}`);
  if (name.includes('\0')) throw unsafe(entry, `NUL byte in ${what}`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw unsafe(entry, `${what} climbs above the layer root`);
      out.pop();
    } else {
      out.push(c);
    }
  }
  return out;
}

function mapId(id: number, map: IdMapping[] | undefined, entry: string, kind: string): number {
  if (!map || map.length === 0) return id;
  for (const m of map) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  throw new PockerError(`layer entry '${entry}': ${kind} ${id} is not mapped`, {
    code: 'ERR_POCKER_LAYER_ID_UNMAPPED',
    step: 'extract',
    path: entry,
  });
}

/** A PAX time ("1700000000.123456789", maybe negative) in ns, or undefined. */
function paxTimeNs(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(value.trim());
  if (!m) return undefined;
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  return m[1] ? -ns : ns;
}

// ---------------------------------------------------------------------------------------------
// PAX xattrs. tar-stream decodes PAX values as UTF-8, which mangles binary values such as
// security.capability; the raw records are captured from the PAX header block instead.

const RAW_XATTRS = Symbol('pocker.rawXattrs');
type PaxRecords = Record<string, string> & { [RAW_XATTRS]?: Map<string, Buffer> };

const SCHILY_XATTR = 'SCHILY.xattr.';
const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';

/** The SCHILY.xattr.* records of a PAX header block, values byte for byte. */
function rawPaxXattrs(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number.parseInt(buf.toString('latin1', off, sp), 10);
    if (!(len > 0) || off + len > buf.length || sp + 1 > off + len - 1) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // without the trailing '\n'
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.toString('utf8', 0, eq);
    if (key.startsWith(SCHILY_XATTR)) out.set(key.slice(SCHILY_XATTR.length), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/**
 * Makes this tar-stream extractor keep raw SCHILY.xattr values on header.pax[RAW_XATTRS]: tar-stream
 * decodes PAX values as UTF-8, which mangles binary ones (security.capability). This wraps a private
 * method, so package.json pins tar-stream to the exact version it was written against, and
 * test/unit/tar-stream-hook.test.ts fails if the hook stops applying. False when it could not apply.
 */
function keepRawXattrs(ex: Extract): boolean {
  type Internals = {
    _decodeLongHeader?: (this: Internals, buf: Buffer) => void;
    _header?: { type?: string | null } | null;
    _pax?: PaxRecords | null;
  };
  const x = ex as unknown as Internals;
  const decode = x._decodeLongHeader;
  if (typeof decode !== 'function') return false; // another tar-stream: text xattrs still work
  let global: Map<string, Buffer> | undefined;
  x._decodeLongHeader = function (this: Internals, buf: Buffer) {
    decode.call(this, buf);
    const type = this._header?.type;
    if (type === 'pax-global-header') global = rawPaxXattrs(buf);
    else if (type === 'pax-header' && this._pax) this._pax[RAW_XATTRS] = new Map([...(global ?? []), ...rawPaxXattrs(buf)]);
  };
  return true;
}

/** A tar-stream extractor that keeps binary xattrs (and whether its hook applied): read an entry's with entryXattrs. */
export function layerTarExtractor(): { extractor: Extract; rawXattrs: boolean } {
  const extractor = tarExtract();
  return { extractor, rawXattrs: keepRawXattrs(extractor) };
}

/** Overlay's own metadata is never taken from a layer (it would forge redirects, metacopy, opaque dirs). */
function ignoredXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.') || !name.includes('.');
}

/** An entry's xattrs (SCHILY, else LIBARCHIVE), overlay's own left out; byte-exact from a layerTarExtractor. */
export function entryXattrs(h: Header): Record<string, Buffer> | undefined {
  const pax = h.pax as PaxRecords | null | undefined;
  if (!pax) return undefined;
  const raw = pax[RAW_XATTRS];
  let out: Record<string, Buffer> | undefined;
  for (const [key, value] of Object.entries(pax)) {
    let name: string;
    let bytes: Buffer;
    if (key.startsWith(SCHILY_XATTR)) {
      name = key.slice(SCHILY_XATTR.length);
      bytes = raw?.get(name) ?? Buffer.from(value, 'utf8');
    } else if (key.startsWith(LIBARCHIVE_XATTR)) {
      try {
        name = decodeURIComponent(key.slice(LIBARCHIVE_XATTR.length));
      } catch {
        continue;
      }
      if (out && name in out) continue; // SCHILY wins
      bytes = Buffer.from(value, 'base64');
    } else {
      continue;
    }
    if (ignoredXattr(name)) continue;
    out ??= Object.create(null) as Record<string, Buffer>;
    out[name] = bytes;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

type Meta = Parameters<NativeAddon['fsSetMeta']>[2];

interface SystemErrorLike {
  code?: string;
}

/** statfs f_type of the filesystems named in whiteoutRefused()'s error (linux/magic.h). */
const FS_NAMES: Record<number, string> = {
  0x794c7630: 'overlayfs',
  0x65735546: 'fuse',
  0x01021997: '9p',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
};

/**
 * A whiteout (0:0 character device) the filesystem of `dest` refused: overlayfs refuses it to
 * everyone (root too: ovl_mknod returns EPERM for WHITEOUT_DEV) and cannot be an overlay upper dir
 * either, so a store on overlayfs (a home or /var/lib inside a container, a live system's root) can
 * hold no image with deletions. Said clearly, naming the filesystem and what to do, instead of a
 * bare EPERM. undefined for any other failure (left to the caller's error).
 */
function whiteoutRefused(err: unknown, dest: string): PockerError | undefined {
  const code = (err as SystemErrorLike).code;
  if (code !== 'EPERM' && code !== 'EOPNOTSUPP' && code !== 'EINVAL') return undefined;
  let type: number;
  try {
    type = Number(statfsSync(dest).type);
  } catch {
    return undefined;
  }
  const name = FS_NAMES[type] ?? `filesystem type 0x${type.toString(16)}`;
  const cure = 'put the store on a filesystem that can hold overlay layers (ext4, xfs, btrfs, tmpfs): --root, $POCKER_ROOT, or rootless $XDG_DATA_HOME';
  return new PockerError(`cannot store image layers on ${name} (${dest}): it refuses overlay whiteouts (mknod of a 0:0 character device: ${code}); ${cure}`, {
    code: 'ERR_POCKER_UNSUPPORTED', // the store's filesystem cannot hold overlay layers
    step: 'extract',
    path: dest,
    ...((err as { errno?: number }).errno !== undefined ? { errno: (err as { errno: number }).errno } : {}),
    syscall: 'mknodat',
    cause: err,
  });
}


/**
 * Extracts one layer tar into `dest` (an existing, normally empty, directory). Resolves with the
 * number of entries and content bytes; rejects with ERR_POCKER_LAYER_UNSAFE for a hostile or
 * invalid entry, a PockerError with an errno code (step `extract`) for a filesystem error, or the
 * input's own error. On failure `input` is destroyed and `dest` may hold part of the layer (the
 * caller removes it); nothing outside `dest` is ever changed.
 */
export async function extractLayer(input: Readable, dest: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const addon = native();
  const isRoot = process.getuid?.() === 0;
  const devices = opts.devices ?? isRoot;
  const chown = opts.chown ?? (isRoot || Boolean(opts.uidMap?.length || opts.gidMap?.length));
  const uidMap = opts.uidMap;
  const gidMap = opts.gidMap ?? opts.uidMap;
  const opaqueXattr = `${opts.overlayXattrNamespace ?? 'trusted'}.overlay.opaque`;

  let root: number;
  try {
    root = addon.fsOpenRoot(dest);
  } catch (err) {
    input.destroy();
    throw fromSystemError(err, 'extract', `cannot open layer directory ${dest}`);
  }

  /** Directories that exist in dest (created by this layer, or the root). */
  const dirs = new Set<string>(['']);
  /** Metadata of directory entries, applied after all their children (last entry for a path wins). */
  const deferred = new Map<string, Meta>();
  let entries = 0;
  let bytes = 0;
  let entryName = '';

  /** A failed primitive: a symlink in the way (ELOOP) or an escape (EXDEV) is a refusal; anything else a filesystem error. */
  const failed = (err: unknown, what: string): PockerError => {
    if (err instanceof PockerError) return err;
    const code = (err as SystemErrorLike).code;
    if (code === 'ELOOP' || code === 'EXDEV') return unsafe(entryName, `${what} goes through a symlink`);
    return fromSystemError(err, 'extract', `layer entry '${entryName}'`);
  };
  const call = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw failed(err, what);
    }
  };

  /** An entry at `path` is about to be replaced: forget what we knew of a directory there. */
  const forget = (path: string): void => {
    if (!dirs.has(path)) return;
    const prefix = `${path}/`;
    for (const d of dirs) if (d === path || d.startsWith(prefix)) dirs.delete(d);
    for (const d of deferred.keys()) if (d === path || d.startsWith(prefix)) deferred.delete(d);
  };

  /** Creates the missing parent directories of an entry (0755, root-owned, like Docker). */
  const ensureDirs = (parts: string[], count: number): void => {
    let path = '';
    for (let i = 0; i < count; i++) {
      path = i === 0 ? parts[0]! : `${path}/${parts[i]}`;
      if (dirs.has(path)) continue;
      let created: boolean;
      try {
        created = addon.fsMkdir(root, path, 0o755);
      } catch (err) {
        const code = (err as SystemErrorLike).code;
        if (code === 'ELOOP') throw unsafe(entryName, `parent '${path}' is a symlink`);
        if (code === 'EEXIST' || code === 'ENOTDIR') throw unsafe(entryName, `parent '${path}' is not a directory`);
        throw failed(err, 'parent');
      }
      if (created) call('parent', () => addon.fsChmod(root, path, 0o755));
      dirs.add(path);
    }
  };

  const ids = (h: Header): { uid?: number; gid?: number } => {
    if (!chown) return {};
    for (const id of [h.uid, h.gid]) if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) throw unsafe(entryName, `invalid owner ${h.uid}:${h.gid}`);
    return { uid: mapId(h.uid, uidMap, entryName, 'uid'), gid: mapId(h.gid, gidMap, entryName, 'gid') };
  };

  const times = (h: Header): { atimeNs: bigint; mtimeNs: bigint } => {
    const pax = (h.pax ?? {}) as PaxRecords;
    const ms = h.mtime instanceof Date ? h.mtime.getTime() : Number.NaN;
    const mtimeNs = paxTimeNs(pax.mtime) ?? (Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : 0n);
    const atime = paxTimeNs(pax.atime);
    // As Docker and containerd: atime is never before mtime (a missing atime is the mtime).
    return { atimeNs: atime !== undefined && atime > mtimeNs ? atime : mtimeNs, mtimeNs };
  };

  const { extractor } = layerTarExtractor();
  let inputError: Error | undefined;
  const onInputError = (err: Error) => {
    inputError = err;
    extractor.destroy(err);
  };
  input.once('error', onInputError);
  input.pipe(extractor as unknown as NodeJS.WritableStream);

  let lastYield = performance.now();
  try {
    for await (const entry of extractor) {
      const h = entry.header;
      entryName = h.name;
      entries++;
      const parts = cleanPath(h.name, h.name, 'name');
      const path = parts.join('/');
      opts.onEntry?.(path === '' ? '.' : path);
      const base = parts.at(-1) ?? '';
      const parentCount = parts.length - 1;
      const pax = (h.pax ?? {}) as PaxRecords;
      if (Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) throw unsafe(entryName, 'sparse files are not supported');

      if (parts.slice(0, parentCount).some((p) => p.startsWith(WHITEOUT_META_PREFIX))) {
        // Inside aufs metadata dirs (.wh..wh.plnk, .wh..wh.aufs): not part of the filesystem.
        entry.resume();
      } else if (base === WHITEOUT_OPAQUE) {
        // Opaque directory: the parent hides everything of the layers below.
        ensureDirs(parts, parentCount);
        const dir = parts.slice(0, parentCount).join('/');
        call('opaque marker', () => addon.fsLsetxattr(root, dir, opaqueXattr, Buffer.from('y')));
        entry.resume();
      } else if (base.startsWith(WHITEOUT_META_PREFIX)) {
        // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the filesystem.
        entry.resume();
      } else if (base.startsWith(WHITEOUT_PREFIX)) {
        const name = base.slice(WHITEOUT_PREFIX.length);
        if (name === '' || name === '.' || name === '..') throw unsafe(entryName, 'whiteout of the root, the current or the parent directory');
        ensureDirs(parts, parentCount);
        const target = [...parts.slice(0, parentCount), name].join('/');
        forget(target);
        try {
          addon.fsMknod(root, target, S_IFCHR, 0, 0);
        } catch (err) {
          throw whiteoutRefused(err, dest) ?? failed(err, 'whiteout');
        }
        const owner = ids(h);
        if (owner.uid !== undefined) call('whiteout', () => addon.fsSetMeta(root, target, owner));
        entry.resume();
      } else {
        await extractEntry(entry, h, parts, path);
      }

      const now = performance.now();
      if (now - lastYield > YIELD_AFTER_MS) {
        await nextTurn();
        lastYield = performance.now();
      }
    }

    // Directory metadata last (children first), so creating entries did not change it.
    entryName = '';
    for (const [path, meta] of [...deferred].reverse()) {
      entryName = path === '' ? '.' : path;
      call('directory', () => addon.fsSetMeta(root, path, meta));
    }
    return { entries, bytes };
  } catch (err) {
    input.unpipe(extractor as unknown as NodeJS.WritableStream);
    input.destroy();
    extractor.destroy();
    if (err instanceof PockerError || (inputError && err === inputError)) throw err;
    if ((err as SystemErrorLike).code && (err as { syscall?: string }).syscall) throw failed(err, 'entry');
    // tar-stream: a bad header checksum, an unknown format, the end of the data inside an entry.
    throw new PockerError(`layer is not a valid tar${entryName ? ` (after entry '${entryName}')` : ''}: ${(err as Error).message}`, {
      code: 'ERR_POCKER_INVALID', // not a valid tar (bad header checksum, truncated)
      step: 'extract',
      cause: err,
    });
  } finally {
    input.off('error', onInputError);
    closeSync(root);
  }

  async function extractEntry(entry: AsyncIterable<unknown> & { resume(): unknown }, h: Header, parts: string[], path: string): Promise<void> {
    const parentCount = parts.length - 1;
    const mode = h.mode & 0o7777;
    // Old tars mark directories with a trailing '/' on a regular-file entry.
    const type = h.type === 'file' && h.name.endsWith('/') && !h.size ? 'directory' : h.type;
    switch (type) {
      case 'directory': {
        if (path !== '') {
          ensureDirs(parts, parentCount);
          let ok = false;
          try {
            addon.fsMkdir(root, path, 0o700);
            ok = true;
          } catch (err) {
            const code = (err as SystemErrorLike).code;
            if (code !== 'EEXIST' && code !== 'ELOOP') throw failed(err, 'directory');
          }
          if (!ok) {
            // A non-directory (or a symlink) of this layer is replaced by the directory, as Docker does.
            call('directory', () => addon.fsRemove(root, path));
            call('directory', () => addon.fsMkdir(root, path, 0o700));
          }
          dirs.add(path);
        }
        const meta: Meta = { ...ids(h), mode, ...times(h) };
        const xattrs = entryXattrs(h);
        if (xattrs) meta.xattrs = xattrs;
        deferred.delete(path);
        deferred.set(path, meta);
        entry.resume();
        return;
      }
      case 'file':
      case 'contiguous-file': {
        if (path === '') throw unsafe(entryName, 'a file cannot replace the layer root');
        ensureDirs(parts, parentCount);
        forget(path);
        const fd = call('file', () => addon.fsCreateFile(root, path, 0o600));
        try {
          bytes += await writeContent(fd, entry, h.size ?? 0);
          // chown clears setuid/setgid and security.capability: owner, then mode, then xattrs, then times.
          const meta: Meta = { ...ids(h), mode, ...times(h) };
          const xattrs = entryXattrs(h);
          if (xattrs) meta.xattrs = xattrs;
          call('file', () => addon.fsSetMetaFd(fd, meta));
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'link': {
        if (path === '') throw unsafe(entryName, 'a hardlink cannot replace the layer root');
        const target = cleanPath(h.linkname ?? '', entryName, 'hardlink target');
        if (target.length === 0) throw unsafe(entryName, 'hardlink to the layer root');
        ensureDirs(parts, parentCount);
        const targetPath = target.join('/');
        if (targetPath !== path) forget(path);
        try {
          addon.fsLink(root, path, targetPath);
        } catch (err) {
          const code = (err as SystemErrorLike).code;
          if (code === 'ELOOP' || code === 'EXDEV') throw unsafe(entryName, `hardlink target '${h.linkname}' goes through a symlink`);
          if (code === 'ENOENT' || code === 'ENOTDIR') throw unsafe(entryName, `hardlink target '${h.linkname}' is not an entry of this layer`);
          if (code === 'EPERM') throw unsafe(entryName, `hardlink target '${h.linkname}' is a directory`);
          throw failed(err, 'hardlink');
        }
        // A hardlink shares its target's inode and metadata: nothing more to apply.
        entry.resume();
        return;
      }
      case 'symlink': {
        if (path === '') throw unsafe(entryName, 'a symlink cannot replace the layer root');
        const target = h.linkname ?? '';
        if (target === '') throw unsafe(entryName, 'empty symlink target');
        if (target.includes('\0')) throw unsafe(entryName, 'NUL byte in symlink target');
        ensureDirs(parts, parentCount);
        forget(path);
        call('symlink', () => addon.fsSymlink(root, path, target));
        const meta: Meta = { ...ids(h), ...times(h) };
        const xattrs = entryXattrs(h);
        if (xattrs) meta.xattrs = xattrs;
        call('symlink', () => addon.fsSetMeta(root, path, meta));
        entry.resume();
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        if (path === '') throw unsafe(entryName, 'a device cannot replace the layer root');
        entry.resume();
        if (h.type !== 'fifo' && !devices) return; // device nodes need root (as with rootless Docker: skipped)
        ensureDirs(parts, parentCount);
        forget(path);
        const type = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        call('device', () => addon.fsMknod(root, path, type | mode, h.devmajor ?? 0, h.devminor ?? 0));
        const meta: Meta = { ...ids(h), mode, ...times(h) };
        const xattrs = entryXattrs(h);
        if (xattrs) meta.xattrs = xattrs;
        call('device', () => addon.fsSetMeta(root, path, meta));
        return;
      }
      default:
        throw unsafe(entryName, `unsupported entry type ${String(type)}`);
    }
  }
}
