// Docker's output formatting, shared by the commands that print lists (`ps`, `images`, `system df`):
// go-units sizes (`7.38MB`, decimal, `%.3g`/`%.4g`) and HumanDuration ("2 days ago"), Go's
// time.Time.String(), Go's JSON (`<`, `>`, `&` escaped), text/tabwriter tables as Docker configures
// them (min width 10, padding 3), and `--format`: `table`, `json` and a subset of Go templates.
//
// Pure functions, no I/O: exported for the commands and the unit tests. Cheap to import.
import type { ContainerStats } from '../state/stats.js';
import { TemplateError } from './failure.js';

// ---------------------------------------------------------------------------------------------
// Sizes, durations, times, JSON, tables

/** Go's `%.<precision>g`: shortest of %e/%f with `precision` significant digits, trailing zeros dropped. */
export function formatG(value: number, precision: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
  if (value === 0) return '0';
  const p = Math.max(1, precision);
  const exp = Number(value.toExponential(p - 1).split('e')[1]);
  if (exp < -4 || exp >= p) {
    const [mantissa, e] = value.toExponential(p - 1).split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = value.toFixed(Math.max(0, p - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/**
 * go-units HumanSizeWithPrecision: decimal units (1 kB = 1000 B), `precision` significant digits.
 * Docker prints image sizes with precision 3 (`docker images`: `7.38MB`) and disk usage and
 * reclaimed space with 4 (HumanSize: `7.377MB`).
 */
export function humanSize(bytes: number, precision = 4): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${formatG(size, precision)}${DECIMAL_UNITS[i]}`;
}

/** go-units HumanDuration, Docker's: "Less than a second", "About a minute", "3 hours", "2 weeks", … */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** What Docker's STATUS text is made of (a container as the store reads it). */
export interface StatusFacts {
  status: 'running' | 'exited' | 'created';
  /** Its creator died before a monitor took over (killed while being created or started). */
  deadOwner: boolean;
  state: { restarting?: boolean; exitCode: number; startedAt: string; finishedAt: string } | null;
  config: { created: string } | null;
  /** Why its records cannot be read (it is listed as Dead), or null. */
  damaged?: string | null;
  /** Frozen by `pause`. */
  paused?: boolean;
}

/** Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Restarting (1) 3 seconds ago`, `Created`. */
export function containerStatusText(c: StatusFacts, now = Date.now()): string {
  if (c.damaged) return 'Dead';
  if (c.deadOwner) return 'Exited (137)';
  if (c.status === 'created') return 'Created';
  if (c.state?.restarting) {
    const finished = Date.parse(c.state.finishedAt);
    return `Restarting (${c.state.exitCode}) ${finished > 0 ? `${humanDuration(now - finished)} ago` : ''}`.trimEnd();
  }
  if (c.status === 'running') {
    const since = Date.parse(c.state?.startedAt ?? c.config?.created ?? '') || now;
    return `Up ${humanDuration(now - since)}${c.paused ? ' (Paused)' : ''}`;
  }
  const code = c.state?.exitCode ?? 0;
  const finished = Date.parse(c.state?.finishedAt ?? '');
  return `Exited (${code}) ${finished > 0 ? `${humanDuration(now - finished)} ago` : ''}`.trimEnd();
}

/** Docker's units.BytesSize: binary units, 4 significant digits ("1.5MiB", "512KiB"). */
export function bytesSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${formatG(n, 4)}${units[i]}`;
}

/** A `stats` row's figures. */
export type StatsFigures = ContainerStats;

/** The cells Docker's `stats` prints (also the values of --format json). */
export function statsCells(s: StatsFigures): { ID: string; Name: string; CPUPerc: string; MemUsage: string; MemPerc: string; NetIO: string; BlockIO: string; PIDs: string } {
  return {
    ID: s.id.slice(0, 12),
    Name: s.name,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    MemUsage: `${bytesSize(s.memUsage)} / ${bytesSize(s.memLimit)}`,
    MemPerc: `${s.memPercent.toFixed(2)}%`,
    NetIO: `${humanSize(s.netRx, 3)} / ${humanSize(s.netTx, 3)}`,
    BlockIO: `${humanSize(s.blkRead, 3)} / ${humanSize(s.blkWrite, 3)}`,
    PIDs: String(s.pids),
  };
}

/** Docker's CREATED column: "2 days ago" (`N/A` for an unknown or zero time). */
export function timeAgo(created: string | number | Date, now: number = Date.now()): string {
  const t = created instanceof Date ? created.getTime() : typeof created === 'number' ? created : Date.parse(created);
  if (!Number.isFinite(t) || new Date(t).getUTCFullYear() <= 1) return 'N/A';
  return `${humanDuration(now - t)} ago`;
}

/** Go's time.Time.String() of a whole-second time in the local zone: `2024-01-27 01:32:17 +0000 UTC`. */
export function goTimeString(created: string | number | Date): string {
  const d = new Date(created instanceof Date ? created.getTime() : typeof created === 'number' ? created : Date.parse(created));
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  let zone = 'UTC';
  if (offset !== 0) {
    try {
      zone =
        new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ??
        `${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)}`;
    } catch {
      zone = `${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)}`;
    }
  }
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)} ${zone}`
  );
}

