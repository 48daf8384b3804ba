// Times as `logs --since/--until` take them, parsed the way Docker's CLI parses them
// (api/types/time GetTimestamp), to nanoseconds since the Unix epoch (a bigint: json-file log
// entries carry nanoseconds). Pure: the unit tests drive it with a fixed "now".
import { invalid, type PockerError } from '../errors.js';

/** Nanoseconds in units of Go's time.ParseDuration. */
const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's time.ParseDuration: a signed sequence of decimal numbers with units (`300ms`, `1.5h`,
 * `2h45m`, `-10s`; units ns, us/µs, ms, s, m, h), or `0`. Returns nanoseconds, or null when
 * `value` is not a duration.
 */
export function parseGoDuration(value: string): number | null {
  const m = /^([+-]?)(.*)$/s.exec(value)!;
  const sign = m[1] === '-' ? -1 : 1;
  let rest = m[2]!;
  if (rest === '0') return 0;
  if (rest === '') return null;
  let total = 0;
  while (rest !== '') {
    // \u escapes (µ U+00B5, μ U+03BC): esbuild keeps a regex literal's characters as they are, and the
    // CLI bundle is ASCII-only (scripts/bundle-cli.mjs).
    const part = /^(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/u.exec(rest);
    if (!part || (part[1] === '' && (part[2] ?? '') === '')) return null;
    total += Number(`${part[1] || '0'}.${part[2] || '0'}`) * DURATION_UNITS[part[3]!]!;
    rest = rest.slice(part[0].length);
  }
  return sign * total;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An RFC 3339-like time as Docker accepts it: `2006-01-02`, `2006-01-02T15`, `2006-01-02T15:04`,
 * `2006-01-02T15:04:05`, with optional fractional seconds (up to 9 digits) after the seconds,
 * and an optional zone (`Z` or `±07:00`); a time without a zone is local. Null when `value` does
 * not have that shape; throws when it has the shape but is not a valid time (`2024-02-30`).
 */
export function parseRfc3339Nanos(value: string): bigint | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?([Zz]|[+-]\d{2}:\d{2})?$/.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysIn = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
  // Go's time.Parse wording.
  const range = (what: string) => invalid(`parsing time ${JSON.stringify(value)}: ${what} out of range`);
  if (month < 1 || month > 12 || daysIn === undefined) throw range('month');
  if (day < 1 || day > daysIn) throw range('day');
  if (hour > 23) throw range('hour');
  if (minute > 59) throw range('minute');
  if (second > 59) throw range('second');
  const zone = m[8];
  // set*FullYear: years 0..99 stay themselves (the Date constructor maps them to 1900..1999).
  const d = new Date(0);
  let ms: number;
  if (zone === undefined) {
    d.setFullYear(year, month - 1, day);
    d.setHours(hour, minute, second, 0);
    ms = d.getTime();
  } else {
    d.setUTCFullYear(year, month - 1, day);
    d.setUTCHours(hour, minute, second, 0);
    const offsetMinutes = zone.toUpperCase() === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    ms = d.getTime() - offsetMinutes * 60_000;
  }
  const fraction = (m[7] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(fraction);
}

/**
 * `date.toISOString()` (UTC, milliseconds: `2024-05-06T07:08:09.123Z`) from the UTC fields. V8's
 * toISOString looks up the machine's time zone first (ICU reads /etc/localtime and loads its zone
 * data: 0.7-1.2 ms of the first call in a process), which an ISO time in UTC does not need. Every
 * `created` the store writes (containers on each `run` and `create`, images, layers, networks,
 * volumes) comes from here (issue 12). Years 0-9999 only, as the store's own times are.
 */
export function isoTime(date: Date = new Date()): string {
  const p = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${p(date.getUTCFullYear(), 4)}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}T${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}.${p(date.getUTCMilliseconds(), 3)}Z`;
}

/** A Unix timestamp (`1700000000`, `1700000000.123456789`) in nanoseconds, or null. */
function parseUnixNanos(value: string): bigint | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) return null;
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').slice(0, 9).padEnd(9, '0'));
}

/**
 * Parses a `--since` / `--until` value: a Go duration before `now` (`10m`, `1h30m`, `42s`), an
 * RFC 3339 time (parseRfc3339Nanos), or a Unix timestamp with optional fractional seconds.
 * Returns nanoseconds since the epoch; throws ERR_POCKER_INVALID naming `what` (`--since`).
 */
export function parseTimeArg(value: string, what: string, now: number = Date.now()): bigint {
  const bad = (why: string): PockerError => invalid(`invalid ${what} ${JSON.stringify(value)}: ${why}`);
  // Docker: "0" is the Unix time 0, not a zero duration.
  const duration = value === '0' ? null : parseGoDuration(value);
  if (duration !== null) return BigInt(now) * 1_000_000n - BigInt(Math.round(duration));
  let t: bigint | null;
  try {
    t = parseRfc3339Nanos(value);
  } catch (err) {
    throw bad((err as Error).message.replace(/^parsing time "(?:[^"\\]|\\.)*": /, ''));
  }
  if (t !== null) return t;
  t = parseUnixNanos(value);
  if (t !== null) return t;
  throw bad('not an RFC 3339 time (2013-01-02T13:23:37Z), a Unix timestamp (1357133017) or a duration (42m)');
}

/** A time given to the library: a string as parseTimeArg() takes it, Unix seconds, or a Date. */
export type TimeValue = string | number | Date;

/** Converts a library time value to nanoseconds since the epoch (ERR_POCKER_INVALID naming `what`). */
export function timeValueNanos(value: TimeValue, what: string, now: number = Date.now()): bigint {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw invalid(`invalid ${what}: an invalid Date`);
    return BigInt(ms) * 1_000_000n;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`invalid ${what} ${value}: Unix seconds`);
    const whole = Math.floor(value);
    return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((value - whole) * 1e9));
  }
  if (typeof value !== 'string') throw invalid(`invalid ${what}: a string, Unix seconds or a Date`);
  return parseTimeArg(value, what, now);
}

/**
 * Nanoseconds as Docker's CLI passes a time on: `seconds.nanoseconds` (`1700000000.000000042`),
 * which parseTimeArg() reads back exactly. A time before the epoch is the epoch (no log entry is
 * older).
 */
export function unixNanosString(ns: bigint): string {
  const t = ns < 0n ? 0n : ns;
  return `${t / 1_000_000_000n}.${String(t % 1_000_000_000n).padStart(9, '0')}`;
}

/** The time of a json-file log entry (RFC 3339 with nanoseconds, UTC) in nanoseconds; 0 when unreadable. */
export function logTimeNanos(time: string): bigint {
  try {
    return parseRfc3339Nanos(time) ?? 0n;
  } catch {
    return 0n;
  }
}
