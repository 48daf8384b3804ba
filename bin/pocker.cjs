#!/usr/bin/env -S node --
// `--` ends Node's own options: Node 20 otherwise scans the whole command line for `--env-file`
// (the CLI's `run --env-file FILE`) and loads FILE itself, or exits 9 when it cannot.
// The pocker CLI entry: the whole CLI is one bundled file (scripts/bundle-cli.mjs), so a short
// `pocker run` spends its time on the container, not on loading modules. The bundle is one
// function expression (the module wrapper is in the file) of ASCII text: read as latin1, it is
// the one-byte string V8 compiles, never decoded or copied again. It is compiled with the V8 code
// cache written beside it at build time when there is one (a cache of another Node version is
// rejected by V8 and costs nothing but the read). The bundle evaluates a command's modules only
// when that command runs (lib/cli/entry.ts).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const vm = require('node:vm');

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');

function load() {
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.v8cache`);
  } catch {
    // No cache (a build without one): V8 compiles the bundle from its text.
  }
  const script = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
  // For the tests: the cache must match this file and this Node, or it is silently useless.
  if (process.env.POCKER_REPORT_V8CACHE) process.stderr.write(`v8cache rejected=${script.cachedDataRejected}\n`);
  const mod = { exports: {} };
  const { createRequire } = require('node:module');
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

load()
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  });
