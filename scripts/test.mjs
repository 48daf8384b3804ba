#!/usr/bin/env node
// `npm test`: the whole test suite, as CI runs it (as root, on a fresh clone, after `npm ci`).
//
//   1. prerequisites  apt packages the tests need (APT_PACKAGES, BINARY_PACKAGES, on x86_64 the arm64 cross
//                     toolchain ARM64_PACKAGES) plus cmake, g++ and nlohmann-json3-dev; installed
//                     with apt-get when missing and running as root, otherwise reported
//   2. build:native   `npx cmake-js compile --out build`, unless build/Release is newer than cpp/
//                     and CMakeLists.txt
//   3. build:ts       `npm run build:ts` (tsc, then the CLI bundle)
//   4. host tests     vitest over test/unit, test/native, test/integration, test/security, test/rootless (this
//                     machine: cgroup v1)
//   5. cgroup-v2 VM   the cgroup tests and the network tests again inside ../shared/vm/cgroup2-vm (a
//                     cgroup-v2-only guest, emulated and 8-20x slower), in two guests at once (VM_GROUPS);
//                     skipped loudly when the VM script is
//                     absent or we are not root (a FAILED step under CI=true), on purpose with
//                     --no-vm or POCKER_TEST_SKIP_VM=1
//   6. chaos          vitest over test/chaos (`npm run test:chaos`: a seeded random plan of container
//                     operations with SIGKILLed CLIs, monitors and workloads, then a consistency check
//                     and a full cleanup; POCKER_CHAOS_SEED replays a seed, POCKER_CHAOS_ACTIONS sizes it)
//   7. leftovers      vitest over test/final (nothing may be left behind: cgroups, mounts, ...)
//
// Usage: node scripts/test.mjs [--no-vm | --only-vm] [VITEST ARGS...] [-- VITEST ARGS...]
// Arguments other than ours go to the vitest runs of steps 4 and 5 (e.g. `npm test -- -t overlay`,
// `npm test -- --reporter=verbose`); the leftovers check always runs unfiltered.
// Prints one `pocker test summary:` line per step at the end; exits non-zero if any step failed.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages the tests use (busybox-static: a static shell and tools for container rootfs fixtures;
 * docker-registry, skopeo, apache2-utils: a loopback registry, pushing test images to it, htpasswd;
 * jq: reading a container's config.json as any OCI tool would; runc: the reference the runc-verb tests compare
 * pocker-init's `state` and `runc spec` bundles with; nftables: the `nft` program, a test tool only (the
 * network tests read pocker's table with it; pocker writes its rules over netlink itself and needs only the
 * kernel's nftables); iproute2: the tests' own view of links and addresses; util-linux: `unshare` for
 * the network tests' namespace; uidmap: the setuid newuidmap/newgidmap a rootless user's subordinate ids are
 * mapped with (test/rootless); passt, slirp4netns: the user-mode network stacks of rootless -p; strace: its fault
 * injection plays a kernel without nf_tables in test/network/nft.test.ts). */
const APT_PACKAGES = ['busybox-static', 'docker-registry', 'skopeo', 'apache2-utils', 'jq', 'runc', 'nftables', 'iproute2', 'util-linux', 'uidmap', 'passt', 'slirp4netns', 'strace'];
/** The binaries' checks (test/integration/binaries.test.ts): binutils' readelf cross-checks the symbol versions the
 * test reads from the ELF files; qemu-user runs the static arm64 pocker-init; on x86_64 the linux-arm64 prebuild is
 * made by `scripts/prebuild.cjs --arch arm64` with Debian's cross toolchain and the multiarch libseccomp (about
 * 45 MB of packages and 2-3 minutes of build on 2 cores, then incremental in build-arm64/; `dpkg
 * --add-architecture arm64` first). POCKER_TEST_NO_ARM64=1 leaves the cross toolchain out (the arm64 check then
 * skips, loudly). */
const BINARY_PACKAGES = ['binutils', 'qemu-user'];
const ARM64_CROSS = process.arch === 'x64' && process.env.POCKER_TEST_NO_ARM64 !== '1';
const ARM64_PACKAGES = ARM64_CROSS ? ['g++-aarch64-linux-gnu', 'libseccomp-dev:arm64'] : [];
/** Commands the build needs, and the Debian package that provides each. */
const BUILD_COMMANDS = { cmake: 'cmake', 'g++': 'g++' };
/** Headers and libraries the build needs (nlohmann-json3-dev: the JSON library pocker-init parses the OCI
 * spec with; libseccomp-dev: libseccomp.a, linked into pocker-init for the containers' seccomp filter). */
