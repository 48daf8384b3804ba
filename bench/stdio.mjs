#!/usr/bin/env node
// stdio throughput of a foreground container: `pocker run --rm host cat BIGFILE | dd of=/dev/null`.
// The container's stdout is a pipe the monitor (pocker-init) relays to the caller's fd with
// splice(2) (issue 10, finding 3); before, the caller's pipe itself was handed to the container.
//
//   npm run bench:stdio [-- --size 2G --rounds 5 --before /path/to/older/pocker --no-json]
//
// Cases, interleaved round by round (median, min and max reported):
//   host      cat FILE | dd            the machine's own pipe ceiling (no container)
//   relay     this checkout's CLI      container -> pipe -> monitor (splice) -> caller's pipe -> dd
//   before    --before DIR's CLI       (e.g. a build of main at 141b18b) the caller's pipe in the container
//   start     this checkout's CLI      `run --rm host true`: start-up, included in the two above
//
// Root only. Everything lives in one temp dir (the file, the pocker root) or under the
// `pocker-bench-stdio` cgroup parent, removed at the end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, openSync, closeSync, ftruncateSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroupHierarchies, fmt, removeCgroupDir, summarize, table } from './common.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CGROUP_PARENT = 'pocker-bench-stdio';

function parseArgs(argv) {
  const o = { size: 2 * 1024 ** 3, rounds: 5, before: existsSync('/work/base/bin/pocker.cjs') ? '/work/base' : null, json: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? die(`${a} needs a value`);
    if (a === '--size') {
      const m = /^(\d+)([KMG]?)$/i.exec(next()) ?? die('--size: N, NK, NM or NG');
      o.size = Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
    } else if (a === '--rounds') o.rounds = Math.max(1, Number(next()) | 0);
    else if (a === '--before') o.before = next();
    else if (a === '--no-before') o.before = null;
    else if (a === '--no-json') o.json = false;
    else die(`unknown option ${a}`);
  }
  return o;
}

function die(msg) {
  process.stderr.write(`bench/stdio: ${msg}\n`);
  process.exit(2);
}

/** Runs `sh -c script` (a pipeline ending in dd); resolves with seconds and the bytes dd counted. */
function timed(script) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${script}: exit ${code}\n${err}`));
      const m = /^(\d+) bytes/m.exec(err);
      resolvePromise({ s, bytes: m ? Number(m[1]) : 0, out });
    });
  });
}

async function main() {
  if (process.getuid?.() !== 0) die('must run as root');
  const o = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-stdio-'));
  const root = join(tmp, 'root');
  mkdirSync(root);
  const file = join(tmp, 'big');
  const cleanup = async () => {
    rmSync(tmp, { recursive: true, force: true });
    for (const h of cgroupHierarchies()) await removeCgroupDir(join(h, CGROUP_PARENT));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    // A sparse file reads as zeros from the page cache: the disk is not what is measured.
    const fd = openSync(file, 'w');
    ftruncateSync(fd, o.size);
    closeSync(fd);
    const cli = (dir) => `node ${join(dir, 'bin', 'pocker.cjs')} run --rm --root ${root} --cgroup-parent ${CGROUP_PARENT} host`;
    const dd = 'dd of=/dev/null bs=1M';
    const cases = [
      { key: 'host', what: 'cat FILE | dd (no container)', script: `cat ${file} | ${dd}` },
      { key: 'relay', what: 'pocker run --rm host cat FILE | dd (relay, this checkout)', script: `${cli(REPO)} cat ${file} | ${dd}` },
      ...(o.before
        ? [{ key: 'before', what: `pocker run --rm host cat FILE | dd (pass-through, ${o.before})`, script: `${cli(o.before)} cat ${file} | ${dd}` }]
        : []),
    ];
    const start = `${cli(REPO)} true`;
    await timed(`cat ${file} > /dev/null; ${start} 2>&1 | ${dd}`); // warm the page cache and the image
    const samples = Object.fromEntries(cases.map((c) => [c.key, []]));
    samples.start = [];
    for (let r = 0; r < o.rounds; r++) {
      for (const c of r % 2 ? [...cases].reverse() : cases) {
        const res = await timed(c.script);
        if (res.bytes !== o.size) throw new Error(`${c.key}: dd counted ${res.bytes} bytes, expected ${o.size}`);
        samples[c.key].push(res.s);
        process.stderr.write(`round ${r + 1}/${o.rounds} ${c.key}: ${fmt(o.size / res.s / 1e9)} GB/s (${fmt(res.s)} s)\n`);
      }
      samples.start.push((await timed(`${start} | ${dd}`)).s * 1000);
    }
    // GB/s from spawn to exit, and net of the start-up (the median `run --rm host true`).
    const st = summarize(samples.start);
    const gbps = (s) => o.size / s / 1e9;
    const rows = cases.map((c) => {
      const raw = summarize(samples[c.key].map(gbps));
      const net = summarize(samples[c.key].map((s) => gbps(c.key === 'host' ? s : Math.max(s - st.median / 1000, 1e-3))));
      return [c.key, fmt(raw.median), fmt(raw.min), fmt(raw.max), fmt(net.median), c.what];
    });
    rows.push(['start', `${fmt(st.median, 0)} ms`, `${fmt(st.min, 0)} ms`, `${fmt(st.max, 0)} ms`, '', 'pocker run --rm host true (included in the raw figures)']);
    process.stdout.write(`stdio throughput, ${fmt(o.size / 1024 ** 3)} GiB, ${o.rounds} rounds, GB/s (1e9 bytes/s) from spawn to exit; net: minus the median start\n`);
    process.stdout.write(table(rows, ['case', 'median', 'min', 'max', 'net median', 'what']) + '\n');
    const facts = { date: new Date().toISOString(), kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg() };
    process.stdout.write(`kernel ${facts.kernel}, ${facts.cpus} CPUs, load average ${loadavg().map((x) => fmt(x)).join(' ')}\n`);
    if (o.json) {
      const dir = join(REPO, 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `stdio-${facts.date.replace(/[:.]/g, '-')}.json`);
      writeFileSync(out, JSON.stringify({ facts, options: o, samples }, null, 2));
      process.stderr.write(`wrote ${out}\n`);
    }
  } finally {
    await cleanup();
  }
}

await main();
