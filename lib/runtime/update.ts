// updateContainer(): Docker's `update` — new resource limits for a container, written into a
// running container's cgroups at once (the addon's cgroupApply in update mode: the same
// translation as at start) and recorded so that its next start has them too; a new restart
// policy for a container that is not running.
import { PockerError, invalid } from '../errors.js';
import { detectCgroups, updateCgroups } from '../cgroup/index.js';
import type { Resources } from '../cgroup/resources.js';
import { lookupContainer, readConfig, stateRoot, withContainerLock, writeConfig } from '../container/index.js';
import { native } from '../native.js';
import { delegatedOfParent, isRootless } from '../rootless/index.js';
import type { StateOptions } from '../state/api.js';
import { recordEvent, containerEventAttributes } from '../state/events.js';
import type { RunOptions } from '../types.js';
import { resolveResources, resolveRestart } from './options.js';

/** What updateContainer() may change (the same names and forms as run()'s options). */
export interface UpdateOptions extends StateOptions {
  memory?: RunOptions['memory'];
  memorySwap?: RunOptions['memorySwap'];
  cpus?: RunOptions['cpus'];
  cpuShares?: RunOptions['cpuShares'];
  cpusetCpus?: RunOptions['cpusetCpus'];
  pidsLimit?: RunOptions['pidsLimit'];
  /** A new restart policy (a container that is not running: its monitor holds the running one's). */
  restart?: RunOptions['restart'];
}

const RESOURCE_KEYS = ['memory', 'memorySwap', 'cpus', 'cpuShares', 'cpusetCpus', 'pidsLimit'] as const;

/** run()'s options that give `r` back through resolveResources (bytes and quotas as numbers). */
function asOptions(r: Resources): Partial<RunOptions> {
  return {
    ...(r.memory !== undefined ? { memory: r.memory } : {}),
    ...(r.memorySwap !== undefined ? { memorySwap: r.memorySwap } : {}),
    ...(r.cpuQuota && r.cpuQuota.quota > 0 ? { cpus: r.cpuQuota.quota / r.cpuQuota.period } : {}),
    ...(r.cpuShares !== undefined ? { cpuShares: r.cpuShares } : {}),
    ...(r.cpusetCpus !== undefined ? { cpusetCpus: r.cpusetCpus } : {}),
    ...(r.pidsLimit !== undefined ? { pidsLimit: r.pidsLimit } : {}),
  };
}

/**
 * Changes a container's limits (`pocker update`): validated as run() validates them, merged over
 * what it has (a new --memory keeps an explicit --memory-swap, which must stay at least as big, as
 * Docker says), written to its cgroups when it runs, and recorded for its next start. Throws
 * ERR_POCKER_INVALID for bad values or nothing to update, ERR_POCKER_RUNNING for a restart policy
 * of a running container, ERR_POCKER_NOT_FOUND for an unknown one.
 */
export async function updateContainer(ref: string, options: UpdateOptions): Promise<void> {
  const given = RESOURCE_KEYS.filter((k) => options[k] !== undefined);
  if (given.length === 0 && options.restart === undefined) {
    throw invalid('you must provide one or more flags when using this command');
  }
  const root = stateRoot(options);
  const found = lookupContainer(root, ref);
  await withContainerLock(found.dir, async () => {
    const c = lookupContainer(root, found.id);
    const record = readConfig(c.dir);
    const run = record?.meta.run;
    const stored: Resources = run?.config.resources ?? {};
    // The new values over the recorded ones (an explicit swap is kept only when memory is not given
    // either, or is given with it).
    const merged: Partial<RunOptions> = { ...asOptions(stored) };
    if (options.memory !== undefined && options.memorySwap === undefined && stored.memorySwap === undefined) delete merged.memorySwap;
    for (const k of given) (merged as Record<string, unknown>)[k] = options[k];
    const resources = resolveResources(merged as RunOptions);
    let restart = run?.config.restart;
    if (options.restart !== undefined) {
      if (c.status === 'running') {
        throw new PockerError(`cannot update the restart policy of running container ${c.name}: its monitor holds it; stop the container first`, {
          code: 'ERR_POCKER_RUNNING',
          step: 'validate',
        });
      }
      if (!run) throw invalid(`cannot update the restart policy of container ${c.name}: it runs in the foreground of a pocker run`);
      restart = resolveRestart({ ...options, detach: true, rm: run.config.rm } as RunOptions);
    }
    if (given.length && c.status === 'running') {
      const parent = record?.meta.cgroupParent ?? run?.config.cgroupParent;
      if (parent === undefined) throw invalid(`cannot update container ${c.name}: its record does not name its cgroup parent`);
      // Rootless: only a container started with limits has a cgroup (under the user's delegated
      // subtree); one started without them runs in the caller's own cgroup, which is not its to limit.
      const delegated = isRootless() ? delegatedOfParent(parent) : undefined;
      if (isRootless() && delegated === undefined) {
        throw new PockerError(`cannot update the limits of running container ${c.name}: it was started without limit flags, so as a rootless container it has no cgroup of its own; stop it, update, and start it again (this needs a delegated cgroup)`, {
          code: 'ERR_POCKER_UNSUPPORTED',
          step: 'cgroup',
        });
      }
      updateCgroups(detectCgroups(), parent, c.id, resources, native(), delegated);
    }
    if (record && run) {
      const meta = { ...record.meta, run: { ...run, config: { ...run.config, resources, ...(restart ? { restart } : {}) } } };
      writeConfig(c.dir, record.spec, meta, record.runtime);
    }
    recordEvent(root, 'container', 'update', c.id, containerEventAttributes(c));
  });
}
