// `logs`: the entries of a detached container's json-file log (lib/container/logs.ts reads its
// files), in bounded memory whatever the log's size:
//   - the whole log streams out a chunk at a time, oldest file first;
//   - `tail` reads backward from the end of the newest file, then older rotated files as needed,
//     and holds only the N entries it returns;
//   - following keeps the file it reads open: on rotation it reads that file to its end, then goes
//     on with the file that came after it (as Docker's follower does); it also opens every newer
//     file as soon as it sees one, so no line is lost even when the follower falls more than
//     max-file files behind, as long as it looks at least once per max-file - 1 rotations;
//   - a line that is not an entry (torn by a full disk, `null`, `{}`, `{"log":5}`…) is skipped and
//     reported (`onBadLine`), never the end of reading.
import { fstatSync, watch, type FSWatcher } from 'node:fs';

import {
  closeLogFiles,
  findContainer,
  findContainerAsync,
  inodeAt,
  lastLineEnd,
  linesBackward,
  linesForward,
  openLogSet,
  parseLogLine,
  readState,
  stateRoot,
  type ContainerEntry,
  type LogEntry,
  type OpenLogFile,
  type RootOptions,
} from '../container/index.js';
import { invalid } from '../errors.js';
import { logTimeNanos, timeValueNanos, type TimeValue } from './timestamps.js';

export type { LogEntry } from '../container/index.js';

/** Options of containerLogs(), streamLogs() and followLogs(). */
export interface LogsOptions extends RootOptions {
  /** Only the last N entries (default: all); of those `since` and `until` leave. */
  tail?: number;
  /** Prefix each entry's `log` with its time and a space (as `logs -t` prints it). */
  timestamps?: boolean;
  /**
   * Docker's `logs --details`: each entry's `log` starts with its extra attributes (`k=v,k2=v2`)
   * and a space. pocker's json-file log records no attributes (there are no `--log-opt labels=`
   * / `env=`), so this is the space alone, where Docker prints it (after the time with `timestamps`).
   */
  details?: boolean;
  /**
   * Only entries logged at or after this time (an entry's json-file `time`): a Date, Unix seconds
   * (fractions allowed), or a string as `logs --since` takes it: an RFC 3339 time
   * (`2024-01-02T15:04:05.123Z`, `2024-01-02T15:04`, `2024-01-02`; local without a zone), a Unix
   * timestamp (`1700000000.123456789`), or a Go duration before now (`10m`, `1h30m`, `42s`).
   * ERR_POCKER_INVALID when it is none of these.
   */
  since?: TimeValue;
  /** Only entries logged at or before this time (as `since`). followLogs() stops following then. */
  until?: TimeValue;
  /**
   * Called for each line of the log that is not a json-file entry (a record torn by a full disk,
   * `null`, `{}`, `{"log":5}`, an overlong line), with the file it is in. Such lines are skipped.
   */
  onBadLine?: (file: string) => void;
}

/** The [since, until] window of `options` in nanoseconds (undefined: unbounded). */
interface TimeWindow {
  since: bigint | undefined;
  until: bigint | undefined;
}

/** What to read: checked options and the container. */
interface Plan {
  c: ContainerEntry;
  tail: number;
  window: TimeWindow;
  timestamps: boolean;
  details: boolean;
  onBadLine: ((file: string) => void) | undefined;
}

/** Entries are handed out in batches of at most this many (the CLI writes a batch at once). */
const BATCH = 1024;

/** The checked options (before the container is looked up: a bad option is reported first). */
function checked(options: LogsOptions): Omit<Plan, 'c'> {
  const tail = options.tail ?? Infinity;
  if (!(tail >= 0)) throw invalid(`invalid tail ${String(options.tail)}: a number or Infinity`);
  const now = Date.now();
  const window = {
    since: options.since === undefined ? undefined : timeValueNanos(options.since, 'since', now),
    until: options.until === undefined ? undefined : timeValueNanos(options.until, 'until', now),
  };
  return { tail: Math.floor(tail), window, timestamps: !!options.timestamps, details: !!options.details, onBadLine: options.onBadLine };
}

/** The checked options and the container (looked up at once: streamLogs() throws when it is not found). */
function plan(ref: string, options: LogsOptions): Plan {
  const p = checked(options);
  return { ...p, c: findContainer(stateRoot(options), ref) };
}

function inWindow(e: LogEntry, w: TimeWindow): boolean {
  if (w.since === undefined && w.until === undefined) return true;
  const t = logTimeNanos(e.time);
  return (w.since === undefined || t >= w.since) && (w.until === undefined || t <= w.until);
}