/** JSON as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goJson(value: unknown, indent?: string): string {
  const text = indent === undefined ? JSON.stringify(value) : JSON.stringify(value, null, indent);
  return (text ?? 'null').replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface TableOptions {
  /** Minimal cell width, padding included (Docker: 10). */
  minWidth?: number;
  /** Spaces added to the widest cell of a column (Docker: 3). */
  padding?: number;
}

/**
 * Go's text/tabwriter as Docker configures it (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`):
 * cells are tab-terminated, a column is as wide as its widest cell plus the padding (at least the
 * minimal width) over each block of consecutive lines that have it, and the text after a line's
 * last tab is not a column (never padded). `text` is tab-separated lines, or rows of cells.
 */
export function formatTable(text: string | string[][], options: TableOptions = {}): string {
  const minWidth = options.minWidth ?? 10;
  const padding = options.padding ?? 3;
  const lines: string[][] = typeof text === 'string' ? text.replace(/\n$/, '').split('\n').map((l) => l.split('\t')) : text;
  const width = (s: string) => [...s].length;
  const out: string[] = [];
  const widths: number[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let line = '';
      cells.forEach((cell, j) => {
        line += cell;
        if (j < widths.length && j < cells.length - 1) line += ' '.repeat(Math.max(0, widths[j]! - width(cell)));
      });
      out.push(line);
    }
  };
  const format = (column: number, line0: number, line1: number) => {
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      // A block of lines with a cell in this column starts here.
      writeLines(start, i);
      start = i;
      let w = minWidth;
      for (; i < line1; i++) {
        const cells = lines[i]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + padding);
      }
      widths.push(w);
      format(column + 1, start, i);
      widths.pop();
      start = i;
      i--; // the loop's i++ revisits the line that ended the block
    }
    writeLines(start, line1);
  };
  format(0, 0, lines.length);
  return out.map((l) => `${l}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// --format: Docker's `table`, `json` and a subset of Go templates


/** Go's default printing (fmt's %v) of a template value. */
function goPrint(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object') {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

/** The words of an action, each with its offset in the action's text. */
function splitArgs(expr: string): Array<{ text: string; offset: number }> {
  const out: Array<{ text: string; offset: number }> = [];
  const re = /"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(expr))) {
    if (m[1] !== undefined) out.push({ text: JSON.stringify(JSON.parse(`"${m[1]}"`)), offset: m.index });
    else if (m[2] !== undefined) out.push({ text: JSON.stringify(m[2]), offset: m.index });
    else out.push({ text: m[3]!, offset: m.index });
  }
  return out;
}

/** Go's location of a node (text/template/parse Tree.ErrorContext): `:LINE:COL` of the byte offset `pos`. */
function goLocation(template: string, pos: number): string {
  const before = template.slice(0, pos);
  const nl = before.lastIndexOf('\n');
  const line = 1 + (before.match(/\n/g)?.length ?? 0);
  return `:${line}:${nl === -1 ? pos : pos - (nl + 1)}`;
}

type TemplateFn = (...args: unknown[]) => unknown;

const TEMPLATE_FUNCS: Record<string, TemplateFn> = {
  json: (v) => goJson(v),
  upper: (v) => goPrint(v).toUpperCase(),
  lower: (v) => goPrint(v).toLowerCase(),
  title: (v) => goPrint(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (v, sep) => (Array.isArray(v) ? v.map(goPrint).join(goPrint(sep)) : goPrint(v)),
  split: (v, sep) => goPrint(v).split(goPrint(sep)),
  truncate: (v, n) => [...goPrint(v)].slice(0, Number(n)).join(''),
  pad: (v, l, r) => `${' '.repeat(Number(l))}${goPrint(v)}${' '.repeat(Number(r))}`,
  println: (...args) => `${args.map(goPrint).join(' ')}\n`,
  print: (...args) => args.map(goPrint).join(''),
  index: (v, ...keys) =>
    keys.reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[String(k)] : undefined), v),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
};

/** How a missing field reads: a Go struct's (`ps`, `images`: Docker's typed rows) or a map's (`inspect`'s raw JSON). */
export interface TemplateOptions {
  missingKey?: 'field' | 'map';
}

/**
 * Renders a Go template subset against `data`: text, `{{.Field}}`, `{{.A.B}}`, `{{.}}`, and calls
 * of json, upper, lower, title, join, split, truncate, pad, print, println, index, len (`{{json .}}`,
 * `{{join .RepoTags ","}}`); `{{-`/`-}}` trim whitespace. A field `data` does not have at its top
 * level is an error, as Go's is for a struct; with `missingKey: 'map'` a missing key at any level
 * is (Docker's inspect runs templates on the raw JSON with missingkey=error). Errors are Go's:
 * parse errors `template: :1: unclosed action`, execution errors
 * `template: :1:2: executing "" at <.Nope>: can't evaluate field Nope` (TemplateError.execution).
 */
export function renderTemplate(template: string, data: Record<string, unknown>, options: TemplateOptions = {}): string {
  const asMap = options.missingKey === 'map';
  const executing = (pos: number, arg: string, why: string) =>
    new TemplateError(`template: ${goLocation(template, pos)}: executing "" at <${arg}>: ${why}`, { execution: true });
  const evalArg = (arg: string, pos: number): unknown => {
    if (arg.startsWith('"')) return JSON.parse(arg) as unknown;
    if (/^-?\d+(\.\d+)?$/.test(arg)) return Number(arg);
    if (arg === 'true' || arg === 'false') return arg === 'true';
    if (arg === '.') return data;
    if (!arg.startsWith('.')) throw new TemplateError(`template: :1: function "${arg}" not defined`);
    let v: unknown = data;
    const path = arg.slice(1).split('.');
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      if (v === null || v === undefined) {
        if (asMap) throw executing(pos, arg, `nil pointer evaluating interface {}.${key}`);
        return undefined;
      }
      if (typeof v !== 'object' || Array.isArray(v)) {
        const type = Array.isArray(v) ? '[]interface {}' : typeof v === 'number' ? 'float64' : typeof v === 'boolean' ? 'bool' : 'string';
        throw executing(pos, arg, `can't evaluate field ${key} in type ${type}`);
      }
      if (!Object.prototype.hasOwnProperty.call(v, key)) {
        if (asMap) throw executing(pos, arg, `map has no entry for key ${JSON.stringify(key)}`);
        if (i === 0) throw executing(pos, arg, `can't evaluate field ${key}`);
      }
      v = (v as Record<string, unknown>)[key];
    }
    return v;
  };
  let out = '';
  let last = 0;
  let trimNext = false;
  const re = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(template))) {
    let text = template.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    out += text;
    last = m.index + m[0].length;
    trimNext = m[3] !== undefined;
    const expr = m[2]!;
    if (expr.startsWith('/*')) continue; // a comment
    // Where the expression starts in the template (Go reports execution errors there).
    const exprPos = m.index + 2 + (m[1]?.length ?? 0) + (m[0].slice(2 + (m[1]?.length ?? 0)).length - m[0].slice(2 + (m[1]?.length ?? 0)).trimStart().length);
    const args = splitArgs(expr);
    if (args.length === 0) throw new TemplateError('template: :1: missing value for command');
    const head = args[0]!.text;
    const fn = TEMPLATE_FUNCS[head];
    if (fn) out += goPrint(fn(...args.slice(1).map((a) => evalArg(a.text, exprPos + a.offset))));
    else if (args.length === 1) out += goPrint(evalArg(head, exprPos));
    else throw new TemplateError(`template: :1: function "${head}" not defined`);
  }
  let tail = template.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  if (tail.includes('{{')) throw new TemplateError('template: :1: unclosed action');
  out += tail;
  return out;
}

