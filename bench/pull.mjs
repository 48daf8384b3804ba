#!/usr/bin/env node
// pocker pull benchmark: pull + unpack of one multi-layer image from a registry on 127.0.0.1, by
// pocker (the library's pull() and the CLI), by `skopeo copy` + `umoci unpack`, and by `podman
// pull`, interleaved round-robin in one run.
//
//   npm run bench:pull [-- --rounds 3 --size 150 --only lib,cli,umoci,podman --dir /dev/shm --no-json]
//
// Must run as root (extraction keeps owners; podman's rootful store). Needs dist/ (`npm run
// build:ts`), the native addon, docker-registry, skopeo and umoci; podman is optional. No network:
// the image is built from files of this host (/usr) and pushed to a docker-registry this script
// starts. See README.md ("Pull benchmark").
//
// Everything it creates lives in one temp dir (registry storage, the image, every tool's output)
// and is removed at the end, also on SIGINT/SIGTERM/SIGHUP. It only kills processes it started.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync,
  statSync, symlinkSync, linkSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createGzip } from 'node:zlib';

// No bridge on this machine's network from a bench (pocker's default network is bridge).
process.env.POCKER_DEFAULT_NETWORK ??= 'none';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REGISTRY_BIN = '/usr/bin/docker-registry';
const REPO_TAG = 'bench/pull:1';
/** Host paths where podman keeps network state by default. */
const HOST_STATE = ['/run/containers', '/etc/containers/networks', '/var/lib/cni', '/dev/shm/libpod_lock', '/run/libpod'];

const TARGET_DEFS = [
  { key: 'lib', label: 'pocker pull() (library, warm process)' },
  { key: 'cli', label: 'pocker pull (CLI)' },
  { key: 'umoci', label: 'skopeo copy + umoci unpack' },
  { key: 'podman', label: 'podman pull (overlay store)' },
];

// ---------------------------------------------------------------------------------------------
// options

const USAGE = `usage: node bench/pull.mjs [options]
  --rounds N      timed pulls per tool, interleaved round-robin (default 3; the median is reported)
  --size MB       host files in layers 1-4 (default 150; layer 5 adds ~26 MB)
  --only LIST     comma-separated subset of: ${TARGET_DEFS.map((t) => t.key).join(',')}
  --dir DIR       where the registry, the image and every pull's output go (default: $TMPDIR or /tmp)
  --cpu-prof DIR  after the rounds, one more (untimed) pull() in a fresh node --cpu-prof process;
                  the profile is written to DIR and summarized (self time by function)
  --no-json       do not write bench/results/pull-<date>.json`;

function parseArgs(argv) {
  const o = { rounds: 3, size: 150, only: null, json: true, dir: tmpdir(), cpuProf: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const val = () => inline ?? argv[++i] ?? die(`${flag} needs a value\n${USAGE}`);
    const int = (min) => {
      const v = val();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) die(`${flag}: expected an integer ≥ ${min}, got ${v}`);
      return n;
    };
    switch (flag) {
      case '--rounds': o.rounds = int(1); break;
      case '--size': o.size = int(10); break;
      case '--only': o.only = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--dir': o.dir = resolve(val()); break;
      case '--cpu-prof': o.cpuProf = resolve(val()); break;
      case '--no-json': o.json = false; break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: die(`unknown option ${a}\n${USAGE}`);
    }
  }
  const bad = (o.only ?? []).filter((k) => !TARGET_DEFS.some((t) => t.key === k));
  if (bad.length) die(`--only: unknown target(s) ${bad.join(', ')}\n${USAGE}`);
  return o;
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const log = (s) => process.stderr.write(`${s}\n`);
const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const now = () => process.hrtime.bigint();
const sec = (t0, t1) => Number(t1 - t0) / 1e9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
}

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { status: r.status, stdout: (r.stdout ?? '').trim(), stderr: (r.stderr ?? '').trim(), error: r.error };
}

function onPath(cmd) {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && existsSync(join(d, cmd)));
}

// ---------------------------------------------------------------------------------------------
// bookkeeping: the children this script started, the temp dir, an abort for the in-process pull

const children = new Set();
let TMP = null;
let stopping = false; // set by cleanup(): nothing new is started after that
const abort = new AbortController();