function stamp(e: LogEntry, p: Plan): LogEntry {
  const log = p.details ? ` ${e.log}` : e.log;
  return p.timestamps ? { ...e, log: `${e.time} ${log}` } : p.details ? { ...e, log } : e;
}

/** A line as an entry; null (and reported) when it is not one; null for an empty line. */
function entryOf(line: Buffer | null, file: OpenLogFile, p: Plan): LogEntry | null {
  if (line !== null && line.length === 0) return null;
  const e = line === null ? null : parseLogLine(line.toString('utf8'));
  if (!e) p.onBadLine?.(file.path);
  return e;
}

/** Where a follower is: the file it holds open and the byte after the last complete line it read. */
interface Cursor {
  file: OpenLogFile | null;
  offset: number;
}

/**
 * The entries of `files` (oldest first, all open) inside the window, or the last `tail` of them,
 * in batches. Sets `cursor` to the newest file and the end of its last complete line.
 */
async function* history(files: OpenLogFile[], p: Plan, cursor: Cursor): AsyncGenerator<LogEntry[]> {
  const ends = await Promise.all(files.map((f) => lastLineEnd(f.fd, fstatSync(f.fd).size)));
  cursor.file = files.at(-1) ?? null;
  cursor.offset = ends.at(-1) ?? 0;
  if (p.tail === Infinity) {
    for (const [i, f] of files.entries()) {
      let batch: LogEntry[] = [];
      for await (const { line } of linesForward(f.fd, 0, ends[i]!)) {
        const e = entryOf(line, f, p);
        if (!e || !inWindow(e, p.window)) continue;
        batch.push(stamp(e, p));
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    }
    return;
  }
  if (p.tail === 0) return;
  // Backward from the end: newest file first, each from its end; only the N entries kept.
  const last: LogEntry[] = [];
  for (let i = files.length - 1; i >= 0 && last.length < p.tail; i--) {
    for await (const line of linesBackward(files[i]!.fd, ends[i]!)) {
      const e = entryOf(line, files[i]!, p);
      if (!e || !inWindow(e, p.window)) continue;
      last.push(e);
      if (last.length >= p.tail) break;
    }
  }
  last.reverse();
  for (let i = 0; i < last.length; i += BATCH) yield last.slice(i, i + BATCH).map((e) => stamp(e, p));
}

/** The set of open files of one reading; each closed once. */
class OpenFiles {
  private readonly open = new Set<OpenLogFile>();
  add(f: OpenLogFile): OpenLogFile {
    this.open.add(f);
    return f;
  }
  close(f: OpenLogFile): void {
    if (this.open.delete(f)) closeLogFiles([f]);
  }
  closeAllBut(keep: OpenLogFile | null): void {
    for (const f of [...this.open]) if (f !== keep) this.close(f);
  }
}

/**
 * At most this many files a follower holds open ahead of the one it reads. Each is a rotated file
 * the follower has not read yet: the monitor may have dropped it (its space is freed when the
 * follower closes it), so a follower that falls far behind holds that much disk; past this many,
 * the oldest is given up (its lines are lost, as when a follower falls behind Docker's).
 */
const MAX_AHEAD = 64;

/**
 * Follows the log from `cursor` until the container is no longer running (then reads what it
 * wrote until then) or an entry past `until` appears (or `until` passes).
 *
 * Every file the follower sees is opened at once and kept open until it has been read: a rotation
 * that drops it (max-file) cannot take its lines away. The held file is read to its end after a
 * newer one was seen (the monitor wrote its last byte before that rename), then the next one.
 */
async function* follow(p: Plan, cursor: Cursor, files: OpenFiles): AsyncGenerator<LogEntry[]> {
  const logPath = p.c.logPath;
  const until = p.window.until;
  const running = () => {
    try {
      return readState(p.c.dir)?.status === 'running';
    } catch {
      return false;
    }
  };
  const pastUntil = () => until !== undefined && BigInt(Date.now()) * 1_000_000n > until;
  /** Files newer than the held one, oldest first, open. */
  const ahead: OpenLogFile[] = [];
  /** Opens the files newer than the newest one known (none when the current file is that one). */
  const discover = () => {
    const known = ahead.at(-1) ?? cursor.file;
    if (known && inodeAt(logPath) === known.ino) return;
    const set = openLogSet(logPath);
    // Files are dropped oldest first: when the newest known one is gone, every file there is newer.
    const at = known ? set.findIndex((f) => f.ino === known.ino) : -1;
    for (const [i, f] of set.entries()) {
      if (i > at) ahead.push(files.add(f));
      else closeLogFiles([f]);
    }
    while (ahead.length > MAX_AHEAD) files.close(ahead.shift()!);
  };
  for (let idle = 0; ; ) {
    // Read once more after the container ended, or `until` passed: what it wrote until then.
    const over = !running() || pastUntil();
    let progressed = false;
    for (;;) {
      discover();
      if (!cursor.file) {
        if (!ahead.length) break;
        cursor.file = ahead.shift()!;
        cursor.offset = 0;
      }
      const held = cursor.file;
      // A newer file seen before this fstat: the held one is complete up to `size`.
      const final = ahead.length > 0;
      const size = fstatSync(held.fd).size;
      if (!final && size < cursor.offset) cursor.offset = 0; // truncated in place (max-file 1)
      let batch: LogEntry[] = [];
      let lines = 0;
      for await (const { line, next } of linesForward(held.fd, cursor.offset, size)) {
        cursor.offset = next;
        progressed = true;
        // Now and then, open the files rotated meanwhile, before a rotation drops them.
        if (++lines % 256 === 0) discover();
        const e = entryOf(line, held, p);
        if (!e) continue;
        if (until !== undefined && logTimeNanos(e.time) > until) {
          if (batch.length) yield batch;
          return;
        }
        if (!inWindow(e, p.window)) continue;
        batch.push(stamp(e, p));
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
      // Still the current file, or read up to a size taken before a newer file was seen: again.
      if (!final) {
        if (!ahead.length) break;
        continue;
      }
      files.close(held);
      cursor.file = ahead.shift()!;
      cursor.offset = 0;
      progressed = true;
    }
    if (over) return;
    // Poll: at once while there is output; while there is none, until the container's directory
    // changes (inotify), or after a while (backing off to 200 ms): a writer that rotates faster
    // than that is seen at once.
    idle = progressed ? 0 : idle + 1;
    await (progressed ? new Promise((r) => setImmediate(r)) : changeIn(p.c.dir, Math.min(200, 5 << Math.min(idle, 6))));
  }
}

/** Resolves when something in `dir` changes, or after `ms`. */
function changeIn(dir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = () => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      watcher = watch(dir, { persistent: false }, done);
      watcher.on('error', done);
    } catch {
      /* no inotify (or the directory is gone): the timer */
    }
  });
}

