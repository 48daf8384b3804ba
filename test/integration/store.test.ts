// The image store across processes and with real layers:
// - two separate `node` processes write the same blob and update images.json 20 times each through
//   the lock: images.json stays valid JSON with all 40 entries, the blob is stored once;
// - a process SIGKILLed while downloading leaves nothing in blobs/ (its partial file in tmp/ goes
//   at the next open), and one SIGKILLed while holding the lock does not block anyone;
// - ensureLayer on real GNU-tar layers (gzip'd with node:zlib, and plain tar): extraction,
//   verification against the diff id, concurrent extraction of the same chain id, prune.
// The child processes run lib/image/store.ts bundled by esbuild (Node 20 cannot run TypeScript).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { chainIds } from '../../lib/image/digest.js';
import { flockAvailable } from '../../lib/image/lock.js';
import { ImageStore } from '../../lib/image/store.js';
import { gnuTar } from '../tar.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const hasFlock = flockAvailable();
const hasExtract = existsSync(join(repo, 'lib/image/extract.ts'));
const hasTar = (() => {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasFlock) console.warn('store integration tests: skipped: the native addon has no flock() (npm run build:native)');
if (!hasExtract) console.warn('store integration tests: ensureLayer tests skipped: lib/image/extract.ts does not exist yet');
if (!hasTar) console.warn('store integration tests: ensureLayer tests skipped: no GNU tar to build layers with');

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const dirs: string[] = [];
const stores: ImageStore[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of stores) await s.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pocker-store-it-${label}-`));
  dirs.push(dir);
  return dir;
}

function newStore(root: string): ImageStore {
  const s = new ImageStore(root);
  stores.push(s);
  return s;
}

/** Entries of tmp/ other than live owners' (`<id>.lock` + empty `<id>/`). */
function tmpGarbage(root: string): string[] {
  const tmp = join(root, 'tmp');
  if (!existsSync(tmp)) return [];
  const out: string[] = [];
  for (const name of readdirSync(tmp)) {
    if (name.endsWith('.lock')) continue;
    const path = join(tmp, name);
    if (!lstatSync(path).isDirectory()) out.push(name);
    else out.push(...readdirSync(path).map((n) => `${name}/${n}`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** The child: `node child.cjs <mode> <root> <args…>`; prints one JSON line per event. */
const CHILD_SOURCE = `
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from ${JSON.stringify(join(repo, 'lib/image/store.ts'))};

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\\n');

async function* chunks(data: Buffer, size: number, pauseMs: number) {
  for (let i = 0; i < data.length; i += size) {
    if (pauseMs) await sleep(pauseMs); else await new Promise((r) => setImmediate(r));
    yield data.subarray(i, i + size);
  }
}

async function main() {
  const [mode, root, ...args] = process.argv.slice(2);
  const store = new ImageStore(root!);
  if (mode === 'race') {
    const [tag, startAt, sharedFile, sharedDigest] = args;
    const shared = readFileSync(sharedFile!);
    while (Date.now() < Number(startAt)) await sleep(2);
    for (let i = 0; i < 20; i++) {
      if (i % 5 === 0) await store.writeBlob({ digest: sharedDigest!, size: shared.length }, Readable.from(chunks(shared, 256 * 1024, 0)));
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag, i, pid: process.pid }));
      const configDigest = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(config).digest('hex');
      await store.writeBlob({ digest: configDigest, size: config.length }, Readable.from(chunks(config, 7, 0)));
      await store.putImage('test/store-' + tag + ':' + i, {
        id: configDigest, manifestDigest: sharedDigest!, configDigest, layers: [], created: new Date().toISOString(), size: i,
      });
    }
    await store.close();
    say({ done: true });
  } else if (mode === 'slow-blob') {
    const [dataFile, digest] = args;
    const data = readFileSync(dataFile!);
    let said = false;
    await store.writeBlob({ digest: digest!, size: data.length }, Readable.from(chunks(data, 64 * 1024, 50)), () => {
      if (!said) say({ writing: true });
      said = true;
    });
    say({ finished: true });
  } else if (mode === 'hold-lock') {
    await store.withLock(async () => {
      say({ locked: true });
      await sleep(600_000);
    });
  }
}
main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\\n');
  process.exit(1);
});
`;

let childScript = '';

async function bundleChild(): Promise<string> {
  if (childScript) return childScript;
  const out = join(tempDir('child'), 'store-child.cjs');
  await build({
    stdin: { contents: CHILD_SOURCE, resolveDir: repo, sourcefile: 'store-child.ts', loader: 'ts' },
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The addon is found from the package root, which lib/paths.ts derives from its own URL.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(repo, 'lib', 'paths.ts')).href) },
    external: ['node-gyp-build', './extract.js'],
    logLevel: 'error',
  });
  childScript = out;
  return out;
}

interface Child {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line that has `key`. */
  waitFor(key: string, timeoutMs?: number): Promise<void>;
}

async function startChild(args: string[]): Promise<Child> {
  const script = await bundleChild();
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let out = '';
  const child: Child = {
    proc,
    lines,
    stderr: '',
    exited: new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal }))),
    waitFor(key, timeoutMs = 30_000) {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`child did not report ${key} in ${timeoutMs} ms: ${child.stderr}`)), timeoutMs);
        const check = () => {
          if (lines.some((l) => key in l)) {
            clearTimeout(timer);
            res();
            return true;
          }
          return false;
        };
        if (!check()) waiters.push(() => void check());
        void child.exited.then(() => {
          if (!check()) {
            clearTimeout(timer);
            rej(new Error(`child exited before reporting ${key}: ${child.stderr}`));
          }
        });
      });
    },
  };
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      out = out.slice(nl + 1);
      for (const w of waiters) w();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (child.stderr += d.toString()));
  return child;
}

describe.skipIf(!hasFlock)('the store across processes', () => {
  beforeAll(async () => {
    await bundleChild();
  });

  it('two processes write the same blob and update images.json 20 times each: 40 entries, blob stored once', async () => {
    const root = tempDir('race');
    const shared = randomBytes(3 * 1024 * 1024);
    const sharedDigest = sha256(shared);
    const sharedFile = join(tempDir('data'), 'shared.bin');
    writeFileSync(sharedFile, shared);
    const startAt = String(Date.now() + 1500);
    const [a, b] = await Promise.all([
      startChild(['race', root, 'a', startAt, sharedFile, sharedDigest]),
      startChild(['race', root, 'b', startAt, sharedFile, sharedDigest]),
    ]);
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea, a.stderr).toEqual({ code: 0, signal: null });
    expect(eb, b.stderr).toEqual({ code: 0, signal: null });

    const file = JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')) as { version: number; images: Record<string, { configDigest: string; manifestDigest: string }> };
    expect(file.version).toBe(1);
    const expected = ['a', 'b'].flatMap((t) => Array.from({ length: 20 }, (_, i) => `test/store-${t}:${i}`)).sort();
    expect(Object.keys(file.images).sort()).toEqual(expected);
    const blobs = readdirSync(join(root, 'blobs', 'sha256'));
    expect(blobs.filter((h) => h === sharedDigest.slice(7))).toHaveLength(1);
    expect(blobs).toHaveLength(1 + 40);
    expect(readFileSync(join(root, 'blobs', 'sha256', sharedDigest.slice(7))).equals(shared)).toBe(true);
    for (const rec of Object.values(file.images)) {
      expect(rec.manifestDigest).toBe(sharedDigest);
      expect(blobs).toContain(rec.configDigest.slice(7));
    }
    // Both closed their stores: tmp/ is empty, and the store reads back through the API.
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['blobs', 'images.json', 'layers', 'store.lock', 'tmp']);
    expect(await newStore(root).listImages()).toHaveLength(40);
  });

  it('a process killed mid-download leaves nothing in blobs/; the next open removes its partial file', async () => {
    const root = tempDir('killed');
    const data = randomBytes(4 * 1024 * 1024);
    const dataFile = join(tempDir('data'), 'big.bin');
    writeFileSync(dataFile, data);
    const child = await startChild(['slow-blob', root, dataFile, sha256(data)]);
    await child.waitFor('writing');
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);
    const garbage = tmpGarbage(root);
    expect(garbage.length).toBe(1);
    expect(garbage[0]).toMatch(/^\d+-[0-9a-f]+\/blob-/);
    const store = newStore(root);
    await store.open();
    expect(tmpGarbage(root)).toEqual([]);
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.endsWith('.lock'))).toHaveLength(1); // ours
    expect(await store.hasBlob(sha256(data))).toBe(false);
  });

  it('a process killed while holding the lock does not block the others', async () => {
    const root = tempDir('lockkill');
    const child = await startChild(['hold-lock', root]);
    await child.waitFor('locked');
    const store = new ImageStore(root, { lockTimeoutMs: 300 });
    stores.push(store);
    // A writer waits for it (listing does not: it reads without the lock).
    await expect(store.withLock(() => undefined)).rejects.toMatchObject({ code: 'ERR_POCKER_LOCK_TIMEOUT', step: 'store' });
    child.proc.kill('SIGKILL');
    await child.exited;
    // The lock is free again: no ERR_POCKER_LOCK_TIMEOUT (the store waits at most 300 ms).
    expect(await store.withLock(() => 'free')).toBe('free');
  });
});

// ---------------------------------------------------------------------------------------------
// Layers

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

/** A layer tar of `src` made by GNU tar (sorted, numeric owners, fixed mtime: reproducible). */
function tarOf(src: string): Buffer {
  return gnuTar(src, { extra: ['--owner=0', '--group=0', '--mtime=@1700000000'] });
}

async function storeBlob(store: ImageStore, data: Buffer): Promise<string> {
  await store.writeBlob({ digest: sha256(data), size: data.length }, Readable.from([data]));
  return sha256(data);
}

describe.skipIf(!hasFlock || !hasExtract || !hasTar)('ensureLayer with real layers', () => {
  let root: string;
  let store: ImageStore;
  let tar1: Buffer;
  let tar2: Buffer;
  let blob1: string;
  let blob2: string;
  let chain: string[];

  beforeAll(async () => {
    root = tempDir('layers');
    store = newStore(root);
    const src1 = tempDir('src1');
    mkdirSync(join(src1, 'etc'));
    mkdirSync(join(src1, 'bin'));
    mkdirSync(join(src1, 'var/empty'), { recursive: true });
    writeFileSync(join(src1, 'etc/hello'), 'hello from layer 1\n');
    linkSync(join(src1, 'etc/hello'), join(src1, 'etc/hello-link'));
    writeFileSync(join(src1, 'bin/busybox'), randomBytes(300_000), { mode: 0o755 });
    symlinkSync('busybox', join(src1, 'bin/sh'));
    tar1 = tarOf(src1);
    const src2 = tempDir('src2');
    mkdirSync(join(src2, 'etc'));
    writeFileSync(join(src2, 'etc/second'), 'layer 2\n');
    tar2 = tarOf(src2);
    blob1 = await storeBlob(store, gzipSync(tar1));
    blob2 = await storeBlob(store, tar2); // an uncompressed layer
    chain = chainIds([sha256(tar1), sha256(tar2)]);
  });

  it('extracts a gzip layer and a plain tar layer, verified against their diff ids', async () => {
    const l1 = await store.ensureLayer(chain[0]!, sha256(tar1), null, blob1, GZIP);
    expect(l1.path).toBe(join(root, 'layers', chain[0]!.slice(7)));
    expect(readFileSync(join(l1.path, 'etc/hello'), 'utf8')).toBe('hello from layer 1\n');
    expect(statSync(join(l1.path, 'etc/hello-link')).ino).toBe(statSync(join(l1.path, 'etc/hello')).ino);
    expect(readlinkSync(join(l1.path, 'bin/sh'))).toBe('busybox');
    expect(statSync(join(l1.path, 'bin/busybox')).mode & 0o777).toBe(0o755);
    expect(statSync(join(l1.path, 'var/empty')).isDirectory()).toBe(true);
    expect(l1).toMatchObject({ chainId: chain[0], diffId: sha256(tar1), parent: null, blobDigest: blob1, mediaType: GZIP });
    expect(l1.size).toBeGreaterThanOrEqual(300_000);
    expect(l1.entries).toBeGreaterThanOrEqual(8);
    const meta = JSON.parse(readFileSync(`${l1.path}.json`, 'utf8'));
    expect(meta).toEqual({ chainId: l1.chainId, diffId: l1.diffId, parent: null, blobDigest: blob1, mediaType: GZIP, size: l1.size, entries: l1.entries, created: l1.created });

    const l2 = await store.ensureLayer(chain[1]!, sha256(tar2), chain[0]!, blob2, TAR);
    expect(readFileSync(join(l2.path, 'etc/second'), 'utf8')).toBe('layer 2\n');
    expect(l2.parent).toBe(chain[0]);

    // Already there: nothing is extracted again.
    const again = await store.ensureLayer(chain[0]!, sha256(tar1), null, blob1, GZIP);
    expect(again.created).toBe(l1.created);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('a layer whose content does not match its diff id is refused and leaves nothing', async () => {
    const other = sha256(Buffer.concat([tar1, Buffer.alloc(512)]));
    const err = await store.ensureLayer(other, other, null, blob1, GZIP).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PockerError);
    expect(err).toMatchObject({ code: 'ERR_POCKER_DIGEST', step: 'pull' });
    expect((err as Error).message).toContain(sha256(tar1));
    expect(existsSync(join(root, 'layers', other.slice(7)))).toBe(false);
    expect(existsSync(join(root, 'layers', `${other.slice(7)}.json`))).toBe(false);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('a corrupt gzip stream is refused and leaves nothing', async () => {
    const gz = gzipSync(tar1);
    const bad = Buffer.from(gz);
    for (let i = 200; i < 400; i++) bad[i] = bad[i]! ^ 0xff;
    const badBlob = await storeBlob(store, bad);
    const diff = sha256(tar1);
    const fresh = tempDir('corrupt');
    const s = newStore(fresh);
    await storeBlob(s, bad);
    const err = await s.ensureLayer(diff, diff, null, badBlob, GZIP).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PockerError);
    expect(['pull', 'extract']).toContain((err as PockerError).step);
    expect(readdirSync(join(fresh, 'layers'))).toEqual([]);
    expect(tmpGarbage(fresh)).toEqual([]);
  });

  it('two concurrent extractions of the same chain id both succeed; one copy is kept', async () => {
    const src3 = tempDir('src3');
    for (let i = 0; i < 50; i++) writeFileSync(join(src3, `f${i}`), randomBytes(20_000));
    const tar3 = tarOf(src3);
    const blob3 = await storeBlob(store, gzipSync(tar3));
    const chain3 = chainIds([sha256(tar1), sha256(tar2), sha256(tar3)])[2]!;
    const other = newStore(root);
    const [x, y] = await Promise.all([
      store.ensureLayer(chain3, sha256(tar3), chain[1]!, blob3, GZIP),
      other.ensureLayer(chain3, sha256(tar3), chain[1]!, blob3, GZIP),
    ]);
    expect(x.path).toBe(y.path);
    expect(readdirSync(x.path)).toHaveLength(50);
    expect(readdirSync(join(root, 'layers')).filter((n) => n.startsWith(chain3.slice(7)))).toHaveLength(2); // dir + .json
    expect(tmpGarbage(root)).toEqual([]);
    await other.close();
  });

  it('images over real layers: usage, disk usage, and prune after rmi', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar1), sha256(tar2)] } }));
    const configDigest = await storeBlob(store, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [
          { mediaType: GZIP, digest: blob1, size: 1 },
          { mediaType: TAR, digest: blob2, size: 1 },
        ],
      }),
    );
    const manifestDigest = await storeBlob(store, manifest);
    const record = { id: configDigest, manifestDigest, configDigest, layers: chain, created: '2024-01-01T00:00:00Z', size: tar1.length + tar2.length };
    await store.putImage('localhost:5000/test/layers:1', record);
    await store.tagImage('localhost:5000/test/layers:1', 'localhost:5000/test/layers:latest');
    expect(await store.imagesUsingLayer(chain[0]!)).toEqual(['localhost:5000/test/layers:1', 'localhost:5000/test/layers:latest']);

    const du = await store.diskUsage();
    const base = du.layers.find((l) => l.chainId === chain[0])!;
    expect(base.size).toBeGreaterThanOrEqual(300_000);
    expect(base.diffId).toBe(sha256(tar1));
    expect(du.images.find((i) => i.name === 'localhost:5000/test/layers:1')!.size).toBeGreaterThanOrEqual(base.size);

    // While the image exists, prune keeps its layers and blobs.
    await store.close(); // drop this store's leases
    const pruner = newStore(root);
    const kept = await pruner.prune();
    for (const c of chain) expect(kept.layersRemoved).not.toContain(c);
    for (const d of [blob1, blob2, configDigest, manifestDigest]) expect(await pruner.hasBlob(d)).toBe(true);

    await pruner.removeImage('localhost:5000/test/layers:1');
    await pruner.removeImage('localhost:5000/test/layers:latest');
    const res = await pruner.prune();
    expect(res.layersRemoved).toEqual(expect.arrayContaining(chain));
    expect(res.freedBytes).toBeGreaterThanOrEqual(300_000);
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);
    expect(tmpGarbage(root)).toEqual([]);
  });
});
