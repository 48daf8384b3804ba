// `logs --since/--until` times (lib/state/timestamps.ts): Go durations, RFC 3339 times with and
// without fractions and zones, Unix timestamps, as Docker's CLI reads them. No root, no I/O.
import { describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { isoTime, logTimeNanos, parseGoDuration, parseRfc3339Nanos, parseTimeArg, timeValueNanos, unixNanosString } from '../../lib/state/timestamps.js';
import { thrown } from './thrown.js';

const NOW = Date.parse('2024-05-06T07:08:09.123Z');
const ns = (ms: number) => BigInt(ms) * 1_000_000n;

describe('parseGoDuration', () => {
  it("reads Go's durations in nanoseconds", () => {
    expect(parseGoDuration('42s')).toBe(42e9);
    expect(parseGoDuration('10m')).toBe(600e9);
    expect(parseGoDuration('1h30m')).toBe(5400e9);
    expect(parseGoDuration('2h45m10.5s')).toBe((2 * 3600 + 45 * 60 + 10.5) * 1e9);
    expect(parseGoDuration('1.5h')).toBe(5400e9);
    expect(parseGoDuration('.5s')).toBe(0.5e9);
    expect(parseGoDuration('300ms')).toBe(300e6);
    expect(parseGoDuration('7us')).toBe(7000);
    expect(parseGoDuration('7µs')).toBe(7000);
    expect(parseGoDuration('7μs')).toBe(7000);
    expect(parseGoDuration('9ns')).toBe(9);
    expect(parseGoDuration('-10s')).toBe(-10e9);
    expect(parseGoDuration('+10s')).toBe(10e9);
    expect(parseGoDuration('0')).toBe(0);
  });

  it('is null for anything else', () => {
    for (const v of ['', '10', 's', '.s', '10x', '10 m', '1h 30m', '2024-01-01', '1700000000', 'm10', '-', '10mss']) expect(parseGoDuration(v)).toBeNull();
  });
});

describe('parseRfc3339Nanos', () => {
  it('zoned times, with fractions up to nanoseconds', () => {
    expect(parseRfc3339Nanos('2013-01-02T13:23:37Z')).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37)));
    expect(parseRfc3339Nanos('2013-01-02T13:23:37.123456789Z')).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37)) + 123_456_789n);
    expect(parseRfc3339Nanos('2013-01-02T13:23:37.5Z')).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37, 500)));
    expect(parseRfc3339Nanos('2013-01-02T13:23:37+02:00')).toBe(ns(Date.UTC(2013, 0, 2, 11, 23, 37)));
    expect(parseRfc3339Nanos('2013-01-02T13:23:37.25-01:30')).toBe(ns(Date.UTC(2013, 0, 2, 14, 53, 37, 250)));
    expect(parseRfc3339Nanos('2013-01-02T13:23Z')).toBe(ns(Date.UTC(2013, 0, 2, 13, 23)));
    expect(parseRfc3339Nanos('2013-01-02T13Z')).toBe(ns(Date.UTC(2013, 0, 2, 13)));
    expect(parseRfc3339Nanos('2013-01-02Z')).toBe(ns(Date.UTC(2013, 0, 2)));
    expect(parseRfc3339Nanos('2013-01-02t13:23:37z')).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37)));
    expect(parseRfc3339Nanos('0050-01-02T00:00:00Z')).toBe(ns(new Date('0050-01-02T00:00:00Z').getTime())); // not 1950
  });

  it('times without a zone are local', () => {
    expect(parseRfc3339Nanos('2013-01-02')).toBe(ns(new Date(2013, 0, 2).getTime()));
    expect(parseRfc3339Nanos('2013-01-02T13')).toBe(ns(new Date(2013, 0, 2, 13).getTime()));
    expect(parseRfc3339Nanos('2013-01-02T13:23')).toBe(ns(new Date(2013, 0, 2, 13, 23).getTime()));
    expect(parseRfc3339Nanos('2013-01-02T13:23:37')).toBe(ns(new Date(2013, 0, 2, 13, 23, 37).getTime()));
    expect(parseRfc3339Nanos('2013-01-02T13:23:37.000000042')).toBe(ns(new Date(2013, 0, 2, 13, 23, 37).getTime()) + 42n);
  });

  it('null for other shapes; an impossible date throws with Go\'s words', () => {
    for (const v of ['2013-1-2', '2013-01-02T1', '2013-01-02 13:23:37', '2013-01-02T13:23.5Z', '2013-01-02T13:23:37.1234567891Z', '2013-01-02T13:23:37+0200', '42m', '1700000000']) {
      expect(parseRfc3339Nanos(v)).toBeNull();
    }
    expect(thrown(() => parseRfc3339Nanos('2013-13-02')).message).toBe('parsing time "2013-13-02": month out of range');
    expect(thrown(() => parseRfc3339Nanos('2023-02-29')).message).toBe('parsing time "2023-02-29": day out of range');
    expect(parseRfc3339Nanos('2024-02-29Z')).toBe(ns(Date.UTC(2024, 1, 29)));
    expect(thrown(() => parseRfc3339Nanos('2013-01-02T24:00Z')).message).toBe('parsing time "2013-01-02T24:00Z": hour out of range');
    expect(thrown(() => parseRfc3339Nanos('2013-01-02T23:60Z')).message).toMatch(/minute out of range/);
    expect(thrown(() => parseRfc3339Nanos('2013-01-02T23:59:60Z')).message).toMatch(/second out of range/);
  });
});

