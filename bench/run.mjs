#!/usr/bin/env node
// pocker start-up benchmark: `pocker run --rm` (CLI), run() from a warm Node process, crun, runc,
// bubblewrap and `podman run --rm` (with crun and with runc), side by side on one minimal busybox
// rootfs, in one run.
//
//   npm run bench [-- --runs 50 --count 100 --workers 2 --rounds 3 --warmup 3 --only cli,run,crun]
//
// Must run as root (runc, crun and pocker create namespaces and cgroups). Needs `npx tsc -p
// tsconfig.json` (dist/) and the native addon (build/Release) to be built first. See README.md.
//
// Everything it creates lives in one temp dir (rootfs, OCI bundles, runc/crun state, pocker root)
// or under the `pocker-bench` cgroup parent, and is removed at the end (also on SIGINT/SIGTERM).
// It only ever kills processes it started itself.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CGROUP_PARENT, baseOciConfig, buildRootfs, cgroupFacts, cgroupHierarchies, cgroupTasks, childCgroups, fmt, pad,
  quantile, r2, removeCgroupDir, sh, summarize, table, versionOf,
} from './common.mjs';
import { IMAGE as PODMAN_IMAGE, podmanVersion, setupPodman } from './podman.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// options

const USAGE = `usage: node bench/run.mjs [options]
  --runs N      sequential start→/bin/true→exit runs per runtime (default 50)
  --warmup N    untimed runs per runtime before measuring (default 3)
  --count N     containers per throughput round (default 100)
  --workers N   containers in parallel during a throughput round (default 2)
  --rounds N    throughput rounds per runtime, interleaved (default 3; the median is reported)
  --only LIST   comma-separated subset of: ${'TARGET_KEYS'}
  --no-json     do not write bench/results/<date>.json`;

function parseArgs(argv) {
  const o = { runs: 50, warmup: 3, count: 100, workers: 2, rounds: 3, only: null, json: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) die(`${flag} needs a value\n${usage()}`);
      return v;
    };
    const int = (min) => {
      const v = val();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) die(`${flag}: expected an integer ≥ ${min}, got ${v}`);
      return n;
    };
    switch (flag) {
      case '--runs': o.runs = int(1); break;
      case '--warmup': o.warmup = int(0); break;
      case '--count': o.count = int(1); break;
      case '--workers': o.workers = int(1); break;
      case '--rounds': o.rounds = int(1); break;
      case '--only': o.only = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--no-json': o.json = false; break;
      case '-h': case '--help': process.stdout.write(usage() + '\n'); process.exit(0); break;
      default: die(`unknown option ${a}\n${usage()}`);
    }
  }
  return o;
}

