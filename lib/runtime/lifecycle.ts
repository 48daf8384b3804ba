// The container lifecycle beside run/start: stop, restart, kill, wait, remove, rename, prune.
// Everything about a container's directory goes through the store (lib/container); queries
// (list, inspect, logs, stats, top) are in lib/state/api.ts.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';

import {
  childrenOf,
  containerCgroupDirs,
  describeContainer,
  describeContainerAsync,
  findContainerAsync,
  findMonitors,
  findOrphans,
  isMonitorOf,
  isPockerInit,
  listContainerRecordsAsync,
  lookupContainerAsync,
  markStopRequested,
  namesOf,
  readMeta,
  releaseName,
  releaseStaleNames,
  removeContainerDir,
  renameContainer as renameClaim,
  stateRoot,
  withContainerLock,
  type ContainerEntry,
  type ListedContainer,
  type RootOptions,
} from '../container/index.js';

import { PockerError, foregroundError, invalid, notRunningError } from '../errors.js';
import { cgroupParentsOfProcess, cgroupProcs } from '../cgroup/index.js';
import { native } from '../native.js';
import { setFrozen } from '../cgroup/freezer.js';
import { containerEventAttributes, recordEvent } from '../state/events.js';
import { treeSize } from '../state/stats.js';
import type { ExitStatus } from '../types.js';
import { exitFromMonitor, faultPoint, start } from './run.js';
import { normalizeSignal, processEnd, signalDetached, signalMonitor, signalName, signalNumber, signalTo, signalWorkload } from './signals.js';
import { removeAnonymousVolumes } from '../volume/index.js';

type StateOptions = RootOptions;


// In ../errors.ts, so that lib/state/api.ts (ps, inspect, logs) need not load this module and the
// runtime behind it (issue 12: the CLI's start-up).
export { foregroundError, notRunningError } from '../errors.js';

/** Polls until the container has exited or `ms` passed (`Infinity` waits forever); null when its directory went away. */
async function waitExited(c: ContainerEntry, ms: number): Promise<ListedContainer | null> {
  const end = Date.now() + ms;
  // The container's monitor records how it ended and then exits: its exit ends each wait below at
  // once (a pidfd). The wait is also bounded, short at first, then longer (a container whose
  // monitor stays, restarting it, or one with no monitor of ours to watch), so that a long `wait`
  // costs next to nothing.
  let delay = 10;
  for (;;) {
    if (!existsSync(c.dir)) return null;
    const now = describeContainer(c);
    if (now.status === 'exited') return now;
    if (Date.now() >= end) return now;
    await processEnd(now.state?.monitorPid ?? 0, now.state?.monitorStart, Math.min(delay, end - Date.now()));
    delay = Math.min(delay * 1.5, 200);
  }
}

/** Options of stopContainer(). */
export interface StopOptions extends StateOptions {
  /** Seconds to wait after the stop signal before SIGKILL (default: the container's stopTimeout, else 10; negative: wait forever). */
  timeout?: number;
}

/** How long past a stop's timeout the CLI waits for the monitor's own SIGKILL before sending one. */
const MONITOR_SLACK_MS = 5000;

/**
 * Stops a running detached container: its image's StopSignal (else SIGTERM), then SIGKILL after
 * `timeout` seconds; resolves once it has exited. A container that is not running is left alone.
 * The container's monitor carries the stop out (markStopRequested with the request: it signals,
 * waits, SIGKILLs, and does not restart the container), so a stop whose caller dies midway still
 * completes; this only waits, and SIGKILLs itself should the monitor not have ended it by then.
 * (A monitor of an older pocker, without `monitorStart` in state.json, is marked and signalled as
 * before.) Throws `ERR_POCKER_FOREGROUND` for a container a foreground `pocker run` owns.
 */
