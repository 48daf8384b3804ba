// `ps --filter` / listContainers({ filters }): Docker's container filters, parsed, validated and
// matched over the listed containers. Pure (no I/O): the unit tests drive it with made-up lists.
//
// Docker's semantics: several values of one key match when any does, different keys must all
// match; `name` is a regular expression searched for in the name (with and without Docker's
// leading `/`), `id` a prefix, `status` the state string, `exited` the exit code of an exited
// container, `ancestor` the container's image, `before` / `since` a position in the list by
// creation time, `label` a label's key (`label=k`) or key and value (`label=k=v`). Keys Docker knows that pocker's containers have nothing to match with (labels,
// health checks, networks, ports, volumes, isolation, swarm tasks) are refused, not faked.
import { invalid, PockerError } from '../errors.js';
import { parseReference } from '../image/reference.js';
import type { ContainerInfo } from './info.js';

/** Every container status Docker knows (`ps --filter status=…` accepts exactly these). */
export const CONTAINER_STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'] as const;

/** A value of the `status` filter. */
export type ContainerStatusFilter = (typeof CONTAINER_STATUSES)[number];

/** The filter keys pocker matches. */
export const FILTER_KEYS = ['ancestor', 'before', 'exited', 'id', 'label', 'name', 'since', 'status'] as const;

/** A key of ContainerFilters. */
export type ContainerFilterKey = (typeof FILTER_KEYS)[number];

/** Keys Docker accepts that pocker refuses, and why (nothing of the container to match them with). */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  health: 'pocker containers have no health checks',
  network: 'pocker does not record container networks',
  volume: 'pocker does not record container volumes',
  publish: 'pocker containers publish no ports',
  expose: 'pocker containers expose no ports',
  isolation: 'pocker has no isolation modes',
  'is-task': 'pocker has no swarm tasks',
};

/**
 * Filters of listContainers(), as `pocker ps --filter KEY=VALUE` takes them. A key takes one value
 * or several; several values of one key match a container when any of them does, and every key
 * given must match.
 */
export interface ContainerFilters {
  /** Container id prefixes (a full id is its own prefix). */
  id?: string | string[];
  /**
   * Regular expressions searched for in the container's name, which matches with or without
   * Docker's leading `/` (`^web` and `^/web` both match `web-1`); a leading `(?i)` ignores case.
   * A value that is the name itself always matches; an invalid expression matches nothing else.
   */
  name?: string | string[];
  /** Container statuses (`status=exited`). Implies all containers, not only running ones. */
  status?: ContainerStatusFilter | ContainerStatusFilter[];
  /** Exit codes of exited containers (`exited=137`). Implies all containers. */
  exited?: number | number[];
  /**
   * Images: a reference (`alpine`, `alpine:3.20`, `ghcr.io/o/r@sha256:…`; Docker's normalisation,
   * so `alpine` is `docker.io/library/alpine:latest`), an image id or id prefix (`sha256:…`, at
   * least 4 hex digits), `host`, or a `--rootfs` directory. Matched against the image the container
   * recorded when it was created (Docker also matches images built on top of it; pocker has no
   * image parents).
   */
  ancestor?: string | string[];
  /** Containers created before this one (id, id prefix or name). */
  before?: string | string[];
  /** Containers created after this one (id, id prefix or name). */
  since?: string | string[];
  /** Labels: `KEY` (the container has the label) or `KEY=VALUE` (with that value); every one given must match. */
  label?: string | string[];
}