/** Spawns argv (stdout/stderr collected); resolves with the time from spawn() to 'close' and the status. */
function timedSpawn(argv, env) {
  if (stopping) return Promise.resolve({ s: NaN, code: null, out: 'stopped' });
  return new Promise((res) => {
    const t0 = now();
    let out = '';
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    children.add(child);
    child.stdout.on('data', (d) => { if (out.length < 4000) out += d; });
    child.stderr.on('data', (d) => { if (out.length < 4000) out += d; });
    child.on('error', (err) => { children.delete(child); res({ s: NaN, code: null, out: String(err.message) }); });
    child.on('close', (code, signal) => {
      children.delete(child);
      res({ s: sec(t0, now()), code: signal ? signal : code, out: out.trim() });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the registry: docker-registry on a free 127.0.0.1 port, storage in the temp dir

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function startRegistry(dir) {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1', 'log:', '  level: warn', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`,
    'http:', `  addr: ${host}`, '  secret: pocker-bench', '',
  ].join('\n'));
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.on('exit', () => children.delete(child));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited:\n${output}`);
    try {
      const r = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      if (r.status === 200) return { host, child, log: () => output };
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host}:\n${output}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// the image: 5 gzip layers built with GNU tar from this host's /usr, as an OCI layout
//
// Layers 1-4 are real directory trees (shared libraries, locales and zoneinfo, headers and Python,
// docs), each cut at a byte budget; layer 5 is staged: Mesa's hard-linked DRI drivers (one 25 MB
// inode, many names), a few hundred symlinks, whiteouts of layer-2 files and an opaque directory.

const HOST_LAYERS = [
  { share: 0.3, maxFile: 8 << 20, roots: ['usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib'] },
  { share: 0.2, roots: ['usr/share/locale', 'usr/share/zoneinfo', 'usr/share/i18n'] },
  { share: 0.25, roots: ['usr/include', 'usr/lib/python3', 'usr/share/perl', 'usr/share/perl5'] },
  { share: 0.15, roots: ['usr/share/doc', 'usr/share/man'] },
];

/** Root-relative paths (parents first, sorted) of the trees under `roots`, up to `budget` bytes of file content. */
function selectTree(roots, budget, maxFile = Infinity) {
  const paths = [];
  const seenDirs = new Set();
  let bytes = 0;
  const addParents = (rel) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!seenDirs.has(p)) { seenDirs.add(p); paths.push(p); }
    }
  };
  const walk = (rel) => {
    if (bytes >= budget) return;
    let st;
    try { st = lstatSync(`/${rel}`); } catch { return; }
    if (st.isDirectory()) {
      if (seenDirs.has(rel)) { /* listed as a parent already */ } else { seenDirs.add(rel); paths.push(rel); }
      let names;
      try { names = readdirSync(`/${rel}`).sort(); } catch { return; }
      for (const n of names) walk(`${rel}/${n}`);
    } else if (st.isSymbolicLink()) {
      paths.push(rel);
    } else if (st.isFile() && st.size <= maxFile && bytes + st.size <= budget) {
      paths.push(rel);
      bytes += st.size;
    }
  };
  for (const r of roots) {
    if (bytes >= budget || !existsSync(`/${r}`)) continue;
    addParents(r);
    walk(r);
  }
  return { paths, bytes };
}

/** Hashes what goes through. */
class Hasher extends Transform {
  hash = createHash('sha256');
  bytes = 0;
  _transform(chunk, _enc, cb) { this.hash.update(chunk); this.bytes += chunk.length; cb(null, chunk); }
  get digest() { return `sha256:${this.hash.digest('hex')}`; }
}

/** `tar` (argv after `tar`) → gzip → blobs/sha256/<hex>; returns the descriptor, diff id and sizes. */
async function tarLayer(layout, tarArgs) {
  const tmpBlob = join(layout, 'blobs', 'partial');
  const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(tar);
  let err = '';
  tar.stderr.on('data', (d) => (err += d));
  const exited = new Promise((res) => tar.on('close', (code) => { children.delete(tar); res(code); }));
  const diff = new Hasher();
  const blob = new Hasher();
  await pipeline(tar.stdout, diff, createGzip({ level: 6 }), blob, createWriteStream(tmpBlob));
  const code = await exited;
  if (code !== 0) throw new Error(`tar ${tarArgs.join(' ').slice(0, 200)}… failed (${code}): ${err}`);
  const digest = blob.digest;
  const final = join(layout, 'blobs', 'sha256', digest.slice(7));
  sh(['mv', tmpBlob, final]);
  return {
    descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: blob.bytes },
    diffId: diff.digest,
    tarBytes: diff.bytes,
  };
}

function writeJsonBlob(layout, obj) {
  const data = Buffer.from(JSON.stringify(obj));
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: data.length };
}

async function buildImage(work, sizeMB) {
  const layout = join(work, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const budget = sizeMB * 1e6;
  const common = ['--create', '--file=-', '--format=gnu', '--numeric-owner'];
  const layers = [];
  const selections = [];
  for (const [i, spec] of HOST_LAYERS.entries()) {
    const sel = selectTree(spec.roots, budget * spec.share, spec.maxFile);
    selections.push(sel);
    const list = join(work, `layer${i + 1}.list`);
    writeFileSync(list, `${sel.paths.join('\n')}\n`);
    log(`  layer ${i + 1}: ${sel.paths.length} entries, ${(sel.bytes / 1e6).toFixed(1)} MB from ${spec.roots.filter((r) => existsSync(`/${r}`)).join(', ')}`);
    layers.push({ ...(await tarLayer(layout, [...common, '-C', '/', '--no-recursion', '--verbatim-files-from', `--files-from=${list}`])), entries: sel.paths.length });
  }

  // Layer 5: staged.
  const stage = join(work, 'stage');
  const app = join(stage, 'opt/app');
  mkdirSync(join(app, 'links'), { recursive: true });
  let entries = 0;
  const dri = ['/usr/lib/x86_64-linux-gnu/dri', '/usr/lib/aarch64-linux-gnu/dri'].find((d) => existsSync(d));
  if (dri) {
    const dest = join(stage, dri.slice(1));
    mkdirSync(dirname(dest), { recursive: true });
    if (sh(['cp', '-a', dri, dest]).status !== 0) throw new Error(`cp -a ${dri} failed`);
  } else {
    // No Mesa: one 24 MB file of host libraries and hard links to it.
    const big = join(app, 'big.bin');
    writeFileSync(big, Buffer.concat(selections[0].paths.slice(0, 400).map((p) => {
      try { return statSync(`/${p}`).isFile() ? readFileSync(`/${p}`) : Buffer.alloc(0); } catch { return Buffer.alloc(0); }
    })).subarray(0, 24 << 20));
    for (let i = 0; i < 8; i++) linkSync(big, join(app, `big-${i}.bin`));
  }
  writeFileSync(join(app, 'MARKER'), 'pocker pull bench\n');
  for (let i = 0; i < 50; i++) linkSync(join(app, 'MARKER'), join(app, `marker-${i}`));
  for (let i = 0; i < 300; i++) symlinkSync(i % 2 ? '../MARKER' : `/usr/share/zoneinfo/UTC`, join(app, 'links', `l${i}`));
  // Whiteouts: the first 20 files of layer 2; an opaque dir: the first subdirectory of layer 4.
  const whiteouts = selections[1].paths.filter((p) => { try { return lstatSync(`/${p}`).isFile(); } catch { return false; } }).slice(0, 20);
  for (const p of whiteouts) {
    mkdirSync(join(stage, dirname(p)), { recursive: true });
    writeFileSync(join(stage, dirname(p), `.wh.${p.split('/').pop()}`), '');
  }
  const opaque = selections[3].paths.find((p) => p.split('/').length >= 4 && (() => { try { return lstatSync(`/${p}`).isDirectory(); } catch { return false; } })());
  if (opaque) {
    mkdirSync(join(stage, opaque), { recursive: true });
    writeFileSync(join(stage, opaque, '.wh..wh..opq'), '');
    writeFileSync(join(stage, opaque, 'replaced'), 'opaque\n');
  }
  entries += Number(sh(['sh', '-c', `find "${stage}" -mindepth 1 | wc -l`]).stdout);
  const top = readdirSync(stage).sort();
  layers.push({ ...(await tarLayer(layout, [...common, '--sort=name', '-C', stage, '--', ...top])), entries });

  const config = writeJsonBlob(layout, {
    created: new Date().toISOString(),
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created_by: `pocker pull bench layer ${i + 1}` })),
  });
  const manifest = writeJsonBlob(layout, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => l.descriptor),
  });
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
  }));
  rmSync(stage, { recursive: true, force: true });
  return {
    layout,
    layers,
    whiteout: whiteouts[0],
    compressed: layers.reduce((n, l) => n + l.descriptor.size, 0),
    uncompressed: layers.reduce((n, l) => n + l.tarBytes, 0),
    entries: layers.reduce((n, l) => n + l.entries, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// the tools. prepare() makes a fresh output dir (untimed); once() is the timed pull; verify()
// checks the output of the preflight pull; release() syncs, and on tmpfs removes the output (untimed).

/** Paths of `rel` inside each subdirectory of `dir` (layer dirs) that exist. */
function inLayerDirs(dir, rel, sub = '') {
  let names = [];
  try { names = readdirSync(dir); } catch { /* none */ }
  return names.map((n) => join(dir, n, sub, rel)).filter((p) => existsSync(p));
}

function makeTargets(ctx) {
  const { tmp, ref, pocker, image } = ctx;
  let seq = 0;
  const runDir = (key) => {
    const d = join(tmp, 'r', `${key}${++seq}`); // short: podman refuses a runroot over 50 characters
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'auth.json'), '{"auths":{}}\n'); // an empty credentials file (podman wants one)
    return d;
  };
  // Spawned tools get their own HOME and TMPDIR: nothing of the caller's config or credentials.
  const toolEnv = (d) => ({ ...process.env, HOME: d, TMPDIR: d, XDG_RUNTIME_DIR: d, REGISTRY_AUTH_FILE: join(d, 'auth.json') });
  // Outputs stay until the end of the run, except on tmpfs. On ext4 without a journal (this host),
  // creating an inode skips every inode freed in the last ~30 s (find_inode_bit → recently_deleted),
  // so deleting one pull's 13k files slows the next pull's extraction: whichever tool came next
  // would pay for it.
  const release = (p) => {
    if (ctx.tmpfs) {
      for (const m of mountsUnder(p.dir)) sh(['umount', '-l', m]); // podman's overlay driver bind-mounts its home
      rmSync(p.dir, { recursive: true, force: true });
    }
    sh(['sync']);
  };
  const marker = 'opt/app/MARKER';
  return {
    lib: {
      prepare: () => ({ dir: runDir('lib') }),
      async once(p) {
        const events = [];
        const t0 = now();
        try {
          await pocker.pull(ref, {
            root: join(p.dir, 'root'),
            signal: abort.signal,
            onEvent: (e) => { if (e.type === 'layer' && e.status !== 'Downloading') events.push([sec(t0, now()), e.id, e.status]); },
          });
        } catch (err) {
          return { s: NaN, code: null, out: `${err?.name}: ${err?.message}${err?.code ? ` [${err.code}]` : ''}` };
        }
        const s = sec(t0, now());
        return { s, code: 0, out: '', phases: phasesOf(events, s) };
      },
      verify: (p) => (inLayerDirs(join(p.dir, 'root', 'layers'), marker).length ? null : `no ${marker} in any layer dir`),
      release,
    },
    cli: {
      prepare: () => ({ dir: runDir('cli') }),
      once: (p) => timedSpawn([process.execPath, join(REPO, 'bin/pocker.cjs'), 'pull', '-q', '--root', join(p.dir, 'root'), ref], toolEnv(p.dir)),
      verify: (p) => (inLayerDirs(join(p.dir, 'root', 'layers'), marker).length ? null : `no ${marker} in any layer dir`),
      release,
    },
    umoci: {
      prepare: () => ({ dir: runDir('umoci') }),
      async once(p) {
        const env = toolEnv(p.dir);
        const a = await timedSpawn(['skopeo', '--insecure-policy', '--tmpdir', p.dir, 'copy', '--quiet', '--src-tls-verify=false', '--src-no-creds',
          `docker://${ref}`, `oci:${join(p.dir, 'layout')}:img`], env);
        if (a.code !== 0) return { ...a, out: `skopeo: ${a.out}` };
        const b = await timedSpawn(['umoci', 'unpack', '--image', `${join(p.dir, 'layout')}:img`, join(p.dir, 'bundle')], env);
        if (b.code !== 0) return { ...b, out: `umoci: ${b.out}` };
        return { s: a.s + b.s, code: 0, out: '', split: { skopeo: a.s, umoci: b.s } };
      },
      verify(p) {
        const rootfs = join(p.dir, 'bundle', 'rootfs');
        if (!existsSync(join(rootfs, marker))) return `no ${marker} in the bundle`;
        if (image.whiteout && existsSync(join(rootfs, image.whiteout))) return `whiteout not applied: ${image.whiteout}`;
        return null;
      },
      release,
    },
    podman: {
      prepare: () => ({ dir: runDir('podman') }),
      once: (p) => timedSpawn(['podman', '--root', join(p.dir, 'root'), '--runroot', join(p.dir, 'run'), '--tmpdir', join(p.dir, 'tmp'),
        '--storage-driver', 'overlay', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none',
        'pull', '-q', '--tls-verify=false', '--signature-policy', join(ctx.podmanConf, 'policy.json'), ref], { ...toolEnv(p.dir), ...ctx.podmanEnv }),
      verify: (p) => (inLayerDirs(join(p.dir, 'root', 'overlay'), marker, 'diff').length ? null : `no ${marker} in any overlay diff dir`),
      release,
    },
  };
}

