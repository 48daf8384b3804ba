// `pocker logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`: a detached container's
// json-file log, stdout and stderr kept apart, as Docker prints them (read by lib/state/logs.ts in
// batches, in bounded memory; times parsed by lib/state/timestamps.ts). Lines of the log that are
// not entries are skipped and counted on stderr.
import type { Command } from 'commander';

import type { LogEntry } from '../state/logs.js';
import { CliError, reportFailure } from './failure.js';
import { writeOut } from './output.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';

interface LogsFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  details?: boolean;
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
    .option('--details', 'Show extra details provided to logs')
    .option('--since <time>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('--until <time>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (ref: string, flags: LogsFlags, cmd: Command) => {
      const { logBatches } = await import('../state/logs.js');
      const root = rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
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
      let bad = 0;
      const options = { tail, timestamps: !!flags.timestamps, details: !!flags.details, root, ...window, follow: !!flags.follow, onBadLine: () => void bad++ };
      let batches: AsyncIterable<LogEntry[]>;
      try {
        batches = logBatches(ref, options);
      } catch (err) {
        reportFailure(ctx, err);
        return;
      }
      ctx.exitCode = 0;
      try {
        for await (const batch of batches) {
          // Runs of one stream are written at once; stdout and stderr stay apart.
          for (let i = 0; i < batch.length; ) {
            const stream = batch[i]!.stream;
            let text = '';
            for (; i < batch.length && batch[i]!.stream === stream; i++) text += batch[i]!.log;
            await writeOut(stream === 'stderr' ? process.stderr : process.stdout, text);
          }
        }
      } catch (err) {
        reportFailure(ctx, err);
      }
      if (bad) ctx.writeErr(`pocker: skipped ${bad} line${bad === 1 ? '' : 's'} of the log that ${bad === 1 ? 'is not a log entry' : 'are not log entries'}\n`);
    });
}