const BUILD_PACKAGES = ['nlohmann-json3-dev', 'libseccomp-dev'];

const HOST_TESTS = ['test/unit', 'test/native', 'test/integration', 'test/security', 'test/rootless'];
/** The guest's cgroup tests: the files whose code paths differ on cgroup v2. */
const VM_TESTS = ['test/integration/cgroups.test.ts', 'test/integration/layers-many.test.ts', 'test/rootless/delegated.test.ts', 'test/rootless/rootless.test.ts', 'test/integration/run.test.ts', 'test/integration/update.test.ts', 'test/integration/cgroupfs.test.ts', 'test/integration/pause.test.ts', 'test/integration/exec.test.ts'];
/** Network tests the guest runs too (under `unshare --net`, as on the host). */
const VM_NETWORK_TESTS = ['test/network'];
/**
 * The guest pass is two guests that run at once, each its own kernel, cgroup tree and network stack:
 * a file's cleanup check and the leftovers it judges stay its own (files stay serial within a guest,
 * vitest.config.ts). The guest is emulated (TCG: no hardware virtualization on our machines) and one
 * file's work mostly keeps one vCPU busy, so one guest with both groups left a host core idle: in
 * two, the pass takes about as long as its longer group (each group took ~900 s of stop 20's loaded
 * 2610 s run, whose limit is VM_TIMEOUT_SECONDS).
 */
const VM_GROUPS = { cgroup: VM_TESTS, network: VM_NETWORK_TESTS };
const CHAOS_TESTS = ['test/chaos'];
/** Run inside a network namespace made for the run (`unshare --net`): bridges, rules, ports die with it. */
const NETWORK_TESTS = ['test/network'];
const FINAL_TESTS = ['test/final'];
/** The cgroup-v2 guest (POCKER_TEST_VM_SCRIPT overrides it: the runner's own test points it at a missing file). */
const VM_SCRIPT = process.env.POCKER_TEST_VM_SCRIPT || resolve(repo, '..', 'shared', 'vm', 'cgroup2-vm');
// Per guest. In one guest, the whole pass took 2610 s under `stress-ng --cpu 2` (containers.test.ts alone
// 601 s there): room for a busy CI machine, within .ci/run's 70 minutes for npm test.
const VM_TIMEOUT_SECONDS = 3000;
/** Per-test and per-hook timeout inside the VM, whose Node runs 8-20x slower than the host's. */
const VM_TEST_TIMEOUT_MS = 600_000;

const isRoot = process.getuid?.() === 0;
/** This run's name in the tests' temp dirs and cgroup parents (test/helpers.ts): its leftovers check judges
 * only what this run made, not a second checkout's tests running beside it. */
process.env.POCKER_TEST_RUN ||= `run${process.pid}`;

// ---------------------------------------------------------------------------------------------
// Arguments

function usage() {
  console.log(`Usage: node scripts/test.mjs [--no-vm | --only-vm] [VITEST ARGS...] [-- VITEST ARGS...]
  --no-vm     skip the cgroup-v2 VM pass (as does POCKER_TEST_SKIP_VM=1)
  --only-vm   run only the prerequisites, the build and the cgroup-v2 VM pass
  --vm-status say whether the cgroup-v2 VM pass would run, be skipped or fail (CI=true), and exit
  other arguments are passed to vitest (host and VM passes)`);
}

