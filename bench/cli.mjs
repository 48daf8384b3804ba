#!/usr/bin/env node
// The CLI's own start-up cost (issue 12: every command ≤ `node -e 0` + 10 ms), interleaved.
//
//   node bench/cli.mjs [--runs 25] [--base DIR] [--only node,version,ps,images,run,inspect,create,start,stop,rm,exec,logs] [--instructions | --faults] [--keep-ca-certs]
//
// With `run`, it also measures the container itself, to tell the CLI's own overhead from it: the
// same `host true` container started by run() in a warm process (the library, loaded once), whose
// CPU per container (its own share of the process, pocker-init and `true`) is the difference
// between a process that starts 3 + K containers and one that starts 3. The CLI's own overhead is
// then `run` − `node -e 0` − that.
//
// Each round runs every row once, in a rotated order, so a noisy machine hurts all rows alike;
// the medians are compared with the median of `node -e 0` from the same rounds. `--base DIR`
// adds the same rows for another checkout's bin/pocker.cjs (DIR holds bin/, dist/ and
// package.json; several: DIR,DIR), for a before/after in one run. `run` needs root (the built-in `host` image);
// it runs with POCKER_DEFAULT_NETWORK=none unless the environment sets it (no network set-up in the figure).
// `inspect` (root too) inspects a created, never started container. The container rows (root):
// `create` (of `host true`), `start` of a created container, `stop -t 0` of a running `sleep`, `rm`
// of a created container (each timed on a container made for it, untimed, by the same checkout),
// `exec true` in a running container and `logs` of one that printed 50 lines. `--instructions` counts the instructions the `node` process runs (valgrind's
// callgrind, `--runs` defaults to 2 there, the mean reported), a measure a busy machine does not move
// by more than a few per cent, where CPU and wall time swing by tens of milliseconds (`run` is left
// out there: valgrind 3.19 has no pidfd_open). `--faults` counts the page faults of each row (GNU
// time's %R: the node process and the children it waits for), 5 runs by default: as steady as
// instructions, and on the CI VMs (shadow paging) each fault costs ~10 µs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { timedRun } from './common.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const instructions = args.includes('--instructions');
const faults = args.includes('--faults');
const runs = Number(opt('--runs', instructions || faults ? (instructions ? '2' : '5') : '25'));
const bases = opt('--base', null)?.split(',') ?? [];
const only = new Set(opt('--only', 'node,version,ps,images,run,inspect,create,start,stop,rm,exec,logs').split(','));
process.env.POCKER_DEFAULT_NETWORK ??= 'none';
// Every Node process loads the certificates NODE_EXTRA_CA_CERTS names when it starts, before any
// script (a CA bundle: ~40-80 ms of OpenSSL here, in `node -e 0` as in every row, and its locks
// make each row's spread several times wider). It is not pocker's and cancels out of the
// differences, so the rows run without it unless `--keep-ca-certs`.
if (!args.includes('--keep-ca-certs') && process.env.NODE_EXTRA_CA_CERTS) {
  console.log(`(rows run without NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}: --keep-ca-certs keeps it)`);
  delete process.env.NODE_EXTRA_CA_CERTS;
}

