#!/usr/bin/env node
// pocker lifecycle benchmark: the memory a detached container's monitor (pocker-init) keeps, and the
// latency of `run -d` + `rm -f`, next to Podman's (conmon; `podman run -d` + `podman rm -f`) in the
// same run when podman can run containers on this host.
//
//   npm run bench:lifecycle [-- --count 20 --runs 20 --no-podman --no-json]
//
// Must run as root. Needs dist/ (`npm run build:ts`) and the native addon. Everything it creates
// lives in one temp dir or under the `pocker-bench` cgroup parent, and is removed at the end (also
// on SIGINT/SIGTERM). It only kills processes it started. See README.md.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CGROUP_PARENT = 'pocker-bench';

function parseArgs(argv) {
  const o = { count: 20, runs: 20, podman: true, json: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) die(`${a}: expected an integer ≥ 1`);
      return n;
    };
    if (a === '--count') o.count = int();
    else if (a === '--runs') o.runs = int();
    else if (a === '--no-podman') o.podman = false;
    else if (a === '--no-json') o.json = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node bench/lifecycle.mjs [--count N (detached containers for RSS, 20)] [--runs N (run -d + rm -f pairs, 20)] [--no-podman] [--no-json]\n');
      process.exit(0);
    } else die(`unknown option ${a}`);
  }
  return o;
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`${msg}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const r1 = (x) => Math.round(x * 10) / 10;

/** Runs argv synchronously; returns { ms, code, stdout, stderr }. */
function timed(argv, env = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** VmRSS, RssAnon, RssFile, RssShmem (/proc/<pid>/status) and Pss (/proc/<pid>/smaps_rollup), in KiB. */
function memOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key, text = status) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = kb('Pss', readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {
    /* no smaps_rollup */
  }
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), pss };
}

function summarize(mems) {
  const pick = (k) => r1(mean(mems.map((m) => m[k])));
  return { n: mems.length, rssKiB: pick('rss'), anonKiB: pick('anon'), fileKiB: pick('file'), shmemKiB: pick('shmem'), pssKiB: pick('pss'), sharedKiB: r1(mean(mems.map((m) => m.file + m.shmem))) };
}

// ---------------------------------------------------------------------------------------------
// setup

const opts = parseArgs(process.argv.slice(2));
if (process.getuid?.() !== 0) die('must run as root');
const TMP = mkdtempSync(join(tmpdir(), 'pocker-bench-lc-'));
chmodSync(TMP, 0o755);
const ROOT = join(TMP, 'root');
const started = { pocker: new Set(), podman: new Set() };
let podman = null; // { argv, env } once podman works

function busyboxRootfs() {
  const bin = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!bin) die('busybox is not installed (apt-get install busybox-static)');
  const dir = join(TMP, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  copyFileSync(bin, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'sleep', 'true']) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
  return dir;
}

const pockerArgv = (...args) => [process.execPath, join(REPO, 'bin/pocker.cjs'), ...args];
const pockerRun = (rootfs, ...cmd) => pockerArgv('run', '-d', '--root', ROOT, '--cgroup-parent', CGROUP_PARENT, '--rootfs', rootfs, ...cmd);
const pockerRm = (id) => pockerArgv('rm', '-f', '--root', ROOT, id);

/** Podman with every path of its own in the temp dir (see README: "Podman on this host"). */
function podmanSetup(rootfs) {
  const dir = join(TMP, 'pm'); // short: podman refuses a runroot over 50 characters
  for (const d of ['net', 'cni', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/root"\n`);
  writeFileSync(join(dir, 'containers.conf'), [
    '[engine]', 'events_logger = "file"', `events_logfile_path = "${dir}/events.log"`, 'cgroup_manager = "cgroupfs"', 'lock_type = "file"',
    '[network]', 'network_backend = "cni"', `network_config_dir = "${dir}/net"`, `cni_plugin_dirs = ["${dir}/cni"]`, '',
  ].join('\n'));
  const env = { CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
  const argv = ['podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const tar = join(TMP, 'busybox.tar');
  const t = timed(['tar', '-C', rootfs, '-cf', tar, '.']);
  if (t.code !== 0) return { error: `tar: ${t.stderr.trim()}` };
  const imp = timed([...argv, 'import', tar, 'bb:latest'], env);
  if (imp.code !== 0) return { error: `podman import: ${imp.stderr.trim()}` };
  const probe = timed([...argv, 'run', '-d', '--network', 'none', 'bb', 'sleep', '60'], env);
  const id = probe.stdout.trim();
  if (probe.code !== 0) {
    timed([...argv, 'rm', '-af'], env);
    return { error: `podman run -d: ${(probe.stderr.trim().split('\n').pop() ?? '').trim()}` };
  }
  timed([...argv, 'rm', '-f', id], env);
  return { argv, env };
}

const cgroupMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => {
    const sep = f.indexOf('-', 6);
    return sep > 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2');
  }).map((f) => f[4]);
