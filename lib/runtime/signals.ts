// How a signal reaches a detached container (through its monitor, or straight to its first
// process). Names and numbers are lib/signals.ts's.
import { constants as osConstants } from 'node:os';

import type { ContainerState } from '../container/index.js';

/** The signals a container's monitor passes on to it (cpp/init/monitor.cpp kForwarded). */
const FORWARDED_SIGNALS: ReadonlySet<number> = new Set(
  ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'].map(
    (name) => (osConstants.signals as Record<string, number>)[name]!,
  ),
);

/**
 * Sends `signal` to a detached container: through its monitor when the monitor forwards it,
 * otherwise (SIGKILL, SIGSTOP, real-time signals…) straight to the container's first process, so
 * the monitor itself is never killed by a signal it does not handle. A pid of 0 (between two runs
 * of a restarting container) is never signalled: it would mean our own process group.
 */
export function signalDetached(state: Pick<ContainerState, 'pid' | 'monitorPid'>, signal: number): void {
  const target = FORWARDED_SIGNALS.has(signal) ? state.monitorPid : state.pid;
  if (!(target > 0)) return;
  try {
    process.kill(target, signal);
  } catch {
    /* it has just ended */
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
