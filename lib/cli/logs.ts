// `pocker logs [-f] [--tail N] [-t] CONTAINER`: a detached container's json-file log, stdout and
// stderr kept apart, as Docker prints them.
import type { Command } from 'commander';

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
      const { readFileSync, existsSync, statSync } = await import('node:fs');
      const { findContainer, logFiles, parseLogLines } = await import('../state/containers.js');
      const root = flags.root ?? cmd.parent?.opts<{ root?: string }>().root ?? (ctx.env.POCKER_ROOT || '/var/lib/pocker');
      const tail = flags.tail === undefined || flags.tail === 'all' ? Infinity : Number(flags.tail);
      if (!(tail >= 0)) {
        ctx.writeErr(`pocker: invalid --tail ${JSON.stringify(flags.tail)}: a number or "all"\n`);
        ctx.exitCode = 125;
        return;
      }
      let c;
      try {
        c = findContainer(root, ref);
      } catch (err) {
        ctx.writeErr(`pocker: ${(err as Error).message}\n`);
        ctx.exitCode = 1;
        return;
      }
      const print = (entries: ReturnType<typeof parseLogLines>) => {
        for (const e of entries) {
          const text = flags.timestamps ? `${e.time} ${e.log}` : e.log;
          (e.stream === 'stderr' ? process.stderr : process.stdout).write(text);
        }
      };
      const all = logFiles(c.logPath).flatMap((f) => parseLogLines(readFileSync(f, 'utf8')));
      print(tail === Infinity ? all : tail === 0 ? [] : all.slice(-tail));
      ctx.exitCode = 0;
      if (!flags.follow) return;
      // Follow: poll the current file; a rotation (the file shrank or was replaced) starts it over.
      let offset = existsSync(c.logPath) ? statSync(c.logPath).size : 0;
      let ino = existsSync(c.logPath) ? statSync(c.logPath).ino : 0;
      const running = () => {
        try {
          return (JSON.parse(readFileSync(`${c.dir}/state.json`, 'utf8')) as { status: string }).status === 'running';
        } catch {
          return false;
        }
      };
      for (;;) {
        const alive = running();
        if (existsSync(c.logPath)) {
          const st = statSync(c.logPath);
          if (st.ino !== ino || st.size < offset) {
            offset = 0;
            ino = st.ino;
          }
          if (st.size > offset) {
            const text = readFileSync(c.logPath).subarray(offset).toString('utf8');
            const complete = text.slice(0, text.lastIndexOf('\n') + 1);
            print(parseLogLines(complete));
            offset += Buffer.byteLength(complete);
          }
        }
        if (!alive) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    });
}
