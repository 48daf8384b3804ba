// The id maps of a rootless container, as Podman makes them: container root is the caller, and
// container ids 1… are the caller's subordinate ranges from /etc/subuid and /etc/subgid (looked up
// by user name and by uid), written by the setuid newuidmap/newgidmap (Debian's `uidmap`). Without
// a range (or without those helpers) only the caller's own uid/gid is mapped, and what that cannot
// do is said once (`note`).
import { accessSync, constants } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

import type { IdMapping } from '../image/extract.js';
import { SUBGID_FILE, SUBUID_FILE, rangesOf, readSubidFile, type SubidRange } from '../userns/subid.js';

export interface RootlessIdMaps {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** Set when only the caller's own ids are mapped: what then cannot work, and how to fix it. */
  note?: string;
  /** newuidmap/newgidmap's paths when the maps need them (more than the caller's own id). */
  helpers?: { newuidmap: string; newgidmap: string };
}

export interface RootlessIdOptions {
  uid?: number;
  gid?: number;
  user?: string;
  subuidFile?: string;
  subgidFile?: string;
  /** Where to look for newuidmap/newgidmap (default $PATH plus /usr/bin, /usr/sbin, /bin). */
  path?: string;
}

/** The system's directories, searched after $PATH for the setuid id mappers (a cron or `env -i` PATH may lack sbin). */
const SYSTEM_DIRS = ['/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin', '/sbin'];

/** An executable named `name` on `path` (then in `extraDirs`), or undefined; relative entries are skipped. */
export function findExecutable(name: string, path = process.env.PATH ?? '', extraDirs: readonly string[] = SYSTEM_DIRS): string | undefined {
  const dirs = [...path.split(delimiter), ...extraDirs].filter((d) => d.startsWith('/'));
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** 0 → `own`, then each range from container id 1 on, in file order. */
function mapsOf(own: number, ranges: readonly SubidRange[]): IdMapping[] {
  const out: IdMapping[] = [{ containerID: 0, hostID: own, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    // A range that holds the caller's own id would map it twice: the kernel refuses that.
    if (own >= r.start && own < r.start + r.count) continue;
    out.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

/** The caller's rootless id maps. */
export function rootlessIdMaps(opts: RootlessIdOptions = {}): RootlessIdMaps {
  const uid = opts.uid ?? process.geteuid?.() ?? 0;
  const gid = opts.gid ?? process.getegid?.() ?? 0;
  let name = opts.user;
  if (name === undefined) {
    try {
      name = userInfo().username;
    } catch {
      name = undefined; // no passwd entry: ranges by uid only
    }
  }
  const who = { name, uid };
  const subuids = rangesOf(readSubidFile(opts.subuidFile ?? SUBUID_FILE), who);
  const subgids = rangesOf(readSubidFile(opts.subgidFile ?? SUBGID_FILE), who);
  const own = (note: string): RootlessIdMaps => ({
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    note,
  });
  const user = name ?? `uid ${uid}`;
  if (subuids.length === 0 || subgids.length === 0) {
    const missing = [subuids.length === 0 ? opts.subuidFile ?? SUBUID_FILE : '', subgids.length === 0 ? opts.subgidFile ?? SUBGID_FILE : ''].filter(Boolean).join(' and ');
    return own(
      `${user} has no range in ${missing}: only uid ${uid} and gid ${gid} are mapped (to 0 in the container), so files of an image owned by other users all show as root, and chown or setuid to another user fails (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name ?? uid})`,
    );
  }
  const newuidmap = findExecutable('newuidmap', opts.path);
  const newgidmap = findExecutable('newgidmap', opts.path);
  if (!newuidmap || !newgidmap) {
    return own(
      `newuidmap/newgidmap are not installed (Debian: apt-get install uidmap): only uid ${uid} and gid ${gid} are mapped, so files of an image owned by other users all show as root, and chown to another user fails`,
    );
  }
  return { uidMappings: mapsOf(uid, subuids), gidMappings: mapsOf(gid, subgids), helpers: { newuidmap, newgidmap } };
}
