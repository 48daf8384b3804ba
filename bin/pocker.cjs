#!/usr/bin/env -S node --
// `--` ends Node's own options: Node 20 otherwise scans the whole command line for `--env-file`
// (the CLI's `run --env-file FILE`) and loads FILE itself, or exits 9 when it cannot.
// The pocker CLI entry: the CLI is bundled (scripts/bundle-cli.mjs): one file for the whole
// program, and one per hot command (BUNDLES below), so a short `pocker run` spends its time on the
// container, not on loading modules. One process loads one bundle. The bundle is one
// function expression (the module wrapper is in the file) of ASCII text: read as latin1, it is
// the one-byte string V8 compiles, never decoded or copied again. It is compiled with the V8 code
// cache written beside it at build time when there is one (a cache of another Node version is
// rejected by V8 and costs nothing but the read). The bundle evaluates a command's modules only
// when that command runs (lib/cli/entry.ts).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const vm = require('node:vm');

const dist = path.join(__dirname, '..', 'dist');

// Node's built-in modules that cost milliseconds to load (node:crypto ~7 ms here, node:tty and
// node:net ~5 ms, node:fs/promises ~3 ms, node:module ~0.6 ms: it loads the ES module loader) and
// that most commands never call: the bundle gets each
// as a stand-in that loads the real module on first use (a property read, `in`, or listing its
// keys). esbuild's CommonJS output reads imports as properties at the call site
// (`import_node_crypto.randomBytes(6)`), so `pocker ps` no longer loads crypto just because a
// module it imports could make an id. A feature test (`typeof zlib.createZstdDecompress`) reads
// the real module. node:stream too (~3 ms): its exports are the Stream constructor, which a
// stand-in object cannot be, so scripts/bundle-cli.mjs fails the build when the bundle uses any of
// these modules other than by reading a property (`import_node_stream.PassThrough`): a default or
// namespace import would get the stand-in itself.
const LAZY_BUILTINS = new Set([
  'async_hooks', 'child_process', 'crypto', 'dgram', 'dns', 'fs/promises', 'http', 'https', 'module', 'net', 'readline',
  'stream', 'stream/promises', 'timers/promises', 'tty', 'worker_threads', 'zlib',
]);

function lazyBuiltin(load) {
  let real;
  const mod = () => (real ??= load());
  return new Proxy({}, {
    get: (_, key) => mod()[key],
    has: (_, key) => key in mod(),
    ownKeys: () => Reflect.ownKeys(mod()),
    // Reported configurable: the stand-in itself has no such property (a Proxy invariant).
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(mod(), key);
      return d && { ...d, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(mod()),
  });
}

/**
 * The bundle's require: the lazy built-ins above are stand-ins, anything else is loaded at once.
 * It is this file's own require: a bundle requires only Node's built-in modules (absolute paths
 * otherwise), which resolve the same from here. node:module's createRequire is not used: loading
 * it loads Node's ES module loader and source-map support (~0.6 ms of every start here).
 */
function bundleRequire() {
  const real = require;
  const lazy = new Map();
  const req = (id) => {
    const name = id.startsWith('node:') ? id.slice(5) : id;
    if (!LAZY_BUILTINS.has(name)) return real(id);
    let m = lazy.get(name);
    if (!m) lazy.set(name, (m = lazyBuiltin(() => real(`node:${name}`))));
    return m;
  };
  return Object.assign(req, { resolve: real.resolve, cache: real.cache, main: real.main });
}

/**
 * The commands with a bundle of their own (dist/cli/NAME.cjs, from lib/cli/bundles/NAME.ts by
 * scripts/bundle-cli.mjs): the program's shell, commander, and the modules of these commands only
 * (`ps` reads and compiles ~240 KB instead of ~760 KB, and its top level makes that many fewer
 * closures). Each has its own code cache, warmed with its command (scripts/cli-cache.cjs). Only
 * the commands run often and short get one: each bundle repeats the shared code and has its own
 * cache (~0.3-0.85 MB in the package), which a rarely used command (pull, volume, network, …) does
 * not earn back; any other command line gets the whole program, dist/cli.cjs (bench/cli.mjs, issue
 * 12). `containers` serves what scripts run around `run` (stop, kill, wait, rm), its cache warmed
 * by running them; `inspect` has its own, smaller one (warmed by inspecting a created container);
 * `create` serves `create` and `start`/`restart`/`attach` (node + 45 -> + 30 ms for `create`, -11 ms
 * for `start`), apart from `run`'s, which start's attach code would make larger for every run. One
 * process loads one bundle, so a module duplicated across bundles still exists once in it
 * (`instanceof PockerError` holds).
 */
const BUNDLES = {
  ps: 'ps',
  run: 'run',
  create: 'create', start: 'create', restart: 'create', attach: 'create',
  exec: 'exec',
  logs: 'logs',
  inspect: 'inspect',
  stop: 'containers', kill: 'containers', wait: 'containers', rm: 'containers',
  images: 'images', rmi: 'images', tag: 'images', history: 'images', login: 'images', logout: 'images',
};

/**
 * The addon, loaded here, before the bundle, to read the bundle and its cache (readFileLatin1,
 * readFileBytes: into memory the kernel populates in one call, and the text as an external string
 * that V8 does not copy into its heap). Reading them with fs cost twice the pages, each a page
 * fault (~10 µs each on the virtual machines CI runs on): 5.3 ms for `run`'s bundle and cache
 * here, against ~1.5 (and a run loads the addon anyway). The addon is registered where lib/native.ts's loadAddon looks
 * (Symbol.for('pocker.native.loaded'), by the same path), so the bundle does not load it again.
 * Its two usual places only, as lib/native.ts's addonPath() looks first; without one of them
 * (an install that has neither yet), or on an error, undefined: the bundle is read with fs.
 */
function addonReader() {
  const root = path.join(__dirname, '..');
  for (const dir of [path.join(root, 'build', 'Release'), path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)]) {
    const file = path.join(dir, 'pocker.node');
    if (!fs.existsSync(file)) continue;
    try {
      const registry = (globalThis[Symbol.for('pocker.native.loaded')] ??= new Map());
      let addon = registry.get(file);
      if (!addon) {
        const mod = { exports: {} };
        process.dlopen(mod, file);
        addon = mod.exports;
        registry.set(file, addon);
      }
      return typeof addon.readFileLatin1 === 'function' && typeof addon.readFileBytes === 'function' ? addon : undefined;
    } catch {
      return undefined; // lib/native.ts says why the addon does not load, if the command needs it
    }
  }
  return undefined;
}

