// Unit tests of the image store (lib/image/store.ts): blobs verified on write, chain ids,
// images.json, leases, prune, tmp/ cleanup, the lock. No root needed; every test uses its own
// temp store root. Layer directories are made by hand here (extraction is in the integration test).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { chainIds, digestOf, parseDigest } from '../../lib/image/digest.js';
import { flockAvailable } from '../../lib/image/lock.js';
import { ImageStore, diskUsageOf, type ImageRecord } from '../../lib/image/store.js';
import { native } from '../../lib/native.js';

const hasFlock = flockAvailable();
if (!hasFlock) console.warn('store unit tests: skipping the store tests: the native addon has no flock() (build it: npm run build:native)');

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const sha512 = (data: string | Buffer) => `sha512:${createHash('sha512').update(data).digest('hex')}`;

const roots: string[] = [];
const stores: ImageStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'pocker-store-unit-'));
  roots.push(root);
  return root;
}

function newStore(root = newRoot(), opts: ConstructorParameters<typeof ImageStore>[1] = {}): ImageStore {
  const s = new ImageStore(root, opts);
  stores.push(s);
  return s;
}

/** Yields `data` in `parts` pieces, pausing between them (so concurrent writers interleave). */
async function* slowly(data: Buffer, parts = 8, pauseMs = 2): AsyncGenerator<Buffer> {
  const step = Math.ceil(data.length / parts);
  for (let i = 0; i < data.length; i += step) {
    await sleep(pauseMs);
    yield data.subarray(i, i + step);
  }
}

async function expectError(p: Promise<unknown>, code: string, step?: string): Promise<PockerError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PockerError);
  expect((err as PockerError).code, (err as Error).message).toBe(code);
  if (step) expect((err as PockerError).step).toBe(step);
  return err as PockerError;
}

/** Everything under tmp/ except the owner entries (`<id>.lock` and an empty `<id>/`) of live stores. */
function tmpGarbage(root: string): string[] {
  const tmp = join(root, 'tmp');
  if (!existsSync(tmp)) return [];
  const out: string[] = [];
  for (const name of readdirSync(tmp)) {
    if (name.endsWith('.lock')) continue;
    const inner = readdirSync(join(tmp, name));
    out.push(...inner.map((n) => `${name}/${n}`));
  }
  return out;
}

const blobFiles = (root: string, alg = 'sha256') => (existsSync(join(root, 'blobs', alg)) ? readdirSync(join(root, 'blobs', alg)).sort() : []);

