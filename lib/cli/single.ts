// A one-command bundle's entry (lib/cli/bundles/*.ts, built by scripts/bundle-cli.mjs into
// dist/cli/NAME.cjs): the program's shell, commander, and the registrations of a few top-level
// commands with the modules they import, nothing else (issue 12: `pocker ps` reads and compiles a
// fifth of the whole program). bin/pocker.cjs loads it when the command line's first word is one of
// its commands; the program it builds is the one ./entry.ts builds for that command line
// (test/unit/cli-lazy.test.ts). One process loads one bundle, so each module exists once in it.
import type { Command } from 'commander';
import { commandToRun } from './command-names.js';
import type { Register } from './commands.js';
import { CliError } from './failure.js';
import { createBaseProgram, version } from './program.js';
import { startCli, warmUp as warm } from './start.js';
import type { CliContext, RunExecutor } from './run.js';

export interface SingleCommandBundle {
  /** The top-level commands the bundle runs. */
  readonly names: readonly string[];
  /** Builds the program for a command line that runs one of `names` (commandToRun). */
  programFor(argv: readonly string[], ctx: CliContext): Promise<Command>;
  /**
   * Runs `argv` as ./entry.ts's main does, or returns undefined, having done nothing, when the
   * command line does not run one of `names` (bin/pocker.cjs then loads the whole program).
   */
  main(argv: string[]): Promise<number> | undefined;
  /** For scripts/cli-cache.cjs (./start.ts's warmUp, for the bundle's first command). */
  warmUp(root: string): Promise<number>;
}

const noExecutor: RunExecutor = async () => {
  throw new CliError('internal: this bundle does not run containers', { code: 'ERR_POCKER' });
};

/**
 * A registration of the bundle: the top-level commands it makes (its module's MODULE_NAMES entry,
 * or fewer), and the function that makes them.
 */
export type BundleRegister = readonly [commands: readonly string[], register: Register];

/**
 * The bundle for `names`, whose program is made by `registers` (in createProgram's order): for a
 * command line, only the registrations that make its command (as ./entry.ts's modulesFor), so a
 * bundle of several modules (`run`, `create`, `start`) builds one module's commands per start.
 */
export function singleCommand(names: readonly string[], registers: readonly BundleRegister[], execute: RunExecutor = noExecutor): SingleCommandBundle {
  const programFor = async (argv: readonly string[], ctx: CliContext): Promise<Command> => {
    const name = commandToRun(argv);
    // bin/pocker.cjs and main() checked the raw command line; normalizeArgv keeps its first word.
    if (name === undefined || !names.includes(name)) throw new CliError(`internal: the ${names[0]} bundle cannot run ${name ?? 'this command line'}`, { code: 'ERR_POCKER' });
    const program = createBaseProgram(ctx);
    for (const [commands, register] of registers) if (commands.includes(name)) register(program, ctx, version);
    return program;
  };
  return {
    names,
    programFor,
    main(argv) {
      const name = commandToRun(argv);
      if (name === undefined || !names.includes(name)) return undefined;
      return startCli(argv, execute, programFor);
    },
    warmUp: (root) => warm(names[0]!, root, programFor, execute === noExecutor ? undefined : execute),
  };
}