/** ContainerFilters with every value checked and every key present (as lists). */
export interface NormalizedFilters {
  id: string[];
  name: string[];
  status: ContainerStatusFilter[];
  exited: number[];
  ancestor: string[];
  before: string[];
  since: string[];
  label: string[];
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Docker's error for a bad filter: `invalid filter 'KEY'` or `invalid filter 'KEY=VALUE'`. */
function invalidFilter(key: string, value?: string, why?: string): PockerError {
  return invalid(`invalid filter '${key}${value === undefined ? '' : `=${value}`}'${why ? `: ${why}` : ''}`);
}

function checkKey(key: string): asserts key is ContainerFilterKey {
  if ((FILTER_KEYS as readonly string[]).includes(key)) return;
  const why = UNSUPPORTED_KEYS[key];
  if (why !== undefined) throw invalid(`filter '${key}' is not supported: ${why}`);
  throw invalidFilter(key);
}

/**
 * Checks filters given to the library (a JavaScript caller may pass anything): unknown keys are
 * `invalid filter 'KEY'`, bad status values `invalid filter 'status=VALUE'`, exit codes must be
 * integers, the other values non-empty strings. Throws ERR_POCKER_INVALID (step `validate`).
 */
export function normalizeFilters(filters: ContainerFilters | undefined): NormalizedFilters {
  const out: NormalizedFilters = { id: [], name: [], status: [], exited: [], ancestor: [], before: [], since: [], label: [] };
  if (filters === undefined) return out;
  if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) throw invalid('invalid filters: an object of KEY: value(s)');
  const given = filters as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    checkKey(key);
    const values = list(given[key] as unknown);
    if (key === 'exited') {
      for (const v of values) {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidFilter('exited', String(v), 'an exit code is an integer');
        out.exited.push(v);
      }
      continue;
    }
    for (const v of values) {
      if (typeof v !== 'string') throw invalidFilter(key, String(v), 'a string');
      if (key === 'status') {
        if (!(CONTAINER_STATUSES as readonly string[]).includes(v)) throw invalidFilter('status', v);
        out.status.push(v as ContainerStatusFilter);
      } else {
        if (v === '' && (key === 'before' || key === 'since' || key === 'ancestor' || key === 'label')) throw invalidFilter(key, v, 'an empty value');
        out[key].push(v);
      }
    }
  }
  return out;
}

/**
 * Parses `--filter` arguments (`KEY=VALUE`, Docker's syntax: the key is trimmed and lower-cased,
 * the value trimmed) into ContainerFilters, checked as normalizeFilters() checks them. Throws
 * ERR_POCKER_INVALID: `bad format of filter (expected name=value)`, `invalid filter 'KEY'`,
 * `invalid filter 'status=VALUE'`, `invalid filter 'exited=VALUE'`, or that a key is not supported.
 */
