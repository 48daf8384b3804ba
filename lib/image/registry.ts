// An OCI distribution (v2) registry client on Node's global fetch.
//
// - Transport: https, except plain HTTP for registries the user names as insecure and for loopback
//   (`localhost`, 127.0.0.0/8, `[::1]`). Redirects (blob storage, CDNs) are followed by fetch, which
//   drops the Authorization header when the redirect leaves the origin.
// - Auth: anonymous first. A 401 carries `WWW-Authenticate`: `Bearer realm,service,scope` -> a token
//   from the realm (with basic credentials when known), cached per (registry, scope) until it
//   expires; `Basic` -> basic credentials on every request to that registry. A request is re-sent at
//   most once after a 401.
// - Retries: network errors, 5xx and 429 are retried with exponential backoff and jitter (429/503
//   honour Retry-After); other 4xx never. An interrupted blob body is resumed with `Range`.
// - Content: manifests are verified against the requested digest or the registry's
//   Docker-Content-Digest; blob streams are checked against the descriptor's size here, and their
//   digest by whoever consumes them (the store) — verifyingStream() is the tool for that.
//
// Every error is a PockerError with step `pull` and one of the codes ERR_POCKER_REGISTRY,
// ERR_POCKER_AUTH, ERR_POCKER_NOT_FOUND, ERR_POCKER_DIGEST (or ABORT_ERR when the caller's signal
// aborts); messages carry the URL and never credentials.
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleepTimer } from 'node:timers/promises';

