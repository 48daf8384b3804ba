// `pocker ps [-a] [-f KEY=VALUE]... [--format FORMAT] [-n N | -l] [-q] [-s] [--no-trunc]`: the
// containers as Docker lists them. listContainers() (lib/state/api.ts) selects them (filters in
// lib/state/filters.ts); this file parses the flags and prints Docker's rows (ContainerContext's
// fields) through ./format.ts: the default table, `json` (one object a line) or a Go template.
import type { Command } from 'commander';

import type { ContainerFilters, ContainerInfo } from '../state/api.js';
import { goTimeString, humanDuration, humanSize, parseFormat, renderRows, renderTemplate } from './format.js';
import { CliError, reportFailure, TemplateError } from './failure.js';
import type { CliContext } from './run.js';
import { writeStdout } from './stdio.js';

/** One row of `ps`: Docker's ContainerContext fields, keys sorted (as `{{json .}}` prints them). */
export type PsRow = {
  Command: string;
  CreatedAt: string;
  ID: string;
  Image: string;
  Labels: string;
  LocalVolumes: string;
  Mounts: string;
  Names: string;
  Networks: string;
  Ports: string;
  RunningFor: string;
  Size: string;
  State: string;
  Status: string;
};

/** The table headers of each field (Docker's). */
export const PS_HEADERS: Readonly<Record<keyof PsRow, string>> = {
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Labels: 'LABELS',
  LocalVolumes: 'LOCAL VOLUMES',
  Mounts: 'MOUNTS',
  Names: 'NAMES',
  Networks: 'NETWORKS',
  Ports: 'PORTS',
  RunningFor: 'CREATED',
  Size: 'SIZE',
  State: 'STATE',
  Status: 'STATUS',
};

/** Docker's default `ps` table (`-s` adds SIZE). */
export function defaultPsFormat(size: boolean): string {
  return `{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${size ? '\t{{.Size}}' : ''}`;
}

/** Docker's COMMAND: truncated to 20 characters with an ellipsis (unless --no-trunc), then quoted. */
function commandText(command: string, trunc: boolean): string {
  const chars = [...command];
  return JSON.stringify(trunc && chars.length > 20 ? `${chars.slice(0, 19).join('')}…` : command);
}

/**
 * Docker's IMAGE: truncated, an image id shows as its short id and a stored name in its familiar
 * form (`docker.io/library/alpine:3.20` -> `alpine:3.20`, a digest dropped); `--no-trunc` shows it
 * as recorded.
 */
function imageText(c: ContainerInfo, trunc: boolean, familiar: (name: string) => string): string {
  if (!c.image) return '<no image>';
  if (!trunc || !c.imageId) return c.image;
  if (c.image === c.imageId) return c.imageId.slice(c.imageId.indexOf(':') + 1).slice(0, 12);
  const at = c.image.indexOf('@');
  const name = at === -1 ? c.image : c.image.slice(0, at);
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? `${familiar(name.slice(0, colon))}${name.slice(colon)}` : familiar(name);
}

/** Docker's SIZE: `12.3kB (virtual 5.6MB)` (go-units, 3 significant digits); `0B` when not computed. */
function sizeText(c: ContainerInfo): string {
  const rw = humanSize(c.sizeRw ?? 0, 3);
  return c.sizeRootFs ? `${rw} (virtual ${humanSize(c.sizeRootFs, 3)})` : rw;
}

/** Options of psRow(). */
export interface PsRowOptions {
  /** Truncate ids, commands and image names (default true; `--no-trunc` is false). */
  trunc?: boolean;
  /** Now, in ms since the epoch (for CREATED). */
  now?: number;
  /** Docker's familiar form of a repository name (`docker.io/library/alpine` -> `alpine`). */
  familiar?: (name: string) => string;
  /** The PORTS text of a container (Docker's DisplayablePorts of its published ports), by id. */
  ports?: (id: string) => string;
}

