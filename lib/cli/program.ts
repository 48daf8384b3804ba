// The program's shell, shared by the full CLI (./main.ts: every command registered, for the tests,
// help and completion) and the bundled entry (./entry.ts: only the command that runs is loaded and
// registered): the global options, the pre-action checks, commander's errors in Docker's words,
// argv normalization. It imports no command module, so nothing here loads the runtime.
import { accessSync, constants as fsConstants, existsSync, fstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../paths.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { CliError, reportFailure, UsageError } from './failure.js';
import { argumentCountMessage, commandPath, flagErrorMessage, pflagMessage, unknownCommandMessage } from './usage.js';
import type { CliContext, RunExecutor } from './run.js';
import { whenStdioMade, writeStderr, writeStdout } from './stdio.js';

/** package.json's version, written into a bundle by scripts/bundle-cli.mjs (undefined in the ES modules). */
declare const __pockerVersion: string | undefined;

/**
 * The version in package.json: a bundle's copy of it (made from the same package.json; reading and
 * parsing the file cost ~0.5 ms of every bundled command's start), else the file's.
 */
export function version(): string {
  if (typeof __pockerVersion === 'string') return __pockerVersion;
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * A commander error in the command where it happened (its code and commander's message): the CLI
 * words it as Docker does (./usage.ts) before anything is printed.
 */
export class CommandUsageError extends CliError {
  constructor(readonly command: Command, readonly commanderCode: string, message: string) {
    super(message);
    this.name = 'CommandUsageError';
  }
}

/**
 * commander's Command, whose parse errors are thrown (never printed in commander's words): every
 * subcommand made by `.command()` is one too.
 */
class PockerCommand extends Command {
  override createCommand(name?: string): Command {
    return new PockerCommand(name);
  }

  override error(message: string, errorOptions?: { code?: string; exitCode?: number }): never {
    throw new CommandUsageError(this, errorOptions?.code ?? 'commander.error', message);
  }
}

/** Docker's text and exit code for a commander parse error; `argv` tells which spelling of a flag was typed. */
export function usageFailure(err: CommandUsageError, argv: readonly string[] = []): UsageError {
  const cmd = err.command;
  switch (err.commanderCode) {
    case 'commander.unknownCommand':
      return new UsageError(unknownCommandMessage(cmd, cmd.args[0] ?? ''), 1);
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return new UsageError(argumentCountMessage(cmd), 1);
    case 'commander.invalidArgument': {
      // A positional argument outside its choices: cobra's OnlyValidArgs, `invalid argument "x" for "docker completion"` (exit 1).
      const value = /^error: command-argument value '([\s\S]*)' is invalid/.exec(err.message)?.[1];
      if (value !== undefined) return new UsageError(`pocker: invalid argument ${JSON.stringify(value)} for ${JSON.stringify(commandPath(cmd))}`, 1);
      return new UsageError(flagErrorMessage(cmd, pflagMessage(err.commanderCode, err.message, argv) ?? err.message), 125);
    }
    default: {
      const flag = pflagMessage(err.commanderCode, err.message, argv);
      return new UsageError(flagErrorMessage(cmd, flag ?? err.message.replace(/^error: /, '')), 125);
    }
  }
}

/** Commands whose default store is the image store's (the caller's own when not root): only an explicit root is checked. */
const IMAGE_STORE_COMMANDS = new Set(['images', 'rmi', 'tag', 'image', 'pull', 'load', 'save', 'import', 'system']);
/** Commands that never read a store, or (run, create, exec) say themselves that they need root. */
const STORELESS_COMMANDS = new Set(['help', 'version', 'completion', 'login', 'logout', 'run', 'create', 'exec']);

/**
 * A store this user cannot read is an error, not an empty listing (Docker: "permission denied
 * while trying to connect to the Docker daemon socket at ...", exit 1): `root` and its
 * `containers` directory must be readable and searchable when they exist.
 */
export function checkStoreReadable(root: string): void {
  for (const dir of [root, join(root, 'containers')]) {
    if (dir !== root && !existsSync(dir)) continue;
    try {
      accessSync(dir, fsConstants.R_OK | fsConstants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dir === root) return;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new CliError(`permission denied while trying to read the pocker store at ${root}: run as root`, {
          exitCode: 1,
          code: 'EACCES',
          path: dir,
          cause: err,
        });
      }
    }
  }
}

/** The first command under the program in `cmd`'s chain (`image` for `pocker image ls`). */
function topCommand(cmd: Command): Command {
  let c = cmd;
  while (c.parent?.parent) c = c.parent;
  return c;
}

/** Before any command's action: debug mode, and a readable store. */
function beforeAction(program: Command, action: Command, ctx: CliContext): void {
  ctx.debug = program.opts<{ debug?: boolean }>().debug === true;
  const top = topCommand(action).name();
  if (STORELESS_COMMANDS.has(top)) return;
  const given = action.optsWithGlobals<{ root?: string }>().root ?? (ctx.env.POCKER_ROOT || undefined);
  if (given !== undefined) checkStoreReadable(given);
  else if (!IMAGE_STORE_COMMANDS.has(top)) checkStoreReadable(defaultStateRoot(ctx.env));
}

/**
 * process.stdout (fd 1) or process.stderr (fd 2) when it is a terminal, else undefined. Making the
 * stream costs 3-5 ms (./stdio.ts), so it is asked only when the fd may be a terminal: a character
 * device other than a memory device (major 1: /dev/null, /dev/zero, …). A regular file, pipe or
 * socket never is one.
 */
function terminalStream(fd: 1 | 2): NodeJS.WriteStream | undefined {
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    return undefined;
  }
  if (!st.isCharacterDevice() || ((st.rdev >>> 8) & 0xfff) === 1) return undefined;
  const stream = fd === 1 ? process.stdout : process.stderr;
  return stream.isTTY ? stream : undefined;
}

/**
 * The program without its commands (global options, output, the pre-action hook). Parse it once:
 * commander keeps option values between parses.
 */
export function createBaseProgram(ctx: CliContext): Command {
  const program = new PockerCommand('pocker')
    .description('A Linux container runtime for Node.js')
    .usage('[OPTIONS] COMMAND')
    .version(version(), '-v, --version', 'Print version information and quit')
    .helpOption('-h, --help', 'Print usage')
    .helpCommand(false)
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .option('-D, --debug', 'Enable debug mode (failures name the step that failed)')
    // Options after a subcommand belong to it; `run` then passes its command's options through.
    .enablePositionalOptions()
    // Subcommands inherit these (commander copies them in .command()).
    .exitOverride()
    .configureOutput({
      writeOut: (text) => writeStdout(text),
      writeErr: (text) => ctx.writeErr(text),
      outputError: (text, write) => write(`pocker: ${text.replace(/^error: /, '')}`),
      // Commander asks process.stdout/stderr for a terminal's width and colours before any help;
      // only a terminal is asked (80: commander's width when it gets none).
      getOutHelpWidth: () => terminalStream(1)?.columns ?? 80,
      getErrHelpWidth: () => terminalStream(2)?.columns ?? 80,
      getOutHasColors: () => terminalStream(1)?.hasColors?.() ?? false,
      getErrHasColors: () => terminalStream(2)?.hasColors?.() ?? false,
    });
  program.hook('preAction', (_thisCommand, actionCommand) => beforeAction(program, actionCommand, ctx));
  return program;
}

/** Commander's own outcomes: help and version are successes; anything else a usage error (125, like Docker's flag errors). */
export function commanderExitCode(err: CommanderError): number {
  if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
    return 0;
  }
  return 125;
}

