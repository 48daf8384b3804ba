// pull(): resolve a reference in its registry, download the config and layers into the store
// (concurrently, each verified while streaming), extract each layer once per chain id, and record
// the image. Progress is reported as Docker reports it, one status per layer.
import { recordEvent } from '../state/events.js';
import { Readable } from 'node:stream';

import { loadCredentials } from './auth.js';
import { parseReference, type ImageReference } from './reference.js';
import { RegistryClient, parseImageConfig } from './registry.js';
import { ImageStore } from './store.js';
import type { Descriptor, ImageConfig, Platform } from './types.js';
import { PockerError } from '../errors.js';
import type { PullProgress } from '../types.js';
import { isoTime } from '../state/timestamps.js';

/** What pull() reports while it works (the public PullProgress type). */
export type PullEvent = PullProgress;

export interface PullOptions {
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  /** Registries reached over plain HTTP (loopback ones always are). */
  insecureRegistries?: string[];
  /** The platform to pick from a multi-platform image (default: this host's). */
  platform?: Platform;
  /** Layers downloaded at once (default 3, as Docker). */
  concurrency?: number;
  onEvent?: (event: PullEvent) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  /** The canonical name the image is stored under, e.g. `docker.io/library/alpine:latest`. */
  name: string;
  /** The digest of the manifest that was pulled (what `Digest:` shows). */
  digest: string;
  /** The image id (config digest). */
  id: string;
  /** True when the image was already in the store with the same manifest. */
  upToDate: boolean;
  config: ImageConfig;
}

/** Docker shows layers by the first 12 hex digits of their blob digest. */
export function shortId(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

/** Runs `tasks` with at most `limit` in flight; rejects with the first failure (after all settle). */
async function pool<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await task(items[i]!, i);
      } catch (err) {
        errors.push(err);
        next = items.length; // start nothing new
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length) throw errors[0];
}

/** Pulls `reference` into the store and returns what was stored. */
export async function pull(reference: string, options: PullOptions = {}): Promise<PullResult> {
  const ref: ImageReference = parseReference(reference);
  const emit = options.onEvent ?? (() => {});
  const client = new RegistryClient({
    insecureRegistries: options.insecureRegistries ?? [],
    credentials: (registry) => loadCredentials(registry),
  });
  const store = new ImageStore(options.root);
  const signal = options.signal;
  try {
    emit({ type: 'resolving', reference: ref.familiar });
    const resolved = await client.resolveManifest(ref, options.platform, signal ? { signal } : {});
    const name = ref.digest ? `${ref.name}@${ref.digest}` : ref.canonical;
    const existing = await store.getImage(name);
    if (existing && existing.manifestDigest === resolved.digest && (await allLayersPresent(store, existing.layers))) {
      const config = parseImageConfig(await store.readBlob(existing.configDigest));
      emit({ type: 'done', reference: ref.familiar, digest: resolved.index?.digest ?? resolved.digest, id: existing.id, upToDate: true });
      recordEvent(store.root, 'image', 'pull', name, { name });
      return { name, digest: resolved.index?.digest ?? resolved.digest, id: existing.id, upToDate: true, config };
    }

    // The manifest (and index) and the config go into the store too: `save` and `inspect` need them.
    if (resolved.index) await store.writeBlob({ digest: resolved.index.digest, size: resolved.index.raw.length }, Readable.from([resolved.index.raw]));
    await store.writeBlob({ digest: resolved.digest, size: resolved.raw.length }, Readable.from([resolved.raw]));
    if (!(await store.claimBlob(resolved.config.digest))) {
      await store.writeBlob(resolved.config, await client.fetchBlob(ref, resolved.config, signal ? { signal } : {}));
    }
    const config = parseImageConfig(await store.readBlob(resolved.config.digest));
    const diffIds = config.rootfs?.diff_ids ?? [];
    const layers: Descriptor[] = resolved.layers;
    if (diffIds.length !== layers.length) {
      throw new PockerError(`${ref.familiar}: the manifest has ${layers.length} layers but the config ${diffIds.length} diff ids`, {
        code: 'ERR_POCKER_INVALID',
        step: 'pull',
      });
    }
    const chainIds = store.chainId(diffIds);

    // Which layers need work: present layer dirs are reused (shared between images).
    const needed: boolean[] = [];
    for (let i = 0; i < layers.length; i++) {
      const present = await store.hasLayer(chainIds[i]!);
      needed.push(!present);
      emit({ type: 'layer', id: shortId(layers[i]!.digest), status: present ? 'Already exists' : 'Waiting' });
    }

    // Downloads run concurrently; extraction follows in layer order, each as soon as its blob is in.
    const downloaded = layers.map(() => {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => {}); // observed below; never an unhandled rejection
      return { promise, resolve, reject };
    });
    const download = pool(
      layers.map((l, i) => ({ l, i })).filter(({ i }) => needed[i]),
      options.concurrency ?? 3,
      async ({ l, i }) => {
        const id = shortId(l.digest);
        try {
          if (!(await store.claimBlob(l.digest))) {
            const body = await client.fetchBlob(ref, l, {
              ...(signal ? { signal } : {}),
              onProgress: (current) => emit({ type: 'layer', id, status: 'Downloading', current, total: l.size }),
            });
            await store.writeBlob(l, body);
            emit({ type: 'layer', id, status: 'Verifying Checksum' });
          }
          emit({ type: 'layer', id, status: 'Download complete' });
          downloaded[i]!.resolve();
        } catch (err) {
          downloaded[i]!.reject(err);
          throw err;
        }
      },
    );
    const extract = (async () => {
      for (let i = 0; i < layers.length; i++) {
        if (!needed[i]) continue;
        await downloaded[i]!.promise;
        const l = layers[i]!;
        const id = shortId(l.digest);
        emit({ type: 'layer', id, status: 'Extracting', current: 0, total: l.size });
        await store.ensureLayer(chainIds[i]!, diffIds[i]!, i === 0 ? null : chainIds[i - 1]!, l.digest, l.mediaType, {
          onProgress: (current: number) => emit({ type: 'layer', id, status: 'Extracting', current, total: l.size }),
        });
        emit({ type: 'layer', id, status: 'Pull complete' });
      }
    })();
    await Promise.all([download, extract]);

    const size = layers.reduce((n, l) => n + l.size, 0);
    await store.putImage(name, {
      id: resolved.config.digest,
      manifestDigest: resolved.digest,
      ...(resolved.index ? { indexDigest: resolved.index.digest } : {}),
      configDigest: resolved.config.digest,
      layers: chainIds,
      created: config.created ?? isoTime(),
      size,
    });
    const digest = resolved.index?.digest ?? resolved.digest;
    emit({ type: 'done', reference: ref.familiar, digest, id: resolved.config.digest, upToDate: false });
    recordEvent(store.root, 'image', 'pull', name, { name });
    return { name, digest, id: resolved.config.digest, upToDate: false, config };
  } finally {
    await store.close();
  }
}

async function allLayersPresent(store: ImageStore, chainIds: string[]): Promise<boolean> {
  for (const c of chainIds) if (!(await store.hasLayer(c))) return false;
  return true;
}
