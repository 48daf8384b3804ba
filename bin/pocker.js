#!/usr/bin/env node
// The pocker CLI entry. Loads only the compiled CLI; commands import the runtime (and the native
// addon) lazily, so `pocker --version` stays fast.
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 125;
});
