// User namespaces for root's containers (issue 13): --userns, --uidmap/--gidmap, and `auto`'s ranges.
//
// `--userns=auto[:size=N]` gives a container N ids (default 65536) from the `pocker` entries of
// /etc/subuid and /etc/subgid (`pocker:START:COUNT`, as shadow's tools write them), first fit,
// disjoint from the host ranges of every other container of this root. The allocation is made
// while the container's record is written, under the store's names lock (run.ts: prepare), and is
// read back from the records themselves (config.json's linux.uidMappings): a range is recorded
// with its container and released with it (rm, --rm, prune, a failed start), whatever removes it.
//
// Hand-written: the subid file format is three colon-separated fields a line, and no package of
// /work/.library/env/packages reads it (libsubid is C, in shadow).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PockerError, invalid } from '../errors.js';
import type { IdMapping } from '../types.js';
import { parseSubidText } from './subid.js';

export type { IdMapping };

/** The default size of an `auto` range (podman's and Docker's 65536). */
export const AUTO_SIZE = 65536;
/** The subid entry pocker allocates `auto` ranges from. */
export const SUBID_USER = 'pocker';
/** The kernel's limit of lines in an id map (since Linux 4.15). */
const MAX_MAP_LINES = 340;
/** The largest id (2^32-1 is (uid_t)-1, never mapped). */
const MAX_ID = 2 ** 32 - 2;

/** A container's user namespace as asked for (validated). */
export type UsernsRequest = { mode: 'auto'; size: number } | { mode: 'map'; uidMappings: IdMapping[]; gidMappings: IdMapping[] };

/** The maps a container runs with (a request resolved: `auto` allocated). */
export interface UsernsMaps {
  mode: 'auto' | 'map';
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

const NUM = /^(0|[1-9]\d{0,9})$/;

/** podman's `CONTAINER:HOST:SIZE` (or the object form), checked for range. */
export function parseIdMapping(value: unknown, flag: '--uidmap' | '--gidmap'): IdMapping {
  let m: IdMapping;
  if (typeof value === 'string') {
    const parts = value.split(':');
    if (parts.length !== 3 || !parts.every((p) => NUM.test(p))) {
      throw invalid(`invalid ${flag} ${show(value)}: expected CONTAINER:HOST:SIZE (three whole numbers)`);
    }
    m = { containerID: Number(parts[0]), hostID: Number(parts[1]), size: Number(parts[2]) };
  } else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const n = (k: string): number => {
      const x = o[k];
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw invalid(`invalid ${flag} ${show(value)}: ${k} must be a whole number`);
      return x;
    };
    m = { containerID: n('containerID'), hostID: n('hostID'), size: n('size') };
  } else {
    throw invalid(`invalid ${flag} ${show(value)}: expected a CONTAINER:HOST:SIZE string or { containerID, hostID, size }`);
  }
  if (m.size < 1) throw invalid(`invalid ${flag} ${show(value)}: the size must be at least 1`);
  if (m.containerID + m.size - 1 > MAX_ID || m.hostID + m.size - 1 > MAX_ID) {
    throw invalid(`invalid ${flag} ${show(value)}: the range goes past the largest id ${MAX_ID}`);
  }
  return m;
}

const overlaps = (a: number, n: number, b: number, k: number): boolean => a < b + k && b < a + n;
const text = (m: IdMapping): string => `${m.containerID}:${m.hostID}:${m.size}`;

/** A whole map: at most 340 lines, no two overlapping on either side, container id 0 mapped. */
export function checkIdMap(maps: IdMapping[], flag: '--uidmap' | '--gidmap'): void {
  if (maps.length === 0) throw invalid(`invalid ${flag}: at least one mapping`);
  if (maps.length > MAX_MAP_LINES) throw invalid(`invalid ${flag}: at most ${MAX_MAP_LINES} mappings (the kernel's limit)`);
  maps.forEach((m, i) => {
    for (const o of maps.slice(0, i)) {
      if (overlaps(m.containerID, m.size, o.containerID, o.size)) throw invalid(`invalid ${flag} ${text(m)}: its container ids overlap ${text(o)}`);
      if (overlaps(m.hostID, m.size, o.hostID, o.size)) throw invalid(`invalid ${flag} ${text(m)}: its host ids overlap ${text(o)}`);
    }
  });
  if (!maps.some((m) => m.containerID === 0)) {
    throw invalid(`invalid ${flag}: container id 0 must be mapped (the container's root owns its filesystem)`);
  }
}

/**
 * RunOptions.userns / uidmap / gidmap, validated (nothing is read from the system here): undefined
 * for the host's user namespace.
 */
