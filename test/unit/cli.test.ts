// The CLI's flag parsing, RunOptions mapping and exit codes, without root and without running a
// container (the executor is a fake). `--version` runs the real entry point.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { PockerError } from '../../lib/errors.js';
import type { RunOptions } from '../../lib/types.js';
import { runCli } from '../../lib/cli/main.js';
import { CliError, cliFailure, TemplateError } from '../../lib/cli/failure.js';
import { toRunOptions, type CliContext } from '../../lib/cli/run.js';

const errorExit = (err: unknown, command?: string) => cliFailure(err, 'run', command);

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Outcome {
  code: number;
  options: RunOptions[];
  stderr: string;
}

/** Runs `pocker <args>` in-process with a fake executor that records the RunOptions. */
async function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; execute?: (o: RunOptions) => Promise<number> } = {}): Promise<Outcome> {
  const options: RunOptions[] = [];
  let stderr = '';
  const ctx: CliContext = {
    env: opts.env ?? {},
    execute: async (o) => {
      options.push(o);
      return opts.execute ? opts.execute(o) : 0;
    },
    writeErr: (text) => {
      stderr += text;
    },
    exitCode: 0,
  };
  const code = await runCli(['node', 'pocker', ...args], ctx);
  return { code, options, stderr };
}

const plainStdio = ['ignore', 'inherit', 'inherit'];

