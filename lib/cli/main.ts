// The `pocker` CLI: a thin layer over the library. One file per command; this one only builds the
// program and maps the outcome to an exit code. Keep it cheap: `pocker --version` must load
// nothing but commander (never the runtime or the native addon).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../paths.js';
import { addImageCommands } from './images.js';
import { addContainerCommands } from './containers.js';
import { addArchiveCommands } from './load.js';
import { addCommitExportCommands } from './commit.js';
import { addLifecycleCommands } from './lifecycle.js';
import { addExecCommand } from './exec.js';
import { addLogsCommand } from './logs.js';
import { addPullCommand } from './pull.js';
import { addPortCommand } from './port.js';
import { addAttachCommands } from './attach.js';
import { reportFailure } from './failure.js';
import { endQuietlyOnEpipe } from './output.js';
import { addCreateCommand, addRunCommand, executeRun, type CliContext } from './run.js';

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the program. Parse it once: commander keeps option values between parses. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('pocker')
    .description('A Linux container runtime for Node.js')
    .usage('[OPTIONS] COMMAND')
    .version(version(), '-v, --version', 'Print version information and quit')
    .helpOption('-h, --help', 'Print usage')
    .helpCommand(false)
    .option('--root <dir>', 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)')
    // Options after a subcommand belong to it; `run` then passes its command's options through.
    .enablePositionalOptions()
    .showHelpAfterError("Run 'pocker --help' for more information.")
    // Subcommands inherit these (commander copies them in .command()).
    .exitOverride()
    .configureOutput({
      writeErr: (text) => ctx.writeErr(text),
      outputError: (text, write) => write(`pocker: ${text.replace(/^error: /, '')}`),
    });
  addRunCommand(program, ctx);
  addCreateCommand(program, ctx);
  addAttachCommands(program, ctx);
  addPullCommand(program, ctx);
  addLogsCommand(program, ctx);
  addExecCommand(program, ctx);
  addImageCommands(program, ctx);
  addArchiveCommands(program, ctx);
  addContainerCommands(program, ctx);
  addLifecycleCommands(program, ctx);
  addCommitExportCommands(program, ctx);
  addPortCommand(program, ctx);
  return program;
}

/** Commander's own outcomes: help and version are successes; usage errors are 125, like Docker. */
export function commanderExitCode(err: CommanderError): number {
  if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
    return 0;
  }
  return 125;
}

/** Docker's `container` management commands that are the top-level ones under another name. */
const CONTAINER_ALIASES: Readonly<Record<string, string>> = {
  attach: 'attach', cp: 'cp', create: 'create', exec: 'exec', inspect: 'inspect', kill: 'kill', logs: 'logs',
  ls: 'ps', list: 'ps', ps: 'ps', rename: 'rename', restart: 'restart', rm: 'rm', run: 'run', start: 'start',
  stats: 'stats', stop: 'stop', top: 'top', wait: 'wait',
};

/**
 * What commander cannot say itself: `pocker [--root DIR] container ls …` is `pocker [--root DIR]
 * ps …` (Docker's management-command names; `container prune|commit|export` are commands of their
 * own), and `attach --sig-proxy` alone is Go's bare boolean flag (`--sig-proxy=true`).
 */
export function normalizeArgv(argv: string[]): string[] {
  let i = 2;
  while (argv[i] === '--root') i += 2;
  let out = argv;
  if (argv[i] === 'container') {
    const target = CONTAINER_ALIASES[argv[i + 1] ?? ''];
    if (target) out = [...argv.slice(0, i), target, ...argv.slice(i + 2)];
  }
  // Go's boolean flags take no separate value: a bare `attach --sig-proxy` is `--sig-proxy=true`
  // (commander would take the container's name as its value). Only the command's own options.
  if (out[i] === 'attach') {
    out = [...out];
    for (let j = i + 1; j < out.length && out[j]!.startsWith('-'); j++) {
      if (out[j] === '--sig-proxy') out[j] = '--sig-proxy=true';
      else if (out[j] === '--detach-keys' || out[j] === '--root') j++;
    }
  }
  return out;
}

/** Parses `argv` (process.argv's shape) and runs the command; resolves with the exit code. */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  try {
    await createProgram(ctx).parseAsync(normalizeArgv(argv));
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExitCode(err);
    reportFailure(ctx, err, 'usage');
    return ctx.exitCode;
  }
}

/**
 * The CLI's entry: runs `argv` and sets process.exitCode. The process then ends naturally; a
 * leaked handle cannot keep it alive past a short grace period.
 */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnEpipe();
  const code = await runCli(argv, {
    env: process.env,
    execute: executeRun,
    writeErr: (text) => process.stderr.write(text),
    exitCode: 0,
  });
  process.exitCode = code;
  // stdout/stderr are synchronous for files, pipes and terminals on Linux, and `run` has already
  // waited for the container's output to drain: nothing is lost by ending now if something
  // (a stray handle) would otherwise keep the loop alive. unref: never delays a natural exit.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
