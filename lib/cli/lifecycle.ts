// `pocker stats | top | rename | cp | container prune`: container lifecycle commands over the
// on-disk state (config.json's cgroups, the monitor's state.json), with Docker's output. The work
// is in lib/state/ (api.ts, and copy.ts for cp) and lib/runtime/lifecycle.ts (rename, prune); this
// file parses and prints.
import type { Command } from 'commander';

import type { ListedContainer } from '../container/index.js';
import type { ContainerStats } from '../state/stats.js';
import { CliError, guard, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

const ROOT_HELP = 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)';

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Docker's tabwriter: columns padded to the widest cell plus 3 spaces. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 3))).join('').trimEnd() + '\n')
    .join('');
}

async function lookup(root: string, ref: string): Promise<ListedContainer> {
  const { lookupContainer } = await import('../container/index.js');
  return lookupContainer(root, ref);
}

/** The container's host pid; throws unless it is a running detached container. */
function runningPid(c: ListedContainer, what: string): number {
  if (c.status !== 'running') throw new CliError(`${what}: container ${c.id} is not running`, { exitCode: 1, code: 'ERR_POCKER_NOT_RUNNING' });
  if (!c.state) throw new CliError(`${what}: container ${c.id} runs in the foreground of a pocker run`, { exitCode: 1, code: 'ERR_POCKER_FOREGROUND' });
  // 0: between two runs of a restart policy, or a pid that is no longer the container's (verified).
  if (!(c.state.pid > 0)) throw new CliError(`${what}: container ${c.id} is not running`, { exitCode: 1, code: 'ERR_POCKER_NOT_RUNNING' });
  return c.state.pid;
}

/** Reads one line of stdin (undefined at its end). */
function readLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer | string) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(text.slice(0, nl));
    };
    const onEnd = () => finish(text || undefined);
    const finish = (line: string | undefined) => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      resolve(line);
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
    process.stdin.resume();
  });
}

const STATS_HEADERS = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];