const opts = { noVm: process.env.POCKER_TEST_SKIP_VM === '1', skipVmReason: '', onlyVm: false, vmStatus: false, vitestArgs: [] };
if (opts.noVm) opts.skipVmReason = 'POCKER_TEST_SKIP_VM=1';
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      opts.vitestArgs.push(...argv.slice(i + 1));
      break;
    } else if (a === '--no-vm') {
      opts.noVm = true;
      opts.skipVmReason = '--no-vm';
    } else if (a === '--only-vm') opts.onlyVm = true;
    else if (a === '--vm-status') opts.vmStatus = true;
    else if (a === '--help') {
      usage();
      process.exit(0);
    } else opts.vitestArgs.push(a);
  }
  if (opts.noVm && opts.onlyVm) {
    console.error(`pocker test: --only-vm contradicts ${opts.skipVmReason}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Where `cmd` is on PATH, or undefined. */
function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function banner(lines) {
  const bar = '!'.repeat(78);
  console.log(`\n${bar}\n${lines.map((l) => `!!! ${l}`).join('\n')}\n${bar}\n`);
}

const current = new Set(); // the running children, for signal forwarding
let interrupted; // the signal that interrupted us

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    interrupted = signal;
    // A terminal's Ctrl-C already reached the whole foreground process group.
    if (signal !== 'SIGINT') for (const child of current) child.kill(signal);
  });
}

/**
 * Runs a command; resolves with its exit code (128+N when killed by signal N). Its stdio are ours, or with
 * `prefix`, its output lines are printed with that prefix (two commands running at once stay readable).
 */
function run(cmd, args, { prefix, ...options } = {}) {
  console.log(`\n${prefix ?? ''}$ ${[cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}`);
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: prefix === undefined ? 'inherit' : ['inherit', 'pipe', 'pipe'], ...options });
    current.add(child);
    if (prefix !== undefined) {
      for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
        let partial = '';
        from.setEncoding('utf8');
        from.on('data', (text) => {
          const lines = (partial + text).split('\n');
          partial = lines.pop();
          if (lines.length) to.write(lines.map((l) => `${prefix}${l}\n`).join(''));
        });
        from.on('end', () => partial && to.write(`${prefix}${partial}\n`));
      }
    }
    child.once('error', (err) => {
      console.error(`pocker test: cannot run ${cmd}: ${err.message}`);
      current.delete(child);
      resolvePromise(127);
    });
    // With pipes, 'close': the exit code after the last of its output.
    child.once(prefix === undefined ? 'exit' : 'close', (code, signal) => {
      current.delete(child);
      const signals = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolvePromise(code ?? 128 + (signals[signal] ?? 0));
    });
  });
}

const steps = [];

/**
 * Runs one step. `fn` resolves with { status: 'ok' | 'FAILED' | 'skipped', note? }. A step after an
 * interruption or a failed build is 'not run'.
 */
async function step(name, fn, { blocked } = {}) {
  if (interrupted || blocked) {
    steps.push({ name, status: 'not run', seconds: 0, note: interrupted ? `interrupted by ${interrupted}` : blocked });
    return steps.at(-1);
  }
  console.log(`\n=== pocker test: ${name}`);
  const start = performance.now();
  let result;
  try {
    result = await fn();
  } catch (err) {
    console.error(err);
    result = { status: 'FAILED', note: err instanceof Error ? err.message : String(err) };
  }
  const seconds = (performance.now() - start) / 1000;
  steps.push({ name, seconds, ...result });
  console.log(`=== pocker test: ${name}: ${result.status}${result.note ? ` (${result.note})` : ''} in ${seconds.toFixed(1)}s`);
  return steps.at(-1);
}

const fromExit = (code, what = 'exit') => (code === 0 ? { status: 'ok' } : { status: 'FAILED', note: `${what} ${code}` });

// ---------------------------------------------------------------------------------------------
// 1. Prerequisites

function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && /\binstalled$/.test(r.stdout.trim()) && !/not-installed|config-files/.test(r.stdout);
}

async function prerequisites() {
  const missing = [];
  const wanted = [...APT_PACKAGES, ...BINARY_PACKAGES, ...BUILD_PACKAGES, ...ARM64_PACKAGES];
  if (which('dpkg-query')) {
    for (const pkg of wanted) if (!dpkgInstalled(pkg)) missing.push(pkg);
  } else {
    console.log(`pocker test: no dpkg-query: cannot check for ${wanted.join(', ')}; tests (and the build) that need them may fail`);
  }
  for (const [cmd, pkg] of Object.entries(BUILD_COMMANDS)) if (!which(cmd) && !missing.includes(pkg)) missing.push(pkg);
  if (missing.length === 0) return { status: 'ok', note: 'nothing missing' };
  if (!isRoot || !which('apt-get')) {
    banner([
      `missing prerequisites: ${missing.join(' ')}`,
      isRoot ? 'no apt-get here: install them by hand' : 'not root: cannot install them (run as root, or: apt-get install ' + missing.join(' ') + ')',
      'tests that need them will fail or skip',
    ]);
    return { status: 'skipped', note: `missing ${missing.join(' ')}` };
  }
  console.log(`pocker test: installing ${missing.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  // Multiarch packages (libseccomp-dev:arm64) need their architecture known to dpkg before apt-get update.
  const foreign = [...new Set(missing.map((p) => p.split(':')[1]).filter(Boolean))];
  if (foreign.length) {
    const known = (spawnSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).stdout ?? '').split(/\s+/);
    for (const arch of foreign.filter((a) => !known.includes(a))) {
      const added = await run('dpkg', ['--add-architecture', arch]);
      if (added !== 0) return { status: 'FAILED', note: `dpkg --add-architecture ${arch} exited ${added}` };
    }
  }
  const update = await run('apt-get', [...lock, 'update'], { env });
  if (update !== 0) return { status: 'FAILED', note: `apt-get update exited ${update}` };
  const install = await run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], { env });
  if (install !== 0) return { status: 'FAILED', note: `apt-get install exited ${install}` };
  return { status: 'ok', note: `installed ${missing.join(' ')}` };
}

