// Image data structures: the OCI image-spec (v1.1) and Docker image manifest v2 schema 2 shapes,
// with the field names exactly as they appear on the wire, and their media types.
//
// Docker schema 2 and OCI are structurally identical for everything pocker reads (a manifest with
// a config descriptor and layer descriptors, an index/manifest list of platform manifests, and an
// image config JSON), so one set of types covers both; the media type tells them apart.

// ---------------------------------------------------------------------------------------------
// Media types

/** OCI image manifest. */
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (a list of manifests, usually one per platform). */
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** OCI image config. */
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** OCI layer: an uncompressed tar. */
export const MEDIA_TYPE_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** OCI layer: a gzip-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** OCI layer: a zstd-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** OCI non-distributable layer (deprecated in image-spec 1.1; content may have to come from `urls`). */
export const MEDIA_TYPE_OCI_LAYER_NONDIST = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
/** OCI non-distributable gzip layer (deprecated). */
export const MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
/** OCI non-distributable zstd layer (deprecated). */
export const MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';
/** OCI empty descriptor (`{}`), used by artifacts. */
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Docker image manifest, schema 2. */
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list (the schema 2 equivalent of an OCI index). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker image config. */
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Docker layer: a gzip-compressed tar. */
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** Docker foreign layer (Windows base layers; content comes from `urls`). */
export const MEDIA_TYPE_DOCKER_LAYER_FOREIGN_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
/** Docker schema 1 manifest (deprecated, unsupported by pocker). */
export const MEDIA_TYPE_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
/** Docker signed schema 1 manifest (deprecated, unsupported by pocker). */
export const MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** Media types of a single-platform image manifest. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST];
/** Media types of a multi-platform index / manifest list. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST];
/** Media types of a Docker schema 1 manifest. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_DOCKER_SCHEMA1, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED];
/** Media types of an image config. */
export const CONFIG_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_DOCKER_CONFIG];

/** Layer media types, with the compression of their content. */
export const LAYER_MEDIA_TYPES: Readonly<Record<string, LayerCompression>> = {
  [MEDIA_TYPE_OCI_LAYER]: 'none',
  [MEDIA_TYPE_OCI_LAYER_GZIP]: 'gzip',
  [MEDIA_TYPE_OCI_LAYER_ZSTD]: 'zstd',
  [MEDIA_TYPE_OCI_LAYER_NONDIST]: 'none',
  [MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP]: 'gzip',
  [MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD]: 'zstd',
  [MEDIA_TYPE_DOCKER_LAYER_GZIP]: 'gzip',
  [MEDIA_TYPE_DOCKER_LAYER_FOREIGN_GZIP]: 'gzip',
};

/** How a layer blob is compressed. */
export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** The compression of a layer media type, or undefined when it is not a known layer type. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_MEDIA_TYPES[mediaType];
}

/** OCI annotation naming a tag in an OCI image layout's index.json. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

// ---------------------------------------------------------------------------------------------
// Descriptors, manifests, indexes

/** A content digest, `<algorithm>:<hex>`, e.g. `sha256:e3b0c442…`. */
export type Digest = string;

/** The platform an image runs on (OCI image-spec `platform`). */
export interface Platform {
  /** CPU architecture in Go's GOARCH terms: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`, … */
  architecture: string;
  /** Operating system in Go's GOOS terms: `linux`, `windows`, … */
  os: string;
  /** OS version (Windows only in practice). */
  'os.version'?: string;
  /** Required OS features (Windows only in practice). */
  'os.features'?: string[];
  /** CPU variant: `v6`, `v7`, `v8` for ARM, `v2`/`v3` for amd64 microarchitecture levels. */
  variant?: string;
  /** Reserved by the OCI spec. */
  features?: string[];
}

