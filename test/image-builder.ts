// Test images: an OCI image layout built from a declarative description, and a push of it to a
// registry with skopeo.
//
//   const img = buildOciLayout(dir, {
//     layers: [
//       { 'bin/busybox': { type: 'file', content: readFileSync('/bin/busybox'), mode: 0o755 }, 'etc/hello': 'hi\n' },
//       { 'etc/hello': { type: 'whiteout' }, 'var/cache': { type: 'opaque' }, 'bin/sh': { type: 'symlink', target: 'busybox' } },
//     ],
//     config: { config: { Cmd: ['/bin/sh'] } },
//     platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
//   });
//   const digest = pushImage(dir, reg.host, 'test/app:1', { format: 'oci', all: true });
//
// Layers are real tars made by GNU tar (deterministic: sorted, mtime 0, numeric owners) and
// gzip'd with node:zlib; diff_ids and digests are computed from the bytes. One platform gives a
// layout whose index.json names the image manifest; several give an image index (index.json names
// it), which `skopeo copy --all` pushes as a multi-arch index / manifest list.
// Hostile layers (paths with `..`, absolute names) cannot be made from a directory; build those
// tars by hand. Does not import 'vitest'.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lchownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  lutimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

import {
  ANNOTATION_REF_NAME,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_MANIFEST,
  type ContainerConfig,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from '../lib/image/types.js';
import { RUN_TEMP_PREFIX } from './helpers.js';

/** One entry of a layer: a string or Buffer is a regular file with that content. */
export type LayerEntry =
  | string
  | Buffer
  | { type: 'file'; content: string | Buffer; mode?: number; uid?: number; gid?: number }
  | { type: 'dir'; mode?: number; uid?: number; gid?: number }
  | { type: 'symlink'; target: string; uid?: number; gid?: number }
  /** A hard link to another path of the same layer (`target` is layer-relative). */
  | { type: 'hardlink'; target: string }
  /** Deletes the path from the layers below: a `.wh.<name>` file. */
  | { type: 'whiteout' }
  /** Hides everything below this directory in the lower layers: the dir plus `.wh..wh..opq`. */
  | { type: 'opaque'; mode?: number };

/** A layer: layer-relative paths (no leading `/`) -> entries. Parent dirs are created as needed. */
export type LayerSpec = Record<string, LayerEntry>;

/** A platform of a multi-platform image; `layers`/`config` replace the image's for it. */
export type PlatformSpec = Platform & { layers?: LayerSpec[]; config?: Partial<ImageConfig> & { config?: ContainerConfig } };

export interface BuildOptions {
  /** The layers, base first. */
  layers: LayerSpec[];
  /** Merged into the generated config (architecture, os, rootfs and history are filled in). */
  config?: Partial<ImageConfig> & { config?: ContainerConfig };
  /** Several platforms -> an image index. Default: one image for linux/amd64. */
  platforms?: PlatformSpec[];
  /** `gzip` (default) or `none` (uncompressed tar layers). */
  compression?: 'gzip' | 'none';
  /** The tag recorded in index.json (`org.opencontainers.image.ref.name`, default `latest`). */
  refName?: string;
}

/** A layer as built. */
export interface BuiltLayer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** The uncompressed tar. */
  tar: Buffer;
}

/** One platform's image as built. */
export interface BuiltImage {
  platform: Platform;
  manifest: ImageManifest;
  manifestDescriptor: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
  layers: BuiltLayer[];
}