export function resolveUserns(opts: { userns?: unknown; uidmap?: unknown; gidmap?: unknown }): UsernsRequest | undefined {
  const lists = (v: unknown, flag: '--uidmap' | '--gidmap'): IdMapping[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw invalid(`invalid ${flag} ${show(v)}: must be an array`);
    if (v.length === 0) return undefined;
    const maps = v.map((x) => parseIdMapping(x, flag));
    checkIdMap(maps, flag);
    return maps;
  };
  const uid = lists(opts.uidmap, '--uidmap');
  const gid = lists(opts.gidmap, '--gidmap');
  let mode: string | undefined;
  if (opts.userns !== undefined) {
    if (typeof opts.userns !== 'string') throw invalid(`invalid --userns ${show(opts.userns)}: must be a string`);
    mode = opts.userns;
  }
  if (uid || gid) {
    if (mode !== undefined && mode !== '') throw invalid(`conflicting options: --userns ${mode} and --uidmap/--gidmap`);
    if (!uid) throw invalid('invalid --gidmap: needs --uidmap as well');
    return { mode: 'map', uidMappings: uid, gidMappings: gid ?? uid.map((m) => ({ ...m })) };
  }
  if (mode === undefined || mode === '' || mode === 'host') return undefined;
  const auto = /^auto(?::(.*))?$/.exec(mode);
  if (!auto) throw invalid(`invalid --userns ${show(mode)}: expected host, auto or auto:size=N`);
  let size = AUTO_SIZE;
  if (auto[1] !== undefined) {
    for (const opt of auto[1].split(',')) {
      const kv = /^size=(\d{1,10})$/.exec(opt);
      if (!kv) throw invalid(`invalid --userns ${show(mode)}: unknown option ${show(opt)} (auto takes size=N)`);
      size = Number(kv[1]);
      if (size < 1 || size > MAX_ID) throw invalid(`invalid --userns ${show(mode)}: size must be from 1 to ${MAX_ID}`);
    }
  }
  return { mode: 'auto', size };
}

/** The host id of container id `id` under `maps`, or undefined when unmapped. */
export function hostIdOf(maps: readonly IdMapping[], id: number): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The ranges of `user` in a subuid/subgid file's text (`NAME:START:COUNT` lines; `#` comments): subid.ts's parser. */
export function parseSubids(content: string, user: string): Array<{ start: number; count: number }> {
  return parseSubidText(content)
    .filter((e) => e.owner === user)
    .map(({ start, count }) => ({ start, count }));
}

/** The `pocker` ranges of one subid file; a clear error when it has none. */
export function readSubids(file: string, user = SUBID_USER): Array<{ start: number; count: number }> {
  let content = '';
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const ranges = parseSubids(content, user);
  if (ranges.length === 0) {
    throw new PockerError(
      `--userns=auto needs a "${user}" entry in ${file} (a range of ids to give containers), e.g. "${user}:1000000000:1000000000": ` +
        'add one (usermod --add-subuids/--add-subgids, or an editor) and run again',
      { code: 'ERR_POCKER_UNSUPPORTED', step: 'validate', path: file },
    );
  }
  return ranges;
}

/** The host ranges of a map. */
function hostRanges(maps: unknown): Array<{ start: number; count: number }> {
  if (!Array.isArray(maps)) return [];
  return maps
    .filter((m): m is IdMapping => !!m && typeof m === 'object' && Number.isSafeInteger((m as IdMapping).hostID) && Number.isSafeInteger((m as IdMapping).size))
    .map((m) => ({ start: m.hostID, count: m.size }));
}

/** The host uid and gid ranges every container of `root` holds (from their config.json). */
export function takenRanges(root: string): { uid: Array<{ start: number; count: number }>; gid: Array<{ start: number; count: number }> } {
  const uid: Array<{ start: number; count: number }> = [], gid: Array<{ start: number; count: number }> = [];
  let ids: string[] = [];
  try {
    ids = readdirSync(join(root, 'containers'));
  } catch {
    return { uid, gid };
  }
  for (const id of ids) {
    let doc: { linux?: { uidMappings?: unknown; gidMappings?: unknown } };
    try {
      doc = JSON.parse(readFileSync(join(root, 'containers', id, 'config.json'), 'utf8')) as typeof doc;
    } catch {
      continue; // not a container (or half-removed): it holds nothing
    }
    uid.push(...hostRanges(doc.linux?.uidMappings));
    gid.push(...hostRanges(doc.linux?.gidMappings));
  }
  return { uid, gid };
}

/** First fit of `size` ids in `pool` around `taken`; undefined when nothing is free. */
export function firstFit(pool: Array<{ start: number; count: number }>, taken: Array<{ start: number; count: number }>, size: number): number | undefined {
  const sorted = [...taken].sort((a, b) => a.start - b.start);
  for (const r of pool) {
    let at = r.start;
    for (const t of sorted) {
      if (at + size <= t.start) break;
      if (overlaps(at, size, t.start, t.count)) at = t.start + t.count;
    }
    if (at + size <= r.start + r.count) return at;
  }
  return undefined;
}

/**
 * The maps of `auto` for a new container of `root`: call it under the names lock, and record the
 * result in the container's config.json before the lock is released (run.ts: prepare).
 */
export function allocateAuto(root: string, size: number, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): UsernsMaps {
  const uidPool = readSubids(files.subuid), gidPool = readSubids(files.subgid);
  const taken = takenRanges(root);
  const uid = firstFit(uidPool, taken.uid, size), gid = firstFit(gidPool, taken.gid, size);
  if (uid === undefined || gid === undefined) {
    throw new PockerError(
      `--userns=auto: no free range of ${size} ids left in the "${SUBID_USER}" entry of ${uid === undefined ? files.subuid : files.subgid} ` +
        '(every range is held by a container): remove containers or give pocker a larger range',
      { code: 'ERR_POCKER_CONFLICT', step: 'validate', path: uid === undefined ? files.subuid : files.subgid },
    );
  }
  return { mode: 'auto', uidMappings: [{ containerID: 0, hostID: uid, size }], gidMappings: [{ containerID: 0, hostID: gid, size }] };
}