/** A reference to content by media type, digest and size (OCI content descriptor). */
export interface Descriptor {
  /** The media type of the referenced content. */
  mediaType: string;
  /** The digest of the referenced content's bytes. */
  digest: Digest;
  /** The size of the referenced content in bytes. */
  size: number;
  /** Alternative download locations (foreign / non-distributable layers). */
  urls?: string[];
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
  /** The platform of the referenced manifest (in an index). */
  platform?: Platform;
  /** The artifact type of the referenced manifest (OCI 1.1 artifacts). */
  artifactType?: string;
  /** The content itself, base64-encoded (OCI 1.1 embedded data; optional, must match digest). */
  data?: string;
}

/** An image manifest (OCI image manifest or Docker schema 2 manifest). */
export interface ImageManifest {
  /** Always 2. */
  schemaVersion: 2;
  /** The manifest's own media type (required for Docker schema 2, optional for OCI). */
  mediaType?: string;
  /** Artifact type (OCI 1.1), absent for container images. */
  artifactType?: string;
  /** The image config blob. */
  config: Descriptor;
  /** The layers, base first. */
  layers: Descriptor[];
  /** The manifest this one refers to (OCI 1.1 referrers: signatures, SBOMs). */
  subject?: Descriptor;
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
}

/** A multi-platform image index (OCI image index or Docker manifest list). */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: 2;
  /** The index's own media type. */
  mediaType?: string;
  /** Artifact type (OCI 1.1). */
  artifactType?: string;
  /** The manifests, each usually with a `platform`. */
  manifests: Descriptor[];
  /** The manifest this one refers to (OCI 1.1 referrers). */
  subject?: Descriptor;
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Image config

/** The execution parameters of an image (`config` in the image config; Docker's field names). */
export interface ContainerConfig {
  /** `user`, `uid`, `user:group`, `uid:gid`, … the workload runs as. */
  User?: string;
  /** Ports the image declares, as keys `port/proto` (values are empty objects). */
  ExposedPorts?: Record<string, object>;
  /** Environment, `KEY=VALUE` entries. */
  Env?: string[];
  /** The program and its leading arguments. */
  Entrypoint?: string[] | null;
  /** The default arguments (the command when there is no Entrypoint). */
  Cmd?: string[] | null;
  /** Paths that should be volumes, as keys (values are empty objects). */
  Volumes?: Record<string, object>;
  /** The working directory of the workload. */
  WorkingDir?: string;
  /** Arbitrary metadata. */
  Labels?: Record<string, string>;
  /** The signal that stops the container, e.g. `SIGTERM` or `15`. */
  StopSignal?: string;
  /** Docker: Cmd/Entrypoint are already escaped (Windows only). */
  ArgsEscaped?: boolean;
  /** Docker: the health check. */
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  /** Docker: ONBUILD triggers. */
  OnBuild?: string[] | null;
  /** Docker: the shell of RUN instructions. */
  Shell?: string[];
}

/** One entry of an image's build history. */
export interface HistoryEntry {
  /** RFC 3339 creation time. */
  created?: string;
  /** The author of the step. */
  author?: string;
  /** The command that created the step. */
  created_by?: string;
  /** A comment. */
  comment?: string;
  /** True when the step created no layer. */
  empty_layer?: boolean;
}

/** The image config blob (OCI image config / Docker container image v1 JSON). */
export interface ImageConfig {
  /** RFC 3339 creation time. */
  created?: string;
  /** The image's author. */
  author?: string;
  /** CPU architecture (GOARCH). */
  architecture: string;
  /** Operating system (GOOS). */
  os: string;
  /** OS version (Windows). */
  'os.version'?: string;
  /** OS features (Windows). */
  'os.features'?: string[];
  /** CPU variant. */
  variant?: string;
  /** Execution parameters. */
  config?: ContainerConfig;
  /** The uncompressed layers. */
  rootfs: {
    /** Always `layers`. */
    type: 'layers' | string;
    /** The digests of the uncompressed layer tars, base first (one per manifest layer). */
    diff_ids: Digest[];
  };
  /** Build history, base first (entries with `empty_layer` have no layer). */
  history?: HistoryEntry[];
}

// ---------------------------------------------------------------------------------------------
// Registry credentials

/** A username and password (or token) for a registry (stored by auth.ts, sent by registry.ts). */
export interface Credentials {
  username: string;
  password: string;
}
