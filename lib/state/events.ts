// Events, as `docker events` gives them, without a daemon: every pocker process (and each
// container's monitor, for `die` and `oom`, which only it sees) appends one JSON line per event to
// <root>/events.log. One line is one write(2) with O_APPEND, short enough (< PIPE_BUF) that
// concurrent writers never interleave. Past 1 MiB the writer that notices renames the file to
// events.log.1 (one generation kept, as Podman's file backend does), so the log stays bounded.
// A reader replays both files in order for --since and follows the current one (reopened when a
// rotation replaces it) until --until or its AbortSignal.
import { closeSync, fstatSync, openSync, renameSync, writeSync, constants as fsc } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** What an event is about (Docker's `Type`). */
export type EventType = 'container' | 'image' | 'network' | 'volume';

/** One event, in Docker's shape (`docker events --format '{{json .}}'`). */
export interface PockerEvent {
  Type: EventType;
  /** create, start, die, oom, stop, kill, restart, destroy, rename, pull, tag, untag, delete, connect, disconnect, … */
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Seconds since the epoch. */
  time: number;
  /** Nanoseconds since the epoch. */
  timeNano: number;
}

/** Nanoseconds since the epoch: the wall clock read once, advanced by the monotonic clock. */
const epochBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
function nowNanos(): bigint {
  return epochBase + process.hrtime.bigint();
}

/** Rotation threshold of events.log. */
export const EVENTS_LOG_MAX = 1 << 20;

export function eventsLogPath(root: string): string {
  return join(root, 'events.log');
}

/**
 * Appends an event to the root's log. Never throws: an event that cannot be recorded (a full
 * disk, a read-only root) must not fail the operation it reports.
 */
export function recordEvent(root: string, type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
  const nowNs = nowNanos();
  const event: PockerEvent = {
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: attributes },
    scope: 'local',
    time: Number(nowNs / 1_000_000_000n),
    timeNano: Number(nowNs),
  };
  const path = eventsLogPath(root);
  let fd = -1;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
    // timeNano exceeds 2^53: written from the bigint, exactly (Docker's int64).
    writeSync(fd, `${JSON.stringify({ ...event, timeNano: 0 }).replace(/"timeNano":0}$/, `"timeNano":${nowNs}}`)}\n`);
    if (fstatSync(fd).size > EVENTS_LOG_MAX) renameSync(path, `${path}.1`);
  } catch {
    /* not recorded: see above */
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Docker's attributes of a container's events (image as recorded, name), from its record. */
export function containerEventAttributes(c: { name: string; config?: { image?: unknown } | null }): Record<string, string> {
  const image = c.config?.image as { name?: string; host?: boolean; rootfs?: string } | undefined;
  const name = image?.name ?? (image?.host ? 'host' : image?.rootfs);
  return { ...(name !== undefined ? { image: name } : {}), name: c.name };
}

/** Filters of events() (Docker's `--filter`): each key's values OR, keys AND. */
export interface EventFilters {
  type?: EventType[];
  /** Actions (`event=die`). */
  event?: string[];
  /** Container ids (or prefixes) or names. */
  container?: string[];
  /** Image names or ids (the `image` attribute, or an image event's actor). */
  image?: string[];
  network?: string[];
  /** `key` or `key=value` of the actor's attributes. */
  label?: string[];
}

export interface EventsOptions {
  root?: string;
  /** Events at or after this time (ms since the epoch). Default: now (only new events). */
  since?: number;
  /** Stop after this time (ms since the epoch); without it, follow until `signal` aborts. */
  until?: number;
  filters?: EventFilters;
  signal?: AbortSignal;
}

function matches(ev: PockerEvent, f: EventFilters | undefined): boolean {
  if (!f) return true;
  const attrs = ev.Actor.Attributes;
  if (f.type?.length && !f.type.includes(ev.Type)) return false;
  if (f.event?.length && !f.event.includes(ev.Action)) return false;
  if (f.container?.length) {
    if (ev.Type !== 'container') return false;
    if (!f.container.some((c) => ev.Actor.ID.startsWith(c) || attrs.name === c)) return false;
  }
  if (f.image?.length) {
    const image = ev.Type === 'image' ? (attrs.name ?? ev.Actor.ID) : attrs.image;
    if (!f.image.some((i) => image === i || ev.Actor.ID === i || (image !== undefined && image.split(':')[0] === i))) return false;
  }
  if (f.network?.length) {
    if (!f.network.some((n) => (ev.Type === 'network' && (ev.Actor.ID.startsWith(n) || attrs.name === n)) || attrs.network === n)) return false;
  }
  if (f.label?.length) {
    for (const l of f.label) {
      const eq = l.indexOf('=');
      if (eq === -1 ? !(l in attrs) : attrs[l.slice(0, eq)] !== l.slice(eq + 1)) return false;
    }
  }
  return true;
}

/** Each read event's exact timeNano (a JSON number beyond 2^53 loses digits in `timeNano`). */
const exactTimes = new WeakMap<PockerEvent, bigint>();

/** An event's time in nanoseconds since the epoch, exactly as recorded. */
export function eventTimeNano(ev: PockerEvent): bigint {
  return exactTimes.get(ev) ?? BigInt(Math.round(ev.timeNano));
}

function parseLine(line: string): PockerEvent | null {
  try {
    const ev = JSON.parse(line) as PockerEvent;
    if (typeof ev !== 'object' || ev === null || typeof ev.Action !== 'string' || typeof ev.timeNano !== 'number' || typeof ev.Actor?.ID !== 'string') return null;
    ev.Actor.Attributes ??= {};
    const exact = /"timeNano":(\d+)/.exec(line);
    if (exact) exactTimes.set(ev, BigInt(exact[1]!));
    return ev;
  } catch {
    return null;
  }
}

/** Reads complete lines from `fh` starting at `offset`; returns the events and the new offset. */
async function readFrom(fh: FileHandle, offset: number): Promise<{ events: PockerEvent[]; offset: number }> {
  const events: PockerEvent[] = [];
  const buf = Buffer.alloc(64 * 1024);
  let pending = '';
  let at = offset;
  let consumed = offset;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    if (bytesRead === 0) break;
    at += bytesRead;
    pending += buf.toString('utf8', 0, bytesRead);
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      consumed += Buffer.byteLength(line) + 1;
      pending = pending.slice(nl + 1);
      const ev = parseLine(line);
      if (ev) events.push(ev);
    }
  }
  return { events, offset: consumed };
}