/** What buildOciLayout made. */
export interface BuiltLayout {
  dir: string;
  images: BuiltImage[];
  /** The image index (several platforms only). */
  index?: { index: ImageIndex; descriptor: Descriptor };
  /** The descriptor index.json names: the index, or the single manifest. */
  top: Descriptor;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function writeBlob(dir: string, data: Buffer): string {
  const digest = sha256(data);
  const path = join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  if (!existsSync(path)) writeFileSync(path, data);
  return digest;
}

const isRoot = process.getuid?.() === 0;

/** Makes the tar of one layer (GNU tar, deterministic). */
export function buildLayerTar(spec: LayerSpec): Buffer {
  const stage = mkdtempSync(join(tmpdir(), `${RUN_TEMP_PREFIX}layer-`));
  try {
    const owned: Array<[string, number, number]> = [];
    const ensureParent = (rel: string) => {
      const parent = dirname(rel);
      if (parent !== '.' && parent !== '') mkdirSync(join(stage, parent), { recursive: true, mode: 0o755 });
    };
    for (const [rawPath, entry] of Object.entries(spec)) {
      const rel = rawPath.replace(/^\/+/, '').replace(/\/+$/, '');
      if (rel === '' || rel.split('/').includes('..')) throw new Error(`buildLayerTar: bad path ${JSON.stringify(rawPath)}`);
      const path = join(stage, rel);
      ensureParent(rel);
      if (typeof entry === 'string' || Buffer.isBuffer(entry)) {
        writeFileSync(path, entry, { mode: 0o644 });
        chmodSync(path, 0o644);
        continue;
      }
      switch (entry.type) {
        case 'file':
          writeFileSync(path, entry.content);
          chmodSync(path, entry.mode ?? 0o644);
          owned.push([path, entry.uid ?? 0, entry.gid ?? 0]);
          break;
        case 'dir':
          mkdirSync(path, { recursive: true });
          chmodSync(path, entry.mode ?? 0o755);
          owned.push([path, entry.uid ?? 0, entry.gid ?? 0]);
          break;
        case 'symlink':
          symlinkSync(entry.target, path);
          owned.push([path, entry.uid ?? 0, entry.gid ?? 0]);
          break;
        case 'hardlink':
          linkSync(join(stage, entry.target.replace(/^\/+/, '')), path);
          break;
        case 'whiteout': {
          const parent = dirname(rel);
          const name = rel.slice(parent === '.' ? 0 : parent.length + 1);
          writeFileSync(join(stage, parent, `.wh.${name}`), '');
          break;
        }
        case 'opaque':
          mkdirSync(path, { recursive: true });
          chmodSync(path, entry.mode ?? 0o755);
          writeFileSync(join(path, '.wh..wh..opq'), '');
          break;
      }
    }
    // Owners: as root, chown to what the spec says (default root); otherwise tar records root.
    if (isRoot) for (const [path, uid, gid] of owned) lchownSync(path, uid, gid);
    // Fixed times (tar --mtime overrides anyway; this keeps directories' times stable too).
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        lutimesSync(p, 0, 0);
      }
    };
    walk(stage);
    utimesSync(stage, 0, 0);
    const top = readdirSync(stage).sort();
    const args = ['--create', '--file=-', '--format=gnu', '--sort=name', '--mtime=@0', '--numeric-owner', '-C', stage];
    if (!isRoot) args.push('--owner=0', '--group=0');
    if (top.length === 0) args.push('--files-from=/dev/null');
    else args.push('--', ...top);
    return execFileSync('tar', args, { maxBuffer: 1024 * 1024 * 1024 });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Builds an OCI image layout in `dir` (created if needed). */
export function buildOciLayout(dir: string, options: BuildOptions): BuiltLayout {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  const compression = options.compression ?? 'gzip';
  const platforms: PlatformSpec[] = options.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const layerCache = new Map<LayerSpec, BuiltLayer>();

  const buildLayer = (spec: LayerSpec): BuiltLayer => {
    const cached = layerCache.get(spec);
    if (cached) return cached;
    const tar = buildLayerTar(spec);
    const blob = compression === 'gzip' ? gzipSync(tar) : tar;
    const digest = writeBlob(dir, blob);
    const layer: BuiltLayer = {
      descriptor: { mediaType: compression === 'gzip' ? MEDIA_TYPE_OCI_LAYER_GZIP : MEDIA_TYPE_OCI_LAYER, digest, size: blob.length },
      diffId: sha256(tar),
      tar,
    };
    layerCache.set(spec, layer);
    return layer;
  };

  const images: BuiltImage[] = platforms.map((p) => {
    const { layers: ownLayers, config: ownConfig, ...platformFields } = p;
    const platform: Platform = { os: platformFields.os, architecture: platformFields.architecture };
    if (platformFields.variant !== undefined) platform.variant = platformFields.variant;
    const layers = (ownLayers ?? options.layers).map(buildLayer);
    const base = { ...(options.config ?? {}), ...(ownConfig ?? {}) };
    const config: ImageConfig = {
      created: '1970-01-01T00:00:00Z',
      ...base,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
      config: { ...(options.config?.config ?? {}), ...(ownConfig?.config ?? {}) },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: base.history ?? layers.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `pocker test layer ${i}` })),
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDescriptor: Descriptor = { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: writeBlob(dir, configBytes), size: configBytes.length };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDescriptor: Descriptor = {
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      digest: writeBlob(dir, manifestBytes),
      size: manifestBytes.length,
      platform,
    };
    return { platform, manifest, manifestDescriptor, config, configDescriptor, layers };
  });

  const refName = options.refName ?? 'latest';
  let top: Descriptor;
  let index: BuiltLayout['index'];
  if (images.length === 1) {
    const { platform: _platform, ...desc } = images[0]!.manifestDescriptor;
    top = { ...desc, annotations: { [ANNOTATION_REF_NAME]: refName } };
  } else {
    const idx: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: images.map((i) => i.manifestDescriptor) };
    const bytes = Buffer.from(JSON.stringify(idx));
    const descriptor: Descriptor = { mediaType: MEDIA_TYPE_OCI_INDEX, digest: writeBlob(dir, bytes), size: bytes.length };
    index = { index: idx, descriptor };
    top = { ...descriptor, annotations: { [ANNOTATION_REF_NAME]: refName } };
  }
  const indexJson: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [top] };
  writeFileSync(join(dir, 'index.json'), `${JSON.stringify(indexJson)}\n`);
  const out: BuiltLayout = { dir, images, top };
  if (index) out.index = index;
  return out;
}

