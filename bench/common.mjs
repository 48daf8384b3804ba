// Helpers shared by the benches (run.mjs, oci.mjs, lifecycle.mjs): statistics, the busybox rootfs,
// the base OCI config, machine facts, cgroup clean-up and the report table. One copy of each.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync,
  rmdirSync, statfsSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

// The benches' containers get no bridge on this machine's network unless they ask for one
// (bench/network.mjs does, in its own network namespace): pocker's default network is bridge.
process.env.POCKER_DEFAULT_NETWORK ??= 'none';

/** The cgroup parent of every container a bench starts. */
export const CGROUP_PARENT = 'pocker-bench';
export const CGROUP_ROOT = '/sys/fs/cgroup';
const TMPFS_MAGIC = 0x01021994;
const CGROUP2_SUPER_MAGIC = 0x63677270;

export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    mean: s.length ? mean : NaN,
    min: s.length ? s[0] : NaN,
    max: s.length ? s[s.length - 1] : NaN,
  };
}

export const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);

/** Runs a short helper command to completion (untimed); returns {status, stdout, stderr}. */
export function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  return { status: r.status, stdout: (r.stdout ?? '').trim(), stderr: (r.stderr ?? '').trim(), error: r.error };
}

export function cgroupFacts() {
  let type;
  try { type = Number(statfsSync(CGROUP_ROOT).type); } catch { return { version: 'none' }; }
  if (type === CGROUP2_SUPER_MAGIC) return { version: 'v2', mode: 'unified' };
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const v1 = [];
  let unified = null;
  for (const line of mounts) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    if (f[sep + 1] === 'cgroup' && f[4].startsWith(`${CGROUP_ROOT}/`)) v1.push(f[4].slice(CGROUP_ROOT.length + 1));
    if (f[sep + 1] === 'cgroup2') unified = f[4];
  }
  let unifiedControllers = null;
  if (unified) {
    try { unifiedControllers = readFileSync(join(unified, 'cgroup.controllers'), 'utf8').trim(); } catch { /* absent */ }
  }
  return {
    version: 'v1',
    mode: type === TMPFS_MAGIC && unified ? 'hybrid' : 'legacy',
    v1Hierarchies: v1,
    ...(unified ? { unifiedMount: unified, unifiedControllers } : {}),
  };
}

export function versionOf(argv) {
  const r = sh(argv);
  if (r.error) return null;
  return (r.stdout || r.stderr).split('\n')[0];
}

export function isStaticElf(path) {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false; // ELF64 only
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

export function buildRootfs(dir) {
  const candidates = [process.env.BUSYBOX, '/bin/busybox', '/usr/bin/busybox'].filter(Boolean);
  const busybox = candidates.find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox not found (apt-get install busybox-static, or set BUSYBOX=/path)');
  if (!isStaticElf(busybox)) throw new Error(`${busybox} is not a static ELF64 binary (install busybox-static)`);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const list = sh([busybox, '--list']);
  const applets = new Set(list.status === 0 ? list.stdout.split('\n') : []);
  applets.add('true');
  applets.add('sh');
  for (const a of applets) {
    // `busybox --list` names busybox itself: linking it would replace the binary with a self-loop.
    if (!/^[A-Za-z0-9_.[-]+$/.test(a) || a === 'busybox') continue;
    symlinkSync('busybox', join(dir, 'bin', a));
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return busybox;
}

export function baseOciConfig(tmp, rootfs = join(tmp, 'rootfs')) {
  const specDir = join(tmp, 'spec');
  mkdirSync(specDir);
  const r = sh(['runc', 'spec', '--bundle', specDir]);
  if (r.status !== 0) throw new Error(`runc spec failed: ${r.stderr || r.error?.message}`);
  const cfg = JSON.parse(readFileSync(join(specDir, 'config.json'), 'utf8'));
  cfg.process.args = ['/bin/true'];
  cfg.process.terminal = false;
  cfg.root = { path: rootfs, readonly: false };
  cfg.hostname = 'bench';
  // The namespaces pocker uses on this kind of host (cgroup v1: no cgroup namespace).
  cfg.linux.namespaces = ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type }));
  return cfg;
}

export function cgroupHierarchies() {
  try {
    if (Number(statfsSync(CGROUP_ROOT).type) === CGROUP2_SUPER_MAGIC) return [CGROUP_ROOT];
    return readdirSync(CGROUP_ROOT, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.isSymbolicLink())
      .map((d) => join(CGROUP_ROOT, d.name));
  } catch {
    return [];
  }
}

export function childCgroups(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

export function cgroupTasks(dir) {
  const pids = new Set();
  const walk = (d) => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch { /* gone */ }
    for (const c of childCgroups(d)) walk(join(d, c));
  };
  walk(dir);
  return [...pids].filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
}

export async function removeCgroupDir(dir) {
  // Nested first (depth-first), then the directory; an empty cgroup can be briefly busy while the
  // kernel finishes tearing down its last task, so retry a few times.
  for (const c of childCgroups(dir)) await removeCgroupDir(join(dir, c));
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (err) {
      if (err.code === 'ENOENT') return true;
      if (err.code !== 'EBUSY') return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return false;
}

export function pad(s, n, right = false) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

export function fmt(x, d = 2) {
  return Number.isFinite(x) ? x.toFixed(d) : '—';
}

export function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => pad(c, widths[i], i > 0)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// Each sample runs under bash, whose `times` then gives the child's user+sys CPU time to the
// millisecond: on a shared machine CPU time moves much less with the load than wall time does.
const TIMED = '"$@" >/dev/null; s=$?; times >&3; exit $s';

/** Runs argv to its end: { ms: spawn to exit, cpu: its user+sys and its waited children's (ms) }. */
export function timedRun(argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('bash', ['-c', TIMED, 'bash', ...argv], { ...opts, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let err = '';
    let times = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdio[3].on('data', (d) => (times += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // `times`: the shell's user and sys, then its children's: "0m0.104s 0m0.036s".
      const kids = times.trim().split('\n')[1]?.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
      if (code !== 0 || !kids) reject(new Error(`${argv.join(' ')}: exit ${code}: ${err}`));
      else resolve({ ms, cpu: (Number(kids[1]) * 60 + Number(kids[2]) + Number(kids[3]) * 60 + Number(kids[4])) * 1000 });
    });
  });
}
