#!/usr/bin/env node
// `npm run prebuild`: builds the native code with cmake-js (Release; CMakeLists.txt is the build's
// source of truth) and lays out the binaries that ship in the npm tarball:
//
//   prebuilds/<platform>-<arch>/pocker.node   found by node-gyp-build (an untagged name matches any
//                                             runtime; N-API keeps it ABI-stable across Node versions)
//   prebuilds/<platform>-<arch>/pocker-init   found by lib/native.ts, mode 0755
//
// prebuildify would be the usual tool, but it drives node-gyp only (binding.gyp is merely the
// fallback for source installs), hence this small script.
//
// Flags: --no-build  lay out what build/Release already holds (no cmake-js run).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const release = path.join(root, 'build', 'Release');
const target = `${process.platform}-${process.arch}`;
const outDir = path.join(root, 'prebuilds', target);
const files = [
  { name: 'pocker.node', mode: 0o755 },
  { name: 'pocker-init', mode: 0o755 },
];

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux') fail(`pocker is Linux only (this is ${process.platform})`);

if (!process.argv.includes('--no-build')) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  console.log('prebuild: cmake-js compile --out build --config Release');
  execFileSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--config', 'Release'], {
    cwd: root,
    stdio: 'inherit',
  });
}

for (const f of files) {
  if (!fs.existsSync(path.join(release, f.name))) fail(`${path.relative(root, path.join(release, f.name))} is missing after the build`);
}

// pocker-init runs inside containers, where the host's shared libraries are not: it must be static
// (an ELF without a PT_INTERP program header).
function hasInterpreter(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) fail(`${file}: not a 64-bit little-endian ELF`);
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (buf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  }
  return false;
}
if (hasInterpreter(path.join(release, 'pocker-init'))) fail('build/Release/pocker-init is dynamically linked; it must be static');

fs.mkdirSync(outDir, { recursive: true });
// Anything else in the directory (an older, differently tagged addon) could win node-gyp-build's match.
for (const entry of fs.readdirSync(outDir)) {
  if (!files.some((f) => f.name === entry)) {
    fs.rmSync(path.join(outDir, entry), { recursive: true, force: true });
    console.log(`prebuild: removed stale prebuilds/${target}/${entry}`);
  }
}
// Copy to a temporary name and rename: a process loading the old file keeps a consistent inode.
for (const f of files) {
  const dest = path.join(outDir, f.name);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.copyFileSync(path.join(release, f.name), tmp);
  fs.chmodSync(tmp, f.mode);
  fs.renameSync(tmp, dest);
  const size = fs.statSync(dest).size;
  console.log(`prebuild: prebuilds/${target}/${f.name} (${(size / 1024).toFixed(0)} KiB, mode ${f.mode.toString(8)})`);
}

// The addon must load in this Node, from where node-gyp-build will look for it.
try {
  require(path.join(outDir, 'pocker.node'));
} catch (err) {
  fail(`prebuilds/${target}/pocker.node does not load: ${err && err.message}`);
}