describe('pocker run: arguments', () => {
  it('passes everything after the image to the container command', async () => {
    const r = await cli(['run', '--rm', 'host', 'ls', '-l', '/']);
    expect(r.code).toBe(0);
    expect(r.options).toEqual([{ image: 'host', cmd: ['ls', '-l', '/'], rm: true, stdio: plainStdio }]);
  });

  it('does not read pocker flags that follow the image', async () => {
    const r = await cli(['run', 'host', 'sh', '-c', 'echo hi', '--rm', '-e', 'X=1', '--', '-v']);
    expect(r.options[0]).toEqual({ image: 'host', cmd: ['sh', '-c', 'echo hi', '--rm', '-e', 'X=1', '--', '-v'], stdio: plainStdio });
  });

  it('uses the image default command when none is given', async () => {
    const r = await cli(['run', 'host']);
    expect(r.options[0]).toEqual({ image: 'host', stdio: plainStdio });
  });

  it('with --rootfs, every positional is the command', async () => {
    const r = await cli(['run', '--rootfs', '/tmp/root', 'ls', '-l', '/']);
    expect(r.options[0]).toEqual({ rootfs: '/tmp/root', cmd: ['ls', '-l', '/'], stdio: plainStdio });
    const bare = await cli(['run', '--rootfs=/tmp/root']);
    expect(bare.options[0]).toEqual({ rootfs: '/tmp/root', stdio: plainStdio });
  });

  it('collects repeatable flags in order', async () => {
    const r = await cli([
      'run',
      '-e', 'A=1', '--env', 'B=2',
      '--env-file', '/a.env', '--env-file', '/b.env',
      '-v', '/src:/dst', '--volume', '/x:/y:ro',
      '--tmpfs', '/t', '--tmpfs', '/u:size=1m',
      '--cap-add', 'NET_ADMIN', '--cap-add', 'SYS_TIME',
      '--cap-drop', 'ALL', '--cap-drop', 'CHOWN',
      '--security-opt', 'no-new-privileges', '--security-opt', 'seccomp=unconfined',
      'host', 'true',
    ]);
    expect(r.options[0]).toMatchObject({
      env: ['A=1', 'B=2'],
      envFile: ['/a.env', '/b.env'],
      volumes: ['/src:/dst', '/x:/y:ro'],
      tmpfs: ['/t', '/u:size=1m'],
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
      capDrop: ['ALL', 'CHOWN'],
      securityOpt: ['no-new-privileges', 'seccomp=unconfined'],
    });
  });

  it('-e KEY takes the value from the environment, and is dropped when unset', async () => {
    const r = await cli(['run', '-e', 'FOO', '-e', 'UNSET', '-e', 'EMPTY', '-e', 'BAR=x=y', '-e', 'Z=', 'host'], {
      env: { FOO: 'from-env', EMPTY: '' },
    });
    expect(r.options[0]!.env).toEqual(['FOO=from-env', 'EMPTY=', 'BAR=x=y', 'Z=']);
  });

  it('maps the other flags, keeping values as given for the library to validate', async () => {
    const r = await cli([
      'run', '--name', 'web', '-w', '/srv', '-u', '1000:1000', '-h', 'box', '--entrypoint', '/bin/echo',
      '--read-only', '--network', 'host', '--init', '-m', '512m', '--memory-swap', '1g', '--cpus', '0.5',
      '-c', '512', '--cpuset-cpus', '0-1', '--pids-limit', '-1', '--cgroup-parent', 'ci',
      '--root', '/tmp/state', 'host', 'hi',
    ]);
    expect(r.options[0]).toEqual({
      image: 'host', cmd: ['hi'], name: 'web', workdir: '/srv', user: '1000:1000', hostname: 'box',
      entrypoint: '/bin/echo', readOnly: true, network: 'host', init: true, memory: '512m', memorySwap: '1g',
      cpus: '0.5', cpuShares: 512, cpusetCpus: '0-1', pidsLimit: -1, cgroupParent: 'ci', root: '/tmp/state',
      stdio: plainStdio,
    });
  });

  it('accepts --net as an alias, --memory-swap -1, and invalid values for the library to reject', async () => {
    const r = await cli(['run', '--net', 'bogus', '--memory-swap', '-1', '-m', 'lots', 'host']);
    expect(r.options[0]).toMatchObject({ network: 'bogus', memorySwap: -1, memory: 'lots' });
  });

  it('takes --root from before the command, from the run flags, or from POCKER_ROOT', async () => {
    expect((await cli(['--root', '/g', 'run', 'host'])).options[0]!.root).toBe('/g');
    expect((await cli(['--root', '/g', 'run', '--root', '/l', 'host'])).options[0]!.root).toBe('/l');
    expect((await cli(['run', 'host'], { env: { POCKER_ROOT: '/e' } })).options[0]!.root).toBe('/e');
    expect((await cli(['run', 'host'])).options[0]!.root).toBeUndefined();
  });

  it('maps -i, -t and -it onto stdio', async () => {
    expect((await cli(['run', '-i', 'host'])).options[0]).toEqual({ image: 'host', stdio: ['inherit', 'inherit', 'inherit'] });
    expect((await cli(['run', '-t', 'host'])).options[0]).toEqual({ image: 'host', tty: true, stdio: 'pipe' });
    expect((await cli(['run', '-it', '--rm', 'host', 'sh'])).options[0]).toEqual({
      image: 'host', cmd: ['sh'], tty: true, interactive: true, rm: true, stdio: 'pipe',
    });
  });

  it('toRunOptions is pure and only sets the flags given', () => {
    expect(toRunOptions('alpine', [], {})).toEqual({ image: 'alpine', stdio: plainStdio });
    expect(toRunOptions(undefined, ['sh'], { rootfs: '/r', volume: [] })).toEqual({ rootfs: '/r', cmd: ['sh'], stdio: plainStdio });
  });
});