import { PockerError, invalid } from '../errors.js';
import { digestOf, digestProblem, parseDigest } from './digest.js';
import { familiarName, manifestReference, normalizeRegistry, registryHost, type ImageReference } from './reference.js';
import {
  CONFIG_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  SCHEMA1_MEDIA_TYPES,
  type Credentials,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Public types

/** Options of a {@link RegistryClient}. */
export interface RegistryClientOptions {
  /** Registries (`host[:port]`) reached over plain HTTP. Loopback registries always are. */
  insecureRegistries?: string[];
  /** Credentials for a registry domain (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), e.g. auth.ts's loadCredentials. */
  credentials?: (registry: string) => Credentials | undefined | Promise<Credentials | undefined>;
  /** Retries after the first attempt on network errors, 5xx and 429 (default 3). */
  retries?: number;
  /** The User-Agent header (default `pocker`). */
  userAgent?: string;
  /** The backoff schedule between retries (see {@link backoffDelay}). */
  backoff?: BackoffOptions;
  /** The largest manifest accepted, in bytes (default 4 MiB, as containerd). */
  maxManifestBytes?: number;
  /** The largest image config accepted, in bytes (default 16 MiB). */
  maxConfigBytes?: number;
}

/** Exponential backoff parameters. */
export interface BackoffOptions {
  /** The delay before the first retry, before jitter (default 250 ms). */
  baseMs?: number;
  /** The cap of any delay, before jitter (default 10 s). */
  maxMs?: number;
  /** The source of jitter in [0, 1) (default Math.random). */
  random?: () => number;
}

/** What {@link RegistryClient.resolveManifest} returns: one platform's image manifest. */
export interface ResolvedManifest {
  /** The digest of the image manifest (the platform's manifest when the reference named an index). */
  digest: string;
  /** The media type of the image manifest (OCI or Docker schema 2). */
  mediaType: string;
  /** The manifest's bytes exactly as served (and verified). */
  raw: Buffer;
  /** The parsed image manifest. */
  manifest: ImageManifest;
  /** The config descriptor. */
  config: Descriptor;
  /** The layer descriptors, base first. */
  layers: Descriptor[];
  /** The index / manifest list the reference named, when it named one (verified like the manifest). */
  index?: { digest: string; mediaType: string; raw: Buffer; index: ImageIndex };
}

/** Options of {@link RegistryClient.fetchBlob}. */
export interface FetchBlobOptions {
  /** Called with the number of bytes of the blob received so far (counting `offset`). */
  onProgress?(bytes: number): void;
  /** Aborts the request and the stream. */
  signal?: AbortSignal;
  /** Start at this byte (resume): the stream yields the blob from there on. */
  offset?: number;
}

// ---------------------------------------------------------------------------------------------
// Errors

type RegistryErrorCode = 'ERR_POCKER_REGISTRY' | 'ERR_POCKER_AUTH' | 'ERR_POCKER_NOT_FOUND' | 'ERR_POCKER_DIGEST';

function pullError(code: RegistryErrorCode | 'ABORT_ERR', message: string, cause?: unknown): PockerError {
  return new PockerError(message, { code, step: 'pull', ...(cause !== undefined ? { cause } : {}) });
}

function abortError(signal: AbortSignal | undefined): PockerError {
  return pullError('ABORT_ERR', 'the pull was aborted', signal?.reason);
}

/** A URL without any userinfo, for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

function describeCause(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const inner = e?.cause?.code ?? e?.cause?.message;
  return inner ? `${e.message ?? String(err)} (${inner})` : (e?.message ?? String(err));
}

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate

/** One challenge of a WWW-Authenticate header. */
export interface AuthChallenge {
  /** The scheme, lowercase: `bearer`, `basic`, … */
  scheme: string;
  /** Its auth-params with lowercase names (`realm`, `service`, `scope`, `error`, …). */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header value (RFC 9110 §11.6.1) into its challenges, e.g.
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`.
 * Several challenges may be comma-separated; quoted strings may contain commas and `\`-escapes.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  const s = header;
  let i = 0;
  const isTokenChar = (c: string) => /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(c);
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < s.length && isTokenChar(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = () => {
    // s[i] === '"'
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote
    return v;
  };
  let current: AuthChallenge | undefined;
  while (i < s.length) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const token = readToken();
    if (token === '') {
      i++; // garbage: skip a character
      continue;
    }
    skipWs();
    if (s[i] === '=' && current) {
      // An auth-param of the current challenge (or a token68 ending in '=').
      i++;
      skipWs();
      const value = s[i] === '"' ? readQuoted() : readToken();
      current.params[token.toLowerCase()] = value;
      continue;
    }
    if (s[i] === '=' && !current) {
      i = start + token.length + 1;
      continue;
    }
    // A new challenge: `scheme [token68 | param, param…]`.
    current = { scheme: token.toLowerCase(), params: {} };
    out.push(current);
    // A token68 (`Negotiate abc==`): a token followed by '='s and then a comma or the end.
    const save = i;
    const t68 = /^[A-Za-z0-9\-._~+/]+=*/.exec(s.slice(i));
    if (t68 && t68[0].endsWith('=')) {
      const after = s.slice(i + t68[0].length).trimStart();
      if (after === '' || after.startsWith(',')) {
        current.params.token68 = t68[0];
        i += t68[0].length;
        continue;
      }
    }
    i = save;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Backoff

/**
 * The delay before retry number `attempt` (0 = the first retry): exponential, `baseMs * 2^attempt`
 * capped at `maxMs`, with "equal jitter": half of it fixed, half random. So with the defaults the
 * delays lie in [125, 250], [250, 500], [500, 1000] ms, …, [5, 10] s.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  const exp = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** Seconds (or an HTTP date) of a Retry-After header, as milliseconds; undefined when absent or invalid. */
function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const MAX_RETRY_AFTER_MS = 30_000;

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleepTimer(ms, undefined, signal ? { signal } : {});
  } catch {
    throw abortError(signal);
  }
}

// ---------------------------------------------------------------------------------------------
// Platforms

/** The platform of this machine in OCI terms (linux/amd64 on x64, linux/arm64/v8 on arm64, …). */
export function hostPlatform(): Platform {
  const arch = process.arch as string;
  switch (arch) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'arm': {
      const v = (process.config.variables as Record<string, unknown>).arm_version;
      return { os: 'linux', architecture: 'arm', variant: `v${typeof v === 'string' || typeof v === 'number' ? v : 7}` };
    }
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    case 'ppc64':
      return { os: 'linux', architecture: 'ppc64le' };
    default:
      return { os: 'linux', architecture: arch };
  }
}

/**
 * Normalises a platform the way containerd does (platforms.Normalize): lowercase; `x86_64` ->
 * `amd64` (variant `v1` -> none); `aarch64` -> `arm64` (variant `8`/`v8` -> none, the default);
 * `armhf` -> `arm/v7`, `armel` -> `arm/v6`, `arm` without variant -> `arm/v7`; `i386` -> `386`.
 */
export function normalizePlatform(p: Platform): Platform {
  const os = (p.os ?? '').toLowerCase();
  let arch = (p.architecture ?? '').toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
    case 'x86':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return { os, architecture: arch, ...(variant !== '' ? { variant } : {}) };
}

/** `os/arch[/variant]`. */
/** Parses `os/arch[/variant]` (`--platform linux/arm64`). */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '')) {
    throw invalid(`invalid platform ${JSON.stringify(text)}: expected os/arch[/variant]`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/**
 * The platforms a host of platform `p` runs, best first (containerd's platformVector):
 * amd64 vN -> amd64 vN..v1, then 386; arm vN -> arm vN..v5; arm64 -> arm64 (v8), then arm v8..v5.
 */
export function compatiblePlatforms(p: Platform): Platform[] {
  const n = normalizePlatform(p);
  const out: Platform[] = [n];
  const level = (v: string | undefined) => Number.parseInt((v ?? '').replace(/^v/, ''), 10);
  switch (n.architecture) {
    case 'amd64': {
      for (let v = level(n.variant) - 1; v >= 2; v--) out.push({ os: n.os, architecture: 'amd64', variant: `v${v}` });
      if (n.variant !== undefined) out.push({ os: n.os, architecture: 'amd64' });
      out.push({ os: n.os, architecture: '386' });
      break;
    }
    case 'arm': {
      for (let v = level(n.variant) - 1; v >= 5; v--) out.push({ os: n.os, architecture: 'arm', variant: `v${v}` });
      break;
    }
    case 'arm64': {
      if (n.variant !== undefined) out.push({ os: n.os, architecture: 'arm64' });
      for (let v = 8; v >= 5; v--) out.push({ os: n.os, architecture: 'arm', variant: `v${v}` });
      break;
    }
  }
  return out;
}

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/**
 * The manifest of an index for `platform`: the entry matching the best compatible platform (see
 * {@link compatiblePlatforms}), the first such entry on ties. Entries without a platform or that are
 * not manifests (attestations are `unknown/unknown`) never match. Throws ERR_POCKER_NOT_FOUND listing
 * the platforms available.
 */
export function selectManifest(index: ImageIndex, platform: Platform = hostPlatform(), name = 'the image'): Descriptor {
  const wanted = compatiblePlatforms(platform);
  let best: { rank: number; desc: Descriptor } | undefined;
  for (const desc of index.manifests) {
    if (!desc.platform) continue;
    if (![...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].includes(desc.mediaType)) continue;
    const have = normalizePlatform(desc.platform);
    const rank = wanted.findIndex((w) => samePlatform(w, have));
    if (rank !== -1 && (best === undefined || rank < best.rank)) best = { rank, desc };
  }
  if (best) return best.desc;
  const available = index.manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown')
    .map((d) => formatPlatform(d.platform!));
  throw pullError(
    'ERR_POCKER_NOT_FOUND',
    `no matching manifest for ${formatPlatform(normalizePlatform(platform))} in the manifest list entries of ${name}` +
      ` (available: ${available.length > 0 ? [...new Set(available)].join(', ') : 'none'})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * A Transform that passes bytes through, hashes them and fails (ERR_POCKER_DIGEST) as soon as more
 * bytes than `descriptor.size` arrive, and at the end when the size or the digest differ.
 * To verify a resumed download, pass a `hash` already fed with the first `bytes` bytes.
 */
export function verifyingStream(descriptor: Pick<Descriptor, 'digest' | 'size'>, resume?: { hash: Hash; bytes: number }): Transform {
  const { algorithm, hex } = parseDigestForPull(descriptor.digest);
  const hash = resume?.hash ?? createHash(algorithm);
  let count = resume?.bytes ?? 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      count += chunk.length;
      if (count > descriptor.size) {
        cb(pullError('ERR_POCKER_DIGEST', `blob ${descriptor.digest} is larger than its descriptor's ${descriptor.size} bytes`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (count !== descriptor.size) {
        cb(pullError('ERR_POCKER_DIGEST', `blob ${descriptor.digest} is truncated: ${count} of ${descriptor.size} bytes`));
        return;
      }
      const got = hash.digest('hex');
      if (got !== hex) {
        cb(pullError('ERR_POCKER_DIGEST', `digest mismatch: expected ${descriptor.digest}, got ${algorithm}:${got}`));
        return;
      }
      cb();
    },
  });
}

function parseDigestForPull(digest: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw pullError('ERR_POCKER_DIGEST', `invalid digest ${JSON.stringify(digest)}: ${problem}`);
  return parseDigest(digest, 'pull');
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  const desc = d as Descriptor;
  if (
    !desc ||
    typeof desc !== 'object' ||
    typeof desc.mediaType !== 'string' ||
    typeof desc.digest !== 'string' ||
    typeof desc.size !== 'number' ||
    !Number.isSafeInteger(desc.size) ||
    desc.size < 0
  ) {
    throw pullError('ERR_POCKER_REGISTRY', `invalid descriptor in ${where}: ${JSON.stringify(d)?.slice(0, 200)}`);
  }
  parseDigestForPull(desc.digest);
  return desc;
}

// ---------------------------------------------------------------------------------------------
// The client

const MANIFEST_ACCEPT = [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST].join(', ');

interface Token {
  value: string;
  expiresAt: number;
}

interface RegistryAuth {
  /** The scheme the registry asked for last. */
  scheme?: 'basic' | 'bearer';
  /** The token endpoint of a Bearer registry. */
  realm?: string;
  service?: string;
  /** Tokens by scope. */
  tokens: Map<string, Token>;
  /** Token requests in flight, by scope (concurrent layer downloads share one). */
  pending: Map<string, Promise<Token>>;
}

interface RequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Statuses that are success (default [200]). */
  ok?: number[];
  /** What is being fetched, for messages: `manifest for alpine:latest`. */
  what: string;
}

/** Whether a registry host (`host[:port]`) is a loopback address. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHost(registry);
  let hostname: string;
  if (host.startsWith('[')) hostname = host.slice(0, host.indexOf(']') + 1);
  else hostname = host.split(':')[0]!;
  hostname = hostname.toLowerCase();
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** A registry client; one per pull (or longer: it caches tokens and credentials). */
export class RegistryClient {
  private readonly insecure: Set<string>;
  private readonly credentialsFn: RegistryClientOptions['credentials'];
  private readonly retries: number;
  private readonly userAgent: string;
  private readonly backoff: BackoffOptions;
  private readonly maxManifestBytes: number;
  private readonly maxConfigBytes: number;
  private readonly auth = new Map<string, RegistryAuth>();
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = new Set((options.insecureRegistries ?? []).map((r) => normalizeRegistry(r)));
    this.credentialsFn = options.credentials;
    this.retries = Math.max(0, options.retries ?? 3);
    this.userAgent = options.userAgent ?? 'pocker';
    this.backoff = options.backoff ?? {};
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.maxConfigBytes = options.maxConfigBytes ?? 16 * 1024 * 1024;
  }

  /** `http(s)://host[:port]` of a registry domain: plain HTTP only for insecure and loopback registries. */
  baseUrl(registry: string): string {
    const host = registryHost(registry);
    const plain = this.insecure.has(registry) || this.insecure.has(host) || isLoopbackRegistry(registry);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  /**
   * Resolves a reference to one platform's image manifest. An index / manifest list is resolved to
   * `platform` (default: this host's). The bytes are verified against the reference's digest, or the
   * registry's Docker-Content-Digest, and (for an index entry) against the entry's digest and size.
   */
  async resolveManifest(ref: ImageReference, platform: Platform = hostPlatform(), options: { signal?: AbortSignal } = {}): Promise<ResolvedManifest> {
    let current = await this.getManifest(ref, manifestReference(ref), ref.digest, undefined, options.signal);
    let index: ResolvedManifest['index'];
    for (let depth = 0; INDEX_MEDIA_TYPES.includes(current.mediaType); depth++) {
      if (depth >= 2) throw pullError('ERR_POCKER_REGISTRY', `${ref.familiar}: image indexes nested too deeply`);
      const list = current.parsed as ImageIndex;
      if (!index) index = { digest: current.digest, mediaType: current.mediaType, raw: current.raw, index: list };
      const entry = selectManifest(list, platform, ref.familiar);
      current = await this.getManifest(ref, entry.digest, entry.digest, entry, options.signal);
    }
    const manifest = current.parsed as ImageManifest;
    const result: ResolvedManifest = {
      digest: current.digest,
      mediaType: current.mediaType,
      raw: current.raw,
      manifest,
      config: manifest.config,
      layers: manifest.layers,
    };
    if (index) result.index = index;
    return result;
  }

  /**
   * A readable stream of a blob's bytes (from `offset` when given). The response headers have
   * arrived when the promise resolves (so a missing blob or an auth failure rejects it); errors later
   * (size mismatch, an interruption that cannot be resumed) are emitted by the stream. An interrupted
   * body is resumed with a `Range` request; a registry that ignores ranges is read from the start
   * and the bytes before the resume point skipped. The stream never yields more than
   * `descriptor.size` bytes in total and fails (ERR_POCKER_DIGEST) when it would, or when it ends
   * short. The digest itself is for the consumer to verify (see {@link verifyingStream}).
   */
  async fetchBlob(ref: ImageReference, descriptor: Descriptor, options: FetchBlobOptions = {}): Promise<Readable> {
    checkDescriptor(descriptor, 'fetchBlob');
    const size = descriptor.size;
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw pullError('ERR_POCKER_REGISTRY', `invalid offset ${offset} for blob ${descriptor.digest} of ${size} bytes`);
    }
    const { signal, onProgress } = options;
    const path = `/v2/${ref.repository}/blobs/${descriptor.digest}`;
    const what = `blob ${descriptor.digest} of ${familiarName(ref.name)}`;

    /** Opens the body at `position`: the response and how many leading bytes to drop. */
    const open = async (position: number): Promise<{ body: ReadableStream<Uint8Array>; skip: number; url: string }> => {
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (position > 0) headers.range = `bytes=${position}-`;
      const res = await this.request(ref, path, { headers, signal, ok: [200, 206], what });
      const url = safeUrl(res.url);
      let skip = 0;
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== position) {
          await res.body?.cancel().catch(() => {});
          throw pullError('ERR_POCKER_REGISTRY', `${what}: the registry answered a range request for byte ${position} with ${JSON.stringify(res.headers.get('content-range'))} (${url})`);
        }
        if (m[3] !== '*' && Number(m[3]) !== size) {
          await res.body?.cancel().catch(() => {});
          throw pullError('ERR_POCKER_DIGEST', `${what}: the registry serves ${m[3]} bytes, the descriptor says ${size} (${url})`);
        }
      } else {
        skip = position;
        const length = res.headers.get('content-length');
        if (length !== null && /^\d+$/.test(length) && Number(length) !== size) {
          await res.body?.cancel().catch(() => {});
          throw pullError('ERR_POCKER_DIGEST', `${what}: the registry serves ${length} bytes, the descriptor says ${size} (${url})`);
        }
      }
      if (!res.body) throw pullError('ERR_POCKER_REGISTRY', `${what}: empty response body (${url})`);
      return { body: res.body, skip, url };
    };

    if (offset === size) return Readable.from([], { objectMode: false });
    const first = await open(offset);
    const retries = this.retries;
    const backoff = this.backoff;

    async function* generate(): AsyncGenerator<Buffer> {
      let position = offset;
      let failures = 0;
      let { body, skip, url } = first;
      for (;;) {
        const startedAt = position;
        try {
          for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
            let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (skip > 0) {
              const n = Math.min(skip, buf.length);
              skip -= n;
              buf = buf.subarray(n);
              if (buf.length === 0) continue;
            }
            if (position + buf.length > size) {
              throw pullError('ERR_POCKER_DIGEST', `${what} is larger than its descriptor's ${size} bytes (${url})`);
            }
            position += buf.length;
            onProgress?.(position);
            yield buf;
          }
          if (position < size) {
            throw pullError('ERR_POCKER_DIGEST', `${what} is truncated: the registry sent ${position} of ${size} bytes (${url})`);
          }
          return;
        } catch (err) {
          if (err instanceof PockerError) throw err;
          if (signal?.aborted) throw abortError(signal);
          if (position > startedAt) failures = 0;
          if (failures >= retries) {
            throw pullError(
              'ERR_POCKER_REGISTRY',
              `${what}: the download was interrupted at ${position} of ${size} bytes: ${describeCause(err)} (${url})`,
              err,
            );
          }
          await sleep(backoffDelay(failures, backoff), signal);
          failures++;
          ({ body, skip, url } = await open(position));
        }
      }
    }

    return Readable.from(generate(), { objectMode: false });
  }

  /** A whole blob in memory, verified against the descriptor's size and digest (at most `maxBytes`). */
  async fetchBlobBytes(ref: ImageReference, descriptor: Descriptor, options: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<Buffer> {
    checkDescriptor(descriptor, 'fetchBlobBytes');
    const max = options.maxBytes ?? this.maxConfigBytes;
    if (descriptor.size > max) {
      throw pullError('ERR_POCKER_REGISTRY', `blob ${descriptor.digest} of ${familiarName(ref.name)} is too large to load into memory: ${descriptor.size} bytes (limit ${max})`);
    }
    const stream = await this.fetchBlob(ref, descriptor, options.signal ? { signal: options.signal } : {});
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    const { algorithm } = parseDigestForPull(descriptor.digest);
    const got = digestOf(data, algorithm);
    if (got !== descriptor.digest) {
      throw pullError('ERR_POCKER_DIGEST', `digest mismatch: expected ${descriptor.digest}, got ${got} (blob of ${familiarName(ref.name)})`);
    }
    return data;
  }

  /** The image config a manifest names, verified and parsed. */
  async getConfig(ref: ImageReference, descriptor: Descriptor, options: { signal?: AbortSignal } = {}): Promise<ImageConfig> {
    const raw = await this.fetchBlobBytes(ref, descriptor, options);
    return parseImageConfig(raw, `config ${descriptor.digest} of ${ref.familiar}`);
  }

  /**
   * `pocker login`: checks the credentials the client has for `registry` (a domain, as
   * normalizeRegistry() gives it) with `GET /v2/`, through the same auth flow as every request: a
   * Bearer challenge gets a token for no scope with the credentials, a Basic one re-sends them.
   * Resolves when the registry accepts them (or needs none); ERR_POCKER_AUTH when it refuses them.
   */
  async checkLogin(registry: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const url = `${this.baseUrl(registry)}/v2/`;
    const what = `login to ${registry}`;
    let authRetried = false;
    for (;;) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      const authorization = await this.authorization(registry, '', options.signal);
      if (authorization) headers.authorization = authorization;
      const res = await this.send(url, { method: 'GET', headers }, options.signal, what);
      if (res.status === 200) {
        await discard(res);
        return;
      }
      if (res.status === 401 && !authRetried) {
        authRetried = true;
        const challenge = res.headers.get('www-authenticate');
        await discard(res);
        await this.answerChallenge(registry, '', challenge, url, options.signal, what);
        continue;
      }
      const detail = await errorDetail(res);
      const where = `(GET ${safeUrl(res.url || url)} -> ${res.status}${res.statusText ? ` ${res.statusText}` : ''})`;
      if (res.status === 401 || res.status === 403) {
        throw pullError('ERR_POCKER_AUTH', `${what}: unauthorized: incorrect username or password${detail ? ` (${detail})` : ''} ${where}`);
      }
      throw pullError('ERR_POCKER_REGISTRY', `${what}: unexpected response${detail ? `: ${detail}` : ''} ${where}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Manifests

  private async getManifest(
    ref: ImageReference,
    reference: string,
    expectedDigest: string | undefined,
    entry: Descriptor | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ digest: string; mediaType: string; raw: Buffer; parsed: ImageManifest | ImageIndex }> {
    const what = `manifest for ${entry ? `${familiarName(ref.name)}@${reference}` : ref.familiar}`;
    const res = await this.request(ref, `/v2/${ref.repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      signal,
      what,
    });
    const url = safeUrl(res.url);
    const raw = await readLimited(res, this.maxManifestBytes, `${what} (${url})`);

    // Integrity first: the bytes must be what was asked for.
    const headerDigest = res.headers.get('docker-content-digest')?.trim();
    const expected = expectedDigest ?? (headerDigest && headerDigest !== '' ? headerDigest : undefined);
    let digest: string;
    if (expected !== undefined) {
      const { algorithm } = parseDigestForPull(expected);
      digest = digestOf(raw, algorithm);
      if (digest !== expected) {
        throw pullError('ERR_POCKER_DIGEST', `${what}: digest mismatch: expected ${expected}, got ${digest} (${url})`);
      }
    } else {
      digest = digestOf(raw);
    }
    if (entry && raw.length !== entry.size) {
      throw pullError('ERR_POCKER_DIGEST', `${what}: size mismatch: the index says ${entry.size} bytes, got ${raw.length} (${url})`);
    }

    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw pullError('ERR_POCKER_REGISTRY', `${what}: the manifest is not valid JSON (${url})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw pullError('ERR_POCKER_REGISTRY', `${what}: the manifest is not a JSON object (${url})`);
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (parsed.schemaVersion === 1 || SCHEMA1_MEDIA_TYPES.includes(contentType) || SCHEMA1_MEDIA_TYPES.includes(String(parsed.mediaType))) {
      throw pullError(
        'ERR_POCKER_REGISTRY',
        `${ref.familiar}: Docker image manifest version 2, schema 1 is not supported (deprecated since Docker 1.10); ` +
          `the image must be pushed again in the OCI or Docker schema 2 format (${url})`,
      );
    }
    let mediaType: string;
    if (typeof parsed.mediaType === 'string' && parsed.mediaType !== '') mediaType = parsed.mediaType;
    else if ([...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].includes(contentType)) mediaType = contentType;
    else if (entry && [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].includes(entry.mediaType)) mediaType = entry.mediaType;
    else if (Array.isArray(parsed.manifests)) mediaType = MEDIA_TYPE_OCI_INDEX;
    else if (parsed.config !== undefined && Array.isArray(parsed.layers)) mediaType = MEDIA_TYPE_OCI_MANIFEST;
    else mediaType = contentType;

    if (INDEX_MEDIA_TYPES.includes(mediaType)) {
      if (parsed.schemaVersion !== 2 || !Array.isArray(parsed.manifests)) {
        throw pullError('ERR_POCKER_REGISTRY', `${what}: invalid image index (${url})`);
      }
      (parsed.manifests as unknown[]).forEach((d, i) => checkDescriptor(d, `${what}: manifests[${i}]`));
      return { digest, mediaType, raw, parsed: parsed as unknown as ImageIndex };
    }
    if (MANIFEST_MEDIA_TYPES.includes(mediaType)) {
      if (parsed.schemaVersion !== 2 || !Array.isArray(parsed.layers)) {
        throw pullError('ERR_POCKER_REGISTRY', `${what}: invalid image manifest (${url})`);
      }
      const config = checkDescriptor(parsed.config, `${what}: config`);
      (parsed.layers as unknown[]).forEach((d, i) => checkDescriptor(d, `${what}: layers[${i}]`));
      if (!CONFIG_MEDIA_TYPES.includes(config.mediaType)) {
        throw pullError(
          'ERR_POCKER_REGISTRY',
          `${ref.familiar} is not a container image (its config has media type ${JSON.stringify(config.mediaType)}) (${url})`,
        );
      }
      return { digest, mediaType, raw, parsed: parsed as unknown as ImageManifest };
    }
    throw pullError('ERR_POCKER_REGISTRY', `${what}: unsupported manifest media type ${JSON.stringify(mediaType)} (${url})`);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP with auth and retries

  /**
   * Sends one registry API request: auth (one re-send after a 401), retries on network errors,
   * 5xx and 429, and 4xx mapped to errors. Resolves with a response whose status is in `ok`.
   */
  private async request(ref: ImageReference, path: string, options: RequestOptions): Promise<Response> {
    const url = `${this.baseUrl(ref.registry)}${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const method = options.method ?? 'GET';
    const ok = options.ok ?? [200];
    let authRetried = false;
    for (;;) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...options.headers };
      const authorization = await this.authorization(ref.registry, scope, options.signal);
      if (authorization) headers.authorization = authorization;
      const res = await this.send(url, { method, headers }, options.signal, options.what);
      if (ok.includes(res.status)) return res;
      if (res.status === 401 && !authRetried) {
        authRetried = true;
        const challenge = res.headers.get('www-authenticate');
        await discard(res);
        await this.answerChallenge(ref.registry, scope, challenge, url, options.signal, options.what);
        continue;
      }
      const detail = await errorDetail(res);
      const where = `(${method} ${safeUrl(res.url || url)} -> ${res.status}${res.statusText ? ` ${res.statusText}` : ''})`;
      if (res.status === 401 && this.auth.get(ref.registry)?.scheme === 'basic') {
        throw pullError('ERR_POCKER_AUTH', `${options.what}: unauthorized: incorrect username or password for ${ref.registry}${detail ? ` (${detail})` : ''} ${where}`);
      }
      if (res.status === 401 || res.status === 403) {
        throw pullError(
          'ERR_POCKER_AUTH',
          `pull access denied for ${familiarName(ref.name)}, repository does not exist or may require 'pocker login'` +
            `${detail ? `: ${detail}` : ''} ${where}`,
        );
      }
      if (res.status === 404) throw pullError('ERR_POCKER_NOT_FOUND', `${options.what} not found${detail ? `: ${detail}` : ''} ${where}`);
      throw pullError('ERR_POCKER_REGISTRY', `${options.what}: unexpected response${detail ? `: ${detail}` : ''} ${where}`);
    }
  }

  /**
   * One fetch with retries on network errors, 5xx and 429. Returns any other response (including
   * 4xx); throws ERR_POCKER_REGISTRY when the retries are exhausted.
   */
  private async send(url: string, init: RequestInit, signal: AbortSignal | undefined, what: string): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw abortError(signal);
      let res: Response;
      try {
        res = await fetch(url, { ...init, redirect: 'follow', ...(signal ? { signal } : {}) });
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        if (attempt >= this.retries) {
          throw pullError(
            'ERR_POCKER_REGISTRY',
            `${what}: ${init.method ?? 'GET'} ${safeUrl(url)} failed after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}: ${describeCause(err)}`,
            err,
          );
        }
        await sleep(backoffDelay(attempt, this.backoff), signal);
        continue;
      }
      if (res.status !== 429 && res.status < 500) return res;
      if (attempt >= this.retries) {
        const detail = await errorDetail(res);
        throw pullError(
          'ERR_POCKER_REGISTRY',
          `${what}: ${init.method ?? 'GET'} ${safeUrl(res.url || url)} -> ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` +
            `${detail ? ` (${detail})` : ''} after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}`,
        );
      }
      const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
      await discard(res);
      const delay = after !== undefined ? Math.min(after, MAX_RETRY_AFTER_MS) : backoffDelay(attempt, this.backoff);
      await sleep(delay, signal);
    }
  }

  private authState(registry: string): RegistryAuth {
    let state = this.auth.get(registry);
    if (!state) {
      state = { tokens: new Map(), pending: new Map() };
      this.auth.set(registry, state);
    }
    return state;
  }

  private credentialsFor(registry: string): Promise<Credentials | undefined> {
    let p = this.creds.get(registry);
    if (!p) {
      const fn = this.credentialsFn;
      p = Promise.resolve()
        .then(() => (fn ? fn(registry) : undefined))
        .then(
          (c) => (c && typeof c.username === 'string' && typeof c.password === 'string' ? c : undefined),
          (err: unknown) => {
            if (err instanceof PockerError) throw err;
            throw pullError('ERR_POCKER_AUTH', `cannot get the credentials for ${registry}: ${(err as Error)?.message ?? String(err)}`, err);
          },
        );
      this.creds.set(registry, p);
    }
    return p;
  }

  /** The Authorization header for a request, from what earlier challenges taught us. */
  private async authorization(registry: string, scope: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const state = this.auth.get(registry);
    if (!state?.scheme) return undefined;
    if (state.scheme === 'basic') {
      const creds = await this.credentialsFor(registry);
      return creds ? basicHeader(creds) : undefined;
    }
    const cached = state.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    // A Bearer registry we already know: get this scope's token before asking (saves a 401).
    if (state.realm) return `Bearer ${(await this.token(registry, state, scope, scope, signal)).value}`;
    return undefined;
  }

  /** Learns from a 401's challenge what the next attempt must send. */
  private async answerChallenge(
    registry: string,
    scope: string,
    header: string | null,
    url: string,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const challenges = parseWwwAuthenticate(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const state = this.authState(registry);
    if (bearer && bearer.params.realm) {
      state.scheme = 'bearer';
      state.realm = bearer.params.realm;
      if (bearer.params.service !== undefined) state.service = bearer.params.service;
      else delete state.service;
      state.tokens.delete(scope);
      await this.token(registry, state, scope, bearer.params.scope ?? scope, signal);
      return;
    }
    if (basic) {
      const creds = await this.credentialsFor(registry);
      if (!creds) {
        throw pullError('ERR_POCKER_AUTH', `${what}: authentication required: no credentials for ${registry} (run 'pocker login ${registry}') (GET ${safeUrl(url)} -> 401)`);
      }
      if (state.scheme === 'basic') {
        throw pullError('ERR_POCKER_AUTH', `${what}: unauthorized: incorrect username or password for ${registry} (GET ${safeUrl(url)} -> 401)`);
      }
      state.scheme = 'basic';
      return;
    }
    throw pullError(
      'ERR_POCKER_AUTH',
      `${what}: unauthorized, and the registry's challenge is not one pocker supports: ${JSON.stringify(header ?? '')} (GET ${safeUrl(url)} -> 401)`,
    );
  }

  /** A Bearer token for `scope` (cached; concurrent callers share one request). */
  private token(registry: string, state: RegistryAuth, scope: string, requestScope: string, signal: AbortSignal | undefined): Promise<Token> {
    const cached = state.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached);
    let pending = state.pending.get(scope);
    if (!pending) {
      pending = this.fetchToken(registry, state, requestScope, signal)
        .then((t) => {
          state.tokens.set(scope, t);
          return t;
        })
        .finally(() => state.pending.delete(scope));
      state.pending.set(scope, pending);
    }
    return pending;
  }

  private async fetchToken(registry: string, state: RegistryAuth, scope: string, signal: AbortSignal | undefined): Promise<Token> {
    const realm = state.realm!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw pullError('ERR_POCKER_AUTH', `${registry}: invalid token realm ${JSON.stringify(realm)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw pullError('ERR_POCKER_AUTH', `${registry}: unsupported token realm ${safeUrl(realm)}`);
    }
    if (state.service !== undefined) url.searchParams.set('service', state.service);
    if (scope !== '') url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    const creds = await this.credentialsFor(registry);
    if (creds) {
      const plainOk = url.protocol === 'https:' || isLoopbackRegistry(url.host) || this.insecure.has(url.host);
      if (!plainOk) {
        throw pullError('ERR_POCKER_AUTH', `${registry}: refusing to send credentials to a plain-HTTP token realm ${safeUrl(url.toString())}`);
      }
      headers.authorization = basicHeader(creds);
    }
    const res = await this.send(url.toString(), { method: 'GET', headers }, signal, `token for ${registry}`);
    const shown = safeUrl(url.toString());
    if (res.status !== 200) {
      const detail = await errorDetail(res);
      throw pullError(
        'ERR_POCKER_AUTH',
        `${registry}: ${res.status === 401 ? 'unauthorized: incorrect username or password' : 'cannot get a token'}` +
          `${detail ? ` (${detail})` : ''} (GET ${shown} -> ${res.status})`,
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse((await readLimited(res, 1024 * 1024, `token from ${shown}`)).toString('utf8'));
    } catch (err) {
      if (err instanceof PockerError) throw err;
      throw pullError('ERR_POCKER_AUTH', `${registry}: the token endpoint answered invalid JSON (GET ${shown})`);
    }
    const value = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '') {
      throw pullError('ERR_POCKER_AUTH', `${registry}: the token endpoint answered no token (GET ${shown})`);
    }
    // Docker's rule: tokens live at least 60 s; renew 10 s early.
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 60 ? body.expires_in : 60;
    return { value, expiresAt: Date.now() + (expiresIn - 10) * 1000 };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

/** Reads a response body of at most `max` bytes. */
async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const length = res.headers.get('content-length');
  if (length !== null && /^\d+$/.test(length) && Number(length) > max) {
    await res.body?.cancel().catch(() => {});
    throw pullError('ERR_POCKER_REGISTRY', `${what}: ${length} bytes is more than the limit of ${max}`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > max) throw pullError('ERR_POCKER_REGISTRY', `${what}: more than the limit of ${max} bytes`);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  } catch (err) {
    if (err instanceof PockerError) throw err;
    throw pullError('ERR_POCKER_REGISTRY', `${what}: reading the response failed: ${describeCause(err)}`, err);
  }
  return Buffer.concat(chunks);
}

/** Drops a response body we do not need (so the connection can be reused). */
async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // ignore
  }
}

/** The registry's error message (`{"errors":[{"code","message"}]}`) or a short text body. */
async function errorDetail(res: Response): Promise<string> {
  let text: string;
  try {
    text = (await readLimited(res, 64 * 1024, 'error body')).toString('utf8');
  } catch {
    return '';
  }
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }>; error?: string; details?: string };
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
    if (typeof body.error === 'string') return body.error;
    if (typeof body.details === 'string') return body.details;
  } catch {
    // not JSON
  }
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Parses and checks an image config blob. Throws ERR_POCKER_REGISTRY when it is not one. */
export function parseImageConfig(raw: Buffer, what = 'image config'): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(raw.toString('utf8')) as ImageConfig;
  } catch {
    throw pullError('ERR_POCKER_REGISTRY', `${what}: not valid JSON`);
  }
  if (
    config === null ||
    typeof config !== 'object' ||
    !config.rootfs ||
    !Array.isArray(config.rootfs.diff_ids) ||
    !config.rootfs.diff_ids.every((d) => typeof d === 'string')
  ) {
    throw pullError('ERR_POCKER_REGISTRY', `${what}: not an image config (rootfs.diff_ids missing)`);
  }
  if (config.config !== undefined && (config.config === null || typeof config.config !== 'object')) {
    throw pullError('ERR_POCKER_REGISTRY', `${what}: "config" is not an object`);
  }
  return config;
}
