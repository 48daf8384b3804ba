// `pocker exec [-i] [-t] [-u USER] [-e KEY=VALUE] [-w DIR] CONTAINER COMMAND [ARG...]`: a new
// process in a running container, with run's stdio, pty and signal handling and exit codes.
import { constants as osConstants } from 'node:os';

import type { Command } from 'commander';

import { reportFailure } from './failure.js';
import { executeRun, resolveEnvFlags, rootFlag, type CliContext } from './run.js';

interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  user?: string;
  env?: string[];
  workdir?: string;
  root?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addExecCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('exec')
    .description('Execute a command in a running container')
    .usage('[OPTIONS] CONTAINER COMMAND [ARG...]')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .argument('<command...>', 'The command and its arguments')
    .passThroughOptions()
    .option('-i, --interactive', 'Keep STDIN open')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-d, --detach', 'Detached mode: run command in the background')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-e, --env <KEY[=VALUE]>', 'Set environment variables', collect)
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (container: string, command: string[], flags: ExecFlags, cmd: Command) => {
      const root = rootFlag(ctx, flags, cmd);
      const { exec } = await import('../runtime/exec.js');
      const env = flags.env?.length ? resolveEnvFlags(flags.env, ctx.env) : undefined;
      try {
        if (flags.detach) {
          // Docker's exec -d: started, then left to itself (its output is discarded).
          await exec(container, {
            cmd: command,
            detach: true,
            ...(env ? { env } : {}),
            ...(flags.user !== undefined ? { user: flags.user } : {}),
            ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
            ...(flags.tty ? { tty: true } : {}),
            ...(root ? { root } : {}),
          });
          ctx.exitCode = 0;
          return;
        }
        // Until the process is started, SIGTERM/SIGINT/SIGHUP end the CLI at once (executeRun would
        // hold them for a process that may never start: its setup can block on a hostile image's
        // files); the exec's pocker-init pair dies with this process (PR_SET_PDEATHSIG). Once it
        // runs, executeRun forwards them and the CLI ends when the process does.
        let started = false;
        const early = new Map<NodeJS.Signals, () => void>();
        for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
          const handler = (): void => {
            if (!started) process.exit(128 + osConstants.signals[signal]);
          };
          early.set(signal, handler);
          process.on(signal, handler);
        }
        const removeEarly = (): void => {
          for (const [signal, handler] of early) process.off(signal, handler);
        };
        // executeRun wires stdio/pty/signals from these fields; exec() gets the rest.
        ctx.exitCode = await executeRun(
          {
            ...(flags.tty ? { tty: true, stdio: 'pipe' as const } : { stdio: [flags.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'] as ['inherit' | 'ignore', 'inherit', 'inherit'] }),
            ...(flags.interactive ? { interactive: true } : {}),
          },
          async (o) => {
            const c = await exec(container, {
              cmd: command,
              ...(env ? { env } : {}),
              ...(flags.user !== undefined ? { user: flags.user } : {}),
              ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
              ...(o.tty ? { tty: true } : {}),
              ...(o.interactive ? { interactive: true } : {}),
              ...(o.ttySize ? { ttySize: o.ttySize } : {}),
              ...(o.stdio ? { stdio: o.stdio } : {}),
              ...(root ? { root } : {}),
            });
            started = true;
            return c;
          },
        ).finally(removeEarly);
      } catch (err) {
        // Docker: a missing or stopped container is the daemon's answer ("No such container",
        // "is not running"), exit 1 as for rm/stop; the process's own failures are 126/127.
        const code = (err as { code?: unknown }).code;
        const daemonsAnswer = code === 'ERR_POCKER_NOT_FOUND' || code === 'ERR_POCKER_AMBIGUOUS' || code === 'ERR_POCKER_NOT_RUNNING';
        reportFailure(ctx, err, daemonsAnswer ? 'command' : 'run', command[0]);
      }
    });
}
