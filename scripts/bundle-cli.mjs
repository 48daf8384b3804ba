// Bundles the CLI (lib/cli/main.ts, the runtime it loads, and commander) into one CommonJS file,
// dist/cli.cjs. Start-up is most of a short `pocker run`: one file skips resolving and linking
// some twenty ES modules and commander's CJS-in-ESM wrapper (about 25 ms -> 6 ms here). The
// library (dist/index.js, built by tsc) stays plain ESM.
//
// Then it writes V8's code cache for that file (dist/cli.cjs.v8cache): bin/pocker.cjs compiles the
// bundle with it, so V8 deserializes instead of parsing ~0.5 MB on every run (7-8 ms here). The
// cache belongs to this Node's V8: another version rejects it and the bundle is compiled as usual.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'lib/cli/main.ts')],
  outfile: join(root, 'dist/cli.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The addon loader resolves prebuilds/ or build/ at run time.
  external: ['node-gyp-build'],
  define: { 'import.meta.url': '__pockerModuleUrl' },
  banner: { js: "const __pockerModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // import('node:net') becomes a require: the code-cached script has no dynamic-import loader.
  supported: { 'dynamic-import': false },
  // ASCII only (\uXXXX escapes): the file then reads into a one-byte string, where one line of
  // non-ASCII text made V8 decode the whole bundle into a two-byte string (see bin/pocker.cjs).
  charset: 'ascii',
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: false,
  logLevel: 'warning',
});

// The code cache: compile as bin/pocker.cjs does, run the module's top level and build the
// program once (no side effects: commander objects only), so the functions a run needs first are
// compiled eagerly and land in the cache too.
const file = join(root, 'dist/cli.cjs');
const { readFileSync } = await import('node:fs');
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file });
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
mod.exports.createProgram({ env: {}, execute: async () => 0, writeErr: () => {}, exitCode: 0 });
writeFileSync(`${file}.v8cache`, script.createCachedData());
