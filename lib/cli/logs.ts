// `pocker logs [-f] [--tail N] [-t] CONTAINER`: a detached container's json-file log, stdout and
// stderr kept apart, as Docker prints them (read by lib/state/api.ts containerLogs / followLogs).
import type { Command } from 'commander';

import type { LogEntry } from '../state/api.js';
import type { CliContext } from './run.js';

interface LogsFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  root?: string;
}

export function addLogsCommand(program: Command, ctx: CliContext): Command {
  return program
    .command('logs')
    .description('Fetch the logs of a container')
    .usage('[OPTIONS] CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <n>', 'Number of lines to show from the end of the logs (default "all")')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--root <dir>', 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)')
    .action(async (ref: string, flags: LogsFlags, cmd: Command) => {
      const api = await import('../state/api.js');
      const root = flags.root ?? cmd.parent?.opts<{ root?: string }>().root ?? (ctx.env.POCKER_ROOT || '/var/lib/pocker');
      const tail = flags.tail === undefined || flags.tail === 'all' ? Infinity : Number(flags.tail);
      if (!(tail >= 0)) {
        ctx.writeErr(`pocker: invalid --tail ${JSON.stringify(flags.tail)}: a number or "all"\n`);
        ctx.exitCode = 125;
        return;
      }
      const options = { tail, timestamps: !!flags.timestamps, root };
      let entries: Iterable<LogEntry> | AsyncIterable<LogEntry>;
      try {
        entries = flags.follow ? api.followLogs(ref, options) : api.containerLogs(ref, options);
      } catch (err) {
        ctx.writeErr(`pocker: ${(err as Error).message}\n`);
        ctx.exitCode = 1;
        return;
      }
      ctx.exitCode = 0;
      for await (const e of entries) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.log);
    });
}
