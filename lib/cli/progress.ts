// Pull progress as Docker prints it: on a terminal one live line per layer
// (`c6a83fedfae6: Downloading [=====>      ]  1.2MB/3.4MB`), drawn with cli-progress; otherwise
// one plain line per status change (no per-chunk noise in logs); nothing with -q.
import { MultiBar, type SingleBar } from 'cli-progress';

import type { PullProgress } from '../types.js';
import { humanSize as formatSize } from './format.js';

/** Docker's human sizes in progress lines: decimal units, 3 significant digits (`1.2MB`, `512kB`). */
const humanSize = (bytes: number): string => formatSize(bytes, 3);

/** Docker's bar: 50 columns, `=` done, `>` at the head. */
export function progressBar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.max(0, Math.floor((current / total) * width)) : 0;
  if (filled >= width) return `[${'='.repeat(width)}]`;
  return `[${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}]`;
}

/** One layer's line. */
export function layerLine(id: string, status: string, current?: number, total?: number): string {
  if ((status === 'Downloading' || status === 'Extracting') && current !== undefined && total) {
    return `${id}: ${status} ${progressBar(current, total)}  ${humanSize(current)}/${humanSize(total)}`;
  }
  return `${id}: ${status}`;
}

export interface PullReporter {
  (event: PullProgress): void;
  /** Stops live drawing (before anything else is printed). */
  stop(): void;
}

/** A reporter for `stream`: live lines on a TTY, plain lines otherwise, nothing when quiet. */
export function pullReporter(stream: NodeJS.WriteStream, options: { quiet?: boolean } = {}): PullReporter {
  if (options.quiet) return Object.assign(() => {}, { stop: () => {} });
  return stream.isTTY ? ttyReporter(stream) : plainReporter(stream);
}

/** `latest: Pulling from alpine` (the reference's tag, then its name). */
function pullingLine(reference: string): string {
  const at = reference.indexOf('@');
  const base = at >= 0 ? reference.slice(0, at) : reference;
  const colon = base.lastIndexOf(':');
  const hasTag = colon > base.lastIndexOf('/');
  const tag = at >= 0 ? reference.slice(at + 1) : hasTag ? base.slice(colon + 1) : 'latest';
  return `${tag}: Pulling from ${hasTag ? base.slice(0, colon) : base}\n`;
}

function finalLines(ev: Extract<PullProgress, { type: 'done' }>): string {
  return `Digest: ${ev.digest}\nStatus: ${ev.upToDate ? 'Image is up to date for' : 'Downloaded newer image for'} ${ev.reference}\n`;
}

function plainReporter(stream: NodeJS.WriteStream): PullReporter {
  const last = new Map<string, string>();
  const report = (ev: PullProgress) => {
    if (ev.type === 'resolving') {
      stream.write(pullingLine(ev.reference));
    } else if (ev.type === 'layer') {
      if (last.get(ev.id) === ev.status) return; // only status changes in a log
      last.set(ev.id, ev.status);
      stream.write(`${ev.id}: ${ev.status}\n`);
    } else {
      stream.write(finalLines(ev));
    }
  };
  return Object.assign(report, { stop: () => {} });
}

function ttyReporter(stream: NodeJS.WriteStream): PullReporter {
  const multi = new MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      linewrap: false,
      fps: 10,
      format: (_options, params, payload: { id: string; status: string }) =>
        layerLine(payload.id, payload.status, params.value, params.total),
    },
  );
  const bars = new Map<string, SingleBar>();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    multi.stop();
  };
  const report = (ev: PullProgress) => {
    if (stopped) return;
    if (ev.type === 'resolving') {
      multi.log(pullingLine(ev.reference));
    } else if (ev.type === 'layer') {
      const payload = { id: ev.id, status: ev.status };
      let bar = bars.get(ev.id);
      if (!bar) {
        bar = multi.create(ev.total ?? 0, ev.current ?? 0, payload);
        bars.set(ev.id, bar);
      } else {
        if (ev.total !== undefined) bar.setTotal(ev.total);
        bar.update(ev.current ?? 0, payload);
      }
    } else {
      stop();
      stream.write(finalLines(ev));
    }
  };
  return Object.assign(report, { stop });
}
