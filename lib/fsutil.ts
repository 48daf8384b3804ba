// Atomic writes and file locks, implemented once for the whole library (the container store, the
// image store, the name claims).
//
// Atomic write: the data goes to a temp file beside the target (same directory, so the same
// filesystem), is fsync'd, and is renamed over the target; with `fsyncDir` the directory is fsync'd
// too, so the rename itself survives a crash. A reader sees the old file or the new one, never half.
//
// Locks: flock(2) through the native addon, always tried without blocking (LOCK_NB) and polled with
// a growing pause, with a timeout (ERR_POCKER_LOCK_TIMEOUT). flock locks belong to an open file
// description, so the kernel drops them when the holder dies (SIGKILL included): a lock file never
// needs cleaning up. withFileLock() never blocks the event loop; withFileLockSync() is for the few
// synchronous APIs whose critical section is a handful of syscalls (it sleeps between attempts).
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  closeSync, constants, fsyncSync, lstat, lstatSync, mkdir, mkdirSync, openSync, read, readFile, readFileSync, readSync, readdir, readdirSync,
  renameSync, rmSync, stat, statSync, writeFileSync, type MakeDirectoryOptions, type Stats,
} from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PockerError, fromSystemError } from './errors.js';
import { loadedNative, native } from './native.js';
import { randomHex } from './random.js';
import type { SetupStep } from './types.js';


/**
 * Removes `path` and everything in it, never following a symlink, as fs.rmSync({ recursive, force })
 * does. When this process has loaded the addon (a run, a start), with its fd-relative removal
 * (cpp/addon/extract.cpp removeAt): Node 20's rmSync is JavaScript that V8 compiles afresh in every
 * process (~1.5-2 ms of CPU of a short `pocker run` here, against ~0.2 ms). Otherwise (a listing
 * need not load the addon), or when that fails (an entry appearing meanwhile, a directory this user
 * cannot read), fs.rmSync, with `maxRetries`, which also reports the error.
 */
export function removeTreeSync(path: string, maxRetries = 0): void {
  const addon = loadedNative();
  if (addon) {
    let fd: number | undefined;
    try {
      fd = addon.fsOpenRoot(dirname(path));
      addon.fsRemove(fd, basename(path));
      return;
    } catch {
      // fs.rmSync below
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  rmSync(path, { recursive: true, force: true, maxRetries });
}

// ---------------------------------------------------------------------------------------------
// atomic writes

let blockingReads = false;

/**
 * Makes the store readers below read synchronously in this process: the CLI runs one command per
 * process and nothing else waits on its event loop, while the first asynchronous read starts
 * libuv's thread pool (1-3 ms of CPU of a short `pocker ps` here). A library user never calls it.
 */
export function useBlockingReads(): void {
  blockingReads = true;
}

/** `read()`, settled as a promise (a synchronous read's result or error). */
function settle<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * fs's callback call `start(cb)` as a promise. Not util.promisify: seven wrappers made when the
 * module loads cost every CLI start, which reads synchronously (useBlockingReads) and never calls them.
 */
function viaCallback<T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * The store readers' async file calls: off the event loop (libuv's thread pool) unless
 * useBlockingReads() was called. From fs's callback API rather than fs/promises: a short CLI
 * command would otherwise load fs/promises (~2 ms here) for these alone.
 */
export function readFileAsync(path: string, encoding: 'utf8'): Promise<string>;
export function readFileAsync(path: string): Promise<Buffer>;
export function readFileAsync(path: string, encoding?: 'utf8'): Promise<string | Buffer> {
  if (encoding) return blockingReads ? settle(() => readFileSync(path, encoding)) : viaCallback<string>((cb) => readFile(path, encoding, cb));
  return blockingReads ? settle(() => readFileSync(path)) : viaCallback<Buffer>((cb) => readFile(path, cb));
}

/** stat(), as readFileAsync(). */
export function statAsync(path: string): Promise<Stats> {
  return blockingReads ? settle(() => statSync(path)) : viaCallback<Stats>((cb) => stat(path, cb));
}

/** lstat(), as readFileAsync(). */
export function lstatAsync(path: string): Promise<Stats> {
  return blockingReads ? settle(() => lstatSync(path)) : viaCallback<Stats>((cb) => lstat(path, cb));
}

/** mkdir(), as readFileAsync() (a store's directories are made on first use, by readers too). */
export function mkdirAsync(path: string, options: MakeDirectoryOptions): Promise<string | undefined> {
  return blockingReads ? settle(() => mkdirSync(path, options)) : viaCallback<string | undefined>((cb) => mkdir(path, options, cb));
}

/** readdir(), as readFileAsync(). */
export function readdirAsync(path: string): Promise<string[]> {
  return blockingReads ? settle(() => readdirSync(path)) : viaCallback<string[]>((cb) => readdir(path, cb));
}

/** A positional read of `length` bytes of `fd` into `buf` (from 0), as readFileAsync(); resolves with the bytes read. */
export async function readAtAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  if (blockingReads) return readSync(fd, buf, 0, length, position);
  return viaCallback<number>((cb) => read(fd, buf, 0, length, position, cb));
}

