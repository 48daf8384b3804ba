#!/usr/bin/env node
// Rootless pocker against root pocker and against rootless Podman, in the same run (issue 13, item 6).
//
//   sudo node bench/rootless.mjs [--runs 15] [--no-podman]      (npm run bench:rootless)
//
// Made by the bench and removed after: a throwaway unprivileged user (useradd, its home under the
// bench's temp dir) with 65536 subordinate uids/gids of its own in /etc/subuid and /etc/subgid, a
// busybox-static image (the same rootfs tar `import`ed into root pocker's store, the user's pocker
// store and the user's Podman store), a temp state root for root pocker. Rows, interleaved (each
// round runs every row once, in a rotated order, so the load of this shared machine hurts them
// alike), compared by their medians from the same rounds:
//   lib root / lib rootless   the library's run({ image, cmd: ['/bin/true'], rm: true }) + wait(),
//                             in one long-lived Node process each (root; the user)
//   cli root / cli rootless   `pocker run --rm IMAGE /bin/true`, spawn to exit
//   podman rootless           `podman run --rm --network none IMAGE /bin/true` as the same user
// Every CLI row runs as `runuser -u USER -- env -i … CMD` (root's as USER=root), so they pay the same
// wrapper; their CPU time is user+sys of the command and its waited children (bash `times`). The
// library rows report the Node process's own CPU (process.cpuUsage) besides the wall time. Rootless
// rows get no cgroup (cgroup v1 here: no delegation); root rows go under the bench's cgroup parent.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { CGROUP_PARENT, buildRootfs, cgroupFacts, cgroupHierarchies, removeCgroupDir, sh, summarize, table, timedRun } from './common.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(REPO, 'bin', 'pocker.cjs');
const DIST = join(REPO, 'dist', 'index.js');
const IMAGE = 'localhost/pocker-bench-bb:latest';
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const runs = Number(opt('--runs', '15'));
const withPodman = !args.includes('--no-podman');
const log = (m) => process.stderr.write(`${m}\n`);
const die = (m) => {
  log(`bench/rootless: ${m}`);
  process.exit(2);
};
if (process.getuid?.() !== 0) die('must run as root (it makes a user and subordinate id ranges, and compares with root mode)');
if (!existsSync(DIST)) die(`${DIST} is missing: npm run build:ts first`);
for (const tool of ['/usr/sbin/useradd', '/usr/bin/newuidmap', '/usr/sbin/runuser']) if (!existsSync(tool)) die(`${tool} is missing (apt-get install uidmap passwd util-linux)`);
if (withPodman && sh(['podman', '--version']).status !== 0) die('podman is missing: apt-get install podman (or --no-podman)');

const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-rootless-'));
chmodSync(tmp, 0o755);
const name = `pkrbench${process.pid % 100000}`;
const home = join(tmp, 'home');
const xdg = join(tmp, 'xdg');
let made = false;
const workers = [];
const cgroupsBefore = new Set(cgroupHierarchies().filter((h) => existsSync(join(h, CGROUP_PARENT))));