export interface PushOptions {
  /** `oci` (default: keep the OCI media types) or `v2s2` (convert to Docker schema 2). */
  format?: 'oci' | 'v2s2';
  /** Push every platform of an index (`--all`); otherwise skopeo picks this host's platform. */
  all?: boolean;
  /** Credentials for a basic-auth registry. */
  creds?: { username: string; password: string };
}

/**
 * Pushes an OCI layout to `registryHost` (`127.0.0.1:PORT`) as `repoTag` (`repo:tag`) with
 * `skopeo copy`. Returns the digest of what was pushed (the index, with several platforms and `all`).
 */
export function pushImage(layoutDir: string, registryHost: string, repoTag: string, options: PushOptions = {}): string {
  const work = mkdtempSync(join(tmpdir(), `${RUN_TEMP_PREFIX}skopeo-`));
  try {
    const digestFile = join(work, 'digest');
    const args = ['--insecure-policy', '--tmpdir', work, 'copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
    if (options.format === 'v2s2') args.push('--format', 'v2s2');
    else args.push('--format', 'oci');
    if (options.all) args.push('--all');
    if (options.creds) args.push('--dest-creds', `${options.creds.username}:${options.creds.password}`);
    else args.push('--dest-no-creds');
    args.push(`oci:${layoutDir}`, `docker://${registryHost}/${repoTag}`);
    try {
      execFileSync('skopeo', args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        // Keep skopeo away from the caller's registries.conf / auth files.
        env: { ...process.env, HOME: work, XDG_RUNTIME_DIR: work, REGISTRY_AUTH_FILE: join(work, 'auth.json') },
      });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      const msg = (e.stderr?.toString() ?? e.message).replace(options.creds?.password ?? '\0', '***');
      throw new Error(`skopeo copy to ${registryHost}/${repoTag} failed: ${msg}`);
    }
    return readFileSync(digestFile, 'utf8').trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
