#!/usr/bin/env node
// Install step: use the shipped prebuilt binaries when they load; otherwise build from source.
// cmake-js (CMakeLists.txt, the build's source of truth) when it is installed (development
// checkouts); node-gyp (binding.gyp, bundled with npm) as the fallback for user installs.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

// prebuilds/linux-x64/ and prebuilds/linux-arm64/ (scripts/prebuild.cjs) need glibc 2.28 or newer (Node 20's
// own baseline) and no libstdc++ of any age; a machine they do not load on (musl, an older glibc) builds.
function prebuiltOk() {
  if (process.env.POCKER_BUILD_FROM_SOURCE) return false;
  const addon = path.join(pre, 'pocker.node');
  const init = path.join(pre, 'pocker-init');
  if (!fs.existsSync(addon) || !fs.existsSync(init)) {
    if (fs.existsSync(path.join(root, 'prebuilds'))) console.error(`pocker: no prebuilt binaries for ${process.platform}-${process.arch}; building from source`);
    return false;
  }
  try {
    require(addon);
    fs.accessSync(init, fs.constants.X_OK);
    return true;
  } catch (err) {
    console.error(`pocker: the prebuilt binaries do not load here (${err && err.message}); building from source`);
    return false;
  }
}

if (process.platform !== 'linux') {
  console.error('pocker: Linux only; skipping the native build');
  process.exit(0);
}
if (prebuiltOk()) process.exit(0);

let cmakeJs = null;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
} catch {
  /* not installed: user install without prebuilds */
}
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// The source build needs the nlohmann/json headers (pocker-init parses the OCI spec with them; they
// are header-only) and libseccomp's static library (linked into pocker-init: the containers'
// seccomp filter). Prebuilt binaries need neither. On a Debian-like machine, as root, install
// them when missing, as `npm test` does for its own prerequisites; elsewhere the error below says how.
function ensureBuildPackages() {
  const incs = ['/usr/include', '/usr/local/include'];
  const libs = ['/usr/lib', '/usr/local/lib', '/usr/lib64', `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`];
  const missing = [];
  if (!incs.some((d) => fs.existsSync(path.join(d, 'nlohmann', 'json.hpp')))) missing.push('nlohmann-json3-dev');
  if (!libs.some((d) => fs.existsSync(path.join(d, 'libseccomp.a')))) missing.push('libseccomp-dev');
  if (missing.length === 0 || process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/apt-get')) return;
  console.error(`pocker: installing ${missing.join(' ')} (what the native build needs)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for another apt-get or dpkg that holds dpkg's lock (as scripts/test.mjs does) instead of
  // failing at once and leaving the build to fail on the missing headers.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  try {
    execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } catch {
    try {
      execFileSync('apt-get', [...lock, 'update'], { stdio: 'inherit' });
      execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
    } catch {
      /* the build's error message says what is missing */
    }
  }
}

ensureBuildPackages();
try {
  if (cmakeJs) {
    run(process.execPath, [cmakeJs, 'compile', '--out', 'build']);
  } else {
    const npmDir = path.dirname(path.dirname(process.env.npm_execpath || ''));
    const gyp = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    run(process.execPath, [fs.existsSync(gyp) ? gyp : require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild']);
  }
} catch (err) {
  console.error(
    'pocker: the native build failed. A source build needs a C++20 compiler, cmake (or node-gyp), the static libc ' +
      '(Debian: build-essential), the nlohmann/json headers and the static libseccomp (Debian/Ubuntu: apt-get install ' +
      'nlohmann-json3-dev libseccomp-dev; Fedora: json-devel libseccomp-static; Alpine: nlohmann-json libseccomp-static).',
  );
  throw err;
}
