// The bundled CLI's entry (scripts/bundle-cli.mjs → dist/cli.cjs, run by bin/pocker.cjs): the
// same program as ./main.ts, but built for the command line at hand. `pocker ps` loads and
// registers ps's module only (./commands.ts); `--version` needs no command at all; help, `help`,
// completion, an unknown command or anything unusual get the whole program from ./main.ts. In
// the bundle each dynamic import() is a lazily initialized module, so a command's runtime is
// evaluated only when that command runs (issue 12). The hot commands have one-command bundles of
// their own (./single.ts); this one serves the others.
import type { Command } from 'commander';
import { commandToRun, modulesFor } from './commands.js';
import { createBaseProgram, version } from './program.js';
import { startCli, warmUp as warm } from './start.js';

export { WARMED_COMMANDS } from './start.js';
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
  return startCli(argv, executeRun, programFor);
}

/** For scripts/cli-cache.cjs: ./start.ts's warmUp with the whole program's builder. */
export function warmUp(command: string, root: string): Promise<number> {
  return warm(command, root, programFor);
}