export function parseFilterArgs(args: readonly string[]): ContainerFilters {
  const out: NormalizedFilters = { id: [], name: [], status: [], exited: [], ancestor: [], before: [], since: [], label: [] };
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq === -1) throw invalid(`invalid argument ${JSON.stringify(arg)} for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const key = arg.slice(0, eq).trim().toLowerCase();
    const value = arg.slice(eq + 1).trim();
    checkKey(key);
    if (key === 'exited') {
      // Go's strconv.Atoi: an optional sign and decimal digits.
      if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw invalidFilter('exited', value, 'an exit code is an integer');
      out.exited.push(Number(value));
    } else if (key === 'status') {
      if (!(CONTAINER_STATUSES as readonly string[]).includes(value)) throw invalidFilter('status', value);
      out.status.push(value as ContainerStatusFilter);
    } else {
      out[key].push(value);
    }
  }
  const filters: ContainerFilters = {};
  for (const key of FILTER_KEYS) {
    if (out[key].length === 0) continue;
    if (key === 'exited') filters.exited = out.exited;
    else if (key === 'status') filters.status = out.status;
    else filters[key] = out[key];
  }
  return filters;
}

/** Do these filters show stopped containers without `all` (status and exited do, as in Docker for status)? */
export function filtersImplyAll(f: NormalizedFilters): boolean {
  return f.status.length > 0 || f.exited.length > 0;
}

/** Go's regexp.MatchString for a name filter: a search, `(?i)` as a flag; null when invalid. */
function nameRegExp(pattern: string): RegExp | null {
  const insensitive = pattern.startsWith('(?i)');
  try {
    return new RegExp(insensitive ? pattern.slice(4) : pattern, insensitive ? 'iu' : 'u');
  } catch {
    return null;
  }
}

function nameMatches(patterns: string[], name: string): boolean {
  if (patterns.length === 0) return true;
  const names = [name, `/${name}`];
  return patterns.some((p) => {
    if (names.includes(p)) return true;
    const re = nameRegExp(p);
    return re !== null && names.some((n) => re.test(n));
  });
}

/** The image references and id prefixes an `ancestor` value can mean. */
interface Ancestor {
  value: string;
  /** The stored name a reference normalises to (`docker.io/library/alpine:latest`). */
  stored?: string;
  /** The hex digits of an image id (prefix), without `sha256:`. */
  idPrefix?: string;
}

function parseAncestor(value: string): Ancestor {
  const a: Ancestor = { value };
  try {
    const ref = parseReference(value);
    a.stored = ref.digest ? `${ref.name}@${ref.digest}` : ref.canonical;
  } catch {
    /* not a reference: maybe an id */
  }
  const id = /^(?:sha256:)?([0-9a-f]{4,64})$/.exec(value);
  if (id) a.idPrefix = id[1]!;
  return a;
}

function ancestorMatches(ancestors: Ancestor[], c: ContainerInfo): boolean {
  if (ancestors.length === 0) return true;
  const idHex = c.imageId.slice(c.imageId.indexOf(':') + 1);
  return ancestors.some((a) => {
    // `host` and --rootfs containers: the image is its text (`host`, the directory).
    if (!c.imageId) return c.image !== '' && c.image === a.value;
    if (a.stored !== undefined && c.image === a.stored) return true;
    if (a.idPrefix !== undefined && idHex.startsWith(a.idPrefix)) return true;
    return c.imageId === a.value;
  });
}

/** Docker's label filter: every `KEY` must be a label, every `KEY=VALUE` a label with that value. */
function labelsMatch(wanted: string[], labels: Readonly<Record<string, string>>): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return Object.hasOwn(labels, w);
    const key = w.slice(0, eq);
    return Object.hasOwn(labels, key) && labels[key] === w.slice(eq + 1);
  });
}

/** The index in `list` of the container `ref` names (id, unique id prefix or name: findContainer's order). */
function indexOf(listed: readonly ContainerInfo[], ref: string): number {
  const exact = listed.findIndex((c) => c.id === ref);
  if (exact !== -1) return exact;
  if (/^[0-9a-f]{1,63}$/.test(ref)) {
    const prefixed = listed.flatMap((c, i) => (c.id.startsWith(ref) ? [i] : []));
    if (prefixed.length > 1) throw new PockerError(`multiple containers found with prefix ${ref}`, { code: 'ERR_POCKER_AMBIGUOUS', step: 'lookup' });
    if (prefixed.length === 1) return prefixed[0]!;
  }
  const named = listed.findIndex((c) => c.name === ref.replace(/^\//, ''));
  if (named !== -1) return named;
  throw new PockerError(`No such container: ${ref}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/** Options of filterContainers(). */
export interface FilterOptions {
  /** Show stopped containers too (else only running, paused and restarting ones, unless the filters imply all). */
  all?: boolean;
  /** At most this many (the newest), stopped ones included, as `ps -n` (0 or less: no limit). */
  last?: number;
}

/**
 * Applies filters to every container of a root, newest first (as listContainers() orders them), in
 * Docker's order: `before`/`since` cut the list at the containers they name (throwing
 * ERR_POCKER_NOT_FOUND / ERR_POCKER_AMBIGUOUS for a bad reference); then stopped containers go
 * unless `all`, `last`, or a status or exited filter; then the other filters; then `last`.
 */
export function filterContainers(listed: readonly ContainerInfo[], filters: NormalizedFilters, options: FilterOptions = {}): ContainerInfo[] {
  // before=X: what comes after X in the newest-first list; since=X: what comes before it. Several
  // values of one key: any of them (the widest cut).
  let from = 0;
  let to = listed.length;
  if (filters.before.length) from = Math.min(...filters.before.map((ref) => indexOf(listed, ref))) + 1;
  if (filters.since.length) to = Math.max(...filters.since.map((ref) => indexOf(listed, ref)));
  const last = options.last !== undefined && options.last > 0 ? options.last : 0;
  const all = options.all === true || last > 0 || filtersImplyAll(filters);
  const ancestors = filters.ancestor.map(parseAncestor);
  const out = listed.slice(from, Math.max(from, to)).filter((c) => {
    if (!all && c.state !== 'running' && c.state !== 'restarting' && c.state !== 'paused') return false;
    if (!nameMatches(filters.name, c.name)) return false;
    if (filters.id.length && !filters.id.some((p) => c.id.startsWith(p))) return false;
    if (filters.exited.length && !(c.state === 'exited' && c.exitCode !== null && filters.exited.includes(c.exitCode))) return false;
    // The status string itself (whatever statuses pocker's containers come to have).
    if (filters.status.length && !(filters.status as readonly string[]).includes(c.state)) return false;
    if (!labelsMatch(filters.label, c.labels ?? {})) return false;
    return ancestorMatches(ancestors, c);
  });
  return last > 0 ? out.slice(0, last) : out;
}
