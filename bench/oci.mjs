#!/usr/bin/env node
// OCI lifecycle benchmark: `create` + `start` + `delete` of one container (and the whole `run` when
// the runtime has it) on the same OCI bundle, for runc, crun and a runc-compatible pocker runtime.
//
//   npm run bench:oci [-- --pocker PATH --runs 20 --warmup 2 --only runc,crun,pocker --no-run --no-json]
//
// The bundle: the busybox rootfs of bench/run.mjs and a config.json from `runc spec`, edited
// (args /bin/true, no terminal, pocker's namespaces, cgroupsPath /pocker-bench/oci-<pid>). Each
// verb is one exec of `RUNTIME --root <tmp>/state-<key> VERB …`, timed from spawn() to its exit;
// between `start` and `delete` the bench waits (untimed) for the container to stop: the pid from
// --pid-file is polled in /proc, then `state` until it says "stopped" (no fixed sleeps). Runtimes
// take turns (round-robin, a different one first each iteration); medians and p90 of --runs
// iterations after --warmup untimed ones; ratios are to runc's medians.
//
// crun 1.x refuses a hybrid cgroup host whose cgroup2 mount lists a controller: as in bench/run.mjs,
// it then runs through `nsenter` into one private mount namespace where that file is hidden, and the
// extra exec is measured as the `nsenter /bin/true` reference (subtracted in crun's "without hop"
// estimate, once per verb).
//
// Must run as root. Everything it creates lives in one temp dir or in the cgroup
// pocker-bench/oci-<pid> (of every hierarchy), and is removed at the end (also on SIGINT/SIGTERM).
// It only kills processes it started (and containers of its own state dirs).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CGROUP_PARENT, baseOciConfig, buildRootfs, cgroupFacts, cgroupHierarchies, cgroupTasks, childCgroups, fmt, r2,
  removeCgroupDir, sh, summarize, table, versionOf,
} from './common.mjs';
import { startHybridNamespace } from './podman.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERB_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const USAGE = `usage: node bench/oci.mjs [options]
  --pocker PATH   a runc-compatible pocker runtime (pocker-init) to measure next to runc and crun
  --runs N        timed iterations per runtime (default 20)
  --warmup N      untimed iterations per runtime first (default 2)
  --only LIST     comma-separated subset of runc,crun,pocker
  --no-run        do not time the \`run\` verb
  --no-json       do not write bench/results/oci-<date>.json`;

