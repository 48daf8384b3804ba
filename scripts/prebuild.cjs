#!/usr/bin/env node
// `npm run prebuild` (and `npm run prebuild:arm64`): builds the native code with cmake-js (Release:
// stripped; CMakeLists.txt is the build's source of truth) and lays out the binaries that ship in the npm
// tarball:
//
//   prebuilds/linux-<arch>/pocker.node   found by node-gyp-build (an untagged name matches any runtime;
//                                        N-API keeps it ABI-stable across Node versions)
//   prebuilds/linux-<arch>/pocker-init   found by lib/native.ts, mode 0755
//   prebuilds/linux-<arch>/build.json    what was built from what: the package version, a hash of the
//                                        native sources, the newest symbol versions the addon needs
//
// prebuildify would be the usual tool, but it drives node-gyp only (binding.gyp is merely the fallback for
// source installs), hence this small script.
//
// Every binary is checked before it is laid out (scripts/elf.cjs): the right machine, stripped, pocker-init
// static, the addon within the glibc 2.28 baseline (Node 20's own) and exporting only Node's entry points.
//
// --arch arm64 on an x86_64 machine cross-builds in build-arm64/ with Debian's cross toolchain
// (scripts/aarch64-linux-gnu.cmake): g++-aarch64-linux-gnu and the multiarch libseccomp-dev:arm64, which
// this script installs with apt-get when missing and running as root (`dpkg --add-architecture arm64`
// first). It runs the arm64 pocker-init's --version and selftest under qemu-aarch64 when qemu-user is
// installed (test/integration/binaries.test.ts does too). Not part of `prepack`: run it before `npm pack`
// for a release that ships linux-arm64. A later host prebuild removes a linux-arm64 directory that was
// built from other sources (build.json's hash), so a package never ships stale arm64 binaries.
//
// Flags: --no-build    lay out what build/Release (build-<arch>/Release) already holds (no cmake-js run)
//        --arch ARCH   x64 or arm64 (default: this machine's)
//        --out DIR     lay out DIR/linux-<arch>/ instead of prebuilds/linux-<arch>/ (tests)
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { readElf, overBaseline, maxVersion, BASELINE } = require('./elf.cjs');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const valueOf = (flag) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
const archArg = valueOf('--arch');
const outArg = valueOf('--out');
const arch = archArg ?? process.arch;
const cross = arch !== process.arch;
const target = `linux-${arch}`;
const buildDir = cross ? `build-${arch}` : 'build';
const release = path.join(root, buildDir, 'Release');
const outDir = outArg ? path.resolve(outArg, target) : path.join(root, 'prebuilds', target);
const files = [
  { name: 'pocker.node', mode: 0o755 },
  { name: 'pocker-init', mode: 0o755 },
];
const STAMP = 'build.json';

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux') fail(`pocker is Linux only (this is ${process.platform})`);
if (!['x64', 'arm64'].includes(arch)) fail(`--arch ${arch}: pocker ships x64 and arm64`);

/** What cross-building for `arch` needs: commands and files, and the Debian packages that provide them. */
const CROSS = {
  arm64: {
    foreignArch: 'arm64',
    needs: [
      { file: '/usr/bin/aarch64-linux-gnu-g++', pkg: 'g++-aarch64-linux-gnu' },
      { file: '/usr/lib/aarch64-linux-gnu/libseccomp.a', pkg: 'libseccomp-dev:arm64' },
      { file: '/usr/include/nlohmann/json.hpp', pkg: 'nlohmann-json3-dev' },
    ],
    toolchain: path.join(__dirname, 'aarch64-linux-gnu.cmake'),
    qemu: 'qemu-aarch64',
  },
};

/** A hash of everything the binaries are built from (the native sources, the build files, the version). */
function sourceHash() {
  const hash = crypto.createHash('sha256');
  const add = (rel) => {
    const abs = path.join(root, rel);
    const st = fs.statSync(abs);
    if (st.isDirectory()) {
      for (const entry of fs.readdirSync(abs).sort()) add(path.join(rel, entry));
    } else {
      hash.update(`${rel}\0`);
      hash.update(fs.readFileSync(abs));
      hash.update('\0');
    }
  };
  for (const rel of ['cpp', 'CMakeLists.txt', path.join('scripts', 'aarch64-linux-gnu.cmake')]) add(rel);
  hash.update(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  return hash.digest('hex');
}

function aptInstall(packages, foreignArch) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', env });
  if (foreignArch) {
    const have = spawnSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).stdout ?? '';
    if (!have.split(/\s+/).includes(foreignArch)) {
      console.log(`prebuild: dpkg --add-architecture ${foreignArch}`);
      run('dpkg', ['--add-architecture', foreignArch]);
    }
  }
  console.log(`prebuild: installing ${packages.join(' ')} (apt-get)`);
  run('apt-get', [...lock, 'update']);
  run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...packages]);
}

function ensureCrossToolchain(c) {
  const missing = c.needs.filter((n) => !fs.existsSync(n.file)).map((n) => n.pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/apt-get')) {
    fail(
      `cross-building for ${arch} needs ${missing.join(' ')}; on Debian/Ubuntu, as root: ` +
        `dpkg --add-architecture ${c.foreignArch} && apt-get update && apt-get install ${missing.join(' ')}`,
    );
  }
  aptInstall(missing, c.foreignArch);
}

if (cross && !CROSS[arch]) fail(`cannot cross-build for ${arch} on ${process.arch}`);