function dropSubid(file) {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const kept = lines.filter((l) => l.split(':')[0] !== name);
  if (kept.length !== lines.length) writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
}
function pidsOf(uid) {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'));
      if (m && Number(m[1]) === uid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

async function cleanup(uid) {
  for (const w of workers) w.child.kill('SIGKILL');
  if (made) {
    if (withPodman) userSh(['podman', 'rm', '-af', '-t', '0']);
    // Podman's pause process and anything else left of the user's, by pid.
    for (const pid of uid === undefined ? [] : pidsOf(uid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    sh(['userdel', '-r', '-f', name]);
    for (const f of ['/etc/subuid', '/etc/subgid']) dropSubid(f);
  }
  rmSync(tmp, { recursive: true, force: true });
  for (const h of cgroupHierarchies()) if (!cgroupsBefore.has(h) && existsSync(join(h, CGROUP_PARENT))) await removeCgroupDir(join(h, CGROUP_PARENT));
}

// ---------------------------------------------------------------------------------------------
// The user, its ranges, the image in three stores

const envOf = (user) => user === 'root'
  ? { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', USER: 'root', POCKER_DEFAULT_NETWORK: 'none', LANG: 'C.UTF-8' }
  : { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, USER: name, XDG_RUNTIME_DIR: xdg, POCKER_DEFAULT_NETWORK: 'none', LANG: 'C.UTF-8',
    CONTAINERS_CONF: join(home, 'containers.conf') };
const asUser = (user, argv) => ['/usr/sbin/runuser', '-u', user, '--', '/usr/bin/env', '-i', ...Object.entries(envOf(user)).map(([k, v]) => `${k}=${v}`), ...argv];
const userSh = (argv) => sh(asUser(name, argv), { cwd: '/' });
const must = (what, r) => {
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr || r.stdout || r.error}`);
  return r;
};

let uid;
const rows = [];
try {
  must('useradd', sh(['useradd', '-m', '-d', home, '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]));
  made = true;
  uid = Number(must('id', sh(['id', '-u', name])).stdout);
  const gid = Number(must('id', sh(['id', '-g', name])).stdout);
  const start = 1_500_000_000 + (process.pid % 2000) * 65_536;
  for (const f of ['/etc/subuid', '/etc/subgid']) appendFileSync(f, `${name}:${start}:65536\n`);
  mkdirSync(xdg, { mode: 0o700 });
  chownSync(xdg, uid, gid);
  const rootfs = join(tmp, 'rootfs');
  buildRootfs(rootfs);
  const tar = join(tmp, 'bb.tar');
  must('tar', sh(['tar', '-C', rootfs, '--numeric-owner', '-cf', tar, '.']));
  chmodSync(tar, 0o644);
  const rootStore = join(tmp, 'root-store');
  const userStore = join(home, '.local', 'share', 'pocker');
  must('pocker import (root)', sh(asUser('root', [process.execPath, BIN, '--root', rootStore, 'import', tar, IMAGE])));
  must('pocker import (rootless)', userSh([process.execPath, BIN, 'import', tar, IMAGE]));
  if (withPodman) {
    // Podman's own state in the user's home (its defaults), events to a file, no cgroup on v1.
    writeFileSync(join(home, 'containers.conf'), '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n');
    chownSync(join(home, 'containers.conf'), uid, gid);
    must('podman import (rootless)', userSh(['podman', 'import', tar, IMAGE]));
    let probe = userSh(['podman', 'run', '--rm', '--network', 'none', IMAGE, '/bin/true']);
    if (probe.status !== 0 && /rlimit/i.test(probe.stderr)) {
      writeFileSync(join(home, 'containers.conf'), '[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n');
      probe = userSh(['podman', 'run', '--rm', '--network', 'none', IMAGE, '/bin/true']);
    }
    must('podman run (rootless probe)', probe);
  }

  // Library workers: one Node process each, a run() per line read, its times as a JSON line.
  const workerSrc = join(tmp, 'lib-worker.mjs');
  writeFileSync(workerSrc, `
import { createInterface } from 'node:readline';
const pocker = await import(process.argv[2]);
const [root, image, cgroupParent] = process.argv.slice(3);
for await (const _ of createInterface({ input: process.stdin })) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const c = await pocker.run({ image, cmd: ['/bin/true'], stdio: 'ignore', root, rm: true, ...(cgroupParent ? { cgroupParent } : {}) });
  const st = await c.wait();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ ms, cpu: (cpu.user + cpu.system) / 1000, code: st.exitCode }) + '\\n');
}
`);
  chmodSync(workerSrc, 0o644);
  const libWorker = (user, root, cgroupParent) => {
    const child = spawn(asUser(user, [])[0], asUser(user, [process.execPath, workerSrc, pathToFileURL(DIST).href, root, IMAGE, ...(cgroupParent ? [cgroupParent] : [])]).slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const w = {
      child,
      async once() {
        child.stdin.write('go\n');
        const { value, done } = await lines.next();
        if (done) throw new Error(`library worker (${user}) exited: ${err.trim()}`);
        const r = JSON.parse(value);
        if (r.code !== 0) throw new Error(`library run() as ${user} exited ${r.code}`);
        return r;
      },
    };
    workers.push(w);
    return w;
  };
  const libRoot = libWorker('root', rootStore, CGROUP_PARENT);
  const libUser = libWorker(name, userStore);

  const timedSpawn = (argv) => timedRun(argv, { cwd: '/' });
  rows.push(
    { key: 'lib-root', label: 'library run() + wait(), root', once: () => libRoot.once() },
    { key: 'lib-rootless', label: 'library run() + wait(), rootless', once: () => libUser.once() },
    { key: 'cli-root', label: 'pocker run --rm, root', once: () => timedSpawn(asUser('root', [process.execPath, BIN, '--root', rootStore, 'run', '--rm', '--cgroup-parent', CGROUP_PARENT, IMAGE, '/bin/true'])) },
    { key: 'cli-rootless', label: 'pocker run --rm, rootless', once: () => timedSpawn(asUser(name, [process.execPath, BIN, 'run', '--rm', IMAGE, '/bin/true'])) },
  );
  if (withPodman) rows.push({ key: 'podman-rootless', label: 'podman run --rm, rootless', once: () => timedSpawn(asUser(name, ['podman', 'run', '--rm', '--network', 'none', IMAGE, '/bin/true'])) });

  for (const r of rows) {
    r.samples = [];
    await r.once(); // warm-up: page cache, code cache, podman's pause process
  }
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < rows.length; j++) {
      const r = rows[(i + j) % rows.length];
      r.samples.push(await r.once());
    }
    log(`round ${i + 1}/${runs}`);
  }
} catch (err) {
  await cleanup(uid);
  die(err.message);
}
await cleanup(uid);

// ---------------------------------------------------------------------------------------------
// Report

const facts = cgroupFacts();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
const podmanVersion = withPodman ? sh(['podman', '--version']).stdout : null;
const med = {};
const out = rows.map((r) => {
  const wall = summarize(r.samples.map((s) => s.ms));
  const cpu = summarize(r.samples.map((s) => s.cpu));
  med[r.key] = { wall: wall.median, cpu: cpu.median };
  return [r.label, wall.median.toFixed(1), wall.p90.toFixed(1), cpu.median.toFixed(0)];
});
console.log(`${runs} interleaved rounds, Node ${process.version}, kernel ${kernel}, cgroup ${facts.version}${facts.mode ? ` (${facts.mode})` : ''}, load ${load}${podmanVersion ? `, ${podmanVersion}` : ''}`);
console.log(table(out, ['row', 'wall median ms', 'wall p90 ms', 'cpu median ms']));
const ratio = (a, b) => (med[a] && med[b] ? (med[a].wall / med[b].wall).toFixed(2) : '—');
const cpuRatio = (a, b) => (med[a] && med[b] && med[b].cpu > 0 ? (med[a].cpu / med[b].cpu).toFixed(2) : '—');
console.log('');
console.log(`same-run ratios (wall medians; cpu medians):`);
console.log(`  library run(), rootless / root:   ${ratio('lib-rootless', 'lib-root')}; ${cpuRatio('lib-rootless', 'lib-root')}`);
console.log(`  pocker run --rm, rootless / root: ${ratio('cli-rootless', 'cli-root')}; ${cpuRatio('cli-rootless', 'cli-root')}`);
if (withPodman) console.log(`  podman rootless / pocker rootless (CLI): ${ratio('podman-rootless', 'cli-rootless')}; ${cpuRatio('podman-rootless', 'cli-rootless')}`);
