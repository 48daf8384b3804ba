// The image a container runs: found in the store by reference (pulled first when missing, or
// always, per the pull policy), with its layer directories and its config's run defaults.
import { PockerError } from '../errors.js';
import type { ImageDefaults } from '../runtime/options.js';
import { pull, type PullEvent } from './pull.js';
import { parseReference } from './reference.js';
import { parseImageConfig } from './registry.js';
import { ImageStore, type ImageRecord } from './store.js';

/** When `run` pulls: Docker's `--pull` policy. */
export type PullPolicy = 'missing' | 'always' | 'never';

export interface RunImage {
  /** The name the image is stored under. */
  name: string;
  id: string;
  /** Layer directories, base first (overlay wants them top-most first: reverse them). */
  layers: string[];
  defaults: ImageDefaults;
  /** Config.StopSignal, e.g. `SIGQUIT`, when the image sets one. */
  stopSignal?: string;
  /** Config.Volumes: paths that get an anonymous volume, filled from the image. */
  volumes: string[];
  /** Config.ExposedPorts' keys (`80/tcp`): what `-P` publishes. */
  exposedPorts?: string[];
}

export interface ImageForRunOptions {
  root: string;
  pull?: PullPolicy;
  insecureRegistries?: string[];
  /** Called before a pull starts (Docker prints "Unable to find image … locally"). */
  onPullStart?: (reference: string) => void;
  /**
   * Runs under the store's lock once the image is found, before the lock is released: the place
   * to record the container that uses it (rmi and prune look at containers under the same lock),
   * so no concurrent pocker can remove the layers in between.
   */
  claim?: (image: RunImage) => void | Promise<void>;
  onPullEvent?: (event: PullEvent) => void;
}

/** An image id or id prefix (`sha256:4a1b…`, `4a1b2c`), as `docker run` also accepts. */
export const IMAGE_ID_RE = /^(?:sha256:[0-9a-f]{4,64}|[0-9a-f]{4,64})$/;

export async function imageForRun(reference: string, options: ImageForRunOptions): Promise<RunImage> {
  const idLike = IMAGE_ID_RE.test(reference);
  // `sha256:…` is an id only; a bare hex string may be a name (library/<hex>) or an id prefix.
  const ref = reference.startsWith('sha256:') ? undefined : parseReference(reference);
  let name = ref ? (ref.digest ? `${ref.name}@${ref.digest}` : ref.canonical) : reference;
  const policy = options.pull ?? 'missing';
  const store = new ImageStore(options.root);
  try {
    let record: ImageRecord | undefined = policy === 'always' || !ref ? undefined : await store.getImage(name);
    if (!record && idLike && policy !== 'always') {
      const entry = await store.resolveImage(reference);
      if (entry) {
        record = entry;
        name = entry.name;
      }
    }
    if (!record) {
      if (policy === 'never' || !ref) {
        throw new PockerError(`No such image: ${ref?.familiar ?? reference}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'image' });
      }
      if (policy === 'missing') options.onPullStart?.(ref.familiar);
      await pull(reference, {
        root: options.root,
        ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
        ...(options.onPullEvent ? { onEvent: options.onPullEvent } : {}),
      });
      record = await store.getImage(name);
      if (!record) throw new PockerError(`${ref.familiar}: not in the store after pulling it`, { code: 'ERR_POCKER_NOT_FOUND', step: 'image' });
    }
    return await store.withLock(async () => {
      // Still there? (an rmi or prune may have run since we looked: then it is gone, all of it)
      const current = await store.getImage(name);
      let complete = current !== undefined && (await store.hasBlob(current.configDigest));
      for (const chain of current?.layers ?? []) complete &&= await store.hasLayer(chain);
      if (!current || !complete) {
        throw new PockerError(`image ${name} was removed while the container was starting`, { code: 'ERR_POCKER_NOT_FOUND', step: 'image' });
      }
      const config = parseImageConfig(await store.readBlob(current.configDigest));
      const c = config.config ?? {};
      const image: RunImage = {
        name,
        id: current.id,
        layers: current.layers.map((chain) => store.layerPath(chain)),
        defaults: {
          entrypoint: c.Entrypoint ?? null,
          cmd: c.Cmd ?? null,
          env: c.Env ?? null,
          ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
          ...(c.User ? { user: c.User } : {}),
        },
        ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
        volumes: Object.keys(c.Volumes ?? {}),
        exposedPorts: Object.keys((c as { ExposedPorts?: Record<string, unknown> }).ExposedPorts ?? {}),
      };
      await options.claim?.(image);
      return image;
    });
  } finally {
    await store.close();
  }
}
