// Unit tests of RunOptions validation and resolution (no root, no kernel objects).
import * as fs from 'node:fs';
import * as os from 'node:os';
import osDefault from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PockerError } from '../../lib/errors.js';
import {
  CAPABILITIES,
  DEFAULT_CAPS,
  parseBytes,
  parseEnvFile,
  applyImageDefaults,
  defaultNetworkMode,
  resolveRunOptions,
  type ResolvedRunConfig,
} from '../../lib/runtime/options.js';
import type { RunOptions } from '../../lib/types.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const NCPU = os.availableParallelism();
const MAXCPU = Math.max(os.cpus().length, NCPU) - 1;
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let tmp: string;
let rootfsDir: string;
let aFile: string;
let envFile: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pocker-options-')));
  rootfsDir = path.join(tmp, 'rootfs');
  fs.mkdirSync(rootfsDir);
  fs.symlinkSync(rootfsDir, path.join(tmp, 'rootfs-link'));
  aFile = path.join(tmp, 'file');
  fs.writeFileSync(aFile, 'x');
  envFile = path.join(tmp, 'env.list');
  fs.writeFileSync(envFile, '# comment\nFROM_FILE=1\nSHARED=file\n\n  INDENTED=yes\n');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The default network with an empty environment: Docker's bridge for root, none for a rootless caller. */
const DEFAULT_NETWORK = process.geteuid?.() === 0 ? 'bridge' : 'none';

/** Resolves `{ image: 'host', ...extra }` with an empty environment. */
function resolve(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): ResolvedRunConfig {
  return resolveRunOptions({ image: 'host', ...extra } as RunOptions, env);
}

