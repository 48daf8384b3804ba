// Moving images without a registry: `pocker load` of OCI image layout and docker-save tarballs,
// `pocker save` (Docker 25+'s layout: OCI layout + manifest.json) round trips into a fresh store and
// is readable by skopeo, `pocker import` of a rootfs tarball with --change, and what must be
// refused: a corrupt blob (nothing left in the store), a hostile layer path (nothing outside the
// store touched).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { importRootfs, loadImages, saveImages } from '../../lib/image/archive.js';
import { ImageStore } from '../../lib/image/store.js';
import { busyboxRootfs, cleanupAll, cli, hostBusybox, isRoot, pockerBin, repoRoot, snapshotTree, tempDir, tempRoot } from '../helpers.js';
import { buildLayerTar, buildOciLayout, type LayerSpec } from '../image-builder.js';
import { gnuTar, tarOf } from '../tar.js';

const busybox = hostBusybox();
const haveSkopeo = spawnSync('skopeo', ['--version'], { stdio: 'ignore' }).status === 0;
const haveScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hexOf = (digest: string) => digest.slice('sha256:'.length);

/** A busybox base layer. */
function baseLayer(): LayerSpec {
  const base: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
    'etc/group': 'root:x:0:\n',
    'etc/gone': 'deleted by the upper layer\n',
    tmp: { type: 'dir', mode: 0o1777 },
  };
  for (const applet of ['sh', 'cat', 'echo', 'env', 'ls', 'test']) base[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  return base;
}

/** GNU tar of a directory's content (entries are `./…`), optionally gzip'd. */
const tarDir = (dir: string, file: string, gzip = false): string => gnuTar(dir, { file, gzip });

