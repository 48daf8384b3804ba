// Signal names and numbers, once: what `kill -s`, `--stop-signal`/STOPSIGNAL and exit statuses
// (128+N, `signal: 'SIGKILL'`) need. Names are Linux's (os.constants.signals).
import { constants } from 'node:os';

import { PockerError } from './errors.js';

const byName = constants.signals as Readonly<Record<string, number>>;
const byNumber = new Map<number, NodeJS.Signals>(Object.entries(byName).map(([name, n]) => [n, name as NodeJS.Signals]));

/** `QUIT`, `quit` or `SIGQUIT` -> `SIGQUIT` (the spelling only; not checked). */
function withPrefix(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** The name of signal `n` (`9` -> `SIGKILL`), or null for 0 or an unnamed one (real-time signals). */
export function signalName(n: number): NodeJS.Signals | null {
  return byNumber.get(n) ?? null;
}

/**
 * A signal name (`SIGTERM`, `TERM`, `term`) or number (1..64) to its number; anything else is
 * ERR_POCKER_INVALID (step `kill`).
 */
export function signalNumber(signal: NodeJS.Signals | string | number): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) throw new PockerError(`invalid signal ${signal}`, { code: 'ERR_POCKER_INVALID', step: 'kill' });
    return signal;
  }
  const n = byName[withPrefix(signal)];
  if (n === undefined) throw new PockerError(`invalid signal ${signal}`, { code: 'ERR_POCKER_INVALID', step: 'kill' });
  return n;
}

/** `QUIT`, `SIGQUIT`, `3` -> `SIGQUIT`; undefined when it names no signal (or is empty). */
export function normalizeSignal(value: string | undefined): NodeJS.Signals | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return byNumber.get(Number(value));
  const name = withPrefix(value);
  return Object.hasOwn(byName, name) ? (name as NodeJS.Signals) : undefined;
}

/**
 * Whether Docker accepts `value` as a STOPSIGNAL: a number 1..64, a name this system knows, or a
 * real-time signal (`SIGRTMIN+3`, `RTMAX-1`).
 */
export function isSignalSpec(value: string): boolean {
  if (/^\d+$/.test(value)) return Number(value) > 0 && Number(value) <= 64;
  const name = withPrefix(value);
  return Object.hasOwn(byName, name) || /^SIGRT(MIN|MAX)([+-]\d+)?$/.test(name);
}
