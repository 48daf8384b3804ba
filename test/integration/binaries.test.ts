// The binaries `npm i` loads (issue 12, "Binaries"): the addon must load on the glibc Node 20's own Linux
// binaries need (2.28: Debian 10, RHEL 8) without a compiler, so no dynamic symbol of it may need a newer
// GLIBC_ version, and it needs no libstdc++ (linked in statically: GCC 12's headers alone ask for
// GLIBCXX_3.4.29); pocker-init stays static; what ships is stripped; the linux-arm64 prebuild is an aarch64
// ELF within the same baseline whose static pocker-init runs under qemu-user. The symbol versions are read
// from the ELF files (scripts/elf.cjs, the reader scripts/prebuild.cjs refuses binaries with), cross-checked
// against binutils' readelf.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CAPS } from '../../lib/spec/defaults.js';
import { dockerDefaultProfile, toOciSeccomp } from '../../lib/spec/seccomp.js';
import { RUN_TEMP_PREFIX, isRoot, repoRoot } from '../helpers.js';

interface Elf {
  arch: string;
  type: string;
  static: boolean;
  stripped: boolean;
  debugSections: string[];
  needs: { file: string; version: string; weak: boolean; symbols: string[] }[];
  exported: string[];
}
interface ElfModule {
  readElf(path: string): Elf;
  overBaseline(elf: Elf): string[];
  maxVersion(elf: Elf, family: string): string | undefined;
  compareVersions(a: string, b: string): number;
  BASELINE: { GLIBC: string; GCC: string };
}
const { readElf, overBaseline, maxVersion, compareVersions, BASELINE } = createRequire(import.meta.url)(join(repoRoot, 'scripts', 'elf.cjs')) as ElfModule;

const release = join(repoRoot, 'build', 'Release');
const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
/** AUDIT_ARCH_* of the seccomp programs (linux/audit.h). */
const AUDIT_ARCH: Record<string, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };

/** Debian 12's arm64 Node and what it links (the version Debian ships: 18, N-API 9). */
const ARM64_NODE_PACKAGES = [
  'nodejs:arm64', 'libnode108:arm64', 'libbrotli1:arm64', 'libc-ares2:arm64', 'libc6:arm64', 'libgcc-s1:arm64', 'libicu72:arm64',
  'libnghttp2-14:arm64', 'libssl3:arm64', 'libstdc++6:arm64', 'libuv1:arm64', 'zlib1g:arm64', 'node-cjs-module-lexer', 'node-acorn', 'node-undici',
];

const have = (cmd: string, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const haveQemu = have('qemu-aarch64');
const haveCross = have('aarch64-linux-gnu-g++') && existsSync('/usr/lib/aarch64-linux-gnu/libseccomp.a');

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `${RUN_TEMP_PREFIX}binaries-${label}-`));
}

/** What a binary must be to ship (or to be what `npm test` built): the problems found, [] when none. */
function problems(elf: Elf, what: 'addon' | 'init', opts: { arch: string; stripped: boolean }): string[] {
  const out: string[] = [];
  if (elf.arch !== opts.arch) out.push(`built for ${elf.arch}, not ${opts.arch}`);
  if (opts.stripped && (!elf.stripped || elf.debugSections.length)) out.push(`not stripped (${elf.debugSections.join(' ') || '.symtab'})`);
  if (what === 'init') {
    if (!elf.static || elf.needs.length) out.push('pocker-init is not static');
  } else {
    out.push(...overBaseline(elf));
    if (elf.needs.some((n) => n.file.startsWith('libstdc++'))) out.push('needs libstdc++.so');
    const extra = elf.exported.filter((s) => !ENTRY_POINTS.includes(s));
    if (extra.length) out.push(`exports ${extra.length} symbols besides Node's entry points: ${extra.slice(0, 3).join(' ')}`);
  }
  return out;
}