// ---------------------------------------------------------------------------------------------
// 2, 3. Build

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted source file changes its directory
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Why the native code needs building, or undefined when build/Release is up to date. */
function nativeOutOfDate() {
  const outputs = ['pocker.node', 'pocker-init'].map((f) => join(repo, 'build', 'Release', f));
  for (const o of outputs) if (!existsSync(o)) return `${relative(repo, o)} is missing`;
  const oldestOutput = Math.min(...outputs.map((o) => statSync(o).mtimeMs));
  const newestInput = Math.max(newestMtime(join(repo, 'cpp')), newestMtime(join(repo, 'CMakeLists.txt')));
  return newestInput > oldestOutput ? 'cpp/ or CMakeLists.txt changed since the last build' : undefined;
}

async function buildNative() {
  const why = nativeOutOfDate();
  if (!why) {
    console.log('pocker test: build/Release/pocker.node and pocker-init are newer than cpp/ and CMakeLists.txt');
    return { status: 'ok', note: 'up to date' };
  }
  console.log(`pocker test: building the native code: ${why}`);
  const code = await run('npx', ['--no-install', 'cmake-js', 'compile', '--out', 'build']);
  return fromExit(code, 'cmake-js exited');
}

// ---------------------------------------------------------------------------------------------
// 5. The cgroup-v2 VM

/** Why the VM pass cannot run here (loudly reported), or undefined. */
/** CI=true (or any value but '' / 'false' / '0'), as GitHub Actions, GitLab and our .ci/run set it. */
function isCi() {
  const v = process.env.CI ?? '';
  return v !== '' && v !== 'false' && v !== '0';
}

/** The step a missing VM makes: under CI a failure, never a quiet pass (most users run cgroup v2; skip on
 * purpose with --no-vm); elsewhere a loud skip. */
function vmMissingStep(unavailable) {
  const ci = isCi();
  return {
    headline: `cgroup-v2 VM pass ${ci ? 'NOT RUN (CI=true: this fails the run)' : 'SKIPPED'}: ${unavailable}`,
    step: { name: 'cgroup-v2 VM tests', status: ci ? 'FAILED' : 'skipped', seconds: 0, note: unavailable },
  };
}

function vmUnavailable() {
  if (!existsSync(VM_SCRIPT)) return `${VM_SCRIPT} does not exist`;
  if (!isRoot) return 'not running as root (cgroup2-vm needs root)';
  if (/[\s,]/.test(repo)) return `the repository path ${JSON.stringify(repo)} contains a space or comma (cgroup2-vm cannot share it)`;
  return undefined;
}

