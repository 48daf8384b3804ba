// `pocker export`: a container's filesystem as a plain tar, and the tree walker that `commit`
// (lib/image/commit.ts) builds its layer tars with.
//
// Trees are read directory by directory through open directory fds: a directory is opened with
// O_DIRECTORY|O_NOFOLLOW through `/proc/self/fd/<parent fd>/<name>`, its names listed and lstat'd
// through the same fd path, file content opened with O_NOFOLLOW. No path is ever resolved through a
// symlink the container controls (a running container's root, /proc/<pid>/root, is walked this way
// too). Files stream into the tar (never whole in memory): exactly the size lstat gave, cut or padded
// with zeros when a running container changes the file meanwhile.
//
// - A running container: /proc/<pid>/root (pid from state.json; a foreground container's first
//   process in its cgroup), with the contents of /proc, /sys and /dev left out (the empty dirs stay,
//   as in `docker export`).
// - A stopped container: its upper dir merged in JS over the image's layer dirs (top first), with
//   overlay's conventions: a 0:0 character device hides the name below, a directory with
//   trusted.overlay.opaque=y hides the directories below it, a non-directory hides everything below.
import { closeSync, constants as fsConstants, openSync, readFileSync, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';

import { drained } from './streams.js';
import { PockerError, type PockerErrorCode, type SetupStep } from '../errors.js';
import { native } from '../native.js';
import { effectiveState, findContainer, readMeta, type ContainerMeta as ContainerConfig } from '../container/index.js';

type Headers = Partial<Header> & Pick<Header, 'name'>;

// libuv opens every fd close-on-exec.
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** xattrs carried into tars (Node cannot list xattrs; these are the ones images use). */
const CARRIED_XATTRS = ['security.capability'];
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const USER_OPAQUE_XATTR = 'user.overlay.opaque';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

// ---------------------------------------------------------------------------------------------
// A tar-stream pack with backpressure

/** Writes entries into a tar-stream pack, waiting for the consumer; fails fast once abort() was called. */
export class TarWriter {
  readonly pack: Pack = tarPack();
  #fail!: (err: unknown) => void;
  readonly #aborted: Promise<never>;

  constructor() {
    this.#aborted = new Promise<never>((_, reject) => (this.#fail = reject));
    this.#aborted.catch(() => {});
  }

  /** Makes pending and later add() calls fail with `err` (the consumer failed). */
  abort(err: unknown): void {
    this.#fail(err);
  }

  /** Adds one entry: no body, bytes, or `size` bytes of an open file (closed here). */
  async add(header: Headers, body?: Buffer | { file: Readable; size: number }): Promise<void> {
    if (body === undefined || Buffer.isBuffer(body)) {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          this.pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
        }),
        this.#aborted,
      ]);
      return;
    }
    const { file, size } = body;
    let settle!: (err?: Error | null) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    done.catch(() => {});
    const sink = this.pack.entry({ ...header, size }, (err) => settle(err));
    const write = async (buf: Buffer) => {
      if (!sink.write(buf)) await Promise.race([once(sink as unknown as NodeJS.EventEmitter, 'drain'), this.#aborted]);
    };
    let written = 0;
    try {
      for await (const chunk of file) {
        let buf = chunk as Buffer;
        if (written + buf.length > size) buf = buf.subarray(0, size - written);
        if (buf.length) await write(buf);
        written += buf.length;
        if (written >= size) break;
      }
      // The file shrank since lstat (a running container): pad to the size in the header.
      while (written < size) {
        const n = Math.min(size - written, 64 * 1024);
        await write(Buffer.alloc(n));
        written += n;
      }
    } catch (err) {
      sink.destroy(err as Error);
      throw err;
    } finally {
      file.destroy();
    }
    (sink as unknown as { end(): void }).end();
    await Promise.race([done, this.#aborted]);
  }

  finalize(): void {
    this.pack.finalize();
  }
}

// ---------------------------------------------------------------------------------------------
// The walker

/** An open directory: its fd and the /proc/self/fd path that reaches it without resolution. */
interface DirHandle {
  fd: number;
  path: string;
}

function openDir(path: string, flags = DIR_FLAGS): DirHandle {
  const fd = openSync(path, flags);
  return { fd, path: `/proc/self/fd/${fd}` };
}

function closeDir(d: DirHandle): void {
  try {
    closeSync(d.fd);
  } catch {
    /* already closed */
  }
}

export interface WalkOptions {
  /**
   * `layer`: overlay whiteouts become `.wh.<name>` entries and opaque dirs get `.wh..wh..opq` (an
   * image layer, one source). `merge`: whiteouts and opaque dirs hide what is below (a merged
   * view, sources top first). `plain`: nothing special (a live container root).
   */
  mode: 'layer' | 'merge' | 'plain';
  /**
   * The container's user namespace maps (container id → host id): owners on disk are host ids and
   * become the container's in the tar (a host id outside the maps is nobody, 65534). Its opaque
   * markers are then `user.overlay.opaque` when rootless (the container's overlay used userxattr).
   */
  userns?: { uidMappings: readonly IdRange[]; gidMappings: readonly IdRange[] };
  /** Directories (relative paths without a leading slash) whose contents are left out. */
  skipContents?: ReadonlySet<string>;
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function getXattr(dir: DirHandle, name: string, attr: string): Buffer | null {
  try {
    return native().fsLgetxattr(dir.fd, name, attr);
  } catch {
    return null;
  }
}

/** An overlay opaque marker: trusted.* (root's overlay) or user.* (a rootless overlay, userxattr). */
function isOpaque(dir: DirHandle, name: string): boolean {
  for (const attr of [OPAQUE_XATTR, USER_OPAQUE_XATTR]) {
    const v = getXattr(dir, name, attr);
    if (v !== null && v.toString('latin1') === 'y') return true;
  }
  return false;
}

/** One range of a user namespace map (the OCI LinuxIDMapping shape). */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/** The container id of host id `id` under `maps`, or 65534 (nobody) when it is not mapped. */
export function containerIdOf(maps: readonly IdRange[], id: number): number {
  for (const m of maps) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return 65534;
}

/** PAX SCHILY.xattr.* records of an entry (only values tar-stream can encode byte for byte: UTF-8). */
function paxXattrs(dir: DirHandle, name: string): Record<string, string> | undefined {
  let pax: Record<string, string> | undefined;
  for (const attr of CARRIED_XATTRS) {
    const v = getXattr(dir, name, attr);
    if (!v) continue;
    const text = v.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(v)) continue; // binary: tar-stream would mangle it
    (pax ??= {})[`SCHILY.xattr.${attr}`] = text;
  }
  return pax;
}

function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { devmajor: major, devminor: minor };
}

/** Walks trees into a tar: one source (`layer`, `plain`) or several, top first (`merge`). */
export class TreeWalker {
  /** dev:ino of files with several links → the tar name first written. */
  readonly #links = new Map<string, string>();
  entries = 0;
  bytes = 0;

  constructor(
    private readonly out: TarWriter,
    private readonly options: WalkOptions,
  ) {}

  /** Walks the directory trees rooted at `roots` (paths; opened as directories, the root path itself may be a magic link). */
  async walk(roots: string[]): Promise<void> {
    const handles: DirHandle[] = [];
    try {
      for (const r of roots) handles.push(openDir(r, O_RDONLY | O_DIRECTORY));
      await this.#dir('', handles);
    } finally {
      handles.forEach(closeDir);
    }
  }

  async #dir(rel: string, sources: DirHandle[]): Promise<void> {
    if (this.options.skipContents?.has(rel)) return;
    const mode = this.options.mode;
    // name → index of the source that provides it (-1: whited out).
    const chosen = new Map<string, { index: number; st: Stats }>();
    for (let i = 0; i < sources.length; i++) {
      const src = sources[i]!;
      const names = (await readdir(src.path)).sort();
      for (const name of names) {
        if (chosen.has(name)) continue;
        let st: Stats;
        try {
          st = await lstat(`${src.path}/${name}`);
        } catch {
          continue; // gone meanwhile (a running container)
        }
        if (mode === 'merge' && isWhiteout(st)) {
          chosen.set(name, { index: -1, st });
          continue;
        }
        chosen.set(name, { index: i, st });
      }
    }
    const names = [...chosen.keys()].sort();
    for (const name of names) {
      const { index, st } = chosen.get(name)!;
      if (index < 0) continue;
      const src = sources[index]!;
      const childRel = rel ? `${rel}/${name}` : name;
      if (mode === 'layer' && isWhiteout(st)) {
        await this.#emit({ name: rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: st.mtime });
        continue;
      }
      if (st.isDirectory()) {
        const pax = paxXattrs(src, name);
        await this.#emit({ ...this.#common(st, `${childRel}/`), type: 'directory', ...(pax ? { pax } : {}) });
        let child: DirHandle;
        try {
          child = openDir(`${src.path}/${name}`);
        } catch (err) {
          if (mode === 'plain') continue; // replaced or removed meanwhile
          throw err;
        }
        const children = [child];
        try {
          const opaque = mode !== 'plain' && isOpaque(src, name);
          if (opaque && mode === 'layer') {
            await this.#emit({ name: `${childRel}/${WHITEOUT_OPAQUE}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: st.mtime });
          }
          if (mode === 'merge' && !opaque) {
            for (let j = index + 1; j < sources.length; j++) {
              const lower = sources[j]!;
              let lst: Stats;
              try {
                lst = await lstat(`${lower.path}/${name}`);
              } catch {
                continue; // not in this layer: look further down
              }
              if (!lst.isDirectory()) break; // a file or a whiteout here hides everything below
              children.push(openDir(`${lower.path}/${name}`));
              if (isOpaque(lower, name)) break;
            }
          }
          await this.#dir(childRel, children);
        } finally {
          children.forEach(closeDir);
        }
        continue;
      }
      await this.#entry(src, name, childRel, st);
    }
  }

  #common(st: Stats, name: string): Headers {
    const u = this.options.userns;
    const uid = u ? containerIdOf(u.uidMappings, st.uid) : st.uid;
    const gid = u ? containerIdOf(u.gidMappings, st.gid) : st.gid;
    return { name, mode: st.mode & 0o7777, uid, gid, mtime: st.mtime };
  }

  async #emit(header: Headers, body?: Buffer | { file: Readable; size: number }): Promise<void> {
    this.entries++;
    await this.out.add(header, body);
  }

  async #entry(src: DirHandle, name: string, rel: string, st: Stats): Promise<void> {
    const path = `${src.path}/${name}`;
    const pax = paxXattrs(src, name);
    const header: Headers = { ...this.#common(st, rel), ...(pax ? { pax } : {}) };
    if (!st.isDirectory() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.#links.get(key);
      if (first !== undefined) {
        await this.#emit({ ...header, type: 'link', linkname: first, size: 0 });
        return;
      }
      if (st.isFile() || st.isSymbolicLink()) this.#links.set(key, rel);
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await readlink(path);
      } catch {
        return; // gone meanwhile
      }
      await this.#emit({ ...header, type: 'symlink', linkname: target });
    } else if (st.isFile()) {
      let fh;
      try {
        fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      } catch (err) {
        if (this.options.mode === 'plain') return; // replaced or removed meanwhile
        throw err;
      }
      if (st.size === 0) {
        await fh.close();
        await this.#emit({ ...header, type: 'file', size: 0 });
        return;
      }
      this.bytes += st.size;
      try {
        await this.#emit({ ...header, type: 'file' }, { file: fh.createReadStream({ highWaterMark: 256 * 1024, autoClose: false }), size: st.size });
      } finally {
        await fh.close().catch(() => {});
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      await this.#emit({ ...header, type: st.isCharacterDevice() ? 'character-device' : 'block-device', ...devNumbers(st.rdev) });
    } else if (st.isFIFO()) {
      await this.#emit({ ...header, type: 'fifo' });
    }
    // Sockets are left out (as Docker does).
  }
}

