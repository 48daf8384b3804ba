// Usage errors in Docker's words (docker/cli 28+, cli/required.go, cli/cobra.go FlagErrorFunc,
// cmd/docker/docker.go): commander's own parser messages never reach the user. Each commander
// error (its code and message, and the command it happened in) becomes Docker's text and exit code:
//
//   argument count      pocker: 'pocker rm' requires at least 1 argument        exit 1
//                       (blank) Usage:  pocker rm [OPTIONS] CONTAINER [CONTAINER...]
//                       (blank) See 'pocker rm --help' for more information
//   unknown command     pocker: unknown command: pocker rnu                     exit 1
//                       (blank) Run 'pocker --help' for more information
//   a flag              unknown flag: --bogus                                   exit 125
//                       invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt: parsing "abc": invalid syntax
//                       (blank) Usage:  pocker run [OPTIONS] ...
//                       (blank) Run 'pocker run --help' for more information
//
// Pure (commander objects in, text out); cheap to import.
import type { Command } from 'commander';

/** Docker's cmd.CommandPath(): the names from the root down (`pocker image ls`). */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Docker's cmd.UseLine(): the command path and its usage (`pocker rm [OPTIONS] CONTAINER [CONTAINER...]`). */
export function useLine(cmd: Command): string {
  const usage = cmd.usage();
  return usage ? `${commandPath(cmd)} ${usage}` : commandPath(cmd);
}

function binName(cmd: Command): string {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c.name();
}

const plural = (word: string, n: number): string => (n === 1 ? word : `${word}s`);

/** How many positional arguments a command takes: [min, max] (max Infinity for a variadic last one). */
export function argumentRange(cmd: Command): [number, number] {
  const args = cmd.registeredArguments;
  const min = args.filter((a) => a.required).length;
  const max = args.length > 0 && args[args.length - 1]!.variadic ? Infinity : args.length;
  return [min, max];
}

/**
 * Docker's argument-count error for `cmd` (cli/required.go: NoArgs, RequiresMinArgs,
 * RequiresMaxArgs, RequiresRangeArgs, ExactArgs), chosen from the command's arguments.
 */
export function argumentCountMessage(cmd: Command, range: [number, number] = argumentRange(cmd)): string {
  const [min, max] = range;
  const bin = binName(cmd);
  const path = commandPath(cmd);
  const usage = `\n\nUsage:  ${useLine(cmd)}\n\n`;
  if (max === 0) return `${bin}: '${path}' accepts no arguments${usage}Run '${path} --help' for more information`;
  if (max === Infinity) {
    return `${bin}: '${path}' requires at least ${min} ${plural('argument', min)}${usage}See '${path} --help' for more information`;
  }
  if (min === max) return `${bin}: '${path}' requires ${min} ${plural('argument', min)}${usage}Run '${path} --help' for more information`;
  if (min === 0) return `${bin}: '${path}' requires at most ${max} ${plural('argument', max)}${usage}Run '${path} --help' for more information`;
  return `${bin}: '${path}' requires at least ${min} and at most ${max} ${plural('argument', max)}${usage}Run '${path} --help' for more information`;
}

/**
 * Docker's unknown command: at the top (cmd/docker/docker.go) without a usage line, under a
 * management command (cli/required.go NoArgs with subcommands) with one.
 */
export function unknownCommandMessage(cmd: Command, name: string): string {
  const bin = binName(cmd);
  const path = commandPath(cmd);
  if (!cmd.parent) return `${bin}: unknown command: ${bin} ${name}\n\nRun '${bin} --help' for more information`;
  return `${bin}: unknown command: ${path} ${name}\n\nUsage:  ${useLine(cmd)}\n\nRun '${path} --help' for more information`;
}

/** Docker's FlagErrorFunc (cli/cobra.go): pflag's message, the usage line and the help pointer (exit 125). */
export function flagErrorMessage(cmd: Command, error: string): string {
  return `${error}\n\nUsage:  ${useLine(cmd)}\n\nRun '${commandPath(cmd)} --help' for more information`;
}

/** pflag's name of a flag in messages: `--name`, or `-c, --cpu-shares` when it has a shorthand. */
function pflagName(flags: string): string {
  const names = flags.split(/[ ,|]+/).filter((f) => f.startsWith('-'));
  const long = names.find((f) => f.startsWith('--'));
  const short = names.find((f) => !f.startsWith('--'));
  if (long && short) return `${short}, ${long}`;
  return long ?? short ?? flags;
}

/** Go's strconv error for a parse failure commander's parser reported in its own words. */
function goCause(value: string, cause: string): string {
  if (cause === 'Not an integer.') {
    return /^\s*[+-]?\d+\s*$/.test(value)
      ? `strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`
      : `strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`;
  }
  return cause.replace(/\.$/, '');
}

/**
 * pflag's message (spf13/pflag errors.go) for one of commander's parse errors: `code` and
 * `message` are commander's; `argv` tells which spelling of a flag was typed. Undefined when the
 * error is not about a flag.
 */
export function pflagMessage(code: string, message: string, argv: readonly string[] = []): string | undefined {
  const text = message.replace(/^error: /, '');
  if (code === 'commander.unknownOption') {
    const flag = /^unknown option '([^']*)'/.exec(text)?.[1] ?? '';
    if (flag.startsWith('--')) return `unknown flag: ${flag.split('=')[0]}`;
    return `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`;
  }
  if (code === 'commander.optionMissingArgument') {
    const flags = /^option '([^']*)' argument missing/.exec(text)?.[1] ?? '';
    const names = flags.split(/[ ,|]+/).filter((f) => f.startsWith('-'));
    const long = names.find((f) => f.startsWith('--'));
    const short = names.find((f) => !f.startsWith('--'));
    const typedShort = short !== undefined && argv.some((a) => a === short || (/^-[^-]/.test(a) && a.endsWith(short.slice(1))));
    if (short && (!long || (typedShort && !argv.includes(long)))) return `flag needs an argument: '${short.slice(1)}' in ${short}`;
    return `flag needs an argument: ${long ?? flags}`;
  }
  if (code === 'commander.invalidArgument') {
    const m = /^option '([^']*)' argument '([\s\S]*)' is invalid\. ?([\s\S]*)$/.exec(text);
    if (m) return `invalid argument ${JSON.stringify(m[2])} for ${JSON.stringify(pflagName(m[1]!))} flag: ${goCause(m[2]!, m[3]!.trim())}`;
    return text;
  }
  if (code === 'commander.conflictingOption' || code === 'commander.missingMandatoryOptionValue') return text;
  return undefined;
}
