// The bundled CLI builds only the command that runs (lib/cli/entry.ts, lib/cli/commands.ts):
// what each command is — its subcommands, options, help text — and what it answers to a bad
// command line must be the same as in the whole program (lib/cli/main.ts); so must a one-command
// bundle's (lib/cli/bundles/*.ts, lib/cli/single.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_MODULES, commandToRun, modulesFor } from '../../lib/cli/commands.js';
import { programFor } from '../../lib/cli/entry.js';
import { createProgram, runCli } from '../../lib/cli/main.js';
import { runProgram } from '../../lib/cli/program.js';
import type { CliContext } from '../../lib/cli/run.js';
import type { SingleCommandBundle } from '../../lib/cli/single.js';

const context = (): CliContext & { err: string } => {
  const ctx = { env: {}, execute: async () => 0, writeErr: (t: string) => void (ctx.err += t), exitCode: 0, err: '' };
  return ctx;
};

/** A command's subtree as text: every command's path, aliases and help. */
function describeTree(cmd: Command, path = cmd.name()): string[] {
  return [
    `${path} (${cmd.aliases().join(',')})\n${cmd.helpInformation()}`,
    ...cmd.commands.flatMap((c) => describeTree(c, `${path} ${c.name()}`)),
  ];
}

describe('the lazily built program', () => {
  const full = createProgram(context());

  it('knows every top-level command but help and completion', () => {
    const names = full.commands.flatMap((c) => [c.name(), ...c.aliases()]).sort();
    const lazy = [...new Set(COMMAND_MODULES.flatMap((m) => m.names)), 'help', 'completion'].sort();
    expect(lazy).toEqual(names);
  });

  it('builds each command as the whole program does (subcommands, options, help)', async () => {
    for (const top of full.commands) {
      if (top.name() === 'help' || top.name() === 'completion') continue;
      const program = await programFor(['node', 'pocker', top.name()], context());
      const mine = program.commands.find((c) => c.name() === top.name());
      expect(mine, top.name()).toBeDefined();
      expect(describeTree(mine!), top.name()).toEqual(describeTree(top));
      // The program's own options and help line are the same too.
      expect(program.options.map((o) => o.flags)).toEqual(full.options.map((o) => o.flags));
    }
  });

  it('takes the whole program for help, completion, unknown commands and unusual global flags', async () => {
    for (const args of [[], ['--help'], ['-h'], ['help', 'ps'], ['completion', 'bash'], ['rnu'], ['--bogus', 'ps'], ['-Dv'], ['--root']]) {
      expect(commandToRun(['node', 'pocker', ...args]), args.join(' ')).toBeUndefined();
      const program = await programFor(['node', 'pocker', ...args], context());
      expect(program.commands.length, args.join(' ')).toBe(full.commands.length);
    }
    expect(commandToRun(['node', 'pocker', '--root', '/r', '-D', 'ps', '-a'])).toBe('ps');
    expect(commandToRun(['node', 'pocker', '--root=/r', '--debug', 'image', 'ls'])).toBe('image');
    expect(commandToRun(['node', 'pocker', '-D', '--version'])).toBe('--version');
    expect(commandToRun(['node', 'pocker', '--root', 'ps'])).toBeUndefined();
  });

  it('answers bad command lines, help and --version as the whole program does', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'pocker-lazy-'));
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const lines = [
        ['--version'], ['-v'], ['--root', empty, '-v'], ['ps', '--bogus'], ['ps', 'extra'], ['run'], ['rm'], ['image'], ['image', 'frob'],
        ['system', 'info', '--bogus'], ['container', 'prune', '--bogus'], ['image', 'load', '--bogus'], ['ps', '--help'], ['image', '--help'],
        ['run', '--pids-limit', 'abc', 'host'], ['--root', empty, 'ps', '-a'], ['--root', empty, 'volume', 'ls'], ['stop'], ['logs', '-n'],
      ];
      for (const args of lines) {
        const argv = ['node', 'pocker', ...args];
        const a = context();
        out.length = 0;
        const codeFull = await runCli(argv, a);
        const outFull = out.join('');
        const b = context();
        out.length = 0;
        const codeLazy = await runProgram(argv, b, (normalized) => programFor(normalized, b));
        expect({ code: codeLazy, err: b.err, out: out.join('') }, args.join(' ')).toEqual({ code: codeFull, err: a.err, out: outFull });
      }
    } finally {
      process.stdout.write = write;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("bin/pocker.cjs prints the version itself exactly when commandToRun() says `--version`", () => {
    const { versionAsked } = createRequire(import.meta.url)('../../bin/pocker.cjs') as { versionAsked: (argv: string[]) => boolean };
    const lines = [
      ['--version'], ['-v'], ['-D', '--version'], ['--debug', '-v', 'ps'], ['--root', '/r', '-v'], ['--root=/r', '--version'], ['--root', '--version'],
      ['--root'], [], ['ps', '--version'], ['-Dv'], ['--bogus', '-v'], ['help', '-v'], ['version'], ['-h'], ['--root', '/r', 'ps'],
    ];
    for (const args of lines) {
      const argv = ['node', 'pocker', ...args];
      expect(versionAsked(argv), args.join(' ')).toBe(commandToRun(argv) === '--version');
    }
  });

  it('bin/pocker.cjs runs a one-command bundle exactly for its commands, which it builds as the whole program does', async () => {
    const bin = createRequire(import.meta.url)('../../bin/pocker.cjs') as { BUNDLES: Record<string, string>; firstWord: (argv: string[]) => string | undefined };
    const bundleNames = [...new Set(Object.values(bin.BUNDLES))];
    for (const name of bundleNames) {
      const bundle = (await import(`../../lib/cli/bundles/${name}.ts`)) as SingleCommandBundle;
      // The bundle runs the commands bin/pocker.cjs sends it, and each is a whole top-level command.
      expect([...bundle.names].sort(), name).toEqual(Object.keys(bin.BUNDLES).filter((c) => bin.BUNDLES[c] === name).sort());
      for (const command of bundle.names) {
        const top = full.commands.find((c) => c.name() === command);
        expect(top, command).toBeDefined();
        const program = await bundle.programFor(['node', 'pocker', command], context());
        const mine = program.commands.find((c) => c.name() === command);
        expect(mine, command).toBeDefined();
        expect(describeTree(mine!), command).toEqual(describeTree(top!));
        expect(program.options.map((o) => o.flags)).toEqual(full.options.map((o) => o.flags));
        // A command whose registration is shared with others is the whole registration's.
        for (const m of modulesFor(command)) expect(m.names.every((n) => n === command || modulesFor(n).length > 0)).toBe(true);
        expect(modulesFor(command).length, command).toBe(1);
      }
      // It declines, having done nothing, any other command line (bin/pocker.cjs then loads the whole program).
      for (const args of [[], ['--help'], ['help', bundle.names[0]!], ['version'], ['--version'], ['image', 'ls'], ['container', 'ls']]) {
        expect(bundle.main(['node', 'pocker', ...args]), `${name}: ${args.join(' ')}`).toBeUndefined();
      }
    }
    const lines = [
      ['ps'], ['-D', 'ps', '-a'], ['--root', '/r', 'images'], ['--root=/r', 'run', '--rm', 'host', 'true'], ['--root', 'ps'], ['--root'], [],
      ['-v', 'ps'], ['container', 'ls'], ['help', 'ps'], ['--bogus', 'ps'], ['image', 'ls'], ['-Dps'], ['rm', '-f', 'x'], ['exec', 'c', 'true'],
    ];
    for (const args of lines) {
      const argv = ['node', 'pocker', ...args];
      const word = bin.firstWord(argv);
      if (word !== undefined && Object.hasOwn(bin.BUNDLES, word)) expect(commandToRun(argv), args.join(' ')).toBe(word);
    }
  });

  it('a one-command bundle answers bad command lines and help as the whole program does', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'pocker-lazy-'));
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const lines: [string, string[]][] = [
        ['ps', ['ps', '--bogus']], ['ps', ['ps', 'extra']], ['ps', ['ps', '--help']], ['ps', ['--root', empty, 'ps', '-a']], ['run', ['run']],
        ['run', ['run', '--pids-limit', 'abc', 'host']], ['logs', ['logs', '-n']], ['images', ['images', '--bogus']], ['images', ['rmi']],
        ['exec', ['exec']],
      ];
      for (const [name, args] of lines) {
        const bundle = (await import(`../../lib/cli/bundles/${name}.ts`)) as SingleCommandBundle;
        const argv = ['node', 'pocker', ...args];
        const a = context();
        out.length = 0;
        const codeFull = await runCli(argv, a);
        const outFull = out.join('');
        const b = context();
        out.length = 0;
        const codeOne = await runProgram(argv, b, (normalized) => bundle.programFor(normalized, b));
        expect({ code: codeOne, err: b.err, out: out.join('') }, args.join(' ')).toEqual({ code: codeFull, err: a.err, out: outFull });
      }
    } finally {
      process.stdout.write = write;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
