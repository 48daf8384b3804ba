// `pocker commit` (a container's changes → a new image; prints `sha256:<id>`) and `pocker export`
// (a container's filesystem → a tar on stdout or -o FILE), with Docker's flags. The work is in
// lib/image/commit.ts and lib/image/export.ts, loaded only when a command runs.
import type { Writable } from 'node:stream';
import type { Command } from 'commander';

import { CliError, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { writeStdout } from './stdio.js';

interface CommitFlags {
  change?: string[];
  message?: string;
  author?: string;
  pause?: boolean;
  root?: string;
}

interface ExportFlags {
  output?: string;
  root?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The state root: the command's --root, the program's --root, $POCKER_ROOT, then the default. */
async function rootOf(flags: { root?: string }, cmd: Command, ctx: CliContext): Promise<string> {
  const given = rootFlag(ctx, flags, cmd);
  if (given !== undefined) return given;
  const { defaultStoreRoot } = await import('../image/store.js');
  return defaultStoreRoot(ctx.env);
}


function addCommit(command: Command, ctx: CliContext): void {
  command
    .description("Create a new image from a container's changes")
    .usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'The container (id, id prefix or name)')
    .argument('[reference]', 'REPOSITORY[:TAG] to name the image')
    .option('-a, --author <author>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)', collect)
    .option('-m, --message <message>', 'Commit message')
    .option('-p, --pause', 'Pause container during commit (default)', true)
    .option('--no-pause', 'Do not pause the container during commit')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (container: string, reference: string | undefined, flags: CommitFlags, cmd: Command) => {
      try {
        const root = await rootOf(flags, cmd, ctx);
        const { commitContainer } = await import('../image/commit.js');
        const id = await commitContainer(root, container, {
          ...(reference !== undefined ? { reference } : {}),
          changes: flags.change ?? [],
          ...(flags.message !== undefined ? { message: flags.message } : {}),
          ...(flags.author !== undefined ? { author: flags.author } : {}),
          pause: flags.pause !== false,
        });
        writeStdout(`${id}\n`);
        ctx.exitCode = 0;
      } catch (err) {
        reportFailure(ctx, err);
      }
    });
}

function addExport(command: Command, ctx: CliContext): void {
  command
    .description("Export a container's filesystem as a tar archive")
    .usage('[OPTIONS] CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'The container (id, id prefix or name)')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (container: string, flags: ExportFlags, cmd: Command) => {
      try {
        const root = await rootOf(flags, cmd, ctx);
        if ((flags.output === undefined || flags.output === '-') && process.stdout.isTTY) {
          throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', { exitCode: 1 });
        }
        const { exportContainer } = await import('../image/export.js');
        if (flags.output === undefined || flags.output === '-') {
          await exportContainer(root, container, process.stdout as unknown as Writable);
        } else {
          const { writeToFile } = await import('./output.js');
          await writeToFile(flags.output, (out) => exportContainer(root, container, out));
        }
        ctx.exitCode = 0;
      } catch (err) {
        reportFailure(ctx, err);
      }
    });
}

/** `commit` and `export`; also as `container commit|export` when the `container` command exists. */
export function addCommitExportCommands(program: Command, ctx: CliContext): Command {
  addCommit(program.command('commit'), ctx);
  addExport(program.command('export'), ctx);
  const container = program.commands.find((c) => c.name() === 'container');
  if (container) {
    addCommit(container.command('commit'), ctx);
    addExport(container.command('export'), ctx);
  }
  return program;
}
