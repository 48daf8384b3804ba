// A container's json-file log on disk (written by cpp/init/logs.cpp): which files it has, what a
// valid line is, and reading its lines in bounded memory — forward from an offset, or backward
// from a line end — through an open fd, a chunk at a time. lib/state/logs.ts builds `logs` on this.
//
//   <id>-json.log      the current file (the monitor appends to it)
//   <id>-json.log.1    the newest rotated one … <id>-json.log.N the oldest (max-file = N + 1)
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';

import { readAtAsync } from '../fsutil.js';

/** One json-file log entry. */
export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** The log files of a container, oldest first (rotated ones are <log>.N … <log>.1). */
export function logFiles(logPath: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${logPath}.${i}`); i++) rotated.unshift(`${logPath}.${i}`);
  return existsSync(logPath) ? [...rotated, logPath] : rotated;
}

/** An RFC 3339 time as the monitor (and Docker) writes it. */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;

/** `value` as a log entry when it is one (a string `log`, `stream` stdout/stderr, an RFC 3339 `time`), else null. */
export function toLogEntry(value: unknown): LogEntry | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { log, stream, time } = value as Record<string, unknown>;
  if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string' || !RFC3339.test(time)) return null;
  return { log, stream, time };
}

/** One json-file line as an entry, or null when it is not one (not JSON, or JSON of another shape). */
export function parseLogLine(line: string): LogEntry | null {
  try {
    return toLogEntry(JSON.parse(line));
  } catch {
    return null;
  }
}

/**
 * Parses json-file lines. A line that is not an entry (a torn write, `null`, `{}`, `{"log":5}`…)
 * is skipped, and passed to `onBad` when given; an empty line is ignored.
 */
export function parseLogLines(text: string, onBad?: (line: string) => void): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const e = parseLogLine(line);
    if (e) out.push(e);
    else onBad?.(line);
  }
  return out;
}

/** Bytes read at a time. */
export const LOG_CHUNK = 64 * 1024;
/**
 * The longest line kept: the monitor splits output at 16 KiB, which JSON escaping can make at most
 * ~100 KiB; anything longer is not an entry and is skipped (reported as `null`) without being held.
 */
export const MAX_LOG_LINE = 1024 * 1024;

/** A complete line read forward, and the offset just after its newline. `line` is null for an overlong line. */
export interface ForwardLine {
  line: Buffer | null;
  next: number;
}

/**
 * The complete lines of `fd` in [start, end), oldest first, without their newline; a last line
 * without its newline (being written, or torn) is not given. Memory: one chunk plus one line.
 */
export async function* linesForward(fd: number, start: number, end: number): AsyncGenerator<ForwardLine> {
  const buf = Buffer.allocUnsafe(LOG_CHUNK);
  let parts: Buffer[] = [];
  let held = 0;
  let overlong = false;
  let pos = start;
  while (pos < end) {
    const n = await readAtAsync(fd, buf, Math.min(LOG_CHUNK, end - pos), pos);
    if (n <= 0) break;
    let from = 0;
    for (let nl = buf.indexOf(0x0a, 0); nl !== -1 && nl < n; nl = buf.indexOf(0x0a, from)) {
      const piece = buf.subarray(from, nl);
      let line: Buffer | null = null;
      if (!overlong) line = held ? Buffer.concat([...parts, piece]) : Buffer.from(piece);
      parts = [];
      held = 0;
      overlong = false;
      from = nl + 1;
      yield { line, next: pos + from };
    }
    if (from < n && !overlong) {
      parts.push(Buffer.from(buf.subarray(from, n)));
      held += n - from;
      if (held > MAX_LOG_LINE) {
        overlong = true;
        parts = [];
        held = 0;
      }
    }
    pos += n;
  }
}

/**
 * The complete lines of `fd` before `end` (which must be 0 or just after a newline), newest
 * first, without their newline; null for an overlong line. Memory: one chunk plus one line.
 */
export async function* linesBackward(fd: number, end: number): AsyncGenerator<Buffer | null> {
  const buf = Buffer.allocUnsafe(LOG_CHUNK);
  // `carry`: the start of a line whose end was read already (bytes after the newest newline seen).
  let carry: Buffer = Buffer.alloc(0);
  let overlong = false;
  let pos = end;
  // The byte before `end` is the newline of the last line: drop it.
  let skipNewline = end > 0;
  while (pos > 0) {
    const size = Math.min(LOG_CHUNK, pos);
    pos -= size;
    const n = await readAtAsync(fd, buf, size, pos);
    if (n < size) return; // the file shrank under us
    let to = n;
    if (skipNewline) {
      to -= 1;
      skipNewline = false;
    }
    const prevNewline = () => (to > 0 ? buf.lastIndexOf(0x0a, to - 1) : -1);
    for (let nl = prevNewline(); nl !== -1; nl = prevNewline()) {
      const piece = buf.subarray(nl + 1, to);
      yield overlong ? null : carry.length ? Buffer.concat([piece, carry]) : Buffer.from(piece);
      carry = Buffer.alloc(0);
      overlong = false;
      to = nl;
    }
    if (!overlong && to > 0) {
      carry = carry.length ? Buffer.concat([buf.subarray(0, to), carry]) : Buffer.from(buf.subarray(0, to));
      if (carry.length > MAX_LOG_LINE) {
        overlong = true;
        carry = Buffer.alloc(0);
      }
    }
  }
  if (end > 0) yield overlong ? null : carry;
}

/** The offset just after the last newline of `fd` before `size` (0 when there is none). */
export async function lastLineEnd(fd: number, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(LOG_CHUNK);
  for (let pos = size; pos > 0; ) {
    const len = Math.min(LOG_CHUNK, pos);
    pos -= len;
    const n = await readAtAsync(fd, buf, len, pos);
    const nl = buf.subarray(0, n).lastIndexOf(0x0a);
    if (nl !== -1) return pos + nl + 1;
  }
  return 0;
}

/** An open log file. */
export interface OpenLogFile {
  path: string;
  fd: number;
  ino: number;
}

/** Opens `path` for reading; null when it does not exist. */
export function openLogFile(path: string): OpenLogFile | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    return { path, fd, ino: fstatSync(fd).ino };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Closes the files (errors ignored). */
export function closeLogFiles(files: Iterable<OpenLogFile>): void {
  for (const f of files) {
    try {
      closeSync(f.fd);
    } catch {
      /* closed */
    }
  }
}

/**
 * Opens every file of the log at once, oldest first (the current one last, when it exists): from
 * then on a rotation cannot take data away from the reader. The current file is opened first, then
 * <log>.1, <log>.2 …: a rotation in between shows as one inode at two places, and the whole set is
 * opened again.
 */
export function openLogSet(logPath: string): OpenLogFile[] {
  for (let attempt = 0; ; attempt++) {
    const files: OpenLogFile[] = [];
    const current = openLogFile(logPath);
    if (current) files.push(current);
    for (let i = 1; ; i++) {
      const f = openLogFile(`${logPath}.${i}`);
      if (!f) break;
      files.push(f);
    }
    const inodes = new Set(files.map((f) => f.ino));
    if (inodes.size === files.length || attempt >= 20) {
      // Duplicates after many attempts (a log rotating without pause): keep the first of each.
      const seen = new Set<number>();
      const unique = files.filter((f) => {
        if (seen.has(f.ino)) {
          closeLogFiles([f]);
          return false;
        }
        seen.add(f.ino);
        return true;
      });
      return unique.reverse();
    }
    closeLogFiles(files);
  }
}

/** The inode at `path`, or 0 when there is nothing there. */
export function inodeAt(path: string): number {
  const f = openLogFile(path);
  if (!f) return 0;
  closeLogFiles([f]);
  return f.ino;
}
