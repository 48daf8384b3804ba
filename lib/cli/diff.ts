// `pocker diff CONTAINER`: what the container changed in its filesystem, as Docker prints it
// (`A /path`, `C /path`, `D /path`, sorted). The work is lib/state/diff.ts's.
import type { Command } from 'commander';

import { guard } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

const KIND = ['C', 'A', 'D'] as const;

export function addDiffCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .usage('CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action((ref: string, flags: { root?: string }, cmd: Command) =>
      guard(ctx, async () => {
        const { containerChanges } = await import('../state/diff.js');
        const changes = await containerChanges(ref, { root: rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env) });
        writeStdout(changes.map((c) => `${KIND[c.Kind]} ${c.Path}\n`).join(''));
      }),
    );
}
