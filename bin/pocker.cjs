#!/usr/bin/env -S node --
// `--` ends Node's own options: Node 20 otherwise scans the whole command line for `--env-file`
// (the CLI's `run --env-file FILE`) and loads FILE itself, or exits 9 when it cannot.
// The pocker CLI entry: the whole CLI is one bundled CommonJS file (scripts/bundle-cli.mjs), so a
// short `pocker run` spends its time on the container, not on loading modules. The bundle is
// compiled with the V8 code cache written beside it at build time when there is one (a cache of
// another Node version is rejected by V8 and costs nothing but the read).
'use strict';
const path = require('node:path');

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');

function load() {
  const fs = require('node:fs');
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.v8cache`);
  } catch {
    return require(file);
  }
  const vm = require('node:vm');
  const { createRequire } = require('node:module');
  const source = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, 'utf8')}\n})`;
  const script = new vm.Script(source, { filename: file, cachedData });
  // For the tests: the cache must match this wrapper and this Node, or it is silently useless.
  if (process.env.POCKER_REPORT_V8CACHE) process.stderr.write(`v8cache rejected=${script.cachedDataRejected}\n`);
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

load()
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  });
