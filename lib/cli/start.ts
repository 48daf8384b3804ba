// What every bundled CLI entry does around its command (./entry.ts, the whole program's bundle;
// ./single.ts, a one-command bundle): the process setup, cliMain, the early end of the listings,
// and the warm-up scripts/cli-cache.cjs runs before it writes a bundle's V8 code cache.
import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { useBlockingReads } from '../fsutil.js';
import { commandToRun } from './command-names.js';
import { cliMain } from './program.js';
import { useDirectStdio } from './stdio.js';
import type { CliContext, RunExecutor } from './run.js';

/** Builds the program for a normalized command line. */
export type ProgramBuilder = (argv: readonly string[], ctx: CliContext) => Promise<Command>;

/** The CLI's entry: runs `argv` and sets process.exitCode (as ./main.ts's main). */
export function startCli(argv: string[], execute: RunExecutor, build: ProgramBuilder): Promise<number> {
  // One command per process: its reads of the store need no thread pool (lib/fsutil.ts).
  useBlockingReads();
  // Nor, for most commands, Node's stream objects for stdout and stderr (./stdio.ts).
  useDirectStdio();
  const done = cliMain(argv, execute, (normalized, ctx) => build(normalized, ctx));
  const name = commandToRun(argv);
  if (name !== undefined && END_WHEN_DONE.has(name)) void done.then(endIfIdle);
  return done;
}

/**
 * Listings and read-only reports whose actions await all the work they start (nothing left in
 * promise callbacks once their promise has settled): the process ends as soon as they are done
 * (endIfIdle). `inspect` (containers, images, volumes, networks), `port` and `history` only read.
 */
const END_WHEN_DONE = new Set(['ps', 'images', 'inspect', 'port', 'history']);

/**
 * Ends the process at once when the command has left nothing to wait for: no handle, request,
 * timer or immediate (cliMain's grace timer is unreferenced and not counted), which is when Node
 * would end it after one more turn of its loop. In that turn V8 ran a scavenge it had scheduled
 * (4-5 ms of `pocker ps` here, for a heap about to go; it runs before any immediate, so the check
 * cannot wait for one). 'exit' listeners run as on a natural exit.
 */
function endIfIdle(code: number): void {
  if (process.getActiveResourcesInfo().length === 0) process.exit(code);
}

/** The commands whose code cache is warmed by running their first part (warmUp). */
export const WARMED_COMMANDS = ['ps', 'images', 'run', 'create', 'inspect', 'stop', 'exec', 'logs'] as const;

/** The container warmUp creates in its root (`pocker create`, a process of its own) for `inspect`. */
const WARM_CONTAINER = 'pocker-cache-warm';
/** A bound on each process the warm-ups start (a build must not hang where something went wrong). */
const WARM_TIMEOUT_MS = 60_000;
/** The container the create bundle's warm-up creates (and then starts, as root). */
const WARM_CREATED = 'pocker-cache-warm-created';
/** The running container warmUp starts there for `kill`, `wait` and `stop` (as root only). */
const WARM_RUNNING = 'pocker-cache-warm-running';

/**
 * For scripts/cli-cache.cjs, which writes a V8 code cache for a bundle right after, in a process
 * of its own with stdout on /dev/null: runs `command`'s first part against `root` (an empty
 * directory), so that the functions it calls are compiled and land in the cache. A function the
 * cache lacks is parsed and compiled on every run (6-8 ms of `pocker ps` here). `ps` and `images`
 * list the empty store (and read /proc). `inspect` inspects a container that `pocker create` made
 * in `root` (a process of its own, so that create's functions stay out of this cache; when it
 * fails, a missing one). `run`, as root (CI's build and the published package's), runs a real
 * container, `run --rm --network none host true` in `root` under a cgroup parent of its own
 * (`pocker-cache-<pid>`, removed after), so that the cache holds the whole path of a `pocker run`,
 * launch, wait and removal included (bench/README.md: ~5-8 ms of CPU less per run here); `create`
 * creates a container there the same way and then starts it (warmStart). `inspect`, `stop` (the
 * containers bundle), `exec` and `logs` run against containers made by processes of their own
 * (warmContainerCommands, warmOnContainer). Not root,
 * with POCKER_BUILD_NO_CONTAINER=1 (a build that must not start one), or when that run fails, the
 * same command line is only parsed and resolved (resolveRunOptions, detectCgroups: reads only) by
 * an executor that starts nothing. Any other command only builds its program.
 */
