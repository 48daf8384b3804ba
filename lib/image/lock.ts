// File locks for the image store: flock(2) through the native addon, polled without ever blocking
// the event loop, with a timeout. flock locks belong to an open file description, so the kernel
// drops them when the holder dies (SIGKILL included): a lock file never needs cleaning up.
//
// Two holders in one process (two promises) also exclude each other, because each acquisition
// opens the file anew; an in-process queue keeps them from polling against each other, and a nested
// withFileLock() of the same file inside fn (same async context) does not deadlock: it runs fn
// directly.
import { AsyncLocalStorage } from 'node:async_hooks';
import { close as closeCb, constants, open as openCb } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PockerError, fromSystemError } from '../errors.js';
import { native } from '../native.js';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);

/** The addon's flock: true when taken, false when `wait` is false and someone else holds it. */
export type FlockFn = (fd: number, exclusive: boolean, wait: boolean) => boolean;

export interface LockOptions {
  /** Give up after this long (default 30 s): ERR_POCKER_LOCK_TIMEOUT. */
  timeoutMs?: number;
  /** The flock implementation (default: the native addon's). */
  flock?: FlockFn;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** Longest pause between two attempts. */
const MAX_BACKOFF_MS = 25;

/** Does the loaded native addon provide flock()? (False when the addon cannot be loaded at all.) */
export function flockAvailable(): boolean {
  try {
    return typeof (native() as { flock?: unknown }).flock === 'function';
  } catch {
    return false;
  }
}

/** The native addon's flock, or a clear error when this build of the addon lacks it. */
export function nativeFlock(): FlockFn {
  const addon = native() as { flock?: FlockFn };
  if (typeof addon.flock !== 'function') {
    throw new PockerError('the native addon has no flock(): rebuild it (npm run build:native)', {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'store',
    });
  }
  return addon.flock.bind(addon);
}

/** One non-blocking attempt; EWOULDBLOCK/EAGAIN thrown by the addon count as "held elsewhere". */
export function tryFlock(flock: FlockFn, fd: number, exclusive: boolean, path: string): boolean {
  try {
    return flock(fd, exclusive, false);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') return false;
    throw fromSystemError(err, 'store', `flock ${path}`);
  }
}

/** A lock on a file this process just created (O_EXCL) is held by someone else: EAGAIN, as flock says. */
export function lockedBySomeoneElse(path: string): PockerError {
  return new PockerError(`${path} is locked by someone else`, { code: 'EAGAIN', syscall: 'flock', step: 'store', path });
}

/** Files whose lock the current async context holds (for re-entrancy). */
const held = new AsyncLocalStorage<ReadonlySet<string>>();
/** In-process queue per lock file: the tail every new acquirer waits for. */
const queues = new Map<string, Promise<void>>();

function lockTimeout(path: string, timeoutMs: number): PockerError {
  return new PockerError(`timed out after ${timeoutMs} ms waiting for the lock on ${path} (another pocker process holds it)`, {
    code: 'ERR_POCKER_LOCK_TIMEOUT',
    step: 'store',
    path,
  });
}

/**
 * Runs fn while holding an exclusive flock on `path` (created 0600 when missing), and releases it
 * afterwards whatever happens.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  if (held.getStore()?.has(path)) return await fn();
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const flock = options.flock ?? nativeFlock();

  const previous = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  let fd: number | undefined;
  try {
    // Our turn in this process first (bounded by the same deadline) ...
    const ac = new AbortController();
    const timedOut = await Promise.race([
      previous.then(() => false),
      sleep(timeoutMs, true, { signal: ac.signal }).catch(() => false),
    ]);
    ac.abort();
    if (timedOut) throw lockTimeout(path, timeoutMs);

    // ... then the kernel lock, polled with a growing pause.
    try {
      fd = await openFd(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (err) {
      throw fromSystemError(err, 'store', `cannot open the lock file ${path}`);
    }
    for (let attempt = 0; !tryFlock(flock, fd, true, path); attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw lockTimeout(path, timeoutMs);
      const pause = Math.min(MAX_BACKOFF_MS, 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
      await sleep(Math.max(1, Math.min(pause, left)));
    }

    const mineHeld = new Set(held.getStore() ?? []);
    mineHeld.add(path);
    return await held.run(mineHeld, fn);
  } finally {
    // Closing the only descriptor (libuv opens every file O_CLOEXEC, so no child inherits it) of this open file description releases the flock.
    if (fd !== undefined) await closeFd(fd).catch(() => {});
    release();
    if (queues.get(path) === tail) queues.delete(path);
  }
}