export function addLifecycleCommands(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('Display a live stream of container(s) resource usage statistics')
    .usage('[OPTIONS] [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('[containers...]', 'Container ids, id prefixes or names')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('--no-stream', 'Disable streaming stats and only pull the first result')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', 'Format output: "table" or "json"', 'table')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { all?: boolean; stream: boolean; trunc: boolean; format: string; root?: string }, cmd: Command) => {
      if (flags.format !== 'table' && flags.format !== 'json') {
        reportFailure(ctx, new CliError(`invalid --format ${JSON.stringify(flags.format)}: "table" or "json"`));
        return;
      }
      await guard(ctx, async () => {
        const root = rootOf(ctx, flags, cmd);
        const api = await import('../state/api.js');
        const { statsCells } = await import('./format.js');
        const pick = (): ListedContainer[] => api.pickContainers(refs, { all: !!flags.all, root });
        const render = (rows: ContainerStats[]): string => {
          const cells = rows.map((r) => ({ ...statsCells(r), ...(flags.trunc ? {} : { ID: r.id }) }));
          if (flags.format === 'json') return cells.map((c) => `${JSON.stringify({ BlockIO: c.BlockIO, CPUPerc: c.CPUPerc, Container: c.ID, ID: c.ID, MemPerc: c.MemPerc, MemUsage: c.MemUsage, Name: c.Name, NetIO: c.NetIO, PIDs: c.PIDs })}\n`).join('');
          return table([STATS_HEADERS, ...cells.map((c) => [c.ID, c.Name, c.CPUPerc, c.MemUsage, c.MemPerc, c.NetIO, c.BlockIO, c.PIDs])]);
        };
        const sampleAll = (list: ListedContainer[]) => new Map(list.map((c) => [c.id, api.sampleContainer(c)]));
        let list = pick();
        let prev = sampleAll(list);
        const tty = process.stdout.isTTY === true;
        let stop = false;
        const onInt = () => {
          stop = true;
        };
        if (flags.stream) process.once('SIGINT', onInt);
        try {
          for (;;) {
            // Docker's first figures come from two readings a moment apart.
            const interval = flags.stream ? 1000 : 1000;
            for (let waited = 0; waited < interval && !stop; waited += 100) await sleep(100);
            if (stop) break;
            const now = sampleAll(list);
            const rows = list.map((c) => api.statsBetween(c, prev.get(c.id) ?? null, now.get(c.id) ?? null));
            const text = render(rows);
            writeStdout(tty && flags.stream ? `\x1b[2J\x1b[H${text}` : text);
            if (!flags.stream) break;
            // The set of containers may change between two screens (refs given: the same ones).
            const { describeContainer } = await import('../container/index.js');
            list = refs.length ? list.map((c) => describeContainer(c)) : pick();
            prev = new Map([...now].filter(([id]) => list.some((c) => c.id === id)));
            for (const c of list) if (!prev.has(c.id)) prev.set(c.id, api.sampleContainer(c));
          }
        } finally {
          process.off('SIGINT', onInt);
        }
      });
    });

  program
    .command('top')
    .description('Display the running processes of a container')
    .usage('CONTAINER [ps OPTIONS]')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .argument('[psOptions...]', 'ps options (default -ef)')
    .passThroughOptions()
    .allowUnknownOption()
    .option('--root <dir>', ROOT_HELP)
    .action(async (ref: string, psOptions: string[], flags: { root?: string }, cmd: Command) => {
      await guard(ctx, async () => {
        const { containerTopTable } = await import('../state/api.js');
        const { titles, rows } = await containerTopTable(ref, psOptions, { root: rootOf(ctx, flags, cmd) });
        // With ps options, the host's ps lines as printed (one cell each).
        if (titles.length === 1) writeStdout(`${[titles[0]!, ...rows.map((r) => r[0]!)].join('\n')}\n`);
        else writeStdout(table([titles, ...rows]));
      });
    });

  program
    .command('rename')
    .description('Rename a container')
    .usage('CONTAINER NEW_NAME')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .argument('<newName>', 'The new name')
    .option('--root <dir>', ROOT_HELP)
    .action(async (ref: string, newName: string, flags: { root?: string }, cmd: Command) => {
      await guard(ctx, async () => {
        const { renameContainer } = await import('../runtime/lifecycle.js');
        await renameContainer(ref, newName, { root: rootOf(ctx, flags, cmd) });
      });
    });

  program
    .command('cp')
    .description('Copy files/folders between a container and the local filesystem')
    .usage('CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH')
    .helpOption('--help', 'Print usage')
    .argument('<src>', 'CONTAINER:SRC_PATH or a local path')
    .argument('<dest>', 'a local path or CONTAINER:DEST_PATH')
    .option('--root <dir>', ROOT_HELP)
    .action(async (src: string, dest: string, flags: { root?: string }, cmd: Command) => {
      await guard(ctx, async () => {
        const cp = await import('../state/copy.js');
        const from = cp.parseCpOperand(src);
        const to = cp.parseCpOperand(dest);
        if ('container' in from === 'container' in to) {
          throw new CliError('copying between containers, or between two local paths, is not supported: one of SRC and DEST must be CONTAINER:PATH');
        }
        const ref = 'container' in from ? from.container : (to as { container: string }).container;
        const c = await lookup(rootOf(ctx, flags, cmd), ref);
        const pid = runningPid(c, 'cp');
        const { closeSync } = await import('node:fs');
        const rootFd = cp.openContainerRoot(pid, c.config?.cgroups ?? []);
        try {
          if ('container' in from) {
            if ((to as { host: string }).host === '-') throw new CliError('copying to stdout (a tar stream) is not supported');
            cp.copyOut(rootFd, from.path, (to as { host: string }).host);
          } else {
            cp.copyIn(rootFd, from.host, (to as { container: string; path: string }).path);
          }
        } finally {
          closeSync(rootFd);
        }
      });
    });

  const container = program
    .command('container')
    .description('Manage containers')
    .usage('COMMAND')
    .helpCommand(false)
    .addHelpText('after', '\nAlso, as Docker has them: container attach, cp, create, exec, inspect, kill, logs, ls (list, ps), rename,\nrestart, rm, run, start, stats, stop, top and wait (the top-level commands of those names).');
  container
    .command('prune')
    .description('Remove all stopped containers')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--root <dir>', ROOT_HELP)
    .action(async (flags: { force?: boolean; root?: string }, cmd: Command) => {
      await guard(ctx, async () => {
        if (!flags.force) {
          writeStdout('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
          const answer = (await readLine())?.trim().toLowerCase();
          if (answer === undefined) writeStdout('\n');
          if (answer !== 'y' && answer !== 'yes') return;
        }
        const { pruneContainers } = await import('../runtime/lifecycle.js');
        const { humanSize } = await import('./format.js');
        const { deleted, reclaimedBytes: reclaimed } = await pruneContainers({ root: rootOf(ctx, flags, cmd) });
        if (deleted.length) writeStdout(`Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`);
        writeStdout(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
      });
    });
}
