// `pocker update [OPTIONS] CONTAINER...`: new limits for containers (lib/runtime/update.ts), with
// Docker's flags and output (each container's name or id as given, an error per container).
import type { Command } from 'commander';

import { reportFailure } from './failure.js';
import { integer, rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

interface UpdateFlags {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  restart?: string;
  root?: string;
}

export function addUpdateCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('update')
    .description('Update configuration of one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    .option('--cpus <number>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', integer)
    .option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'Tune container pids limit (-1 for unlimited)', integer)
    .option('--restart <policy>', 'Restart policy to apply when a container exits')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (refs: string[], flags: UpdateFlags, cmd: Command) => {
      const { updateContainer } = await import('../runtime/update.js');
      const root = rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
      const options = {
        root,
        ...(flags.memory !== undefined ? { memory: flags.memory } : {}),
        ...(flags.memorySwap !== undefined ? { memorySwap: flags.memorySwap } : {}),
        ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
        ...(flags.cpuShares !== undefined ? { cpuShares: flags.cpuShares } : {}),
        ...(flags.cpusetCpus !== undefined ? { cpusetCpus: flags.cpusetCpus } : {}),
        ...(flags.pidsLimit !== undefined ? { pidsLimit: flags.pidsLimit } : {}),
        ...(flags.restart !== undefined ? { restart: flags.restart } : {}),
      };
      let code = 0;
      for (const ref of refs) {
        try {
          await updateContainer(ref, options);
          writeStdout(`${ref}\n`);
        } catch (err) {
          reportFailure(ctx, err);
          code = ctx.exitCode ?? 1;
        }
      }
      ctx.exitCode = code;
    });
}
