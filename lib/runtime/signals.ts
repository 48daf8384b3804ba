// How a signal reaches a detached container (through its monitor, or straight to its first
// process). Names and numbers are lib/signals.ts's.
import { constants as osConstants } from 'node:os';

import { isPockerInit, type ContainerState } from '../container/index.js';
import { native } from '../native.js';

/** The signals a container's monitor passes on to it (cpp/init/monitor.cpp kForwarded). */
const FORWARDED_SIGNALS: ReadonlySet<number> = new Set(
  ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'].map(
    (name) => (osConstants.signals as Record<string, number>)[name]!,
  ),
);

/** The processes of a detached container as state.json names them (with their start times). */
export type ContainerProcesses = Pick<ContainerState, 'pid' | 'monitorPid'> & Partial<Pick<ContainerState, 'pidStart' | 'monitorStart'>>;

/**
 * Sends `signal` to a detached container: through its monitor when the monitor forwards it,
 * otherwise (SIGKILL, SIGSTOP, real-time signals…) straight to the container's first process, so
 * the monitor itself is never killed by a signal it does not handle. Only to a process verified
 * to be the one state.json names (pid and start time): a pid of 0 (between two runs of a
 * restarting container) or a stale pid (reused by another process) is never signalled.
 */
export function signalDetached(state: ContainerProcesses, signal: number): void {
  if (FORWARDED_SIGNALS.has(signal)) signalMonitor(state, signal);
  else signalWorkload(state, signal);
}

/** Sends `sig` to the container's first process, if it is still the one state.json recorded. */
export function signalWorkload(state: ContainerProcesses, sig: NodeJS.Signals | number): boolean {
  return signalVerified(state.pid, state.pidStart ?? 0, state.monitorPid, sig);
}

/** Sends `sig` to the container's monitor, if it is still the one state.json recorded. */
export function signalMonitor(state: ContainerProcesses, sig: NodeJS.Signals | number): boolean {
  return isPockerInit(state.monitorPid) && signalVerified(state.monitorPid, state.monitorStart ?? 0, 0, sig);
}

/** The addon's pidfd-checked kill (start time, or parent for a record without one). */
function signalVerified(pid: number, start: number, parent: number, sig: NodeJS.Signals | number): boolean {
  if (!(pid > 0)) return false;
  const n = typeof sig === 'number' ? sig : (osConstants.signals as Record<string, number>)[sig]!;
  try {
    return native().signalVerified(pid, start, parent, n);
  } catch {
    return false; // EPERM and the like: not ours to signal
  }
}

/** Sends `sig` to `pid` (nothing for pid 0 or less: that would signal our own process group). */
export function signalTo(pid: number, sig: NodeJS.Signals | number): void {
  if (!(pid > 0)) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* it has just ended */
  }
}

export { normalizeSignal, signalName, signalNumber } from '../signals.js';

/**
 * Resolves when the process `pid` (with start time `start`, when known) has ended, or after `ms`,
 * whichever is first: the addon watches its pidfd, so an exit is seen at once, not at the next
 * poll (`stop`, `rm -f`, `wait` and a detached handle's wait() waited up to 10-200 ms past it).
 * True when the process has ended (or no such process lives), false when the time ran out (and
 * always without a pid: the timer alone).
 */
export function processEnd(pid: number, start: number | undefined, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let watch = 0;
    const done = (ended: boolean): void => {
      clearTimeout(timer);
      if (watch) native().unwatchExit(watch);
      watch = 0;
      resolve(ended);
    };
    const timer = setTimeout(() => done(false), Math.max(0, ms));
    if (pid > 0 && (watch = native().watchExit(pid, start ?? 0, () => done(true))) === 0) done(true);
  });
}
