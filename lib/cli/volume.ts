// `pocker volume create | ls | inspect | rm | prune`: named volumes with Docker's flags, output and
// words (docker/cli cli/command/volume). The work is in lib/volume.
import type { Command } from 'commander';

import { CliError, guard, reportFailure, type FailureSink } from './failure.js';
import { goJson, humanSize, parseFormat, renderRows, renderTemplate } from './format.js';
import { confirm } from './images.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import type { VolumeFilters, VolumeInspect } from '../volume/index.js';
import { writeStdout } from './stdio.js';

const ROOT_HELP = 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function out(text: string): void {
  writeStdout(text);
}

async function lib(): Promise<typeof import('../volume/index.js')> {
  return import('../volume/index.js');
}

function rootOf(ctx: CliContext, cmd: Command): string {
  return rootFlag(ctx, cmd.opts<{ root?: string }>(), cmd) ?? defaultStateRoot(ctx.env);
}

/** `--label k=v` / `--label k` (value ''), Docker's. */
export function parseVolumeLabels(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (key === '') throw new CliError(`invalid argument ${JSON.stringify(e)} for "--label" flag: invalid label format`);
    labels[key] = eq < 0 ? '' : e.slice(eq + 1);
  }
  return labels;
}

/** `volume ls --filter KEY=VALUE`: name, label, dangling, driver (Docker's keys and messages). */
export function parseVolumeFilters(entries: readonly string[]): VolumeFilters {
  const f: VolumeFilters = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`);
    const key = e.slice(0, eq).trim().toLowerCase();
    const value = e.slice(eq + 1);
    switch (key) {
      case 'name':
        (f.name ??= []).push(value);
        break;
      case 'label':
        (f.label ??= []).push(value);
        break;
      case 'driver':
        (f.driver ??= []).push(value);
        break;
      case 'dangling': {
        const v = value.toLowerCase();
        if (v === 'true' || v === '1') f.dangling = true;
        else if (v === 'false' || v === '0') f.dangling = false;
        else throw new CliError(`invalid filter 'dangling=${value}'`, { exitCode: 1 });
        break;
      }
      default:
        throw new CliError(`invalid filter '${key}'`, { exitCode: 1 });
    }
  }
  return f;
}

const LS_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  CreatedAt: 'CREATED',
};

/** A `volume ls` row (docker/cli formatter/volume.go's fields: Labels as `k=v,…`, Links and Size N/A). */
export function volumeRow(v: VolumeInspect): Record<string, string> {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels).map(([k, val]) => `${k}=${val}`).join(','),
    Links: 'N/A',
    Size: 'N/A',
    CreatedAt: v.CreatedAt,
  };
}

async function listVolumesCmd(flags: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command, ctx: CliContext): Promise<void> {
  const filters = parseVolumeFilters(flags.filter ?? []);
  const format = parseFormat(flags.format, '{{.Driver}}\t{{.Name}}');
  if (!flags.quiet && !format.json) renderTemplate(format.body, LS_HEADERS);
  const volumes = await (await lib()).listVolumes({ root: rootOf(ctx, cmd), filters });
  if (flags.quiet) return out(volumes.map((v) => `${v.Name}\n`).join(''));
  if (format.json) return out(volumes.map((v) => `${goJson(volumeRow(v))}\n`).join(''));
  out(renderRows(format, volumes.map(volumeRow), LS_HEADERS));
}

async function each(ctx: FailureSink, names: string[], fn: (name: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const n of names) {
    try {
      await fn(n);
    } catch (err) {
      reportFailure(ctx, err);
      code = ctx.exitCode;
    }
  }
  return code;
}

/** Adds `volume` (create, ls, inspect, rm, prune). */
export function addVolumeCommands(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('Manage volumes').usage('COMMAND').helpCommand(false);

  volume
    .command('create')
    .description('Create a volume')
    .usage('[OPTIONS] [VOLUME]')
    .argument('[name]', 'The volume name (default: 64 random hex digits)')
    .option('--name <name>', 'Specify volume name')
    .option('-d, --driver <driver>', 'Specify volume driver name', 'local')
    .option('--label <key=value>', 'Set metadata for a volume', collect)
    .option('-o, --opt <key=value>', 'Set driver specific options', collect)
    .option('--root <dir>', ROOT_HELP)
    .action((name: string | undefined, flags: { name?: string; driver: string; label?: string[]; opt?: string[] }, cmd: Command) =>
      guard(ctx, async () => {
        // Docker: "conflicting options: either specify --name or provide positional arg, not both".
        if (name !== undefined && flags.name !== undefined && name !== flags.name) {
          throw new CliError('conflicting options: either specify --name or provide positional arg, not both', { exitCode: 1 });
        }
        if (flags.opt?.length) throw new CliError('pocker\'s local driver takes no options (-o/--opt)', { exitCode: 1 });
        const labels = parseVolumeLabels(flags.label ?? []);
        const given = name ?? flags.name;
        const v = await (await lib()).createVolume({ root: rootOf(ctx, cmd), labels, driver: flags.driver, ...(given !== undefined ? { name: given } : {}) });
        out(`${v.Name}\n`);
      }),
    );

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .usage('[OPTIONS]')
    .option('-q, --quiet', 'Only display volume names')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true", "name=NAME", "label=KEY[=VALUE]", "driver=local")', collect)
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('--root <dir>', ROOT_HELP)
    .action((flags: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => guard(ctx, () => listVolumesCmd(flags, cmd, ctx)));

  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .usage('[OPTIONS] VOLUME [VOLUME...]')
    .argument('<names...>', 'Volume names')
    .option('-f, --format <format>', 'Format output using a custom template')
    .option('--root <dir>', ROOT_HELP)
    .action((names: string[], flags: { format?: string }, cmd: Command) =>
      guard(ctx, async () => {
        const { inspectVolume } = await lib();
        const root = rootOf(ctx, cmd);
        const found: VolumeInspect[] = [];
        const code = await each(ctx, names, async (n) => void found.push(await inspectVolume(n, { root })));
        if (flags.format !== undefined && flags.format !== '' && flags.format !== 'json') {
          const body = flags.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
          out(found.map((v) => `${renderTemplate(body, v as unknown as Record<string, unknown>)}\n`).join(''));
        } else {
          out(`${goJson(found, '    ')}\n`);
        }
        return code;
      }),
    );

  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes')
    .usage('[OPTIONS] VOLUME [VOLUME...]')
    .argument('<names...>', 'Volume names')
    .option('-f, --force', 'Do not error when a volume does not exist')
    .option('--root <dir>', ROOT_HELP)
    .action((names: string[], flags: { force?: boolean }, cmd: Command) =>
      guard(ctx, async () => {
        const { removeVolume } = await lib();
        const root = rootOf(ctx, cmd);
        return each(ctx, names, async (n) => {
          await removeVolume(n, { root, force: flags.force === true });
          out(`${n}\n`);
        });
      }),
    );

  volume
    .command('prune')
    .description('Remove unused local volumes')
    .usage('[OPTIONS]')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect)
    .option('--root <dir>', ROOT_HELP)
    .action((flags: { all?: boolean; force?: boolean; filter?: string[] }, cmd: Command) =>
      guard(ctx, async () => {
        const filters: { label: string[]; 'label!': string[] } = { label: [], 'label!': [] };
        for (const f of flags.filter ?? []) {
          const m = /^(label!?)=(.*)$/s.exec(f);
          if (!m) throw new CliError(`invalid filter '${f.split('=')[0]}'`, { exitCode: 1 });
          filters[m[1] as 'label' | 'label!'].push(m[2]!);
        }
        if (!flags.force) {
          // docker/cli cli/command/volume/prune.go's warnings.
          const warning = flags.all
            ? 'WARNING! This will remove all local volumes not used by at least one container.'
            : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
          if (!(await confirm(warning))) return 0;
        }
        const r = await (await lib()).pruneVolumes({ root: rootOf(ctx, cmd), all: flags.all === true, filters });
        out(volumePruneReport(r.deleted, r.reclaimedBytes));
        return 0;
      }),
    );
}

/** `Deleted Volumes:` and the space, as `volume prune` prints them. */
export function volumePruneReport(deleted: readonly string[], reclaimed: number, total = true): string {
  const list = deleted.length ? `Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n` : '';
  return total ? `${list}Total reclaimed space: ${humanSize(reclaimed)}\n` : list;
}
