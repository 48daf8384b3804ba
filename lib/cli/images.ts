// Image management with Docker's output: `images` (`image ls`), `rmi` (`image rm`), `tag`
// (`image tag`), `image inspect`, `image prune`, `system df`, `login`, `logout`.
//
// Docker's formatting (go-units sizes, HumanDuration, tabwriter tables, Go's JSON, `--format`
// templates) is in ./format.ts, shared with `ps`.
//
// Containers are not persistent yet: a container is a `<root>/containers/<id>/` directory while it
// lives, with a `config.json` naming its image (id and layer dirs), written before anything is
// mounted; its overlay (mounted in the container's own mount namespace) tells that it runs and
// which layers it mounts (one /proc/<pid>/mountinfo read per mount namespace). `rmi`, `image prune`
// and `system df` take both into account, so they never remove or miscount an image or a layer a
// container uses.
//
// This file must stay cheap to import (`pocker --version` loads the whole CLI bundle's entry): the
// store, the registry client and the credentials code are loaded when a command runs.
import { Option, type Command } from 'commander';

import type { DiskUsage, ImageEntry, ImageStore } from '../image/store.js';
import type { ImageConfig } from '../image/types.js';
import { formatTable, goJson, goTimeString, humanSize, parseFormat, renderRows, renderTemplate, TemplateError, timeAgo } from './format.js';
import type { CliContext } from './run.js';

// ---------------------------------------------------------------------------------------------
// Image names (exported for the unit tests)

/** A stored image name split for display: `docker.io/library/alpine:3.20` -> alpine, 3.20. */
export interface NameParts {
  /** The canonical repository (`docker.io/library/alpine`). */
  name: string;
  /** What Docker shows (`alpine`, `127.0.0.1:5000/x`). */
  repository: string;
  tag?: string;
  digest?: string;
}

export function splitName(stored: string, familiar: (name: string) => string = (n) => n): NameParts {
  const at = stored.indexOf('@');
  if (at !== -1) {
    const name = stored.slice(0, at);
    return { name, repository: familiar(name), digest: stored.slice(at + 1) };
  }
  const colon = stored.lastIndexOf(':');
  if (colon > stored.lastIndexOf('/')) {
    const name = stored.slice(0, colon);
    return { name, repository: familiar(name), tag: stored.slice(colon + 1) };
  }
  return { name: stored, repository: familiar(stored) };
}

/** Docker's short id: the first 12 hex digits, without the algorithm. */
export function shortImageId(id: string): string {
  return id.slice(id.indexOf(':') + 1).slice(0, 12);
}

/** path.Match (Go) of a glob against a name: `*` and `?` do not match `/`; `[...]` classes. */
export function globMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return false; // ErrBadPattern: no match
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `!${cls.slice(1)}`;
      re += cls.startsWith('!') ? `[^/${cls.slice(1).replace(/\\/g, '\\\\')}]` : `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`).test(name);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Live containers (what `rmi`, `image prune` and `system df` must not remove or must count)

export interface LiveContainers {
  /** Ids of the `<root>/containers/<id>/` directories. */
  dirs: string[];
  /** Containers whose overlay is mounted (running), with the store layers they use, top-most first. */
  running: Map<string, string[]>;
  /** The image each container runs, from its `config.json` (layers as chain ids, base first). */
  images: Map<string, { name: string; id: string; layers: string[] }>;
}