describe('digests and chain ids', () => {
  const A = sha256('a');
  const B = sha256('b');
  const C = sha256('c');

  it('chain ids follow the OCI image spec (vectors computed with sha256sum)', () => {
    expect(A).toBe('sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb');
    expect(chainIds([])).toEqual([]);
    expect(chainIds([A])).toEqual([A]);
    // printf '%s' "$A $B" | sha256sum; then "$AB $C"
    const AB = 'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676';
    const ABC = 'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106';
    expect(chainIds([A, B])).toEqual([A, AB]);
    expect(chainIds([A, B, C])).toEqual([A, AB, ABC]);
    expect(new ImageStore(newRoot()).chainId([A, B, C])).toEqual([A, AB, ABC]);
    // the order matters
    expect(chainIds([B, A])[1]).not.toBe(AB);
  });

  it('rejects malformed digests', () => {
    expect(() => chainIds([A, 'sha256:abc'])).toThrow(/diff id #1/);
    for (const bad of ['', 'sha256:', `SHA256:${A.slice(7)}`, `sha256:${A.slice(7).toUpperCase()}`, `md5:${'0'.repeat(32)}`, `sha256:${'0'.repeat(63)}`, 42]) {
      expect(() => parseDigest(bad), String(bad)).toThrow(PockerError);
    }
    expect(parseDigest(sha512('x'))).toEqual({ algorithm: 'sha512', hex: sha512('x').slice(7) });
    expect(digestOf('a')).toBe(A);
  });
});

describe.skipIf(!hasFlock)('blobs', () => {
  it('writeBlob verifies, stores under blobs/sha256/<hex> and reports progress', async () => {
    const root = newRoot();
    const store = newStore(root);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const digest = sha256(data);
    const progress: number[] = [];
    const path = await store.writeBlob({ digest, size: data.length }, Readable.from(slowly(data, 5, 0)), (n) => progress.push(n));
    expect(path).toBe(join(root, 'blobs', 'sha256', digest.slice(7)));
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(progress.at(-1)).toBe(data.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(await store.hasBlob(digest)).toBe(true);
    expect(store.blobPath(digest)).toBe(path);
    expect((await store.readBlob(digest)).equals(data)).toBe(true);
    const chunks: Buffer[] = [];
    for await (const c of await store.openBlob(digest)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('accepts sha512 digests, empty blobs and plain async iterables', async () => {
    const root = newRoot();
    const store = newStore(root);
    const data = Buffer.from('{"hello":"world"}');
    const path = await store.writeBlob({ digest: sha512(data), size: data.length }, (async function* () {
      yield data.subarray(0, 3);
      yield data.subarray(3);
    })());
    expect(path).toBe(join(root, 'blobs', 'sha512', sha512(data).slice(7)));
    expect((await store.readBlob(sha512(data))).toString()).toBe('{"hello":"world"}');
    await store.writeBlob({ digest: sha256(''), size: 0 }, Readable.from([]));
    expect(await store.hasBlob(sha256(''))).toBe(true);
  });

  it('a digest mismatch is ERR_POCKER_DIGEST (step pull) and leaves nothing behind', async () => {
    const root = newRoot();
    const store = newStore(root);
    const data = randomBytes(100_000);
    const wrong = sha256(Buffer.concat([data, Buffer.from('x')]));
    const err = await expectError(store.writeBlob({ digest: wrong, size: data.length }, Readable.from(slowly(data))), 'ERR_POCKER_DIGEST', 'pull');
    expect(err.message).toContain(sha256(data));
    expect(await store.hasBlob(wrong)).toBe(false);
    expect(blobFiles(root)).toEqual([]);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('a truncated or oversized download is ERR_POCKER_DIGEST and leaves nothing behind', async () => {
    const root = newRoot();
    const store = newStore(root);
    const data = randomBytes(50_000);
    const digest = sha256(data);
    const short = await expectError(store.writeBlob({ digest, size: data.length }, Readable.from(slowly(data.subarray(0, 30_000)))), 'ERR_POCKER_DIGEST', 'pull');
    expect(short.message).toMatch(/truncated: got 30000 of 50000 bytes/);
    // more bytes than announced: stops reading early
    let pulled = 0;
    const endless = Readable.from(
      (async function* () {
        for (;;) {
          pulled++;
          yield data.subarray(0, 10_000);
        }
      })(),
    );
    const long = await expectError(store.writeBlob({ digest, size: data.length }, endless), 'ERR_POCKER_DIGEST', 'pull');
    expect(long.message).toMatch(/larger than the expected 50000 bytes/);
    expect(pulled).toBeLessThan(10);
    expect(endless.destroyed).toBe(true);
    expect(blobFiles(root)).toEqual([]);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it("a failing source rejects with the source's error (as a PockerError, step pull) and leaves nothing behind", async () => {
    const root = newRoot();
    const store = newStore(root);
    const data = randomBytes(64 * 1024);
    // The source fails once writeBlob reads past its first chunk: a real signal, not a timer (under
    // load a 20 ms timer fired before writeBlob had attached its error handler: an uncaught error).
    let reads = 0;
    const source = new Readable({
      read() {
        if (reads++ === 0) this.push(data.subarray(0, 1000));
        else setImmediate(() => this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      },
    });
    const err = await expectError(store.writeBlob({ digest: sha256(data), size: data.length }, source), 'ECONNRESET', 'pull');
    expect(err.message).toMatch(/socket hang up/);
    // an abort
    const ac = new AbortController();
    let pulls = 0;
    const aborted = new Readable({
      signal: ac.signal,
      read() {
        if (pulls++ === 0) this.push(data.subarray(0, 1000));
        else setImmediate(() => ac.abort());
      },
    });
    await expectError(store.writeBlob({ digest: sha256(data), size: data.length }, aborted), 'ABORT_ERR', 'pull');
    expect(blobFiles(root)).toEqual([]);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('two concurrent writers of the same blob both succeed and it is stored once', async () => {
    const root = newRoot();
    const store = newStore(root);
    const other = newStore(root); // another owner on the same root, as a second process would be
    const data = randomBytes(512 * 1024);
    const digest = sha256(data);
    const [p1, p2, p3] = await Promise.all([
      store.writeBlob({ digest, size: data.length }, Readable.from(slowly(data, 16))),
      store.writeBlob({ digest, size: data.length }, Readable.from(slowly(data, 16))),
      other.writeBlob({ digest, size: data.length }, Readable.from(slowly(data, 16))),
    ]);
    expect(p1).toBe(p2);
    expect(p1).toBe(p3);
    expect(blobFiles(root)).toEqual([digest.slice(7)]);
    expect(readFileSync(p1).equals(data)).toBe(true);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('readBlob and openBlob detect a blob corrupted on disk; a missing blob is ERR_POCKER_NOT_FOUND', async () => {
    const store = newStore();
    const data = Buffer.from('original content');
    const path = await store.writeBlob({ digest: sha256(data), size: data.length }, Readable.from([data]));
    writeFileSync(path, 'tampered content');
    await expectError(store.readBlob(sha256(data)), 'ERR_POCKER_DIGEST', 'store');
    const stream = await store.openBlob(sha256(data));
    await expectError((async () => {
      for await (const _ of stream);
    })(), 'ERR_POCKER_DIGEST', 'store');
    await expectError(store.readBlob(sha256('nope')), 'ERR_POCKER_NOT_FOUND', 'store');
    await expectError(store.openBlob(sha256('nope')), 'ERR_POCKER_NOT_FOUND', 'store');
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow(PockerError);
    await expectError(store.writeBlob({ digest: 'sha256:xyz', size: 1 }, Readable.from([])), 'ERR_POCKER_INVALID', 'pull');
    await expectError(store.writeBlob({ digest: sha256('a'), size: -1 }, Readable.from([])), 'ERR_POCKER_INVALID', 'pull');
  });

  it('importBlob stores content of unknown digest', async () => {
    const store = newStore();
    const { digest, size, path } = await store.importBlob(Readable.from([Buffer.from('abc'), Buffer.from('def')]));
    expect(digest).toBe(sha256('abcdef'));
    expect(size).toBe(6);
    expect(readFileSync(path, 'utf8')).toBe('abcdef');
  });
});

// ---------------------------------------------------------------------------------------------
// Image records

interface Fixture {
  store: ImageStore;
  root: string;
  record: ImageRecord;
  layerBlob: string;
}

/** A layer directory as ensureLayer would leave it (a file inside, metadata beside it). */
function fakeLayer(root: string, chainId: string, diffId: string, parent: string | null, blobDigest: string, content = 'x'): void {
  const dir = join(root, 'layers', chainId.slice(7));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'file'), content);
  writeFileSync(
    `${dir}.json`,
    JSON.stringify({ chainId, diffId, parent, blobDigest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 4096, entries: 1, created: new Date().toISOString() }),
  );
}

async function putBlob(store: ImageStore, content: string | Buffer): Promise<string> {
  const data = Buffer.from(content);
  await store.writeBlob({ digest: sha256(data), size: data.length }, Readable.from([data]));
  return sha256(data);
}

/** An image with one layer: config, manifest, layer blob in blobs/, layer dir in layers/. */
async function makeImage(store: ImageStore, root: string, tag: string, diffIds: string[] = [sha256(`diff ${tag}`)]): Promise<{ record: ImageRecord; layerBlobs: string[] }> {
  const chain = chainIds(diffIds);
  const layerBlobs: string[] = [];
  for (const [i, diffId] of diffIds.entries()) {
    const blob = await putBlob(store, `layer blob ${diffId}`);
    layerBlobs.push(blob);
    if (!existsSync(join(root, 'layers', chain[i]!.slice(7)))) fakeLayer(root, chain[i]!, diffId, i ? chain[i - 1]! : null, blob);
  }
  const config = await putBlob(store, JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, tag }));
  const manifest = await putBlob(
    store,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1 },
      layers: layerBlobs.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1 })),
    }),
  );
  return {
    record: { id: config, manifestDigest: manifest, configDigest: config, layers: chain, created: '2024-05-01T10:00:00Z', size: 1234 },
    layerBlobs,
  };
}

async function fixture(): Promise<Fixture> {
  const root = newRoot();
  const store = newStore(root);
  const { record, layerBlobs } = await makeImage(store, root, 'one');
  return { store, root, record, layerBlob: layerBlobs[0]! };
}

describe.skipIf(!hasFlock)('images.json', () => {
  it('put, get, list, tag, resolve, remove', async () => {
    const { store, root, record } = await fixture();
    expect(await store.listImages()).toEqual([]);
    expect(await store.getImage('docker.io/library/alpine:3.20')).toBeUndefined();
    expect(existsSync(join(root, 'images.json'))).toBe(false);

    expect(await store.putImage('docker.io/library/alpine:3.20', record)).toBeUndefined();
    expect(await store.getImage('docker.io/library/alpine:3.20')).toEqual(record);
    const onDisk = JSON.parse(readFileSync(join(root, 'images.json'), 'utf8'));
    expect(onDisk).toEqual({ version: 1, images: { 'docker.io/library/alpine:3.20': record } });
    expect(readdirSync(root).filter((n) => n.includes('images.json'))).toEqual(['images.json']);

    expect(await store.tagImage('docker.io/library/alpine:3.20', 'localhost:5000/mine:v1')).toEqual(record);
    expect((await store.listImages()).map((i) => i.name)).toEqual(['docker.io/library/alpine:3.20', 'localhost:5000/mine:v1']);
    expect((await store.resolveImage(record.id.slice(7, 19)))?.id).toBe(record.id);
    expect((await store.resolveImage(record.id))?.id).toBe(record.id);
    expect(await store.resolveImage('ffffffffffff')).toBeUndefined();
    await expectError(store.tagImage('nope:latest', 'x:y'), 'ERR_POCKER_NOT_FOUND', 'store');

    const newer = { ...record, created: '2025-01-01T00:00:00Z' };
    expect(await store.putImage('localhost:5000/mine:v1', newer)).toEqual(record);
    expect((await store.listImages())[0]!.name).toBe('localhost:5000/mine:v1');

    expect(await store.removeImage('docker.io/library/alpine:3.20')).toEqual(record);
    expect(await store.removeImage('docker.io/library/alpine:3.20')).toBeUndefined();
    expect((await store.listImages()).map((i) => i.name)).toEqual(['localhost:5000/mine:v1']);
    expect(await store.imagesUsingLayer(record.layers[0]!)).toEqual(['localhost:5000/mine:v1']);
  });

  it('refuses invalid records and records whose blobs or layers are missing', async () => {
    const { store, record } = await fixture();
    await expectError(store.putImage('x:1', { ...record, id: sha256('other') }), 'ERR_POCKER_INVALID', 'store');
    await expectError(store.putImage('x:1', { ...record, layers: ['nope'] }), 'ERR_POCKER_INVALID', 'store');
    await expectError(store.putImage('x:1', { ...record, size: -1 }), 'ERR_POCKER_INVALID', 'store');
    await expectError(store.putImage('has space', record), 'ERR_POCKER_INVALID', 'store');
    await expectError(store.putImage('x:1', { ...record, manifestDigest: sha256('missing') }), 'ERR_POCKER_NOT_FOUND', 'store');
    await expectError(store.putImage('x:1', { ...record, layers: [sha256('missing layer')] }), 'ERR_POCKER_NOT_FOUND', 'store');
    expect(await store.listImages()).toEqual([]);
  });

  it('concurrent updates through the lock lose nothing', async () => {
    const { store, root, record } = await fixture();
    const other = newStore(root);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? store : other).putImage(`test/concurrent:${i}`, record)));
    const names = Object.keys(JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')).images);
    expect(names).toHaveLength(30);
  });

  it('a corrupt images.json is a clear error, never a silent reset', async () => {
    const { store, root, record } = await fixture();
    const file = join(root, 'images.json');
    const cases = ['{"version":1,"images":{', '[]', '{"version":2,"images":{}}', '{"version":1,"images":{"a:b":{"id":"sha256:12"}}}', ''];
    for (const text of cases) {
      writeFileSync(file, text);
      const err = await expectError(store.getImage('a:b'), 'ERR_POCKER_STORE_CORRUPT', 'store');
      expect(err.path).toBe(file);
      expect(err.message).toMatch(/corrupt/);
      await expectError(store.putImage('a:b', record), 'ERR_POCKER_STORE_CORRUPT', 'store');
      await expectError(store.listImages(), 'ERR_POCKER_STORE_CORRUPT', 'store');
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('a stale images.json.tmp (a writer killed before its rename) is ignored and replaced', async () => {
    const { store, root, record } = await fixture();
    await store.putImage('a:1', record);
    writeFileSync(join(root, 'images.json.tmp'), '{"half":');
    expect(await store.getImage('a:1')).toEqual(record);
    await store.putImage('a:2', record);
    expect(existsSync(join(root, 'images.json.tmp'))).toBe(false);
    expect((await store.listImages()).length).toBe(2);
  });
});

describe.skipIf(!hasFlock)('prune, leases, disk usage', () => {
  it('prune removes what no image references and keeps what is referenced or leased', async () => {
    const root = newRoot();
    const writer = newStore(root);
    const D1 = sha256('d1');
    const D2 = sha256('d2');
    const a = await makeImage(writer, root, 'a', [D1]);
    const b = await makeImage(writer, root, 'b', [D1, D2]); // shares the base layer with a
    await writer.putImage('a:1', a.record);
    await writer.putImage('b:1', b.record);
    const stray = await putBlob(writer, 'a blob of a pull still in progress'); // leased by writer
    const orphanChain = sha256('orphan');
    fakeLayer(root, orphanChain, orphanChain, null, sha256('gone'));
    const containerChain = sha256('used by a container');
    fakeLayer(root, containerChain, containerChain, null, sha256('gone'));

    await writer.removeImage('b:1');
    const pruner = newStore(root); // another process, as far as leases go
    // A pull that finds b's layer blob present and skips its download claims it.
    const claimer = newStore(root);
    expect(await claimer.claimBlob(b.layerBlobs[1]!)).toBe(true);
    expect(await claimer.claimBlob(sha256('absent'))).toBe(false);
    const claimed = await pruner.prune({ keepLayers: [containerChain, b.record.layers[1]!, orphanChain] });
    expect(claimed.blobsRemoved.sort()).toEqual([b.record.manifestDigest, b.record.configDigest].sort());
    await claimer.close();

    const res = await pruner.prune({ keepLayers: [containerChain] });
    expect(res.imagesRemoved).toEqual([]);
    expect(res.layersRemoved.sort()).toEqual([b.record.layers[1]!, orphanChain].sort());
    expect(res.blobsRemoved).toEqual([b.layerBlobs[1]!]);
    expect(res.freedBytes).toBeGreaterThan(0);
    // a's blobs and layer, the shared base, the leased stray blob, the container's layer: kept
    for (const d of [a.record.manifestDigest, a.record.configDigest, a.layerBlobs[0]!, stray]) expect(await pruner.hasBlob(d), d).toBe(true);
    for (const c of [a.record.layers[0]!, containerChain]) expect(await pruner.hasLayer(c), c).toBe(true);
    expect(existsSync(join(root, 'layers', `${orphanChain.slice(7)}.json`))).toBe(false);
    expect(await pruner.getImage('a:1')).toEqual(a.record);

    // The writer is gone: its lease with it.
    await writer.close();
    const res2 = await pruner.prune();
    expect(res2.blobsRemoved).toEqual([stray]);
    expect(res2.layersRemoved).toEqual([containerChain]);
    expect(await pruner.hasBlob(a.record.configDigest)).toBe(true);

    // dangling: false removes images not in use, then their content
    const res3 = await pruner.prune({ dangling: false, keepImages: [] });
    expect(res3.imagesRemoved).toEqual(['a:1']);
    expect(res3.layersRemoved).toEqual([a.record.layers[0]!]);
    expect(blobFiles(root)).toEqual([]);
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(tmpGarbage(root)).toEqual([]);
  });

  it('prune with dangling: false keeps images in use', async () => {
    const root = newRoot();
    const store = newStore(root);
    const a = await makeImage(store, root, 'a');
    await store.putImage('a:1', a.record);
    const res = await store.prune({ dangling: false, keepImages: [a.record.id] });
    expect(res.imagesRemoved).toEqual([]);
    expect(await store.getImage('a:1')).toEqual(a.record);
  });

  it('diskUsage counts layers per image, hard links once, and what is reclaimable', async () => {
    const root = newRoot();
    const store = newStore(root);
    const a = await makeImage(store, root, 'a', [sha256('base'), sha256('top a')]);
    const b = await makeImage(store, root, 'b', [sha256('base'), sha256('top b')]);
    await store.putImage('a:1', a.record);
    await store.putImage('b:1', b.record);
    const base = join(root, 'layers', a.record.layers[0]!.slice(7));
    writeFileSync(join(base, 'big'), randomBytes(200_000));
    linkSync(join(base, 'big'), join(base, 'big-link'));
    const du = await store.diskUsage();
    const baseUsage = du.layers.find((l) => l.chainId === a.record.layers[0])!;
    expect(baseUsage.images).toEqual(['a:1', 'b:1']);
    expect(baseUsage.size).toBeGreaterThanOrEqual(200_000);
    expect(baseUsage.size).toBeLessThan(400_000); // the hard link counted once
    const ua = du.images.find((i) => i.name === 'a:1')!;
    expect(ua.sharedSize).toBe(baseUsage.size);
    expect(ua.uniqueSize).toBe(ua.size - baseUsage.size);
    expect(du.totals.layers).toBe(3);
    expect(du.totals.images).toBe(2);
    expect(du.blobs.count).toBe(2 * 2 + 3); // config + manifest of each, 3 layer blobs (the base's is shared)
    expect(du.totals.size).toBeGreaterThanOrEqual(du.totals.layersSize + du.totals.blobsSize);
    expect(du.totals.reclaimable).toBe(du.totals.tmpSize);
  });

  it('diskUsageOf counts blocks like du, each inode once, without following symlinks', async () => {
    const dir = newRoot();
    writeFileSync(join(dir, 'f'), randomBytes(100_000));
    linkSync(join(dir, 'f'), join(dir, 'g'));
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/usr', join(dir, 'usr'));
    const size = await diskUsageOf(dir);
    expect(size).toBeGreaterThanOrEqual(100_000);
    expect(size).toBeLessThan(200_000);
    expect(await diskUsageOf(join(dir, 'missing'))).toBe(0);
  });
});

describe.skipIf(!hasFlock)('tmp/ cleanup and the lock', () => {
  it('open removes what dead owners left in tmp/ and keeps live owners', async () => {
    const root = newRoot();
    const live = newStore(root);
    await live.open();
    const tmp = join(root, 'tmp');
    // A dead owner: its lock file is not locked by anyone. Plus a stray file.
    writeFileSync(join(tmp, '999999-deadbeef.lock'), '{"pid":999999,"leases":[]}');
    mkdirSync(join(tmp, '999999-deadbeef'));
    writeFileSync(join(tmp, '999999-deadbeef', 'blob-partial'), 'half');
    writeFileSync(join(tmp, 'stray'), 'x');
    const liveEntries = readdirSync(tmp).filter((n) => !n.includes('deadbeef') && n !== 'stray');
    expect(liveEntries).toHaveLength(2);
    const next = newStore(root);
    await next.open();
    const after = readdirSync(tmp);
    expect(after.filter((n) => n.includes('deadbeef') || n === 'stray')).toEqual([]);
    for (const e of liveEntries) expect(after).toContain(e);
    await next.close();
    expect(readdirSync(tmp).sort()).toEqual(liveEntries.sort());
  });

  it('withLock is exclusive between stores and re-entrant; a held lock times out clearly', async () => {
    const root = newRoot();
    const s1 = newStore(root);
    const s2 = newStore(root, { lockTimeoutMs: 200 });
    const order: string[] = [];
    await Promise.all([
      s1.withLock(async () => {
        order.push('1 in');
        await sleep(50);
        await s1.withLock(async () => order.push('1 nested'));
        order.push('1 out');
      }),
      (async () => {
        await sleep(5);
        await s1.withLock(async () => order.push('2 in'));
      })(),
    ]);
    expect(order).toEqual(['1 in', '1 nested', '1 out', '2 in']);

    // Held by another open file description (as another process would hold it): a timeout.
    const fd = openSync(join(root, 'store.lock'), 'r');
    try {
      expect(native().flock(fd, true, false)).toBe(true);
      const t0 = Date.now();
      const err = await expectError(s2.withLock(() => undefined), 'ERR_POCKER_LOCK_TIMEOUT', 'store');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
      expect(err.path).toBe(join(root, 'store.lock'));
    } finally {
      closeSync(fd);
    }
    // Released by close: available again.
    expect(await s2.withLock(() => 'mine')).toBe('mine');
  });

  it('the image list is read without the lock; a list that does not parse is read again under it', async () => {
    const { store, root, record } = await fixture();
    await store.putImage('a:1', record);
    const reader = newStore(root, { lockTimeoutMs: 60_000 });
    // Held by another open file description, as a writer in another process holds it.
    const fd = openSync(join(root, 'store.lock'), 'r');
    let closed = false;
    try {
      expect(native().flock(fd, true, false)).toBe(true);
      // Readers do not wait for it (`pocker images` loads no addon and writes nothing).
      expect((await reader.listImages()).map((i) => i.name)).toEqual(['a:1']);
      expect(await reader.getImage('a:1')).toEqual(record);
      expect((await reader.resolveImage(record.id))?.name).toBe('a:1');
      // A full disk's in-place rewrite, caught half done (its writer holds the lock): the reader
      // waits for the lock and reads the finished list.
      const file = join(root, 'images.json');
      const finished = readFileSync(file, 'utf8');
      writeFileSync(file, finished.slice(0, 20));
      let settled = false;
      const listed = reader.listImages().finally(() => (settled = true));
      // It has read the half list and opened the lock file to wait for the lock: two descriptors of
      // store.lock in this process, ours and the reader's.
      const lockFds = () => readdirSync('/proc/self/fd').filter((n) => {
        try {
          return readlinkSync(`/proc/self/fd/${n}`) === join(root, 'store.lock');
        } catch {
          return false;
        }
      }).length;
      while (lockFds() < 2) await sleep(10);
      expect(settled).toBe(false);
      writeFileSync(file, finished);
      closeSync(fd);
      closed = true;
      expect((await listed).map((i) => i.name)).toEqual(['a:1']);
    } finally {
      if (!closed) closeSync(fd);
    }
  });
});

describe.skipIf(!hasFlock)('ensureLayer argument checks (before any extraction)', () => {
  it('refuses a chain id that does not match its diff id and parent', async () => {
    const store = newStore();
    const d = sha256('d');
    await expectError(store.ensureLayer(sha256('x'), d, null, sha256('b'), 'application/vnd.oci.image.layer.v1.tar'), 'ERR_POCKER_INVALID', 'pull');
    await expectError(store.ensureLayer(d, d, sha256('p'), sha256('b'), 'application/vnd.oci.image.layer.v1.tar'), 'ERR_POCKER_INVALID', 'pull');
  });

  it.skipIf(typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function')(
    'zstd layers on a Node without zstd: ERR_POCKER_UNSUPPORTED',
    async () => {
      const store = newStore();
      const blob = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
      const digest = await putBlob(store, blob);
      const d = sha256('tar');
      const err = await expectError(store.ensureLayer(d, d, null, digest, 'application/vnd.oci.image.layer.v1.tar+zstd'), 'ERR_POCKER_UNSUPPORTED', 'pull');
      expect(err.message).toMatch(/zstd layers need Node ≥ 22\.15/);
      // mislabelled as gzip: the content decides
      await expectError(store.ensureLayer(d, d, null, digest, 'application/vnd.oci.image.layer.v1.tar+gzip'), 'ERR_POCKER_UNSUPPORTED', 'pull');
      expect(await store.hasLayer(d)).toBe(false);
    },
  );
});