describe('pocker run: exit codes', () => {
  it('returns the container exit code', async () => {
    expect((await cli(['run', 'host', 'false'], { execute: async () => 1 })).code).toBe(1);
    expect((await cli(['run', 'host', 'sleep', '9'], { execute: async () => 137 })).code).toBe(137);
  });

  it('maps exec errors to 127 and 126 like Docker', () => {
    const enoent = new PockerError('exec failed', { code: 'ENOENT', errno: 2, step: 'exec', path: 'nope' });
    expect(errorExit(enoent, 'nope')).toEqual({ exitCode: 127, message: 'pocker: exec: "nope": executable file not found in $PATH' });
    expect(errorExit(enoent, '/bin/nope')).toEqual({ exitCode: 127, message: 'pocker: exec: "/bin/nope": no such file or directory' });
    expect(errorExit(enoent).message).toBe('pocker: exec: "nope": executable file not found in $PATH');
    for (const [code, why] of [['EACCES', 'permission denied'], ['EPERM', 'operation not permitted'], ['ENOEXEC', 'exec format error'], ['EISDIR', 'is a directory']]) {
      const err = new PockerError('exec failed', { code: code as 'EACCES', step: 'exec', path: '/etc' });
      expect(errorExit(err, '/etc')).toEqual({ exitCode: 126, message: `pocker: exec: "/etc": ${why}` });
    }
  });

  it('maps every other error to 125, naming its step only in debug mode (-D)', () => {
    const invalid = new PockerError('memory: below the 6 MB minimum', { code: 'ERR_POCKER_INVALID', step: 'validate' });
    expect(errorExit(invalid)).toEqual({ exitCode: 125, message: 'pocker: memory: below the 6 MB minimum' });
    expect(cliFailure(invalid, 'run', undefined, true)).toEqual({ exitCode: 125, message: 'pocker: memory: below the 6 MB minimum (step: validate)' });
    const mount = new PockerError('mount rootfs: EPERM', { code: 'EPERM', step: 'mount-rootfs' });
    expect(errorExit(mount).exitCode).toBe(125);
    const execOther = new PockerError('exec: E2BIG', { code: 'E2BIG', step: 'exec' });
    expect(errorExit(execOther).exitCode).toBe(125);
    expect(errorExit(new Error('boom'))).toEqual({ exitCode: 125, message: 'pocker: boom' });
    expect(errorExit(new CliError('the input device is not a TTY'))).toEqual({ exitCode: 125, message: 'pocker: the input device is not a TTY' });
  });

  it('one mapper for every command: the style sets the exit code of a library error; CLI errors keep theirs', () => {
    const notFound = new PockerError('No such container: x', { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
    expect(cliFailure(notFound)).toEqual({ exitCode: 1, message: 'pocker: No such container: x' });
    expect(cliFailure(notFound, 'usage')).toEqual({ exitCode: 125, message: 'pocker: No such container: x' });
    expect(cliFailure(notFound, 'start')).toEqual({ exitCode: 1, message: 'pocker: No such container: x' });
    expect(cliFailure(notFound, 'start', undefined, true)).toEqual({ exitCode: 1, message: 'pocker: No such container: x (step: lookup)' });
    const enoent = new PockerError('exec failed', { code: 'ENOENT', step: 'exec', path: 'nope' });
    expect(cliFailure(enoent, 'start')).toEqual({ exitCode: 1, message: 'pocker: exec: "nope": executable file not found in $PATH' });
    expect(cliFailure(new CliError('interrupted', { exitCode: 130 }))).toEqual({ exitCode: 130, message: 'pocker: interrupted' });
    expect(cliFailure(new TemplateError('template: :1: unclosed action'))).toEqual({ exitCode: 1, message: 'pocker: template parsing error: template: :1: unclosed action' });
    expect(new CliError('x')).toBeInstanceOf(PockerError);
    expect(new CliError('x')).toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'cli' });
  });

  it('prints the mapped message when the library throws', async () => {
    const r = await cli(['run', 'host', 'nope'], {
      execute: async () => {
        throw new PockerError('exec', { code: 'ENOENT', step: 'exec', path: 'nope' });
      },
    });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('pocker: exec: "nope": executable file not found in $PATH\n');
  });

  it("exits 125 on flag errors and 1 on argument-count errors and unknown commands (Docker's codes; test/integration/cli-docker.test.ts has the words)", async () => {
    for (const args of [['run', '--bogus', 'host'], ['run', '-c', 'lots', 'host'], ['run', '--name']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.options).toEqual([]);
      expect(r.stderr).toMatch(/\n\nUsage:  pocker run .*\n\nRun 'pocker run --help' for more information\n$/);
    }
    for (const args of [['run'], ['frobnicate']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.options).toEqual([]);
      expect(r.stderr).toMatch(/^pocker: /);
    }
  });

  it('keeps --help for help (-h is --hostname)', async () => {
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    let r: Outcome;
    try {
      r = await cli(['run', '--help']);
    } finally {
      process.stdout.write = write;
    }
    expect(r.code).toBe(0);
    expect(r.options).toEqual([]);
    expect(out.join('')).toMatch(/-h, --hostname/);
  });
});

