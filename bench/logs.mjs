#!/usr/bin/env node
// pocker logs benchmark (issue 9): how fast and in how much memory `pocker logs` answers on a large
// json-file log, and how many lines per second `logs -f` follows across rotations without losing one.
//
//   npm run bench:logs [-- --size-mb 1024 --follow-lines 2000000 --no-full --pocker /work/base/bin/pocker.cjs --no-json]
//
// 1. A detached `host` container writes a log of --size-mb MB (`--log-opt max-size=-1`: one file):
//    the monitor's write throughput.
// 2. `pocker logs --tail 10` on it, next to `tail -n 10` of the file: time and peak RSS (GNU time's
//    %M, or the CLI's own process.resourceUsage() when /usr/bin/time is missing).
// 3. `pocker logs` of the whole log to /dev/null (unless --no-full): time and peak RSS.
// 4. A follower (`logs -f`) started before a container writes --follow-lines lines with
//    `max-size=1m max-file=3` (the setup): lines/s and lines lost (each line is checked).
//
// Must run as root. Needs dist/ and the native addon. Everything lives in one temp dir (--root) and
// under the `pocker-bench` cgroup parent; the containers are removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cgroupHierarchies, fmt, removeCgroupDir, table } from './common.mjs';

/** Its own cgroup parent, removed at the end (other benches may use `pocker-bench` meanwhile). */
const CGROUP_PARENT = 'pocker-bench-logs';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    'follow-lines': { type: 'string', default: '2000000' },
    'no-full': { type: 'boolean', default: false },
    pocker: { type: 'string', default: join(REPO, 'bin', 'pocker.cjs') },
    'no-json': { type: 'boolean', default: false },
  },
});
const sizeMb = Number(opt['size-mb']);
const followLines = Number(opt['follow-lines']);
if (!(sizeMb >= 0) || !Number.isInteger(followLines) || followLines < 0) {
  process.stderr.write('usage: node bench/logs.mjs [--size-mb N] [--follow-lines N] [--no-full] [--pocker PATH] [--no-json]\n');
  process.exit(2);
}
if (process.getuid() !== 0) {
  process.stderr.write('bench:logs must run as root\n');
  process.exit(2);
}

