// Writes one V8 code cache of the bundled CLI (run by scripts/bundle-cli.mjs, a process per cache,
// stdout on /dev/null): `node scripts/cli-cache.cjs [--out FILE]` writes dist/cli.cjs.v8cache,
// the whole program's (every command without a bundle of its own), after building the whole program once
// (commander objects only, no side effects: every command module is initialized, so the functions
// that build commands are compiled and in the cache); `node scripts/cli-cache.cjs NAME` writes
// dist/cli/NAME.cjs.v8cache, a one-command bundle's, after its warmUp (lib/cli/start.ts: `ps` and
// `images` list an empty temp root, `inspect` inspects a container created there, and `run` runs
// `true` in a real container as root (else only its first part), so that the functions they call
// are in the cache; the others build their program) (issue 12).
// The bundle is compiled and run as bin/pocker.cjs does (its wrapper in the file, read as latin1).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

// `--out FILE` writes the cache there instead (test/integration/cli-docker.test.ts runs the
// warm-up without touching dist/).
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt === -1 ? undefined : args.splice(outAt, 2)[1];
const bundle = args[0];
const file = bundle === undefined ? path.join(__dirname, '..', 'dist', 'cli.cjs') : path.join(__dirname, '..', 'dist', 'cli', `${bundle}.cjs`);

async function main() {
  const script = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  if (bundle === undefined) {
    await mod.exports.programFor(['node', 'pocker'], { env: {}, execute: async () => 0, writeErr: () => {}, exitCode: 0 });
  } else {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pocker-cli-cache-'));
    try {
      // A warm-up that fails (no native addon built yet: `run` loads it) still leaves a valid
      // cache, with fewer functions in it: said, not fatal to the build.
      const code = await mod.exports.warmUp(root);
      if (code !== 0) process.stderr.write(`cli-cache: the warm-up of ${bundle} exited ${code}: its cache holds less\n`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
  fs.writeFileSync(out ?? `${file}.v8cache`, script.createCachedData());
  // The warm-up's CLI leaves a timer (cliMain's grace period): nothing else is left to do.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`cli-cache: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