/** An OCI config.json with Docker's default seccomp profile as a container on `arch` gets it. */
function selftestConfig(dir: string, arch: string): string {
  const file = join(dir, `config-${arch}.json`);
  const spec = {
    ociVersion: '1.2.0',
    process: { args: ['/bin/sh'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/usr/bin:/bin'] },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], seccomp: toOciSeccomp(dockerDefaultProfile(), { caps: DEFAULT_CAPS, arch }) },
  };
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

interface Selftest {
  ok: boolean;
  machine: string;
  auditArch: number;
  libseccomp: string;
  seccompInstructions: number;
}

function runInit(cmd: string[], args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** pocker-init --version and selftest (Docker's profile compiled for its machine), run by `cmd`. */
function checkInitRuns(cmd: string[], arch: string, machineName: string): void {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const v = runInit(cmd, ['--version']);
  expect(v.status, v.stderr).toBe(0);
  expect(v.stdout).toContain(`pocker-init version ${version}`);
  expect(v.stdout).toMatch(/^libseccomp: \d+\.\d+\.\d+$/m);
  const dir = tempDir('selftest');
  try {
    const r = runInit(cmd, ['selftest', selftestConfig(dir, arch)]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Selftest;
    // closeFallback: pocker-init closes what must not reach a container without close_range (Linux < 5.9) too.
    expect(out).toMatchObject({ ok: true, machine: machineName, auditArch: AUDIT_ARCH[machineName], closeFallback: true });
    // Docker's profile: a few hundred syscalls, compiled to hundreds of instructions.
    expect(out.seccompInstructions).toBeGreaterThan(100);
    // The built-in spec (no argument) works as well.
    const b = runInit(cmd, ['selftest']);
    expect(b.status, b.stderr).toBe(0);
    expect((JSON.parse(b.stdout) as Selftest).ok).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The needed versions binutils' readelf lists (the check of our ELF reader), or undefined without binutils. */
function readelfVersions(file: string): string[] | undefined {
  const r = spawnSync('readelf', ['-V', '-W', file], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const need = r.stdout.split(/Version needs section/)[1] ?? '';
  return [...need.matchAll(/Name: (\S+)\s+Flags/g)].map((m) => m[1]!).sort();
}

describe('the glibc baseline of what this build made (build/Release)', () => {
  it('the addon needs nothing newer than GLIBC_2.28, no libstdc++, and exports only Node\'s entry points', () => {
    const file = join(release, 'pocker.node');
    const elf = readElf(file);
    expect(problems(elf, 'addon', { arch: process.arch, stripped: false })).toEqual([]);
    const glibc = maxVersion(elf, 'GLIBC');
    expect(glibc).toBeDefined();
    expect(compareVersions(glibc!, BASELINE.GLIBC)).toBeLessThanOrEqual(0);
    expect(elf.needs.filter((n) => /^(GLIBCXX|CXXABI)_/.test(n.version))).toEqual([]);
    // The reader agrees with binutils.
    const binutils = readelfVersions(file);
    if (binutils) expect(binutils).toEqual(elf.needs.map((n) => n.version).sort());
  });

  it('pocker-init is static and passes its self-check here', () => {
    const elf = readElf(join(release, 'pocker-init'));
    expect(problems(elf, 'init', { arch: process.arch, stripped: false })).toEqual([]);
    checkInitRuns([join(release, 'pocker-init')], process.arch, machine());
  });
});

describe('what ships', () => {
  // `npm test` builds Release (stripped); a developer's `npm run build:native:debug` keeps symbols on purpose.
  const releaseStripped = readElf(join(release, 'pocker.node')).stripped && readElf(join(release, 'pocker-init')).stripped;

  it.skipIf(!releaseStripped)('the prebuild laid out from this build is stripped and within the baseline', () => {
    const out = tempDir('prebuild');
    try {
      const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'prebuild.cjs'), '--no-build', '--out', out], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const dir = join(out, `linux-${process.arch}`);
      expect(problems(readElf(join(dir, 'pocker.node')), 'addon', { arch: process.arch, stripped: true })).toEqual([]);
      expect(problems(readElf(join(dir, 'pocker-init')), 'init', { arch: process.arch, stripped: true })).toEqual([]);
      const stamp = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8')) as { glibc: string };
      expect(compareVersions(stamp.glibc, BASELINE.GLIBC)).toBeLessThanOrEqual(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('npm pack ships no build intermediates or debug files, and its prebuilt binaries are stripped', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const paths = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(paths.filter((p) => /^build(-[\w]+)?\//.test(p) || /\.(o|a|so|debug|dwo|pdb|dSYM)$/.test(p))).toEqual([]);
    for (const p of paths.filter((p) => /^prebuilds\/linux-[\w]+\/(pocker\.node|pocker-init)$/.test(p))) {
      const arch = /^prebuilds\/linux-(\w+)\//.exec(p)![1]!;
      const what = p.endsWith('.node') ? 'addon' : 'init';
      expect(problems(readElf(join(repoRoot, p)), what, { arch, stripped: true }), p).toEqual([]);
    }
  });
});

describe('linux-arm64', () => {
  const committed = join(repoRoot, 'prebuilds', 'linux-arm64');
  const present = existsSync(join(committed, 'pocker-init')) && existsSync(join(committed, 'pocker.node'));
  const can = present || haveCross;
  if (!can) {
    console.warn(
      'binaries.test.ts: no prebuilds/linux-arm64 and no cross toolchain (g++-aarch64-linux-gnu, libseccomp-dev:arm64): ' +
        'the arm64 checks are skipped (`npm run prebuild:arm64` installs the toolchain as root and makes them)',
    );
  }
  /** The arm64 prebuild the tests below check: made here, or the one `npm run prebuild:arm64` laid out. */
  let dir: string | undefined;
  let out: string | undefined;
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it.skipIf(!can)('the arm64 prebuild: aarch64 ELFs within the baseline, pocker-init static and running under qemu-aarch64', { timeout: 900_000 }, () => {
    if (haveCross) {
      // Made here from these sources (build-arm64/ is kept: the next run is incremental); without the cross
      // toolchain, the prebuild `npm run prebuild:arm64` laid out is checked.
      out = tempDir('arm64');
      const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'prebuild.cjs'), '--arch', 'arm64', '--out', out], { encoding: 'utf8', timeout: 840_000 });
      expect(r.status, r.stdout.slice(-2000) + r.stderr.slice(-2000)).toBe(0);
      // Quiet: no compiler warning (a fresh clone compiles every file here).
      expect(`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /\bwarning:/.test(l))).toEqual([]);
      dir = join(out, 'linux-arm64');
    } else {
      dir = committed;
    }
    const addon = readElf(join(dir, 'pocker.node'));
    const init = readElf(join(dir, 'pocker-init'));
    expect(problems(addon, 'addon', { arch: 'arm64', stripped: true })).toEqual([]);
    expect(problems(init, 'init', { arch: 'arm64', stripped: true })).toEqual([]);
    expect(addon.type).toBe('shared');
    if (haveQemu) checkInitRuns(['qemu-aarch64', join(dir, 'pocker-init')], 'arm64', 'aarch64');
    else console.warn('binaries.test.ts: qemu-aarch64 missing (Debian: qemu-user): the arm64 pocker-init was not run');
  });

  // The addon loaded for real: Debian's arm64 Node (its packages unpacked into build-arm64/node-sysroot/, kept
  // for the next run; `apt-get download` needs the arm64 architecture that npm test's prerequisites add) under
  // qemu-aarch64 -L, doing filesystem work through the wrapped fstatat/mknodat.
  const canLoad = can && haveQemu && isRoot && existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/dpkg-deb');
  it.skipIf(!canLoad)('the arm64 addon loads in an arm64 Node under qemu-aarch64 and works', { timeout: 600_000 }, () => {
    expect(dir, 'the arm64 prebuild of the previous test').toBeDefined();
    const sysroot = join(repoRoot, 'build-arm64', 'node-sysroot');
    const node = join(sysroot, 'usr', 'bin', 'node');
    if (!existsSync(node)) {
      const debs = join(sysroot, 'debs');
      mkdirSync(debs, { recursive: true });
      const dl = spawnSync('apt-get', ['download', ...ARM64_NODE_PACKAGES], { cwd: debs, encoding: 'utf8', timeout: 300_000 });
      if (dl.status !== 0) {
        console.warn(`binaries.test.ts: apt-get download of Debian's arm64 Node failed (not checked): ${dl.stderr.slice(-500)}`);
        return;
      }
      for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
        const x = spawnSync('dpkg-deb', ['-x', join(debs, deb), sysroot], { encoding: 'utf8' });
        expect(x.status, x.stderr).toBe(0);
      }
    }
    const work = tempDir('arm64-load');
    try {
      const script = `
        const fs = require('fs');
        const a = require(process.argv[1]);
        const dir = process.argv[2];
        const r = a.fsOpenRoot(dir);
        const made = [a.fsMkdir(r, 'sub', 0o755), a.fsMkdir(r, 'sub', 0o755)];
        a.fsMknod(r, 'sub/fifo', 0o010644, 0, 0);
        const fd = a.fsCreateFile(r, 'sub/file', 0o644);
        fs.writeSync(fd, 'hi');
        fs.closeSync(fd);
        console.log(JSON.stringify({ arch: process.arch, made, fifo: fs.statSync(dir + '/sub/fifo').isFIFO(),
          file: fs.readFileSync(dir + '/sub/file', 'utf8'), cgroup: a.cgroupDetect().version }));`;
      const r = spawnSync('qemu-aarch64', ['-L', sysroot, node, '-e', script, join(dir!, 'pocker.node'), work], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ arch: 'arm64', made: [true, false], fifo: true, file: 'hi' });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