const empty = mkdtempSync(join(tmpdir(), 'pocker-bench-empty-'));
// `run` makes the default cgroup parent (`pocker`) as a user's run does; the bench removes it at the
// end when it was not there before (it is empty then: every container ran with --rm).
const defaultParents = () => ['/sys/fs/cgroup/pocker', ...readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, 'pocker'))].filter((d) => existsSync(d));
const parentsBefore = new Set(defaultParents());
process.on('exit', () => {
  for (const d of defaultParents()) {
    if (parentsBefore.has(d)) continue;
    try {
      rmdirSync(d);
    } catch {
      // not empty: someone else's container is in it
    }
  }
});
const roots = [];
const rows = [];
// The roots whose containers are removed at the end (`pocker rm -f`, with the checkout that made them).
const containerRoots = [];
// The container's own cost (see the top): a script that starts 3 + K containers with run().
const CONTAINERS = 20;
let containerProbe;
if (only.has('node')) rows.push({ label: 'node -e 0', argv: ['-e', '0'] });
for (const [tag, dir] of [['', REPO], ...bases.map((b) => [`${b.split('/').pop()}: `, b])]) {
  const bin = join(dir, 'bin', 'pocker.cjs');
  if (only.has('version')) rows.push({ label: `${tag}pocker --version`, argv: [bin, '--version'] });
  if (only.has('ps')) rows.push({ label: `${tag}pocker ps (empty root)`, argv: [bin, 'ps', '--root', empty] });
  if (only.has('images')) rows.push({ label: `${tag}pocker images (empty root)`, argv: [bin, 'images', '--root', empty] });
  // Not under callgrind: valgrind 3.19 (Debian 12) fails pidfd_open with ENOSYS, and a run needs it.
  if (only.has('run') && process.getuid?.() === 0 && !instructions) {
    const root = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
    roots.push(root);
    rows.push({ label: `${tag}pocker run --rm host true`, argv: [bin, 'run', '--rm', '--root', root, 'host', 'true'] });
    if (dir === REPO) {
      const probeRoot = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
      roots.push(probeRoot);
      const probeDir = mkdtempSync(join(tmpdir(), 'pocker-bench-probe-'));
      roots.push(probeDir);
      const script = join(probeDir, 'containers.mjs');
      writeFileSync(script, [
        `const { run } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'index.js')).href)});`,
        'const n = 3 + Number(process.argv[2]);',
        "const network = process.env.POCKER_DEFAULT_NETWORK === 'none' ? { network: 'none' } : {};",
        'for (let i = 0; i < n; i++) await (await run({ image: \'host\', cmd: [\'true\'], stdio: \'ignore\', root: process.argv[3], rm: true, ...network })).wait();',
      ].join('\n'));
      containerProbe = { none: [script, '0', probeRoot], some: [script, String(CONTAINERS), probeRoot], cpu0: [], cpuK: [], ms0: [], msK: [] };
    }
  }
  if (only.has('inspect') && process.getuid?.() === 0) {
    const root = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
    roots.push(root);
    const made = spawnSync(process.execPath, [bin, 'create', '--root', root, '--name', 'b', 'host', 'true'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`pocker create failed: ${made.stderr}`);
    rows.push({ label: `${tag}pocker inspect (a container)`, argv: [bin, 'inspect', '--root', root, 'b'] });
  }
  if (process.getuid?.() === 0 && !instructions && ['create', 'start', 'stop', 'rm', 'exec', 'logs'].some((c) => only.has(c))) {
    const root = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
    roots.push(root);
    containerRoots.push({ bin, root });
    const pk = (...a) => {
      const r = spawnSync(process.execPath, [bin, '--root', root, ...a], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pocker ${a.join(' ')} failed: ${r.stderr}`);
      return r.stdout.trim();
    };
    // A container of its own for each timed start, stop and rm (made untimed, before it).
    const fresh = (...a) => () => pk(...a);
    if (only.has('create')) rows.push({ label: `${tag}pocker create host true`, argv: [bin, '--root', root, 'create', 'host', 'true'] });
    if (only.has('start')) rows.push({ label: `${tag}pocker start (a created one)`, argv: [bin, '--root', root, 'start'], prepare: fresh('create', 'host', 'true') });
    if (only.has('stop')) rows.push({ label: `${tag}pocker stop -t 0 (a running one)`, argv: [bin, '--root', root, 'stop', '-t', '0'], prepare: fresh('run', '-d', 'host', 'sleep', '600') });
    if (only.has('rm')) rows.push({ label: `${tag}pocker rm (a created one)`, argv: [bin, '--root', root, 'rm'], prepare: fresh('create', 'host', 'true') });
    if (only.has('exec') || only.has('logs')) pk('run', '-d', '--name', 'svc', 'host', 'sh', '-c', 'i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; exec sleep 600');
    if (only.has('exec')) rows.push({ label: `${tag}pocker exec true (a running one)`, argv: [bin, '--root', root, 'exec', 'svc', 'true'] });
    if (only.has('logs')) rows.push({ label: `${tag}pocker logs (50 lines)`, argv: [bin, '--root', root, 'logs', 'svc'] });
  }
}

/** The instructions of the node process (not its children), from callgrind's summary line. */
function countInstructions(argv) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...argv], { encoding: 'utf8' });
  const m = /Collected : (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`callgrind of ${argv.join(' ')} failed (${r.error?.message ?? r.status}): ${r.stderr?.slice(-500)}`);
  return Number(m[1]);
}

const once = (argv) => timedRun([process.execPath, ...argv]);
/** One timed run of row `r`: with a `prepare`, on what it made (untimed). */
const timeRow = (r) => (r.prepare ? once([...r.argv, r.prepare()]) : once(r.argv));
/** Removes every container the container rows made, then their roots. */
const removeContainers = () => {
  for (const { bin, root } of containerRoots) {
    const ids = spawnSync(process.execPath, [bin, '--root', root, 'ps', '-aq'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    if (ids.length) spawnSync(process.execPath, [bin, '--root', root, 'rm', '-f', ...ids], { stdio: 'ignore' });
  }
};

/** Removes the containers the container rows made, the empty root and every root. */
const cleanup = () => {
  removeContainers();
  rmSync(empty, { recursive: true, force: true });
  for (const root of roots) rmSync(root, { recursive: true, force: true });
};

/**
 * The counting modes (`--instructions`, `--faults`): `measure(row)` on each row `runs` times (after
 * one uncounted run with `warmUp`), the row's figure `pick`ed from them, printed by `format` beside
 * the runs' spread and the figure's excess over `node -e 0`; then the process ends.
 */
function reportCounts({ title, column, width, warmUp, measure, pick, format }) {
  try {
    const counts = rows.map((r) => {
      if (warmUp) measure(r);
      const xs = Array.from({ length: runs }, () => measure(r)).sort((a, b) => a - b);
      return { label: r.label, value: pick(xs), spread: xs.at(-1) - xs[0] };
    });
    const ref = counts.find((c) => c.label === 'node -e 0');
    console.log(title);
    console.log(`${'row'.padEnd(40)}${column.padStart(width)}${'spread'.padStart(8)}${'− node'.padStart(9)}`);
    for (const c of counts) {
      const d = ref && c !== ref ? `${c.value >= ref.value ? '+' : ''}${format(c.value - ref.value)}` : '';
      console.log(`${c.label.padEnd(40)}${format(c.value).padStart(width)}${format(c.spread).padStart(8)}${d.padStart(9)}`);
    }
  } finally {
    cleanup();
  }
  process.exit(0);
}

if (instructions) {
  reportCounts({
    title: `instructions of the node process (callgrind), mean of ${runs} runs, millions; Node ${process.version}`,
    column: 'M instr',
    width: 10,
    warmUp: false,
    measure: (r) => countInstructions(r.argv),
    pick: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
    format: (n) => (n / 1e6).toFixed(1),
  });
}

if (faults) {
  // Page faults (minor: a page first touched, or mapped from the page cache) of the node process
  // and the children it waited for (pocker-init, the container), by GNU time's %R. On a virtual
  // machine with shadow paging each costs ~10 µs (the CI VMs here: `node -e 0` takes ~1900), and
  // the count barely moves with the machine's load, where CPU and wall time swing by tens of ms.
  const faultsOf = (r) => {
    const argv = r.prepare ? [...r.argv, r.prepare()] : r.argv;
    const t = spawnSync('/usr/bin/time', ['-f', 'FAULTS %R', process.execPath, ...argv], { encoding: 'utf8' });
    const m = /FAULTS (\d+)\s*$/.exec(t.stderr ?? '');
    if (t.status !== 0 || !m) throw new Error(`${argv.join(' ')} (GNU time: apt-get install time) failed (${t.error?.message ?? t.status}): ${t.stderr?.slice(-500)}`);
    return Number(m[1]);
  };
  reportCounts({
    title: `minor page faults (the process and its waited-for children), median of ${runs} runs; Node ${process.version}`,
    column: 'faults',
    width: 8,
    warmUp: true, // page cache, code cache
    measure: faultsOf,
    pick: (xs) => xs[xs.length >> 1],
    format: String,
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  for (const r of rows) {
    r.times = [];
    await timeRow(r); // warm-up: page cache, code cache
  }
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < rows.length; j++) {
      const r = rows[(i + j) % rows.length];
      r.times.push(await timeRow(r));
    }
  }
  // The container's cost: fewer rounds (each starts 23 containers), interleaved the same way.
  if (containerProbe) {
    await once(containerProbe.some);
    for (let i = 0; i < Math.max(5, Math.ceil(runs / 4)); i++) {
      const a = await once(containerProbe.none);
      const b = await once(containerProbe.some);
      containerProbe.cpu0.push(a.cpu);
      containerProbe.ms0.push(a.ms);
      containerProbe.cpuK.push(b.cpu);
      containerProbe.msK.push(b.ms);
    }
  }
} finally {
  cleanup();
}

const node = rows.find((r) => r.label === 'node -e 0');
console.log(`${runs} interleaved runs each, Node ${process.version}; wall: spawn to exit (ms), cpu: the process's user+sys (ms)`);
// The last two columns: CPU over `node -e 0` at the 10th and 25th percentiles of each row. A
// neighbour on a shared machine only adds time, so the low quantiles move least between runs.
console.log(`${'row'.padEnd(40)}${'wall'.padStart(8)}${'p25'.padStart(8)}${'p75'.padStart(8)}${'− node'.padStart(9)}${'cpu'.padStart(8)}${'− node'.padStart(9)}${'p10 −'.padStart(8)}${'p25 −'.padStart(8)}`);
const quantile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
};
const nodeWall = node ? median(node.times.map((t) => t.ms)) : null;
const nodeCpu = node ? median(node.times.map((t) => t.cpu)) : null;
const delta = (v, ref) => (ref === null ? '' : `${v - ref >= 0 ? '+' : ''}${(v - ref).toFixed(1)}`);
for (const r of rows) {
  const walls = r.times.map((t) => t.ms);
  const cpus = r.times.map((t) => t.cpu);
  const wall = median(walls);
  const cpu = median(cpus);
  const ref = r === node;
  const low = (p) => (ref || !node ? '' : delta(quantile(cpus, p), quantile(node.times.map((t) => t.cpu), p)));
  console.log(`${r.label.padEnd(40)}${wall.toFixed(1).padStart(8)}${quantile(walls, 0.25).toFixed(1).padStart(8)}${quantile(walls, 0.75).toFixed(1).padStart(8)}` +
    `${(ref ? '' : delta(wall, nodeWall)).padStart(9)}${cpu.toFixed(0).padStart(8)}${(ref ? '' : delta(cpu, nodeCpu)).padStart(9)}${low(0.1).padStart(8)}${low(0.25).padStart(8)}`);
}
if (containerProbe && node) {
  const per = (k, z) => (median(containerProbe[k]) - median(containerProbe[z])) / CONTAINERS;
  const cpu = per('cpuK', 'cpu0');
  const wall = per('msK', 'ms0');
  const cli = rows.find((r) => r.label === 'pocker run --rm host true');
  const cliCpu = median(cli.times.map((t) => t.cpu)) - nodeCpu;
  const cliWall = median(cli.times.map((t) => t.ms)) - nodeWall;
  console.log(`the container alone (run() in a warm process, per container, ${containerProbe.cpu0.length} x ${CONTAINERS}): wall ${wall.toFixed(1)} ms, cpu ${cpu.toFixed(1)} ms`);
  console.log(`pocker run's own overhead (run - node -e 0 - the container): wall ${(cliWall - wall).toFixed(1)} ms, cpu ${(cliCpu - cpu).toFixed(1)} ms`);
}
