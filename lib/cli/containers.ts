// `pocker ps | stop | kill | wait | rm | inspect`: the lifecycle commands over the on-disk state
// (containers/<id>/config.json and the monitor's state.json), with Docker's output.
import { writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

import type { Command } from 'commander';

import type { ListedContainer } from '../state/containers.js';
import type { CliContext } from './run.js';

type StateModule = typeof import('../state/containers.js');

const ROOT_HELP = 'Root directory of pocker state (default /var/lib/pocker, or $POCKER_ROOT)';

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return flags.root ?? cmd.parent?.opts<{ root?: string }>().root ?? (ctx.env.POCKER_ROOT || '/var/lib/pocker');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function imageText(c: ListedContainer): string {
  const image = c.config?.image;
  if (!image) return '';
  if ('host' in image) return 'host';
  if ('rootfs' in image) return image.rootfs;
  return image.name || image.id;
}

function commandText(c: ListedContainer, noTrunc: boolean): string {
  const cmd = (c.config?.args ?? []).join(' ');
  // Docker: truncated to 20 characters with an ellipsis, then quoted.
  const short = !noTrunc && [...cmd].length > 20 ? `${[...cmd].slice(0, 19).join('')}…` : cmd;
  return JSON.stringify(short);
}

/** Docker's tabwriter: columns padded to the widest cell plus 3 spaces. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length + 3))).join('').trimEnd() + '\n')
    .join('');
}

/** Finds each ref; prints "No such container" for the others and sets exit code 1. */
async function each(ctx: CliContext, root: string, refs: string[], fn: (c: ListedContainer, ref: string, st: StateModule) => Promise<void>): Promise<void> {
  const st = await import('../state/containers.js');
  ctx.exitCode = 0;
  for (const ref of refs) {
    try {
      await fn(st.describeContainer(st.findContainer(root, ref)), ref, st);
    } catch (err) {
      ctx.writeErr(`pocker: ${(err as Error).message}\n`);
      ctx.exitCode = 1;
    }
  }
}

/** Polls until the container has exited (true) or `ms` passed (false); `Infinity` waits forever. */
async function waitExited(st: StateModule, c: ListedContainer, ms: number): Promise<ListedContainer | null> {
  const end = Date.now() + ms;
  for (;;) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(c.dir)) return null;
    const now = st.describeContainer(c);
    if (now.status === 'exited') return now;
    if (Date.now() >= end) return now;
    await sleep(50);
  }
}

function signalTo(pid: number, sig: NodeJS.Signals | number): void {
  // pid 0 (a container between two runs) would signal our own process group.
  if (!(pid > 0)) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* it has just ended */
  }
}

/** Signals a container's monitor passes on (cpp/init/monitor.cpp kForwarded). */
const FORWARDED = new Set<string>(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM']);

/** `QUIT`, `SIGQUIT`, `3` -> `SIGQUIT` (undefined when it names no signal). */
function normalizeSignal(value: string | undefined): NodeJS.Signals | undefined {
  if (!value) return undefined;
  const signals = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(value)) return Object.keys(signals).find((k) => signals[k] === Number(value)) as NodeJS.Signals | undefined;
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  return name in signals ? (name as NodeJS.Signals) : undefined;
}

/** `pocker stop` / `rm -f`: the monitor of a container with a restart policy must not restart it. */
function markStopRequested(dir: string): void {
  try {
    writeFileSync(join(dir, 'stop-requested'), '');
  } catch {
    /* the container's directory is already gone */
  }
}

/** Waits (briefly) for the monitor to end, so that it has removed the cgroups. */
async function monitorGone(st: StateModule, c: ListedContainer): Promise<void> {
  const pid = c.state?.monitorPid ?? 0;
  for (let i = 0; i < 100 && st.isPockerInit(pid); i++) await sleep(50);
}

class UserError extends Error {}


function notRunning(c: ListedContainer): never {
  throw new UserError(`cannot kill container: ${c.id}: container ${c.id} is not running`);
}