/**
 * Pumps `writer`'s tar into `output` while `fill` adds entries; ends `output` when done. A
 * failure of either side fails the whole (the pack is destroyed, the output is not ended).
 */
export async function writeTar(output: Writable | NodeJS.WritableStream, fill: (w: TarWriter) => Promise<void>, endOutput = true): Promise<void> {
  const writer = new TarWriter();
  let pumpError: unknown;
  const out = output as Writable;
  const pumping = (async () => {
    try {
      for await (const chunk of writer.pack) {
        if (!out.write(chunk as Buffer)) await drained(out, 'export');
      }
      if (endOutput) {
        await new Promise<void>((resolve, reject) => {
          out.once('error', reject);
          out.end(() => resolve());
        });
      }
    } catch (err) {
      pumpError = err;
      writer.abort(err);
      throw err;
    }
  })();
  pumping.catch(() => {});
  try {
    await fill(writer);
    writer.finalize();
  } catch (err) {
    writer.pack.destroy(err as Error);
    await pumping.catch(() => {});
    throw pumpError ?? err;
  }
  await pumping;
}


// ---------------------------------------------------------------------------------------------
// Containers

export interface ContainerFs {
  id: string;
  dir: string;
  config: ContainerConfig;
  /** The pid whose /proc/<pid>/root is the container's root, when it runs. */
  pid: number | undefined;
}

