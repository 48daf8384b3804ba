// The `pocker` CLI: a thin layer over the library. One file per command; this one builds the whole
// program (every command: what the tests, `pocker help` and completion see) and maps the outcome
// to an exit code. The shell (global options, errors, argv) is ./program.ts; the bundled CLI's
// entry, ./entry.ts, registers only the command that runs and loads this module for the rest.
import type { Command } from 'commander';
import { addImageCommands } from './images.js';
import { addContainerCommands } from './containers.js';
import { addArchiveCommands } from './load.js';
import { addCommitExportCommands } from './commit.js';
import { addLifecycleCommands } from './lifecycle.js';
import { addExecCommand } from './exec.js';
import { addLogsCommand } from './logs.js';
import { addEventsCommand } from './events.js';
import { addDiffCommand } from './diff.js';
import { addUpdateCommand } from './update.js';
import { addPauseCommands } from './pause.js';
import { addPullCommand } from './pull.js';
import { addPortCommand } from './port.js';
import { addNetworkCommands } from './network.js';
import { addAttachCommands } from './attach.js';
import { UsageError } from './failure.js';
import { useBlockingReads } from '../fsutil.js';
import { addInfoCommands } from './info.js';
import { addCompletionCommand } from './completion.js';
import { addCreateCommand, addRunCommand, executeRun, type CliContext } from './run.js';
import { addVolumeCommands } from './volume.js';
import { cliMain, CONTAINER_ALIASES, createBaseProgram, runProgram, version } from './program.js';
import { writeStdout } from './stdio.js';

export {
  checkStoreReadable, CommandUsageError, commanderExitCode, createBaseProgram, normalizeArgv, usageFailure, version,
} from './program.js';

/** `pocker help [COMMAND...]`: the command's help on stdout (Docker's help command). */
export function addHelpCommand(program: Command): void {
  program
    .command('help')
    .description('Help about any command')
    .usage('[COMMAND]')
    .helpOption('--help', 'Print usage')
    .argument('[command...]', 'The command (and subcommand) to describe')
    .action((names: string[]) => {
      let target: Command = program;
      const path = names[0] === 'container' && names[1] && CONTAINER_ALIASES[names[1]] ? [CONTAINER_ALIASES[names[1]]!, ...names.slice(2)] : names;
      for (const name of path) {
        const sub = target.commands.find((c) => c.name() === name || c.aliases().includes(name));
        // Docker (cmd/docker/docker.go setupHelpCommand): "unknown help topic: <args>", exit 1.
        if (!sub) throw new UsageError(`pocker: unknown help topic: ${names.join(' ')}`, 1);
        target = sub;
      }
      writeStdout(target.helpInformation());
    });
}

/** Builds the program. Parse it once: commander keeps option values between parses. */
export function createProgram(ctx: CliContext): Command {
  const program = createBaseProgram(ctx);
  addRunCommand(program, ctx);
  addCreateCommand(program, ctx);
  addAttachCommands(program, ctx);
  addPullCommand(program, ctx);
  addVolumeCommands(program, ctx);
  addLogsCommand(program, ctx);
  addExecCommand(program, ctx);
  addImageCommands(program, ctx);
  addArchiveCommands(program, ctx);
  addContainerCommands(program, ctx);
  addLifecycleCommands(program, ctx);
  addCommitExportCommands(program, ctx);
  addEventsCommand(program, ctx);
  addDiffCommand(program, ctx);
  addUpdateCommand(program, ctx);
  addPauseCommands(program, ctx);
  addInfoCommands(program, ctx, version);
  addHelpCommand(program);
  addCompletionCommand(program);
  addPortCommand(program, ctx);
  addNetworkCommands(program, ctx);
  return program;
}

/** Parses `argv` (process.argv's shape) and runs the command; resolves with the exit code. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  return runProgram(argv, ctx, () => createProgram(ctx));
}

/** The CLI's entry with the whole program: runs `argv` and sets process.exitCode. */
export function main(argv: string[]): Promise<number> {
  useBlockingReads(); // one command per process (./entry.ts)
  return cliMain(argv, executeRun, (_normalized, ctx) => createProgram(ctx));
}