/** Go's octal escapes in /proc/<pid>/mountinfo (`\040` for a space). */
function unmangle(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Splits on `sep` not escaped with a backslash, and drops the escapes (overlay's option syntax). */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The overlay mounts of one mountinfo text whose upper dir is in `containersDir`: container id -> lower dirs. */
export function containerMounts(mountinfo: string, containersDir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const [fstype, , superOptions] = line.slice(sep + 3).split(' ');
    if (fstype !== 'overlay' || !superOptions) continue;
    // Options are comma-separated; overlay escapes `,` `:` `\` inside paths with a backslash.
    const options = new Map<string, string>();
    let cur = '';
    const raw = unmangle(superOptions);
    for (let i = 0; i <= raw.length; i++) {
      const c = raw[i];
      if (c === '\\' && i + 1 < raw.length) {
        cur += c + raw[++i]!;
      } else if (c === ',' || c === undefined) {
        const eq = cur.indexOf('=');
        if (eq !== -1) options.set(cur.slice(0, eq), cur.slice(eq + 1));
        cur = '';
      } else cur += c;
    }
    const upper = options.get('upperdir');
    const lower = options.get('lowerdir');
    if (upper === undefined || lower === undefined) continue;
    const upperPath = splitEscaped(upper, '\0')[0]!;
    if (!upperPath.startsWith(`${containersDir}/`)) continue;
    const id = upperPath.slice(containersDir.length + 1).split('/')[0]!;
    found.set(id, splitEscaped(lower, ':').filter((p) => p !== ''));
  }
  return found;
}

/**
 * The containers of a store root: their directories; the image each one runs, from the
 * `config.json` run() writes before it mounts anything; and which are running (their overlay is
 * mounted) with the store layers (chain ids) the mount uses. Reads /proc/<pid>/mountinfo once per
 * mount namespace, and only when there are container directories at all.
 */
export async function liveContainers(root: string): Promise<LiveContainers> {
  const { readdir, readFile, readlink, realpath } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const containersDir = join(root, 'containers');
  let dirs: string[];
  try {
    dirs = (await readdir(containersDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return { dirs: [], running: new Map(), images: new Map() };
  }
  const running = new Map<string, string[]>();
  const images: LiveContainers['images'] = new Map();
  if (dirs.length === 0) return { dirs, running, images };
  const roots = new Set([root]);
  try {
    roots.add(await realpath(root));
  } catch {
    // the root as given is all there is
  }
  const layerDirs = [...roots].map((r) => join(r, 'layers'));
  const toChain = (lower: string): string | undefined => {
    for (const dir of layerDirs) {
      if (lower.startsWith(`${dir}/`)) {
        const hex = lower.slice(dir.length + 1);
        if (/^[0-9a-f]{64}$/.test(hex)) return `sha256:${hex}`;
      }
    }
    return undefined;
  };
  for (const id of dirs) {
    try {
      const record = JSON.parse(await readFile(join(containersDir, id, 'config.json'), 'utf8')) as {
        image?: { name?: unknown; id?: unknown; layers?: unknown };
      };
      const image = record.image;
      if (image && typeof image.id === 'string' && Array.isArray(image.layers)) {
        const layers = image.layers.filter((l): l is string => typeof l === 'string').map((l) => toChain(l) ?? '');
        images.set(id, { name: typeof image.name === 'string' ? image.name : '', id: image.id, layers: layers.filter((l) => l !== '') });
      }
    } catch {
      // Not written yet (a container starting), or not an image's container.
    }
  }
  const seen = new Set<string>();
  let pids: string[] = [];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return { dirs, running, images };
  }
  const wanted = new Set(dirs);
  for (const pid of pids) {
    if (running.size === wanted.size) break;
    let ns: string;
    try {
      ns = await readlink(`/proc/${pid}/ns/mnt`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    for (const r of roots) {
      for (const [id, lowers] of containerMounts(text, join(r, 'containers'))) {
        if (!wanted.has(id)) continue;
        running.set(id, lowers.map(toChain).filter((c): c is string => c !== undefined));
      }
    }
  }
  return { dirs, running, images };
}

/**
 * Image ids containers use, with the containers (short ids): the image a container's config.json
 * names, or (without one) the image whose layer stack its overlay mounts.
 */
function imagesInUse(entries: ImageEntry[], live: LiveContainers): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (imageId: string, container: string) => {
    const list = out.get(imageId) ?? [];
    if (!list.includes(container.slice(0, 12))) list.push(container.slice(0, 12));
    out.set(imageId, list);
  };
  for (const [container, image] of live.images) add(image.id, container);
  for (const [container, chains] of live.running) {
    if (live.images.has(container) || !chains[0]) continue;
    for (const e of entries) if (e.layers.at(-1) === chains[0]) add(e.id, container);
  }
  return out;
}

/** Chain ids containers use: their image's layers and what their overlay mounts. */
function layersInUse(live: LiveContainers): Set<string> {
  const out = new Set<string>();
  for (const image of live.images.values()) for (const c of image.layers) out.add(c);
  for (const chains of live.running.values()) for (const c of chains) out.add(c);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing

/** A Docker-style failure of a command: its message is printed, the exit code is 1. */
class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

interface RootFlags {
  root?: string;
}

const rootOption = () =>
  new Option('--root <dir>', 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)').hideHelp();

function rootOf(cmd: Command, ctx: CliContext): string | undefined {
  const root = cmd.optsWithGlobals<RootFlags>().root;
  return root ?? (ctx.env.POCKER_ROOT || undefined);
}

async function openStore(cmd: Command, ctx: CliContext): Promise<ImageStore> {
  const { ImageStore, defaultStoreRoot } = await import('../image/store.js');
  return new ImageStore(rootOf(cmd, ctx) ?? defaultStoreRoot(ctx.env));
}

function out(text: string): void {
  process.stdout.write(text);
}

/** Runs a command body: CommandError / PockerError -> message and exit 1; TemplateError -> "template parsing error". */
async function guard(ctx: CliContext, body: () => Promise<number | void>): Promise<void> {
  try {
    ctx.exitCode = (await body()) ?? 0;
  } catch (err) {
    if (err instanceof CommandError) {
      ctx.writeErr(`${err.message}\n`);
      ctx.exitCode = err.exitCode;
    } else if (err instanceof TemplateError) {
      ctx.writeErr(`pocker: template parsing error: ${err.message}\n`);
      ctx.exitCode = 1;
    } else {
      ctx.writeErr(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
      ctx.exitCode = 1;
    }
  }
}

/** The name an image reference is stored under (`docker.io/library/alpine:latest`), or undefined when `arg` is not a reference. */
async function storeNameOf(arg: string): Promise<{ name: string; familiar: string } | undefined> {
  const { parseReference } = await import('../image/reference.js');
  try {
    const ref = parseReference(arg);
    return { name: ref.digest ? `${ref.name}@${ref.digest}` : ref.canonical, familiar: ref.familiar };
  } catch {
    return undefined;
  }
}

interface Found {
  entry: ImageEntry;
  /** Named by a reference (not by id). */
  byName: boolean;
}

/** An image by reference (Docker's normalisation), else by id or unique id prefix. */
async function findImage(store: ImageStore, arg: string): Promise<Found | undefined> {
  const ref = await storeNameOf(arg);
  if (ref) {
    const rec = await store.getImage(ref.name);
    if (rec) return { entry: { name: ref.name, ...rec }, byName: true };
  }
  if (/^(?:sha256:)?[0-9a-f]{4,64}$/.test(arg)) {
    const entry = await store.resolveImage(arg);
    if (entry) return { entry, byName: false };
  }
  return undefined;
}

async function noSuchImage(arg: string): Promise<string> {
  return `No such image: ${(await storeNameOf(arg))?.familiar ?? arg}`;
}

async function familiarFn(): Promise<(name: string) => string> {
  const { familiarName } = await import('../image/reference.js');
  return familiarName;
}

/** Uncompressed size of each image (the sum of its extracted layer dirs, from the layer records). */
async function imageSizes(store: ImageStore, entries: ImageEntry[]): Promise<Map<string, number>> {
  const layerSize = new Map<string, number>();
  const sizes = new Map<string, number>();
  for (const e of entries) {
    if (sizes.has(e.id)) continue;
    let total = 0;
    for (const chain of new Set(e.layers)) {
      if (!layerSize.has(chain)) layerSize.set(chain, (await store.getLayer(chain))?.size ?? 0);
      total += layerSize.get(chain)!;
    }
    sizes.set(e.id, total);
  }
  return sizes;
}

/** The repository digest of a record: the index's (what the registry names) or the manifest's. */
function repoDigest(e: ImageEntry): string {
  return e.indexDigest ?? e.manifestDigest;
}

/** Reads one line from stdin (undefined at end of input). */
function readLine(): Promise<string | undefined> {
  const stdin = process.stdin;
  return new Promise((resolve) => {
    let buf = '';
    const finish = (v: string | undefined) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      stdin.pause();
      resolve(v);
    };
    const onData = (d: string | Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) finish(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = () => finish(buf === '' ? undefined : buf);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onEnd);
    stdin.resume();
  });
}

/** Everything on stdin. */
async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from a terminal without echoing it (passwords). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stdout.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (d: Buffer | string) => {
      for (const c of d.toString()) {
        if (c === '\r' || c === '\n' || c === '\u0004') return finish();
        if (c === '\u0003') return finish(new CommandError('pocker: interrupted', 130));
        if (c === '\u007f' || c === '\b') value = [...value].slice(0, -1).join('');
        else value += c;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function confirm(question: string): Promise<boolean> {
  out(`${question}\nAre you sure you want to continue? [y/N] `);
  const answer = (await readLine())?.trim().toLowerCase();
  if (answer === undefined) out('\n');
  return answer === 'y' || answer === 'yes';
}

// ---------------------------------------------------------------------------------------------
// images / image ls

interface ListFlags extends RootFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  format?: string;
}

const IMAGE_HEADERS: Record<string, string> = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

/** One row of `images` as Docker's image context has it (keys sorted, as Go marshals a map). */
export function imageRow(
  entry: ImageEntry,
  size: number,
  options: { noTrunc?: boolean; now?: number; familiar?: (name: string) => string; containers?: number; sharedSize?: number } = {},
): Record<string, string> {
  const parts = splitName(entry.name, options.familiar);
  return {
    Containers: options.containers === undefined ? 'N/A' : String(options.containers),
    CreatedAt: goTimeString(entry.created),
    CreatedSince: timeAgo(entry.created, options.now),
    Digest: parts.digest ?? repoDigest(entry),
    ID: options.noTrunc ? entry.id : shortImageId(entry.id),
    Repository: parts.repository,
    SharedSize: options.sharedSize === undefined ? 'N/A' : humanSize(options.sharedSize),
    Size: humanSize(size, 3),
    Tag: parts.tag ?? '<none>',
    UniqueSize: options.sharedSize === undefined ? 'N/A' : humanSize(size - options.sharedSize),
    VirtualSize: humanSize(size),
  };
}

/** `images [REPOSITORY[:TAG]]`'s filter: Docker's FamiliarMatch on the familiar name (with and without tag). */
async function referenceFilter(pattern: string | undefined): Promise<((parts: NameParts) => boolean) | undefined> {
  if (pattern === undefined) return undefined;
  let p = pattern;
  if (!/[*?[\]]/.test(pattern)) {
    const { parseReference, familiarName } = await import('../image/reference.js');
    try {
      const ref = parseReference(pattern);
      const lastPart = pattern.slice(pattern.lastIndexOf('/') + 1);
      const tagGiven = lastPart.split('@')[0]!.includes(':');
      p = `${familiarName(ref.name)}${tagGiven && ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
    } catch {
      // matched as given
    }
  }
  return (parts) => {
    const full = parts.digest ? `${parts.repository}@${parts.digest}` : `${parts.repository}${parts.tag ? `:${parts.tag}` : ''}`;
    return globMatch(p, full) || globMatch(p, parts.repository);
  };
}

async function listImages(filter: string | undefined, flags: ListFlags, cmd: Command, ctx: CliContext): Promise<void> {
  const defaultTable = flags.digests
    ? '{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  const format = parseFormat(flags.format, defaultTable);
  const store = await openStore(cmd, ctx);
  const entries = await store.listImages();
  const familiar = await familiarFn();
  const match = await referenceFilter(filter);
  const shown = entries.filter((e) => !match || match(splitName(e.name, familiar)));
  if (flags.quiet) {
    const ids = [...new Set(shown.map((e) => (flags.trunc === false ? e.id : shortImageId(e.id))))];
    out(ids.map((id) => `${id}\n`).join(''));
    return;
  }
  const sizes = await imageSizes(store, shown);
  const now = Date.now();
  const rows = shown.map((e) => imageRow(e, sizes.get(e.id) ?? 0, { noTrunc: flags.trunc === false, now, familiar }));
  out(renderRows(format, rows, IMAGE_HEADERS));
}

// ---------------------------------------------------------------------------------------------
// rmi / image rm

interface RmiFlags extends RootFlags {
  force?: boolean;
}

/**
 * Removes `arg` (a name: that name; an id: all its names, which takes -f when there are several).
 * When no name is left for the image, its record goes and the blobs and layers no other image
 * (nor a running container) uses are deleted. Returns Docker's lines.
 */
async function removeOne(store: ImageStore, arg: string, force: boolean, live: LiveContainers): Promise<string[]> {
  const familiar = await familiarFn();
  let found: Found | undefined;
  try {
    found = await findImage(store, arg);
  } catch (err) {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  }
  if (!found) throw new CommandError(`pocker: ${await noSuchImage(arg)}`);
  const { entry } = found;
  const all = await store.listImages();
  const sameId = all.filter((e) => e.id === entry.id);
  const short = shortImageId(entry.id);
  const users = imagesInUse(all, live).get(entry.id);
  const names = found.byName ? [entry.name] : sameId.map((e) => e.name);
  if (!found.byName && sameId.length > 1 && !force) {
    throw new CommandError(`pocker: conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
  }
  const last = sameId.every((e) => names.includes(e.name));
  if (last && users && !force) {
    throw new CommandError(
      found.byName
        ? `pocker: conflict: unable to remove repository reference "${arg}" (must force) - container ${users[0]} is using its referenced image ${short}`
        : `pocker: conflict: unable to delete ${short} (must be forced) - image is being used by running container ${users[0]}`,
    );
  }
  const lines: string[] = [];
  const removed: ImageEntry[] = [];
  for (const name of names) {
    const rec = await store.removeImage(name);
    if (!rec) continue;
    removed.push({ name, ...rec });
    const parts = splitName(name, familiar);
    lines.push(`Untagged: ${parts.digest ? `${parts.repository}@${parts.digest}` : `${parts.repository}:${parts.tag ?? 'latest'}`}`);
  }
  const left = (await store.listImages()).some((e) => e.id === entry.id);
  if (left || removed.length === 0) return lines;
  // The image is gone: Docker also untags its repository digests, then deletes it and its layers.
  const digestLines = new Set<string>();
  for (const r of removed) {
    const parts = splitName(r.name, familiar);
    if (!parts.digest) digestLines.add(`Untagged: ${parts.repository}@${repoDigest(r)}`);
  }
  lines.push(...digestLines);
  lines.push(`Deleted: ${entry.id}`);
  const result = await store.prune({ keepLayers: layersInUse(live) });
  const gone = new Set(result.layersRemoved);
  for (const chain of [...entry.layers].reverse()) if (gone.has(chain)) lines.push(`Deleted: ${chain}`);
  return lines;
}

async function removeImages(args: string[], flags: RmiFlags, cmd: Command, ctx: CliContext): Promise<number> {
  const store = await openStore(cmd, ctx);
  let code = 0;
  try {
    // Under the store's lock: run() records a starting container under it too, so what we see in
    // use is what is in use (nested store calls reuse the lock).
    await store.withLock(async () => {
      const live = await liveContainers(store.root);
      for (const arg of args) {
        try {
          const lines = await removeOne(store, arg, flags.force === true, live);
          out(lines.map((l) => `${l}\n`).join(''));
        } catch (err) {
          ctx.writeErr(`${err instanceof CommandError ? err.message : `pocker: ${(err as Error).message}`}\n`);
          code = 1;
        }
      }
    });
  } finally {
    await store.close();
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// tag

async function tagImage(source: string, target: string, cmd: Command, ctx: CliContext): Promise<void> {
  const { parseReference } = await import('../image/reference.js');
  let ref;
  try {
    ref = parseReference(target);
  } catch (err) {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  }
  if (ref.digest) throw new CommandError('pocker: refusing to create a tag with a digest reference');
  const store = await openStore(cmd, ctx);
  const found = await findImage(store, source).catch((err: unknown) => {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  });
  if (!found) throw new CommandError(`pocker: ${await noSuchImage(source)}`);
  await store.tagImage(found.entry.name, ref.canonical);
}

// ---------------------------------------------------------------------------------------------
// image inspect

/** Docker's `image inspect` object, from the record, the config blob and the other names of the image. */
export function inspectObject(
  entry: ImageEntry,
  config: ImageConfig,
  others: ImageEntry[],
  size: number,
  options: { familiar?: (name: string) => string; lowerDirs?: string[] } = {},
): Record<string, unknown> {
  const familiar = options.familiar ?? ((n: string) => n);
  const names = [entry, ...others.filter((o) => o.name !== entry.name && o.id === entry.id)];
  const repoTags = new Set<string>();
  const repoDigests = new Set<string>();
  for (const n of names) {
    const parts = splitName(n.name, familiar);
    if (parts.tag !== undefined) repoTags.add(`${parts.repository}:${parts.tag}`);
    repoDigests.add(`${parts.repository}@${parts.digest ?? repoDigest(n)}`);
  }
  const c = config.config ?? {};
  const cfg: Record<string, unknown> = { User: c.User ?? '' };
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) cfg.ExposedPorts = c.ExposedPorts;
  cfg.Env = c.Env ?? null;
  cfg.Cmd = c.Cmd ?? null;
  if (c.Healthcheck) cfg.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) cfg.ArgsEscaped = c.ArgsEscaped;
  cfg.Volumes = c.Volumes && Object.keys(c.Volumes).length ? c.Volumes : null;
  cfg.WorkingDir = c.WorkingDir ?? '';
  cfg.Entrypoint = c.Entrypoint ?? null;
  cfg.OnBuild = c.OnBuild ?? null;
  cfg.Labels = c.Labels && Object.keys(c.Labels).length ? c.Labels : null;
  if (c.StopSignal) cfg.StopSignal = c.StopSignal;
  if (c.Shell?.length) cfg.Shell = c.Shell;
  const extra = config as ImageConfig & { docker_version?: string; comment?: string };
  return {
    Id: entry.id,
    RepoTags: [...repoTags].sort(),
    RepoDigests: [...repoDigests].sort(),
    Parent: '',
    Comment: typeof extra.comment === 'string' ? extra.comment : '',
    Created: config.created ?? entry.created,
    DockerVersion: typeof extra.docker_version === 'string' ? extra.docker_version : '',
    Author: config.author ?? '',
    Config: cfg,
    Architecture: config.architecture ?? '',
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os ?? '',
    ...(config['os.version'] ? { OsVersion: config['os.version'] } : {}),
    Size: size,
    GraphDriver: { Data: options.lowerDirs ? { LowerDir: options.lowerDirs.join(':') } : null, Name: 'overlay' },
    RootFS: { Type: config.rootfs?.type ?? 'layers', Layers: config.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

interface InspectFlags extends RootFlags {
  format?: string;
}

async function inspectImages(args: string[], flags: InspectFlags, cmd: Command, ctx: CliContext): Promise<number> {
  const store = await openStore(cmd, ctx);
  const { parseImageConfig } = await import('../image/registry.js');
  const familiar = await familiarFn();
  const all = await store.listImages();
  const objects: Array<Record<string, unknown>> = [];
  const errors: string[] = [];
  for (const arg of args) {
    let found: Found | undefined;
    try {
      found = await findImage(store, arg);
    } catch (err) {
      errors.push(`Error: ${(err as Error).message}`);
      continue;
    }
    if (!found) {
      errors.push(`Error: No such image: ${arg}`);
      continue;
    }
    const { entry } = found;
    const config = parseImageConfig(await store.readBlob(entry.configDigest), `config of ${arg}`);
    const size = (await imageSizes(store, [entry])).get(entry.id) ?? 0;
    objects.push(inspectObject(entry, config, all, size, { familiar, lowerDirs: [...entry.layers].reverse().map((c) => store.layerPath(c)) }));
  }
  if (flags.format !== undefined && flags.format !== '' && flags.format !== 'json') {
    const body = flags.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
    out(objects.map((o) => `${renderTemplate(body, o)}\n`).join(''));
  } else {
    out(`${goJson(objects, '    ')}\n`);
  }
  for (const e of errors) ctx.writeErr(`${e}\n`);
  return errors.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// image prune

interface PruneFlags extends RootFlags {
  all?: boolean;
  force?: boolean;
}

async function pruneImages(flags: PruneFlags, cmd: Command, ctx: CliContext): Promise<number> {
  if (!flags.force) {
    const warning = flags.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!(await confirm(warning))) return 0;
  }
  const store = await openStore(cmd, ctx);
  const familiar = await familiarFn();
  try {
    const before = await store.listImages();
    // Containers are looked at under the store's lock, as run() records them (see removeImages).
    const result = await store.withLock(async () => {
      const live = await liveContainers(store.root);
      return store.prune({
        dangling: !flags.all,
        keepImages: imagesInUse(before, live).keys(),
        keepLayers: layersInUse(live),
      });
    });
    const after = new Set((await store.listImages()).map((e) => e.id));
    const lines: string[] = [];
    const removed = before.filter((e) => result.imagesRemoved.includes(e.name));
    for (const e of removed) {
      const parts = splitName(e.name, familiar);
      lines.push(`untagged: ${parts.digest ? `${parts.repository}@${parts.digest}` : `${parts.repository}:${parts.tag ?? 'latest'}`}`);
    }
    const deletedIds = [...new Set(removed.map((e) => e.id))].filter((id) => !after.has(id));
    const layerOrder = new Map<string, number>();
    for (const e of removed) e.layers.forEach((c, i) => layerOrder.set(c, Math.max(layerOrder.get(c) ?? -1, i)));
    for (const id of deletedIds) lines.push(`deleted: ${id}`);
    const layers = [...result.layersRemoved].sort((a, b) => (layerOrder.get(b) ?? -1) - (layerOrder.get(a) ?? -1) || (a < b ? -1 : 1));
    for (const c of layers) lines.push(`deleted: ${c}`);
    if (lines.length) out(`Deleted Images:\n${lines.map((l) => `${l}\n`).join('')}\n`);
    out(`Total reclaimed space: ${humanSize(result.freedBytes)}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// system df

interface DfFlags extends RootFlags {
  verbose?: boolean;
  format?: string;
}

const DF_HEADERS: Record<string, string> = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};

/** Docker's RECLAIMABLE cell: `1.2MB (40%)` (no percentage when the total is 0). */
export function reclaimableCell(reclaimable: number, total: number): string {
  return total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable);
}

/** The numbers `system df` shows for images, from the store's disk usage and the images in use. */
export interface ImagesDf {
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

async function blobUsage(path: string): Promise<number> {
  const { lstat } = await import('node:fs/promises');
  try {
    return (await lstat(path)).blocks * 512;
  } catch {
    return 0;
  }
}

async function imagesDf(store: ImageStore, du: DiskUsage, entries: ImageEntry[], inUse: Map<string, string[]>): Promise<ImagesDf> {
  // What running containers' images keep: their layers and their blobs.
  const keptLayers = new Set<string>();
  const keptBlobs = new Set<string>();
  for (const e of entries) {
    if (!inUse.has(e.id)) continue;
    for (const c of e.layers) {
      keptLayers.add(c);
      const meta = await store.getLayer(c);
      if (meta) keptBlobs.add(meta.blobDigest);
    }
    keptBlobs.add(e.manifestDigest);
    keptBlobs.add(e.configDigest);
    if (e.indexDigest) keptBlobs.add(e.indexDigest);
  }
  let kept = 0;
  for (const l of du.layers) if (keptLayers.has(l.chainId)) kept += l.size;
  for (const b of keptBlobs) kept += await blobUsage(store.blobPath(b));
  const size = du.totals.size;
  const reclaimable = Math.max(0, du.totals.layersSize + du.totals.blobsSize + du.totals.tmpSize - kept);
  return { total: new Set(entries.map((e) => e.id)).size, active: inUse.size, size, reclaimable };
}

async function systemDf(flags: DfFlags, cmd: Command, ctx: CliContext): Promise<void> {
  const format = parseFormat(flags.format, '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}');
  const { diskUsageOf } = await import('../image/store.js');
  const { join } = await import('node:path');
  const store = await openStore(cmd, ctx);
  const familiar = await familiarFn();
  const du = await store.diskUsage();
  const entries = await store.listImages();
  const live = await liveContainers(store.root);
  const inUse = imagesInUse(entries, live);
  const images = await imagesDf(store, du, entries, inUse);
  const containerSizes = new Map<string, number>();
  for (const id of live.dirs) containerSizes.set(id, await diskUsageOf(join(store.root, 'containers', id, 'upper')));
  const containersSize = [...containerSizes.values()].reduce((a, b) => a + b, 0);
  const stoppedSize = live.dirs.filter((id) => !live.running.has(id)).reduce((a, id) => a + containerSizes.get(id)!, 0);
  const rows = [
    { Type: 'Images', TotalCount: String(images.total), Active: String(images.active), Size: humanSize(images.size), Reclaimable: reclaimableCell(images.reclaimable, images.size) },
    {
      Type: 'Containers',
      TotalCount: String(live.dirs.length),
      Active: String(live.running.size),
      Size: humanSize(containersSize),
      Reclaimable: reclaimableCell(stoppedSize, containersSize),
    },
    { Type: 'Local Volumes', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
    { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
  ];
  if (!flags.verbose) {
    out(renderRows(format, rows, DF_HEADERS));
    return;
  }
  // -v: per image (Docker's columns), per layer, per container.
  // Sizes of images and layers as `images` shows them: the extracted layer dirs (layer records), a
  // layer shared when an image with another id uses it too.
  const layerSize = new Map<string, number>();
  for (const l of du.layers) layerSize.set(l.chainId, (await store.getLayer(l.chainId))?.size ?? 0);
  const idsUsing = new Map<string, Set<string>>();
  for (const e of entries) for (const c of e.layers) idsUsing.set(c, (idsUsing.get(c) ?? new Set()).add(e.id));
  const now = Date.now();
  const imageRows = entries.map((e) => {
    let size = 0;
    let shared = 0;
    for (const c of new Set(e.layers)) {
      const s = layerSize.get(c) ?? 0;
      size += s;
      if ((idsUsing.get(c)?.size ?? 0) > 1) shared += s;
    }
    return imageRow(e, size, { now, familiar, containers: inUse.get(e.id)?.length ?? 0, sharedSize: shared });
  });
  let text = 'Images space usage:\n\n';
  text += renderRows(
    { table: true, body: '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}' },
    imageRows,
    IMAGE_HEADERS,
  );
  text += '\nLayers space usage:\n\n';
  const layerRows = du.layers.map((l) => ({
    ID: shortImageId(l.chainId),
    Size: humanSize(layerSize.get(l.chainId) ?? 0),
    Images: l.images.length ? l.images.map((n) => {
      const p = splitName(n, familiar);
      return p.digest ? `${p.repository}@${shortImageId(p.digest)}` : `${p.repository}:${p.tag ?? 'latest'}`;
    }).join(', ') : '<none>',
  }));
  text += renderRows({ table: true, body: '{{.ID}}\t{{.Size}}\t{{.Images}}' }, layerRows, { ID: 'LAYER ID', Size: 'SIZE', Images: 'IMAGES' });
  text += '\nContainers space usage:\n\n';
  const containerRows = live.dirs.map((id) => {
    const chains = live.running.get(id);
    const name = live.images.get(id)?.name || (chains?.[0] ? entries.find((e) => e.layers.at(-1) === chains[0])?.name : undefined);
    const p = name ? splitName(name, familiar) : undefined;
    return {
      ID: id.slice(0, 12),
      Image: p ? (p.digest ? `${p.repository}@${shortImageId(p.digest)}` : `${p.repository}:${p.tag ?? 'latest'}`) : '<none>',
      Size: humanSize(containerSizes.get(id) ?? 0),
      Status: live.running.has(id) ? 'Running' : 'Exited',
    };
  });
  text += renderRows({ table: true, body: '{{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Status}}' }, containerRows, {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Size: 'SIZE',
    Status: 'STATUS',
  });
  text += '\nLocal Volumes space usage:\n\n';
  text += formatTable([['VOLUME NAME', 'LINKS', 'SIZE']]);
  text += '\nBuild cache usage: 0B\n';
  out(text);
}

// ---------------------------------------------------------------------------------------------
// login / logout

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

/** How Docker names a registry in login/logout messages (Docker Hub: its v1 index URL). */
function registryDisplay(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

async function login(server: string | undefined, flags: LoginFlags, ctx: CliContext): Promise<void> {
  const { normalizeRegistry } = await import('../image/reference.js');
  let registry: string;
  try {
    registry = normalizeRegistry(server ?? 'docker.io');
  } catch (err) {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  }
  let username = flags.username;
  let password = flags.password;
  if (password !== undefined && flags.passwordStdin) throw new CommandError('pocker: --password and --password-stdin are mutually exclusive');
  if (flags.passwordStdin) {
    if (!username) throw new CommandError('pocker: Must provide --username with --password-stdin');
    password = (await readAll()).replace(/\r?\n$/, '');
  } else if (password !== undefined) {
    ctx.writeErr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  const { isatty } = await import('node:tty');
  if (!username || password === undefined) {
    if (!isatty(0)) throw new CommandError('pocker: Error: Cannot perform an interactive login from a non TTY device');
    if (!username) {
      out('Username: ');
      username = (await readLine())?.trim();
      if (!username) throw new CommandError('pocker: Error: Non-null Username Required');
    }
    if (password === undefined) password = await readHidden('Password: ');
  }
  if (password === '') throw new CommandError('pocker: Error: Password Required');
  const { RegistryClient } = await import('../image/registry.js');
  const creds = { username, password };
  const client = new RegistryClient({ credentials: (r) => (r === registry ? creds : undefined), retries: 1 });
  try {
    await client.checkLogin(registry);
  } catch (err) {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  }
  const { saveCredentials } = await import('../image/auth.js');
  await saveCredentials(registry, username, password);
  out('Login Succeeded\n');
}

async function logout(server: string | undefined): Promise<void> {
  const { normalizeRegistry } = await import('../image/reference.js');
  let registry: string;
  try {
    registry = normalizeRegistry(server ?? 'docker.io');
  } catch (err) {
    throw new CommandError(`pocker: ${(err as Error).message}`);
  }
  const { removeCredentials } = await import('../image/auth.js');
  if (await removeCredentials(registry)) out(`Removing login credentials for ${registryDisplay(registry)}\n`);
  else out(`Not logged in to ${registryDisplay(registry)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Registration

function addList(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('List images')
    .usage('[OPTIONS] [REPOSITORY[:TAG]]')
    .argument('[reference]', 'Show only the images of this repository (and tag); globs allowed')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('-q, --quiet', 'Only show image IDs')
    .option('--digests', 'Show digests')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .addOption(rootOption())
    .action((reference: string | undefined, flags: ListFlags, c: Command) => guard(ctx, () => listImages(reference, flags, c, ctx)));
}

function addRemove(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Remove one or more images')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>', 'Image names or ids')
    .option('-f, --force', 'Force removal of the image')
    .addOption(rootOption())
    .action((images: string[], flags: RmiFlags, c: Command) => guard(ctx, () => removeImages(images, flags, c, ctx)));
}

function addTag(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .usage('SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .argument('<source>', 'Image name or id')
    .argument('<target>', 'New name')
    .addOption(rootOption())
    .action((source: string, target: string, _flags: RootFlags, c: Command) => guard(ctx, () => tagImage(source, target, c, ctx)));
}

/** Adds images, rmi, tag, image (ls, rm, tag, inspect, prune), system df, login and logout. */
export function addImageCommands(program: Command, ctx: CliContext): void {
  addList(program.command('images'), ctx);
  addRemove(program.command('rmi'), ctx);
  addTag(program.command('tag'), ctx);

  const image = program.command('image').description('Manage images').usage('COMMAND').helpCommand(false);
  addList(image.command('ls').alias('list'), ctx);
  addRemove(image.command('rm').alias('rmi').alias('remove'), ctx);
  addTag(image.command('tag'), ctx);
  image
    .command('inspect')
    .description('Display detailed information on one or more images')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>', 'Image names or ids')
    .option('-f, --format <format>', 'Format output using a custom template')
    .addOption(rootOption())
    .action((images: string[], flags: InspectFlags, c: Command) => guard(ctx, () => inspectImages(images, flags, c, ctx)));
  image
    .command('prune')
    .description('Remove unused images')
    .usage('[OPTIONS]')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .addOption(rootOption())
    .action((flags: PruneFlags, c: Command) => guard(ctx, () => pruneImages(flags, c, ctx)));

  const system = program.command('system').description('Manage pocker').usage('COMMAND').helpCommand(false);
  system
    .command('df')
    .description('Show pocker disk usage')
    .usage('[OPTIONS]')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .addOption(rootOption())
    .action((flags: DfFlags, c: Command) => guard(ctx, () => systemDf(flags, c, ctx)));

  program
    .command('login')
    .description('Log in to a registry')
    .usage('[OPTIONS] [SERVER]')
    .argument('[server]', 'Registry (default docker.io)')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password')
    .option('--password-stdin', 'Take the password from stdin')
    .action((server: string | undefined, flags: LoginFlags) => guard(ctx, () => login(server, flags, ctx)));
  program
    .command('logout')
    .description('Log out from a registry')
    .usage('[SERVER]')
    .argument('[server]', 'Registry (default docker.io)')
    .action((server: string | undefined) => guard(ctx, () => logout(server)));
}
