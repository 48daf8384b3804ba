// `pocker events [--since T] [--until T] [-f KEY=VALUE]... [--format F]`: the root's events as
// `docker events` prints them (lib/state/events.ts records and reads them). Without --until it
// follows until interrupted.
import type { Command } from 'commander';

import { eventTimeNano, type EventFilters, type EventType, type PockerEvent } from '../state/events.js';
import { CliError, reportFailure } from './failure.js';
import { writeOut } from './output.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';

interface EventsFlags {
  since?: string;
  until?: string;
  filter?: string[];
  format?: string;
  root?: string;
}

const FILTER_KEYS = ['type', 'event', 'container', 'image', 'network', 'label'] as const;
const TYPES: readonly EventType[] = ['container', 'image', 'network', 'volume'];

/** Docker's filters (`type=container`, `event=die`, ...): each key's values OR, keys AND. */
export function parseEventFilters(values: string[]): EventFilters {
  const f: EventFilters = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`);
    const key = v.slice(0, eq);
    const value = v.slice(eq + 1);
    if (!(FILTER_KEYS as readonly string[]).includes(key)) throw new CliError(`invalid filter '${key}'`);
    if (key === 'type') {
      if (!(TYPES as readonly string[]).includes(value)) throw new CliError(`invalid filter 'type=${value}'`);
      (f.type ??= []).push(value as EventType);
    } else {
      (f[key as Exclude<(typeof FILTER_KEYS)[number], 'type'>] ??= []).push(value);
    }
  }
  return f;
}

/** RFC 3339 with nanoseconds in the local zone, as Go prints time.RFC3339Nano (trailing zeros dropped). */
export function rfc3339Nano(timeNano: number | bigint): string {
  const ns = BigInt(timeNano);
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(ms + offsetMin * 60_000);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const zone =
    offsetMin === 0
      ? 'Z'
      : `${offsetMin > 0 ? '+' : '-'}${String(Math.trunc(Math.abs(offsetMin) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMin) % 60).padStart(2, '0')}`;
  return `${local.toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}${zone}`;
}

/** Docker's line: `TIME TYPE ACTION ID (k=v, k=v)`, attributes sorted by key. */
export function eventLine(ev: PockerEvent): string {
  const attrs = Object.keys(ev.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${ev.Actor.Attributes[k]}`)
    .join(', ');
  return `${rfc3339Nano(eventTimeNano(ev))} ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`;
}

/** Docker's JSON of an event: the old status/id/from fields beside the current ones. */
function eventJsonText(ev: PockerEvent): string {
  return JSON.stringify({ ...eventJson(ev), timeNano: 0 }).replace(/"timeNano":0}$/, `"timeNano":${eventTimeNano(ev)}}`);
}

function eventJson(ev: PockerEvent): Record<string, unknown> {
  return {
    ...(ev.Type === 'container' ? { status: ev.Action, id: ev.Actor.ID, from: ev.Actor.Attributes.image ?? '' } : {}),
    Type: ev.Type,
    Action: ev.Action,
    Actor: ev.Actor,
    scope: ev.scope,
    time: ev.time,
    timeNano: ev.timeNano,
  };
}

export function addEventsCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('events')
    .description('Get real time events from the server')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('--since <time>', 'Show all events created since timestamp')
    .option('--until <time>', 'Stream events until this timestamp')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', (v: string, prev: string[] = []) => [...prev, v])
    .option('--format <string>', "Format output using a custom template: 'json' or a Go template")
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (flags: EventsFlags, cmd: Command) => {
      const { events } = await import('../state/events.js');
      const { parseTimeArg } = await import('../state/timestamps.js');
      const { renderTemplate } = await import('./format.js');
      const root = rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
      let since: number | undefined;
      let until: number | undefined;
      let filters: EventFilters;
      try {
        const now = Date.now();
        if (flags.since) since = Number(parseTimeArg(flags.since, '--since', now) / 1_000_000n);
        if (flags.until) until = Number(parseTimeArg(flags.until, '--until', now) / 1_000_000n);
        filters = parseEventFilters(flags.filter ?? []);
      } catch (err) {
        reportFailure(ctx, err instanceof CliError ? err : new CliError((err as Error).message));
        return;
      }
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const format = flags.format;
      try {
        for await (const ev of events({ root, ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), filters, signal: ac.signal })) {
          const text =
            format === undefined || format === ''
              ? eventLine(ev)
              : format === 'json'
                ? `${eventJsonText(ev)}\n`
                : `${renderTemplate(format.replace(/\\n/g, '\n').replace(/\\t/g, '\t'), eventJson(ev))}\n`;
          await writeOut(process.stdout, text);
        }
      } catch (err) {
        reportFailure(ctx, err);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
