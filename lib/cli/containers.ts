// `pocker ps | stop | kill | wait | rm | inspect`: the lifecycle commands over the on-disk state
// (containers/<id>/config.json and the monitor's state.json), with Docker's output. The work is in
// lib/state/api.ts; this file parses flags and prints.
import type { Command } from 'commander';

import type { ContainerInfo } from '../state/api.js';
import type { CliContext } from './run.js';

const ROOT_HELP = 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)';

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return flags.root ?? cmd.parent?.opts<{ root?: string }>().root ?? (ctx.env.POCKER_ROOT || '/var/lib/pocker');
}

function commandText(c: ContainerInfo, noTrunc: boolean): string {
  const cmd = c.command;
  // Docker: truncated to 20 characters with an ellipsis, then quoted.
  const short = !noTrunc && [...cmd].length > 20 ? `${[...cmd].slice(0, 19).join('')}…` : cmd;
  return JSON.stringify(short);
}

/** Docker's tabwriter: columns padded to the widest cell plus 3 spaces. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 3))).join('').trimEnd() + '\n')
    .join('');
}

/** Runs `fn` for each ref; prints `pocker: <message>` for those that fail and sets exit code 1. */
async function each(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<void>): Promise<void> {
  ctx.exitCode = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      ctx.writeErr(`pocker: ${(err as Error).message}\n`);
      ctx.exitCode = 1;
    }
  }
}

export function addContainerCommands(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .description('List containers')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', 'Format output: "table" or "json"', 'table')
    .option('--root <dir>', ROOT_HELP)
    .action(async (flags: { all?: boolean; quiet?: boolean; trunc: boolean; format: string; root?: string }, cmd: Command) => {
      const api = await import('../state/api.js');
      const { humanDuration } = await import('../state/containers.js');
      if (flags.format !== 'table' && flags.format !== 'json') {
        ctx.writeErr(`pocker: invalid --format ${JSON.stringify(flags.format)}: "table" or "json"\n`);
        ctx.exitCode = 125;
        return;
      }
      const now = Date.now();
      const list = api.listContainers({ all: !!flags.all, root: rootOf(ctx, flags, cmd) });
      const id = (c: ContainerInfo) => (flags.trunc ? c.id.slice(0, 12) : c.id);
      ctx.exitCode = 0;
      if (flags.quiet) {
        process.stdout.write(list.map((c) => `${id(c)}\n`).join(''));
        return;
      }
      const created = (c: ContainerInfo) => {
        const t = Date.parse(c.created);
        return t > 0 ? `${humanDuration(now - t)} ago` : '';
      };
      if (flags.format === 'json') {
        for (const c of list) {
          const line = {
            Command: commandText(c, !flags.trunc),
            CreatedAt: c.created,
            ID: id(c),
            Image: c.image,
            Labels: '',
            LocalVolumes: '0',
            Mounts: '',
            Names: c.name,
            Networks: '',
            Ports: '',
            RunningFor: created(c),
            Size: '0B',
            State: c.status === 'restarting' ? 'running' : c.status,
            Status: c.statusText,
          };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        }
        return;
      }
      const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
      for (const c of list) rows.push([id(c), c.image, commandText(c, !flags.trunc), created(c), c.statusText, '', c.name]);
      process.stdout.write(table(rows));
    });

  program
    .command('stop')
    .description('Stop one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-t, --time <seconds>', 'Seconds to wait before killing the container', '10')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { time: string; root?: string }, cmd: Command) => {
      const grace = Number(flags.time);
      if (!Number.isInteger(grace)) {
        ctx.writeErr(`pocker: invalid -t ${JSON.stringify(flags.time)}: a whole number of seconds\n`);
        ctx.exitCode = 125;
        return;
      }
      const { stopContainer } = await import('../state/api.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await stopContainer(ref, { timeout: grace, root });
        process.stdout.write(`${ref}\n`);
      });
    });

  program
    .command('kill')
    .description('Kill one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-s, --signal <signal>', 'Signal to send to the container', 'KILL')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { signal: string; root?: string }, cmd: Command) => {
      const { signalNumber } = await import('../runtime/run.js');
      let sig: number;
      try {
        sig = signalNumber(/^\d+$/.test(flags.signal) ? Number(flags.signal) : (flags.signal as NodeJS.Signals));
      } catch (err) {
        ctx.writeErr(`pocker: ${(err as Error).message}\n`);
        ctx.exitCode = 125;
        return;
      }
      const { killContainer } = await import('../state/api.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await killContainer(ref, { signal: sig, root });
        process.stdout.write(`${ref}\n`);
      });
    });

  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      const { waitContainer } = await import('../state/api.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        const end = await waitContainer(ref, { root });
        process.stdout.write(`${end.exitCode}\n`);
      });
    });

  program
    .command('rm')
    .description('Remove one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { force?: boolean; root?: string }, cmd: Command) => {
      const { removeContainer } = await import('../state/api.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await removeContainer(ref, { force: !!flags.force, root });
        process.stdout.write(`${ref}\n`);
      });
    });

  program
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      const { inspectContainer } = await import('../state/api.js');
      const root = rootOf(ctx, flags, cmd);
      const out: unknown[] = [];
      await each(ctx, refs, async (ref) => {
        out.push(inspectContainer(ref, { root }));
      });
      process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    });
}