/**
 * `fn` of every item, at most `limit` at a time, in the items' order: reads of many small files
 * (a record per container) without opening thousands of descriptors at once (EMFILE).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Options of writeFileAtomic() / writeFileAtomicSync(). */
export interface AtomicWriteOptions {
  /** Mode of a new file (default 0600). */
  mode?: number;
  /** Also fsync the directory after the rename (the rename survives a power loss). Default true. */
  fsyncDir?: boolean;
  /** fsync the data at all (default true). False for records that only live as long as this process (still atomic). */
  durable?: boolean;
  /** Where the temp file goes (default: a unique name beside the target). Must be on the same filesystem. */
  tmpPath?: string;
}

/** A temp file name beside `path` that no other writer (another process, or the monitor's `<file>.tmp`) uses. */
function tmpBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(4)}.tmp`);
}

/** fsyncs a file or directory by path. */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs a file or directory by path (without blocking the event loop). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically and durably (temp file + fsync + rename [+ fsync of the directory]). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const tmp = options.tmpPath ?? tmpBeside(path);
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, options.mode ?? 0o600);
    try {
      writeFileSync(fd, data);
      if (options.durable ?? true) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if ((options.durable ?? true) && (options.fsyncDir ?? true)) fsyncPathSync(dirname(path));
}

/** writeFileAtomicSync() without blocking the event loop. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = options.tmpPath ?? tmpBeside(path);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, options.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (options.fsyncDir ?? true) await fsyncPath(dirname(path));
}

// ---------------------------------------------------------------------------------------------
// locks

/** The addon's flock: true when taken, false when `wait` is false and someone else holds it. */
export type FlockFn = (fd: number, exclusive: boolean, wait: boolean) => boolean;

export interface LockOptions {
  /** Give up after this long (default 30 s): ERR_POCKER_LOCK_TIMEOUT. */
  timeoutMs?: number;
  /** The flock implementation (default: the native addon's). */
  flock?: FlockFn;
  /** The step named by errors (default `store`). */
  step?: SetupStep;
  /** What is locked, for the timeout message (default: the lock file's path). */
  what?: string;
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
export function tryFlock(flock: FlockFn, fd: number, exclusive: boolean, path: string, step: SetupStep = 'store'): boolean {
  try {
    return flock(fd, exclusive, false);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') return false;
    throw fromSystemError(err, step, `flock ${path}`);
  }
}

/** The error of a lock not obtained within `timeoutMs`. */
export function lockTimeout(path: string, timeoutMs: number, step: SetupStep = 'store', what = `the lock on ${path}`): PockerError {
  return new PockerError(`timed out after ${timeoutMs} ms waiting for ${what} (another pocker process holds it)`, {
    code: 'ERR_POCKER_LOCK_TIMEOUT',
    step,
    path,
  });
}

/** The pause before attempt `attempt + 1` (exponential up to MAX_BACKOFF_MS, jittered). */
function backoff(attempt: number, left: number): number {
  const pause = Math.min(MAX_BACKOFF_MS, 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
  return Math.max(1, Math.min(pause, left));
}

/** Files whose lock the current async context holds (for re-entrancy). */
const held = new AsyncLocalStorage<ReadonlySet<string>>();
/**
 * Files whose lock is held while a synchronous critical section runs (withFileLockThenSync): no
 * other JavaScript runs until it returns, so a plain set says exactly who is nested in it.
 */
const heldNow = new Set<string>();
/** In-process queue per lock file: the tail every new acquirer waits for. */
const queues = new Map<string, Promise<void>>();

/** Whether the caller runs inside a critical section of `path` (a nested call). */
function heldHere(path: string): boolean {
  return heldNow.has(path) || held.getStore()?.has(path) === true;
}

/**
 * Takes the exclusive flock on `path` (created 0600 when missing), after the in-process queue: its
 * release() closes the descriptor and lets the next acquirer in. Throws, holding nothing, on a
 * timeout or an error.
 */
async function acquireFileLock(path: string, options: LockOptions & { openFlags?: number }): Promise<() => void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const step = options.step ?? 'store';
  const deadline = Date.now() + timeoutMs;
  const flock = options.flock ?? nativeFlock();

  const previous = queues.get(path);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = (previous ?? Promise.resolve()).then(() => mine);
  queues.set(path, tail);
  let fd: number | undefined;
  const release = (): void => {
    // Closing the only descriptor (libuv opens every file O_CLOEXEC, so no child inherits it) of
    // this open file description releases the flock.
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
      fd = undefined;
    }
    done();
    if (queues.get(path) === tail) queues.delete(path);
  };
  try {
    // Our turn in this process first (bounded by the same deadline) ...
    if (previous) {
      const ac = new AbortController();
      const timedOut = await Promise.race([previous.then(() => false), sleep(timeoutMs, true, { signal: ac.signal }).catch(() => false)]);
      ac.abort();
      if (timedOut) throw lockTimeout(path, timeoutMs, step, options.what);
    }

    // ... then the kernel lock, polled with a growing pause. The lock file is opened (and closed)
    // synchronously: a local open costs microseconds, a round trip through libuv's thread pool
    // most of a millisecond on every run() (measured: prepare 0.7 -> 2.9 ms with async open/close).
    try {
      fd = openSync(path, options.openFlags ?? constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (err) {
      if (options.openFlags !== undefined) throw err;
      throw fromSystemError(err, step, `cannot open the lock file ${path}`);
    }
    for (let attempt = 0; !tryFlock(flock, fd, true, path, step); attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw lockTimeout(path, timeoutMs, step, options.what);
      await sleep(backoff(attempt, left));
    }
    return release;
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Runs fn while holding an exclusive flock on `path` (created 0600 when missing), and releases it
 * afterwards whatever happens. Two holders in one process (two promises) also exclude each other,
 * because each acquisition opens the file anew; an in-process queue keeps them from polling against
 * each other, and a nested withFileLock() of the same file inside fn (same async context) does not
 * deadlock: it runs fn directly. `openFlags` (default O_RDWR|O_CREAT) lets a caller refuse to create
 * the lock file (its error is then thrown as is, for the caller to map).
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions & { openFlags?: number } = {}): Promise<T> {
  if (heldHere(path)) return await fn();
  const release = await acquireFileLock(path, options);
  try {
    const mineHeld = new Set(held.getStore() ?? []);
    mineHeld.add(path);
    return await held.run(mineHeld, fn);
  } finally {
    release();
  }
}

/**
 * withFileLock() for a critical section that is synchronous (`fn` returns no promise): the lock is
 * waited for without blocking the event loop, as there, and fn runs at once when it is held. No
 * other JavaScript runs until fn returns, so a nested call (withFileLock or this) is known by a
 * plain set, without withFileLock's AsyncLocalStorage: entering one enables Node's promise hooks
 * for the rest of the process, which cost a `pocker run` ~1 ms of CPU (its name claim is this).
 */
export async function withFileLockThenSync<T>(path: string, fn: () => T extends PromiseLike<unknown> ? never : T, options: LockOptions = {}): Promise<T> {
  if (heldHere(path)) return fn();
  const release = await acquireFileLock(path, options);
  heldNow.add(path);
  try {
    return fn();
  } finally {
    heldNow.delete(path);
    release();
  }
}

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4));

/**
 * withFileLock() for synchronous APIs whose critical section is a few syscalls (`renameContainer`):
 * the same non-blocking attempts and timeout, with the pauses slept on this thread.
 */
export function withFileLockSync<T>(path: string, fn: () => T, options: LockOptions = {}): T {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const step = options.step ?? 'store';
  const deadline = Date.now() + timeoutMs;
  // Nested in a critical section of the same file (this thread holds it): a second descriptor's
  // flock would wait for the first until the timeout.
  if (heldHere(path)) return fn();
  const flock = options.flock ?? nativeFlock();
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    throw fromSystemError(err, step, `cannot open the lock file ${path}`);
  }
  try {
    for (let attempt = 0; !tryFlock(flock, fd, true, path, step); attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw lockTimeout(path, timeoutMs, step, options.what);
      Atomics.wait(sleepBuffer, 0, 0, backoff(attempt, left));
    }
    return fn();
  } finally {
    closeSync(fd);
  }
}