/**
 * Parses a template without executing it (Go's template.Parse): throws the TemplateError of a
 * template that can never run (unclosed action, unknown function, empty action).
 */
export function checkTemplate(template: string): void {
  const re = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(template))) {
    last = m.index + m[0].length;
    const expr = m[2]!;
    if (expr.startsWith('/*')) continue;
    const args = splitArgs(expr);
    if (args.length === 0) throw new TemplateError('template: :1: missing value for command');
    for (const [i, a] of args.entries()) {
      const word = a.text;
      const literal = word.startsWith('"') || word.startsWith('.') || /^-?\d+(\.\d+)?$/.test(word) || word === 'true' || word === 'false';
      if (!literal && !(i === 0 && TEMPLATE_FUNCS[word])) throw new TemplateError(`template: :1: function "${word}" not defined`);
    }
  }
  if (template.slice(last).includes('{{')) throw new TemplateError('template: :1: unclosed action');
}

/** Docker's `--format` preprocessing: `table` prefix, `\t` and `\n` escapes. */
export function parseFormat(format: string | undefined, defaultTable: string): { table: boolean; json: boolean; body: string } {
  const f = format ?? '';
  if (f === '' || f === 'table') return { table: true, json: false, body: defaultTable };
  if (f === 'json') return { table: false, json: true, body: '{{json .}}' };
  const table = f.startsWith('table');
  const body = (table ? f.slice('table'.length) : f).trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return { table, json: false, body };
}

/** Rows through a format: a table (header from `headers`, tabwriter) or one rendered line per row. */
export function renderRows(format: { table: boolean; body: string }, rows: Array<Record<string, unknown>>, headers: Record<string, string>): string {
  if (!format.table) return rows.map((r) => `${renderTemplate(format.body, r)}\n`).join('');
  const header = renderTemplate(format.body, headers);
  const lines = [header, ...rows.map((r) => renderTemplate(format.body, r))];
  return formatTable(lines.join('\n'));
}
