// The pure parts of the CLI's Docker wording (lib/cli/usage.ts, templates in lib/cli/format.ts,
// lib/cli/info.ts): commander objects and strings in, Docker's text out. The end-to-end checks,
// each next to docker/cli's text, are in test/integration/cli-docker.test.ts.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';

import { checkTemplate, renderTemplate } from '../../lib/cli/format.js';
import { TemplateError } from '../../lib/cli/failure.js';
import { goArch, osRelease } from '../../lib/cli/info.js';
import { argumentCountMessage, argumentRange, commandPath, pflagMessage, unknownCommandMessage, useLine } from '../../lib/cli/usage.js';

function program(): { root: Command; rm: Command; rename: Command; commit: Command; ps: Command; image: Command } {
  const root = new Command('pocker').usage('[OPTIONS] COMMAND');
  const rm = root.command('rm').usage('[OPTIONS] CONTAINER [CONTAINER...]').argument('<containers...>');
  const rename = root.command('rename').usage('CONTAINER NEW_NAME').argument('<container>').argument('<newName>');
  const commit = root.command('commit').usage('[OPTIONS] CONTAINER [REPOSITORY[:TAG]]').argument('<container>').argument('[reference]');
  const ps = root.command('ps').usage('[OPTIONS]');
  const image = root.command('image').usage('COMMAND');
  image.command('ls');
  return { root, rm, rename, commit, ps, image };
}

describe("usage errors (docker/cli cli/required.go, cli/cobra.go, spf13/pflag's errors.go)", () => {
  it('command path, use line and argument range come from the commander definitions', () => {
    const p = program();
    expect(commandPath(p.image.commands[0]!)).toBe('pocker image ls');
    expect(useLine(p.rm)).toBe('pocker rm [OPTIONS] CONTAINER [CONTAINER...]');
    expect(argumentRange(p.rm)).toEqual([1, Infinity]);
    expect(argumentRange(p.rename)).toEqual([2, 2]);
    expect(argumentRange(p.commit)).toEqual([1, 2]);
    expect(argumentRange(p.ps)).toEqual([0, 0]);
  });

  it("argument counts in each of Docker's five forms", () => {
    const p = program();
    expect(argumentCountMessage(p.rm)).toBe("pocker: 'pocker rm' requires at least 1 argument\n\nUsage:  pocker rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'pocker rm --help' for more information");
    expect(argumentCountMessage(p.rename)).toBe("pocker: 'pocker rename' requires 2 arguments\n\nUsage:  pocker rename CONTAINER NEW_NAME\n\nRun 'pocker rename --help' for more information");
    expect(argumentCountMessage(p.commit)).toMatch(/^pocker: 'pocker commit' requires at least 1 and at most 2 arguments\n/);
    expect(argumentCountMessage(p.ps)).toMatch(/^pocker: 'pocker ps' accepts no arguments\n\nUsage:  pocker ps \[OPTIONS\]\n\nRun 'pocker ps --help' for more information$/);
    expect(argumentCountMessage(p.ps, [0, 1])).toMatch(/^pocker: 'pocker ps' requires at most 1 argument\n/);
  });

  it('unknown commands: at the top without a usage line, under a management command with one', () => {
    const p = program();
    expect(unknownCommandMessage(p.root, 'rnu')).toBe("pocker: unknown command: pocker rnu\n\nRun 'pocker --help' for more information");
    expect(unknownCommandMessage(p.image, 'x')).toBe("pocker: unknown command: pocker image x\n\nUsage:  pocker image COMMAND\n\nRun 'pocker image --help' for more information");
  });

  it("commander's parse messages become pflag's", () => {
    expect(pflagMessage('commander.unknownOption', "error: unknown option '--bogus'\n(Did you mean --bogo?)")).toBe('unknown flag: --bogus');
    expect(pflagMessage('commander.unknownOption', "error: unknown option '--bogus=1'")).toBe('unknown flag: --bogus');
    expect(pflagMessage('commander.unknownOption', "error: unknown option '-x'")).toBe("unknown shorthand flag: 'x' in -x");
    expect(pflagMessage('commander.optionMissingArgument', "error: option '--name <name>' argument missing")).toBe('flag needs an argument: --name');
    expect(pflagMessage('commander.optionMissingArgument', "error: option '-e, --env <KEY[=VALUE]>' argument missing", ['run', '-e'])).toBe("flag needs an argument: 'e' in -e");
    expect(pflagMessage('commander.optionMissingArgument', "error: option '-e, --env <KEY[=VALUE]>' argument missing", ['run', '--env'])).toBe('flag needs an argument: --env');
    expect(pflagMessage('commander.invalidArgument', "error: option '--pids-limit <int>' argument 'abc' is invalid. Not an integer.")).toBe(
      'invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt: parsing "abc": invalid syntax',
    );
    expect(pflagMessage('commander.invalidArgument', "error: option '-c, --cpu-shares <int>' argument '99999999999999999999999' is invalid. Not an integer.")).toBe(
      'invalid argument "99999999999999999999999" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "99999999999999999999999": value out of range',
    );
    expect(pflagMessage('commander.missingArgument', "error: missing required argument 'x'")).toBeUndefined();
  });
});

describe("templates: Go's parse and execution errors", () => {
  it('execution errors carry Go\'s location (line:column of the node) and say "executing"', () => {
    const err = (() => {
      try {
        renderTemplate('{{.Nope}}', { Names: 'x' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TemplateError);
    expect(err).toMatchObject({ execution: true, message: 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope' });
    expect(() => renderTemplate('a\nb {{json .Nope}}', {})).toThrow('template: :2:9: executing "" at <.Nope>');
    expect(() => renderTemplate('{{.A.B}}', { A: {} }, { missingKey: 'map' })).toThrow('template: :1:2: executing "" at <.A.B>: map has no entry for key "B"');
    expect(() => renderTemplate('{{.A.B}}', { A: 'text' })).toThrow("can't evaluate field B in type string");
    expect(renderTemplate('{{.A.B}}', { A: {} })).toBe('<no value>');
    expect(renderTemplate('{{index .T 1}}', { T: ['a', 'b'] })).toBe('b');
  });

  it('checkTemplate refuses what cannot parse, without executing', () => {
    expect(() => checkTemplate('{{.Name')).toThrow('template: :1: unclosed action');
    expect(() => checkTemplate('{{nope .Name}}')).toThrow('function "nope" not defined');
    expect(() => checkTemplate('{{.Nope}} {{json .}} {{index .X 0}}')).not.toThrow();
    expect(() => checkTemplate('{{.Name')).toThrow(TemplateError);
  });
});

describe('info and version facts', () => {
  it("Go's GOARCH names and /etc/os-release's PRETTY_NAME", () => {
    expect(goArch('x64')).toBe('amd64');
    expect(goArch('arm64')).toBe('arm64');
    expect(osRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n')).toEqual({ name: 'Debian GNU/Linux 12 (bookworm)', version: '12' });
    expect(osRelease('')).toEqual({ name: 'Linux', version: '' });
  });
});