export async function stopContainer(ref: string, options: StopOptions = {}): Promise<void> {
  if (options.timeout !== undefined && !Number.isInteger(options.timeout)) throw invalid(`invalid timeout ${options.timeout}: a whole number of seconds`);
  const c = await lookupContainerAsync(stateRoot(options), ref);
  // The caller's timeout, else the container's --stop-timeout, else Docker's 10 s.
  const grace = options.timeout ?? c.config?.stopTimeout ?? 10;
  if (c.status !== 'running') return;
  if (!c.state) throw foregroundError(`cannot stop container ${ref}: it runs in the foreground of a pocker run`);
  const stopSignal = (osConstants.signals as Record<string, number>)[normalizeSignal(c.config?.stopSignal) ?? 'SIGTERM']!;
  let waitMs = grace < 0 ? Infinity : grace * 1000;
  // Recorded before the signal is asked for: the monitor records `die` as soon as the workload ends,
  // and Docker's order is kill, die, stop.
  recordEvent(stateRoot(options), 'container', 'kill', c.id, { ...containerEventAttributes(c), signal: String(stopSignal) });
  if (c.state.monitorStart) {
    markStopRequested(c.dir, { signal: stopSignal, timeout: grace });
    faultPoint('after-stop-mark');
    waitMs += MONITOR_SLACK_MS;
  } else {
    markStopRequested(c.dir);
    // The monitor forwards the usual signals; any other (SIGKILL, real-time ones) goes to the
    // container's process itself.
    signalDetached(c.state, stopSignal);
  }
  await thawPaused(c);
  const now = await waitExited(c, waitMs);
  if (now && now.status === 'running') {
    if (now.state) signalWorkload(now.state, 'SIGKILL');
    await waitExited(c, 30_000);
  }
  recordEvent(stateRoot(options), 'container', 'stop', c.id, containerEventAttributes(c));
}

/**
 * A paused container gets its signal once thawed (Docker's kill and stop of a paused container:
 * signal, then resume). Frozen tasks keep a signal pending, SIGKILL on cgroup v1 too.
 */
async function thawPaused(c: ListedContainer): Promise<void> {
  if (c.paused) await setFrozen(c.config?.cgroups ?? [], false, `container ${c.name}`);
}

/**
 * Restarts a container (`pocker restart`): stops it as stopContainer() does (when it runs), then
 * starts it again with its monitor. Resolves once it runs.
 */
export async function restartContainer(ref: string, options: StopOptions = {}): Promise<void> {
  await stopContainer(ref, options);
  const started = await start(ref, { root: stateRoot(options) });
  recordEvent(stateRoot(options), 'container', 'restart', started.id, { name: started.name });
}

/** Options of killContainer(). */
export interface KillOptions extends StateOptions {
  /** The signal (name or number; default SIGKILL). */
  signal?: NodeJS.Signals | number;
}

/**
 * Sends a signal to a running detached container (through its monitor, which forwards it; SIGKILL
 * goes to the container's first process directly). Throws `ERR_POCKER_NOT_RUNNING` when it is not
 * running, `ERR_POCKER_FOREGROUND` for a foreground one, `ERR_POCKER_INVALID` for a bad signal.
 */
export async function killContainer(ref: string, options: KillOptions = {}): Promise<void> {
  const sig = signalNumber(options.signal ?? 'SIGKILL');
  const c = await lookupContainerAsync(stateRoot(options), ref);
  if (c.status !== 'running') throw notRunningError(`cannot kill container: ${c.id}: container ${c.id} is not running`, 'kill');
  if (!c.state) throw foregroundError(`cannot kill container ${ref}: it runs in the foreground of a pocker run`);
  // Before the signal (the monitor's `die` may follow at once): Docker's kill, die.
  recordEvent(stateRoot(options), 'container', 'kill', c.id, { ...containerEventAttributes(c), signal: String(sig) });
  signalDetached(c.state, sig);
  await thawPaused(c);
}

