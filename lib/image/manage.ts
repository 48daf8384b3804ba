// Image management as library functions with typed results: list, remove (untag / delete), tag,
// inspect, prune and disk usage, over the image store (./store.ts) and the containers of the same
// root (./usage.ts), with Docker's rules. The CLI (lib/cli/images.ts) only parses its flags and
// formats what these return.
//
// Every function takes `{ root }` (default $POCKER_ROOT, else /var/lib/pocker) and opens the store
// for the call only. Errors are PockerErrors: ERR_POCKER_NOT_FOUND (step `lookup`) for an unknown
// image, ERR_POCKER_AMBIGUOUS for an id prefix of several images, ERR_POCKER_CONFLICT (step
// `remove`) for a removal Docker refuses without force, ERR_POCKER_INVALID (step `validate`) for a
// bad reference; the store's own errors (step `store`) pass through.
import { join } from 'node:path';

import { PockerError, invalid } from '../errors.js';
import type { StateOptions } from '../state/api.js';
import { inspectObject, type ImageInspect } from './inspect.js';
import { globMatch, repoDigest, shortImageId, shownReference, splitName, type NameParts } from './names.js';
import { familiarName, parseReference } from './reference.js';
import { parseImageConfig } from './registry.js';
import type { HistoryEntry } from './types.js';
import { ImageStore, diskUsageOf, type ImageEntry } from './store.js';
import { recordEvent } from '../state/events.js';
import { imagesInUse, layersInUse, liveContainers, type LiveContainers } from './usage.js';

export type { ImageInspect, ImageInspectConfig } from './inspect.js';

// ---------------------------------------------------------------------------------------------
// Finding images