export async function warmUp(command: string, root: string, build: ProgramBuilder, execute?: RunExecutor): Promise<number> {
  useBlockingReads();
  useDirectStdio();
  // exec and logs are warmed on containers only; without them, as any other command, the program is only built.
  if (!(WARMED_COMMANDS as readonly string[]).includes(command) || ((command === 'exec' || command === 'logs') && !containersAllowed())) {
    await build(['node', 'pocker', command], { env: {}, execute: noExecutor, writeErr: () => {}, exitCode: 0 });
    return 0;
  }
  const parent = `pocker-cache-${process.pid}`;
  const argv = ['node', 'pocker', ...(command === 'run'
    ? ['run', '--rm', '--root', root, '--network', 'none', '--cgroup-parent', parent, 'host', 'true']
    : command === 'create'
      ? ['create', '--root', root, '--name', WARM_CREATED, '--network', 'none', '--cgroup-parent', parent, 'host', 'true']
      : ['--root', root, command, ...(command === 'inspect' ? [WARM_CONTAINER] : [])])];
  if ((command === 'run' || command === 'create') && execute && containersAllowed()) {
    try {
      const code = await cliMain(argv, execute, (normalized, ctx) => build(normalized, ctx));
      if (code === 0 && command === 'create') return await warmStart(root, parent, execute, build);
      if (code === 0) return 0;
    } finally {
      await removeCgroupParent(parent);
    }
  }
  if (command === 'inspect' || command === 'stop') return warmContainerCommands(command, root, parent, build);
  if (command === 'exec' || command === 'logs') return warmOnContainer(command, root, parent, build);
  // Only warming: what these throw where the build runs (not root, no cgroup mounts) does not matter.
  const resolveOnly: RunExecutor = async (options) => {
    try {
      (await import('../runtime/options.js')).resolveRunOptions(options);
    } catch {
      /* compiled all the same */
    }
    try {
      (await import('../cgroup/detect.js')).detectCgroups();
    } catch {
      /* compiled all the same */
    }
    return 0;
  };
  return cliMain(argv, resolveOnly, (normalized, ctx) => build(normalized, ctx));
}

/** May the warm-ups start containers: as root (CI's build, the published package's), unless POCKER_BUILD_NO_CONTAINER=1. */
function containersAllowed(): boolean {
  return process.geteuid?.() === 0 && process.env.POCKER_BUILD_NO_CONTAINER !== '1';
}

/** The executor of the warm-ups' command lines that run no container of their own. */
const noExecutor: RunExecutor = async () => 0;

/**
 * `pocker --root ROOT ARGS…` in a process of its own, so that its functions stay out of this
 * cache: its exit status (null when it was ended at WARM_TIMEOUT_MS, a bound for a build on a
 * machine where something went wrong).
 */
async function pockerProcess(root: string): Promise<(...args: string[]) => number | null> {
  const { spawnSync } = await import('node:child_process');
  const { packageRoot } = await import('../paths.js');
  const bin = join(packageRoot, 'bin', 'pocker.cjs');
  return (...args) => spawnSync(process.execPath, [bin, '--root', root, ...args], { stdio: 'ignore', timeout: WARM_TIMEOUT_MS }).status;
}

/** `pocker --root ROOT ARGS…` in this process, so that its functions land in the cache: its exit code. */
function inProcess(root: string, execute: RunExecutor, build: ProgramBuilder): (...args: string[]) => Promise<number> {
  return (...args) => cliMain(['node', 'pocker', '--root', root, ...args], execute, (normalized, ctx) => build(normalized, ctx));
}

/**
 * The rest of the create bundle's warm-up, as root, after `create` made WARM_CREATED in `root`:
 * `start` of it (detached), and `start -a` of a second one, in this process, so that start's and
 * attach's functions are in the cache too. Both run `true` under the warm-up's cgroup parent; a
 * `pocker wait` (a process of its own) waits for the detached one before the parent is removed.
 */
