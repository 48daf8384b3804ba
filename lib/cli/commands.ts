// Which modules define which top-level commands, so that the bundled CLI (./entry.ts) loads and
// registers only the command that runs (issue 12: a short command's start-up was mostly building
// all forty commands and evaluating the runtime behind them). The order is createProgram's
// (./main.ts): a module may extend a command an earlier one made (`image load` is ./load.ts's,
// `system info` ./info.ts's, `container commit` ./commit.ts's). test/unit/cli-lazy.test.ts checks
// that each command's subtree, help texts included, is the same as in the full program.
import type { Command } from 'commander';
import type { CliContext } from './run.js';
import { MODULE_NAMES } from './command-names.js';

export { commandToRun } from './command-names.js';

/** Registers a module's commands on the program (the add…Command functions). */
export type Register = (program: Command, ctx: CliContext, version: () => string) => void;

export interface CommandModule {
  /** The top-level commands this registration makes or adds subcommands to. */
  readonly names: readonly string[];
  readonly load: () => Promise<Register>;
}

/** Every command but `help` and `completion` (they read the whole program), in createProgram's order. */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: MODULE_NAMES.run, load: async () => (await import('./run.js')).addRunCommand },
  { names: MODULE_NAMES.create, load: async () => (await import('./run.js')).addCreateCommand },
  { names: MODULE_NAMES.attach, load: async () => (await import('./attach.js')).addAttachCommands },
  { names: MODULE_NAMES.pull, load: async () => (await import('./pull.js')).addPullCommand },
  { names: MODULE_NAMES.volume, load: async () => (await import('./volume.js')).addVolumeCommands },
  { names: MODULE_NAMES.logs, load: async () => (await import('./logs.js')).addLogsCommand },
  { names: MODULE_NAMES.exec, load: async () => (await import('./exec.js')).addExecCommand },
  { names: MODULE_NAMES.images, load: async () => (await import('./images.js')).addImageCommands },
  { names: MODULE_NAMES.load, load: async () => (await import('./load.js')).addArchiveCommands },
  { names: MODULE_NAMES.containers, load: async () => (await import('./containers.js')).addContainerCommands },
  { names: MODULE_NAMES.lifecycle, load: async () => (await import('./lifecycle.js')).addLifecycleCommands },
  { names: MODULE_NAMES.commit, load: async () => (await import('./commit.js')).addCommitExportCommands },
  { names: MODULE_NAMES.events, load: async () => (await import('./events.js')).addEventsCommand },
  { names: MODULE_NAMES.diff, load: async () => (await import('./diff.js')).addDiffCommand },
  { names: MODULE_NAMES.update, load: async () => (await import('./update.js')).addUpdateCommand },
  { names: MODULE_NAMES.pause, load: async () => (await import('./pause.js')).addPauseCommands },
  { names: MODULE_NAMES.info, load: async () => (await import('./info.js')).addInfoCommands },
  { names: MODULE_NAMES.port, load: async () => (await import('./port.js')).addPortCommand },
  { names: MODULE_NAMES.network, load: async () => (await import('./network.js')).addNetworkCommands },
];

/** The registrations a top-level command needs, in order (none for an unknown one). */
export function modulesFor(name: string): CommandModule[] {
  return COMMAND_MODULES.filter((m) => m.names.includes(name));
}
