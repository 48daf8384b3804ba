#!/usr/bin/env node
// What bridge networking costs, all inside a network namespace of the bench's own (it re-executes
// itself under `unshare --net`; nothing touches this machine's network):
//
//   1. start-up: `run()` (warm Node process) and `pocker run --rm` with `--network bridge` against
//      `--network none`, and `podman run --rm --network bridge` (netavark, else the system's CNI
//      plugins) against `--network none`, interleaved, /bin/true on the busybox rootfs of run.mjs;
//      plus `-p` (one published port) over the bridge, and the rule calls of lib/network/nft.ts
//      alone (what a network and a published port cost; with --baseline, the baseline's too).
//   2. data path: TCP throughput and round-trip latency (a node client/server pair, 1-byte
//      ping-pong, then a bulk send) container↔container on one bridge network, host↔published
//      port (127.0.0.1 and the bridge's address), against the raw paths: a veth pair between two
//      namespaces, and a veth pair between the host and a namespace.
//
//   sudo npm run bench:network [-- --runs 40 --warmup 3 --mb 512 --rounds 2000]
//   sudo npm run bench:network -- --baseline /path/to/other/checkout   # its run() too, interleaved
//
// A part that cannot run (pocker without bridge networking yet, podman without a runtime) prints
// why and the bench goes on. Everything lives in one temp dir, under the `pocker-bench-net` cgroup
// parent, and in the bench's own network namespace, all removed at the end. Root only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildRootfs, cgroupHierarchies, fmt, r2, removeCgroupDir, summarize, table } from './common.mjs';
import { IMAGE as PODMAN_IMAGE, podmanVersion, setupPodman } from './podman.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARENT = 'pocker-bench-net';
const POCKER = join(REPO, 'bin/pocker.cjs');

