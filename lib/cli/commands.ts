// Which modules define which top-level commands, so that the bundled CLI (./entry.ts) loads and
// registers only the command that runs (issue 12: a short command's start-up was mostly building
// all forty commands and evaluating the runtime behind them). The order is createProgram's
// (./main.ts): a module may extend a command an earlier one made (`image load` is ./load.ts's,
// `system info` ./info.ts's, `container commit` ./commit.ts's). test/unit/cli-lazy.test.ts checks
// that each command's subtree, help texts included, is the same as in the full program.
import type { Command } from 'commander';
import type { CliContext } from './run.js';

/** Registers a module's commands on the program (the add…Command functions). */
export type Register = (program: Command, ctx: CliContext, version: () => string) => void;

export interface CommandModule {
  /** The top-level commands this registration makes or adds subcommands to. */
  readonly names: readonly string[];
  readonly load: () => Promise<Register>;
}

/** Every command but `help` and `completion` (they read the whole program), in createProgram's order. */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['run'], load: async () => (await import('./run.js')).addRunCommand },
  { names: ['create'], load: async () => (await import('./run.js')).addCreateCommand },
  { names: ['start', 'restart', 'attach'], load: async () => (await import('./attach.js')).addAttachCommands },
  { names: ['pull'], load: async () => (await import('./pull.js')).addPullCommand },
  { names: ['volume'], load: async () => (await import('./volume.js')).addVolumeCommands },
  { names: ['logs'], load: async () => (await import('./logs.js')).addLogsCommand },
  { names: ['exec'], load: async () => (await import('./exec.js')).addExecCommand },
  {
    names: ['images', 'rmi', 'tag', 'history', 'image', 'system', 'login', 'logout'],
    load: async () => (await import('./images.js')).addImageCommands,
  },
  { names: ['load', 'save', 'import', 'image'], load: async () => (await import('./load.js')).addArchiveCommands },
  { names: ['ps', 'stop', 'kill', 'wait', 'rm', 'inspect'], load: async () => (await import('./containers.js')).addContainerCommands },
  { names: ['stats', 'top', 'rename', 'cp', 'container'], load: async () => (await import('./lifecycle.js')).addLifecycleCommands },
  { names: ['commit', 'export', 'container'], load: async () => (await import('./commit.js')).addCommitExportCommands },
  { names: ['events'], load: async () => (await import('./events.js')).addEventsCommand },
  { names: ['diff'], load: async () => (await import('./diff.js')).addDiffCommand },
  { names: ['update'], load: async () => (await import('./update.js')).addUpdateCommand },
  { names: ['pause', 'unpause'], load: async () => (await import('./pause.js')).addPauseCommands },
  { names: ['info', 'version', 'system'], load: async () => (await import('./info.js')).addInfoCommands },
  { names: ['port'], load: async () => (await import('./port.js')).addPortCommand },
  { names: ['network'], load: async () => (await import('./network.js')).addNetworkCommands },
];

/**
 * What a command line (process.argv's shape, after normalizeArgv) runs, when that is plain: the
 * top-level command's name after the global options (`--root DIR`, `--root=DIR`, `-D`,
 * `--debug`), or `--version` for `-v`/`--version` there (commander prints the version as soon as
 * it meets the flag). Undefined for anything else (no command, `--help`, an unknown command or
 * option, combined short flags, a missing value): the whole program then decides, as before.
 */
export function commandToRun(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--root') {
      if (i + 1 >= argv.length) return undefined;
      i++;
    } else if (arg === '-D' || arg === '--debug' || arg.startsWith('--root=')) {
      continue;
    } else if (arg === '-v' || arg === '--version') {
      return '--version';
    } else {
      return COMMAND_MODULES.some((m) => m.names.includes(arg)) ? arg : undefined;
    }
  }
  return undefined;
}

/** The registrations a top-level command needs, in order (none for an unknown one). */
export function modulesFor(name: string): CommandModule[] {
  return COMMAND_MODULES.filter((m) => m.names.includes(name));
}
