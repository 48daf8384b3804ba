// The bundled CLI's entry (scripts/bundle-cli.mjs → dist/cli.cjs, run by bin/pocker.cjs): the
// same program as ./main.ts, but built for the command line at hand. `pocker ps` loads and
// registers ps's module only (./commands.ts); `--version` needs no command at all; help, `help`,
// completion, an unknown command or anything unusual get the whole program from ./main.ts. In
// the bundle each dynamic import() is a lazily initialized module, so a command's runtime is
// evaluated only when that command runs (issue 12).
import type { Command } from 'commander';
import { useBlockingReads } from '../fsutil.js';
import { commandToRun, modulesFor } from './commands.js';
import { cliMain, createBaseProgram, version } from './program.js';
import { useDirectStdio } from './stdio.js';
import type { CliContext, RunExecutor } from './run.js';

/** The program for `argv` (normalized): only what its command needs, or the whole program. */
export async function programFor(argv: readonly string[], ctx: CliContext): Promise<Command> {
  const name = commandToRun(argv);
  if (name === '--version') return createBaseProgram(ctx);
  const modules = name === undefined ? [] : modulesFor(name);
  if (modules.length === 0) return (await import('./main.js')).createProgram(ctx);
  const program = createBaseProgram(ctx);
  for (const register of await Promise.all(modules.map((m) => m.load()))) register(program, ctx, version);
  return program;
}

/** Runs `run`/`create` (./run.ts's executeRun, loaded with the command that needs it). */
const executeRun: RunExecutor = async (options) => (await import('./run.js')).executeRun(options);

/** The CLI's entry: runs `argv` and sets process.exitCode (as ./main.ts's main). */
export function main(argv: string[]): Promise<number> {
  // One command per process: its reads of the store need no thread pool (lib/fsutil.ts).
  useBlockingReads();
  // Nor, for most commands, Node's stream objects for stdout and stderr (./stdio.ts).
  useDirectStdio();
  const done = cliMain(argv, executeRun, (normalized, ctx) => programFor(normalized, ctx));
  const name = commandToRun(argv);
  if (name !== undefined && END_WHEN_DONE.has(name)) void done.then(endIfIdle);
  return done;
}

/**
 * Listings whose actions await all the work they start (nothing left in promise callbacks once
 * their promise has settled): the process ends as soon as they are done (endIfIdle).
 */
const END_WHEN_DONE = new Set(['ps', 'images']);

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

/** The commands with a V8 code cache of their own (bin/pocker.cjs, scripts/cli-cache.cjs). */
export const WARMED_COMMANDS = ['ps', 'images', 'run'] as const;

/**
 * For scripts/cli-cache.cjs, which writes a V8 code cache for `command` right after, in a process
 * of its own with stdout on /dev/null: runs the command's first part against `root` (an empty
 * directory), so that the functions it calls are compiled and land in its cache. A function the
 * cache lacks is parsed and compiled on every run (6-8 ms of `pocker ps` here); one cache for all
 * commands costs every command the deserializing of the others' functions. `ps` and `images` list
 * the empty store (and read /proc; `images` may make its directories in `root`); `run`'s command
 * line is parsed and resolved (resolveRunOptions, detectCgroups: reads only) by an executor that
 * starts nothing.
 */
export async function warmUp(command: (typeof WARMED_COMMANDS)[number], root: string): Promise<number> {
  useBlockingReads();
  useDirectStdio();
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
  const args = command === 'run' ? ['run', '--rm', '--root', root, 'host', 'true'] : ['--root', root, command];
  return cliMain(['node', 'pocker', ...args], resolveOnly, (normalized, ctx) => programFor(normalized, ctx));
}
