// The top-level commands' names, by the module that registers them (./commands.ts pairs each with
// its loader), and commandToRun(). Apart from ./commands.ts so that a one-command bundle
// (./bundles/*.ts) can tell which command a line runs without importing every command module.

/** The names each command module makes or adds subcommands to, in createProgram's order. */
export const MODULE_NAMES = {
  run: ['run'],
  create: ['create'],
  attach: ['start', 'restart', 'attach'],
  pull: ['pull'],
  volume: ['volume'],
  logs: ['logs'],
  exec: ['exec'],
  images: ['images', 'rmi', 'tag', 'history', 'image', 'system', 'login', 'logout'],
  load: ['load', 'save', 'import', 'image'],
  containers: ['ps', 'stop', 'kill', 'wait', 'rm', 'inspect'],
  lifecycle: ['stats', 'top', 'rename', 'cp', 'container'],
  commit: ['commit', 'export', 'container'],
  events: ['events'],
  diff: ['diff'],
  update: ['update'],
  pause: ['pause', 'unpause'],
  info: ['info', 'version', 'system'],
  port: ['port'],
  network: ['network'],
} as const satisfies Record<string, readonly string[]>;

const ALL_NAMES: ReadonlySet<string> = new Set(Object.values(MODULE_NAMES).flat());

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
      return ALL_NAMES.has(arg) ? arg : undefined;
    }
  }
  return undefined;
}