/** Podman's configuration, all in the temp dir: no host config is read or written (network state included). */
function podmanConfig(dir) {
  mkdirSync(join(dir, 'cni'), { recursive: true });
  mkdirSync(join(dir, 'net'), { recursive: true });
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/root"\n`);
  writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
  writeFileSync(join(dir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}\n');
  writeFileSync(join(dir, 'containers.conf'), [
    // lock_type "file": the default "shm" creates /dev/shm/libpod_lock, outside the temp dir.
    '[engine]', 'events_logger = "none"', 'cgroup_manager = "cgroupfs"', 'lock_type = "file"', `image_copy_tmp_dir = "${dir}"`,
    '[network]', 'network_backend = "cni"', `network_config_dir = "${dir}/net"`, `cni_plugin_dirs = ["${dir}/cni"]`, '',
  ].join('\n'));
  return {
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
  };
}

/**
 * Where pocker's time went, from pull()'s events: when the last download finished, how long the
 * layers spent extracting (Extracting → Pull complete), and how long extraction waited for
 * downloads. Downloads and extraction overlap, so these do not add up to the total.
 */
function phasesOf(events, total) {
  const at = (status) => events.filter((e) => e[2] === status).map((e) => e[0]);
  const byLayer = new Map();
  for (const [t, id, status] of events) {
    const l = byLayer.get(id) ?? {};
    if (status === 'Extracting' && l.x0 === undefined) l.x0 = t;
    if (status === 'Pull complete') l.x1 = t;
    if (status === 'Download complete') l.d1 = t;
    byLayer.set(id, l);
  }
  const layers = [...byLayer.values()].filter((l) => l.x0 !== undefined && l.x1 !== undefined).sort((a, b) => a.x0 - b.x0);
  let extracting = 0;
  for (const l of layers) extracting += l.x1 - l.x0;
  const waiting = at('Waiting');
  const firstExtract = layers[0]?.x0 ?? NaN;
  return {
    resolve: waiting.length ? Math.min(...waiting) : NaN,
    downloadsDone: Math.max(...at('Download complete')),
    firstExtract,
    extracting,
    afterExtract: total - (layers.at(-1)?.x1 ?? NaN),
    perLayerExtract: layers.map((l) => l.x1 - l.x0),
  };
}

/** Self time by function (name and file) of a .cpuprofile, the top entries, in seconds. */
function summarizeProfile(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const dt = new Map(); // node id -> µs
  for (let i = 0; i < prof.samples.length; i++) dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const self = new Map();
  for (const n of prof.nodes) {
    const us = dt.get(n.id) ?? 0;
    if (!us) continue;
    const f = n.callFrame;
    const where = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([fn, us]) => ({ fn, s: r2(us / 1e6), pct: r2((100 * us) / total) }));
  return { totalSeconds: r2(total / 1e6), top };
}

// ---------------------------------------------------------------------------------------------
// cleanup

/** Mount points under `dir` (deepest first): podman's overlay driver mounts in its own root. */
function mountsUnder(dir) {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4])
      .filter((m) => m && (m === dir || m.startsWith(`${dir}/`))).sort((a, b) => b.length - a.length);
  } catch { return []; }
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    stopping = true;
    const notes = [];
    abort.abort();
    const exited = [...children].map((c) => new Promise((r) => {
      if (c.exitCode !== null || c.signalCode !== null) return r();
      c.once('exit', r);
      try { c.kill('SIGTERM'); } catch { r(); }
    }));
    const done = await Promise.race([Promise.all(exited).then(() => true), sleep(5000).then(() => false)]);
    if (!done) for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    if (TMP) {
      for (const m of mountsUnder(TMP)) {
        const r = sh(['umount', '-l', m]);
        notes.push(`unmounted ${m}${r.status === 0 ? '' : ` (failed: ${r.stderr})`}`);
      }
      try { rmSync(TMP, { recursive: true, force: true }); } catch (err) { notes.push(`could not remove ${TMP}: ${err.message}`); }
    }
    return notes;
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, cleaning up…\n`);
    cleanup().then((notes) => { for (const n of notes) log(`bench: ${n}`); }).finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// report helpers

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i > 0 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function versionOf(argv) {
  const r = sh(argv);
  return r.error || r.status !== 0 ? null : (r.stdout || r.stderr).split('\n')[0];
}

/** The filesystem under `dir`: type and source, and for ext4 whether it has a journal. */
function fsOf(dir) {
  const [type = '?', source = ''] = sh(['findmnt', '-n', '-o', 'FSTYPE,SOURCE', '-T', dir]).stdout.split(/\s+/);
  if (type !== 'ext4') return type;
  let jbd = [];
  try { jbd = readdirSync('/proc/fs/jbd2'); } catch { /* no jbd2 */ }
  const dev = source.split('/').pop();
  return `ext4 on ${source}${jbd.some((j) => j.startsWith(`${dev}-`)) ? '' : ', no journal'}`;
}

function machineFacts(tmp) {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const git = sh(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD']);
  const dirty = sh(['git', '-C', REPO, 'status', '--porcelain']);
  const dpkg = (p) => versionOf(['dpkg-query', '-W', '-f', '${Version}', p]);
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memGB: r2(Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1048576),
    kernel: release(),
    tmpFs: fsOf(tmp),
    loadavg: loadavg().map((x) => r2(x)),
    node: process.version,
    pocker: `${pkg.version}${git.status === 0 ? ` (${git.stdout}${dirty.stdout ? ', dirty tree' : ''})` : ''}`,
    skopeo: versionOf(['skopeo', '--version']),
    umoci: versionOf(['umoci', '--version']),
    podman: versionOf(['podman', '--version']),
    registry: dpkg('docker-registry') ? `docker-registry ${dpkg('docker-registry')}` : null,
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) die('must run as root (layers keep their owners; podman uses a rootful store)');
  const distIndex = join(REPO, 'dist/index.js');
  if (!existsSync(distIndex)) die(`${distIndex} is missing: run \`npm run build:ts\` (and build the addon) first`);
  const missing = [[REGISTRY_BIN, 'docker-registry'], ['skopeo', 'skopeo'], ['tar', 'tar']]
    .filter(([bin]) => (bin.startsWith('/') ? !existsSync(bin) : !onPath(bin))).map(([, pkg]) => pkg);
  if (missing.length) die(`missing: ${missing.join(', ')} (apt-get install -y ${missing.join(' ')})`);

  const preExisting = new Set(HOST_STATE.filter((p) => existsSync(p)));
  mkdirSync(opts.dir, { recursive: true });
  TMP = mkdtempSync(join(opts.dir, 'pocker-bench-pull-'));
  const t0Bench = now();
  const facts = machineFacts(TMP);
  log(`machine: nproc=${facts.nproc}, ${facts.cpu}, kernel ${facts.kernel}, ${facts.tmpFs} at ${opts.dir}, load ${facts.loadavg.join(' ')}`);

  const registry = await startRegistry(join(TMP, 'registry'));
  const ref = `${registry.host}/${REPO_TAG}`;
  log(`registry: ${registry.host} (pid ${registry.child.pid})`);

  log(`building a ~${opts.size} MB image from /usr…`);
  const tBuild = now();
  const image = await buildImage(join(TMP, 'image'), opts.size);
  log(`  ${image.layers.length} layers, ${(image.compressed / 1e6).toFixed(1)} MB compressed, ${(image.uncompressed / 1e6).toFixed(1)} MB of tar, ` +
    `${image.entries} entries (${fmt(sec(tBuild, now()), 1)} s)`);
  const push = sh(['skopeo', '--insecure-policy', '--tmpdir', join(TMP, 'image'), 'copy', '--quiet', '--dest-tls-verify=false', '--dest-no-creds',
    `oci:${image.layout}:bench`, `docker://${ref}`], { env: { ...process.env, HOME: join(TMP, 'image'), REGISTRY_AUTH_FILE: join(TMP, 'image', 'auth.json') } });
  if (push.status !== 0) throw new Error(`skopeo push failed: ${push.stderr || push.error?.message}`);
  rmSync(join(TMP, 'image'), { recursive: true, force: true });
  log(`  pushed as ${ref}`);

  const pocker = await import(pathToFileURL(distIndex).href);
  const ctx = { tmp: TMP, tmpfs: facts.tmpFs === 'tmpfs', ref, pocker, image, podmanConf: join(TMP, 'podman-conf'), podmanEnv: {} };
  ctx.podmanEnv = podmanConfig(ctx.podmanConf);
  const impls = makeTargets(ctx);
  const wanted = new Set(opts.only ?? TARGET_DEFS.map((t) => t.key));
  const targets = TARGET_DEFS.filter((d) => wanted.has(d.key)).map((d) => ({ ...d, impl: impls[d.key], runs: [], failures: [], disabled: null }));
  for (const t of targets) {
    const need = { umoci: ['skopeo', 'umoci'], podman: ['podman'] }[t.key] ?? [];
    const absent = need.filter((b) => !onPath(b));
    if (absent.length) t.disabled = `not installed: ${absent.join(', ')}`;
  }

  // Preflight (untimed): one pull each, with its output checked; also warms the registry's page cache.
  log('preflight…');
  for (const t of targets.filter((x) => !x.disabled)) {
    if (stopping) break;
    const p = t.impl.prepare();
    try {
      const res = await t.impl.once(p);
      const bad = res.code !== 0 ? `exit ${res.code}: ${res.out}` : t.impl.verify(p);
      if (bad) {
        t.disabled = 'preflight failed';
        t.failures.push(bad);
        log(`  ${t.key}: FAILED: ${bad}`);
      } else log(`  ${t.key}: ok (${fmt(res.s)} s)`);
    } finally {
      t.impl.release(p);
    }
  }

  const measured = targets.filter((t) => !t.disabled);
  log(`${opts.rounds} round(s), round-robin: ${measured.map((t) => t.key).join(', ')}`);
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < measured.length; k++) {
      const t = measured[(k + r) % measured.length];
      if (t.disabled || stopping) continue;
      const p = t.impl.prepare();
      let res;
      try {
        res = await t.impl.once(p);
      } finally {
        t.impl.release(p);
      }
      if (res.code !== 0 || !Number.isFinite(res.s)) {
        t.failures.push(`exit ${res.code}: ${res.out}`);
        log(`  round ${r + 1} ${t.key}: FAILED: ${res.out.split('\n')[0]}`);
        if (t.failures.length >= 2) t.disabled = `failed ${t.failures.length} times`;
        continue;
      }
      t.runs.push(res);
      log(`  round ${r + 1}/${opts.rounds} ${t.key}: ${fmt(res.s)} s${res.split ? ` (skopeo ${fmt(res.split.skopeo)} + umoci ${fmt(res.split.umoci)})` : ''}`);
    }
  }

  let profile = null;
  if (opts.cpuProf) {
    log(`profiling one pull() (--cpu-prof → ${opts.cpuProf})…`);
    mkdirSync(opts.cpuProf, { recursive: true });
    const d = join(TMP, 'r', 'prof');
    mkdirSync(d, { recursive: true });
    const before = new Set(readdirSync(opts.cpuProf));
    // The library (dist/index.js, not the minified CLI bundle) in a fresh process: readable names.
    const script = `const { pull } = await import(${JSON.stringify(pathToFileURL(distIndex).href)}); await pull(${JSON.stringify(ref)}, { root: ${JSON.stringify(join(d, 'root'))} });`;
    const res = await timedSpawn([process.execPath, '--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`, '--input-type=module', '-e', script], { ...process.env, HOME: d });
    const file = readdirSync(opts.cpuProf).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
    profile = res.code === 0 && file ? { file: join(opts.cpuProf, file), seconds: r2(res.s), ...summarizeProfile(join(opts.cpuProf, file)) } : { error: res.out };
  }
  const cleanupNotes = await cleanup();
  // Podman's network state, which the config above keeps in the temp dir: reported (and removed
  // when it holds nothing but empty dirs and files) if it appeared anyway.
  for (const p of HOST_STATE.filter((x) => !preExisting.has(x) && existsSync(x))) {
    const nonEmpty = sh(['find', p, '-type', 'f', '-size', '+0']).stdout;
    if (!nonEmpty) rmSync(p, { recursive: true, force: true });
    cleanupNotes.push(`${p} appeared during the run${nonEmpty ? ' (kept: not empty)' : ' (empty: removed)'}`);
  }
  facts.loadavgEnd = loadavg().map((x) => r2(x));
  facts.durationSec = r2(sec(t0Bench, now()));

  // ----- results
  const MB = image.compressed / 1e6;
  const results = {};
  for (const t of targets) {
    const s = t.runs.map((x) => x.s);
    const m = median(s);
    results[t.key] = {
      label: t.label,
      seconds: { n: s.length, median: r2(m), min: r2(Math.min(...s)), max: r2(Math.max(...s)), runs: s.map(r2) },
      mbPerSec: r2(MB / m),
      ...(t.key === 'umoci' && t.runs.length ? { split: { skopeo: r2(median(t.runs.map((x) => x.split.skopeo))), umoci: r2(median(t.runs.map((x) => x.split.umoci))) } } : {}),
      ...(t.key === 'lib' && t.runs.length ? { phases: Object.fromEntries(['resolve', 'downloadsDone', 'firstExtract', 'extracting', 'afterExtract'].map((k) => [k, r2(median(t.runs.map((x) => x.phases[k])))])) } : {}),
      ...(t.key === 'lib' && t.runs.length ? { perLayerExtract: t.runs[0].phases.perLayerExtract.map(r2) } : {}),
      ...(t.disabled ? { disabled: t.disabled } : {}),
      ...(t.failures.length ? { failures: t.failures.slice(0, 3) } : {}),
    };
  }
  const med = (k) => (results[k]?.seconds.n ? results[k].seconds.median : null);
  const ratio = (a, b) => (med(a) !== null && med(b) !== null ? r2(med(a) / med(b)) : null);
  const ratios = {
    libVsSkopeoUmoci: ratio('lib', 'umoci'),
    cliVsSkopeoUmoci: ratio('cli', 'umoci'),
    libVsPodman: ratio('lib', 'podman'),
    cliVsPodman: ratio('cli', 'podman'),
  };

  const out = [''];
  out.push(`pocker pull bench — ${facts.date}`);
  out.push(`machine: nproc ${facts.nproc} (${facts.cpu}), ${facts.memGB} GB, kernel ${facts.kernel}, temp dirs on ${facts.tmpFs}, ` +
    `load ${facts.loadavg.join(' ')} at start, ${facts.loadavgEnd.join(' ')} at end (${Math.round(facts.durationSec)} s), node ${facts.node}`);
  out.push(`versions: pocker ${facts.pocker}; ${facts.skopeo ?? 'skopeo: n/a'}; ${facts.umoci ?? 'umoci: n/a'}; ${facts.podman ?? 'podman: n/a'}; ${facts.registry ?? ''}`);
  out.push(`image: ${image.layers.length} gzip layers, ${fmt(MB, 1)} MB compressed, ${fmt(image.uncompressed / 1e6, 1)} MB uncompressed (tar), ` +
    `${image.entries} entries; from docker-registry on ${registry.host}`);
  out.push(`${opts.rounds} round(s) per tool, round-robin; a fresh output dir for every pull, sync after each; ` +
    `outputs ${ctx.tmpfs ? 'removed after each pull' : 'kept until the end (no deletions between pulls)'}; preflight pull of each tool untimed`);
  out.push('');
  out.push(table(targets.map((t) => {
    const r = results[t.key];
    return [r.label, fmt(r.seconds.median), fmt(r.seconds.min), fmt(r.seconds.max), fmt(r.mbPerSec, 1),
      r.disabled && !r.seconds.n ? `skipped: ${r.disabled}` : t.failures.length ? `${t.failures.length} failure(s)` : ''];
  }), ['tool', 'median s', 'min s', 'max s', 'MB/s (compressed)', '']));
  if (results.umoci?.split) out.push(`  skopeo copy + umoci unpack = ${fmt(results.umoci.split.skopeo)} s + ${fmt(results.umoci.split.umoci)} s (medians)`);
  const ph = results.lib?.phases;
  if (ph) {
    out.push(`  pull() phases (medians, s from the call): manifest + config in ${fmt(ph.resolve)}, first extraction starts ${fmt(ph.firstExtract)}, ` +
      `last download done ${fmt(ph.downloadsDone)}; extracting ${fmt(ph.extracting)} in all (per layer: ${results.lib.perLayerExtract.map((x) => fmt(x)).join(', ')}); ` +
      `after the last layer ${fmt(ph.afterExtract)}`);
  }
  out.push('');
  const mark = (v) => (v === null ? 'n/a' : v <= 1 ? 'PASS' : 'MISS');
  out.push('targets (pocker at least as fast: ratio ≤ 1.0):');
  out.push(`  pull() ÷ (skopeo + umoci)        ${fmt(ratios.libVsSkopeoUmoci)}×   ${mark(ratios.libVsSkopeoUmoci)}`);
  out.push(`  pocker pull ÷ (skopeo + umoci)   ${fmt(ratios.cliVsSkopeoUmoci)}×   ${mark(ratios.cliVsSkopeoUmoci)}`);
  out.push(`  pull() ÷ podman pull             ${fmt(ratios.libVsPodman)}×   ${mark(ratios.libVsPodman)}`);
  out.push(`  pocker pull ÷ podman pull        ${fmt(ratios.cliVsPodman)}×   ${mark(ratios.cliVsPodman)}`);
  const notes = [...cleanupNotes];
  for (const t of targets) {
    if (t.failures.length) notes.push(`${t.key}: ${t.failures.length} failure(s); first: ${t.failures[0]}`);
    else if (t.disabled) notes.push(`${t.key}: ${t.disabled}`);
  }
  if (profile?.top) {
    out.push('', `cpu profile of one pull() in a fresh process (${fmt(profile.seconds)} s wall, ${fmt(profile.totalSeconds)} s sampled; self time of the main thread): ${profile.file}`);
    for (const t of profile.top) out.push(`  ${fmt(t.s).padStart(6)} s ${fmt(t.pct, 1).padStart(5)} %  ${t.fn}`);
  } else if (profile) notes.push(`--cpu-prof: the profiled pull failed: ${profile.error}`);
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
  process.stdout.write(`${out.join('\n')}\n`);

  if (opts.json) {
    const dir = join(REPO, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `pull-${facts.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    const img = { layers: image.layers.map((l) => ({ ...l.descriptor, diffId: l.diffId, tarBytes: l.tarBytes, entries: l.entries })), compressed: image.compressed, uncompressed: image.uncompressed, entries: image.entries };
    writeFileSync(file, `${JSON.stringify({ machine: facts, options: opts, image: img, results, ratios, ...(profile ? { profile } : {}), notes }, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${file}\n`);
  }
  process.exitCode = targets.some((t) => ['lib', 'cli'].includes(t.key) && t.failures.length) ? 1 : 0;
}

main().catch(async (err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  for (const n of await cleanup().catch(() => [])) log(`bench: ${n}`);
  process.exit(1);
});
