// Signals: names and numbers, and how a signal reaches a detached container (through its monitor,
// or straight to its first process).
import { constants as osConstants } from 'node:os';

import { PockerError } from '../errors.js';
import type { ContainerState } from '../container/index.js';

/** Signal number -> name (SIGTERM …). */
export const signalNames: ReadonlyMap<number, NodeJS.Signals> = new Map(
  Object.entries(osConstants.signals).map(([name, n]) => [n as number, name as NodeJS.Signals]),
);

/** A signal name or number to its number; throws on an unknown one. */
export function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) throw new PockerError(`invalid signal ${signal}`, { code: 'ERR_POCKER_INVALID', step: 'kill' });
    return signal;
  }
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new PockerError(`invalid signal ${signal}`, { code: 'ERR_POCKER_INVALID', step: 'kill' });
  return n;
}

/** `QUIT`, `SIGQUIT`, `3` -> `SIGQUIT` (undefined when it names no signal). */
export function normalizeSignal(value: string | undefined): NodeJS.Signals | undefined {
  if (!value) return undefined;
  const signals = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) return Object.keys(signals).find((k) => signals[k] === Number(value)) as NodeJS.Signals | undefined;
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  return name in signals ? (name as NodeJS.Signals) : undefined;
}

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