const libpodBefore = new Set(cgroupMounts().filter((m) => existsSync(join(m, 'libpod_parent'))));

function cleanup() {
  for (const id of started.pocker) timed(pockerRm(id));
  started.pocker.clear();
  if (podman) {
    timed([...podman.argv, 'rm', '-af'], podman.env);
    timed([...podman.argv, 'rmi', '-af'], podman.env);
  }
  // podman's overlay driver mounts under its home: unmount, deepest first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(TMP)).sort().reverse();
  for (const m of mounts) timed(['umount', '-l', m]);
  rmSync(TMP, { recursive: true, force: true });
  // The cgroup parents this run may have created (empty ones only: rmdir fails otherwise).
  for (const m of cgroupMounts()) {
    for (const p of [CGROUP_PARENT, ...(libpodBefore.has(m) ? [] : ['libpod_parent'])]) {
      const dir = join(m, p);
      if (!existsSync(dir)) continue;
      try {
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirSync(join(dir, e.name));
        rmdirSync(dir);
      } catch {
        /* in use by someone else */
      }
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup(); process.exit(130); });

// ---------------------------------------------------------------------------------------------
// measurements

/** Starts `count` detached `sleep 60`, reads each monitor's memory, removes them. */
function monitorMemory(tool, rootfs) {
  const ids = [];
  const mems = [];
  for (let i = 0; i < opts.count; i++) {
    const r = tool === 'pocker' ? timed(pockerRun(rootfs, 'sleep', '60')) : timed([...podman.argv, 'run', '-d', '--network', 'none', 'bb', 'sleep', '60'], podman.env);
    if (r.code !== 0) throw new Error(`${tool} run -d: ${r.stderr.trim()}`);
    const id = r.stdout.trim();
    ids.push(id);
    started[tool].add(id);
  }
  // Let every monitor reach its steady state (logs open, start-up buffers freed).
  spawnSync('sleep', ['1']);
  for (const id of ids) {
    let pid;
    if (tool === 'pocker') pid = JSON.parse(readFileSync(join(ROOT, 'containers', id, 'state.json'), 'utf8')).monitorPid;
    else pid = Number(timed([...podman.argv, 'inspect', '--format', '{{.State.ConmonPid}}', id], podman.env).stdout.trim());
    mems.push(memOf(pid));
  }
  for (const id of ids) {
    if (tool === 'pocker') timed(pockerRm(id));
    else timed([...podman.argv, 'rm', '-f', id], podman.env);
    started[tool].delete(id);
  }
  return summarize(mems);
}

/** One `run -d sleep 60` then `rm -f` of it, timed separately. */
function cycle(tool, rootfs) {
  const run = tool === 'pocker' ? timed(pockerRun(rootfs, 'sleep', '60')) : timed([...podman.argv, 'run', '-d', '--network', 'none', 'bb', 'sleep', '60'], podman.env);
  if (run.code !== 0) throw new Error(`${tool} run -d: ${run.stderr.trim()}`);
  const id = run.stdout.trim();
  started[tool].add(id);
  const rm = tool === 'pocker' ? timed(pockerRm(id)) : timed([...podman.argv, 'rm', '-f', id], podman.env);
  if (rm.code !== 0) throw new Error(`${tool} rm -f: ${rm.stderr.trim()}`);
  started[tool].delete(id);
  return { run: run.ms, rm: rm.ms };
}

const facts = {
  date: new Date().toISOString(),
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memGB: r1(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  loadBefore: loadavg().map(r1),
  podman: spawnSync('podman', ['--version'], { encoding: 'utf8' }).stdout?.trim() || null,
  pockerCommit: spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || null,
};

let failed = false;
const results = { facts, podmanError: null, memory: {}, latency: {} };
try {
  const rootfs = busyboxRootfs();
  if (opts.podman && facts.podman) {
    log('bench: setting up podman');
    const p = podmanSetup(rootfs);
    if (p.error) {
      results.podmanError = p.error;
      log(`bench: podman cannot run containers here, measuring pocker alone: ${p.error}`);
    } else podman = p;
  } else if (opts.podman) results.podmanError = 'podman is not installed';
  const tools = podman ? ['pocker', 'podman'] : ['pocker'];

  for (const tool of tools) {
    log(`bench: ${tool}: ${opts.count} detached containers, monitor memory`);
    results.memory[tool] = monitorMemory(tool, rootfs);
  }
  for (const tool of tools) cycle(tool, rootfs); // warm-up
  const samples = Object.fromEntries(tools.map((t) => [t, []]));
  for (let i = 0; i < opts.runs; i++) {
    // Interleaved, a different tool first each round.
    const order = i % 2 ? [...tools].reverse() : tools;
    for (const tool of order) samples[tool].push(cycle(tool, rootfs));
  }
  log('');
  for (const tool of tools) {
    const s = samples[tool];
    results.latency[tool] = {
      runs: s.length,
      runMs: r1(median(s.map((x) => x.run))),
      rmMs: r1(median(s.map((x) => x.rm))),
      totalMs: r1(median(s.map((x) => x.run + x.rm))),
      runMinMs: r1(Math.min(...s.map((x) => x.run))),
      rmMinMs: r1(Math.min(...s.map((x) => x.rm))),
    };
  }
  facts.loadAfter = loadavg().map(r1);
} catch (err) {
  failed = true;
  results.error = String(err?.stack ?? err);
  log(`bench: ${err?.message ?? err}`);
} finally {
  cleanup();
}

const out = [];
out.push(`pocker lifecycle bench — ${facts.date}, ${facts.cpus} CPU (${facts.cpuModel}), kernel ${facts.kernel}, Node ${facts.node}, load ${facts.loadBefore.join(' ')}`);
out.push(`${facts.podman ?? 'podman: not installed'}${results.podmanError ? ` — not measured: ${results.podmanError}` : ''}`);
out.push('');
out.push(`monitor memory per detached container (mean of ${opts.count}, KiB)`);
out.push(`  ${'monitor'.padEnd(12)} VmRSS  RssAnon  RssFile  RssShmem  shared(File+Shmem)    Pss`);
for (const [tool, m] of Object.entries(results.memory)) {
  out.push(`  ${(tool === 'pocker' ? 'pocker-init' : 'conmon').padEnd(12)}${String(m.rssKiB).padStart(6)}${String(m.anonKiB).padStart(9)}${String(m.fileKiB).padStart(9)}${String(m.shmemKiB).padStart(10)}${String(m.sharedKiB).padStart(20)}${String(m.pssKiB).padStart(7)}`);
}
out.push('');
out.push(`run -d sleep 60, then rm -f (median of ${opts.runs}, ms)`);
out.push('  tool      run -d    rm -f    both   (min run -d / rm -f)');
for (const [tool, l] of Object.entries(results.latency)) {
  out.push(`  ${tool.padEnd(8)}${String(l.runMs).padStart(8)}${String(l.rmMs).padStart(9)}${String(l.totalMs).padStart(8)}   (${l.runMinMs} / ${l.rmMinMs})`);
}
process.stdout.write(`${out.join('\n')}\n`);
if (opts.json) {
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `lifecycle-${facts.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`bench: results in ${file}`);
}
process.exit(failed ? 1 : 0);