/** The log in batches of entries: the history, then (with `follow`) what is written until the container ends. */
async function* batches(p: Plan, withFollow: boolean): AsyncGenerator<LogEntry[]> {
  const files = new OpenFiles();
  const set = openLogSet(p.c.logPath).map((f) => files.add(f));
  const cursor: Cursor = { file: null, offset: 0 };
  try {
    yield* history(set, p, cursor);
    if (!withFollow) return;
    files.closeAllBut(cursor.file);
    yield* follow(p, cursor, files);
  } finally {
    files.closeAllBut(null);
  }
}

async function* flatten(source: AsyncIterable<LogEntry[]>): AsyncGenerator<LogEntry> {
  for await (const batch of source) yield* batch;
}

/**
 * The entries of a detached container's json-file log, oldest first (rotated files included),
 * stdout and stderr apart (`stream`), between `since` and `until` when given, collected in an
 * array. For a log of any size, streamLogs() gives the same entries in bounded memory.
 */
export async function containerLogs(ref: string, options: LogsOptions = {}): Promise<LogEntry[]> {
  const p: Plan = { ...checked(options), c: await findContainerAsync(stateRoot(options), ref) };
  const files = new OpenFiles();
  const set = openLogSet(p.c.logPath).map((f) => files.add(f));
  const out: LogEntry[] = [];
  try {
    for await (const batch of history(set, p, { file: null, offset: 0 })) for (const e of batch) out.push(e);
  } finally {
    files.closeAllBut(null);
  }
  return out;
}

/**
 * The entries containerLogs() returns, as an async iterable read a chunk at a time (bounded memory
 * whatever the log's size; `tail` reads from the end). The options are checked and the container
 * looked up at once (throwing when invalid or not found); the files are opened on the first read
 * and closed at the end (or when the loop is left).
 */
export function streamLogs(ref: string, options: LogsOptions = {}): AsyncIterable<LogEntry> {
  return flatten(batches(plan(ref, options), false));
}

/**
 * The log entries (as containerLogs() returns them), then those the container writes until it
 * ends, or until `until` (Docker's `logs -f --until`); follows across rotations without losing a
 * line while it keeps within max-file files. The options are checked and the container looked up
 * at once (throwing when invalid or not found).
 */
export function followLogs(ref: string, options: LogsOptions = {}): AsyncIterable<LogEntry> {
  return flatten(batches(plan(ref, options), true));
}

/** streamLogs() / followLogs() (`follow`) in batches of entries: what the CLI writes at once. */
export function logBatches(ref: string, options: LogsOptions & { follow?: boolean } = {}): AsyncIterable<LogEntry[]> {
  return batches(plan(ref, options), !!options.follow);
}