function die(msg) {
  process.stderr.write(`bench:oci: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { pocker: null, runs: 20, warmup: 2, only: null, run: true, json: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) die(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const int = (min) => {
      const v = val();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) die(`${flag}: expected an integer ≥ ${min}, got ${v}`);
      return n;
    };
    switch (flag) {
      case '--pocker': o.pocker = resolve(val()); break;
      case '--runs': o.runs = int(1); break;
      case '--warmup': o.warmup = int(0); break;
      case '--only': o.only = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--no-run': o.run = false; break;
      case '--no-json': o.json = false; break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: die(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.only?.some((k) => !['runc', 'crun', 'pocker'].includes(k))) die(`--only: expected a subset of runc,crun,pocker`);
  if (o.only?.includes('pocker') && !o.pocker) die('--only pocker needs --pocker PATH');
  return o;
}

const log = (s) => process.stderr.write(`${s}\n`);
const now = () => process.hrtime.bigint();
const ms = (t0, t1) => Number(t1 - t0) / 1e6;

// ---------------------------------------------------------------------------------------------
// processes: every child this script starts, so that cleanup kills exactly those

const children = new Set();

/**
 * Spawns argv with stdin and stdout on /dev/null and stderr into `errFile`; resolves with the time
 * from spawn() to the process's exit (not to 'close': a created container keeps the runtime's
 * stdio), its status and stderr. A runtime that takes longer than VERB_TIMEOUT_MS is killed.
 */
function timedExec(argv, errFile) {
  return new Promise((resolveP) => {
    const errFd = openSync(errFile, 'w');
    const t0 = now();
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', errFd] });
    } catch (err) {
      closeSync(errFd);
      resolveP({ ms: NaN, code: null, signal: null, stderr: String(err?.message ?? err) });
      return;
    }
    closeSync(errFd);
    children.add(child);
    let spawnError = null;
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, VERB_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      const t1 = now();
      clearTimeout(timer);
      children.delete(child);
      let stderr = '';
      try { stderr = readFileSync(errFile, 'utf8').trim(); } catch { /* none */ }
      if (spawnError) stderr = `${spawnError.message}${stderr ? `\n${stderr}` : ''}`;
      resolveP({ ms: ms(t0, t1), code: spawnError ? null : code, signal, stderr });
    });
    child.on('error', (err) => {
      spawnError = err;
      if (child.pid !== undefined) return; // the process runs: 'exit' follows
      // spawn failed (ENOENT…): no 'exit' comes.
      clearTimeout(timer);
      children.delete(child);
      resolveP({ ms: NaN, code: null, signal: null, stderr: err.message });
    });
  });
}

const failureText = (r) => `${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}${r.stderr ? `: ${r.stderr.split('\n').slice(-3).join(' | ')}` : ''}`;

/** Resolves when `pid` has exited (gone from /proc, or a zombie), polling /proc/<pid>/stat. */
async function pidExited(pid, deadline) {
  for (;;) {
    let st;
    try { st = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return true; }
    if (st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z') return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) die('must run as root (the runtimes create namespaces and cgroups)');
  const t0Bench = now();
  const cg = cgroupFacts();
  const facts = {
    date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', kernel: release(),
    cgroup: cg, loadavg: loadavg().map(r2), node: process.version,
  };

  const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-oci-'));
  const cgName = `oci-${process.pid}`;
  const parentExisted = new Set(cgroupHierarchies().filter((h) => existsSync(join(h, CGROUP_PARENT))));
  let holder = null; // the process holding the hybrid-cgroup mount namespace
  const runtimes = [];

  let cleaning = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      const notes = [];
      const exited = [...children].filter((c) => c !== holder).map((c) => new Promise((r) => {
        if (c.exitCode !== null || c.signalCode !== null) return r();
        c.once('exit', r);
        try { c.kill('SIGKILL'); } catch { r(); }
      }));
      await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 3000))]);
      // Containers left in our state dirs (an interrupted or failed iteration).
      for (const rt of runtimes) {
        if (!existsSync(rt.state)) continue;
        const list = sh(rt.argv('list', '-q'));
        for (const id of list.status === 0 ? list.stdout.split('\n').filter(Boolean) : []) {
          const r = sh(rt.argv('delete', '--force', id));
          notes.push(`${rt.key}: deleted leftover container ${id}${r.status === 0 ? '' : ` (failed: ${r.stderr})`}`);
        }
      }
      if (holder) {
        try { holder.kill('SIGKILL'); } catch { /* gone */ }
      }
      for (const h of cgroupHierarchies()) {
        const parent = join(h, CGROUP_PARENT);
        const dir = join(parent, cgName);
        if (existsSync(dir)) {
          // Tasks still there belong to a container of this run whose runtime was killed.
          for (const pid of cgroupTasks(dir)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
          if (!(await removeCgroupDir(dir))) notes.push(`could not remove cgroup ${dir}`);
        }
        // The runtimes create the parent and leave it: remove it if this run created it and it is empty.
        if (!parentExisted.has(h) && existsSync(parent) && childCgroups(parent).length === 0) await removeCgroupDir(parent);
      }
      try { rmSync(tmp, { recursive: true, force: true }); } catch (err) { notes.push(`could not remove ${tmp}: ${err.message}`); }
      return notes;
    })();
    return cleaning;
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`\nbench:oci: ${sig}, cleaning up…`);
      cleanup().finally(() => process.exit(130));
    });
  }

  try {
    // The bundle: <tmp>/bundle/{config.json,rootfs}.
    const bundle = join(tmp, 'bundle');
    const busybox = buildRootfs(join(bundle, 'rootfs'));
    const cfg = baseOciConfig(tmp, 'rootfs');
    cfg.linux.cgroupsPath = `/${CGROUP_PARENT}/${cgName}`;
    writeFileSync(join(bundle, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
    log(`bundle: ${bundle} (${busybox}; /bin/true; cgroupsPath ${cfg.linux.cgroupsPath})`);

    const wanted = opts.only ?? ['runc', 'crun', ...(opts.pocker ? ['pocker'] : [])];
    const which = (name) => sh(['sh', '-c', `command -v ${name}`]).stdout || null;
    for (const key of wanted) {
      const bin = key === 'pocker' ? opts.pocker : which(key);
      const rt = {
        key, bin, state: join(tmp, `state-${key}`), prefix: [], seq: 0, disabled: null, runDisabled: opts.run ? null : 'not asked (--no-run)', note: null,
        samples: { create: [], start: [], delete: [], total: [], run: [], stop: [] }, failures: [],
        version: bin ? versionOf([bin, '--version'])?.replace(/\s+/g, ' ') ?? null : null,
        argv(...args) { return [...this.prefix, this.bin, '--root', this.state, ...args]; },
      };
      if (!bin || !existsSync(bin)) rt.disabled = `${key}: not found`;
      mkdirSync(rt.state, { recursive: true });
      runtimes.push(rt);
    }
    const errFile = join(tmp, 'stderr');
    const pidFile = (rt) => join(tmp, `pid-${rt.key}`);

    /** create + start + (untimed) wait for stopped + delete; returns { create, start, delete, stop } in ms, or a failure text. */
    const lifecycle = async (rt) => {
      const id = `pb-oci-${process.pid}-${rt.key}-${++rt.seq}`;
      rmSync(pidFile(rt), { force: true });
      const c = await timedExec(rt.argv('create', '--bundle', bundle, '--pid-file', pidFile(rt), id), errFile);
      if (c.code !== 0) return `create: ${failureText(c)}`;
      let pid;
      try { pid = Number(readFileSync(pidFile(rt), 'utf8').trim()); } catch (err) { pid = NaN; }
      if (!(pid > 0)) {
        sh(rt.argv('delete', '--force', id));
        return `create: no pid in --pid-file ${pidFile(rt)}`;
      }
      const s = await timedExec(rt.argv('start', id), errFile);
      if (s.code !== 0) {
        sh(rt.argv('delete', '--force', id));
        return `start: ${failureText(s)}`;
      }
      const tStart = now();
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      let stopped = await pidExited(pid, deadline);
      let status = null;
      while (stopped) {
        const st = sh(rt.argv('state', id));
        try { status = JSON.parse(st.stdout).status; } catch { status = `unparsable state (${failureText({ code: st.status, stderr: st.stderr })})`; break; }
        if (status === 'stopped') break;
        if (Date.now() > deadline) { stopped = false; break; }
        await new Promise((r) => setImmediate(r));
      }
      const stop = ms(tStart, now());
      if (status !== 'stopped') {
        sh(rt.argv('delete', '--force', id));
        return `the container did not stop within ${STOP_TIMEOUT_MS} ms (state: ${status ?? 'process still alive'})`;
      }
      const d = await timedExec(rt.argv('delete', id), errFile);
      if (d.code !== 0) {
        sh(rt.argv('delete', '--force', id));
        return `delete: ${failureText(d)}`;
      }
      return { create: c.ms, start: s.ms, delete: d.ms, stop };
    };
    const runOnce = async (rt) => {
      const id = `pb-oci-${process.pid}-${rt.key}-${++rt.seq}`;
      const r = await timedExec(rt.argv('run', '--bundle', bundle, id), errFile);
      if (r.code !== 0) {
        sh(rt.argv('delete', '--force', id));
        return `run: ${failureText(r)}`;
      }
      return r.ms;
    };
    const hopRef = { key: 'nsenter', samples: [] };

    // Preflight: one lifecycle (and one run) each; crun's hybrid-host refusal switches it to the hop.
    log('preflight…');
    for (const rt of runtimes.filter((r) => !r.disabled)) {
      let res = await lifecycle(rt);
      if (typeof res === 'string' && /hybrid mode not supported/.test(res) && cg.unifiedMount) {
        try {
          holder ??= await startHybridNamespace(tmp, cg.unifiedMount);
          children.add(holder);
          rt.prefix = ['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`];
          rt.note = `refuses this hybrid host as is ("${res.split('\n')[0]}"); runs via nsenter into a private mount namespace ` +
            'where the cgroup2 cgroup.controllers file is hidden (v1 cgroups are still created); one extra exec per verb';
          log(`  ${rt.key}: ${rt.note}`);
          res = await lifecycle(rt);
        } catch (err) {
          res = `${res} (hybrid-cgroup workaround failed: ${err.message})`;
        }
      }
      if (typeof res === 'string') {
        rt.disabled = res;
        log(`  ${rt.key}: FAILED: ${res}`);
        continue;
      }
      if (!rt.runDisabled) {
        const r = await runOnce(rt);
        if (typeof r === 'string') {
          rt.runDisabled = r;
          log(`  ${rt.key}: \`run\` not measured: ${r}`);
        }
      }
    }
    const active = runtimes.filter((r) => !r.disabled);
    if (!active.length) throw new Error('no runtime passed the preflight');

    // Measurements, round-robin.
    const total = opts.warmup + opts.runs;
    log(`measuring: ${opts.runs} iterations (+${opts.warmup} warm-up) of create+start+delete${opts.run ? ' and run' : ''}: ${active.map((r) => r.key).join(', ')}`);
    for (let i = 0; i < total; i++) {
      const order = active.map((_, k) => active[(k + i) % active.length]);
      for (const rt of order) {
        if (rt.disabled) continue;
        const res = await lifecycle(rt);
        if (typeof res === 'string') {
          rt.failures.push(res);
          if (rt.failures.length >= 3) { rt.disabled = `failed ${rt.failures.length} times`; log(`  ${rt.key}: disabled: ${res}`); }
        } else if (i >= opts.warmup) {
          for (const k of ['create', 'start', 'delete', 'stop']) rt.samples[k].push(res[k]);
          rt.samples.total.push(res.create + res.start + res.delete);
        }
        if (!rt.runDisabled) {
          const r = await runOnce(rt);
          if (typeof r === 'string') rt.failures.push(r);
          else if (i >= opts.warmup) rt.samples.run.push(r);
        }
      }
      if (holder) {
        const h = await timedExec(['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`, '/bin/true'], errFile);
        const t = await timedExec(['/bin/true'], errFile);
        if (i >= opts.warmup && h.code === 0 && t.code === 0) hopRef.samples.push(h.ms - t.ms);
      }
      if ((i + 1) % 5 === 0 || i + 1 === total) log(`  iteration ${i + 1}/${total}`);
    }

    // ----- results
    const pick = (x) => ({ n: x.n, median: r2(x.median), p90: r2(x.p90), mean: r2(x.mean), min: r2(x.min), max: r2(x.max) });
    const results = {};
    for (const rt of runtimes) {
      const s = Object.fromEntries(Object.entries(rt.samples).map(([k, v]) => [k, pick(summarize(v))]));
      results[rt.key] = {
        bin: rt.bin, version: rt.version, ...(rt.prefix.length ? { via: rt.prefix[0] } : {}),
        createMs: s.create, startMs: s.start, deleteMs: s.delete, lifecycleMs: s.total, runMs: rt.runDisabled ? null : s.run,
        untilStoppedMs: s.stop,
        ...(rt.disabled ? { disabled: rt.disabled } : {}), ...(rt.runDisabled ? { runNotMeasured: rt.runDisabled } : {}),
        ...(rt.failures.length ? { failures: rt.failures.slice(0, 5), failureCount: rt.failures.length } : {}),
        ...(rt.note ? { note: rt.note } : {}),
      };
    }
    const hop = summarize(hopRef.samples);
    if (holder && hop.median > 0) {
      for (const rt of runtimes.filter((r) => r.prefix.length && results[r.key].lifecycleMs.n)) {
        const res = results[rt.key];
        res.withoutHopEstimateMs = {
          lifecycle: r2(res.lifecycleMs.median - 3 * hop.median),
          ...(res.runMs?.n ? { run: r2(res.runMs.median - hop.median) } : {}),
        };
      }
    }
    const ratio = (k, field) => {
      const a = results[k]?.[field]?.median;
      const b = results.runc?.[field]?.median;
      return Number.isFinite(a) && Number.isFinite(b) && b > 0 && results[k][field].n ? r2(a / b) : null;
    };
    const ratios = Object.fromEntries(runtimes.filter((r) => r.key !== 'runc').map((r) => [r.key, {
      lifecycle: ratio(r.key, 'lifecycleMs'), create: ratio(r.key, 'createMs'), start: ratio(r.key, 'startMs'),
      delete: ratio(r.key, 'deleteMs'), run: ratio(r.key, 'runMs'),
    }]));
    facts.loadavgEnd = loadavg().map(r2);
    facts.durationSec = r2(ms(t0Bench, now()) / 1000);

    const out = ['', `pocker OCI lifecycle bench — ${facts.date}`,
      `machine: nproc ${facts.nproc} (${facts.cpu}), kernel ${facts.kernel}, cgroup ${cg.version}${cg.mode ? ` ${cg.mode}` : ''}, ` +
      `load ${facts.loadavg.join(' ')} at start, ${facts.loadavgEnd.join(' ')} at end (${Math.round(facts.durationSec)} s)`,
      `versions: ${runtimes.map((r) => `${r.key}: ${r.version ?? 'n/a'}`).join('; ')}`,
      `${opts.runs} iterations (+${opts.warmup} warm-up), round-robin; ms, spawn → exit of each runtime exec`, ''];
    const cell = (x) => (x?.n ? `${fmt(x.median)} / ${fmt(x.p90)}` : '—');
    const rows = runtimes.map((rt) => {
      const r = results[rt.key];
      const ra = ratios[rt.key];
      return [rt.key, cell(r.createMs), cell(r.startMs), cell(r.deleteMs), cell(r.lifecycleMs), cell(r.runMs),
        ra ? `${fmt(ra.lifecycle)}${ra.run !== null ? ` / ${fmt(ra.run)}` : ''}` : '1',
        r.disabled ? `FAILED: ${r.disabled}` : rt.failures.length ? `${rt.failures.length} failure(s)` : ''];
    });
    out.push(table(rows, ['runtime', 'create med/p90', 'start med/p90', 'delete med/p90', 'c+s+d med/p90', 'run med/p90', '÷ runc (c+s+d / run)', '']));
    if (hopRef.samples.length) out.push('', `nsenter hop (nsenter /bin/true − /bin/true): median ${fmt(hop.median)} ms, p90 ${fmt(hop.p90)} ms`);
    const notes = [];
    for (const rt of runtimes) {
      if (rt.note) notes.push(`${rt.key}: ${rt.note}`);
      const w = results[rt.key].withoutHopEstimateMs;
      if (w) notes.push(`${rt.key} without the hop (estimate): c+s+d ${fmt(w.lifecycle)} ms${w.run !== undefined ? `, run ${fmt(w.run)} ms` : ''}`);
      if (rt.runDisabled && opts.run) notes.push(`${rt.key}: run not measured: ${rt.runDisabled}`);
      if (rt.failures.length) notes.push(`${rt.key}: ${rt.failures.length} failure(s); first: ${rt.failures[0]}`);
    }
    const cleanupNotes = await cleanup();
    notes.push(...cleanupNotes);
    if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
    process.stdout.write(`${out.join('\n')}\n`);
    if (opts.json) {
      const dir = join(REPO, 'bench/results');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `oci-${facts.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
      writeFileSync(file, `${JSON.stringify({
        machine: facts, options: opts, bundle: { config: cfg, busybox }, results, ratiosToRunc: ratios,
        nsenterHopMs: hopRef.samples.length ? pick(hop) : null, notes,
      }, null, 2)}\n`);
      process.stdout.write(`\nJSON: ${file}\n`);
    }
    process.exitCode = runtimes.some((r) => r.disabled && !r.disabled.endsWith('not found')) ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().catch(async (err) => {
  log(`bench:oci: ${err?.stack ?? err}`);
  process.exit(1);
});
