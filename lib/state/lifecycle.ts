// Removal of containers that have ended: `rm` of a container whose monitor died, `container prune`.
import { existsSync, rmSync, statSync } from 'node:fs';

import { native } from '../native.js';
import { containerCgroupDirs, describeContainer, isPockerInit, listContainers, releaseStaleNames, withContainerLock, type ListedContainer } from './containers.js';
import { releaseName } from './names.js';
import { treeSize } from './stats.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kills what is left in the container's cgroups and removes them (config.json `cgroups`). Its
 * monitor does this when the container ends; this is for a monitor that died first.
 */
export function removeContainerCgroups(c: ListedContainer): void {
  const addon = native();
  for (const dir of c.config?.cgroups ?? []) addon.cgroupRemove(dir);
}

/** Waits (up to `ms`) for the container's monitor to end, so that it has cleaned up after itself. */
export async function waitMonitorGone(c: ListedContainer, ms = 5000): Promise<void> {
  const pid = c.state?.monitorPid ?? 0;
  const end = Date.now() + ms;
  while (isPockerInit(pid) && Date.now() < end) await sleep(50);
}

/**
 * Removes an exited detached container: its cgroups when its monitor died, its directory and its
 * name. Returns the bytes its directory held.
 */
export async function removeExited(root: string, c: ListedContainer): Promise<number> {
  await waitMonitorGone(c);
  const now = existsSync(c.dir) ? describeContainer(c) : c;
  // A created container's cgroups exist only if a start was killed before its monitor took over.
  if (now.deadMonitor || c.deadMonitor || now.status === 'created') removeContainerCgroups(now.config ? now : c);
  // Its creator died before a monitor took over (or before config.json was written).
  if (now.deadOwner || c.deadOwner) for (const dir of containerCgroupDirs(root, now.config ? now : c)) native().cgroupRemove(dir);
  const size = treeSize(c.dir);
  rmSync(c.dir, { recursive: true, force: true, maxRetries: 5 });
  releaseName(root, c.name, c.id);
  return size;
}

/** `container prune`: removes every exited detached container; returns their ids and the bytes reclaimed. */
export async function pruneContainers(root: string): Promise<{ deleted: string[]; reclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const c of listContainers(root)) {
    // Exited and created containers go (Docker's prune takes every container that is not running).
    if (c.status === 'running' || (!c.state && !c.deadOwner)) continue;
    // A directory without config.json may be one being created right now (under the names lock).
    if (!c.config && Date.now() - statMs(c.dir) < 10_000) continue;
    // Under the container's lock, checked again: a concurrent start may have just run it.
    const remove = async () => (describeContainer(c).status === 'running' ? -1 : removeExited(root, c));
    const size = c.config ? await withContainerLock(c.dir, remove).catch(() => -1) : await removeExited(root, c);
    if (size < 0) continue;
    reclaimed += size;
    deleted.push(c.id);
  }
  // Names claimed by a process killed before it made the container's directory.
  releaseStaleNames(root);
  return { deleted, reclaimed };
}

function statMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
