// What a container's run flags need resolved right before each (re)start, outside the container's
// own options (issue 12, i12-flags): `--pid container:X` / `--ipc container:X` become the running
// container X's /proc/PID/ns/* (X must run detached; for --ipc, X must be `shareable` or use the
// host's, Docker's rule), and `--group-add NAME` becomes a gid read from the rootfs' /etc/group (Docker resolves
// names in the container). Throws ERR_POCKER_INVALID (step `validate`) before any kernel object.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { containerDir, describeContainer, findContainer, verifiedPid } from '../container/index.js';
import { invalid, PockerError } from '../errors.js';
import type { ResolvedRunConfig } from './options.js';

/** The running container a `container:REF` mode names, and its pid's namespace file. */
function joinTarget(cfg: ResolvedRunConfig, kind: 'pid' | 'ipc' | 'net', mode: string): string {
  const ref = mode.slice('container:'.length);
  const KIND = kind.toUpperCase();
  let c;
  try {
    c = describeContainer(findContainer(cfg.root, ref));
  } catch (err) {
    if (err instanceof PockerError && err.code === 'ERR_POCKER_NOT_FOUND') throw invalid(`No such container: ${ref} (--${kind === 'net' ? 'network' : kind} ${mode})`);
    throw err;
  }
  if (c.id === cfg.id) throw invalid(`cannot join own ${KIND} namespace (--${kind} ${mode})`);
  if (c.status !== 'running' || c.state?.restarting) throw invalid(`cannot join ${KIND} of a non running container: ${ref}`);
  if (!c.state || !c.state.pid) throw invalid(`cannot join ${KIND} of container ${ref}: it runs in the foreground of a pocker run (its process is not recorded); run it with -d`);
  if (kind === 'ipc') {
    const donor = c.config?.ipcMode ?? c.config?.run?.config.ipcMode;
    // Docker's rule: a donor that is `shareable` (or uses the host's, which is no secret to share).
    if (donor !== 'shareable' && donor !== 'host') throw invalid(`non-shareable IPC (hint: use --ipc shareable for the donor container ${ref})`);
  }
  if (!verifiedPid(c.state.pid, c.state.pidStart)) throw invalid(`cannot join ${KIND} of a non running container: ${ref}`);
  return `/proc/${c.state.pid}/ns/${kind}`;
}

/** gid of group `name` in the first /etc/group found among `lowers` (top-most first), or undefined. */
function groupGid(lowers: string[], name: string): number | undefined {
  for (const lower of lowers) {
    let text: string;
    try {
      text = readFileSync(join(lower, 'etc', 'group'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
    }
    return undefined;
  }
  return undefined;
}

/**
 * `cfg` with its joins and supplementary gids resolved for a start from these lower dirs (top-most
 * first). Unchanged when it has no `container:` mode and no --group-add.
 */
export function resolveForStart(cfg: ResolvedRunConfig, lowers: string[]): ResolvedRunConfig {
  const out: ResolvedRunConfig = { ...cfg };
  delete out.joins;
  delete out.groupAddGids;
  const joins: NonNullable<ResolvedRunConfig['joins']> = {};
  if (cfg.pidMode?.startsWith('container:')) joins.pid = joinTarget(cfg, 'pid', cfg.pidMode);
  if (cfg.ipcMode?.startsWith('container:')) joins.ipc = joinTarget(cfg, 'ipc', cfg.ipcMode);
  if (cfg.network.startsWith('container:')) {
    const path = joinTarget(cfg, 'net', cfg.network);
    joins.net = path;
    joins.netDir = containerDir(cfg.root, describeContainer(findContainer(cfg.root, cfg.network.slice('container:'.length))).id);
  }
  if (joins.pid || joins.ipc || joins.net) out.joins = joins;
  if (cfg.groupAdd?.length) {
    out.groupAddGids = cfg.groupAdd.map((g) => {
      if (/^\d+$/.test(g)) return Number(g);
      const gid = groupGid(lowers, g);
      if (gid === undefined) throw invalid(`Unable to find group ${g}: no matching entries in group file`);
      return gid;
    });
  }
  return out;
}
