// `pocker pause CONTAINER...` and `pocker unpause CONTAINER...` (lib/runtime/pause.ts): each name
// as given on success, an error per container that failed (exit 1), as Docker prints them.
import type { Command } from 'commander';

import { reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

function addOne(program: Command, ctx: CliContext, verb: 'pause' | 'unpause'): void {
  program
    .command(verb)
    .description(verb === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      const { pauseContainer, unpauseContainer } = await import('../runtime/pause.js');
      const root = rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
      let code = 0;
      for (const ref of refs) {
        try {
          await (verb === 'pause' ? pauseContainer : unpauseContainer)(ref, { root });
          writeStdout(`${ref}\n`);
        } catch (err) {
          reportFailure(ctx, err);
          code = ctx.exitCode ?? 1;
        }
      }
      ctx.exitCode = code;
    });
}

export function addPauseCommands(program: Command, ctx: CliContext): void {
  addOne(program, ctx, 'pause');
  addOne(program, ctx, 'unpause');
}
