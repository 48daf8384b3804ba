// Docker's `image inspect` document (the Engine API's ImageInspect), built from an image's record,
// its config blob and the other names of the same image. Pure: inspectImage() in ./manage.ts reads
// what it needs from the store. The key order is Docker's, so JSON.stringify prints what
// `docker image inspect` prints.
import { repoDigest, splitName } from './names.js';
import type { ImageEntry } from './store.js';
import type { ContainerConfig, ImageConfig } from './types.js';

/** `Config` of an inspected image: Docker's container config, with Docker's nulls and omissions. */
export interface ImageInspectConfig {
  /** The user the workload runs as ('' when the image sets none). */
  User: string;
  /** Declared ports (`80/tcp`), only when the image declares some. */
  ExposedPorts?: Record<string, object>;
  Env: string[] | null;
  Cmd: string[] | null;
  /** Only when the image has one. */
  Healthcheck?: NonNullable<ContainerConfig['Healthcheck']>;
  /** Only when true. */
  ArgsEscaped?: boolean;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  /** Only when the image sets one. */
  StopSignal?: string;
  /** Only when the image sets one. */
  Shell?: string[];
}

/** What `pocker image inspect` prints for one image (Docker's ImageInspect, field for field). */
export interface ImageInspect {
  /** The image id (`sha256:…`, the config digest). */
  Id: string;
  /** Every tagged name of the image, as Docker shows them (`alpine:3.20`), sorted. */
  RepoTags: string[];
  /** `repository@digest` for every repository the image is in, sorted. */
  RepoDigests: string[];
  /** Always '' (pocker builds no images from parents). */
  Parent: string;
  Comment: string;
  /** RFC 3339, from the config (else when it was stored). */
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ImageInspectConfig;
  Architecture: string;
  /** Only when the config names one (`v8`). */
  Variant?: string;
  Os: string;
  /** Only when the config names one. */
  OsVersion?: string;
  /** Bytes of the extracted layers. */
  Size: number;
  /** The overlay lower dirs, top-most first (`Data` is null when not given). */
  GraphDriver: { Data: { LowerDir: string } | null; Name: 'overlay' };
  /** The diff ids of the layers, base first. */
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** Options of inspectObject(). */
export interface InspectObjectOptions {
  /** Canonical repository -> what Docker shows (reference.ts's familiarName; default: as is). */
  familiar?: (name: string) => string;
  /** The image's layer directories, top-most first (GraphDriver.Data.LowerDir). */
  lowerDirs?: string[];
}

/**
 * Docker's `image inspect` document of `entry`, from its config blob, the records of the store
 * (`others`: those with the same id give RepoTags and RepoDigests) and its size in bytes.
 */
export function inspectObject(entry: ImageEntry, config: ImageConfig, others: ImageEntry[], size: number, options: InspectObjectOptions = {}): ImageInspect {
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
  // Docker's field order; absent fields are left out, not undefined.
  const cfg: ImageInspectConfig = {
    User: c.User ?? '',
    ...(c.ExposedPorts && Object.keys(c.ExposedPorts).length ? { ExposedPorts: c.ExposedPorts } : {}),
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped ? { ArgsEscaped: c.ArgsEscaped } : {}),
    Volumes: c.Volumes && Object.keys(c.Volumes).length ? c.Volumes : null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels && Object.keys(c.Labels).length ? c.Labels : null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.Shell?.length ? { Shell: c.Shell } : {}),
  };
  const extra = config as ImageConfig & { docker_version?: unknown; comment?: unknown };
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