export function addContainerCommands(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .description('List containers')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-a, --all', 'Show all containers (default shows just running)')
    .option('-q, --quiet', 'Only display container IDs')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', 'Format output: "table" or "json"', 'table')
    .option('--root <dir>', ROOT_HELP)
    .action(async (flags: { all?: boolean; quiet?: boolean; trunc: boolean; format: string; root?: string }, cmd: Command) => {
      const st = await import('../state/containers.js');
      if (flags.format !== 'table' && flags.format !== 'json') {
        ctx.writeErr(`pocker: invalid --format ${JSON.stringify(flags.format)}: "table" or "json"\n`);
        ctx.exitCode = 125;
        return;
      }
      const now = Date.now();
      const list = st.listContainers(rootOf(ctx, flags, cmd)).filter((c) => flags.all || c.status === 'running');
      const id = (c: ListedContainer) => (flags.trunc ? c.id.slice(0, 12) : c.id);
      ctx.exitCode = 0;
      if (flags.quiet) {
        process.stdout.write(list.map((c) => `${id(c)}\n`).join(''));
        return;
      }
      const created = (c: ListedContainer) => {
        const t = Date.parse(c.config?.created ?? '');
        return t > 0 ? `${st.humanDuration(now - t)} ago` : '';
      };
      if (flags.format === 'json') {
        for (const c of list) {
          const line = {
            Command: commandText(c, !flags.trunc),
            CreatedAt: c.config?.created ?? '',
            ID: id(c),
            Image: imageText(c),
            Labels: '',
            LocalVolumes: '0',
            Mounts: '',
            Names: c.name,
            Networks: '',
            Ports: '',
            RunningFor: created(c),
            Size: '0B',
            State: c.status,
            Status: st.containerStatus(c, now),
          };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        }
        return;
      }
      const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
      for (const c of list) rows.push([id(c), imageText(c), commandText(c, !flags.trunc), created(c), st.containerStatus(c, now), '', c.name]);
      process.stdout.write(table(rows));
    });

  program
    .command('stop')
    .description('Stop one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-t, --time <seconds>', 'Seconds to wait before killing the container', '10')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { time: string; root?: string }, cmd: Command) => {
      const grace = Number(flags.time);
      if (!Number.isInteger(grace)) {
        ctx.writeErr(`pocker: invalid -t ${JSON.stringify(flags.time)}: a whole number of seconds\n`);
        ctx.exitCode = 125;
        return;
      }
      await each(ctx, rootOf(ctx, flags, cmd), refs, async (c, ref, st) => {
        if (c.status === 'running') {
          if (!c.state) throw new UserError(`cannot stop container ${ref}: it runs in the foreground of a pocker run`);
          // Marked first, so a restart policy doesn't start it again; then the monitor forwards
          // SIGTERM to the container (or, between two runs, gives up); SIGKILL after the grace period.
          markStopRequested(c.dir);
          // The image's StopSignal (Docker's rule), else SIGTERM. The monitor forwards the usual
          // signals; any other (SIGKILL, real-time ones) goes to the container's process itself.
          const stopSignal = normalizeSignal(c.config?.stopSignal) ?? 'SIGTERM';
          if (FORWARDED.has(stopSignal)) signalTo(c.state.monitorPid, stopSignal);
          else signalTo(c.state.pid, stopSignal);
          let now = await waitExited(st, c, grace < 0 ? Infinity : grace * 1000);
          if (now && now.status === 'running') {
            signalTo(c.state.pid, 'SIGKILL');
            now = await waitExited(st, c, 30_000);
          }
        }
        process.stdout.write(`${ref}\n`);
      });
    });

  program
    .command('kill')
    .description('Kill one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-s, --signal <signal>', 'Signal to send to the container', 'KILL')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { signal: string; root?: string }, cmd: Command) => {
      const { signalNumber } = await import('../runtime/run.js');
      let sig: number;
      try {
        sig = signalNumber(/^\d+$/.test(flags.signal) ? Number(flags.signal) : (flags.signal as NodeJS.Signals));
      } catch (err) {
        ctx.writeErr(`pocker: ${(err as Error).message}\n`);
        ctx.exitCode = 125;
        return;
      }
      await each(ctx, rootOf(ctx, flags, cmd), refs, async (c, ref) => {
        if (c.status !== 'running') notRunning(c);
        if (!c.state) throw new UserError(`cannot kill container ${ref}: it runs in the foreground of a pocker run`);
        // SIGKILL cannot be caught by the monitor: it goes to the container's init directly.
        signalTo(sig === 9 ? c.state.pid : c.state.monitorPid, sig);
        process.stdout.write(`${ref}\n`);
      });
    });

  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      await each(ctx, rootOf(ctx, flags, cmd), refs, async (c, _ref, st) => {
        const end = await waitExited(st, c, Infinity);
        // Removed (--rm) before its status could be read: Docker's "removal" outcome is unknown.
        if (!end) throw new UserError(`No such container: ${c.id}`);
        process.stdout.write(`${end.state?.exitCode ?? 0}\n`);
      });
    });

  program
    .command('rm')
    .description('Remove one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { force?: boolean; root?: string }, cmd: Command) => {
      const root = rootOf(ctx, flags, cmd);
      const { rmSync } = await import('node:fs');
      const { releaseName } = await import('../state/names.js');
      await each(ctx, root, refs, async (c, ref, st) => {
        if (c.status === 'running') {
          if (!flags.force || !c.state) {
            throw new UserError(
              c.state
                ? `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`
                : `cannot remove container "/${c.name}": it runs in the foreground of a pocker run`,
            );
          }
          markStopRequested(c.dir);
          signalTo(c.state.pid, 'SIGKILL');
          if (c.state.restarting) signalTo(c.state.monitorPid, 'SIGTERM');
          await waitExited(st, c, 30_000);
        }
        await monitorGone(st, c);
        // A monitor (or, before it took over, the creating process) that died could not clean up:
        // kill what is left in the container's cgroups and remove them.
        if (c.deadMonitor || c.deadOwner) {
          const { native } = await import('../native.js');
          for (const dir of st.containerCgroupDirs(root, c)) native().cgroupRemove(dir);
        }
        rmSync(c.dir, { recursive: true, force: true, maxRetries: 5 });
        releaseName(root, c.name, c.id);
        process.stdout.write(`${ref}\n`);
      });
      // A name claimed by a process killed before it made the container's directory: release it.
      if (flags.force) (await import('../state/containers.js')).releaseStaleNames(root, refs);
    });

  program
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      const out: unknown[] = [];
      const ZERO = '0001-01-01T00:00:00Z';
      await each(ctx, rootOf(ctx, flags, cmd), refs, async (c) => {
        const s = c.state;
        const args = c.config?.args ?? [];
        const image = c.config?.image;
        out.push({
          Id: c.id,
          Created: c.config?.created ?? '',
          Path: args[0] ?? '',
          Args: args.slice(1),
          State: {
            Status: c.status,
            Running: c.status === 'running',
            Paused: false,
            Restarting: false,
            OOMKilled: s?.oomKilled ?? false,
            Dead: false,
            Pid: c.status === 'running' ? (s?.pid ?? 0) : 0,
            ExitCode: c.status === 'running' ? 0 : (s?.exitCode ?? 0),
            Error: c.deadMonitor ? 'the container monitor died' : '',
            StartedAt: s?.startedAt || c.config?.created || ZERO,
            FinishedAt: (c.status === 'exited' && s?.finishedAt) || ZERO,
          },
          Image: image && 'id' in image ? image.id : '',
          LogPath: c.state ? c.logPath : '',
          Name: `/${c.name}`,
          Config: {
            Cmd: args,
            Image: imageText(c),
          },
        });
      });
      process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    });
}