/** A tar built entry by entry (hostile names are possible). */
const tarEntries = (entries: Array<{ name: string; content?: string | Buffer; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>): Promise<Buffer> =>
  tarOf(entries.map((e) => ({ ...e, mode: (e.type ?? 'file') === 'file' ? 0o644 : 0o755 })));

/** What a store holds: image names, blobs, layers, and anything left in tmp/. */
function storeState(root: string): { images: string[]; blobs: string[]; layers: string[]; tmp: string[] } {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const imagesFile = join(root, 'images.json');
  const images = existsSync(imagesFile) ? Object.keys((JSON.parse(readFileSync(imagesFile, 'utf8')) as { images: object }).images).sort() : [];
  return { images, blobs: list(join(root, 'blobs', 'sha256')), layers: list(join(root, 'layers')), tmp: list(join(root, 'tmp')) };
}

/** Every file of an extracted tarball, relative path -> content. */
function untar(file: string): { dir: string; read: (p: string) => Buffer; list: (p: string) => string[] } {
  const dir = tempDir('untar');
  execFileSync('tar', ['-xf', file, '-C', dir]);
  return { dir, read: (p) => readFileSync(join(dir, p)), list: (p) => readdirSync(join(dir, p)).sort() };
}

async function errorOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

const run = (root: string, args: string[]) => cli(['run', '--rm', '--pull', 'never', ...args], { root });

describe.skipIf(!isRoot || !busybox)('images without a registry: load, save, import', () => {
  let ociRoot: string;
  let ociTar: string;
  let ociLayout: ReturnType<typeof buildOciLayout>;

  beforeAll(() => {
    ociRoot = tempRoot();
    const dir = tempDir('oci-layout');
    ociLayout = buildOciLayout(dir, {
      layers: [baseLayer(), { 'etc/gone': { type: 'whiteout' }, 'srv/hello': 'hello from an OCI layout\n' }],
      config: { config: { Cmd: ['cat', '/srv/hello'], Env: ['PATH=/bin', 'FROM_IMAGE=oci'] } },
      refName: 'archive-oci:1',
    });
    ociTar = tarDir(dir, join(tempDir('oci-tar'), 'image.tar'));
  });

  afterAll(async () => {
    await cleanupAll();
  });

  it('loads an OCI image layout tarball: recorded under its canonical name, and it runs', async () => {
    const r = await cli(['--root', ociRoot, 'load', '-i', ociTar]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Loaded image: archive-oci:1\n');
    const store = new ImageStore(ociRoot);
    const rec = await store.getImage('docker.io/library/archive-oci:1');
    expect(rec?.id).toBe(ociLayout.images[0]!.configDescriptor.digest);
    expect(rec?.manifestDigest).toBe(ociLayout.images[0]!.manifestDescriptor.digest);
    expect(rec?.layers).toEqual(store.chainId(ociLayout.images[0]!.layers.map((l) => l.diffId)));
    const out = await run(ociRoot, ['archive-oci:1']);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('hello from an OCI layout\n');
    const tree = await run(ociRoot, ['archive-oci:1', 'sh', '-c', 'test -e /etc/gone && echo present || echo gone; echo $FROM_IMAGE']);
    expect(tree.stdout).toBe('gone\noci\n');
    expect(storeState(ociRoot).tmp).toEqual([]);
  });

  it('loads a gzip-compressed tarball too; a bare tag in ref.name names nothing (untagged: its id)', async () => {
    const root = tempRoot();
    const dir = tempDir('oci-untagged');
    const layout = buildOciLayout(dir, { layers: [baseLayer()], refName: 'latest', compression: 'none' });
    const file = tarDir(dir, join(tempDir('oci-tgz'), 'image.tar.gz'), true);
    const r = await cli(['--root', root, 'load', '-q', '-i', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Loaded image ID: ${layout.images[0]!.configDescriptor.digest}\n`);
    expect(storeState(root).images).toEqual([layout.images[0]!.configDescriptor.digest]);
  });

  it('loads a docker-save tarball made by hand (<id>/layer.tar, a symlinked duplicate layer, manifest.json, repositories)', async () => {
    const root = tempRoot();
    const dir = tempDir('docker-save');
    const base = buildLayerTar(baseLayer());
    const upper = buildLayerTar({ 'etc/gone': { type: 'whiteout' }, 'srv/hello': 'hello from docker save\n' });
    const ids = ['a', 'b', 'c'].map((c) => c.repeat(64));
    mkdirSync(join(dir, ids[0]!));
    writeFileSync(join(dir, ids[0]!, 'layer.tar'), base);
    mkdirSync(join(dir, ids[1]!));
    writeFileSync(join(dir, ids[1]!, 'layer.tar'), upper);
    // Docker links a layer it has already written.
    mkdirSync(join(dir, ids[2]!));
    symlinkSync(`../${ids[1]}/layer.tar`, join(dir, ids[2]!, 'layer.tar'));
    for (const id of ids) writeFileSync(join(dir, id, 'VERSION'), '1.0');
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['cat', '/srv/hello'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: [sha256(base), sha256(upper), sha256(upper)] },
    };
    const configData = Buffer.from(JSON.stringify(config));
    const configName = `${hexOf(sha256(configData))}.json`;
    writeFileSync(join(dir, configName), configData);
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify([{ Config: configName, RepoTags: ['archive-docker:1', 'localhost:5000/team/archive-docker:2'], Layers: ids.map((id) => `${id}/layer.tar`) }]),
    );
    writeFileSync(join(dir, 'repositories'), JSON.stringify({ 'archive-docker': { '1': ids[2] } }));
    const file = tarDir(dir, join(tempDir('docker-tar'), 'image.tar'));

    const r = await cli(['--root', root, 'load', '-i', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Loaded image: archive-docker:1\nLoaded image: localhost:5000/team/archive-docker:2\n');
    const out = await run(root, ['archive-docker:1']);
    expect(out.stdout).toBe('hello from docker save\n');
    const tree = await run(root, ['localhost:5000/team/archive-docker:2', 'sh', '-c', 'test -e /etc/gone && echo present || echo gone']);
    expect(tree.stdout).toBe('gone\n');

    // The record: the config's digest is the id; pocker wrote an OCI manifest of uncompressed layers.
    const store = new ImageStore(root);
    const rec = (await store.getImage('docker.io/library/archive-docker:1'))!;
    expect(rec.id).toBe(sha256(configData));
    const manifest = JSON.parse((await store.readBlob(rec.manifestDigest)).toString()) as { mediaType: string; layers: Array<{ mediaType: string; digest: string }> };
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(3).fill('application/vnd.oci.image.layer.v1.tar'));
    expect(manifest.layers.map((l) => l.digest)).toEqual(config.rootfs.diff_ids);
    expect(rec.layers).toHaveLength(3);
  });

  it('save → load into a fresh store → run: a round trip; the archive is consistent and skopeo reads it', async () => {
    const out = join(tempDir('saved'), 'saved.tar');
    const r = await cli(['--root', ociRoot, 'save', '-o', out, 'archive-oci:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(join(out, '..'))).toEqual(['saved.tar']); // no temp file left

    // Docker 25+'s layout: oci-layout, index.json, blobs/, manifest.json, repositories.
    const t = untar(out);
    expect(readdirSync(t.dir).sort()).toEqual(['blobs', 'index.json', 'manifest.json', 'oci-layout', 'repositories']);
    for (const hex of t.list('blobs/sha256')) expect(sha256(t.read(`blobs/sha256/${hex}`))).toBe(`sha256:${hex}`);
    const manifestJson = JSON.parse(t.read('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    expect(manifestJson).toHaveLength(1);
    expect(manifestJson[0]!.RepoTags).toEqual(['archive-oci:1']);
    const config = JSON.parse(t.read(manifestJson[0]!.Config).toString()) as { rootfs: { diff_ids: string[] } };
    expect(sha256(t.read(manifestJson[0]!.Config))).toBe(ociLayout.images[0]!.configDescriptor.digest);
    // Docker's layers are uncompressed tars: their digests are the diff ids.
    expect(manifestJson[0]!.Layers.map((p) => sha256(t.read(p)))).toEqual(config.rootfs.diff_ids);
    const index = JSON.parse(t.read('index.json').toString()) as { manifests: Array<{ digest: string; size: number; annotations: Record<string, string> }> };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.annotations).toEqual({ 'io.containerd.image.name': 'docker.io/library/archive-oci:1', 'org.opencontainers.image.ref.name': '1' });
    const manifestData = t.read(`blobs/sha256/${hexOf(index.manifests[0]!.digest)}`);
    expect(manifestData.length).toBe(index.manifests[0]!.size);
    const manifest = JSON.parse(manifestData.toString()) as { config: { digest: string }; layers: Array<{ digest: string; size: number; mediaType: string }> };
    expect(manifest.config.digest).toBe(ociLayout.images[0]!.configDescriptor.digest);
    expect(manifest.layers.map((l) => l.digest)).toEqual(config.rootfs.diff_ids);
    expect(JSON.parse(t.read('repositories').toString())).toEqual({ 'archive-oci': { '1': hexOf(config.rootfs.diff_ids.at(-1)!) } });

    // To stdout (a pipe) the same bytes come out: the archive is deterministic.
    const piped = execFileSync(process.execPath, [pockerBin, '--root', ociRoot, 'save', 'archive-oci:1'], { cwd: repoRoot, maxBuffer: 1 << 28 });
    expect(sha256(piped)).toBe(sha256(readFileSync(out)));

    const fresh = tempRoot();
    const loaded = await cli(['--root', fresh, 'load', '-i', out]);
    expect(loaded.stderr).toBe('');
    expect(loaded.stdout).toBe('Loaded image: archive-oci:1\n');
    const rec = await new ImageStore(fresh).getImage('docker.io/library/archive-oci:1');
    expect(rec?.id).toBe(ociLayout.images[0]!.configDescriptor.digest);
    const ran = await run(fresh, ['archive-oci:1']);
    expect(ran.stdout).toBe('hello from an OCI layout\n');

    // From stdin (no -i), into yet another store.
    const viaStdin = tempRoot();
    const piped2 = spawnSync(process.execPath, [pockerBin, '--root', viaStdin, 'load'], { input: readFileSync(out), encoding: 'utf8', cwd: repoRoot });
    expect(piped2.stderr).toBe('');
    expect(piped2.stdout).toBe('Loaded image: archive-oci:1\n');
    expect((await run(viaStdin, ['archive-oci:1'])).stdout).toBe('hello from an OCI layout\n');

    // Saving what was loaded from a save gives the same manifest (no re-encoding drift).
    const again = join(tempDir('saved-again'), 'again.tar');
    expect((await cli(['--root', fresh, 'save', '-o', again, 'archive-oci:1'])).code).toBe(0);
    expect(sha256(readFileSync(again))).toBe(sha256(readFileSync(out)));
  });

  it.skipIf(!haveSkopeo)('skopeo reads the saved archive as docker-archive: and oci-archive:', async () => {
    const out = join(tempDir('saved-skopeo'), 'saved.tar');
    expect((await cli(['--root', ociRoot, 'save', '-o', out, 'archive-oci:1'])).code).toBe(0);
    const config = ociLayout.images[0]!.config;
    for (const transport of ['docker-archive', 'oci-archive']) {
      const text = execFileSync('skopeo', ['--insecure-policy', 'inspect', `${transport}:${out}`], { encoding: 'utf8', env: { ...process.env, TMPDIR: tempDir('skopeo') } });
      const info = JSON.parse(text) as { Layers: string[]; Env: string[]; Architecture: string };
      expect(info.Layers, transport).toEqual(config.rootfs.diff_ids);
      expect(info.Env, transport).toEqual(['PATH=/bin', 'FROM_IMAGE=oci']);
      const raw = JSON.parse(
        execFileSync('skopeo', ['--insecure-policy', 'inspect', '--config', '--raw', `${transport}:${out}`], { encoding: 'utf8', env: { ...process.env, TMPDIR: tempDir('skopeo') } }),
      ) as object;
      expect(sha256(JSON.stringify(raw))).toBe(ociLayout.images[0]!.configDescriptor.digest);
    }
  });

  it.skipIf(!haveSkopeo)('save --format oci keeps the stored blobs: the pulled manifest digest survives', async () => {
    const out = join(tempDir('saved-oci'), 'saved.tar');
    const r = await cli(['--root', ociRoot, 'save', '--format', 'oci', '-o', out, 'archive-oci:1']);
    expect(r.stderr).toBe('');
    const t = untar(out);
    expect(readdirSync(t.dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    for (const hex of t.list('blobs/sha256')) expect(sha256(t.read(`blobs/sha256/${hex}`))).toBe(`sha256:${hex}`);
    const info = JSON.parse(
      execFileSync('skopeo', ['--insecure-policy', 'inspect', `oci-archive:${out}`], { encoding: 'utf8', env: { ...process.env, TMPDIR: tempDir('skopeo') } }),
    ) as { Digest: string };
    expect(info.Digest).toBe(ociLayout.images[0]!.manifestDescriptor.digest);
    const fresh = tempRoot();
    expect((await cli(['--root', fresh, 'load', '-i', out])).stdout).toBe('Loaded image: archive-oci:1\n');
    expect((await run(fresh, ['archive-oci:1'])).stdout).toBe('hello from an OCI layout\n');
  });

  it('save -o: a failure keeps the older file; a symlink is written through, not replaced', async () => {
    const dir = tempDir('save-o');
    writeFileSync(join(dir, 'old.tar'), 'older archive');
    const missing = await cli(['--root', ociRoot, 'save', '-o', join(dir, 'old.tar'), 'no-such-image:1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such image: no-such-image:1/);
    expect(readFileSync(join(dir, 'old.tar'), 'utf8')).toBe('older archive');
    expect(readdirSync(dir)).toEqual(['old.tar']);

    symlinkSync('old.tar', join(dir, 'link.tar'));
    const r = await cli(['--root', ociRoot, 'save', '-o', join(dir, 'link.tar'), 'archive-oci:1']);
    expect(r.stderr).toBe('');
    expect(lstatSync(join(dir, 'link.tar')).isSymbolicLink()).toBe(true);
    expect(untar(join(dir, 'old.tar')).list('.')).toContain('manifest.json');
  });

  it.skipIf(!haveScript)('save refuses a terminal (stdout on a pty, through script(1))', () => {
    const cmd = `${process.execPath} ${pockerBin} --root ${ociRoot} save archive-oci:1`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd: repoRoot });
    expect(r.stdout).toMatch(/cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
    expect(r.status).toBe(1);
  });

  it('import: a rootfs tarball (gzip) with --change CMD and ENV, and -m; then from stdin', async () => {
    const root = tempRoot();
    const file = tarDir(busyboxRootfs(), join(tempDir('rootfs-tar'), 'rootfs.tar.gz'), true);
    const r = await cli(['--root', root, 'import', '--change', 'CMD ["echo","hi"]', '--change', 'ENV A=b', '-m', 'from a test', file, 'archive-import:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const id = r.stdout.trim();
    expect((await run(root, ['archive-import:1'])).stdout).toBe('hi\n');
    expect((await run(root, ['archive-import:1', 'sh', '-c', 'echo A=$A'])).stdout).toBe('A=b\n');

    const store = new ImageStore(root);
    const rec = (await store.getImage('docker.io/library/archive-import:1'))!;
    expect(rec.id).toBe(id);
    const config = JSON.parse((await store.readBlob(id)).toString()) as { os: string; architecture: string; config: object; history: Array<{ comment: string }> };
    expect(config.os).toBe('linux');
    expect(config.architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
    expect(config.config).toEqual({ Cmd: ['echo', 'hi'], Env: ['A=b'] });
    expect(config.history[0]!.comment).toBe('from a test');

    // From stdin, plain tar, untagged, a shell-form CMD.
    const plain = tarDir(busyboxRootfs(), join(tempDir('rootfs-tar'), 'rootfs.tar'));
    const stdin = spawnSync(process.execPath, [pockerBin, '--root', root, 'import', '-c', 'CMD echo shell form', '-'], { input: readFileSync(plain), encoding: 'utf8', cwd: repoRoot });
    expect(stdin.stderr).toBe('');
    expect(stdin.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const untagged = stdin.stdout.trim();
    expect(storeState(root).images).toContain(untagged);
    const cfg = JSON.parse((await store.readBlob(untagged)).toString()) as { config: { Cmd: string[] }; history: Array<{ comment: string }> };
    expect(cfg.config.Cmd).toEqual(['/bin/sh', '-c', 'echo shell form']);
    expect(cfg.history[0]!.comment).toBe('Imported from -');

    // A bad --change fails before anything is read or stored.
    const bad = await cli(['--root', root, 'import', '-c', 'RUN make', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/RUN is not a valid change command/);
  });

  it('a corrupt blob in an OCI tarball: ERR_POCKER_DIGEST, and the store holds no blob, layer or record', async () => {
    const dir = tempDir('oci-corrupt');
    const layout = buildOciLayout(dir, { layers: [baseLayer(), { 'srv/x': 'x\n' }], refName: 'archive-corrupt:1' });
    const blob = join(dir, 'blobs', 'sha256', hexOf(layout.images[0]!.layers[1]!.descriptor.digest));
    const data = readFileSync(blob);
    data[data.length >> 1] ^= 0xff;
    writeFileSync(blob, data);
    const file = tarDir(dir, join(tempDir('oci-corrupt-tar'), 'image.tar'));

    const root = tempRoot();
    const err = await errorOf(loadImages(createReadStream(file), { root }));
    expect(err.code).toBe('ERR_POCKER_DIGEST');
    expect(err.message).toMatch(/corrupt/);
    expect(storeState(root)).toEqual({ images: [], blobs: [], layers: [], tmp: [] });

    const r = await cli(['--root', root, 'load', '-i', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/blob sha256:[0-9a-f]{64} is corrupt/);
    expect(r.stdout).toBe('');
    expect(storeState(root)).toEqual({ images: [], blobs: [], layers: [], tmp: [] });
  });

  it('a docker-save layer that does not match its diff id, and a truncated archive, leave the store clean too', async () => {
    const root = tempRoot();
    const layer = buildLayerTar({ 'a': 'a\n' });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('something else')] } }));
    const tar = await tarEntries([
      { name: 'l/layer.tar', content: layer },
      { name: 'c.json', content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['archive-bad:1'], Layers: ['l/layer.tar'] }]) },
    ]);
    const err = await errorOf(loadImages(Readable.from([tar]), { root }));
    expect(err.code).toBe('ERR_POCKER_DIGEST');
    expect(storeState(root)).toEqual({ images: [], blobs: [], layers: [], tmp: [] });

    const truncated = readFileSync(ociTar).subarray(0, 10_000);
    const err2 = await errorOf(loadImages(Readable.from([truncated]), { root }));
    expect(err2.code).toBe('ERR_POCKER_INVALID');
    expect(storeState(root)).toEqual({ images: [], blobs: [], layers: [], tmp: [] });

    const notAnImage = await errorOf(loadImages(Readable.from([await tarEntries([{ name: 'hello.txt', content: 'hi' }])]), { root }));
    expect(notAnImage.message).toMatch(/neither manifest.json nor index.json/);
  });

  it('a hostile path in an import tarball is refused (ERR_POCKER_LAYER_UNSAFE); nothing outside the store is touched', async () => {
    const outside = tempDir('sentinel');
    writeFileSync(join(outside, 'sentinel'), 'untouched\n');
    const before = snapshotTree(outside);
    const root = tempRoot();
    const deep = `${'../'.repeat(24)}${outside.slice(1)}/x`;
    for (const name of ['../../etc/x', deep, `bin/../../${outside.slice(1)}/y`]) {
      const tar = await tarEntries([
        { name: 'bin/', type: 'directory' },
        { name: 'bin/ok', content: 'fine\n' },
        { name, content: 'escaped\n' },
      ]);
      const err = await errorOf(importRootfs(Readable.from([tar]), { root, reference: 'archive-hostile:1' }));
      expect(err.code, name).toBe('ERR_POCKER_LAYER_UNSAFE');
    }
    expect(snapshotTree(outside)).toEqual(before);
    expect(existsSync(join(outside, 'x'))).toBe(false);
    const state = storeState(root);
    expect(state.images).toEqual([]);
    expect(state.layers).toEqual([]);
    expect(state.tmp).toEqual([]);
    expect(existsSync(join(root, 'etc'))).toBe(false);
    expect(existsSync(join(root, 'tmp', 'etc'))).toBe(false);

    const file = join(tempDir('hostile'), 'hostile.tar');
    writeFileSync(file, await tarEntries([{ name: '../../etc/x', content: 'escaped\n' }]));
    const r = await cli(['--root', root, 'import', file, 'archive-hostile:1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(storeState(root).images).toEqual([]);
    rmSync(file);
  });

  it('the library: saveImages of an unknown name fails before writing anything', async () => {
    const chunks: Buffer[] = [];
    const sink = new (await import('node:stream')).Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const err = await errorOf(saveImages(['archive-oci:1', 'nope:2'], sink, { root: ociRoot }));
    expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
    expect(chunks).toEqual([]);
  });
});
