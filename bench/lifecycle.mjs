#!/usr/bin/env node
// pocker lifecycle benchmark: the memory a detached container's monitor (pocker-init) keeps, and the
// latency of `run -d` + `rm -f`, next to Podman's (conmon; `podman run -d` + `podman rm -f`) in the
// same run when podman can run containers on this host: with crun (its default runtime) and with runc.
//
//   npm run bench:lifecycle [-- --count 20 --runs 20 --podman-runtimes crun,runc --no-podman --no-json]
//
// Must run as root. Needs dist/ (`npm run build:ts`) and the native addon. Everything it creates
// lives in one temp dir or under the `pocker-bench` cgroup parent, and is removed at the end (also
// on SIGINT/SIGTERM). It only kills processes it started. See README.md.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRootfs, quantile } from './common.mjs';
import { hybridUnifiedMount, IMAGE, podmanVersion, setupPodman, startHybridNamespace } from './podman.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CGROUP_PARENT = 'pocker-bench';

function parseArgs(argv) {
  const o = { count: 20, runs: 20, podman: true, podmanRuntimes: ['crun', 'runc'], json: true };
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
    else if (a === '--podman-runtimes') {
      o.podmanRuntimes = (argv[++i] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      if (!o.podmanRuntimes.length || o.podmanRuntimes.some((x) => !/^[a-z0-9_-]+$/.test(x))) die(`${a}: expected a list such as crun,runc`);
    }
    else if (a === '--no-json') o.json = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node bench/lifecycle.mjs [--count N (detached containers for RSS, 20)] [--runs N (run -d + rm -f pairs, 20)] [--podman-runtimes crun,runc] [--no-podman] [--no-json]\n');
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
const median = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);
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
const started = { pocker: new Set() }; // tool key → ids of containers not yet removed
const podmans = []; // setupPodman() results, working or not
let hybridHelper = null; // the process holding the mount namespace of the hybrid-cgroup workaround

function busyboxRootfs() {
  const dir = join(TMP, 'rootfs');
  try {
    buildRootfs(dir);
  } catch (err) {
    die(err.message);
  }
  return dir;
}

const pockerArgv = (...args) => [process.execPath, join(REPO, 'bin/pocker.cjs'), ...args];
const pockerRun = (rootfs, ...cmd) => pockerArgv('run', '-d', '--root', ROOT, '--cgroup-parent', CGROUP_PARENT, '--rootfs', rootfs, ...cmd);
const pockerRm = (id) => pockerArgv('rm', '-f', '--root', ROOT, id);

/**
 * One store per runtime, each under a short dir (podman refuses a runroot over 50 characters), all
 * from one tarball of the rootfs. See README: "Podman on this host".
 */
async function podmanSetup(rootfs) {
  const tar = join(TMP, 'busybox.tar');
  const t = timed(['tar', '-C', rootfs, '-cf', tar, '.']);
  if (t.code !== 0) return [{ key: 'podman', error: `tar: ${t.stderr.trim()}` }];
  const unified = hybridUnifiedMount();
  const hybridNamespace = async () => {
    if (!unified) throw new Error('no cgroup2 mount to hide');
    hybridHelper ??= await startHybridNamespace(TMP, unified);
    return hybridHelper.pid;
  };
  const out = [];
  for (const runtime of opts.podmanRuntimes) {
    const pm = await setupPodman({ dir: join(TMP, `p${runtime[0]}${out.length}`), tar, runtime, cgroupParent: CGROUP_PARENT, hybridNamespace });
    started[pm.key] = new Set();
    out.push(pm);
  }
  return out;
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
  // Podman first (its crun store is only reachable through the helper's namespace), then the helper.
  for (const pm of podmans) if (pm.cleanup) pm.cleanup();
  podmans.length = 0;
  if (hybridHelper) {
    try { process.kill(hybridHelper.pid, 'SIGKILL'); } catch { /* gone */ }
    hybridHelper = null;
  }
  // Anything still mounted under the temp dir in this namespace: unmount, deepest first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(TMP)).sort().reverse();
  for (const m of mounts) timed(['umount', '-l', m]);
  rmSync(TMP, { recursive: true, force: true });
  // The cgroup parents this run may have created (empty ones only: rmdir fails otherwise). Podman
  // puts conmon in <parent>/conmon; it would use libpod_parent without --cgroup-parent.
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
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`bench: ${sig}, cleaning up`); cleanup(); process.exit(130); });
// The commands run with spawnSync: a signal's handler only runs when the event loop turns, so the
// loops below yield between commands.
const tick = () => new Promise((r) => setTimeout(r, 0));

