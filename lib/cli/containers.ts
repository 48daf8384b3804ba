// `pocker ps | stop | kill | wait | rm | inspect`: the lifecycle commands over the on-disk state
// (containers/<id>/config.json and the monitor's state.json), with Docker's output. The work is in
// lib/state/api.ts; this file parses flags and prints (`ps`, the biggest, is in ./ps.ts).
import type { Command } from 'commander';

import { addPsCommand } from './ps.js';
import { CliError, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';

const ROOT_HELP = 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)';

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return rootFlag(ctx, flags, cmd) ?? DEFAULT_STATE_ROOT;
}

/** Runs `fn` for each ref; prints `pocker: <message>` for those that fail and sets exit code 1. */
async function each(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<void>): Promise<void> {
  ctx.exitCode = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      reportFailure(ctx, err);
    }
  }
}

export function addContainerCommands(program: Command, ctx: CliContext): void {
  addPsCommand(program, ctx, (flags, cmd) => rootOf(ctx, flags, cmd));

  program
    .command('stop')
    .description('Stop one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-t, --time <seconds>', "Seconds to wait before killing the container (default: its --stop-timeout, else 10)")
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { time?: string; root?: string }, cmd: Command) => {
      const grace = flags.time === undefined ? undefined : Number(flags.time);
      if (grace !== undefined && !Number.isInteger(grace)) {
        reportFailure(ctx, new CliError(`invalid -t ${JSON.stringify(flags.time)}: a whole number of seconds`));
        return;
      }
      const { stopContainer } = await import('../runtime/lifecycle.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await stopContainer(ref, { ...(grace !== undefined ? { timeout: grace } : {}), root });
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
      const { signalNumber } = await import('../signals.js');
      let sig: number;
      try {
        sig = signalNumber(/^\d+$/.test(flags.signal) ? Number(flags.signal) : (flags.signal as NodeJS.Signals));
      } catch (err) {
        reportFailure(ctx, new CliError(`${(err as Error).message}`));
        return;
      }
      const { killContainer } = await import('../runtime/lifecycle.js');
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
      const { waitContainer } = await import('../runtime/lifecycle.js');
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
      const { removeContainer } = await import('../runtime/lifecycle.js');
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