/** Asserts that resolving throws a validation error whose message matches. */
function rejects(extra: Record<string, unknown>, message: RegExp | string, env: NodeJS.ProcessEnv = {}): PockerError {
  let caught: unknown;
  try {
    resolveRunOptions({ image: 'host', ...extra } as RunOptions, env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PockerError);
  const err = caught as PockerError;
  expect(err.code).toBe('ERR_POCKER_INVALID');
  expect(err.step).toBe('validate');
  expect(err.message).toMatch(message);
  return err;
}

function capMask(names: readonly string[]): bigint {
  return names.reduce((m, n) => m | (1n << BigInt(CAPABILITIES[n]!)), 0n);
}

describe('defaults', () => {
  it('resolves the minimal options', () => {
    const c = resolve();
    expect(c.id).toMatch(/^[0-9a-f]{64}$/);
    expect(c.name).toBe(`pocker_${c.id.slice(0, 12)}`);
    expect(c.hostname).toBe(c.id.slice(0, 12));
    expect(c.rootfs).toEqual({ kind: 'host' });
    expect(c.args).toEqual(['/bin/sh']);
    expect(c.env).toEqual([DEFAULT_PATH, `HOSTNAME=${c.hostname}`]);
    expect(c.cwd).toBe('/');
    expect(c.user).toBe('');
    expect(c).toMatchObject({ interactive: false, tty: false, readOnly: false, init: false, rm: false, noNewPrivs: false });
    expect(c.ttySize).toBeUndefined();
    expect(c.network).toBe(DEFAULT_NETWORK);
    expect(c.mounts).toEqual([]);
    expect(c.resources).toEqual({});
    expect(c.caps).toBe(capMask(DEFAULT_CAPS));
    expect(c.root).toBe('/var/lib/pocker');
    expect(c.cgroupParent).toBe('pocker');
  });

  it('gives every container a fresh id', () => {
    expect(resolve().id).not.toBe(resolve().id);
  });

  it('adds TERM=xterm with a tty', () => {
    const c = resolve({ tty: true });
    expect(c.env).toEqual([DEFAULT_PATH, `HOSTNAME=${c.hostname}`, 'TERM=xterm']);
  });

  it('rejects non-object options', () => {
    expect(() => resolveRunOptions(null as unknown as RunOptions, {})).toThrow(/must be an object/);
  });

  it.each(['tty', 'interactive', 'readOnly', 'init', 'rm'])('rejects a non-boolean %s', (key) => {
    rejects({ [key]: 'yes' }, new RegExp(`invalid ${key}`));
  });
});

describe('image and rootfs', () => {
  it('accepts the host image', () => {
    expect(resolve({ image: 'host' }).rootfs).toEqual({ kind: 'host' });
  });

  it('resolves a rootfs directory to its absolute real path', () => {
    const viaLink = resolveRunOptions({ rootfs: path.join(tmp, 'rootfs-link') }, {});
    expect(viaLink.rootfs).toEqual({ kind: 'dir', path: rootfsDir });
    const relative = path.relative(process.cwd(), rootfsDir);
    expect(resolveRunOptions({ rootfs: relative }, {}).rootfs).toEqual({ kind: 'dir', path: rootfsDir });
  });

  it.each<[string, RunOptions, RegExp]>([
    ['neither', {}, /an image or a rootfs is required/],
    ['both', { image: 'host', rootfs: '/' }, /not both/],
    ['invalid image reference', { image: 'Alpine' }, /invalid reference format: repository name must be lowercase/],
    ['empty image', { image: '' }, /invalid reference format/],
    ['missing rootfs', { rootfs: '/nonexistent/pocker-rootfs' }, /\/nonexistent\/pocker-rootfs: no such file or directory/],
    ['empty rootfs', { rootfs: '' }, /invalid rootfs/],
  ])('rejects %s', (_label, opts, message) => {
    expect(() => resolveRunOptions(opts, {})).toThrow(message);
  });

  it('takes a registry image reference (resolved in the store by run())', () => {
    expect(resolveRunOptions({ image: 'alpine:3.20' }, {}).rootfs).toEqual({ kind: 'image', reference: 'alpine:3.20' });
  });

  it('rejects a rootfs that is a file, with its path', () => {
    let err: PockerError | undefined;
    try {
      resolveRunOptions({ rootfs: aFile }, {});
    } catch (e) {
      err = e as PockerError;
    }
    expect(err?.message).toMatch(/not a directory/);
    expect(err?.path).toBe(aFile);
    expect(err?.code).toBe('ERR_POCKER_INVALID');
  });
});

describe('parseBytes', () => {
  it.each<[number | string, number]>([
    [0, 0],
    [1234, 1234],
    ['1234', 1234],
    ['10b', 10],
    ['10B', 10],
    ['1k', 1024],
    ['1K', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['512m', 512 * MiB],
    ['10mb', 10 * MiB],
    ['10MB', 10 * MiB],
    ['10 m', 10 * MiB],
    ['1g', GiB],
    ['1.5g', 1.5 * GiB],
    ['1.5k', 1536],
    ['0.3k', 307], // truncated to an integer
    ['2t', 2 * 1024 * GiB],
  ])('%j -> %d', (input, bytes) => {
    expect(parseBytes(input, 'memory')).toBe(bytes);
  });

  it.each<[unknown]>([
    ['10x'],
    ['-1m'],
    [''],
    ['m'],
    ['1.g'],
    ['.5g'],
    ['10bb'],
    ['10ib'],
    ['1p'],
    [' 10m'],
    ['10m '],
    ['1e3'],
    [NaN],
    [Infinity],
    [-1],
    [1.5],
    [2 ** 60],
    [null],
    [{}],
  ])('rejects %j', (input) => {
    expect(() => parseBytes(input as string, 'memory limit')).toThrow(/invalid memory limit/);
  });

  it('names the value in the error', () => {
    expect(() => parseBytes('10x', 'memory limit')).toThrow('invalid memory limit "10x"');
  });
});

describe('memory and memorySwap', () => {
  it.each<[Partial<RunOptions>, object]>([
    [{ memory: '512m' }, { memory: 512 * MiB }],
    [{ memory: 6 * MiB }, { memory: 6 * MiB }],
    [{ memory: '6m' }, { memory: 6 * MiB }],
    [{ memory: '1g', memorySwap: '2g' }, { memory: GiB, memorySwap: 2 * GiB }],
    [{ memory: '1g', memorySwap: '1g' }, { memory: GiB, memorySwap: GiB }],
    [{ memory: '1g', memorySwap: -1 }, { memory: GiB, memorySwap: -1 }],
    [{ memory: '1g', memorySwap: '-1' }, { memory: GiB, memorySwap: -1 }],
    [{ memorySwap: -1 }, { memorySwap: -1 }],
  ])('accepts %j', (opts, resources) => {
    expect(resolve(opts).resources).toEqual(resources);
  });

  it('leaves memorySwap unset when only memory is given', () => {
    expect(resolve({ memory: '64m' }).resources.memorySwap).toBeUndefined();
  });

  it.each<[Partial<RunOptions> | Record<string, unknown>, RegExp]>([
    [{ memory: '10x' }, /invalid memory limit "10x"/],
    [{ memory: '-1m' }, /invalid memory limit "-1m"/],
    [{ memory: '' }, /invalid memory limit ""/],
    [{ memory: 'm' }, /invalid memory limit "m"/],
    [{ memory: NaN }, /invalid memory limit/],
    [{ memory: -1 }, /invalid memory limit/],
    [{ memory: true }, /invalid memory limit/],
    [{ memory: 0 }, /Minimum memory limit allowed is 6MB/],
    [{ memory: '5m' }, /invalid memory limit "5m": Minimum memory limit allowed is 6MB/],
    [{ memory: 6 * MiB - 1 }, /Minimum memory limit allowed is 6MB/],
    [{ memorySwap: '1g' }, /You should always set the Memory limit when using Memoryswap limit/],
    [{ memory: '1g', memorySwap: '512m' }, /invalid memory\+swap limit "512m": Minimum memoryswap limit should be larger than memory limit/],
    [{ memory: '1g', memorySwap: 0 }, /Minimum memoryswap limit/],
    [{ memory: '1g', memorySwap: -2 }, /invalid memory\+swap limit/],
    [{ memory: '1g', memorySwap: '10x' }, /invalid memory\+swap limit "10x"/],
  ])('rejects %j', (opts, message) => {
    rejects(opts, message);
  });
});

describe('cpus, cpuShares, cpusetCpus, pidsLimit', () => {
  it.each<[number | string, number]>([
    [0.5, 50000],
    ['0.5', 50000],
    ['.5', 50000],
    [0.01, 1000],
    [1, 100000],
    ['1', 100000],
    [0.333333, 33333],
    [NCPU, NCPU * 100000],
  ])('cpus %j -> quota %d', (cpus, quota) => {
    expect(resolve({ cpus }).resources.cpuQuota).toEqual({ quota, period: 100000 });
  });

  it.each<[number | string]>([[0], ['0'], ['0.0']])('cpus %j is no limit, as Docker\'s NanoCPUs 0 (no CFS quota)', (cpus) => {
    expect(resolve({ cpus }).resources.cpuQuota).toBeUndefined();
  });

  it.each<[unknown]>([[-1], [0.001], [NCPU + 0.5], [`${NCPU + 1}`], ['abc'], [''], ['1.5x'], ['-1'], [NaN], [Infinity], [null]])(
    'rejects cpus %j',
    (cpus) => {
      rejects({ cpus }, /invalid cpus/);
    },
  );

  it('explains the cpus range like Docker', () => {
    rejects({ cpus: NCPU + 1 }, `Range of CPUs is from 0.01 to ${NCPU}.00, as there are only ${NCPU} CPUs available`);
  });

  it.each([2, 1024, 262144])('accepts cpuShares %d', (cpuShares) => {
    expect(resolve({ cpuShares }).resources.cpuShares).toBe(cpuShares);
  });

  it.each<[unknown]>([[0], [1], [262145], [1.5], ['1024'], [NaN]])('rejects cpuShares %j', (cpuShares) => {
    rejects({ cpuShares }, /invalid cpu shares/);
  });

  it.each<[string, string]>([
    ['0', '0'],
    [`${MAXCPU}`, `${MAXCPU}`],
    [`0-${MAXCPU}`, MAXCPU === 0 ? '0' : `0-${MAXCPU}`],
    ['0,0', '0'],
    ['0-0', '0'],
  ])('accepts cpusetCpus %j -> %j', (cpusetCpus, normalised) => {
    expect(resolve({ cpusetCpus }).resources.cpusetCpus).toBe(normalised);
  });

  it.runIf(MAXCPU >= 1)('normalises a two-CPU list', () => {
    expect(resolve({ cpusetCpus: '1,0' }).resources.cpusetCpus).toBe('0-1');
    expect(resolve({ cpusetCpus: '1,0-1,1' }).resources.cpusetCpus).toBe('0-1');
  });

  it('normalises a cpuset list (on a machine with 8 CPUs)', () => {
    // The CPU count is the machine's: pretend to have 8 (node:os is patched and re-synced to ESM).
    const cpu = os.cpus()[0]!;
    const spies = [vi.spyOn(osDefault, 'availableParallelism').mockReturnValue(8), vi.spyOn(osDefault, 'cpus').mockReturnValue(Array(8).fill(cpu))];
    syncBuiltinESMExports();
    try {
      expect(resolve({ cpusetCpus: '3,0-1' }).resources.cpusetCpus).toBe('0-1,3');
      expect(resolve({ cpusetCpus: '0,1,2' }).resources.cpusetCpus).toBe('0-2');
      expect(resolve({ cpusetCpus: '2-3,0-1' }).resources.cpusetCpus).toBe('0-3');
    } finally {
      for (const s of spies) s.mockRestore();
      syncBuiltinESMExports();
    }
  });

  it.each<[unknown, RegExp]>([
    ['', /invalid cpuset-cpus ""/],
    ['a', /invalid cpuset-cpus "a"/],
    ['0-', /invalid cpuset-cpus/],
    ['-1', /invalid cpuset-cpus/],
    ['0,,1', /invalid cpuset-cpus/],
    ['0 ,1', /invalid cpuset-cpus/],
    ['1-0', /range 1-0 is not ascending/],
    [`${MAXCPU + 1}`, /Requested CPUs are not available - requested/],
    [`0-${MAXCPU + 1}`, /Requested CPUs are not available/],
    [0, /invalid cpuset-cpus/],
  ])('rejects cpusetCpus %j', (cpusetCpus, message) => {
    rejects({ cpusetCpus }, message);
  });

  it.each<[number, number | undefined]>([
    [1, 1],
    [100, 100],
    [0, undefined],
    [-1, undefined],
    [-5, undefined],
  ])('pidsLimit %d -> %j', (pidsLimit, expected) => {
    expect(resolve({ pidsLimit }).resources.pidsLimit).toBe(expected);
  });

  it.each<[unknown]>([[1.5], ['100'], [NaN], [Infinity]])('rejects pidsLimit %j', (pidsLimit) => {
    rejects({ pidsLimit }, /invalid pids limit/);
  });
});

describe('name and hostname', () => {
  it.each(['a', 'web', 'my_app.1-2', 'A9', '0abc', 'x'.repeat(128)])('accepts name %j', (name) => {
    expect(resolve({ name }).name).toBe(name);
  });

  it.each<[unknown]>([[''], ['_a'], ['.a'], ['-a'], ['a b'], ['a/b'], ['a:b'], ['é'], ['x'.repeat(129)], [5]])(
    'rejects name %j',
    (name) => {
      rejects({ name }, /Invalid container name|invalid container name/);
    },
  );

  it.each(['a', 'web-1', 'my.host.example', 'A0', '0', 'a'.repeat(63), `${'a'.repeat(31)}.${'b'.repeat(32)}`])(
    'accepts hostname %j',
    (hostname) => {
      const c = resolve({ hostname });
      expect(c.hostname).toBe(hostname);
      expect(c.env).toContain(`HOSTNAME=${hostname}`);
    },
  );

  it.each<[unknown]>([
    [''],
    ['-a'],
    ['a-'],
    ['a_b'],
    ['a..b'],
    ['.a'],
    ['a.'],
    ['a b'],
    ['a'.repeat(64)],
    [`${'a'.repeat(32)}.${'b'.repeat(32)}`], // 65 characters
    ['a\0b'],
  ])('rejects hostname %j', (hostname) => {
    rejects({ hostname }, /invalid hostname/);
  });
});

describe('env and envFile', () => {
  it('keeps KEY=VALUE entries in order after the defaults', () => {
    const c = resolve({ env: ['B=2', 'A=1', 'EMPTY=', 'EQ=a=b'] });
    expect(c.env.slice(2)).toEqual(['B=2', 'A=1', 'EMPTY=', 'EQ=a=b']);
  });

  it('accepts the record form', () => {
    expect(resolve({ env: { A: '1', B: 'two words' } }).env.slice(2)).toEqual(['A=1', 'B=two words']);
  });

  it('takes a bare KEY from the given environment, and omits it when unset', () => {
    const c = resolve({ env: ['FROM_HOST', 'UNSET', 'X=1'] }, { FROM_HOST: 'h' });
    expect(c.env.slice(2)).toEqual(['FROM_HOST=h', 'X=1']);
  });

  it('lets the user override PATH, HOSTNAME and TERM in place', () => {
    const c = resolve({ tty: true, env: ['X=1', 'PATH=/bin', 'TERM=dumb', 'HOSTNAME=h'] });
    expect(c.env).toEqual(['PATH=/bin', 'HOSTNAME=h', 'TERM=dumb', 'X=1']);
  });

  it('keeps one entry per key: last wins, at its first position', () => {
    const c = resolve({ env: ['A=1', 'B=2', 'A=3'] });
    expect(c.env.slice(2)).toEqual(['A=3', 'B=2']);
  });

  it('reads env files first, then env', () => {
    const c = resolve({ envFile: [envFile], env: ['SHARED=env', 'LAST=1'] });
    expect(c.env.slice(2)).toEqual(['FROM_FILE=1', 'SHARED=env', 'INDENTED=yes', 'LAST=1']);
  });

  it('rejects an unreadable env file, with its path', () => {
    const missing = path.join(tmp, 'missing.env');
    const err = rejects({ envFile: [missing] }, /cannot read env file .*missing\.env: ENOENT/);
    expect(err.path).toBe(missing);
  });

  it('rejects a bad env file line, with its path', () => {
    const bad = path.join(tmp, 'bad.env');
    fs.writeFileSync(bad, 'GOOD=1\nBAD KEY=1\n');
    const err = rejects({ envFile: [bad] }, /variable "BAD KEY" contains whitespaces in .*bad\.env/);
    expect(err.path).toBe(bad);
  });

  it.each<[unknown, RegExp]>([
    [['=value'], /empty name/],
    [['A=b\0c'], /NUL/],
    [['A\0=b'], /NUL/],
    [[''], /empty name/],
    [[1], /must be a string/],
    [{ '': 'x' }, /invalid environment variable name ""/],
    [{ 'A=B': 'x' }, /invalid environment variable name "A=B"/],
    [{ A: 'x\0' }, /NUL/],
    [{ 'A\0': 'x' }, /NUL/],
    [{ A: 1 }, /must be a string/],
    ['A=1', /invalid env/],
  ])('rejects env %j', (env, message) => {
    rejects({ env }, message);
  });
});

describe('parseEnvFile', () => {
  it.each<[string, NodeJS.ProcessEnv, string[]]>([
    ['', {}, []],
    ['A=1', {}, ['A=1']],
    ['A=1\nB=2\n', {}, ['A=1', 'B=2']],
    ['A=1\r\nB=2\r\n', {}, ['A=1', 'B=2']],
    ['\uFEFFA=1', {}, ['A=1']],
    ['# comment\n\n   \nA=1', {}, ['A=1']],
    ['  # indented comment\nA=1', {}, ['A=1']],
    ['A=#not a comment', {}, ['A=#not a comment']],
    ['A="quoted"', {}, ['A="quoted"']], // no quote processing
    ["A='x y'", {}, ["A='x y'"]],
    ['A= spaced value ', {}, ['A= spaced value ']],
    ['  A=1', {}, ['A=1']],
    ['A=', {}, ['A=']],
    ['A=b=c', {}, ['A=b=c']],
    ['HOSTVAR', { HOSTVAR: 'v' }, ['HOSTVAR=v']],
    ['HOSTVAR', { HOSTVAR: '' }, ['HOSTVAR=']],
    ['UNSET\nA=1', {}, ['A=1']],
    ['A=1\nA=2', {}, ['A=1', 'A=2']], // de-duplication happens when merging
  ])('%j -> %j', (text, env, expected) => {
    expect(parseEnvFile(text, env)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['=value', /no variable name on line "=value"/],
    ['A B=1', /variable "A B" contains whitespaces/],
    ['A =1', /variable "A " contains whitespaces/],
    ['A\tB', /contains whitespaces/],
    ['A=\0', /NUL/],
  ])('rejects %j', (text, message) => {
    expect(() => parseEnvFile(text, {})).toThrow(message);
  });
});

describe('cmd, entrypoint, workdir, user', () => {
  it.each<[Partial<RunOptions>, string[]]>([
    [{}, ['/bin/sh']],
    [{ cmd: [] }, ['/bin/sh']],
    [{ cmd: ['echo', 'hi'] }, ['echo', 'hi']],
    [{ cmd: ['echo', ''] }, ['echo', '']],
    [{ entrypoint: '/bin/env' }, ['/bin/env']],
    [{ entrypoint: '/bin/env', cmd: ['-i', 'ls'] }, ['/bin/env', '-i', 'ls']],
    [{ entrypoint: '', cmd: ['ls'] }, ['ls']],
    [{ entrypoint: '' }, ['/bin/sh']],
  ])('args of %j', (opts, args) => {
    expect(resolve(opts).args).toEqual(args);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ cmd: ['ec\0ho'] }, /NUL/],
    [{ cmd: ['echo', 'a\0'] }, /NUL/],
    [{ cmd: [''] }, /executable can't be empty/],
    [{ cmd: 'echo hi' }, /must be an array/],
    [{ cmd: [1] }, /must be a string/],
    [{ entrypoint: '/bin/\0sh' }, /NUL/],
    [{ entrypoint: ['/bin/sh'] }, /invalid entrypoint/],
  ])('rejects %j', (opts, message) => {
    rejects(opts, message);
  });

  it.each<[string, string]>([
    ['/', '/'],
    ['/app', '/app'],
    ['/app/', '/app'],
    ['//a//b/../c/.', '/a/c'],
    ['/..', '/'],
  ])('workdir %j -> %j', (workdir, cwd) => {
    expect(resolve({ workdir }).cwd).toBe(cwd);
  });

  it.each<[unknown]>([['app'], [''], ['./x'], ['/a\0b'], [1]])('rejects workdir %j', (workdir) => {
    rejects({ workdir }, /working directory/);
  });

  it.each(['', 'root', '0', '1000', '1000:1000', 'nobody:nogroup', 'www-data', '_apt', 'user.name', 'a:0', '0:users', '4294967294:4294967294'])(
    'accepts user %j',
    (user) => {
      expect(resolve({ user }).user).toBe(user);
    },
  );

  it.each<[unknown]>([
    ['Root'],
    ['1user'],
    ['-x'],
    [':'],
    ['a:'],
    [':a'],
    ['a:b:c'],
    ['-1'],
    ['4294967295'],
    ['0:4294967295'],
    ['a b'],
    ['a\0'],
    [0],
  ])('rejects user %j', (user) => {
    rejects({ user }, /invalid user/);
  });
});

describe('volumes', () => {
  it('accepts string and object forms', () => {
    const c = resolve({
      volumes: [`${tmp}:/data`, `${aFile}:/etc/file:ro`, `${tmp}/:/w/:rw`, { source: tmp, target: '/obj', readonly: true }, { source: tmp, target: '/obj2' }],
    });
    expect(c.mounts).toEqual([
      { kind: 'bind', src: tmp, dst: '/data', readonly: false, data: '' },
      { kind: 'bind', src: aFile, dst: '/etc/file', readonly: true, data: '' },
      { kind: 'bind', src: tmp, dst: '/w', readonly: false, data: '' },
      { kind: 'bind', src: tmp, dst: '/obj', readonly: true, data: '' },
      { kind: 'bind', src: tmp, dst: '/obj2', readonly: false, data: '' },
    ]);
  });

  it.each(['/dev/shm', '/dev/fuse', '/process', '/system', '/a/../mnt'])('accepts destination %j', (dst) => {
    expect(resolve({ volumes: [`${tmp}:${dst}`] }).mounts[0]!.dst).toBe(path.posix.normalize(dst));
  });

  it.each<[unknown, RegExp]>([
    ['only-one-part', /invalid volume specification/],
    ['a:b:c:d', /invalid volume specification/],
    // moby volume/local/local.go validateName's words.
    ['na/med:/data', /"na\/med" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/],
    ['TMP:data', /invalid volume destination "data": must be an absolute path/],
    ['TMP:/', /destination can't be '\/'/],
    ['TMP:/a/..', /destination can't be '\/'/],
    ['TMP:/proc', /cannot mount on \/proc/],
    ['TMP:/proc/sys', /cannot mount on \/proc/],
    ['TMP:/sys', /cannot mount on \/sys/],
    ['TMP:/sys/fs/cgroup', /cannot mount on \/sys/],
    ['TMP:/x/../proc/1', /cannot mount on \/proc/],
    ['TMP:/dev', /cannot mount over \/dev/],
    ['TMP:/dev/', /cannot mount over \/dev/],
    ['TMP:/data:z', /invalid mode "z"/],
    ['TMP:/data:ro,rw', /invalid mode/],
    ['TMP:/data:ro,ro', /invalid mode/],
    ['TMP:/data:', /invalid mode ""/],
    ['TMP:/da\0ta', /NUL/],
    [{ source: 'TMP' }, /invalid volume destination/],
    [{ target: '/x' }, /invalid volume source/],
    [{ source: 'TMP', target: '/x', readonly: 'yes' }, /readonly/],
    [5, /invalid volume/],
  ])('rejects %j', (spec, message) => {
    const fill = (v: unknown): unknown =>
      typeof v === 'string' ? v.replace('TMP', tmp) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)])) : v;
    rejects({ volumes: [fill(spec)] as RunOptions['volumes'] }, message);
  });

  it('rejects a missing source, naming it', () => {
    const missing = path.join(tmp, 'nope');
    const err = rejects({ volumes: [`${missing}:/data`] }, `invalid volume source ${missing}: no such file or directory`);
    expect(err.path).toBe(missing);
  });

  it('rejects a non-array', () => {
    rejects({ volumes: `${tmp}:/data` as unknown as string[] }, /must be an array/);
  });
});