/** Docker's `container` management commands that are the top-level ones under another name. */
export const CONTAINER_ALIASES: Readonly<Record<string, string>> = {
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
  for (;;) {
    if (argv[i] === '--root') i += 2;
    else if (argv[i] === '-D' || argv[i] === '--debug' || argv[i]?.startsWith('--root=')) i += 1;
    else break;
  }
  let out = argv;
  if (argv[i] === 'container') {
    const target = CONTAINER_ALIASES[argv[i + 1] ?? ''];
    // `container inspect` is `inspect --type container` (Docker: "No such container: x", not "no such object").
    if (target === 'inspect') out = [...argv.slice(0, i), 'inspect', '--type', 'container', ...argv.slice(i + 2)];
    else if (target) out = [...argv.slice(0, i), target, ...argv.slice(i + 2)];
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

/**
 * Parses `argv` (process.argv's shape) with the program `build` makes for it and runs the command;
 * resolves with the exit code.
 */
export async function runProgram(argv: string[], ctx: CliContext, build: (argv: string[]) => Command | Promise<Command>): Promise<number> {
  try {
    const normalized = normalizeArgv(argv);
    await (await build(normalized)).parseAsync(normalized);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExitCode(err);
    reportFailure(ctx, err instanceof CommandUsageError ? usageFailure(err, argv) : err, 'usage');
    return ctx.exitCode;
  }
}

/**
 * The reader of stdout or stderr went away (EPIPE: `pocker logs … | head -1`, `pocker ps | head`):
 * the CLI ends at once with exit 0, as Docker's, without a stack trace. Any other error of these
 * streams is thrown, as Node would without a listener. Installed once, by main(), for every command:
 * on process.stdout and process.stderr when they are made (./stdio.ts: most commands never make
 * them, and writeStdout/writeStderr end the same way on EPIPE).
 */
export function endQuietlyOnEpipe(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    whenStdioMade(name, (s) => {
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
    });
  }
}

/**
 * The CLI's entry: runs `argv` with the program `build` makes and sets process.exitCode. The
 * process then ends naturally; a leaked handle cannot keep it alive past a short grace period.
 */
export async function cliMain(argv: string[], execute: RunExecutor, build: (argv: string[], ctx: CliContext) => Command | Promise<Command>): Promise<number> {
  endQuietlyOnEpipe();
  const ctx: CliContext = {
    env: process.env,
    execute,
    writeErr: (text) => writeStderr(text),
    exitCode: 0,
  };
  const code = await runProgram(argv, ctx, (normalized) => build(normalized, ctx));
  process.exitCode = code;
  // stdout/stderr are synchronous for files, pipes and terminals on Linux, and `run` has already
  // waited for the container's output to drain: nothing is lost by ending now if something
  // (a stray handle) would otherwise keep the loop alive. unref: never delays a natural exit.
  // When nothing keeps the loop alive (the usual end: `run` without a terminal, `ps`), the exit is
  // already natural and no timer is made (a process's first timer costs ~0.6 ms here: issue 12).
  if (process.getActiveResourcesInfo().length > 0) setTimeout(() => process.exit(code), 500).unref();
  return code;
}