/** Compiles and runs the bundle `file` (with FILE.v8cache when there is one): its exports. */
function load(file) {
  const addon = addonReader();
  let cachedData;
  try {
    cachedData = addon ? addon.readFileBytes(`${file}.v8cache`) : fs.readFileSync(`${file}.v8cache`);
  } catch {
    // No cache (a build without one): V8 compiles the bundle from its text.
  }
  const source = addon ? addon.readFileLatin1(file) : fs.readFileSync(file, 'latin1');
  const script = new vm.Script(source, { filename: file, cachedData });
  // For the tests: the cache must match this file and this Node, or it is silently useless.
  if (process.env.POCKER_REPORT_V8CACHE) process.stderr.write(`v8cache rejected=${script.cachedDataRejected}\n`);
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, bundleRequire(), mod, file, path.dirname(file));
  return mod.exports;
}

/**
 * The first word of the command line after the global options (`--root DIR`, `--root=DIR`, `-D`,
 * `--debug`), skipped as lib/cli/commands.ts's commandToRun() skips them (the unit test cli-lazy
 * compares the two on the same command lines), or undefined.
 */
function firstWord(argv) {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--root') {
      if (i + 1 >= argv.length) return undefined;
      i++;
    } else if (arg !== '-D' && arg !== '--debug' && !arg.startsWith('--root=')) {
      return arg;
    }
  }
  return undefined;
}

/**
 * `pocker [GLOBAL OPTIONS] -v|--version …`: the version is package.json's, printed as commander
 * prints it, without reading or compiling the bundle (~15 ms here, most of what `--version` cost).
 * Anything else goes to the bundle.
 */
function versionAsked(argv) {
  const word = firstWord(argv);
  return word === '-v' || word === '--version';
}

function cli() {
  if (versionAsked(process.argv)) {
    process.stdout.write(`${JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version}\n`);
    return;
  }
  const word = firstWord(process.argv);
  const bundle = Object.hasOwn(BUNDLES, word ?? '') ? BUNDLES[word] : undefined;
  // A one-command bundle declines (undefined, having done nothing) a line it does not run.
  const done = (bundle && load(path.join(dist, 'cli', `${bundle}.cjs`)).main(process.argv)) || load(path.join(dist, 'cli.cjs')).main(process.argv);
  done.then(
    // The command has ended (cliMain set process.exitCode) and nothing keeps the loop alive: end
    // now. A natural end would first tear down Node's environment and V8's heap, which nothing
    // here needs (~0.85 ms of every command on the CI VMs); 'exit' listeners still run. With a
    // handle left open, cliMain's grace timer ends the process as before.
    () => {
      if (process.getActiveResourcesInfo().length === 0) process.exit();
    },
    (err) => {
      process.stderr.write(`pocker: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 125;
    },
  );
}

// Run as the `pocker` command; required (test/unit/cli-lazy.test.ts, scripts/bundle-cli.mjs), it
// only gives versionAsked, firstWord, BUNDLES and LAZY_BUILTINS.
if (require.main === module) cli();
else module.exports = { versionAsked, firstWord, BUNDLES, LAZY_BUILTINS };