function parseArgs(argv) {
  const o = { runs: 40, warmup: 3, mb: 512, rounds: 2000, repeat: 3, inNetns: false, baseline: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--in-netns') { o.inNetns = true; continue; }
    if (argv[i] === '--baseline') { o.baseline = resolve(argv[++i] ?? ''); continue; }
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const n = Number(inline ?? argv[++i]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected an integer`);
    const key = { '--runs': 'runs', '--warmup': 'warmup', '--mb': 'mb', '--rounds': 'rounds', '--repeat': 'repeat' }[flag];
    if (!key) throw new Error(`unknown option ${flag} (--runs N, --warmup N, --mb N, --rounds N, --repeat N, --baseline DIR)`);
    o[key] = n;
  }
  return o;
}

const now = () => process.hrtime.bigint();
const ms = (a, b) => Number(b - a) / 1e6;
const sh = (argv, opts = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  return { code: r.status, stdout: (r.stdout ?? '').trim(), stderr: (r.stderr ?? '').trim() || (r.error ? String(r.error) : '') };
};
const must = (argv, opts) => {
  const r = sh(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.split('\n').pop()}`);
  return r.stdout;
};
const lastLine = (s) => (s.split('\n').filter(Boolean).pop() ?? '').trim();

// ---------------------------------------------------------------------------------------------
// The traffic programs (node, also inside containers of the `host` image: its / is the host's)

// Mode byte 'p': echo every chunk (ping-pong); else count bytes and answer the count at the end.
const SERVER = `const n=require('net');n.createServer(s=>{s.setNoDelay(true);let m=null,c=0;s.on('data',d=>{if(m===null){m=d[0];d=d.subarray(1)}if(m===112){if(d.length)s.write(d)}else c+=d.length});s.on('end',()=>s.end(m===112?'':String(c)));s.on('error',()=>{})}).listen(+process.argv[1],'0.0.0.0',()=>console.log('ready'))`;
// host port rounds MB -> {"rttUs": median µs of 1-byte round trips, "gbps": bulk send rate}
const CLIENT = `const n=require('net');const [h,p,rounds,mb]=process.argv.slice(1);
const rtt=()=>new Promise((res,rej)=>{const s=n.connect({host:h,port:+p},()=>{s.setNoDelay(true);s.write('p');let i=-1,t=[],t0;const go=()=>{t0=process.hrtime.bigint();s.write('x')};s.on('data',d=>{if(i>=0)t.push(Number(process.hrtime.bigint()-t0)/1000);if(++i<+rounds)go();else{s.end();t.sort((a,b)=>a-b);res(t[t.length>>1])}});go()});s.on('error',rej)});
const bulk=()=>new Promise((res,rej)=>{const s=n.connect({host:h,port:+p},()=>{const b=Buffer.alloc(1<<20,120);let sent=0,out='';const t0=process.hrtime.bigint();s.write('t');const pump=()=>{while(sent<+mb){sent++;if(!s.write(b)){s.once('drain',pump);return}}s.end()};pump();s.on('data',d=>out+=d);s.on('end',()=>{const sec=Number(process.hrtime.bigint()-t0)/1e9;res({bytes:+out,gbps:+out*8/sec/1e9})})});s.on('error',rej)});
(async()=>{const r=await rtt();const b=await bulk();console.log(JSON.stringify({rttUs:r,...b}))})().catch(e=>{console.error(e.message);process.exit(1)})`;

const children = new Set();
function startServer(argv, port) {
  return new Promise((res, rej) => {
    const child = spawn(argv[0], [...argv.slice(1), process.execPath, '-e', SERVER, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let err = '';
    child.stdout.on('data', (d) => String(d).includes('ready') && res(child));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => { children.delete(child); rej(new Error(`server exited ${code}: ${lastLine(err)}`)); });
  });
}

/** The client, `repeat` times (argv prefix: where it runs); medians of rtt and throughput. */
function measure(prefix, host, port, o) {
  const rtt = [];
  const gbps = [];
  for (let i = 0; i < o.repeat; i++) {
    const out = must([...prefix, process.execPath, '-e', CLIENT, host, String(port), String(o.rounds), String(o.mb)]);
    const r = JSON.parse(lastLine(out));
    if (r.bytes !== o.mb * 1024 * 1024) throw new Error(`bulk send: ${r.bytes} bytes arrived of ${o.mb} MiB`);
    rtt.push(r.rttUs);
    gbps.push(r.gbps);
  }
  return { rttUs: summarize(rtt).median, gbps: summarize(gbps).median };
}

// ---------------------------------------------------------------------------------------------
// Namespaces for the raw paths

async function newNetns() {
  const proc = spawn('unshare', ['--net', '--', 'sleep', '2147483647'], { stdio: 'ignore' });
  children.add(proc);
  const mine = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 400; i++) {
    try {
      if (readlinkSync(`/proc/${proc.pid}/ns/net`) !== mine && readFileSync(`/proc/${proc.pid}/comm`, 'utf8').trim() === 'sleep') {
        return { proc, pid: proc.pid, enter: ['nsenter', `--net=/proc/${proc.pid}/ns/net`, '--'] };
      }
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unshare --net child did not start');
}

async function rawPaths(o, rows) {
  // host <-> namespace over one veth pair
  const a = await newNetns();
  must(['ip', 'link', 'add', 'bnraw0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(a.pid)]);
  must(['ip', 'addr', 'add', '10.99.0.1/30', 'dev', 'bnraw0']);
  must(['ip', 'link', 'set', 'bnraw0', 'up']);
  for (const c of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'addr', 'add', '10.99.0.2/30', 'dev', 'eth0'], ['ip', 'link', 'set', 'eth0', 'up']]) must([...a.enter, ...c]);
  await startServer(a.enter, 5201);
  rows.push(['raw veth: host -> namespace', measure([], '10.99.0.2', 5201, o)]);
  // namespace <-> namespace over one veth pair
  const b = await newNetns();
  must([...a.enter, 'ip', 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(b.pid)]);
  for (const c of [['ip', 'addr', 'add', '10.99.1.1/30', 'dev', 'eth1'], ['ip', 'link', 'set', 'eth1', 'up']]) must([...a.enter, ...c]);
  for (const c of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'addr', 'add', '10.99.1.2/30', 'dev', 'eth0'], ['ip', 'link', 'set', 'eth0', 'up']]) must([...b.enter, ...c]);
  rows.push(['raw veth: namespace -> namespace', measure(b.enter, '10.99.1.1', 5201, o)]);
}

// ---------------------------------------------------------------------------------------------
// pocker's paths (need bridge networking: lib/network of the merged issue 11)

const pk = (root, ...args) => [process.execPath, POCKER, '--root', root, ...args];

async function pockerPaths(o, root, rows) {
  const net = 'benchnet';
  must(pk(root, 'network', 'create', net));
  const srv = must(pk(root, 'run', '-d', '--cgroup-parent', PARENT, '--network', net, '--name', 'srv', '-p', '18201:5201', '-p', '127.0.0.1:18202:5201',
    'host', process.execPath, '-e', SERVER, '5201'));
  const inspect = JSON.parse(must(pk(root, 'inspect', srv)))[0];
  const ip = inspect.NetworkSettings?.Networks?.[net]?.IPAddress ?? inspect.NetworkSettings?.IPAddress;
  const gw = inspect.NetworkSettings?.Networks?.[net]?.Gateway ?? inspect.NetworkSettings?.Gateway;
  if (!ip) throw new Error('no IPAddress in inspect');
  // Wait for the server to listen (its port answers through 127.0.0.1).
  for (let i = 0; ; i++) {
    if (sh([process.execPath, '-e', `require('net').connect(18202,'127.0.0.1').on('connect',function(){this.destroy()}).on('error',()=>process.exit(1))`]).code === 0) break;
    if (i > 200) throw new Error('the server container never listened');
    await new Promise((r) => setTimeout(r, 50));
  }
  // container -> container: the client runs in a second container of the network.
  const inCtr = pk(root, 'run', '--rm', '--cgroup-parent', PARENT, '--network', net, 'host');
  rows.push(['pocker: container -> container (bridge)', measure(inCtr, ip, 5201, o)]);
  rows.push(['pocker: host -> published port (127.0.0.1)', measure([], '127.0.0.1', 18202, o)]);
  if (gw) rows.push([`pocker: host -> published port (bridge address)`, measure([], gw, 18201, o)]);
  rows.push(['pocker: container -> published port (hairpin)', measure(inCtr, gw ?? '127.0.0.1', 18201, o)]);
}

// ---------------------------------------------------------------------------------------------
// Start-up

function timedSpawn(argv, env) {
  return new Promise((res, rej) => {
    const t0 = now();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('error', rej);
    child.once('exit', (code) => (code === 0 ? res(ms(t0, now())) : rej(new Error(`${argv.slice(0, 6).join(' ')}… exited ${code}: ${lastLine(err)}`))));
  });
}

async function startup(o, tmp, rootfs, root) {
  const cases = {};
  const notes = [];
  // pocker: library and CLI, none vs bridge.
  const { run } = await import(pathToFileURL(join(REPO, 'dist/index.js')).href);
  const lib = async (network, publish) => {
    const t0 = now();
    const c = await run({ rootfs, cmd: ['/bin/true'], root, cgroupParent: PARENT, network, stdio: 'ignore', ...(publish ? { publish } : {}) });
    const st = await c.wait();
    const t = ms(t0, now());
    if (st.exitCode !== 0) throw new Error(`run() exited ${st.exitCode}`);
    return t;
  };
  const cliOf = (bin, r) => (network, ...flags) =>
    timedSpawn([process.execPath, bin, '--root', r, 'run', '--rm', '--cgroup-parent', PARENT, '--network', network, ...flags, '--rootfs', rootfs, '/bin/true']);
  const cli = cliOf(POCKER, root);
  // -p: one published port (its DNAT rules added at the start, removed at the end).
  const targets = {
    'run() --network none': () => lib('none'),
    'run() --network bridge': () => lib('bridge'),
    'run() --network bridge -p': () => lib('bridge', ['127.0.0.1:18400:80']),
    'pocker run --rm --network none': () => cli('none'),
    'pocker run --rm --network bridge': () => cli('bridge'),
    'pocker run --rm --network bridge -p': () => cli('bridge', '-p', '127.0.0.1:18401:80'),
  };
  // --baseline DIR: another checkout's (built) run() in the same runs, for before/after figures.
  if (o.baseline) {
    const base = (await import(pathToFileURL(join(o.baseline, 'dist/index.js')).href)).run;
    const baseRoot = join(tmp, 'baseline-root');
    const blib = async (network, publish) => {
      const t0 = now();
      const c = await base({ rootfs, cmd: ['/bin/true'], root: baseRoot, cgroupParent: PARENT, network, stdio: 'ignore', ...(publish ? { publish } : {}) });
      const st = await c.wait();
      if (st.exitCode !== 0) throw new Error(`baseline run() exited ${st.exitCode}`);
      return ms(t0, now());
    };
    targets['baseline run() --network none'] = () => blib('none');
    targets['baseline run() --network bridge'] = () => blib('bridge');
    targets['baseline run() --network bridge -p'] = () => blib('bridge', ['127.0.0.1:18402:80']);
    const bcli = cliOf(join(o.baseline, 'bin/pocker.cjs'), baseRoot);
    targets['baseline pocker run --rm --network none'] = () => bcli('none');
    targets['baseline pocker run --rm --network bridge'] = () => bcli('bridge');
    targets['baseline pocker run --rm --network bridge -p'] = () => bcli('bridge', '-p', '127.0.0.1:18403:80');
    notes.push(`baseline: ${o.baseline}`);
  }
  // podman (runc: crun refuses this hybrid cgroup host without bench/run.mjs's namespace trick).
  let pm = null;
  if (podmanVersion()) {
    const tar = join(tmp, 'rootfs.tar');
    must(['tar', '-C', rootfs, '-cf', tar, '.']);
    const netavark = sh(['test', '-x', '/usr/lib/podman/netavark']).code === 0;
    pm = await setupPodman({ dir: join(tmp, 'pm'), tar, runtime: 'runc', cgroupParent: PARENT, network: 'bridge', networkBackend: netavark ? 'netavark' : 'cni' });
    notes.push(`podman ${podmanVersion()}, runc, network backend ${netavark ? 'netavark' : 'CNI (/usr/lib/cni)'}${pm.error ? `: ${pm.error}` : ''}`);
    if (!pm.error) {
      const flags = [];
      for (let i = 0; i < pm.runFlags.length; i++) {
        if (pm.runFlags[i] === '--network') i++;
        else flags.push(pm.runFlags[i]);
      }
      for (const n of ['none', 'bridge']) targets[`podman run --rm --network ${n}`] = () => timedSpawn(pm.argv('run', '--rm', ...flags, '--network', n, PODMAN_IMAGE, 'true'), pm.env);
    }
  } else notes.push('podman is not installed');
  // Preflight: a target that fails once is left out, with why.
  for (const [k, f] of Object.entries(targets)) {
    try {
      for (let i = 0; i < Math.max(1, o.warmup); i++) await f();
      cases[k] = [];
    } catch (err) {
      notes.push(`${k}: left out: ${err.message}`);
    }
  }
  for (let i = 0; i < o.runs; i++) {
    const keys = Object.keys(cases);
    if (i % 2) keys.reverse();
    for (const k of keys) cases[k].push(await targets[k]());
  }
  return { cases, notes, pm };
}

/** The rule calls alone (lib/network/nft.ts of `repo`, from dist/): a network's rules and one published port. */
async function nftCosts(o, root, repo = REPO) {
  const nft = await import(pathToFileURL(join(repo, 'dist/network/nft.js')).href);
  const per = { ensureNetworkRules: [], addPortRules: [], removeContainerRules: [], removeNetworkRules: [] };
  const net = { id: 'b'.repeat(64), bridge: 'bnft0', subnets: ['10.98.0.0/24'], internal: false };
  const m = [{ hostIp: '', hostPort: 18300, containerIp: '10.98.0.2', containerPort: 80, protocol: 'tcp' }];
  for (let i = 0; i < Math.max(5, Math.floor(o.runs / 2)); i++) {
    for (const [k, f] of [
      ['ensureNetworkRules', () => nft.ensureNetworkRules(root, net)],
      ['addPortRules', () => nft.addPortRules(root, 'c'.repeat(64), net.bridge, m)],
      ['removeContainerRules', () => nft.removeContainerRules(root, 'c'.repeat(64))],
      ['removeNetworkRules', () => nft.removeNetworkRules(root, net.id)],
    ]) {
      const c0 = nft.nftStats.calls;
      const t0 = now();
      await f();
      per[k].push({ ms: ms(t0, now()), calls: nft.nftStats.calls - c0 });
    }
  }
  const one = summarize(per.addPortRules.map((x) => x.ms));
  return { rows: Object.entries(per).map(([k, v]) => [k, v[0].calls, summarize(v.map((x) => x.ms))]), perCall: one.median };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root');
  const o = parseArgs(process.argv.slice(2));
  if (!o.inNetns) {
    // Re-run inside a network namespace of its own: every bridge, rule and packet lives there.
    const r = spawnSync('unshare', ['--net', '--', process.execPath, fileURLToPath(import.meta.url), '--in-netns', ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
    return;
  }
  must(['ip', 'link', 'set', 'lo', 'up']);
  const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-net-'));
  const root = join(tmp, 'root');
  let pm = null;
  try {
    const rootfs = join(tmp, 'rootfs');
    mkdirSync(rootfs);
    buildRootfs(rootfs);
    writeFileSync(join(tmp, 'README'), 'pocker bench/network.mjs scratch dir\n');
    console.log(`pocker network bench (kernel ${release()}, inside its own network namespace; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);

    // 1. start-up
    const s = await startup(o, tmp, rootfs, root);
    pm = s.pm;
    const sum = Object.fromEntries(Object.entries(s.cases).map(([k, v]) => [k, summarize(v)]));
    console.log(`\nstart-up, ms (/bin/true, busybox rootfs, ${o.runs} interleaved runs each)`);
    console.log(table(Object.entries(sum).map(([k, v]) => [k, v.n, fmt(v.median), fmt(v.p90), fmt(v.min)]), ['case', 'n', 'median', 'p90', 'min']));
    const d = (a, b) => (sum[a] && sum[b] ? fmt(sum[b].median - sum[a].median) : 'n/a');
    console.log(`added by --network bridge (median): run() ${d('run() --network none', 'run() --network bridge')} ms (goal ≤ 2), CLI ${d('pocker run --rm --network none', 'pocker run --rm --network bridge')} ms, podman ${d('podman run --rm --network none', 'podman run --rm --network bridge')} ms${o.baseline ? `, baseline run() ${d('baseline run() --network none', 'baseline run() --network bridge')} ms, baseline CLI ${d('baseline pocker run --rm --network none', 'baseline pocker run --rm --network bridge')} ms` : ''}`);
    console.log(`added by -p (median, over the bridge): run() ${d('run() --network bridge', 'run() --network bridge -p')} ms, CLI ${d('pocker run --rm --network bridge', 'pocker run --rm --network bridge -p')} ms${o.baseline ? `, baseline run() ${d('baseline run() --network bridge', 'baseline run() --network bridge -p')} ms, baseline CLI ${d('baseline pocker run --rm --network bridge', 'baseline pocker run --rm --network bridge -p')} ms` : ''}`);
    for (const n of s.notes) console.log(`  note: ${n}`);

    for (const [label, repo] of [['this checkout', REPO], ...(o.baseline ? [['baseline', o.baseline]] : [])]) {
      try {
        const c = await nftCosts(o, join(tmp, `nft-${label.replace(/\W/g, '')}`), repo);
        console.log(`\nlib/network/nft.ts alone (${label}), ms (calls: nf_tables dumps/batches, or nft execs before the netlink addon)`);
        console.log(table(c.rows.map(([k, calls, v]) => [k, calls, fmt(v.median), fmt(v.p90), fmt(v.min)]), ['operation', 'calls', 'median', 'p90', 'min']));
      } catch (err) {
        console.log(`\nnft costs (${label}): n/a (${err.message})`);
      }
    }

    // 2. data path
    const rows = [];
    await rawPaths(o, rows);
    let pockerError = null;
    try {
      await pockerPaths(o, root, rows);
    } catch (err) {
      pockerError = err.message.split('\n')[0];
    }
    console.log(`\nTCP, node client/server: round trip (median of ${o.rounds} 1-byte ping-pongs) and a ${o.mb} MiB bulk send; median of ${o.repeat}`);
    console.log(table(rows.map(([k, v]) => [k, fmt(v.rttUs, 1), fmt(v.gbps, 2)]), ['path', 'RTT µs', 'Gbit/s']));
    if (pockerError) console.log(`  note: pocker's paths left out: ${pockerError}`);
    console.log(JSON.stringify({
      startup: Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, r2(v.median)])),
      paths: Object.fromEntries(rows.map(([k, v]) => [k, { rttUs: r2(v.rttUs), gbps: r2(v.gbps) }])),
    }));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    sh(pk(root, 'rm', '-f', 'srv'));
    sh(pk(root, 'network', 'rm', 'benchnet'));
    pm?.cleanup();
    rmSync(tmp, { recursive: true, force: true });
    for (const h of cgroupHierarchies()) await removeCgroupDir(join(h, PARENT));
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
