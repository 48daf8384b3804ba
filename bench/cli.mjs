#!/usr/bin/env node
// The CLI's own start-up cost (issue 12: every command ≤ `node -e 0` + 10 ms), interleaved.
//
//   node bench/cli.mjs [--runs 25] [--base DIR] [--only node,version,ps,images,run]
//
// Each round runs every row once, in a rotated order, so a noisy machine hurts all rows alike;
// the medians are compared with the median of `node -e 0` from the same rounds. `--base DIR`
// adds the same rows for another checkout's bin/pocker.cjs (DIR holds bin/, dist/ and
// package.json; several: DIR,DIR), for a before/after in one run. `run` needs root (the built-in `host` image);
// it runs with POCKER_DEFAULT_NETWORK=none unless the environment sets it (no network set-up in the figure).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { timedRun } from './common.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const runs = Number(opt('--runs', '25'));
const bases = opt('--base', null)?.split(',') ?? [];
const only = new Set(opt('--only', 'node,version,ps,images,run').split(','));
process.env.POCKER_DEFAULT_NETWORK ??= 'none';

const empty = mkdtempSync(join(tmpdir(), 'pocker-bench-empty-'));
const roots = [];
const rows = [];
if (only.has('node')) rows.push({ label: 'node -e 0', argv: ['-e', '0'] });
for (const [tag, dir] of [['', REPO], ...bases.map((b) => [`${b.split('/').pop()}: `, b])]) {
  const bin = join(dir, 'bin', 'pocker.cjs');
  if (only.has('version')) rows.push({ label: `${tag}pocker --version`, argv: [bin, '--version'] });
  if (only.has('ps')) rows.push({ label: `${tag}pocker ps (empty root)`, argv: [bin, 'ps', '--root', empty] });
  if (only.has('images')) rows.push({ label: `${tag}pocker images (empty root)`, argv: [bin, 'images', '--root', empty] });
  if (only.has('run') && process.getuid?.() === 0) {
    const root = mkdtempSync(join(tmpdir(), 'pocker-bench-root-'));
    roots.push(root);
    rows.push({ label: `${tag}pocker run --rm host true`, argv: [bin, 'run', '--rm', '--root', root, 'host', 'true'] });
  }
}

const once = (argv) => timedRun([process.execPath, ...argv]);

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
console.log(`${runs} interleaved runs each, Node ${process.version}; wall: spawn to exit (ms), cpu: the process's user+sys (ms)`);
console.log(`${'row'.padEnd(40)}${'wall'.padStart(8)}${'p25'.padStart(8)}${'p75'.padStart(8)}${'− node'.padStart(9)}${'cpu'.padStart(8)}${'− node'.padStart(9)}`);
const nodeWall = node ? median(node.times.map((t) => t.ms)) : null;
const nodeCpu = node ? median(node.times.map((t) => t.cpu)) : null;
const delta = (v, ref) => (ref === null ? '' : `${v - ref >= 0 ? '+' : ''}${(v - ref).toFixed(1)}`);
for (const r of rows) {
  const s = r.times.map((t) => t.ms).sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
  const wall = median(s);
  const cpu = median(r.times.map((t) => t.cpu));
  const ref = r === node;
  console.log(`${r.label.padEnd(40)}${wall.toFixed(1).padStart(8)}${q(0.25).toFixed(1).padStart(8)}${q(0.75).toFixed(1).padStart(8)}` +
    `${(ref ? '' : delta(wall, nodeWall)).padStart(9)}${cpu.toFixed(0).padStart(8)}${(ref ? '' : delta(cpu, nodeCpu)).padStart(9)}`);
}
