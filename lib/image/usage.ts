// The containers that use images: what removeImage(), pruneImages() and systemDf() must not remove
// or must count. A container is a `<root>/containers/<id>/` directory with a `config.json` naming
// its image (id and layer dirs), written before anything is mounted; a running one has its overlay
// mounted in its own mount namespace, which tells which layers it mounts (one /proc/<pid>/mountinfo
// read per mount namespace). So an image counts as used from the moment a container is created
// (run() and create() record it under the store's lock) until the container's directory is gone.
import { parseMountinfo } from '../mountinfo.js';
import { readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';

import { readMeta } from '../container/index.js';
import type { ImageEntry } from './store.js';

/** The containers of a state root, as the image commands must see them. */
export interface LiveContainers {
  /** Ids of the `<root>/containers/<id>/` directories, sorted. */
  dirs: string[];
  /** Containers whose overlay is mounted (running), with the store layers they use, top-most first. */
  running: Map<string, string[]>;
  /** The image each container runs, from its `config.json` (layers as chain ids, base first). */
  images: Map<string, { name: string; id: string; layers: string[] }>;
}

/** Splits on `sep` not escaped with a backslash, and drops the escapes (overlay's option syntax). */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * The overlay mounts of one /proc/<pid>/mountinfo text whose upper dir is in `containersDir`:
 * container id -> its lower dirs, top-most first.
 */
export function containerMounts(mountinfo: string, containersDir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const m of parseMountinfo(mountinfo, { all: true })) {
    if (m.fsType !== 'overlay') continue;
    // Options are comma-separated; overlay escapes `,` `:` `\` inside paths with a backslash.
    const options = new Map<string, string>();
    let cur = '';
    const raw = m.superOptionsRaw;
    for (let i = 0; i <= raw.length; i++) {
      const c = raw[i];
      if (c === '\\' && i + 1 < raw.length) {
        cur += c + raw[++i]!;
      } else if (c === ',' || c === undefined) {
        const eq = cur.indexOf('=');
        if (eq !== -1) options.set(cur.slice(0, eq), cur.slice(eq + 1));
        cur = '';
      } else cur += c;
    }
    const upper = options.get('upperdir');
    const lower = options.get('lowerdir');
    if (upper === undefined || lower === undefined) continue;
    const upperPath = splitEscaped(upper, '\0')[0]!;
    if (!upperPath.startsWith(`${containersDir}/`)) continue;
    const id = upperPath.slice(containersDir.length + 1).split('/')[0]!;
    found.set(id, splitEscaped(lower, ':').filter((p) => p !== ''));
  }
  return found;
}

/**
 * The containers of a store root: their directories; the image each one runs, from the
 * `config.json` run() writes before it mounts anything; and which are running (their overlay is
 * mounted) with the store layers (chain ids) the mount uses. Reads /proc/<pid>/mountinfo once per
 * mount namespace, and only when there are container directories at all.
 */
export async function liveContainers(root: string): Promise<LiveContainers> {
  const containersDir = join(root, 'containers');
  let dirs: string[];
  try {
    dirs = (await readdir(containersDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return { dirs: [], running: new Map(), images: new Map() };
  }
  const running = new Map<string, string[]>();
  const images: LiveContainers['images'] = new Map();
  if (dirs.length === 0) return { dirs, running, images };
  const roots = new Set([root]);
  try {
    roots.add(await realpath(root));
  } catch {
    // the root as given is all there is
  }
  const layerDirs = [...roots].map((r) => join(r, 'layers'));
  const toChain = (lower: string): string | undefined => {
    for (const dir of layerDirs) {
      if (lower.startsWith(`${dir}/`)) {
        const hex = lower.slice(dir.length + 1);
        if (/^[0-9a-f]{64}$/.test(hex)) return `sha256:${hex}`;
      }
    }
    return undefined;
  };
  for (const id of dirs) {
    try {
      // Through the container store (it migrates older records; a newer pocker's is unreadable here).
      const image = readMeta(join(containersDir, id))?.image as { name?: unknown; id?: unknown; layers?: unknown } | undefined;
      if (image && typeof image.id === 'string' && Array.isArray(image.layers)) {
        const layers = image.layers.filter((l): l is string => typeof l === 'string').map((l) => toChain(l) ?? '');
        images.set(id, { name: typeof image.name === 'string' ? image.name : '', id: image.id, layers: layers.filter((l) => l !== '') });
      }
    } catch {
      // Not written yet (a container starting), or not an image's container.
    }
  }
  const seen = new Set<string>();
  let pids: string[] = [];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return { dirs, running, images };
  }
  const wanted = new Set(dirs);
  for (const pid of pids) {
    if (running.size === wanted.size) break;
    let ns: string;
    try {
      ns = await readlink(`/proc/${pid}/ns/mnt`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    for (const r of roots) {
      for (const [id, lowers] of containerMounts(text, join(r, 'containers'))) {
        if (!wanted.has(id)) continue;
        running.set(id, lowers.map(toChain).filter((c): c is string => c !== undefined));
      }
    }
  }
  return { dirs, running, images };
}

/**
 * Image ids containers use, with the containers (short ids): the image a container's config.json
 * names, or (without one) the image whose layer stack its overlay mounts.
 */
export function imagesInUse(entries: ImageEntry[], live: LiveContainers): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (imageId: string, container: string) => {
    const list = out.get(imageId) ?? [];
    if (!list.includes(container.slice(0, 12))) list.push(container.slice(0, 12));
    out.set(imageId, list);
  };
  for (const [container, image] of live.images) add(image.id, container);
  for (const [container, chains] of live.running) {
    if (live.images.has(container) || !chains[0]) continue;
    for (const e of entries) if (e.layers.at(-1) === chains[0]) add(e.id, container);
  }
  return out;
}

/** Chain ids containers use: their image's layers and what their overlay mounts. */
export function layersInUse(live: LiveContainers): Set<string> {
  const out = new Set<string>();
  for (const image of live.images.values()) for (const c of image.layers) out.add(c);
  for (const chains of live.running.values()) for (const c of chains) out.add(c);
  return out;
}
