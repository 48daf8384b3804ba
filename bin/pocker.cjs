#!/usr/bin/env node
// The pocker CLI entry: the whole CLI is one bundled CommonJS file (scripts/bundle-cli.mjs), so a
// short `pocker run` spends its time on the container, not on loading modules.
'use strict';
require('../dist/cli.cjs')
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  });