async function openIfExists(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * The root's events as an async iterator, oldest first: past ones from `since` (both log
 * generations), then, unless `until` is in the past, new ones as they are recorded — until `until`
 * passes or `signal` aborts (the iterator then ends without an error).
 */
export async function* events(options: EventsOptions = {}): AsyncGenerator<PockerEvent> {
  const { defaultStateRoot } = await import('../rootless/paths.js');
  const root = options.root ?? defaultStateRoot();
  const path = eventsLogPath(root);
  const sinceNs = (options.since ?? Date.now()) * 1_000_000;
  const untilNs = options.until === undefined ? Infinity : options.until * 1_000_000;
  const keep = (ev: PockerEvent) => ev.timeNano >= sinceNs && ev.timeNano <= untilNs && matches(ev, options.filters);
  const signal = options.signal;

  // The rotated generation first (only when asked for the past).
  if (options.since !== undefined) {
    const old = await openIfExists(`${path}.1`);
    if (old) {
      try {
        for (const ev of (await readFrom(old, 0)).events) if (keep(ev)) yield ev;
      } finally {
        await old.close();
      }
    }
  }
  let fh = await openIfExists(path);
  let offset = 0;
  let ino = fh ? (await fh.stat()).ino : -1;
  if (fh && options.since === undefined) offset = (await fh.stat()).size; // only new events
  const { watch } = await import('node:fs');
  // Wake on any change in the root (the log written, created or rotated); a timer bounds `until`.
  let wake: (() => void) | null = null;
  // A change seen while no wait was pending (between the size check and the wait): the next wait
  // returns at once instead of missing it.
  let changed = false;
  let watcher: ReturnType<typeof watch> | null = null;
  try {
    watcher = watch(root, { persistent: true }, () => {
      if (wake) wake();
      else changed = true;
    });
  } catch {
    /* no root yet (nothing ever ran): look again every second */
  }
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (fh) {
        const r = await readFrom(fh, offset);
        offset = r.offset;
        for (const ev of r.events) {
          if (ev.timeNano > untilNs) return;
          if (keep(ev)) yield ev;
        }
      }
      if (signal?.aborted || Date.now() * 1_000_000 > untilNs) return;
      // A rotation replaced the file: finish the old one above, then read the new one from its start.
      const now = await stat(path).catch(() => null);
      if (now && now.ino !== ino) {
        if (fh) {
          const rest = await readFrom(fh, offset);
          for (const ev of rest.events) if (keep(ev)) yield ev;
          await fh.close();
        }
        fh = await openIfExists(path);
        ino = fh ? (await fh.stat()).ino : -1;
        offset = 0;
        continue;
      }
      if (now && fh && now.size > offset) continue;
      if (changed) {
        changed = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const untilMs = Number.isFinite(untilNs) ? Math.max(0, untilNs / 1_000_000 - Date.now()) + 1 : Infinity;
        // At least once a second even with a watcher: a missed inotify event (a busy machine, a
        // filesystem that reports none) costs a second, never the rest of the follow.
        const ms = Math.min(untilMs, 1000);
        const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : null;
        wake = () => {
          if (timer) clearTimeout(timer);
          wake = null;
          resolve();
        };
      });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    watcher?.close();
    await fh?.close();
  }
}
