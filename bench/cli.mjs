#!/usr/bin/env node
// The CLI's own start-up cost (issue 12: every command ≤ `node -e 0` + 10 ms), interleaved.
//
//   node bench/cli.mjs [--runs 25] [--base DIR] [--only node,version,ps,run]
//
// Each round runs every row once, in a rotated order, so a noisy machine hurts all rows alike;
// the medians are compared with the median of `node -e 0` from the same rounds. `--base DIR`
// adds the same rows for another checkout's bin/pocker.cjs (DIR holds bin/, dist/ and
// package.json), for a before/after in one run. `run` needs root (the built-in `host` image).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const runs = Number(opt('--runs', '25'));
const base = opt('--base', null);
const only = new Set(opt('--only', 'node,version,ps,run').split(','));

const empty = mkdtempSync(join(tmpdir(), 'pocker-bench-empty-'));
const roots = [];
const rows = [];
if (only.has('node')) rows.push({ label: 'node -e 0', argv: ['-e', '0'] });
for (const [tag, dir] of [['', REPO], ...(base ? [['base ', base]] : [])]) {
  const bin = join(dir, 'bin', 'pocker.cjs');
  if (only.has('version')) rows.push({ label: `${tag}pocker --version`, argv: [bin, '--version'] });
  if (only.has('ps')) rows.push({ label: `${tag}pocker ps (empty root)`, argv: [bin, 'ps', '--root', empty] });
  if (only.has('run') && process.getuid?.() === 0) {
    const root = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
    roots.push(root);
    rows.push({ label: `${tag}pocker run --rm host true`, argv: [bin, 'run', '--rm', '--root', root, 'host', 'true'] });
  }
}

function once(argv) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${argv.join(' ')}: exit ${code}: ${err}`));
      else resolve(ms);
    });
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
    await once(r.argv); // warm-up: page cache, code cache
  }
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < rows.length; j++) {
      const r = rows[(i + j) % rows.length];
      r.times.push(await once(r.argv));
    }
  }
} finally {
  rmSync(empty, { recursive: true, force: true });
  for (const root of roots) rmSync(root, { recursive: true, force: true });
}

const node = rows.find((r) => r.label === 'node -e 0');
const nodeMed = node ? median(node.times) : null;
console.log(`${runs} interleaved runs each, Node ${process.version}`);
console.log(`${'row'.padEnd(34)}${'median'.padStart(9)}${'p25'.padStart(9)}${'p75'.padStart(9)}   − node -e 0`);
for (const r of rows) {
  const s = [...r.times].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
  const med = median(r.times);
  const diff = nodeMed === null || r === node ? '' : `${med - nodeMed >= 0 ? '+' : ''}${(med - nodeMed).toFixed(1)} ms`;
  console.log(`${r.label.padEnd(34)}${med.toFixed(1).padStart(9)}${q(0.25).toFixed(1).padStart(9)}${q(0.75).toFixed(1).padStart(9)}   ${diff}`);
}