/** The `ps` row of a listed container. */
export function psRow(c: ContainerInfo, options: PsRowOptions = {}): PsRow {
  const trunc = options.trunc ?? true;
  const now = options.now ?? Date.now();
  const created = Date.parse(c.created);
  return {
    Command: commandText(c.command, trunc),
    // A getter: Go's local time needs the machine's time zone (ICU reads /etc/localtime and its
    // zone data: ~1 ms of a process's first local time), which only a --format naming .CreatedAt
    // reads (and json); the table shows RunningFor (issue 12).
    get CreatedAt() {
      return Number.isNaN(created) ? '' : goTimeString(created);
    },
    ID: trunc ? c.id.slice(0, 12) : c.id,
    Image: imageText(c, trunc, options.familiar ?? ((n) => n)),
    // Docker's `k=v,k2=v2` (sorted here: Docker's order is a Go map's).
    Labels: Object.entries(c.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: '0',
    Mounts: '',
    Names: c.name,
    Networks: '',
    Ports: options.ports?.(c.id) ?? '',
    RunningFor: Number.isNaN(created) ? '' : `${humanDuration(now - created)} ago`,
    Size: sizeText(c),
    State: c.state,
    Status: c.status,
  };
}

/** A row with every field filled: what a template is checked against before anything is listed. */
const SAMPLE_ROW: PsRow = { ...PS_HEADERS };

/** Does a template print the size (Docker then computes it without -s)? */
export function templateUsesSize(body: string): boolean {
  return /\{\{[^}]*\.Size\b/.test(body);
}

interface PsFlags {
  all?: boolean;
  filter?: string[];
  format?: string;
  last?: string;
  latest?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc: boolean;
  root?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds `ps` (Docker's flags). */
export function addPsCommand(program: Command, ctx: CliContext, rootOf: (flags: { root?: string }, cmd: Command) => string): void {
  program
    .command('ps')
    .description('List containers')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided (KEY=VALUE: id, name, status, exited, ancestor, before, since)', collect)
    .option('--format <format>', "Format output: 'table', 'table TEMPLATE', 'json' or a Go template such as '{{.ID}}\\t{{.Names}}'")
    .option('-n, --last <n>', 'Show n last created containers (includes all states)')
    .option('-l, --latest', 'Show the latest created container (includes all states)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only display container IDs')
    .option('-s, --size', 'Display total file sizes')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (flags: PsFlags, cmd: Command) => {
      const fail = (err: unknown) => reportFailure(ctx, err, 'usage');
      // -n: Go's strconv.ParseInt; Docker's default -1 (no limit); -l is -n 1 unless -n is given.
      let last: number | undefined;
      if (flags.last !== undefined) {
        if (!/^[+-]?\d+$/.test(flags.last)) return fail(new CliError(`invalid argument ${JSON.stringify(flags.last)} for "-n, --last" flag: strconv.ParseInt: parsing ${JSON.stringify(flags.last)}: invalid syntax`));
        last = Number(flags.last);
      } else if (flags.latest) last = 1;

      const { parseFilterArgs } = await import('../state/filters.js');
      let filters: ContainerFilters;
      try {
        filters = parseFilterArgs(flags.filter ?? []);
      } catch (err) {
        return fail(err);
      }

      // Docker: -q prints ids in place of the table (a format given otherwise wins over -q).
      const quiet = flags.quiet === true && (flags.format === undefined || flags.format === '' || flags.format === 'table');
      const format = quiet ? { table: false, json: false, body: '{{.ID}}' } : parseFormat(flags.format, defaultPsFormat(flags.size === true));
      try {
        // Checked before anything is listed (an empty list would hide a bad template).
        renderTemplate(format.body, SAMPLE_ROW);
      } catch (err) {
        if (err instanceof TemplateError) return fail(err);
        throw err;
      }
      const size = !quiet && (flags.size === true || (!format.json && templateUsesSize(format.body)));

      const api = await import('../state/api.js');
      let list: ContainerInfo[];
      try {
        list = await api.listContainers({
          all: flags.all === true,
          filters,
          ...(last !== undefined ? { last } : {}),
          size,
          root: rootOf(flags, cmd),
          // A container a newer pocker wrote is left out, and said so (never misread).
          onUnreadable: (_id, err) => ctx.writeErr(`pocker: ${err.message}\n`),
        });
      } catch (err) {
        return fail(err);
      }
      // What runs (or holds cgroups) for a container no record explains is not listed, but said.
      const { findOrphans } = await import('../container/index.js');
      for (const o of findOrphans(rootOf(flags, cmd))) {
        if (!o.monitors.length && !o.cgroups.length) continue;
        const what = o.monitors.length ? `still runs (monitor pid ${o.monitors.join(', ')})` : `still has cgroups (${o.cgroups.length})`;
        ctx.writeErr(`pocker: WARNING: container ${o.id.slice(0, 12)} has no record but ${what}: pocker system prune removes it\n`);
      }
      const { familiarName } = await import('../image/reference.js');
      const now = Date.now();
      // PORTS: a running container's published ports (containers/<id>/network.json), as Docker prints them.
      const { formatPortMap, readContainerPorts } = await import('../network/ports.js');
      const psRoot = rootOf(flags, cmd);
      const ports = (id: string): string => {
        const c = list.find((x) => x.id === id);
        return c && (c.state === 'running' || c.state === 'restarting') ? formatPortMap(readContainerPorts(psRoot, id)) : '';
      };
      const rows = list.map((c) => psRow(c, { trunc: flags.trunc, now, familiar: familiarName, ports }));
      try {
        writeStdout(renderRows(format, rows, PS_HEADERS));
      } catch (err) {
        if (err instanceof TemplateError) return fail(err);
        throw err;
      }
      ctx.exitCode = 0;
    });
}