function usage() {
  return USAGE.replace('TARGET_KEYS', TARGET_DEFS.map((t) => t.key).join(','));
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// process bookkeeping: every child this script starts, so that it can kill exactly those

const children = new Set();
const liveContainers = new Set();
let cleanupState = null; // filled in main(); read by cleanup()

function now() {
  return process.hrtime.bigint();
}

const ms = (t0, t1) => Number(t1 - t0) / 1e6;

/** Spawns argv with stdin/stdout on /dev/null and stderr piped; resolves with the time from the
 * spawn() call to the 'exit' event, the exit status and stderr (collected after 'close'). */
function timedSpawn(argv, env) {
  return new Promise((resolveP) => {
    const t0 = now();
    let t1 = null;
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    } catch (err) {
      resolveP({ ms: NaN, code: null, signal: null, stderr: String(err?.message ?? err) });
      return;
    }
    children.add(child);
    const errChunks = [];
    let spawnError = null;
    child.stderr.on('data', (b) => errChunks.push(b));
    child.on('error', (err) => { spawnError = err; });
    child.on('exit', () => { t1 = now(); });
    child.on('close', (code, signal) => {
      children.delete(child);
      const stderr = Buffer.concat(errChunks).toString('utf8').trim();
      resolveP({
        ms: t1 === null ? NaN : ms(t0, t1),
        code: spawnError ? null : code,
        signal,
        stderr: spawnError ? `${spawnError.message}${stderr ? `\n${stderr}` : ''}` : stderr,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// machine facts

function machineFacts() {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const git = sh(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh(['git', '-C', REPO, 'status', '--porcelain']);
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    cgroup: cgroupFacts(),
    loadavg: loadavg().map((x) => r2(x)),
    node: process.version,
    pocker: `${pkg.version}${git.status === 0 ? ` (${git.stdout}${dirty.stdout ? ', dirty tree' : ''})` : ''}`,
    runc: versionOf(['runc', '--version']),
    crun: versionOf(['crun', '--version']),
    bwrap: versionOf(['bwrap', '--version']),
    podman: podmanVersion(),
    conmon: versionOf(['conmon', '--version']),
  };
}

// ---------------------------------------------------------------------------------------------
// OCI bundles for runc and crun: one per container (unique id and cgroupsPath), written before the
// timed window.

function makeBundle(tmp, cfg, id) {
  const dir = join(tmp, 'bundles', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, linux: { ...cfg.linux, cgroupsPath: `/${CGROUP_PARENT}/${id}` } }));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// crun on a hybrid cgroup host
//
// crun ≤ 1.x refuses hybrid hosts whose cgroup2 mount holds any controller ("cgroups in hybrid mode
// not supported, drop all controllers from cgroupv2"), even though it would only use the v1
// hierarchies. When that happens, crun is run inside one private mount namespace where an empty
// file hides /sys/fs/cgroup/unified/cgroup.controllers (the host is not touched; crun still
// creates real v1 cgroups). Entering it costs one extra `nsenter` exec per crun run, which is
// measured separately as the `nsenter /bin/true` reference.

async function startCrunNamespace(tmp, unifiedMount) {
  const empty = join(tmp, 'empty-controllers');
  writeFileSync(empty, '');
  const script = `mount --bind "$1" "$2" && echo ready && exec sleep 2147483647`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', empty, join(unifiedMount, 'cgroup.controllers')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const ok = await new Promise((res) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => { out += b; if (out.includes('ready')) res(true); });
    child.stderr.on('data', (b) => { err += b; });
    child.on('exit', () => res(new Error(`unshare helper exited: ${err.trim()}`)));
    child.on('error', (e) => res(e));
  });
  if (ok !== true) throw ok;
  return child;
}

// ---------------------------------------------------------------------------------------------
// targets

const TARGET_DEFS = [
  { key: 'cli', label: 'pocker run --rm (CLI)' },
  { key: 'run', label: 'run() warm process' },
  { key: 'crun', label: 'crun run' },
  { key: 'runc', label: 'runc run' },
  { key: 'bwrap', label: 'bwrap --unshare-all' },
  { key: 'podman-crun', label: 'podman run --rm (crun)' },
  { key: 'podman-runc', label: 'podman run --rm (runc)' },
  { key: 'node', label: 'node -e 0 (reference)' },
  { key: 'version', label: 'pocker --version (reference)' },
  { key: 'spawn', label: 'spawn /bin/true (reference)' },
  { key: 'nsenter', label: 'nsenter /bin/true (reference)' },
];

function makeTargets(ctx) {
  const { tmp, rootfs, pockerRoot, pocker, ociCfg } = ctx;
  let seq = 0;
  const ociId = (rt) => `pb${process.pid}-${rt}-${++seq}`;
  const ociTarget = (rt) => ({
    // prepare() runs outside the timed window and returns what one run needs.
    prepare() {
      const id = ociId(rt);
      return { id, bundle: makeBundle(tmp, ociCfg, id) };
    },
    async once(p) {
      const argv = [rt, '--root', join(tmp, `${rt}-state`), 'run', '--bundle', p.bundle, p.id];
      const full = rt === 'crun' && ctx.crunNs ? ['nsenter', `--mount=/proc/${ctx.crunNs.pid}/ns/mnt`, ...argv] : argv;
      return timedSpawn(full);
    },
    release(p) {
      rmSync(p.bundle, { recursive: true, force: true });
    },
  });
  const spawnTarget = (argv) => ({ prepare: () => null, once: () => timedSpawn(argv), release() {} });
  return {
    cli: spawnTarget([process.execPath, join(REPO, 'bin/pocker.cjs'), 'run', '--rm', '--rootfs', rootfs, '--root', pockerRoot,
      '--cgroup-parent', CGROUP_PARENT, '/bin/true']),
    run: {
      prepare: () => null,
      async once() {
        const t0 = now();
        let c;
        try {
          c = await pocker.run({ rootfs, cmd: ['/bin/true'], stdio: 'ignore', root: pockerRoot, cgroupParent: CGROUP_PARENT, rm: true });
        } catch (err) {
          return { ms: NaN, code: null, signal: null, stderr: describeError(err) };
        }
        liveContainers.add(c);
        try {
          const st = await c.wait();
          const t1 = now();
          return { ms: ms(t0, t1), code: st.exitCode, signal: st.signal, stderr: '' };
        } catch (err) {
          return { ms: NaN, code: null, signal: null, stderr: describeError(err) };
        } finally {
          liveContainers.delete(c);
        }
      },
      release() {},
    },
    crun: ociTarget('crun'),
    runc: ociTarget('runc'),
    bwrap: spawnTarget(['bwrap', '--unshare-all', '--dev', '/dev', '--proc', '/proc', '--bind', rootfs, '/', '/bin/true']),
    node: spawnTarget([process.execPath, '-e', '0']),
    // The CLI's own start-up (Node + commander, no runtime, no addon): splits the CLI's cost.
    version: spawnTarget([process.execPath, join(REPO, 'bin/pocker.cjs'), '--version']),
    spawn: spawnTarget(['/bin/true']),
    // ctx.podman[key] is set up after the preflight of the others (setupPodman).
    ...Object.fromEntries(['podman-crun', 'podman-runc'].map((key) => [key, {
      prepare: () => null,
      once: () => {
        const pm = ctx.podman[key];
        return timedSpawn(pm.argv('run', '--rm', ...pm.runFlags, PODMAN_IMAGE, '/bin/true'), pm.env);
      },
      release() {},
    }])),
    nsenter: {
      prepare: () => null,
      once: () => timedSpawn(['nsenter', `--mount=/proc/${ctx.crunNs.pid}/ns/mnt`, '/bin/true']),
      release() {},
    },
  };
}

function describeError(err) {
  if (!(err instanceof Error)) return String(err);
  const e = /** @type {any} */ (err);
  const fields = ['code', 'step', 'syscall', 'path', 'errno'].filter((k) => e[k] !== undefined).map((k) => `${k}=${e[k]}`);
  return `${err.name}: ${err.message}${fields.length ? ` [${fields.join(' ')}]` : ''}`;
}

function failureText(res) {
  const how = res.signal ? `signal ${res.signal}` : `exit ${res.code}`;
  return `${how}${res.stderr ? `: ${res.stderr}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// measurements

/** One timed start→/bin/true→exit; null result means it failed (recorded on t). */
async function measureOnce(t) {
  const p = t.impl.prepare();
  try {
    const res = await t.impl.once(p);
    if (res.code !== 0 || !Number.isFinite(res.ms)) {
      t.failures.push(failureText(res));
      return null;
    }
    return res.ms;
  } finally {
    t.impl.release(p);
  }
}

function rotate(list, k) {
  const n = list.length;
  return list.map((_, i) => list[(i + k) % n]);
}

async function latencyPhase(targets, opts) {
  const total = opts.warmup + opts.runs;
  for (let i = 0; i < total; i++) {
    // Round-robin, starting with a different runtime each iteration.
    for (const t of rotate(targets, i % targets.length)) {
      if (t.disabled) continue;
      const v = await measureOnce(t);
      if (v === null) {
        if (t.failures.length >= 3) {
          t.disabled = `failed ${t.failures.length} times`;
          log(`  ${t.key}: disabled after repeated failures: ${t.failures[0]}`);
        }
        continue;
      }
      if (i >= opts.warmup) t.latency.push(v);
    }
    if ((i + 1) % 10 === 0 || i + 1 === total) log(`  latency: iteration ${i + 1}/${total}`);
  }
}

async function throughputRound(t, opts) {
  const preps = Array.from({ length: opts.count }, () => t.impl.prepare());
  let next = 0;
  let done = 0;
  let failed = 0;
  const t0 = now();
  const worker = async () => {
    while (next < preps.length) {
      const p = preps[next++];
      const res = await t.impl.once(p);
      if (res.code === 0) done++;
      else {
        failed++;
        if (t.failures.length < 20) t.failures.push(failureText(res));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, worker));
  const sec = ms(t0, now()) / 1000;
  for (const p of preps) t.impl.release(p);
  return { seconds: sec, ok: done, failed, perSec: done / sec };
}

async function throughputPhase(targets, opts) {
  for (let r = 0; r < opts.rounds; r++) {
    for (const t of rotate(targets, r % targets.length)) {
      if (t.disabled) continue;
      const res = await throughputRound(t, opts);
      t.throughput.push(res);
      log(`  throughput round ${r + 1}/${opts.rounds} ${t.key}: ${res.perSec.toFixed(1)} containers/s` +
        `${res.failed ? ` (${res.failed} failed)` : ''}`);
      if (res.failed > opts.count / 2) {
        t.disabled = `throughput round failed (${res.failed}/${opts.count})`;
        log(`  ${t.key}: disabled: ${t.failures[t.failures.length - 1]}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cleanup

/** Paths of the child cgroups present under <hierarchy>/pocker-bench. */
function snapshotBenchCgroups() {
  const out = new Set();
  for (const h of cgroupHierarchies()) for (const c of childCgroups(join(h, CGROUP_PARENT))) out.add(join(h, CGROUP_PARENT, c));
  return out;
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    const st = cleanupState;
    const report = { leftoverCgroups: [], podmanCgroups: [], removedParents: [], notes: [] };
    // 1. Containers of run() still alive (only after an interruption).
    for (const c of liveContainers) {
      try { c.kill('SIGKILL'); } catch { /* gone */ }
    }
    await Promise.race([Promise.allSettled([...liveContainers].map((c) => c.wait())), new Promise((r) => setTimeout(r, 2000))]);
    // 2. Processes this script spawned (runtimes), and wait for them. The crun namespace holder goes
    //    last: podman's crun store is only reachable through its namespace.
    const killAll = async (list) => {
      const exited = list.map((child) => new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', r);
        try { child.kill('SIGKILL'); } catch { r(); }
      }));
      await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 3000))]);
    };
    const nsHolder = st?.ctx?.crunNs ?? null;
    await killAll([...children].filter((c) => c !== nsHolder));
    // 2b. Podman: every container (and conmon) of its stores, its images and mounts.
    for (const pm of st?.podmans ?? []) pm.cleanup();
    await killAll([...children]);
    if (st?.tmp) {
      // 3. runc/crun containers left in our state dirs (interrupted runs).
      for (const rt of ['runc', 'crun']) {
        const stateDir = join(st.tmp, `${rt}-state`);
        if (!existsSync(stateDir)) continue;
        const list = sh([rt, '--root', stateDir, 'list', '-q']);
        for (const id of list.status === 0 ? list.stdout.split('\n').filter(Boolean) : []) {
          sh([rt, '--root', stateDir, 'delete', '--force', id]);
          report.notes.push(`deleted leftover ${rt} container ${id}`);
        }
      }
    }
    // 4. cgroups this run created under pocker-bench (anything not there before it started).
    if (st?.cgroupsBefore) {
      for (const key of snapshotBenchCgroups()) {
        if (st.cgroupsBefore.has(key)) continue;
        // Tasks still in a cgroup this run created belong to a container this run started (its
        // runtime was killed above): kill them so that the cgroup can go.
        const pids = cgroupTasks(key);
        for (const pid of pids) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
        const removed = await removeCgroupDir(key);
        // Podman (cgroupfs) puts every conmon in <parent>/conmon and never removes that cgroup.
        if (st.podmans?.length && key.endsWith(`/${CGROUP_PARENT}/conmon`) && !pids.length && removed) {
          report.podmanCgroups.push(key);
          continue;
        }
        report.leftoverCgroups.push(`${key}${pids.length ? ` (${pids.length} task(s) killed)` : ''}${removed ? '' : ' (could not be removed)'}`);
      }
      for (const h of cgroupHierarchies()) {
        const parent = join(h, CGROUP_PARENT);
        if (!existsSync(parent)) continue;
        if (childCgroups(parent).length === 0 && (await removeCgroupDir(parent))) report.removedParents.push(parent);
      }
    }
    // 5. The temp dir (rootfs, bundles, state dirs, pocker root).
    if (st?.tmp) {
      try {
        rmSync(st.tmp, { recursive: true, force: true });
      } catch (err) {
        report.notes.push(`could not remove ${st.tmp}: ${err.message}`);
      }
    }
    return report;
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, cleaning up…\n`);
    cleanup()
      .then((r) => {
        if (r.leftoverCgroups.length) process.stderr.write(`bench: removed cgroups: ${r.leftoverCgroups.join(', ')}\n`);
        for (const n of r.notes) process.stderr.write(`bench: ${n}\n`);
        if (r.removedParents.length) process.stderr.write(`bench: removed ${r.removedParents.length} empty ${CGROUP_PARENT} parent(s)\n`);
      })
      .finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// report

function log(s) {
  process.stderr.write(`${s}\n`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.only) {
    const bad = opts.only.filter((k) => !TARGET_DEFS.some((t) => t.key === k));
    if (bad.length) die(`--only: unknown target(s) ${bad.join(', ')}\n${usage()}`);
  }
  if (process.getuid?.() !== 0) die('must run as root (runc, crun and pocker create namespaces and cgroups)');
  const distIndex = join(REPO, 'dist/index.js');
  if (!existsSync(distIndex)) die(`${distIndex} is missing: run \`npx tsc -p tsconfig.json\` (and build the addon) first`);

  const t0Bench = now();
  const facts = machineFacts();
  log(`machine: nproc=${facts.nproc}, kernel ${facts.kernel}, cgroup ${facts.cgroup.version}` +
    `${facts.cgroup.mode ? ` (${facts.cgroup.mode})` : ''}, load ${facts.loadavg.join(' ')}, ${facts.cpu}`);

  const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-'));
  cleanupState = { tmp, cgroupsBefore: snapshotBenchCgroups(), podmans: [], ctx: null };
  const rootfs = join(tmp, 'rootfs');
  const pockerRoot = join(tmp, 'pocker-root');
  mkdirSync(pockerRoot);
  for (const rt of ['runc', 'crun']) mkdirSync(join(tmp, `${rt}-state`));
  const busybox = buildRootfs(rootfs);
  log(`rootfs: ${rootfs} (${busybox} + applets)`);

  const pocker = await import(pathToFileURL(distIndex).href);
  let ociCfg = null;
  const setupNotes = [];
  const ctx = { tmp, rootfs, pockerRoot, pocker, ociCfg: null, crunNs: null, podman: {} };
  cleanupState.ctx = ctx;
  const wanted = new Set(opts.only ?? TARGET_DEFS.map((t) => t.key).filter((k) => k !== 'nsenter'));
  if (wanted.has('crun') || wanted.has('runc')) {
    try {
      ociCfg = baseOciConfig(tmp);
      ctx.ociCfg = ociCfg;
    } catch (err) {
      setupNotes.push(`OCI bundle: ${err.message}`);
    }
  }
  const impls = makeTargets(ctx);
  const targets = TARGET_DEFS.filter((d) => wanted.has(d.key)).map((d) => ({
    ...d, impl: impls[d.key], latency: [], throughput: [], failures: [], disabled: null, note: null,
  }));

  // Preflight: one run each; the exact error is kept for anything that fails.
  log('preflight…');
  for (const t of targets) {
    if (t.key.startsWith('podman-')) continue; // below
    if ((t.key === 'crun' || t.key === 'runc') && !ociCfg) {
      t.disabled = 'no OCI bundle (runc spec failed)';
      continue;
    }
    let res = await runPreflight(t);
    if (t.key === 'crun' && res !== true && /hybrid mode not supported/.test(res) && facts.cgroup.unifiedMount) {
      try {
        ctx.crunNs = await startCrunNamespace(tmp, facts.cgroup.unifiedMount);
        t.note = `crun refuses this hybrid host as is ("${res.split('\n')[0]}"); it runs via nsenter into a private mount ` +
          'namespace where the cgroup2 cgroup.controllers file is hidden (v1 cgroups are still created). ' +
          'The nsenter exec is measured as its own reference row.';
        log(`  crun: ${t.note}`);
        res = await runPreflight(t);
        if (!targets.some((x) => x.key === 'nsenter')) {
          const d = TARGET_DEFS.find((x) => x.key === 'nsenter');
          targets.push({ ...d, impl: impls.nsenter, latency: [], throughput: [], failures: [], disabled: null, note: null, latencyOnly: true });
        }
      } catch (err) {
        res = `${res}\n(workaround failed: ${err.message})`;
      }
    }
    if (res !== true) {
      t.disabled = 'preflight failed';
      t.failures.push(res);
      log(`  ${t.key}: FAILED: ${res}`);
    }
  }
  // Podman: one store per runtime, on an image imported from a tarball of the same rootfs. Its probe
  // container is the preflight; the workarounds it needed on this host are kept as the row's note.
  const podmanTargets = targets.filter((t) => t.key.startsWith('podman-'));
  const podmanSetups = {};
  if (podmanTargets.length) {
    const tar = join(tmp, 'rootfs.tar');
    const tr = sh(['tar', '-C', rootfs, '-cf', tar, '.']);
    for (const t of podmanTargets) {
      if (!facts.podman) { t.disabled = 'podman is not installed'; continue; }
      if (tr.status !== 0) { t.disabled = `tar: ${tr.stderr}`; continue; }
      const runtime = t.key.slice('podman-'.length);
      const pm = await setupPodman({
        dir: join(tmp, `p${runtime[0]}`), // short: podman refuses a runroot over 50 characters
        tar,
        runtime,
        cgroupParent: CGROUP_PARENT,
        hybridNamespace: async () => {
          if (!facts.cgroup.unifiedMount) throw new Error('no cgroup2 mount to hide');
          ctx.crunNs ??= await startCrunNamespace(tmp, facts.cgroup.unifiedMount);
          return ctx.crunNs.pid;
        },
      });
      ctx.podman[t.key] = pm;
      podmanSetups[t.key] = { containersConf: pm.containersConf, workarounds: pm.workarounds, error: pm.error };
      cleanupState.podmans.push(pm);
      if (pm.error) {
        t.disabled = 'preflight failed';
        t.failures.push(pm.error);
        log(`  ${t.key}: FAILED: ${pm.error}`);
        continue;
      }
      t.note = `${pm.argv('run', '--rm', ...pm.runFlags, PODMAN_IMAGE, '/bin/true').join(' ').replaceAll(tmp, 'TMP').replace(/\/proc\/\d+\//, '/proc/HELPER/')}` +
        pm.workarounds.map((w) => `; because of "${w.error}": ${w.fix}`).join('');
      log(`  ${t.key}: ${t.note}`);
      if (pm.nsPid && !targets.some((x) => x.key === 'nsenter')) {
        const d = TARGET_DEFS.find((x) => x.key === 'nsenter');
        targets.push({ ...d, impl: impls.nsenter, latency: [], throughput: [], failures: [], disabled: null, note: null, latencyOnly: true });
      }
    }
  }
  for (const t of targets) if (t.key === 'nsenter' && !ctx.crunNs) t.disabled = 'only used with the crun hybrid-cgroup workaround';

  const measured = targets.filter((t) => !t.disabled);
  log(`latency: ${opts.runs} runs (+${opts.warmup} warm-up) per runtime, round-robin: ${measured.map((t) => t.key).join(', ')}`);
  await latencyPhase(measured, opts);

  const tpTargets = measured.filter((t) => !t.latencyOnly && !t.disabled);
  log(`throughput: ${opts.rounds} round(s) of ${opts.count} containers, ${opts.workers} in parallel, per runtime`);
  await throughputPhase(tpTargets, opts);

  // With --rm / rm: true, pocker should leave nothing in its state root.
  const leftInRoot = [];
  try {
    for (const e of readdirSync(join(pockerRoot, 'containers'))) leftInRoot.push(e);
  } catch { /* no containers/ dir at all */ }

  const cleanupReport = await cleanup();
  cleanupState = null;
  facts.loadavgEnd = loadavg().map((x) => r2(x));
  facts.durationSec = r2(ms(t0Bench, now()) / 1000);

  // ----- results
  const results = {};
  for (const t of targets) {
    const lat = summarize(t.latency);
    const tp = t.throughput.map((x) => x.perSec).sort((a, b) => a - b);
    results[t.key] = {
      label: t.label,
      latencyMs: { n: lat.n, median: r2(lat.median), p90: r2(lat.p90), mean: r2(lat.mean), min: r2(lat.min), max: r2(lat.max) },
      throughput: t.throughput.length
        ? { containersPerSec: r2(quantile(tp, 0.5)), rounds: t.throughput.map((x) => ({ perSec: r2(x.perSec), seconds: r2(x.seconds), ok: x.ok, failed: x.failed })) }
        : null,
      ...(t.disabled ? { disabled: t.disabled } : {}),
      ...(t.failures.length ? { failures: t.failures.slice(0, 5), failureCount: t.failures.length } : {}),
      ...(t.note ? { note: t.note } : {}),
    };
  }
  const med = (k) => results[k]?.latencyMs.median ?? null;
  const cps = (k) => results[k]?.throughput?.containersPerSec ?? null;
  const ratios = {
    runMedianMs: { value: med('run'), target: '≤ 5 ms', pass: med('run') !== null ? med('run') <= 5 : null },
    runVsCrunThroughput: {
      value: cps('run') !== null && cps('crun') ? r2(cps('run') / cps('crun')) : null,
      target: '≥ 3×',
      pass: cps('run') !== null && cps('crun') ? cps('run') / cps('crun') >= 3 : null,
    },
    cliMinusNodeMs: {
      value: med('cli') !== null && med('node') !== null ? r2(med('cli') - med('node')) : null,
      target: '≤ 10 ms',
      pass: med('cli') !== null && med('node') !== null ? med('cli') - med('node') <= 10 : null,
    },
  };

  // pocker ÷ podman, for each podman row: latency medians (below 1: pocker faster) and
  // containers/s (above 1: pocker faster).
  const div = (a, b) => (a !== null && b ? r2(a / b) : null);
  ratios.vsPodman = Object.fromEntries(['podman-crun', 'podman-runc'].filter((k) => med(k) !== null).map((k) => [k, {
    cliLatency: div(med('cli'), med(k)),
    runLatency: div(med('run'), med(k)),
    cliThroughput: div(cps('cli'), cps(k)),
    runThroughput: div(cps('run'), cps(k)),
  }]));

  const notes = [...setupNotes];
  for (const t of targets) {
    if (t.note) notes.push(`${t.key}: ${t.note}`);
    if (t.failures.length) notes.push(`${t.key}: ${t.failures.length} failure(s); first: ${t.failures[0]}`);
  }
  // crun's latency without the nsenter exec of the hybrid-cgroup workaround (an estimate).
  if (ctx.crunNs && med('crun') !== null && med('nsenter') !== null && med('spawn') !== null) {
    const overhead = med('nsenter') - med('spawn');
    results.crun.latencyMs.medianWithoutNsenter = r2(med('crun') - overhead);
    notes.push(`crun: the nsenter hop costs ≈ ${fmt(overhead)} ms (nsenter /bin/true − spawn /bin/true medians); ` +
      `crun's median without it ≈ ${fmt(med('crun') - overhead)} ms`);
  }
  if (ctx.podman['podman-crun']?.nsPid && med('podman-crun') !== null && med('nsenter') !== null && med('spawn') !== null) {
    const overhead = med('nsenter') - med('spawn');
    results['podman-crun'].latencyMs.medianWithoutNsenter = r2(med('podman-crun') - overhead);
    notes.push(`podman-crun: every podman command pays the same nsenter hop (≈ ${fmt(overhead)} ms); its median without it ≈ ${fmt(med('podman-crun') - overhead)} ms`);
  }

  const out = [];
  out.push('');
  out.push(`pocker bench — ${facts.date}`);
  out.push(`machine: nproc ${facts.nproc} (${facts.cpu}), kernel ${facts.kernel}, cgroup ${facts.cgroup.version}` +
    `${facts.cgroup.mode ? ` ${facts.cgroup.mode}` : ''}${facts.cgroup.unifiedControllers ? ` (cgroup2 controllers: ${facts.cgroup.unifiedControllers})` : ''}, ` +
    `load ${facts.loadavg.join(' ')} at start, ${facts.loadavgEnd.join(' ')} at end (${Math.round(facts.durationSec)} s), node ${facts.node}`);
  out.push(`versions: pocker ${facts.pocker}; ${facts.runc?.replace(/\s+/g, ' ') ?? 'runc: n/a'}; ${facts.crun ?? 'crun: n/a'}; ${facts.bwrap ?? 'bwrap: n/a'}; ${facts.podman ?? 'podman: n/a'}${facts.podman ? ` (${facts.conmon})` : ''}`);
  out.push(`latency: ${opts.runs} sequential runs each (+${opts.warmup} warm-up), round-robin; throughput: ${opts.count} containers × ${opts.rounds} round(s), ${opts.workers} workers, median round`);
  out.push('');
  const rows = targets.map((t) => {
    const r = results[t.key];
    return [
      r.label,
      fmt(r.latencyMs.median), fmt(r.latencyMs.p90), fmt(r.latencyMs.mean),
      r.throughput ? fmt(r.throughput.containersPerSec, 1) : '—',
      t.disabled && !r.latencyMs.n ? `FAILED/skipped` : (t.failures.length ? `${t.failures.length} failure(s)` : ''),
    ];
  });
  out.push(table(rows, ['runtime', 'median ms', 'p90 ms', 'mean ms', `containers/s (${opts.workers}×)`, '']));
  out.push('');
  const mark = (p) => (p === null ? 'n/a' : p ? 'PASS' : 'MISS');
  out.push('targets:');
  out.push(`  run() median                    ${fmt(ratios.runMedianMs.value)} ms   (target ≤ 5 ms)   ${mark(ratios.runMedianMs.pass)}`);
  out.push(`  run() c/s ÷ crun c/s            ${fmt(ratios.runVsCrunThroughput.value)}×     (target ≥ 3×)     ${mark(ratios.runVsCrunThroughput.pass)}`);
  out.push(`  CLI median − node -e 0 median   ${fmt(ratios.cliMinusNodeMs.value)} ms   (target ≤ 10 ms)  ${mark(ratios.cliMinusNodeMs.pass)}`);
  const vs = Object.entries(ratios.vsPodman);
  if (vs.length) {
    out.push('');
    out.push('pocker ÷ podman (latency: below 1 = pocker faster; containers/s: above 1 = pocker faster):');
    for (const [k, v] of vs) {
      out.push(`  ${pad(results[k].label, 24)} latency: CLI ${fmt(v.cliLatency)}, run() ${fmt(v.runLatency)};  containers/s: CLI ${fmt(v.cliThroughput)}, run() ${fmt(v.runThroughput)}`);
    }
  }
  if (cleanupReport.podmanCgroups.length) notes.push(`removed podman's shared conmon cgroup under ${CGROUP_PARENT} (${cleanupReport.podmanCgroups.length} hierarchies)`);
  if (cleanupReport.leftoverCgroups.length) {
    notes.push(`cgroups left under ${CGROUP_PARENT} after the runs (removed by the bench): ${cleanupReport.leftoverCgroups.join(', ')}`);
  }
  notes.push(...cleanupReport.notes);
  if (leftInRoot.length) notes.push(`pocker left ${leftInRoot.length} container dir(s) in its --root despite --rm (removed by the bench), e.g. ${leftInRoot[0]}`);
  if (notes.length) {
    out.push('');
    out.push('notes:');
    for (const n of notes) out.push(`  - ${n}`);
  }
  process.stdout.write(out.join('\n') + '\n');

  if (opts.json) {
    const dir = join(REPO, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${facts.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, JSON.stringify({ machine: facts, options: opts, results, ratios, podman: podmanSetups, notes, cleanup: cleanupReport }, null, 2) + '\n');
    process.stdout.write(`\nJSON: ${file}\n`);
  }
  const anyFailed = targets.some((t) => t.failures.length && ['cli', 'run'].includes(t.key));
  process.exitCode = anyFailed ? 1 : 0;
}

async function runPreflight(t) {
  const p = t.impl.prepare();
  try {
    const res = await t.impl.once(p);
    return res.code === 0 && Number.isFinite(res.ms) ? true : failureText(res);
  } finally {
    t.impl.release(p);
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  await cleanup().catch(() => {});
  process.exit(1);
});