/**
 * A preload that reports each dlopen (`DLOPEN <path>`) and each call of the addon's whole-file
 * readers (`readFileLatin1 <path>`, `readFileBytes <path>`) on stderr.
 */
const ADDON_HOOK = 'data:text/javascript,' + encodeURIComponent(
  'const o=process.dlopen;process.dlopen=function(m,f){const r=o.apply(this,arguments);process.stderr.write("DLOPEN "+f+"\\n");' +
    'for(const k of ["readFileLatin1","readFileBytes"]){const g=m.exports[k];if(g)m.exports[k]=(p)=>{process.stderr.write(k+" "+p+"\\n");return g(p)}}return r}',
);

describe('pocker --version', () => {
  const entry = join(repo, 'dist', 'cli.cjs');

  beforeAll(() => {
    // The CLI is the bundle built by `npm run build:ts`; rebuild it when any source is newer.
    const newest = Math.max(...readdirSync(join(repo, 'lib'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => statSync(join(repo, 'lib', f)).mtimeMs));
    if (existsSync(entry) && statSync(entry).mtimeMs >= newest) return;
    execFileSync('npm', ['run', 'build:ts'], { cwd: repo, stdio: 'pipe' });
  }, 120_000);

  it('prints the package.json version without loading the native addon', () => {
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    // Any dlopen (a .node addon) would be reported on stderr (ADDON_HOOK).
    for (const flag of ['--version', '-v']) {
      const r = spawnSync(process.execPath, ['--import', ADDON_HOOK, join(repo, 'bin', 'pocker.cjs'), flag], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
});

describe('the CLI entry', () => {
  it('compiles each bundle with the V8 code cache built beside it, which this Node accepts', () => {
    const { BUNDLES } = createRequire(import.meta.url)('../../bin/pocker.cjs') as { BUNDLES: Record<string, string> };
    expect(existsSync(join(repo, 'dist', 'cli.cjs.v8cache'))).toBe(true);
    for (const b of new Set(Object.values(BUNDLES))) expect(existsSync(join(repo, 'dist', 'cli', `${b}.cjs.v8cache`)), b).toBe(true);
    // `--version` is answered without the bundle; `run` without an image is a usage error (no container).
    const empty = mkdtempSync(join(tmpdir(), 'pocker-v8cache-'));
    try {
      for (const args of [['ps'], ['images'], ['run'], ['inspect', 'nosuch'], ['volume', 'ls'], ['logs']]) {
        const r = spawnSync(process.execPath, [join(repo, 'bin', 'pocker.cjs'), '--root', empty, ...args], { encoding: 'utf8', env: { ...process.env, POCKER_REPORT_V8CACHE: '1' } });
        expect(r.stderr.split('\n')[0], args.join(' ')).toBe('v8cache rejected=false');
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the CLI entry\'s reads', () => {
  // bin/pocker.cjs loads the addon before the bundle and reads the bundle and its cache with it
  // (readFileLatin1, readFileBytes: fewer page faults than fs, issue 12), registering it where
  // lib/native.ts looks, so a command that needs the addon does not load it a second time.
  it('loads the addon once and reads the bundle and its code cache through it', () => {
    // Where bin/pocker.cjs (and lib/native.ts) look first: a build, else the prebuild.
    const addon = [join(repo, 'build', 'Release', 'pocker.node'), join(repo, 'prebuilds', `${process.platform}-${process.arch}`, 'pocker.node')].find((f) => existsSync(f));
    const empty = mkdtempSync(join(tmpdir(), 'pocker-reads-'));
    try {
      for (const [args, bundle] of [[['ps'], 'cli/ps'], [['images'], 'cli/images'], [['volume', 'ls'], 'cli'], [['run'], 'cli/run']] as const) {
        const r = spawnSync(process.execPath, ['--import', ADDON_HOOK, join(repo, 'bin', 'pocker.cjs'), '--root', empty, ...args], { encoding: 'utf8', timeout: 60_000 });
        const file = join(repo, 'dist', `${bundle}.cjs`);
        const lines = r.stderr.split('\n').filter((l) => /^(DLOPEN|readFile)/.test(l));
        expect(lines.filter((l) => l.startsWith('DLOPEN')), args.join(' ')).toEqual([`DLOPEN ${addon}`]);
        expect(lines.filter((l) => l.startsWith('readFile')), args.join(' ')).toEqual([`readFileBytes ${file}.v8cache`, `readFileLatin1 ${file}`]);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the CLI\'s end', () => {
  // cliMain (lib/cli/program.ts): a command that leaves nothing behind ends the process by itself,
  // with no timer made (a process's first timer costs ~0.6 ms: issue 12); one that leaves a handle
  // open (here an interval) is still ended, with its exit code, by the grace timer.
  const countTimers = 'data:text/javascript,import {writeSync} from "node:fs";let n=0;const s=globalThis.setTimeout;globalThis.setTimeout=(...a)=>{n++;return s(...a)};process.on("exit",(c)=>writeSync(2,"timers="+n+" code="+c+"\\n"))';

  it('ends by itself, without a timer, when the command leaves nothing behind (ps, images)', () => {
    const empty = mkdtempSync(join(tmpdir(), 'pocker-end-'));
    try {
      for (const args of [['ps'], ['images', '-q']]) {
        const r = spawnSync(process.execPath, ['--import', countTimers, join(repo, 'bin', 'pocker.cjs'), '--root', empty, ...args], { encoding: 'utf8', timeout: 60_000 });
        expect(r.stderr, args[0]).toBe('timers=0 code=0\n');
        expect(r.status).toBe(0);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('ends a command that left a handle open, with its exit code', () => {
    const program = pathToFileURL(join(repo, 'dist', 'cli', 'program.js')).href;
    const r = spawnSync(process.execPath, ['--import', countTimers, '--input-type=module', '-e', `
      import { cliMain, createBaseProgram } from ${JSON.stringify(program)};
      await cliMain(['node', 'pocker', 'probe'], async () => 0, (argv, ctx) => {
        const p = createBaseProgram(ctx);
        p.command('probe').action(() => { setInterval(() => {}, 60_000); ctx.exitCode = 3; });
        return p;
      });`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('timers=1 code=3\n');
    expect(r.status).toBe(3);
  });
});

describe('--log-opt', () => {
  it('parses max-size and max-file, and refuses anything else', async () => {
    const { parseLogOpts } = await import('../../lib/cli/run.js');
    expect(parseLogOpts(['max-size=10m', 'max-file=3'])).toEqual({ maxSize: '10m', maxFile: 3 });
    expect(() => parseLogOpts(['mode=non-blocking'])).toThrow(/supported are max-size=SIZE and max-file=N/);
    expect(() => parseLogOpts(['max-file=x'])).toThrow(/invalid log option/);
  });
});

describe('container management aliases', () => {
  it('maps `container CMD` to the top-level command, after global options; leaves the rest alone', async () => {
    const { normalizeArgv } = await import('../../lib/cli/main.js');
    const base = ['node', 'pocker'];
    expect(normalizeArgv([...base, 'container', 'ls', '-a'])).toEqual([...base, 'ps', '-a']);
    expect(normalizeArgv([...base, '--root', '/r', 'container', 'start', '-a', 'c'])).toEqual([...base, '--root', '/r', 'start', '-a', 'c']);
    expect(normalizeArgv([...base, 'container', 'prune', '-f'])).toEqual([...base, 'container', 'prune', '-f']);
    expect(normalizeArgv([...base, 'run', 'host', 'container', 'ls'])).toEqual([...base, 'run', 'host', 'container', 'ls']);
    // Go's bool flags: a bare --sig-proxy is true, never the next word's value.
    expect(normalizeArgv([...base, 'attach', '--sig-proxy', 'c'])).toEqual([...base, 'attach', '--sig-proxy=true', 'c']);
    expect(normalizeArgv([...base, 'container', 'attach', '--detach-keys', '--sig-proxy', 'c'])).toEqual([...base, 'attach', '--detach-keys', '--sig-proxy', 'c']);
    expect(normalizeArgv([...base, 'run', 'host', 'echo', '--sig-proxy'])).toEqual([...base, 'run', 'host', 'echo', '--sig-proxy']);
  });
});