describe('tmpfs', () => {
  it.each<[string | { target: string; options?: string }, { dst: string; readonly: boolean; data: string }]>([
    ['/tmp', { dst: '/tmp', readonly: false, data: 'nosuid,nodev' }],
    ['/tmp/', { dst: '/tmp', readonly: false, data: 'nosuid,nodev' }],
    ['/run:size=64m', { dst: '/run', readonly: false, data: 'nosuid,nodev,size=64m' }],
    ['/run:size=64m,mode=1777', { dst: '/run', readonly: false, data: 'nosuid,nodev,size=64m,mode=1777' }],
    ['/run:ro', { dst: '/run', readonly: true, data: 'nosuid,nodev' }],
    ['/run:rw,noexec', { dst: '/run', readonly: false, data: 'nosuid,nodev,noexec' }],
    ['/run:ro,rw', { dst: '/run', readonly: false, data: 'nosuid,nodev' }],
    ['/run:suid', { dst: '/run', readonly: false, data: 'suid,nodev' }],
    ['/run:nodev,nosuid', { dst: '/run', readonly: false, data: 'nosuid,nodev' }],
    ['/run:noexec,exec', { dst: '/run', readonly: false, data: 'nosuid,nodev,exec' }],
    ['/run:size=1m,size=2m', { dst: '/run', readonly: false, data: 'nosuid,nodev,size=2m' }],
    ['/run:size=50%,nr_inodes=1k,uid=1000,gid=0,mode=755', { dst: '/run', readonly: false, data: 'nosuid,nodev,size=50%,nr_inodes=1k,uid=1000,gid=0,mode=755' }],
    ['/dev/shm:size=1G', { dst: '/dev/shm', readonly: false, data: 'nosuid,nodev,size=1G' }],
    [{ target: '/cache' }, { dst: '/cache', readonly: false, data: 'nosuid,nodev' }],
    [{ target: '/cache', options: 'ro,size=1m' }, { dst: '/cache', readonly: true, data: 'nosuid,nodev,size=1m' }],
  ])('%j', (spec, expected) => {
    expect(resolve({ tmpfs: [spec] }).mounts).toEqual([{ kind: 'tmpfs', src: 'tmpfs', ...expected }]);
  });

  it.each<[unknown, RegExp]>([
    ['tmp', /invalid tmpfs destination "tmp"/],
    ['/', /destination can't be '\/'/],
    ['/proc', /cannot mount on \/proc/],
    ['/sys/kernel', /cannot mount on \/sys/],
    ['/dev', /cannot mount over \/dev/],
    ['/run:dev', /dev is not allowed/],
    ['/run:nodev,dev', /dev is not allowed/],
    ['/run:exec=1', /exec takes no value/],
    ['/run:size', /"size" is not a supported option/],
    ['/run:size=', /"size=" is not a supported option/],
    ['/run:size=10x', /size must be/],
    ['/run:size=-1', /size must be/],
    ['/run:nr_inodes=abc', /nr_inodes must be/],
    ['/run:mode=999', /mode must be octal/],
    ['/run:mode=17777', /mode must be octal/],
    ['/run:uid=-1', /uid must be a number/],
    ['/run:gid=4294967295', /gid must be a number/],
    ['/run:uid=root', /uid must be a number/],
    ['/run:mpol=default', /"mpol" is not a supported option/],
    ['/run:bogus', /"bogus" is not a supported option/],
    ['/run:constructor', /"constructor" is not a supported option/],
    ['/run:,', /is not a supported option/],
    ['/run:size=1m\0', /NUL/],
    [{ target: '/x', options: 5 }, /must be a string/],
    [7, /invalid tmpfs/],
  ])('rejects %j', (spec, message) => {
    rejects({ tmpfs: [spec] as RunOptions['tmpfs'] }, message);
  });
});

describe('mounts together', () => {
  it('lists volumes then tmpfs, in order', () => {
    const c = resolve({ tmpfs: ['/t1', '/t2'], volumes: [`${tmp}:/v1`, `${tmp}:/v2`] });
    expect(c.mounts.map((m) => m.dst)).toEqual(['/v1', '/v2', '/t1', '/t2']);
  });

  it.each<[Partial<RunOptions>]>([
    [{ volumes: ['TMP:/data', 'TMP:/data'] }],
    [{ volumes: ['TMP:/data', 'TMP:/data/'] }],
    [{ volumes: ['TMP:/data'], tmpfs: ['/data'] }],
    [{ tmpfs: ['/x', '/x:size=1m'] }],
  ])('rejects duplicate destinations %j', (opts) => {
    const volumes = opts.volumes?.map((v) => (v as string).replace('TMP', tmp));
    rejects({ ...opts, ...(volumes ? { volumes } : {}) }, /Duplicate mount point: \/(data|x)/);
  });
});

describe('network, security', () => {
  it.each<[RunOptions['network'] | undefined, string]>([
    [undefined, DEFAULT_NETWORK],
    ['bridge', 'bridge'],
    ['none', 'none'],
    ['host', 'host'],
  ])('network %j -> %j', (network, expected) => {
    expect(resolve(network === undefined ? {} : { network }).network).toBe(expected);
  });

  it.each<[unknown]>([[''], ['container:'], [1], ['bad name!'], [['none', 'front']]])('rejects network %j', (network) => {
    rejects({ network }, /invalid network|conflicting options/);
  });

  it('bridge-like modes list their networks with --ip, aliases and MAC on the first; POCKER_DEFAULT_NETWORK', () => {
    const c = resolveRunOptions({ rootfs: '/', network: ['front', 'back'], ip: '10.1.0.5', networkAliases: ['web'], macAddress: '02:42:AA:00:00:01', addHosts: ['db:10.1.0.9'], dns: ['9.9.9.9'] }, {});
    expect(c.network).toBe('front');
    expect(c.networks).toEqual([{ network: 'front', ip: '10.1.0.5', aliases: ['web'], mac: '02:42:aa:00:00:01' }, { network: 'back' }]);
    expect(c.addHosts).toEqual(['db:10.1.0.9']);
    // Docker's bridge for root, none for a rootless caller; POCKER_DEFAULT_NETWORK overrides both.
    expect(defaultNetworkMode({}, false)).toBe('bridge');
    expect(defaultNetworkMode({}, true)).toBe('none');
    expect(defaultNetworkMode({ POCKER_DEFAULT_NETWORK: '' }, false)).toBe('bridge');
    expect(defaultNetworkMode({ POCKER_DEFAULT_NETWORK: 'none' }, false)).toBe('none');
    expect(defaultNetworkMode({ POCKER_DEFAULT_NETWORK: 'bridge' }, true)).toBe('bridge');
    expect(resolveRunOptions({ rootfs: '/' }, {}).network).toBe(process.geteuid?.() === 0 ? 'bridge' : 'none');
    expect(resolveRunOptions({ rootfs: '/' }, { POCKER_DEFAULT_NETWORK: 'bridge' }).network).toBe('bridge');
    expect(resolveRunOptions({ rootfs: '/' }, { POCKER_DEFAULT_NETWORK: 'none' }).network).toBe('none');
    expect(() => resolveRunOptions({ rootfs: '/' }, { POCKER_DEFAULT_NETWORK: 'host' })).toThrow(/POCKER_DEFAULT_NETWORK/);
    expect(() => resolveRunOptions({ rootfs: '/', network: 'none', ip: '10.0.0.2' }, {})).toThrow(/conflicting options/);
    expect(() => resolveRunOptions({ rootfs: '/', network: 'none', publish: ['80'] }, {})).toThrow(/port publishing/);
    expect(() => resolveRunOptions({ rootfs: '/', addHosts: ['nope'] }, {})).toThrow(/--add-host/);
    expect(() => resolveRunOptions({ rootfs: '/', macAddress: '01:00:00:00:00:01' }, { POCKER_DEFAULT_NETWORK: 'bridge' })).toThrow(/invalid MAC/);
    // With the default none, network flags say why the default is none and how to get a bridge.
    const none = { POCKER_DEFAULT_NETWORK: 'none' };
    expect(() => resolveRunOptions({ rootfs: '/', macAddress: '02:42:aa:00:00:01' }, none)).toThrow(/the default network is none here \(POCKER_DEFAULT_NETWORK=none\); add --network bridge/);
    expect(() => resolveRunOptions({ rootfs: '/', publish: ['80'] }, none)).toThrow(/the default network is none here \(POCKER_DEFAULT_NETWORK=none\); add --network bridge/);
    if (process.geteuid?.() === 0) expect(resolveRunOptions({ rootfs: '/', publish: ['80'] }, {}).network).toBe('bridge');
    expect(resolveRunOptions({ rootfs: '/', network: 'host', publish: ['80'] }, {}).publish).toBeUndefined();
  });

  it.each<[string[] | undefined, boolean]>([
    [undefined, false],
    [[], false],
    [['no-new-privileges'], true],
    [['no-new-privileges:true'], true],
    [['no-new-privileges=true'], true],
    [['no-new-privileges:false'], false],
    [['no-new-privileges=false'], false],
    [['no-new-privileges', 'no-new-privileges:false'], false],
  ])('securityOpt %j -> noNewPrivs %j', (securityOpt, expected) => {
    expect(resolve(securityOpt === undefined ? {} : { securityOpt }).noNewPrivs).toBe(expected);
  });

  it.each([
    'seccomp=',
    'apparmor=unconfined',
    'label=disable',
    'no-new-privileges:yes',
    'no-new-privileges:',
    'NO-NEW-PRIVILEGES',
    'no-new-privileges:true ',
  ])('rejects securityOpt %j', (opt) => {
    rejects({ securityOpt: [opt] }, new RegExp(`invalid --security-opt ${JSON.stringify(opt).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('capabilities', () => {
  it('names every Linux capability up to CHECKPOINT_RESTORE', () => {
    expect(Object.keys(CAPABILITIES)).toHaveLength(41);
    expect(new Set(Object.values(CAPABILITIES)).size).toBe(41);
    expect(CAPABILITIES.CHOWN).toBe(0);
    expect(CAPABILITIES.SYS_ADMIN).toBe(21);
    expect(CAPABILITIES.CHECKPOINT_RESTORE).toBe(40);
    expect(DEFAULT_CAPS).toHaveLength(14);
    for (const c of DEFAULT_CAPS) expect(CAPABILITIES).toHaveProperty(c);
  });

  const all = Object.keys(CAPABILITIES);
  const defaults = [...DEFAULT_CAPS];
  const without = (list: string[], ...names: string[]) => list.filter((c) => !names.includes(c));

  it.each<[string, Partial<RunOptions>, string[]]>([
    ['defaults', {}, defaults],
    ['add one', { capAdd: ['NET_ADMIN'] }, [...defaults, 'NET_ADMIN']],
    ['add with prefix, lower case', { capAdd: ['cap_sys_admin', 'Sys_Ptrace'] }, [...defaults, 'SYS_ADMIN', 'SYS_PTRACE']],
    ['drop one', { capDrop: ['NET_RAW'] }, without(defaults, 'NET_RAW')],
    ['drop with prefix', { capDrop: ['CAP_CHOWN', 'mknod'] }, without(defaults, 'CHOWN', 'MKNOD')],
    ['drop a capability not in the defaults', { capDrop: ['SYS_ADMIN'] }, defaults],
    ['drop ALL', { capDrop: ['ALL'] }, []],
    ['drop all (lower case)', { capDrop: ['all'] }, []],
    ['drop ALL then add', { capDrop: ['ALL'], capAdd: ['CHOWN', 'KILL'] }, ['CHOWN', 'KILL']],
    ['add ALL', { capAdd: ['ALL'] }, all],
    ['add ALL then drop', { capAdd: ['ALL'], capDrop: ['SYS_ADMIN', 'cap_net_admin'] }, without(all, 'SYS_ADMIN', 'NET_ADMIN')],
    ['add ALL wins over drop ALL', { capAdd: ['ALL'], capDrop: ['ALL'] }, all],
    ['added and dropped: added wins', { capAdd: ['KILL'], capDrop: ['KILL'] }, defaults],
  ])('%s', (_label, opts, expected) => {
    expect(resolve(opts).caps).toBe(capMask(expected));
  });

  it.each<[Partial<RunOptions> | Record<string, unknown>, RegExp]>([
    [{ capAdd: ['BOGUS'] }, /unknown capability: "BOGUS"/],
    [{ capAdd: ['CAP_'] }, /unknown capability: "CAP_"/],
    [{ capDrop: ['CAP_CAP_CHOWN'] }, /unknown capability/],
    [{ capDrop: [''] }, /unknown capability: ""/],
    [{ capAdd: ['constructor'] }, /unknown capability/],
    [{ capAdd: 'NET_ADMIN' }, /must be an array/],
    [{ capAdd: [1] }, /must be a string/],
  ])('rejects %j', (opts, message) => {
    rejects(opts, message);
  });
});

describe('tty size', () => {
  it.each([
    { rows: 1, cols: 1 },
    { rows: 24, cols: 80 },
    { rows: 65535, cols: 65535 },
  ])('accepts %j', (ttySize) => {
    expect(resolve({ tty: true, ttySize }).ttySize).toEqual(ttySize);
  });

  it.each<[unknown]>([
    [{ rows: 0, cols: 80 }],
    [{ rows: 24, cols: 65536 }],
    [{ rows: 24.5, cols: 80 }],
    [{ rows: '24', cols: 80 }],
    [{ rows: 24 }],
    [null],
    [[24, 80]],
  ])('rejects %j', (ttySize) => {
    rejects({ ttySize }, /invalid tty size/);
  });
});

describe('root and cgroupParent', () => {
  it.each<[string | undefined, NodeJS.ProcessEnv, string]>([
    [undefined, {}, '/var/lib/pocker'],
    [undefined, { POCKER_ROOT: '/srv/pocker' }, '/srv/pocker'],
    [undefined, { POCKER_ROOT: '' }, '/var/lib/pocker'],
    ['/opt/p', { POCKER_ROOT: '/srv/pocker' }, '/opt/p'],
    ['/opt/p/', {}, '/opt/p'],
    ['rel/dir', {}, path.resolve('rel/dir')],
  ])('root %j with %j -> %j', (root, env, expected) => {
    expect(resolve(root === undefined ? {} : { root }, env).root).toBe(expected);
  });

  it.each<[unknown]>([[''], ['/a\0b'], [1]])('rejects root %j', (root) => {
    rejects({ root }, /root directory/);
  });

  it.each(['pocker', 'a/b', 'my.slice', 'x_y-z/1', '...'])('accepts cgroupParent %j', (cgroupParent) => {
    expect(resolve({ cgroupParent }).cgroupParent).toBe(cgroupParent);
  });

  it.each<[unknown]>([[''], ['/pocker'], ['a/'], ['a//b'], ['..'], ['a/../b'], ['.'], ['a/./b'], ['a b'], ['a:b'], ['a\0'], [1]])(
    'rejects cgroupParent %j',
    (cgroupParent) => {
      rejects({ cgroupParent }, /invalid cgroup parent/);
    },
  );
});

describe('applyImageDefaults (Docker rules)', () => {
  const base = (opts: RunOptions) => resolveRunOptions({ image: 'alpine', ...opts }, {});
  const image = { entrypoint: ['/entry'], cmd: ['default', 'args'], env: ['PATH=/img/bin', 'A=image', 'B=image'], workdir: '/srv', user: 'app' };

  it.each<[string, RunOptions, string[]]>([
    ['image entrypoint + cmd', {}, ['/entry', 'default', 'args']],
    ['a command replaces Cmd', { cmd: ['x', 'y'] }, ['/entry', 'x', 'y']],
    ['--entrypoint replaces Entrypoint and drops Cmd', { entrypoint: '/other' }, ['/other']],
    ['--entrypoint with a command', { entrypoint: '/other', cmd: ['a'] }, ['/other', 'a']],
    ['--entrypoint "" keeps only the command', { entrypoint: '', cmd: ['sh'] }, ['sh']],
  ])('%s', (_label, opts, args) => {
    expect(applyImageDefaults(base(opts), opts, image).args).toEqual(args);
  });

  it('merges env: defaults, then the image, then the caller', () => {
    const opts: RunOptions = { env: ['B=user', 'C=user'], hostname: 'h1' };
    expect(applyImageDefaults(base(opts), opts, image).env).toEqual(['PATH=/img/bin', 'HOSTNAME=h1', 'A=image', 'B=user', 'C=user']);
  });

  it('applies WorkingDir and User unless given', () => {
    expect(applyImageDefaults(base({}), {}, image)).toMatchObject({ cwd: '/srv', user: 'app' });
    const opts: RunOptions = { workdir: '/w', user: '0' };
    expect(applyImageDefaults(base(opts), opts, image)).toMatchObject({ cwd: '/w', user: '0' });
  });

  it('refuses an image with nothing to run and no command', () => {
    expect(() => applyImageDefaults(base({}), {}, { entrypoint: null, cmd: null })).toThrow(/no command specified/);
  });
});