// ---------------------------------------------------------------------------------------------
// measurements

/** The tools: pocker, and each podman store that can run containers. */
const toolDefs = {
  pocker: {
    monitor: 'pocker-init',
    run: (rootfs) => timed(pockerRun(rootfs, 'sleep', '60')),
    rm: (id) => timed(pockerRm(id)),
    monitorPid: (id) => JSON.parse(readFileSync(join(ROOT, 'containers', id, 'state.json'), 'utf8')).monitorPid,
  },
};
function addPodmanTool(pm) {
  toolDefs[pm.key] = {
    monitor: `conmon (${pm.runtime})`,
    run: () => timed(pm.argv('run', '-d', ...pm.runFlags, IMAGE, 'sleep', '60'), pm.env),
    // -t 0: SIGKILL at once, as `pocker rm -f` does (podman would send SIGTERM and wait 10 s first).
    rm: (id) => timed(pm.argv('rm', '-f', '-t', '0', id), pm.env),
    monitorPid: (id) => Number(pm.run('inspect', '--format', '{{.State.ConmonPid}}', id).stdout),
  };
}

/** Starts `count` detached `sleep 60`, reads each monitor's memory, removes them. */
async function monitorMemory(tool, rootfs) {
  const t = toolDefs[tool];
  const ids = [];
  const mems = [];
  for (let i = 0; i < opts.count; i++) {
    const r = t.run(rootfs);
    if (r.code !== 0) throw new Error(`${tool} run -d: ${r.stderr.trim()}`);
    const id = r.stdout.trim();
    ids.push(id);
    started[tool].add(id);
    await tick();
  }
  // Let every monitor reach its steady state (logs open, start-up buffers freed).
  spawnSync('sleep', ['1']);
  for (const id of ids) mems.push(memOf(t.monitorPid(id)));
  for (const id of ids) {
    t.rm(id);
    started[tool].delete(id);
  }
  return summarize(mems);
}

/** One `run -d sleep 60` then `rm -f` of it, timed separately. */
function cycle(tool, rootfs) {
  const t = toolDefs[tool];
  const run = t.run(rootfs);
  if (run.code !== 0) throw new Error(`${tool} run -d: ${run.stderr.trim()}`);
  const id = run.stdout.trim();
  started[tool].add(id);
  const rm = t.rm(id);
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
  podman: podmanVersion(),
  conmon: spawnSync('conmon', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0].trim() || null,
  crun: spawnSync('crun', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0].trim() || null,
  runc: spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0].trim() || null,
  pockerCommit: spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || null,
  pockerDirty: Boolean(spawnSync('git', ['-C', REPO, 'status', '--porcelain'], { encoding: 'utf8' }).stdout?.trim()),
};