/** One guest: `files` under vitest, output lines prefixed with `[vm NAME]`; resolves with its step result. */
async function vmGuest(name, files) {
  // POCKER_TEST_TIMEOUT_MS: the guest's --testTimeout, for the tests that set a timeout of their own
  // (test/helpers.ts longTest: the longer of the two applies).
  const envArgs = ['--env', 'POCKER_TEST_IN_VM=1', '--env', `POCKER_TEST_TIMEOUT_MS=${VM_TEST_TIMEOUT_MS}`];
  // Our own knobs travel along (CI, NODE_OPTIONS, TERM, ... are passed by cgroup2-vm itself).
  for (const env of Object.keys(process.env).sort()) {
    if (env.startsWith('POCKER_') && !['POCKER_TEST_SKIP_VM', 'POCKER_TEST_IN_VM', 'POCKER_TEST_TIMEOUT_MS'].includes(env)) envArgs.push('--env', env);
  }
  const start = performance.now();
  const code = await run(VM_SCRIPT, [
    '--timeout', String(VM_TIMEOUT_SECONDS),
    '--workdir', repo,
    // A scratch ext4 disk (/scratch, sparse on the host): the guest's root is overlayfs, where no image
    // layer can be stored, so the rootless tests' users get their homes there (test/rootless/user.ts).
    '--disk', '4G',
    ...envArgs,
    '--',
    // vitest's own bin, not npx: loading npm costs ~12 s in the emulated guest. In a network namespace of
    // its own, as test/network requires (the guest has only lo anyway).
    'unshare', '--net', '--',
    'node_modules/.bin/vitest', 'run', ...files,
    '--passWithNoTests',
    // No results cache: both guests would write node_modules/.vite/vitest/results.json at once over 9p.
    '--no-cache',
    ...reportArgs(`vm-${name}`),
    `--testTimeout=${VM_TEST_TIMEOUT_MS}`,
    `--hookTimeout=${VM_TEST_TIMEOUT_MS}`,
    ...opts.vitestArgs,
  ], { prefix: `[vm ${name}] ` });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(`=== pocker test: cgroup-v2 VM, ${name} guest: exit ${code} in ${seconds}s`);
  if (code === 124) return { status: 'FAILED', note: `${name} guest timed out after ${VM_TIMEOUT_SECONDS}s` };
  if (code === 125) return { status: 'FAILED', note: `${name} guest: the VM died before the command finished (exit 125)` };
  return code === 0 ? { status: 'ok', note: `${name} ${seconds}s` } : { status: 'FAILED', note: `${name} guest exit ${code}` };
}

/** The guest pass: the VM_GROUPS in guests of their own, at once. */
async function vmPass() {
  const results = await Promise.all(Object.entries(VM_GROUPS).map(([name, files]) => vmGuest(name, files)));
  const failed = results.filter((r) => r.status !== 'ok');
  return { status: failed.length ? 'FAILED' : 'ok', note: (failed.length ? failed : results).map((r) => r.note).join(', ') };
}

// ---------------------------------------------------------------------------------------------
// Main

