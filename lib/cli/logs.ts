// `pocker logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`: a detached container's
// json-file log, stdout and stderr kept apart, as Docker prints them (read by lib/state/api.ts
// containerLogs / followLogs; times parsed by lib/state/timestamps.ts).
import type { Command } from 'commander';

import type { LogEntry } from '../state/api.js';
import { CliError, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { DEFAULT_STATE_ROOT } from '../paths.js';

interface LogsFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
  until?: string;
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
    .option('--since <time>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('--until <time>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('--root <dir>', 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)')
    .action(async (ref: string, flags: LogsFlags, cmd: Command) => {
      const api = await import('../state/api.js');
      const root = rootFlag(ctx, flags, cmd) ?? DEFAULT_STATE_ROOT;
      const tail = flags.tail === undefined || flags.tail === 'all' ? Infinity : Number(flags.tail);
      if (!(tail >= 0)) {
        reportFailure(ctx, new CliError(`invalid --tail ${JSON.stringify(flags.tail)}: a number or "all"`));
        return;
      }
      // As Docker's CLI: each time becomes seconds.nanoseconds once, relative to now ('' is unset).
      const { parseTimeArg, unixNanosString } = await import('../state/timestamps.js');
      const now = Date.now();
      const window: { since?: string; until?: string } = {};
      try {
        if (flags.since) window.since = unixNanosString(parseTimeArg(flags.since, '--since', now));
        if (flags.until) window.until = unixNanosString(parseTimeArg(flags.until, '--until', now));
      } catch (err) {
        reportFailure(ctx, new CliError(`${(err as Error).message}`));
        return;
      }
      const options = { tail, timestamps: !!flags.timestamps, root, ...window };
      let entries: Iterable<LogEntry> | AsyncIterable<LogEntry>;
      try {
        entries = flags.follow ? api.followLogs(ref, options) : api.containerLogs(ref, options);
      } catch (err) {
        reportFailure(ctx, err);
        return;
      }
      ctx.exitCode = 0;
      for await (const e of entries) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.log);
    });
}