async function warmStart(root: string, parent: string, execute: RunExecutor, build: ProgramBuilder): Promise<number> {
  const line = inProcess(root, execute, build);
  const started = await line('start', WARM_CREATED);
  let code = started;
  if (code === 0) code = await line('create', '--name', `${WARM_CREATED}-attached`, '--network', 'none', '--cgroup-parent', parent, 'host', 'true');
  if (code === 0) code = await line('start', '-a', `${WARM_CREATED}-attached`);
  if (started === 0) (await pockerProcess(root))('wait', WARM_CREATED);
  return code;
}

/**
 * The exec and logs bundles' warm-up, as root: `exec` runs `true` in a container that `pocker run
 * -d` started (`sleep`), `logs` reads one that ran to its end (`echo`), each under the warm-up's
 * cgroup parent; `pocker rm -f` removes it after. Those are processes of their own (their
 * functions stay out of this cache); `exec` or `logs` runs in this one.
 */
async function warmOnContainer(command: 'exec' | 'logs', root: string, parent: string, build: ProgramBuilder): Promise<number> {
  const pk = await pockerProcess(root);
  const name = `pocker-cache-warm-${command}`;
  try {
    // A foreground container is removed when it ends: `logs` reads a detached one, once it ended.
    const started = pk('run', '-d', '--name', name, '--network', 'none', '--cgroup-parent', parent, 'host', ...(command === 'exec' ? ['sleep', '600'] : ['echo', 'pocker']));
    if (started !== 0) return started ?? 1;
    if (command === 'logs') pk('wait', name);
    return await inProcess(root, noExecutor, build)(...(command === 'exec' ? ['exec', name, 'true'] : ['logs', name]));
  } finally {
    pk('rm', '-f', name);
    await removeCgroupParent(parent);
  }
}

/**
 * The inspect and containers bundles' warm-ups. `inspect`: of a container `pocker create` made (a
 * process of its own, so that create's functions stay out of this cache). `stop` (the containers
 * bundle: stop, kill, wait, rm): as root, `kill`, `wait` and `stop` of a container `pocker run -d`
 * started under the cgroup parent of the warm-up (`sleep`), and `rm` of it and of a created one.
 * In this process, so that their functions are compiled and land in the cache: without them
 * `pocker rm` compiled ~2 ms of module code on every start. Returns the first failure's code.
 */
async function warmContainerCommands(command: 'inspect' | 'stop', root: string, parent: string, build: ProgramBuilder): Promise<number> {
  const pk = await pockerProcess(root);
  pk('create', '--name', WARM_CONTAINER, '--network', 'none', 'host', 'true');
  const running = command === 'stop' && containersAllowed() &&
    pk('run', '-d', '--name', WARM_RUNNING, '--network', 'none', '--cgroup-parent', parent, 'host', 'sleep', '600') === 0;
  const line = inProcess(root, noExecutor, build);
  const lines = command === 'inspect'
    ? [['inspect', WARM_CONTAINER]]
    : [...(running ? [['kill', WARM_RUNNING], ['wait', WARM_RUNNING], ['stop', WARM_RUNNING], ['rm', WARM_RUNNING]] : []), ['rm', WARM_CONTAINER]];
  let code = 0;
  try {
    for (const args of lines) {
      const c = await line(...args);
      // `wait` exits with the container's status (137: killed). Anything else that fails ends the
      // warm-up (a `wait` after a failed `kill` would wait out the sleep).
      if (c !== 0 && args[0] !== 'wait') {
        code = c;
        break;
      }
    }
  } finally {
    // What is left after a failure goes (nothing to do when all went).
    if (code !== 0 && running) pk('rm', '-f', WARM_RUNNING);
    if (running) await removeCgroupParent(parent);
  }
  return code;
}

/**
 * Removes the warm-up's cgroup parent from every hierarchy, with the addon's cgroupRemove (as every
 * container cgroup is removed; a missing one is no error).
 */
async function removeCgroupParent(parent: string): Promise<void> {
  const { detectCgroups, planCgroups } = await import('../cgroup/index.js');
  const { native } = await import('../native.js');
  let leaves: string[];
  try {
    leaves = planCgroups(detectCgroups(), parent, 'x', {}).leafDirs;
  } catch {
    return; // no cgroup hierarchy: nothing was made
  }
  for (const leaf of leaves) {
    try {
      native().cgroupRemove(dirname(leaf));
    } catch {
      // No addon (the run did not start), or this hierarchy's is busy: the others are still removed.
    }
  }
}
