// containerChanges(): Docker's `diff` — what a container changed in its filesystem, read from its
// overlay's writable layer (upper dir) against its image's layers, with Docker's rules
// (moby pkg/archive changes for overlay): a whiteout (a 0:0 character device) or an opaque
// directory is a deletion; an entry the layers have is a modification (a directory whose mode and
// owner are unchanged only when something below it is listed); anything else is an addition. The mount points pocker-init creates for the container's own mounts (Docker's init
// layer holds them, so Docker never lists them) are left out.
import { closeSync, openSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { native } from '../native.js';
import { lookupContainer, readConfig, stateRoot } from '../container/index.js';
import type { StateOptions } from './api.js';

/** Docker's kinds: 0 modified, 1 added, 2 deleted. */
export type ChangeKind = 0 | 1 | 2;

/** One change (Docker's ContainerChangeResponseItem). */
export interface ContainerChange {
  Path: string;
  Kind: ChangeKind;
}

async function lstatOrNull(path: string): Promise<import('node:fs').Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

/** overlayfs's opaque mark on a directory of the upper dir (`rel` below the dir `upperFd` is). */
function isOpaque(upperFd: number, rel: string): boolean {
  try {
    return native().fsLgetxattr(upperFd, rel, 'trusted.overlay.opaque')?.toString() === 'y';
  } catch {
    return false;
  }
}

/**
 * The changes of a container's filesystem, sorted by path. Throws ERR_POCKER_UNSUPPORTED for a
 * container whose writable layer is not on disk (the `host` image's is a tmpfs private to the
 * container), ERR_POCKER_NOT_FOUND for an unknown container.
 */
export async function containerChanges(ref: string, options: StateOptions = {}): Promise<ContainerChange[]> {
  const root = stateRoot(options);
  const c = lookupContainer(root, ref);
  const record = readConfig(c.dir);
  const rootfs = record?.runtime.rootfs as { lowers?: string[]; upper?: string; scratchUpper?: boolean } | undefined;
  if (!rootfs?.upper || !rootfs.lowers) {
    throw new PockerError(`cannot diff container ${c.name}: its filesystem is a directory given with --rootfs, not layers`, { code: 'ERR_POCKER_UNSUPPORTED', step: 'lookup' });
  }
  if (rootfs.scratchUpper) {
    throw new PockerError(`cannot diff container ${c.name}: the host image's writable layer is a tmpfs private to the container`, { code: 'ERR_POCKER_UNSUPPORTED', step: 'lookup' });
  }
  const skip = new Set<string>((record?.spec.mounts ?? []).map((m) => m.destination.replace(/\/+$/, '')));
  const upper = rootfs.upper;
  const lowers = rootfs.lowers;
  const changes: ContainerChange[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(upper, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const path = `${rel}/${name}`;
      const abs = join(upper, path);
      const st = await lstat(abs);
      if (skip.has(path)) {
        if (st.isDirectory()) await walk(path);
        continue;
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        changes.push({ Path: path, Kind: 2 });
        continue;
      }
      let kind: ChangeKind = 1;
      // A directory the layers have with the same mode: a parent copied up for what changed
      // below it. Docker compares size and mtime too, and so lists a parent whose entries
      // changed; here it is listed when something below it is (not for pocker's own mount
      // points alone, which Docker's init layer hides).
      let parentOnly = false;
      if (st.isDirectory() && isOpaque(upperFd, path.slice(1))) {
        kind = 2;
      } else {
        for (const lower of lowers) {
          const below = await lstatOrNull(join(lower, path));
          if (!below) continue;
          kind = 0;
          parentOnly = st.isDirectory() && below.isDirectory() && st.mode === below.mode && st.uid === below.uid && st.gid === below.gid;
          break;
        }
      }
      const at = changes.length;
      changes.push({ Path: path, Kind: kind });
      if (st.isDirectory()) await walk(path);
      if (parentOnly && changes.length === at + 1) changes.pop();
    }
  };
  const upperFd = openSync(upper, 'r');
  try {
    await walk('');
  } finally {
    closeSync(upperFd);
  }
  return changes.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}