/** Each vitest run also writes a JSON report (inside the repo, so the VM can write it too). */
const reports = [];
function reportArgs(name) {
  const file = join(repo, `.vitest-${name}-${process.pid}.json`);
  rmSync(file, { force: true });
  reports.push(file);
  return ['--reporter=default', '--reporter=json', `--outputFile.json=${file}`];
}
/** One line of a failure message, short enough for the tail of a CI log. */
const firstLine = (text) => String(text ?? '').replace(/\x1b\[[0-9;]*m/g, '').split('\n').find((l) => l.trim())?.trim().slice(0, 300) ?? '';
/**
 * Sums passed/failed/skipped over every report written (a run that wrote none counts nothing), and
 * names what failed: CI keeps only the tail of a long log, so the end of the run must say which test
 * (or which file, when a hook or the file's cleanup check failed) and why, in one line each.
 */
function testCounts() {
  const total = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const file of reports) {
    if (!existsSync(file)) continue;
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      const run = file.replace(/^.*\.vitest-(.*)-\d+\.json$/, '$1');
      total.passed += r.numPassedTests ?? 0;
      total.failed += r.numFailedTests ?? 0; // a run that failed otherwise still fails its step (below)
      total.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      for (const f of r.testResults ?? []) {
        const where = relative(repo, f.name ?? '');
        const failedTests = (f.assertionResults ?? []).filter((t) => t.status === 'failed');
        for (const t of failedTests) total.failures.push(`${run}: ${where} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
        if (f.status === 'failed' && failedTests.length === 0) total.failures.push(`${run}: ${where}: ${firstLine(f.message)}`);
      }
    } catch (e) {
      total.failures.push(`${file}: unreadable report (${firstLine(e?.message)})`);
    } finally {
      rmSync(file, { force: true });
    }
  }
  return total;
}

if (opts.vmStatus) {
  const unavailable = opts.noVm ? undefined : vmUnavailable();
  if (opts.noVm) console.log(`cgroup-v2 VM pass: skipped on purpose (${opts.skipVmReason})`);
  else if (!unavailable) console.log(`cgroup-v2 VM pass: runs (${VM_SCRIPT}), in ${Object.keys(VM_GROUPS).length} guests at once: ${Object.entries(VM_GROUPS).map(([name, files]) => `${name} (${files.join(' ')})`).join('; ')}`);
  else {
    const missing = vmMissingStep(unavailable);
    console.log(missing.headline);
    process.exit(missing.step.status === 'FAILED' ? 1 : 0);
  }
  process.exit(0);
}

// Outside the network tests' own namespace no container may get a bridge on this machine's network:
// pocker's default network (bridge, as Docker's) is none for them (the vitest projects say so too).
const vitest = (name, files, extra) => run('npx', ['--no-install', 'vitest', 'run', ...files, '--passWithNoTests', ...reportArgs(name), ...extra], { env: { ...process.env, POCKER_DEFAULT_NETWORK: 'none' } });
const started = performance.now();
console.log(`pocker test: node ${process.version}, ${isRoot ? 'root' : `uid ${process.getuid?.()}`}, repo ${repo}`);

await step('prerequisites', prerequisites);
const native = await step('build:native', buildNative);
const ts = await step('build:ts', async () => fromExit(await run('npm', ['run', '--silent', 'build:ts'])));
const buildFailed = [native, ts].some((s) => s.status === 'FAILED') ? 'the build failed' : undefined;

if (opts.onlyVm) steps.push({ name: 'host tests', status: 'skipped', seconds: 0, note: '--only-vm' });
else await step('host tests', async () => fromExit(await vitest('host', HOST_TESTS, opts.vitestArgs)), { blocked: buildFailed });

const unavailable = vmUnavailable();
if (opts.noVm) {
  banner([`cgroup-v2 VM pass skipped on purpose (${opts.skipVmReason}): the cgroup v2 code path is NOT tested`]);
  steps.push({ name: 'cgroup-v2 VM tests', status: 'skipped', seconds: 0, note: opts.skipVmReason });
} else if (unavailable && !interrupted && !buildFailed) {
  const missing = vmMissingStep(unavailable);
  banner([missing.headline, 'the cgroup v2 code path is NOT tested']);
  steps.push(missing.step);
} else {
  await step('cgroup-v2 VM tests', vmPass, { blocked: buildFailed });
}

// Networks: in a network namespace of the run's own (on the host; the guest's pass above runs them too).
if (opts.onlyVm) steps.push({ name: 'network tests', status: 'skipped', seconds: 0, note: '--only-vm' });
else
  await step('network tests', async () => fromExit(await run('unshare', ['--net', '--', 'npx', '--no-install', 'vitest', 'run', '--project', 'network', ...NETWORK_TESTS, '--passWithNoTests', ...reportArgs('network'), ...opts.vitestArgs])), { blocked: buildFailed });

// After the host tests, before the leftovers check (which then also judges what chaos left).
if (opts.onlyVm) steps.push({ name: 'chaos tests', status: 'skipped', seconds: 0, note: '--only-vm' });
else await step('chaos tests', async () => fromExit(await vitest('chaos', CHAOS_TESTS, [])), { blocked: buildFailed });

if (opts.onlyVm) steps.push({ name: 'leftovers check', status: 'skipped', seconds: 0, note: '--only-vm' });
else await step('leftovers check', async () => fromExit(await vitest('final', FINAL_TESTS, [])), { blocked: buildFailed });

const failed = steps.filter((s) => s.status === 'FAILED');
console.log('');
const width = Math.max(...steps.map((s) => s.name.length));
for (const s of steps) {
  console.log(`pocker test summary: ${s.name.padEnd(width)}  ${s.status.padEnd(7)} ${s.seconds.toFixed(1).padStart(7)}s${s.note ? `  (${s.note})` : ''}`);
}
const total = ((performance.now() - started) / 1000).toFixed(1);
const verdict = interrupted ? `INTERRUPTED by ${interrupted}` : failed.length ? `FAILED (${failed.map((s) => s.name).join(', ')})` : 'PASSED';
console.log(`pocker test summary: ${verdict} in ${total}s`);
// The plain closing line CI reads: tests over every vitest run (host, cgroup-v2 VM, leftovers).
const counts = testCounts();
for (const line of counts.failures) console.log(`pocker test failed: ${line}`);
// A failed step with no failed test (a build, the VM itself) still counts as a failure.
const failures = counts.failed || failed.length;
console.log(`${counts.passed} passed, ${failures} failed, ${counts.skipped} skipped`);

if (interrupted) process.exit(interrupted === 'SIGINT' ? 130 : interrupted === 'SIGHUP' ? 129 : 143);
process.exit(failed.length === 0 ? 0 : 1);
