// How a failure becomes a message and an exit code: the CLI's one mapper, with Docker's conventions.
//
//   style      commands                               a library error exits   message
//   command    images, rmi, ps' listing, rm, stop...  1                         pocker: <message>
//   usage      a bad flag value, commander, main      125                       pocker: <message>
//   run        run, create, exec                      127 / 126 when the        pocker: exec: "<cmd>": <why>, else
//                                                     command cannot be run,    pocker: <message>
//                                                     else 125
//   start      start -a, attach                       1                         as run
//
// A CliError (the CLI's own failure: usage, a terminal, a bad --format template) carries its exit
// code (125 unless told otherwise; 1 for a template, as Docker's) in every style; a UsageError is a whole text in Docker's words
// (./usage.ts), printed as it is. The library's `step` is shown only in debug mode (`pocker -D` /
// `--debug`, Docker's global flag): ` (step: <step>)` after the message.
import { PockerError, type PockerErrorCode } from '../errors.js';

export type FailureStyle = 'command' | 'usage' | 'run' | 'start';

/** A failure of the CLI itself (usage, terminal): a PockerError (step `cli`) with the exit code Docker gives it. */
export class CliError extends PockerError {
  readonly exitCode: number;
  constructor(message: string, opts: { exitCode?: number; code?: PockerErrorCode; path?: string; cause?: unknown } = {}) {
    super(message, {
      code: opts.code ?? 'ERR_POCKER_INVALID',
      step: 'cli',
      ...(opts.path !== undefined ? { path: opts.path } : {}),
      ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
    });
    this.name = 'CliError';
    this.exitCode = opts.exitCode ?? 125;
  }
}

/**
 * A bad `--format` template (Docker: "template parsing error: <Go's error>", a plain error: exit 1,
 * as `docker ps`/`images` return formatter.ContainerWrite's error; inspect/info/version say 64
 * for one that does not parse, and set it). Go's
 * error says which kind: `template: :1: unclosed action` (parsing) or `template: :1:2: executing
 * "" at <.Nope>: ...` (execution, `execution` true).
 */
export class TemplateError extends CliError {
  readonly execution: boolean;
  constructor(message: string, opts: { execution?: boolean; exitCode?: number } = {}) {
    super(message, { exitCode: opts.exitCode ?? 1 });
    this.name = 'TemplateError';
    this.execution = opts.execution === true;
  }
}

/** A usage error already worded in full as Docker words it (several lines, no `pocker:` added). */
export class UsageError extends CliError {
  constructor(text: string, exitCode: number) {
    super(text, { exitCode });
    this.name = 'UsageError';
  }
}

const execErrorText: Partial<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOEXEC: 'exec format error',
  EISDIR: 'is a directory',
};

/**
 * The message (one line, no newline) and exit code of a failed command. `command` is the program
 * the container was asked to run (for `run`'s exec errors; defaults to the error's path, then /bin/sh).
 */
export function cliFailure(err: unknown, style: FailureStyle = 'command', command?: string, debug = false): { exitCode: number; message: string } {
  if (err instanceof UsageError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof TemplateError) return { exitCode: err.exitCode, message: `pocker: template parsing error: ${err.message}` };
  if (err instanceof CliError) return { exitCode: err.exitCode, message: `pocker: ${err.message}` };
  const e = (err ?? {}) as { message?: unknown; code?: unknown; step?: unknown; path?: unknown };
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  if (style === 'command') return { exitCode: 1, message: `pocker: ${message}` };
  if (style === 'usage') return { exitCode: 125, message: `pocker: ${message}` };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const step = typeof e.step === 'string' ? e.step : undefined;
  const exit = (n: number) => (style === 'run' ? n : 1);
  if (step === 'exec' && code !== undefined) {
    const cmd = command ?? (typeof e.path === 'string' ? e.path : undefined) ?? '/bin/sh';
    if (code === 'ENOENT') {
      const why = cmd.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
      return { exitCode: exit(127), message: `pocker: exec: ${JSON.stringify(cmd)}: ${why}` };
    }
    const why = execErrorText[code];
    if (why !== undefined) return { exitCode: exit(126), message: `pocker: exec: ${JSON.stringify(cmd)}: ${why}` };
  }
  return { exitCode: exit(125), message: `pocker: ${message}${step && debug ? ` (step: ${step})` : ''}` };
}

/** Where a command reports: its stderr and exit code (the CliContext's). */
export interface FailureSink {
  writeErr: (text: string) => void;
  exitCode: number;
  /** Debug mode (`pocker -D`): failures show the library's step. */
  debug?: boolean;
}

/**
 * Prints a failure (cliFailure) and sets the exit code. With `helpFor` (a command path: `pocker
 * run`), an invalid flag value (ERR_POCKER_INVALID, exit 125) gets Docker's pointer to that
 * command's help, as `docker run` adds it (cli/command/container/run.go withHelp): "docker: <error>
 * \n\nRun 'docker run --help' for more information".
 */
export function reportFailure(ctx: FailureSink, err: unknown, style: FailureStyle = 'command', command?: string, helpFor?: string): void {
  const { exitCode, message } = cliFailure(err, style, command, ctx.debug === true);
  const invalid = (err as { code?: unknown } | null)?.code === 'ERR_POCKER_INVALID' && !(err instanceof UsageError) && !(err instanceof TemplateError);
  const help = helpFor !== undefined && invalid && exitCode === 125 ? `\n\nRun '${helpFor} --help' for more information` : '';
  ctx.writeErr(`${message}${help}\n`);
  ctx.exitCode = exitCode;
}

/** Runs a command body (exit code 0, or what it returns); a failure is reported in `style`. */
export async function guard(ctx: FailureSink, body: () => Promise<number | void>, style: FailureStyle = 'command'): Promise<void> {
  ctx.exitCode = 0;
  try {
    ctx.exitCode = (await body()) ?? 0;
  } catch (err) {
    reportFailure(ctx, err, style);
  }
}
