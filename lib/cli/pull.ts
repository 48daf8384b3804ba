// `pocker pull [-q] NAME[:TAG|@DIGEST]`: Docker's output (per-layer progress, Digest:, Status:,
// then the canonical reference).
import type { Command } from 'commander';

import { reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { writeStdout } from './stdio.js';

interface PullFlags {
  quiet?: boolean;
  platform?: string;
  insecureRegistry?: string[];
  root?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addPullCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('pull')
    .description('Download an image from a registry')
    .usage('[OPTIONS] NAME[:TAG|@DIGEST]')
    .helpOption('--help', 'Print usage')
    .argument('<name>', 'Image reference')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--platform <os/arch[/variant]>', 'Pick this platform from a multi-platform image')
    .option('--insecure-registry <host>', 'Reach this registry over plain HTTP (loopback ones always are)', collect)
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (name: string, flags: PullFlags, cmd: Command) => {
      const root = rootFlag(ctx, flags, cmd);
      const [{ pull }, { pullReporter }, { parsePlatform }] = await Promise.all([
        import('../image/pull.js'),
        import('./progress.js'),
        import('../image/registry.js'),
      ]);
      const report = pullReporter(process.stdout, flags.quiet ? { quiet: true } : {});
      try {
        const result = await pull(name, {
          ...(root ? { root } : {}),
          ...(flags.insecureRegistry ? { insecureRegistries: flags.insecureRegistry } : {}),
          ...(flags.platform ? { platform: parsePlatform(flags.platform) } : {}),
          onEvent: report,
        });
        report.stop();
        writeStdout(`${result.name}\n`);
        ctx.exitCode = 0;
      } catch (err) {
        report.stop();
        reportFailure(ctx, err);
      }
    });
}
