// Stored image names as Docker shows them: split into repository, tag and digest; short ids; the
// glob matching of `images [REPOSITORY[:TAG]]`. Pure and dependency-free: the CLI imports it when
// it loads (the reference grammar stays behind a dynamic import there).
import type { ImageEntry } from './store.js';

/** A stored image name split for display: `docker.io/library/alpine:3.20` -> alpine, 3.20. */
export interface NameParts {
  /** The canonical repository (`docker.io/library/alpine`). */
  name: string;
  /** What Docker shows (`alpine`, `127.0.0.1:5000/x`), as `familiar` makes it. */
  repository: string;
  /** The tag, when the name has one. */
  tag?: string;
  /** The digest, when the name is `repository@digest` (an image pulled by digest). */
  digest?: string;
}

/**
 * Splits a stored name (`repository:tag` or `repository@digest`) into its parts; `familiar` turns
 * the canonical repository into what Docker shows (reference.ts's familiarName; default: as is).
 */
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

/** The reference Docker prints for a name (`alpine:3.20`, `alpine@sha256:…`; no tag: `:latest`). */
export function shownReference(parts: NameParts): string {
  return parts.digest ? `${parts.repository}@${parts.digest}` : `${parts.repository}:${parts.tag ?? 'latest'}`;
}

/** Docker's short id: the first 12 hex digits, without the algorithm. */
export function shortImageId(id: string): string {
  return id.slice(id.indexOf(':') + 1).slice(0, 12);
}

/** The repository digest of a record: the index's (what the registry names) or the manifest's. */
export function repoDigest(entry: Pick<ImageEntry, 'indexDigest' | 'manifestDigest'>): string {
  return entry.indexDigest ?? entry.manifestDigest;
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
