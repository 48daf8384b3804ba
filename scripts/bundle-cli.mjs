// Bundles the CLI (lib/cli/entry.ts, the runtime it loads, and commander) into one CommonJS file,
// dist/cli.cjs. Start-up is most of a short `pocker run`: one file skips resolving and linking
// some twenty ES modules and commander's CJS-in-ESM wrapper (about 25 ms -> 6 ms here). The
// library (dist/index.js, built by tsc) stays plain ESM.
//
// The hot commands (ps, run, images, …) get a bundle of their own, dist/cli/NAME.cjs from
// lib/cli/bundles/NAME.ts: the program's shell, commander and that command's modules only, a fifth
// to a half of the whole program (bin/pocker.cjs picks it by the command line's first word).
//
// Then it writes V8's code cache for each file (scripts/cli-cache.cjs: FILE.v8cache, warmed by
// building or running the command's first part): bin/pocker.cjs compiles the bundle with it, so
// V8 deserializes instead of parsing up to ~0.7 MB on every run (7-8 ms here).
// A cache belongs to this Node's V8: another version rejects it and the bundle is compiled as usual.
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// The module wrapper is part of the file, so bin/pocker.cjs hands V8 the file's text as it is read
// (one 0.6 MB string, never concatenated and flattened again: a few ms here). The file is a
// function expression; only bin/pocker.cjs loads it.
export const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {';
export const WRAPPER_TAIL = '\n})';

const { BUNDLES, LAZY_BUILTINS } = createRequire(import.meta.url)('../bin/pocker.cjs');
const bundleNames = [...new Set(Object.values(BUNDLES))];

const options = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The addon loader resolves prebuilds/ or build/ at run time.
  external: ['node-gyp-build'],
  // lib/paths.ts finds the package from __pockerBundleDir in a bundle (import.meta.url is for the
  // ES modules; here it is never read); lib/cli/program.ts's version() is package.json's, as built.
  define: { 'import.meta.url': 'undefined', __pockerVersion: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  banner: { js: `${WRAPPER_HEAD}const __pockerBundleDir = __dirname;` },
  footer: { js: WRAPPER_TAIL },
  // import('node:net') becomes a require: the code-cached script has no dynamic-import loader. And
  // import('./ps.js') becomes a lazily initialized module of the bundle: lib/cli/entry.ts imports
  // only the command that runs, so only its modules are evaluated (issue 12).
  supported: { 'dynamic-import': false },
  // ASCII only (\uXXXX escapes): the file then reads into a one-byte string, where one line of
  // non-ASCII text made V8 decode the whole bundle into a two-byte string (see bin/pocker.cjs).
  charset: 'ascii',
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: false,
  logLevel: 'warning',
};
// The whole program (every command line without a bundle of its own) and the one-command bundles
// (lib/cli/bundles/NAME.ts -> dist/cli/NAME.cjs; bin/pocker.cjs's BUNDLES says which runs which).
await build({ ...options, entryPoints: [join(root, 'lib/cli/entry.ts')], outfile: join(root, 'dist/cli.cjs') });
// A bundle no longer in BUNDLES (and its cache) must not stay in dist/ to be packed.
for (const f of readdirSync(join(root, 'dist/cli'))) {
  const m = /^(.+)\.cjs(\.v8cache)?$/.exec(f);
  if (m && !bundleNames.includes(m[1])) rmSync(join(root, 'dist/cli', f));
}
await build({
  ...options,
  entryPoints: Object.fromEntries(bundleNames.map((name) => [name, join(root, `lib/cli/bundles/${name}.ts`)])),
  outdir: join(root, 'dist/cli'),
  outExtension: { '.js': '.cjs' },
});

for (const file of [join(root, 'dist/cli.cjs'), ...bundleNames.map((name) => join(root, `dist/cli/${name}.cjs`))]) checkBundle(file);

function checkBundle(file) {
const text = readFileSync(file, 'latin1');
// bin/pocker.cjs reads the file as latin1: that is its text only when every byte is ASCII.
const nonAscii = /[^\x00-\x7f]/.exec(text);
if (nonAscii) throw new Error(`${file}: a non-ASCII character at offset ${nonAscii.index} (esbuild's charset: 'ascii' leaves it): escape it in the source`);
// bin/pocker.cjs hands the bundle a stand-in object for each of its lazy built-ins. A module whose
// exports are a function (node:stream's are the Stream constructor) must then be used only by
// reading a property (`import_node_stream.PassThrough`, at the call site): never as a value (a
// default or namespace import, `__toESM(require("node:stream"))`), where the stand-in would not be it.
for (const name of LAZY_BUILTINS) {
  if (typeof createRequire(import.meta.url)(`node:${name}`) !== 'function') continue;
  for (const m of text.matchAll(new RegExp(`(.)require\\("node:${name}"\\)`, 'g'))) {
    const binding = m[1] === '=' ? /([\w$]+)=$/.exec(text.slice(Math.max(0, m.index - 60), m.index + 1))?.[1] : undefined;
    if (!binding) throw new Error(`${file}: node:${name} is not bound to a variable at offset ${m.index} (bin/pocker.cjs gives a stand-in for it)`);
    for (const use of text.matchAll(new RegExp(`(.)${binding.replace(/\$/g, '\\$')}(?![\\w$])(.)`, 'g'))) {
      if (/[\w$.]/.test(use[1])) continue; // another name that ends with this one
      const end = use.index + use[0].length;
      const assigned = use[2] === '=' && text.startsWith(`require("node:${name}")`, end);
      const declared = assigned || ((use[1] === ',' || use[1] === ' ') && /[,;]/.test(use[2]));
      if (use[2] !== '.' && !declared) throw new Error(`${file}: ${binding} (node:${name}) is used other than by reading a property at offset ${use.index}`);
    }
  }
}
}
// The code caches (scripts/cli-cache.cjs), each written by a process of its own: V8 keeps what one
// compile made for the next compile of the same text in a process, so a second cache made here
// would hold the first one's functions too.
for (const name of ['', ...bundleNames]) {
  execFileSync(process.execPath, [join(root, 'scripts/cli-cache.cjs'), ...(name ? [name] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
}