/**
 * Resolves when the container has exited, with how it ended. Throws `ERR_POCKER_NOT_FOUND` when
 * it does not exist, or when it was removed (--rm) before its status could be read.
 */
export async function waitContainer(ref: string, options: StateOptions = {}): Promise<ExitStatus> {
  const c = await lookupContainerAsync(stateRoot(options), ref);
  // --rm: the directory goes with the container. The monitor tells its attach clients how the
  // container ended before it removes anything (and records it before it stops taking clients),
  // so a wait begun before the removal learns the exit code (as Docker's does).
  if (c.status === 'running' && c.state && c.config?.run?.config.rm) {
    const told = await exitFromMonitor(c.dir, !!c.config.run.config.tty);
    if (told) return told;
  }
  const end = await waitExited(c, Infinity);
  if (!end) throw new PockerError(`No such container: ${c.id}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'wait' });
  const s = end.state;
  if (!s) return { exitCode: 0, signal: null, oomKilled: false };
  return { exitCode: s.exitCode, signal: s.signal ? (signalName(s.signal)) : null, oomKilled: s.oomKilled };
}

/** Options of removeContainer(). */
export interface RemoveOptions extends StateOptions {
  /**
   * Kill a running container (SIGKILL) first; also releases a name left by a creator killed early,
   * and removes a container whose records a newer pocker wrote (its cgroups, directory and names).
   */
  force?: boolean;
  /** Also remove its anonymous volumes that no other container uses (`rm -v`); named volumes stay. */
  volumes?: boolean;
}

/**
 * Removes a container: its directory, its name and (when its monitor or creator died) its cgroups.
 * A running container needs `force` (else `ERR_POCKER_RUNNING`); a foreground one is refused
 * (`ERR_POCKER_FOREGROUND`). A container written by a newer pocker is refused
 * (`ERR_POCKER_UNSUPPORTED`) unless `force`.
 */
export async function removeContainer(ref: string, options: RemoveOptions = {}): Promise<void> {
  const root = stateRoot(options);
  try {
    const found = await findContainerAsync(root, ref);
    let c: ListedContainer;
    try {
      c = await describeContainerAsync(found);
    } catch (err) {
      if (!options.force || !(err instanceof PockerError) || err.code !== 'ERR_POCKER_UNSUPPORTED') throw err;
      return await removeUnreadable(root, found, true);
    }
    if (c.damaged) return await removeUnreadable(root, found, !!options.force);
    // Under the container's lock: a start in progress finishes first (and is then seen running).
    // A directory without config.json (its creator died making it, or an rm -f was killed
    // removing it) has nothing to start.
    if (!c.config) await removeLocked(root, c, !!options.force);
    else await withContainerLock(found.dir, () => removeLocked(root, describeContainer(found), !!options.force));
    if (options.volumes && c.config?.volumes?.length) await removeAnonymousVolumes(root, c.config.volumes);
  } finally {
    // A name claimed by a process killed before it made the container's directory: release it.
    if (options.force) await releaseStaleNames(root, [ref]);
  }
}

/**
 * Removes a container that is not running: its cgroups (whatever its record says: a start killed
 * after making them leaves them behind under any state), its directory, then every name claim
 * naming it (last: a killed removal is finished by `rm -f NAME`).
 */
function removeStopped(root: string, c: Pick<ListedContainer, 'id' | 'dir' | 'config'>): void {
  for (const dir of containerCgroupDirs(root, c)) native().cgroupRemove(dir);
  removeContainerDir(c.dir);
  for (const name of namesOf(root, c.id)) releaseName(root, name, c.id);
}

/**
 * What a container's networks still hold (its monitor, or the run that started it, was killed
 * before giving them back): ports, leases, veth host ends, hosts entries. Nothing to do (and no
 * cost) for a root that never had a network.
 */
async function releaseNetworkOf(root: string, id: string): Promise<void> {
  if (!existsSync(join(root, 'networks'))) return;
  const { releaseContainerNetwork } = await import('../network/attach.js');
  await releaseContainerNetwork(root, id, { deleteHostEnds: true }).catch(() => undefined);
}

async function removeLocked(root: string, c: ListedContainer, force: boolean): Promise<void> {
  if (c.status === 'running') {
    if (!force || !c.state) {
      throw c.state
        ? new PockerError(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`, { code: 'ERR_POCKER_RUNNING', step: 'remove' })
        : foregroundError(`cannot remove container "/${c.name}": it runs in the foreground of a pocker run`);
    }
    // The monitor kills it itself (even if this process dies now), and does not restart it.
    markStopRequested(c.dir, c.state.monitorStart ? { signal: 9, timeout: 0 } : undefined);
    faultPoint('after-stop-mark');
    signalWorkload(c.state, 'SIGKILL');
    await thawPaused(c);
    if (c.state.restarting && !c.state.monitorStart) signalMonitor(c.state, 'SIGTERM');
    await waitExited(c, 30_000);
  }
  // Waits (briefly) for the monitor to end, so that it has removed the cgroups.
  const monitorPid = c.state?.monitorPid ?? 0;
  if (isPockerInit(monitorPid)) await processEnd(monitorPid, c.state?.monitorStart, 5000);
  // A monitor (or, before it took over, the creating process, or a start) that died could not
  // clean up: kill what is left in the container's cgroups and remove them.
  await releaseNetworkOf(root, c.id);
  removeStopped(root, c);
  recordEvent(root, 'container', 'destroy', c.id, containerEventAttributes(c));
}

