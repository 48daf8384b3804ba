// Image references with Docker's normalisation (github.com/distribution/reference: the grammar in
// regexp.go, ParseNormalizedNamed and splitDockerDomain in normalize.go):
//
//   alpine                        -> docker.io/library/alpine:latest
//   alpine:3.20                   -> docker.io/library/alpine:3.20
//   library/alpine, user/app      -> docker.io/library/alpine:latest, docker.io/user/app:latest
//   index.docker.io/library/x     -> docker.io/library/x:latest
//   ghcr.io/o/r:tag               -> ghcr.io/o/r:tag
//   localhost:5000/x@sha256:<hex> -> localhost:5000/x@sha256:<hex>
//   name:tag@sha256:<hex>         -> the digest is what gets pulled; the tag is kept for display
//
// The first path component is a registry when it contains `.` or `:`, is `localhost`, or has an
// uppercase letter (repository names are lowercase, so it cannot be a namespace).
import { invalid } from '../errors.js';
import { digestProblem, parseDigest } from './digest.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** The registry domain as named (`docker.io`, `ghcr.io`, `localhost:5000`); see {@link registryHost}. */
  registry: string;
  /** The repository path inside the registry (`library/alpine`, `o/r`). */
  repository: string;
  /** The tag: `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** The digest (`sha256:<hex>`): when present it is what gets pulled, and `tag` is for display only. */
  digest?: string;
  /** The canonical name: `registry/repository`, e.g. `docker.io/library/alpine`. */
  name: string;
  /** The canonical reference to pull: `name@digest` when there is a digest, else `name:tag`. */
  canonical: string;
  /** What Docker prints: `alpine:latest`, `user/app:1`, `ghcr.io/o/r:tag`, `alpine:3.20@sha256:…`. */
  familiar: string;
}

/** Docker Hub's canonical domain. */
export const DOCKER_HUB = 'docker.io';
/** The host that serves Docker Hub's registry API. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
const LEGACY_DOCKER_HUB = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const NAME_TOTAL_MAX = 255;

// The grammar of distribution/reference (regexp.go).
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const domainAndPort = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;

const referenceRe = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const domainRe = new RegExp(`^${domainAndPort}$`);
const tagRe = new RegExp(`^${tagPattern}$`);
const identifierRe = /^[a-f0-9]{64}$/;

/** Splits Docker's way: `[domain/]remainder`, with Docker Hub's defaults applied. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (slash === -1) {
    // A familiar name (`ubuntu`, `ubuntu:latest`): never `host:port`.
    return { domain: DOCKER_HUB, remainder: OFFICIAL_PREFIX + name };
  }
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first;
    remainder = rest;
  } else {
    domain = DOCKER_HUB;
    remainder = name;
  }
  if (domain === DOCKER_HUB && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return { domain, remainder };
}

/** The name Docker prints: `docker.io/library/x` -> `x`, `docker.io/u/x` -> `u/x`, others unchanged. */
export function familiarName(name: string): string {
  if (!name.startsWith(`${DOCKER_HUB}/`)) return name;
  const path = name.slice(DOCKER_HUB.length + 1);
  if (path.startsWith(OFFICIAL_PREFIX) && !path.slice(OFFICIAL_PREFIX.length).includes('/')) {
    return path.slice(OFFICIAL_PREFIX.length);
  }
  return path;
}

/**
 * Parses an image reference the way `docker pull` does. A reference with neither tag nor digest
 * gets the tag `latest`. Throws ERR_POCKER_INVALID (step `validate`) with Docker's wording.
 */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input === '') throw invalid('invalid reference format: repository name must have at least one component');
  if (identifierRe.test(input)) {
    throw invalid(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDomain(input);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) {
    throw invalid('invalid reference format: repository name must be lowercase');
  }
  const full = `${domain}/${remainder}`;
  const m = referenceRe.exec(full);
  if (!m) {
    // Say why when we can: the pieces Docker reports on separately.
    const at = remainder.indexOf('@');
    if (at !== -1 && referenceRe.exec(`${domain}/${remainder.slice(0, at)}`)) {
      throw invalid(`invalid reference format: invalid digest ${JSON.stringify(remainder.slice(at + 1))}`);
    }
    throw invalid('invalid reference format');
  }
  const name = m[1]!;
  const tagGiven = m[2];
  const digest = m[3];
  if (name.length > NAME_TOTAL_MAX) {
    throw invalid(`invalid reference format: repository name must not be more than ${NAME_TOTAL_MAX} characters`);
  }
  const problem = digest === undefined ? undefined : digestProblem(digest);
  if (problem !== undefined) throw invalid(`invalid reference format: ${problem}: ${JSON.stringify(digest)}`);
  const repository = name.slice(domain.length + 1);
  const tag = tagGiven ?? (digest === undefined ? 'latest' : undefined);
  return buildReference(domain, repository, tag, digest);
}

function buildReference(registry: string, repository: string, tag: string | undefined, digest: string | undefined): ImageReference {
  const name = `${registry}/${repository}`;
  const ref: ImageReference = {
    registry,
    repository,
    name,
    canonical: digest !== undefined ? `${name}@${digest}` : `${name}:${tag ?? 'latest'}`,
    familiar: `${familiarName(name)}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`,
  };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The same repository with a digest (what was actually pulled); the tag stays for display. */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  parseDigest(digest, 'validate');
  return buildReference(ref.registry, ref.repository, ref.tag, digest);
}

/** The same repository with another tag and no digest (`pocker tag`). Throws on an invalid tag. */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!tagRe.test(tag)) throw invalid(`invalid reference format: invalid tag ${JSON.stringify(tag)}`);
  return buildReference(ref.registry, ref.repository, tag, undefined);
}

/** The tag or digest to ask the registry for: the digest when there is one, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/**
 * The host to contact for a registry domain: Docker Hub (`docker.io`, `index.docker.io`) is served
 * by `registry-1.docker.io`; every other registry by its own name.
 */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB || registry === LEGACY_DOCKER_HUB ? DOCKER_HUB_HOST : registry;
}

/**
 * Normalises a registry name given by a user (`pocker login`, `--insecure-registry`):
 * strips a scheme and a path (`https://index.docker.io/v1/` -> `docker.io`), maps Docker Hub's
 * aliases to `docker.io`. Throws ERR_POCKER_INVALID when the rest is not a registry domain.
 */
export function normalizeRegistry(input: string): string {
  let s = input.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash !== -1) s = s.slice(0, slash);
  if (s === LEGACY_DOCKER_HUB || s === DOCKER_HUB_HOST || s === DOCKER_HUB) return DOCKER_HUB;
  if (!domainRe.test(s)) throw invalid(`invalid registry name: ${JSON.stringify(input)}`);
  return s;
}