function exportError(message: string, code: PockerErrorCode = 'ERR_POCKER_INVALID'): PockerError {
  return new PockerError(message, { code, step: 'export' });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The container, its config and (when it runs) the pid to reach its root through. */
export function containerFs(root: string, ref: string, step: SetupStep = 'export'): ContainerFs {
  const entry = findContainer(root, ref);
  const config: ContainerConfig | null = readMeta(entry.dir);
  if (!config) throw new PockerError(`container ${ref} is still being set up (no config.json)`, { code: 'ERR_POCKER_INVALID', step });
  const { state } = effectiveState(entry.dir);
  let pid: number | undefined;
  if (state) {
    if (state.status === 'running' && state.pid > 0 && pidAlive(state.pid)) pid = state.pid;
  } else {
    // A foreground container (no state.json): its first process in its cgroup.
    for (const cg of config.cgroups ?? []) {
      try {
        const first = Number.parseInt(readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n')[0] ?? '', 10);
        if (first > 0 && pidAlive(first)) {
          pid = first;
          break;
        }
      } catch {
        /* no such cgroup */
      }
    }
  }
  return { id: entry.id, dir: entry.dir, config, pid };
}

/** The walk option of a container in a user namespace (its recorded maps). */
export function usernsOf(c: ContainerFs): Pick<WalkOptions, 'userns'> {
  const u = c.config.userns;
  return u ? { userns: { uidMappings: u.uidMappings, gidMappings: u.gidMappings } } : {};
}

/** The directories to merge for a stopped container, top first. */
function stoppedSources(c: ContainerFs): string[] {
  const image = c.config.image;
  if ('host' in image) throw exportError('the host image keeps its changes in memory: export of a stopped host container is not supported', 'ERR_POCKER_UNSUPPORTED');
  const upper = join(c.dir, 'upper');
  const lowers = 'rootfs' in image ? [image.rootfs] : [...image.layers].reverse();
  return [upper, ...lowers];
}

/**
 * Writes the container's filesystem to `output` as a plain tar (`output` is ended at the end): the
 * live root of a running container, else its upper dir merged over its image.
 */
export async function exportContainer(root: string, containerRef: string, output: Writable | NodeJS.WritableStream): Promise<void> {
  const c = containerFs(root, containerRef);
  if (c.pid !== undefined) {
    const rootPath = `/proc/${c.pid}/root`;
    await writeTar(output, async (w) => {
      await new TreeWalker(w, { mode: 'plain', skipContents: new Set(['proc', 'sys', 'dev']), ...usernsOf(c) }).walk([rootPath]);
    });
    return;
  }
  const sources = stoppedSources(c);
  await writeTar(output, async (w) => {
    await new TreeWalker(w, { mode: 'merge', ...usernsOf(c) }).walk(sources);
  });
}