/**
 * What still lives of a container whose records cannot be read: its verified monitors, its cgroup
 * dirs (those lib/cgroup plans for its id, and those its monitors' children are in: the record
 * that named its cgroup parent may be what is damaged), and how many processes they hold.
 */
function liveProcessesOf(root: string, c: Pick<ListedContainer, 'id' | 'config'>): { monitors: number[]; cgroups: string[]; cgroupProcs: number } {
  const monitors = findMonitors(root).get(c.id) ?? [];
  const parents = monitors.flatMap((m) => childrenOf(m).flatMap((child) => cgroupParentsOfProcess(child, c.id)));
  const cgroups = containerCgroupDirs(root, c, parents);
  let procs = 0;
  for (const dir of cgroups) procs += cgroupProcs([dir]).length;
  return { monitors, cgroups, cgroupProcs: procs };
}

/** SIGKILLs the monitors of container `id` (each checked again to be one, right before). */
function killMonitors(root: string, id: string, pids: number[]): void {
  for (const pid of pids) if (isMonitorOf(root, id, pid)) signalTo(pid, 'SIGKILL');
}

/**
 * `rm` of a container whose records this pocker cannot read: damaged ones (empty, truncated,
 * garbled, `null`), and with `force` a newer pocker's. What still runs for it (a monitor found by
 * the files it holds open, the processes of the cgroups lib/cgroup plans for its id) is killed
 * with `force`, refused without; then its cgroups, directory and every name it holds are removed.
 * Under its lock, so a start (by a newer pocker, which takes the same lock file) is not cut in half.
 */
async function removeUnreadable(root: string, entry: ContainerEntry, force: boolean): Promise<void> {
  const remove = async () => {
    let config: ListedContainer['config'] = null;
    try {
      config = readMeta(entry.dir);
    } catch {
      /* damaged, or a newer pocker's */
    }
    const c = { id: entry.id, dir: entry.dir, config };
    const live = liveProcessesOf(root, c);
    if (live.monitors.length || live.cgroupProcs) {
      if (!force) {
        throw new PockerError(`cannot remove container "/${entry.name}": its record is damaged and it still has processes: force remove it (rm -f)`, { code: 'ERR_POCKER_RUNNING', step: 'remove' });
      }
      // The monitor first: it would restart the container, or write into the directory.
      killMonitors(root, entry.id, live.monitors);
    }
    for (const dir of live.cgroups) native().cgroupRemove(dir);
    await releaseNetworkOf(root, entry.id);
    removeStopped(root, c);
  };
  await withContainerLock(entry.dir, remove).catch(async (err: unknown) => {
    // No config.json, or the container went away meanwhile: nothing to wait for.
    if ((err as { code?: string }).code === 'ERR_POCKER_NOT_FOUND') return remove();
    throw err;
  });
}