describe('parseTimeArg (--since / --until)', () => {
  it('durations are before now; "0" is the Unix time 0', () => {
    expect(parseTimeArg('10m', '--since', NOW)).toBe(ns(NOW - 600_000));
    expect(parseTimeArg('1h30m', '--since', NOW)).toBe(ns(NOW - 5_400_000));
    expect(parseTimeArg('42s', '--until', NOW)).toBe(ns(NOW - 42_000));
    expect(parseTimeArg('-1m', '--until', NOW)).toBe(ns(NOW + 60_000));
    expect(parseTimeArg('0', '--since', NOW)).toBe(0n);
  });

  it('RFC 3339 times and Unix timestamps', () => {
    expect(parseTimeArg('2013-01-02T13:23:37Z', '--since', NOW)).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37)));
    expect(parseTimeArg('2013-01-02T13:23:37.000000001+00:00', '--since', NOW)).toBe(ns(Date.UTC(2013, 0, 2, 13, 23, 37)) + 1n);
    expect(parseTimeArg('1700000000', '--since', NOW)).toBe(1_700_000_000_000_000_000n);
    expect(parseTimeArg('1700000000.123456789', '--since', NOW)).toBe(1_700_000_000_123_456_789n);
    expect(parseTimeArg('1700000000.5', '--since', NOW)).toBe(1_700_000_000_500_000_000n);
  });

  it('anything else is ERR_POCKER_INVALID naming the flag', () => {
    const e = thrown(() => parseTimeArg('yesterday', '--since', NOW));
    expect(e.code).toBe('ERR_POCKER_INVALID');
    expect(e.message).toBe('invalid --since "yesterday": not an RFC 3339 time (2013-01-02T13:23:37Z), a Unix timestamp (1357133017) or a duration (42m)');
    expect(thrown(() => parseTimeArg('2013-02-30', '--until', NOW)).message).toBe('invalid --until "2013-02-30": day out of range');
    for (const v of ['', '-5', '1700000000.', '10 m', '2013/01/02']) expect(() => parseTimeArg(v, '--since', NOW)).toThrow(PockerError);
  });
});

describe('library time values', () => {
  it('Dates, Unix seconds and strings', () => {
    expect(timeValueNanos(new Date(NOW), 'since', NOW)).toBe(ns(NOW));
    expect(timeValueNanos(1_700_000_000.25, 'since', NOW)).toBe(1_700_000_000_250_000_000n);
    expect(timeValueNanos(0, 'since', NOW)).toBe(0n);
    expect(timeValueNanos('5s', 'since', NOW)).toBe(ns(NOW - 5000));
    expect(thrown(() => timeValueNanos(new Date(NaN), 'until', NOW)).message).toBe('invalid until: an invalid Date');
    expect(thrown(() => timeValueNanos(Infinity, 'until', NOW)).message).toBe('invalid until Infinity: Unix seconds');
    expect(thrown(() => timeValueNanos({} as never, 'until', NOW)).message).toBe('invalid until: a string, Unix seconds or a Date');
  });

  it('unixNanosString round-trips through parseTimeArg; log entry times', () => {
    for (const t of [0n, 42n, 1_700_000_000_123_456_789n, 1_700_000_000_000_000_000n]) expect(parseTimeArg(unixNanosString(t), '--since', NOW)).toBe(t);
    expect(unixNanosString(1_700_000_000_000_000_042n)).toBe('1700000000.000000042');
    expect(unixNanosString(-5n)).toBe('0.000000000');
    expect(logTimeNanos('2024-05-06T07:08:09.123456789Z')).toBe(ns(Date.UTC(2024, 4, 6, 7, 8, 9)) + 123_456_789n);
    expect(logTimeNanos('garbage')).toBe(0n);
    expect(logTimeNanos('2024-13-01T00:00:00Z')).toBe(0n);
  });
});

describe('isoTime', () => {
  it("is toISOString's text, from the UTC fields (no time zone looked up)", () => {
    for (const ms of [0, 1, 999, NOW, Date.parse('2000-02-29T23:59:59.999Z'), Date.parse('0099-01-02T03:04:05.006Z'), Date.parse('9999-12-31T23:59:59.999Z'), -1, Date.now()]) {
      expect(isoTime(new Date(ms)), String(ms)).toBe(new Date(ms).toISOString());
    }
    expect(isoTime()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});