let failed = false;
const results = { facts, podman: [], podmanError: null, memory: {}, latency: {}, ratios: {} };
try {
  const rootfs = busyboxRootfs();
  if (opts.podman && facts.podman) {
    log('bench: setting up podman');
    podmans.push(...(await podmanSetup(rootfs)));
    for (const pm of podmans) {
      results.podman.push({ key: pm.key, runtime: pm.runtime, invocation: pm.argv && [...pm.argv('run', '-d', ...pm.runFlags, IMAGE, 'sleep', '60')], containersConf: pm.containersConf, workarounds: pm.workarounds, error: pm.error });
      if (pm.error) log(`bench: ${pm.key} cannot run containers here, not measured: ${pm.error}`);
      else {
        for (const w of pm.workarounds) log(`bench: ${pm.key}: "${w.error}" → ${w.fix}`);
        addPodmanTool(pm);
      }
    }
    if (!podmans.some((pm) => !pm.error)) results.podmanError = podmans.map((pm) => `${pm.key}: ${pm.error}`).join('; ');
  } else results.podmanError = opts.podman ? 'podman is not installed' : '--no-podman';
  const tools = Object.keys(toolDefs);

  for (const tool of tools) {
    log(`bench: ${tool}: ${opts.count} detached containers, monitor memory`);
    results.memory[tool] = { monitor: toolDefs[tool].monitor, ...(await monitorMemory(tool, rootfs)) };
  }
  for (const tool of tools) cycle(tool, rootfs); // warm-up
  const samples = Object.fromEntries(tools.map((t) => [t, []]));
  log(`bench: ${opts.runs} rounds of run -d + rm -f, round-robin: ${tools.join(', ')}`);
  for (let i = 0; i < opts.runs; i++) {
    // Interleaved, a different tool first each round.
    const order = tools.map((_, k) => tools[(k + i) % tools.length]);
    for (const tool of order) {
      samples[tool].push(cycle(tool, rootfs));
      await tick();
    }
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
  // pocker ÷ podman: below 1, pocker is smaller or faster.
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? Math.round((a / b) * 100) / 100 : null);
  for (const tool of tools.filter((t) => t !== 'pocker')) {
    const [pm, pl, om, ol] = [results.memory.pocker, results.latency.pocker, results.memory[tool], results.latency[tool]];
    results.ratios[tool] = {
      rss: ratio(pm.rssKiB, om.rssKiB), pss: ratio(pm.pssKiB, om.pssKiB),
      run: ratio(pl.runMs, ol.runMs), rm: ratio(pl.rmMs, ol.rmMs), both: ratio(pl.totalMs, ol.totalMs),
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
out.push(`pocker lifecycle bench — ${facts.date}, ${facts.cpus} CPU (${facts.cpuModel}), kernel ${facts.kernel}, Node ${facts.node}, load ${facts.loadBefore.join(' ')} → ${facts.loadAfter?.join(' ') ?? '?'}`);
out.push(`pocker ${facts.pockerCommit ?? '?'}${facts.pockerDirty ? ' (dirty)' : ''}; ${facts.podman ?? 'podman: not installed'}${facts.podman ? `, ${facts.conmon}, ${facts.crun}, ${facts.runc}` : ''}`);
for (const p of results.podman) {
  if (p.error) out.push(`  ${p.key}: not measured: ${p.error}`);
  else {
    out.push(`  ${p.key}: ${p.invocation.join(' ').replaceAll(TMP, 'TMP').replace(/\/proc\/\d+\//, '/proc/HELPER/')}`);
    for (const w of p.workarounds) out.push(`    because of "${w.error}": ${w.fix}`);
  }
}
if (results.podmanError) out.push(`podman not measured: ${results.podmanError}`);
out.push('');
out.push(`monitor memory per detached container (mean of ${opts.count}, KiB; pocker: pocker-init, podman: conmon, podman's per-container monitor)`);
out.push(`  ${'monitor'.padEnd(16)} VmRSS  RssAnon  RssFile  RssShmem  shared(File+Shmem)    Pss`);
for (const m of Object.values(results.memory)) {
  out.push(`  ${m.monitor.padEnd(16)}${String(m.rssKiB).padStart(6)}${String(m.anonKiB).padStart(9)}${String(m.fileKiB).padStart(9)}${String(m.shmemKiB).padStart(10)}${String(m.sharedKiB).padStart(20)}${String(m.pssKiB).padStart(7)}`);
}
out.push('');
out.push(`run -d sleep 60, then rm -f (median of ${opts.runs}, ms)`);
out.push(`  ${'tool'.padEnd(14)}  run -d    rm -f    both   (min run -d / rm -f)`);
for (const [tool, l] of Object.entries(results.latency)) {
  out.push(`  ${tool.padEnd(14)}${String(l.runMs).padStart(8)}${String(l.rmMs).padStart(9)}${String(l.totalMs).padStart(8)}   (${l.runMinMs} / ${l.rmMinMs})`);
}
if (Object.keys(results.ratios).length) {
  out.push('');
  out.push('pocker ÷ podman (below 1: pocker smaller / faster)');
  out.push(`  ${'vs'.padEnd(14)}   VmRSS    Pss   run -d   rm -f    both`);
  for (const [tool, r] of Object.entries(results.ratios)) {
    out.push(`  ${tool.padEnd(14)}${[r.rss, r.pss, r.run, r.rm, r.both].map((x, k) => String(x ?? '—').padStart(k === 0 ? 8 : k === 1 ? 7 : 8)).join('')}`);
  }
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