/** The name a reference is stored under (`docker.io/library/alpine:latest`), or undefined when `arg` is not a reference. */
function storeNameOf(arg: string): { name: string; familiar: string } | undefined {
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

/**
 * An image by reference (Docker's normalisation), else by id or unique id prefix (4+ hex digits,
 * with or without `sha256:`). Throws ERR_POCKER_NOT_FOUND when there is none, naming it as Docker
 * does (`No such image: alpine:latest`), and the store's ERR_POCKER_AMBIGUOUS for a prefix of
 * several ids.
 */
async function findImage(store: ImageStore, arg: string): Promise<Found> {
  const ref = storeNameOf(arg);
  if (ref) {
    const rec = await store.getImage(ref.name);
    if (rec) return { entry: { name: ref.name, ...rec }, byName: true };
  }
  if (/^(?:sha256:)?[0-9a-f]{4,64}$/.test(arg)) {
    const entry = await store.resolveImage(arg);
    if (entry) return { entry, byName: false };
  }
  throw new PockerError(`No such image: ${ref?.familiar ?? arg}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

function conflict(message: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_CONFLICT', step: 'remove' });
}

/** Runs `fn` with a store of `options.root`, closed afterwards. */
async function withStore<T>(options: StateOptions, fn: (store: ImageStore) => Promise<T>): Promise<T> {
  const store = new ImageStore(options.root);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Bytes of each image's extracted layers (from the layer records), by image id. */
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

// ---------------------------------------------------------------------------------------------
// listImages

/** One stored image name, as `pocker images` lists it (an image with several names is listed once per name). */
export interface ImageInfo {
  /** The name it is stored under: `docker.io/library/alpine:3.20`, or `repository@sha256:…` when pulled by digest. */
  name: string;
  /** The repository as Docker shows it: `alpine`, `user/app`, `127.0.0.1:5000/x`. */
  repository: string;
  /** The tag; undefined for a name by digest (Docker shows `<none>`). */
  tag?: string;
  /** The repository digest (`images --digests`): the name's digest, else the index's, else the manifest's. */
  digest: string;
  /** The image id (`sha256:…`, its config digest); `id.slice(7, 19)` is the short form. */
  id: string;
  /** When the image was created (RFC 3339, from its config). */
  created: string;
  /** Bytes of its extracted layers, as SIZE shows them (a layer shared with other images counts in each). */
  size: number;
  /** Chain ids of its layers, base first. */
  layers: string[];
  /** The digest of its platform manifest. */
  manifestDigest: string;
  /** The digest of the index it was chosen from, if any. */
  indexDigest?: string;
  /** The digest of its config blob (= id). */
  configDigest: string;
}

/** Options of listImages(). */
export interface ImageListOptions extends StateOptions {
  /**
   * Only the images this matches (`pocker images REPOSITORY[:TAG]`): a reference (`alpine`,
   * `alpine:3.20`, `ghcr.io/o/r`), or a glob with Go's path.Match rules (`127.0.0.1:5000/test/*`,
   * `alp*:3.?0`), matched against the name as Docker shows it, with and without its tag.
   */
  reference?: string;
}

/**
 * `images [REPOSITORY[:TAG]]`'s filter: Docker's FamiliarMatch of `pattern` (normalised to its
 * familiar form unless it is a glob) against a name's familiar reference and its repository.
 */
export function referenceMatcher(pattern: string): (parts: NameParts) => boolean {
  let p = pattern;
  if (!/[*?[\]]/.test(pattern)) {
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

function infoOf(entry: ImageEntry, parts: NameParts, size: number): ImageInfo {
  return {
    name: entry.name,
    repository: parts.repository,
    ...(parts.tag !== undefined ? { tag: parts.tag } : {}),
    digest: parts.digest ?? repoDigest(entry),
    id: entry.id,
    created: entry.created,
    size,
    layers: [...entry.layers],
    manifestDigest: entry.manifestDigest,
    ...(entry.indexDigest ? { indexDigest: entry.indexDigest } : {}),
    configDigest: entry.configDigest,
  };
}

/** The stored images, one per name, newest first (then by name); with `reference`, only those it matches. */
export async function listImages(options: ImageListOptions = {}): Promise<ImageInfo[]> {
  const match = options.reference === undefined ? undefined : referenceMatcher(options.reference);
  return withStore(options, async (store) => {
    const shown = (await store.listImages()).map((e) => ({ e, parts: splitName(e.name, familiarName) })).filter(({ parts }) => !match || match(parts));
    const sizes = await imageSizes(store, shown.map(({ e }) => e));
    return shown.map(({ e, parts }) => infoOf(e, parts, sizes.get(e.id) ?? 0));
  });
}

// ---------------------------------------------------------------------------------------------
// removeImage

/** Options of removeImage(). */
export interface ImageRemoveOptions extends StateOptions {
  /**
   * Remove an image a container uses (its layers stay while the container needs them), and every
   * name of an image given by id when it has several (`rmi -f`).
   */
  force?: boolean;
  /** Keep the blobs and layers the removal leaves unused (a later pruneImages() removes them). */
  noPrune?: boolean;
}

/** What removeImage() did, in the order Docker reports it. */
export interface ImageRemoveResult {
  /**
   * The names removed, as Docker prints them (`alpine:3.20`, `alpine@sha256:…`); when the image
   * itself went, its repository digests follow (`alpine@sha256:…`).
   */
  untagged: string[];
  /**
   * Empty while the image has other names; else its id, then the layers (chain ids, top-most
   * first) that nothing else used and were deleted (none with `noPrune`).
   */
  deleted: string[];
}

/** removeImage()'s work, under the store's lock, with the containers as they are under it. */
async function removeLocked(store: ImageStore, arg: string, options: ImageRemoveOptions, live: LiveContainers): Promise<ImageRemoveResult> {
  const found = await findImage(store, arg);
  const { entry } = found;
  const all = await store.listImages();
  const sameId = all.filter((e) => e.id === entry.id);
  const short = shortImageId(entry.id);
  const users = imagesInUse(all, live).get(entry.id);
  const names = found.byName ? [entry.name] : sameId.map((e) => e.name);
  if (!found.byName && sameId.length > 1 && !options.force) {
    throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
  }
  const last = sameId.every((e) => names.includes(e.name));
  // Docker's rules: an image a running container uses cannot be deleted by id even with force; a
  // stopped (or created) container's image can, with force.
  const running = users?.find((u) => [...live.running.keys()].some((id) => id.startsWith(u)));
  if (last && users && !found.byName && running && options.force) {
    throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running}`);
  }
  if (last && users && !options.force) {
    throw conflict(
      found.byName
        ? `conflict: unable to remove repository reference "${arg}" (must force) - container ${users[0]} is using its referenced image ${short}`
        : `conflict: unable to delete ${short} (must be forced) - image is being used by ${running ? `running container ${running}` : `stopped container ${users[0]}`}`,
    );
  }
  const result: ImageRemoveResult = { untagged: [], deleted: [] };
  const removed: ImageEntry[] = [];
  for (const name of names) {
    const rec = await store.removeImage(name);
    if (!rec) continue;
    removed.push({ name, ...rec });
    result.untagged.push(shownReference(splitName(name, familiarName)));
  }
  const left = (await store.listImages()).some((e) => e.id === entry.id);
  if (left || removed.length === 0) return result;
  // The image is gone: Docker also untags its repository digests, then deletes it and its layers.
  const digests = new Set<string>();
  for (const r of removed) {
    const parts = splitName(r.name, familiarName);
    if (!parts.digest) digests.add(`${parts.repository}@${repoDigest(r)}`);
  }
  result.untagged.push(...digests);
  result.deleted.push(entry.id);
  if (options.noPrune) return result;
  const pruned = await store.prune({ keepLayers: layersInUse(live) });
  const gone = new Set(pruned.layersRemoved);
  for (const chain of [...entry.layers].reverse()) if (gone.has(chain)) result.deleted.push(chain);
  return result;
}

/**
 * Removes an image name, Docker's `rmi`. `ref` is a reference (`alpine`, `alpine:3.20`,
 * `repo@sha256:…`: that name only) or an image id / unique id prefix (all its names, which takes
 * `force` when there are several). When no name is left, the image is deleted with the blobs and
 * layers no other image and no container uses. Refuses (ERR_POCKER_CONFLICT) to remove the last
 * name of an image a container uses — running, stopped or created — unless `force`; even then
 * the container's layers stay. Unknown: ERR_POCKER_NOT_FOUND.
 */
export async function removeImage(ref: string, options: ImageRemoveOptions = {}): Promise<ImageRemoveResult> {
  return withStore(options, (store) =>
    // Under the store's lock: run() and create() record a starting container under it too, so
    // what is seen in use is what is in use (nested store calls reuse the lock).
    store.withLock(async () => {
      const result = await removeLocked(store, ref, options, await liveContainers(store.root));
      for (const name of result.untagged) recordEvent(store.root, 'image', 'untag', name, { name });
      if (result.deleted.length) recordEvent(store.root, 'image', 'delete', result.deleted[0]!, { name: result.untagged[0] ?? result.deleted[0]! });
      return result;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// tagImage

/** What tagImage() recorded. */
export interface ImageTagResult {
  /** The name the image is now stored under too (`docker.io/library/app:v1`). */
  name: string;
  /** The image's id. */
  id: string;
}

/**
 * Gives the image `source` (a reference, an id or a unique id prefix) the name `target` too,
 * Docker's `tag`: `target` is normalised (`app` -> `docker.io/library/app:latest`) and replaces
 * whatever image had that name. A bad or digest `target`: ERR_POCKER_INVALID; an unknown
 * `source`: ERR_POCKER_NOT_FOUND.
 */
export async function tagImage(source: string, target: string, options: StateOptions = {}): Promise<ImageTagResult> {
  const ref = parseReference(target);
  if (ref.digest) throw invalid('refusing to create a tag with a digest reference');
  return withStore(options, async (store) => {
    const { entry } = await findImage(store, source);
    const rec = await store.tagImage(entry.name, ref.canonical);
    recordEvent(store.root, 'image', 'tag', rec.id, { name: ref.canonical });
    return { name: ref.canonical, id: rec.id };
  });
}

// ---------------------------------------------------------------------------------------------
// inspectImage

/**
 * Docker's `image inspect` document of an image (a reference, an id or a unique id prefix): its
 * config, names, digests, size and layer directories. Unknown: ERR_POCKER_NOT_FOUND.
 */
export async function inspectImage(ref: string, options: StateOptions = {}): Promise<ImageInspect> {
  return withStore(options, async (store) => {
    const all = await store.listImages();
    const { entry } = await findImage(store, ref);
    const config = parseImageConfig(await store.readBlob(entry.configDigest), `config of ${ref}`);
    const size = (await imageSizes(store, [entry])).get(entry.id) ?? 0;
    return inspectObject(entry, config, all, size, { familiar: familiarName, lowerDirs: [...entry.layers].reverse().map((c) => store.layerPath(c)) });
  });
}

// ---------------------------------------------------------------------------------------------
// imageHistory

/** Go's zero time.Time in Unix seconds (0001-01-01T00:00:00Z). */
const GO_ZERO_TIME = -62135596800;

/** One step of an image's history, Docker's ImageHistoryResponseItem (newest first). */
export interface ImageHistoryItem {
  /** The image's id on the newest step, `<missing>` on the others (as Docker without a build cache). */
  Id: string;
  /** Unix seconds (Go's zero time, -62135596800, when the image does not say, as Docker's API). */
  Created: number;
  CreatedBy: string;
  /** The image's names, on the newest step. */
  Tags: string[] | null;
  /** Bytes of the layer the step made (0 for a step without one: `empty_layer`). */
  Size: number;
  Comment: string;
}

/**
 * Docker's `history` of an image (a reference, an id or a unique id prefix): its config's history
 * entries, newest first, each with the size of the layer it made (layers are matched to the
 * entries that are not `empty_layer`, in order). An image without history gets one entry per
 * layer. Unknown: ERR_POCKER_NOT_FOUND.
 */
export async function imageHistory(ref: string, options: StateOptions = {}): Promise<ImageHistoryItem[]> {
  return withStore(options, async (store) => {
    const { entry } = await findImage(store, ref);
    const config = parseImageConfig(await store.readBlob(entry.configDigest), `config of ${ref}`);
    const sizes: number[] = [];
    for (const chain of entry.layers) sizes.push((await store.getLayer(chain))?.size ?? 0);
    const history: HistoryEntry[] = config.history?.length ? config.history : sizes.map(() => ({ created: config.created ?? '' }));
    let layer = 0;
    const items = history.map((h): ImageHistoryItem => {
      const size = h.empty_layer ? 0 : (sizes[layer++] ?? 0);
      const t = h.created ? Date.parse(h.created) : NaN;
      return { Id: '<missing>', Created: Number.isFinite(t) ? Math.floor(t / 1000) : GO_ZERO_TIME, CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' };
    });
    items.reverse();
    if (items.length) {
      const names = (await store.listImages()).filter((e) => e.id === entry.id).map((e) => familiarName(e.name));
      items[0] = { ...items[0]!, Id: entry.id, Tags: names.length ? names : null };
    }
    return items;
  });
}

// ---------------------------------------------------------------------------------------------
// pruneImages

/** Options of pruneImages(). */
export interface ImagePruneOptions extends StateOptions {
  /**
   * false (default): remove only what no image references (dangling layers and blobs, and what
   * interrupted pulls left). true: first remove every image no container uses (`image prune -a`).
   */
  all?: boolean;
}

/** What pruneImages() removed, as Docker reports it. */
export interface ImagePruneResult {
  /** The names removed (with `all`), as Docker prints them (`alpine:3.20`). */
  untagged: string[];
  /** The ids of the images that went, then the layers (chain ids) deleted, top-most first. */
  deleted: string[];
  /** Bytes freed on disk. */
  reclaimed: number;
}

/**
 * Removes unused image data, Docker's `image prune`: the layers and blobs no image references,
 * and with `all` every image no container uses (running, stopped or created) first. Layers a
 * container mounts are always kept.
 */
export async function pruneImages(options: ImagePruneOptions = {}): Promise<ImagePruneResult> {
  return withStore(options, async (store) => {
    const before = await store.listImages();
    // Containers are looked at under the store's lock, as run() records them (see removeImage).
    const pruned = await store.withLock(async () => {
      const live = await liveContainers(store.root);
      return store.prune({ dangling: !options.all, keepImages: imagesInUse(before, live).keys(), keepLayers: layersInUse(live) });
    });
    const after = new Set((await store.listImages()).map((e) => e.id));
    const removed = before.filter((e) => pruned.imagesRemoved.includes(e.name));
    const untagged = removed.map((e) => shownReference(splitName(e.name, familiarName)));
    const deleted = [...new Set(removed.map((e) => e.id))].filter((id) => !after.has(id));
    const layerOrder = new Map<string, number>();
    for (const e of removed) e.layers.forEach((c, i) => layerOrder.set(c, Math.max(layerOrder.get(c) ?? -1, i)));
    const layers = [...pruned.layersRemoved].sort((a, b) => (layerOrder.get(b) ?? -1) - (layerOrder.get(a) ?? -1) || (a < b ? -1 : 1));
    return { untagged, deleted: [...deleted, ...layers], reclaimed: pruned.freedBytes };
  });
}

// ---------------------------------------------------------------------------------------------
// systemDf

/** Options of systemDf(). */
export interface SystemDfOptions extends StateOptions {
  /** Also give the usage per image, layer and container (`system df -v`). */
  verbose?: boolean;
}

/** One line of `system df`. */
export interface DiskUsageTotals {
  /** How many (images: distinct ids; containers: directories). */
  count: number;
  /** How many are in use (images: by a container; containers: running). */
  active: number;
  /** Bytes (images: their distinct extracted layers, as listImages() sizes them; containers: writable layers on disk). */
  size: number;
  /** Bytes that pruning would free (images: what no container's image keeps; containers: the stopped ones' writable layers). */
  reclaimable: number;
}

/** An image in `system df -v`. */
export interface ImageDiskUsage extends ImageInfo {
  /** Bytes of its layers that images with another id use too. */
  sharedSize: number;
  /** Bytes of its layers only it uses (`size - sharedSize`). */
  uniqueSize: number;
  /** How many containers use it. */
  containers: number;
}

/** A layer in `system df -v`. */
export interface LayerDiskUsage {
  /** Its chain id. */
  chainId: string;
  /** Bytes of its extracted directory (as its layer record has them). */
  size: number;
  /** Stored names of the images that use it, sorted. */
  images: string[];
}

/** A container in `system df -v`. */
export interface ContainerDiskUsage {
  /** The full id. */
  id: string;
  /** The stored name of its image, or '' when it has none (`host`, `--rootfs`) or it is unknown. */
  image: string;
  /** Bytes of its writable layer. */
  size: number;
  /** True when its overlay is mounted. */
  running: boolean;
}

/** What systemDf() gives. */
export interface SystemDiskUsage {
  images: DiskUsageTotals;
  containers: DiskUsageTotals;
  /** Bytes of what the store keeps beside the images' layers: compressed blobs (for `save`, `push`) and unfinished downloads. */
  blobs: number;
  /** Per image (newest first), layer (by chain id) and container (by id): only with `verbose`. */
  details?: { images: ImageDiskUsage[]; layers: LayerDiskUsage[]; containers: ContainerDiskUsage[] };
}

/**
 * Disk usage of the store and the containers, Docker's `system df`: images (their distinct layers,
 * sized as listImages() sizes them; reclaimable: the layers no container's image keeps), containers (their writable
 * layers; reclaimable: the stopped ones'), and with `verbose` the usage per image, layer and
 * container.
 */
export async function systemDf(options: SystemDfOptions = {}): Promise<SystemDiskUsage> {
  return withStore(options, async (store) => {
    const du = await store.diskUsage();
    const entries = await store.listImages();
    const live = await liveContainers(store.root);
    const inUse = imagesInUse(entries, live);

    // One size for one thing: an image's size is its extracted layers, as listImages() counts them
    // (`pocker images` SIZE); the Images line sums the distinct layers, and what pruning would free
    // is the layers no container's image keeps. (The compressed blobs the store keeps for `save` and
    // `push` are not image content: `system df -v` lists them apart.)
    const keptLayers = new Set<string>();
    for (const e of entries) if (inUse.has(e.id)) for (const c of e.layers) keptLayers.add(c);
    const layerSize = new Map<string, number>();
    for (const l of du.layers) layerSize.set(l.chainId, (await store.getLayer(l.chainId))?.size ?? 0);
    let imagesSize = 0;
    let reclaimable = 0;
    for (const [chain, size] of layerSize) {
      imagesSize += size;
      if (!keptLayers.has(chain)) reclaimable += size;
    }
    const images: DiskUsageTotals = {
      count: new Set(entries.map((e) => e.id)).size,
      active: inUse.size,
      size: imagesSize,
      reclaimable,
    };

    const containerSizes = new Map<string, number>();
    for (const id of live.dirs) containerSizes.set(id, await diskUsageOf(join(store.root, 'containers', id, 'upper')));
    const containersSize = [...containerSizes.values()].reduce((a, b) => a + b, 0);
    const containers: DiskUsageTotals = {
      count: live.dirs.length,
      active: live.running.size,
      size: containersSize,
      reclaimable: live.dirs.filter((id) => !live.running.has(id)).reduce((a, id) => a + containerSizes.get(id)!, 0),
    };
    const blobs = du.totals.blobsSize + du.totals.tmpSize;
    if (!options.verbose) return { images, containers, blobs };

    // Per image and layer as listImages() has them: a layer is shared when an image with another id uses it too.
    const idsUsing = new Map<string, Set<string>>();
    for (const e of entries) for (const c of e.layers) idsUsing.set(c, (idsUsing.get(c) ?? new Set()).add(e.id));
    const imageUsage = entries.map((e): ImageDiskUsage => {
      let size = 0;
      let shared = 0;
      for (const c of new Set(e.layers)) {
        const s = layerSize.get(c) ?? 0;
        size += s;
        if ((idsUsing.get(c)?.size ?? 0) > 1) shared += s;
      }
      return { ...infoOf(e, splitName(e.name, familiarName), size), sharedSize: shared, uniqueSize: size - shared, containers: inUse.get(e.id)?.length ?? 0 };
    });
    const layerUsage = du.layers.map((l): LayerDiskUsage => ({ chainId: l.chainId, size: layerSize.get(l.chainId) ?? 0, images: [...l.images] }));
    const containerUsage = live.dirs.map((id): ContainerDiskUsage => {
      const chains = live.running.get(id);
      const image = live.images.get(id)?.name || (chains?.[0] ? entries.find((e) => e.layers.at(-1) === chains[0])?.name : undefined) || '';
      return { id, image, size: containerSizes.get(id) ?? 0, running: live.running.has(id) };
    });
    return { images, containers, blobs, details: { images: imageUsage, layers: layerUsage, containers: containerUsage } };
  });
}
