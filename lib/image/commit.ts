// `pocker commit`: a container's changes (its overlay upper dir on disk) become a new gzip layer on
// top of its image, with overlay whiteouts turned into `.wh.<name>` entries and opaque dirs into
// `.wh..wh..opq` markers. The layer tar streams (the upper dir is walked fd by fd, no symlink
// followed, see lib/image/export.ts) through a hash (the diff id) and gzip into the store; the new
// config is the image's with the diff id appended, a history entry and the `--change`s applied.
import { existsSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

import { PockerError, asPockerError, invalid, type PockerErrorCode } from '../errors.js';
import { parseChanges, storeConfigAndManifest } from './archive.js';
import { HashingStream } from './hashing.js';
import { TreeWalker, containerFs, usernsOf, writeTar } from './export.js';
import { parseReference } from './reference.js';
import { ImageStore, type ImageRecord } from './store.js';
import {
  MEDIA_TYPE_OCI_LAYER_GZIP,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageManifest,
} from './types.js';
import { isoTime } from '../state/timestamps.js';

export interface CommitOptions {
  /** `REPOSITORY[:TAG]` to record the image under (default: untagged, by id only). */
  reference?: string;
  /** Dockerfile-like instructions applied to the config (as `import --change`). */
  changes?: string[];
  /** The history comment. */
  message?: string;
  /** The author (config and history). */
  author?: string;
  /** Freeze a running container's cgroup while its changes are read (default true, as Docker). */
  pause?: boolean;
}

function commitError(message: string, code: PockerErrorCode = 'ERR_POCKER_INVALID'): PockerError {
  return new PockerError(message, { code, step: 'commit' });
}

/** Freezes the container's cgroups (v2 cgroup.freeze, v1 freezer.state); returns the undo. Best effort. */
function freeze(cgroups: string[]): () => void {
  const undo: Array<() => void> = [];
  for (const cg of cgroups) {
    try {
      if (existsSync(join(cg, 'cgroup.freeze'))) {
        writeFileSync(join(cg, 'cgroup.freeze'), '1');
        undo.push(() => writeFileSync(join(cg, 'cgroup.freeze'), '0'));
      } else if (existsSync(join(cg, 'freezer.state'))) {
        writeFileSync(join(cg, 'freezer.state'), 'FROZEN');
        undo.push(() => writeFileSync(join(cg, 'freezer.state'), 'THAWED'));
      }
    } catch {
      /* not frozen: the commit still works, less consistently */
    }
  }
  return () => {
    for (const u of undo) {
      try {
        u();
      } catch {
        /* the cgroup is gone */
      }
    }
  };
}

/** The base image's manifest layer descriptors (from its manifest when the store still has it, else from the layers' records). */
async function baseLayerDescriptors(store: ImageStore, imageId: string, chainIds: string[]): Promise<Descriptor[]> {
  try {
    const found = (await store.listImages()).find((i) => i.id === imageId);
    if (found) {
      const manifest = JSON.parse((await store.readBlob(found.manifestDigest)).toString('utf8')) as ImageManifest;
      if (Array.isArray(manifest.layers) && manifest.layers.length === chainIds.length) {
        return manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
      }
    }
  } catch {
    /* fall back to the layer records */
  }
  const out: Descriptor[] = [];
  for (const chain of chainIds) {
    const layer = await store.getLayer(chain);
    if (!layer || !(await store.hasBlob(layer.blobDigest))) {
      throw commitError(`the image's layer ${chain} is no longer in the image store: cannot commit`, 'ERR_POCKER_NOT_FOUND');
    }
    const { size } = await stat(store.blobPath(layer.blobDigest));
    out.push({ mediaType: layer.mediaType, digest: layer.blobDigest, size });
  }
  return out;
}

/** Makes a new image of the container's changes on top of its image; returns the image id (`sha256:…`). */
export async function commitContainer(root: string, containerRef: string, options: CommitOptions = {}): Promise<string> {
  let name: string | undefined;
  if (options.reference !== undefined) {
    const ref = parseReference(options.reference);
    if (ref.digest) throw invalid(`refusing to create a tag with a digest reference: ${options.reference}`);
    name = ref.canonical;
  }
  parseChanges(options.changes ?? []); // bad changes fail before anything is read
  const c = containerFs(root, containerRef, 'commit');
  const image = c.config.image;
  if ('host' in image) throw commitError('the host image keeps its changes in memory: commit is not supported', 'ERR_POCKER_UNSUPPORTED');
  if ('rootfs' in image) throw commitError('commit needs an image container (this one runs on a --rootfs directory)', 'ERR_POCKER_UNSUPPORTED');
  const upper = join(c.dir, 'upper');
  if (!existsSync(upper)) throw commitError(`container ${containerRef} has no changes on disk (${upper} is missing)`, 'ERR_POCKER_NOT_FOUND');

  const store = new ImageStore(root);
  try {
    let base: ImageConfig;
    try {
      base = JSON.parse((await store.readBlob(image.id)).toString('utf8')) as ImageConfig;
    } catch (err) {
      throw commitError(`the image ${image.name} (${image.id}) of container ${containerRef} is no longer in the image store: ${(err as Error).message}`, 'ERR_POCKER_NOT_FOUND');
    }
    const baseDiffIds = [...(base.rootfs?.diff_ids ?? [])];
    const baseChains = store.chainId(baseDiffIds);
    const baseLayers = await baseLayerDescriptors(store, image.id, baseChains);

    // The layer: tar → hash (diff id) → gzip → store.
    const hasher = new HashingStream('sha256');
    const tar = new PassThrough({ highWaterMark: 1 << 20 });
    const gzip = zlib.createGzip({ chunkSize: 256 * 1024 });
    const compressed = pipeline(tar, hasher, gzip);
    compressed.catch(() => {});
    const thaw = options.pause !== false && c.pid !== undefined ? freeze(c.config.cgroups ?? []) : () => {};
    let blob: { digest: string; size: number };
    try {
      const importing = store.importBlob(gzip);
      importing.catch(() => {});
      try {
        await writeTar(tar, async (w) => {
          await new TreeWalker(w, { mode: 'layer', ...usernsOf(c) }).walk([upper]);
        });
      } catch (err) {
        gzip.destroy(err as Error);
        await importing.catch(() => {});
        throw err;
      } finally {
        thaw();
      }
      await compressed;
      blob = await importing;
    } catch (err) {
      throw err instanceof PockerError ? err : asPockerError(err, 'commit', `cannot commit container ${containerRef}`);
    }
    const diffId = hasher.digest!;
    const diffIds = [...baseDiffIds, diffId];
    const chains = store.chainId(diffIds);
    await store.ensureLayer(chains.at(-1)!, diffId, baseChains.at(-1) ?? null, blob.digest, MEDIA_TYPE_OCI_LAYER_GZIP);

    const created = isoTime();
    const history: HistoryEntry = {
      created,
      ...(options.author ? { author: options.author } : {}),
      created_by: 'pocker commit',
      ...(options.message ? { comment: options.message } : {}),
    };
    const config: ImageConfig = {
      ...base,
      created,
      ...(options.author ? { author: options.author } : {}),
      config: parseChanges(options.changes ?? [], base.config ?? {}),
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [...(base.history ?? []), history],
    };
    const { configDigest, manifestDigest } = await storeConfigAndManifest(store, config, [
      ...baseLayers,
      { mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: blob.digest, size: blob.size },
    ]);
    const baseRecord = (await store.listImages()).find((i) => i.id === image.id);
    const record: ImageRecord = {
      id: configDigest,
      manifestDigest,
      configDigest,
      layers: chains,
      created,
      size: (baseRecord?.size ?? 0) + hasher.bytes,
    };
    await store.putImage(name ?? configDigest, record);
    return configDigest;
  } finally {
    await store.close();
  }
}