/**
 * Renames a container (a leading `/` is dropped). Throws `ERR_POCKER_CONFLICT` when another
 * container has the name, `ERR_POCKER_INVALID` for an invalid or unchanged name.
 */
export async function renameContainer(ref: string, name: string, options: StateOptions = {}): Promise<void> {
  const root = stateRoot(options);
  const c = await lookupContainerAsync(root, ref);
  const newName = name.replace(/^\//, '');
  renameClaim(root, c.id, c.name, newName);
  recordEvent(root, 'container', 'rename', c.id, { ...containerEventAttributes({ ...c, name: newName }), oldName: `/${c.name}` });
}

// ---------------------------------------------------------------------------------------------
// removal of containers that have ended: `rm` of a container whose monitor died, `container prune`

/** Waits (up to `ms`) for the container's monitor to end, so that it has cleaned up after itself. */
async function waitMonitorGone(c: ListedContainer, ms = 5000): Promise<void> {
  const pid = c.state?.monitorPid ?? 0;
  if (isPockerInit(pid)) await processEnd(pid, c.state?.monitorStart, ms);
}

/**
 * Removes an exited detached container: its cgroups when its monitor died, its directory and its
 * name. Returns the bytes its directory held.
 */
async function removeExited(root: string, c: ListedContainer): Promise<number> {
  await waitMonitorGone(c);
  const now = existsSync(c.dir) ? describeContainer(c) : c;
  const size = await treeSize(c.dir);
  // Its cgroups whatever its record says: its monitor, or its creator, or a start, may have died
  // before removing them.
  await releaseNetworkOf(root, c.id);
  removeStopped(root, now.config ? now : c);
  return size;
}

function statMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** What pruneContainers() removed. */
export interface PruneResult {
  /** The ids of the removed containers. */
  deleted: string[];
  /** The bytes their directories held. */
  reclaimedBytes: number;
}

/**
 * Removes every exited detached container (and those whose creator died), with their cgroups
 * whatever their records say; the damaged ones (dead) nothing of which still runs; what no record
 * explains (findOrphans: monitors whose container's directory is gone, with their containers, and
 * the cgroups of ids only a name claim still gives); and the names left by creators killed before
 * they made a container's directory. Containers whose records a newer pocker wrote are left alone
 * (`rm -f` removes them). `deleted` lists orphans' ids too.
 */
export async function pruneContainers(options: StateOptions = {}): Promise<PruneResult> {
  const root = stateRoot(options);
  const deleted: string[] = [];
  let reclaimed = 0;
  // What no record explains, first (the records about to go may name the cgroup parent it is
  // under): monitors (and their containers, cgroups) whose directory is gone, the cgroups and names
  // of ids that have no directory.
  for (const o of findOrphans(root)) {
    killMonitors(root, o.id, o.monitors);
    for (const dir of o.cgroups) native().cgroupRemove(dir);
    if (o.monitors.length || o.cgroups.length) deleted.push(o.id);
  }
  for (const c of await listContainerRecordsAsync(root)) {
    if (c.damaged) {
      // A damaged record: gone unless something of it still runs (rm -f removes that).
      const size = await treeSize(c.dir);
      const ok = await removeUnreadable(root, c, false).then(
        () => true,
        () => false,
      );
      if (ok) {
        reclaimed += size;
        deleted.push(c.id);
      }
      continue;
    }
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
  await releaseStaleNames(root);
  return { deleted, reclaimedBytes: reclaimed };
}