const log = (m) => process.stderr.write(`${m}\n`);
const tmp = mkdtempSync(join(tmpdir(), 'pocker-bench-logs-'));
const root = join(tmp, 'root');
const sig = join(tmp, 'sig');
mkdirSync(sig);
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const pk = (...args) => spawnSync(process.execPath, [opt.pocker, '--root', root, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
const cleanup = async () => {
  const ids = pk('ps', '-aq', '--no-trunc').stdout.split('\n').filter(Boolean);
  if (ids.length) pk('rm', '-f', ...ids);
  rmSync(tmp, { recursive: true, force: true });
  for (const h of cgroupHierarchies()) await removeCgroupDir(join(h, CGROUP_PARENT));
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

/** Runs argv with stdout to /dev/null: seconds and peak RSS (MB). */
function measure(argv) {
  const t0 = process.hrtime.bigint();
  const rssFile = join(tmp, 'rss');
  const r = gnuTime
    ? spawnSync(gnuTime, ['-f', '%M', '-o', rssFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
    : spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  let rssMb = null;
  if (gnuTime) rssMb = Number(spawnSync('cat', [rssFile], { encoding: 'utf8' }).stdout.trim()) / 1024;
  return { s, rssMb };
}

function runD(...args) {
  const r = pk('run', '-d', '--cgroup-parent', CGROUP_PARENT, ...args);
  if (r.status !== 0) throw new Error(`run -d: ${r.stderr}`);
  return r.stdout.trim();
}

const results = { date: new Date().toISOString(), pocker: opt.pocker, sizeMb, followLines };
try {
  // 1. The big log (--size-mb 0: none). A line of 100 characters makes a 171-byte entry.
  if (sizeMb > 0) {
  const outputBytes = Math.round((sizeMb * 1024 * 1024 * 101) / 171);
  log(`writing a ${sizeMb} MB log (${Math.round(outputBytes / 1e6)} MB of output)…`);
  const t0 = process.hrtime.bigint();
  runD('--name', 'big', '--log-opt', 'max-size=-1', 'host', 'sh', '-c', `yes ${'y'.repeat(99)} | head -c ${outputBytes}`);
  if (pk('wait', 'big').stdout.trim() !== '0') throw new Error('the writer failed');
  const writeS = Number(process.hrtime.bigint() - t0) / 1e9;
  const file = JSON.parse(pk('inspect', 'big').stdout)[0].LogPath;
  const bytes = statSync(file).size;
  results.write = { bytes, s: writeS, mbPerS: bytes / 1048576 / writeS };

  // 2. --tail 10, and tail -n 10 of the same file.
  log('logs --tail 10…');
  results.tail = measure([process.execPath, opt.pocker, '--root', root, 'logs', '--tail', '10', 'big']);
  results.coreutilsTail = measure(['tail', '-n', '10', file]);
  // 3. The whole log.
  if (!opt['no-full']) {
    log('logs (all of it) > /dev/null…');
    results.full = measure([process.execPath, opt.pocker, '--root', root, 'logs', 'big']);
    results.full.mbPerS = bytes / 1048576 / results.full.s;
  }
  pk('rm', '-f', 'big');
  }

  // 4. The follower.
  if (followLines > 0) {
    log(`logs -f while a container writes ${followLines} lines (max-size=1m max-file=3)…`);
    runD('--name', 'fol', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=3', '-v', `${sig}:/sig`, 'host', 'sh', '-c',
      `echo 0; while [ ! -e /sig/go ]; do sleep 0.02; done; seq 1 ${followLines}`);
    const child = spawn(process.execPath, [opt.pocker, '--root', root, 'logs', '-f', 'fol'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let expect = 0;
    let got = 0;
    let lost = 0;
    let outOfOrder = 0;
    let rest = '';
    let started = null;
    const done = new Promise((res) => child.on('exit', res));
    child.stdout.on('data', (d) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop();
      for (const p of parts) {
        const n = Number(p);
        if (n === 0 && started === null) {
          started = process.hrtime.bigint();
          writeFileSync(join(sig, 'go'), '');
        }
        got++;
        if (n > expect) {
          lost += n - expect;
          if (process.env.BENCH_GAPS) log(`gap: ${expect}..${n - 1}`);
        }
        else if (n < expect) outOfOrder++;
        expect = n + 1;
      }
    });
    await done;
    lost += followLines + 1 - expect;
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    results.follow = { lines: followLines, received: got - 1, lost, outOfOrder, s, linesPerS: (got - 1) / s };
  }
} finally {
  await cleanup();
}

const rows = [];
const w = results.write;
if (w) {
  rows.push(['monitor writes the log', `${fmt(w.bytes / 1048576, 0)} MB`, fmt(w.s), '', `${fmt(w.mbPerS, 1)} MB/s`]);
  rows.push(['pocker logs --tail 10', '', fmt(results.tail.s, 3), fmt(results.tail.rssMb, 1), '']);
  rows.push(['tail -n 10 (coreutils)', '', fmt(results.coreutilsTail.s, 3), fmt(results.coreutilsTail.rssMb, 1), '']);
}
if (results.full) rows.push(['pocker logs (all) > /dev/null', '', fmt(results.full.s), fmt(results.full.rssMb, 1), `${fmt(results.full.mbPerS, 1)} MB/s`]);
if (results.follow) {
  const f = results.follow;
  rows.push(['logs -f across rotations (1m x 3)', `${f.received}/${f.lines} lines`, fmt(f.s), '', `${Math.round(f.linesPerS)} lines/s, ${f.lost} lost`]);
}
process.stdout.write(`${table(rows, ['', 'size', 'seconds', 'peak RSS MB', 'rate'])}\n`);
if (!opt['no-json']) {
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `logs-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${out}`);
}