if (!argv.includes('--no-build')) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  // POCKER_STRIP and POCKER_PORTABLE explicitly: a cached -D of a development build never reaches a prebuild.
  const args = ['compile', '--out', buildDir, '--config', 'Release', '--CDPOCKER_STRIP=ON', '--CDPOCKER_PORTABLE=ON'];
  if (cross) {
    ensureCrossToolchain(CROSS[arch]);
    args.push(`--CDCMAKE_TOOLCHAIN_FILE=${CROSS[arch].toolchain}`);
  }
  console.log(`prebuild: cmake-js ${args.join(' ')}`);
  execFileSync(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: 'inherit' });
}

for (const f of files) {
  if (!fs.existsSync(path.join(release, f.name))) fail(`${path.relative(root, path.join(release, f.name))} is missing after the build`);
}

// The binaries as they must ship.
const addon = readElf(path.join(release, 'pocker.node'));
const init = readElf(path.join(release, 'pocker-init'));
const problems = [];
for (const [name, elf] of [['pocker.node', addon], ['pocker-init', init]]) {
  if (elf.arch !== arch) problems.push(`${name} is built for ${elf.arch}, not ${arch}`);
  if (!elf.stripped || elf.debugSections.length) problems.push(`${name} is not stripped (a Release build strips: is POCKER_STRIP off?)`);
}
// pocker-init runs inside containers, where the host's shared libraries are not: it must be static.
if (!init.static) problems.push('pocker-init is dynamically linked; it must be static');
for (const p of overBaseline(addon)) problems.push(`pocker.node needs ${p}`);
const extra = addon.exported.filter((s) => !['napi_register_module_v1', 'node_api_module_get_api_version_v1'].includes(s));
if (extra.length) problems.push(`pocker.node exports more than Node's entry points: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
if (problems.length) fail(`${path.relative(root, release)}:\n  ${problems.join('\n  ')}`);

fs.mkdirSync(outDir, { recursive: true });
// Anything else in the directory (an older, differently tagged addon) could win node-gyp-build's match.
for (const entry of fs.readdirSync(outDir)) {
  if (entry !== STAMP && !files.some((f) => f.name === entry)) {
    fs.rmSync(path.join(outDir, entry), { recursive: true, force: true });
    console.log(`prebuild: removed stale prebuilds/${target}/${entry}`);
  }
}
// Copy to a temporary name and rename: a process loading the old file keeps a consistent inode.
const place = (dest, write) => {
  const tmp = `${dest}.tmp-${process.pid}`;
  write(tmp);
  fs.renameSync(tmp, dest);
};
for (const f of files) {
  const dest = path.join(outDir, f.name);
  place(dest, (tmp) => {
    fs.copyFileSync(path.join(release, f.name), tmp);
    fs.chmodSync(tmp, f.mode);
  });
  const size = fs.statSync(dest).size;
  console.log(`prebuild: ${path.relative(root, dest)} (${(size / 1024).toFixed(0)} KiB, mode ${f.mode.toString(8)})`);
}
const hash = sourceHash();
const stamp = {
  version: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  sources: hash,
  arch,
  glibc: maxVersion(addon, 'GLIBC'),
  gcc: maxVersion(addon, 'GCC'),
  baseline: BASELINE,
};
place(path.join(outDir, STAMP), (tmp) => fs.writeFileSync(tmp, `${JSON.stringify(stamp, null, 2)}\n`));
console.log(`prebuild: the addon needs GLIBC_${stamp.glibc}${stamp.gcc ? ` and GCC_${stamp.gcc}` : ''} at most (baseline GLIBC_${BASELINE.GLIBC})`);

if (!cross) {
  // The addon must load in this Node, from where node-gyp-build will look for it.
  try {
    require(path.join(outDir, 'pocker.node'));
  } catch (err) {
    fail(`prebuilds/${target}/pocker.node does not load: ${err && err.message}`);
  }
  // Other architectures' prebuilds made from other sources would ship mismatched binaries: drop them.
  const all = !outArg && fs.existsSync(path.join(root, 'prebuilds')) ? fs.readdirSync(path.join(root, 'prebuilds')) : [];
  for (const other of all.filter((d) => d !== target)) {
    const dir = path.join(root, 'prebuilds', other);
    let theirs;
    try {
      theirs = JSON.parse(fs.readFileSync(path.join(dir, STAMP), 'utf8')).sources;
    } catch {
      /* no stamp: stale */
    }
    if (theirs !== hash) {
      fs.rmSync(dir, { recursive: true, force: true });
      console.error(`prebuild: removed prebuilds/${other}: built from other sources (run \`npm run prebuild:${other.replace(/^linux-/, '')}\` again to ship it)`);
    }
  }
} else {
  // The static pocker-init under the emulator: its version and a container-free self-check.
  const qemu = CROSS[arch].qemu;
  const have = spawnSync(qemu, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!have) {
    console.log(`prebuild: ${qemu} not found (Debian: qemu-user): the ${arch} pocker-init was not run`);
  } else {
    const bin = path.join(outDir, 'pocker-init');
    for (const args of [['--version'], ['selftest']]) {
      const r = spawnSync(qemu, [bin, ...args], { encoding: 'utf8' });
      if (r.status !== 0) fail(`${qemu} pocker-init ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      console.log(`prebuild: ${qemu} pocker-init ${args.join(' ')}: ${r.stdout.trim().replace(/\n/g, ' | ')}`);
    }
  }
}
