// The image management functions as a library (lib/image/manage.ts and auth.ts, exported from
// lib/index.ts), called directly on a real store: two small images that share a base layer, pushed
// to a loopback registry (Debian's docker-registry) with skopeo and pulled with pull(); containers
// made with create() and run({ detach: true }) use them. Typed results, what is deleted and kept on
// disk, and the errors: an unknown image, an image in use without force, a bad tag, a wrong password.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  PockerError,
  create,
  inspectImage,
  listImages,
  login,
  logout,
  pruneImages,
  pull,
  removeContainer,
  removeImage,
  run,
  systemDf,
  tagImage,
  type ImageInfo,
} from '../../lib/index.js';
import { cleanupAll, hostBusybox, isRoot, tempDir, tempRoot, testCgroupParent } from '../helpers.js';
import { buildOciLayout, pushImage, type LayerSpec } from '../image-builder.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../registry.js';

const missing = isRoot ? missingRegistryTools() : ['root'];
const busybox = hostBusybox();

function base(): LayerSpec {
  const layer: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
    tmp: { type: 'dir', mode: 0o1777 },
  };
  for (const applet of ['sh', 'cat', 'sleep']) layer[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  return layer;
}

/** The PockerError a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<PockerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PockerError);
    return err as PockerError;
  }
  throw new Error('expected a PockerError');
}

interface Stored {
  id: string;
  manifestDigest: string;
  configDigest: string;
  layers: string[];
}

describe.skipIf(missing.length > 0 || !busybox)('image management library functions', () => {
  let registry: TestRegistry;
  let repoA: string;
  let repoB: string;
  let refA: string;
  let refB: string;
  const containers: Array<{ id: string; root: string }> = [];

  /** A fresh root with both images pulled. */
  async function pulledRoot(): Promise<string> {
    const root = tempRoot();
    await pull(refA, { root });
    await pull(refB, { root });
    return root;
  }
  const stored = (root: string, name: string): Stored =>
    (JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')) as { images: Record<string, Stored> }).images[name]!;
  const names = (root: string): string[] =>
    Object.keys((JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')) as { images: Record<string, Stored> }).images).sort();
  const layerDir = (root: string, chain: string) => join(root, 'layers', chain.slice(7));
  const layerSize = (root: string, chain: string) => (JSON.parse(readFileSync(`${layerDir(root, chain)}.json`, 'utf8')) as { size: number }).size;
  const blob = (root: string, digest: string) => join(root, 'blobs', 'sha256', digest.slice(7));

  beforeAll(async () => {
    registry = await startRegistry();
    const shared = base();
    const a = tempDir('api-layout-a');
    buildOciLayout(a, {
      layers: [shared, { 'srv/a': 'image a\n' }],
      config: {
        created: '2020-01-02T03:04:05Z',
        config: { Cmd: ['cat', '/srv/a'], Env: ['PATH=/bin'], WorkingDir: '/srv', Labels: { 'org.example.name': 'a' }, StopSignal: 'SIGQUIT' },
      },
    });
    const b = tempDir('api-layout-b');
    buildOciLayout(b, { layers: [shared, { 'srv/b': 'image b\n' }], config: { config: { Cmd: ['cat', '/srv/b'], Env: ['PATH=/bin'] } } });
    pushImage(a, registry.host, 'api/a:1');
    pushImage(b, registry.host, 'api/b:1', { format: 'v2s2' });
    repoA = `${registry.host}/api/a`;
    repoB = `${registry.host}/api/b`;
    refA = `${repoA}:1`;
    refB = `${repoB}:1`;
  }, 180_000);

  afterAll(async () => {
    for (const { id, root } of containers) await removeContainer(id, { force: true, root }).catch(() => {});
    await registry?.stop();
    await cleanupAll();
  });

  it('listImages: one typed entry per name, newest first, sizes from the extracted layers; a reference filters', async () => {
    const root = await pulledRoot();
    expect(await listImages({ root: tempRoot() })).toEqual([]);
    const list: ImageInfo[] = await listImages({ root });
    expect(list.map((i) => i.name)).toEqual([refA, refB]); // A was created in 2020, B in 1970
    const a = stored(root, refA);
    expect(list[0]).toEqual({
      name: refA,
      repository: repoA,
      tag: '1',
      digest: a.manifestDigest,
      id: a.id,
      created: '2020-01-02T03:04:05Z',
      size: a.layers.reduce((n, c) => n + layerSize(root, c), 0),
      layers: a.layers,
      manifestDigest: a.manifestDigest,
      configDigest: a.configDigest,
    });
    expect(list[1]!.layers[0]).toBe(a.layers[0]);

    expect((await listImages({ root, reference: repoB })).map((i) => i.name)).toEqual([refB]);
    expect((await listImages({ root, reference: refA })).map((i) => i.name)).toEqual([refA]);
    expect(await listImages({ root, reference: `${repoA}:2` })).toEqual([]);
    expect((await listImages({ root, reference: `${registry.host}/api/*` })).map((i) => i.name)).toEqual([refA, refB]);
    expect(await listImages({ root, reference: 'nosuch' })).toEqual([]);
  });

  it('tagImage: by reference or id prefix, normalised; bad targets and unknown sources are typed errors', async () => {
    const root = await pulledRoot();
    const a = stored(root, refA);
    expect(await tagImage(refA, 'mine/app:v1', { root })).toEqual({ name: 'docker.io/mine/app:v1', id: a.id });
    expect(await tagImage(a.id.slice(7, 19), 'other', { root })).toEqual({ name: 'docker.io/library/other:latest', id: a.id });
    const mine = (await listImages({ root, reference: 'mine/app' }))[0]!;
    expect(mine).toMatchObject({ name: 'docker.io/mine/app:v1', repository: 'mine/app', tag: 'v1', id: a.id });

    const upper = await failure(tagImage(refA, 'Upper:1', { root }));
    expect(upper).toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'validate', message: 'invalid reference format: repository name must be lowercase' });
    const digest = await failure(tagImage(refA, `x@sha256:${'a'.repeat(64)}`, { root }));
    expect(digest).toMatchObject({ code: 'ERR_POCKER_INVALID', message: 'refusing to create a tag with a digest reference' });
    const unknown = await failure(tagImage('nosuch', 'x', { root }));
    expect(unknown).toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', step: 'lookup', message: 'No such image: nosuch:latest' });
    expect(names(root)).toEqual(['docker.io/library/other:latest', 'docker.io/mine/app:v1', refA, refB].sort());
  });

  it("inspectImage: Docker's document, typed, in Docker's key order; an unknown image is ERR_POCKER_NOT_FOUND", async () => {
    const root = await pulledRoot();
    await tagImage(refA, 'mine/app:v1', { root });
    const a = stored(root, refA);
    const doc = await inspectImage(a.id.slice(7, 15), { root });
    expect(Object.keys(doc)).toEqual([
      'Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config',
      'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata',
    ]);
    expect(doc).toMatchObject({
      Id: a.id,
      RepoTags: ['mine/app:v1', refA].sort(),
      RepoDigests: [`mine/app@${a.manifestDigest}`, `${repoA}@${a.manifestDigest}`].sort(),
      Created: '2020-01-02T03:04:05Z',
      Architecture: 'amd64',
      Os: 'linux',
      Size: (await listImages({ root, reference: refA }))[0]!.size,
      RootFS: { Type: 'layers' },
    });
    expect(doc.Config).toEqual({
      User: '',
      Env: ['PATH=/bin'],
      Cmd: ['cat', '/srv/a'],
      Volumes: null,
      WorkingDir: '/srv',
      Entrypoint: null,
      OnBuild: null,
      Labels: { 'org.example.name': 'a' },
      StopSignal: 'SIGQUIT',
    });
    expect(doc.RootFS.Layers).toHaveLength(2);
    expect(doc.GraphDriver).toEqual({ Name: 'overlay', Data: { LowerDir: [...a.layers].reverse().map((c) => layerDir(root, c)).join(':') } });
    expect((await inspectImage(refB, { root })).Config.Cmd).toEqual(['cat', '/srv/b']);

    const unknown = await failure(inspectImage('nosuch/image:1', { root }));
    expect(unknown).toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', step: 'lookup', message: 'No such image: nosuch/image:1' });
  });

  it('removeImage: untags one name; an id with several names needs force; the last name deletes what only it used', async () => {
    const root = await pulledRoot();
    const a = stored(root, refA);
    const b = stored(root, refB);
    await tagImage(refA, 'mine/app:v1', { root });

    const several = await failure(removeImage(a.id.slice(7, 19), { root }));
    expect(several).toMatchObject({ code: 'ERR_POCKER_CONFLICT', step: 'remove' });
    expect(several.message).toBe(`conflict: unable to delete ${a.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    expect(names(root)).toHaveLength(3);

    expect(await removeImage('mine/app:v1', { root })).toEqual({ untagged: ['mine/app:v1'], deleted: [] });
    expect(existsSync(blob(root, a.configDigest))).toBe(true);

    expect(await removeImage(refA, { root })).toEqual({
      untagged: [refA, `${repoA}@${a.manifestDigest}`],
      deleted: [a.id, a.layers[1]],
    });
    expect(existsSync(layerDir(root, a.layers[1]!))).toBe(false);
    expect(existsSync(blob(root, a.configDigest))).toBe(false);
    // The shared base layer and all of B stay.
    for (const chain of b.layers) expect(existsSync(layerDir(root, chain))).toBe(true);
    expect(existsSync(blob(root, b.configDigest))).toBe(true);

    const gone = await failure(removeImage(refA, { root }));
    expect(gone).toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', message: `No such image: ${refA}` });
    expect((await failure(removeImage('0123abcd', { root }))).code).toBe('ERR_POCKER_NOT_FOUND');
  });

  it('removeImage with noPrune keeps the layers and blobs for pruneImages()', async () => {
    const root = await pulledRoot();
    const a = stored(root, refA);
    expect(await removeImage(refA, { root, noPrune: true })).toEqual({ untagged: [refA, `${repoA}@${a.manifestDigest}`], deleted: [a.id] });
    expect(names(root)).toEqual([refB]);
    for (const chain of a.layers) expect(existsSync(layerDir(root, chain))).toBe(true);
    expect(existsSync(blob(root, a.configDigest))).toBe(true);

    const pruned = await pruneImages({ root });
    expect(pruned.untagged).toEqual([]);
    expect(pruned.deleted).toEqual([a.layers[1]]);
    expect(pruned.reclaimed).toBeGreaterThan(0);
    expect(existsSync(layerDir(root, a.layers[1]!))).toBe(false);
    expect(existsSync(blob(root, a.configDigest))).toBe(false);
    expect(existsSync(layerDir(root, a.layers[0]!))).toBe(true);
    expect(await pruneImages({ root })).toEqual({ untagged: [], deleted: [], reclaimed: 0 });
  });

  it('an image a created container uses: removeImage refuses without force, and with force keeps its layers until the container goes', async () => {
    const root = await pulledRoot();
    const b = stored(root, refB);
    const { id } = await create({ image: refB, cmd: ['true'], root, cgroupParent: testCgroupParent() });
    containers.push({ id, root });

    const refused = await failure(removeImage(refB, { root }));
    expect(refused).toMatchObject({ code: 'ERR_POCKER_CONFLICT', step: 'remove' });
    expect(refused.message).toBe(
      `conflict: unable to remove repository reference "${refB}" (must force) - container ${id.slice(0, 12)} is using its referenced image ${b.id.slice(7, 19)}`,
    );
    expect((await failure(removeImage(b.id.slice(7, 19), { root }))).message).toBe(
      `conflict: unable to delete ${b.id.slice(7, 19)} (must be forced) - image is being used by stopped container ${id.slice(0, 12)}`,
    );
    expect(names(root)).toContain(refB);

    const df = await systemDf({ root });
    expect(df.images).toMatchObject({ count: 2, active: 1 });
    expect(df.containers).toMatchObject({ count: 1, active: 0 });

    // prune -a removes A (nothing uses it) and keeps B.
    const a = stored(root, refA);
    const pruned = await pruneImages({ root, all: true });
    expect(pruned.untagged).toEqual([refA]);
    expect(pruned.deleted).toEqual([a.id, a.layers[1]]);
    expect(names(root)).toEqual([refB]);

    const forced = await removeImage(refB, { root, force: true });
    expect(forced).toEqual({ untagged: [refB, `${repoB}@${b.manifestDigest}`], deleted: [b.id] });
    for (const chain of b.layers) expect(existsSync(layerDir(root, chain))).toBe(true);

    await removeContainer(id, { root });
    const after = await pruneImages({ root });
    expect([...after.deleted].sort()).toEqual([...b.layers].sort());
    expect(statSync(join(root, 'layers')).isDirectory()).toBe(true);
    expect(await listImages({ root })).toEqual([]);
  });

  it('systemDf: totals, and per image, layer and running container with verbose', async () => {
    const root = await pulledRoot();
    const a = stored(root, refA);
    const b = stored(root, refB);
    const empty = await systemDf({ root: tempRoot() });
    expect(empty).toEqual({
      images: { count: 0, active: 0, size: 0, reclaimable: 0 },
      containers: { count: 0, active: 0, size: 0, reclaimable: 0 },
      blobs: expect.any(Number),
    });

    const c = await run({ image: refB, cmd: ['sleep', '60'], detach: true, root, cgroupParent: testCgroupParent() });
    containers.push({ id: c.id, root });
    const df = await systemDf({ root, verbose: true });
    expect(df.images).toMatchObject({ count: 2, active: 1 });
    expect(df.images.reclaimable).toBeLessThan(df.images.size);
    expect(df.containers).toMatchObject({ count: 1, active: 1, reclaimable: 0 });
    expect(df.details!.containers).toEqual([{ id: c.id, image: refB, size: df.containers.size, running: true }]);
    const baseSize = layerSize(root, a.layers[0]!);
    const imageA = df.details!.images.find((i) => i.name === refA)!;
    expect(imageA).toMatchObject({ id: a.id, sharedSize: baseSize, uniqueSize: layerSize(root, a.layers[1]!), containers: 0 });
    expect(imageA.size).toBe(imageA.sharedSize + imageA.uniqueSize);
    expect(df.details!.images.find((i) => i.name === refB)).toMatchObject({ containers: 1, sharedSize: baseSize });
    const baseLayer = df.details!.layers.find((l) => l.chainId === a.layers[0])!;
    expect(baseLayer).toEqual({ chainId: a.layers[0], size: baseSize, images: [refA, refB] });
    expect(df.details!.layers.map((l) => l.chainId).sort()).toEqual([...new Set([...a.layers, ...b.layers])].sort());
    expect((await systemDf({ root })).details).toBeUndefined();

    // Docker's rule: by id, not even force deletes the image of a running container.
    expect((await failure(removeImage(b.id.slice(7, 19), { root, force: true }))).message).toBe(
      `conflict: unable to delete ${b.id.slice(7, 19)} (cannot be forced) - image is being used by running container ${c.id.slice(0, 12)}`,
    );
    // What a running container mounts survives removeImage -f (by name) and pruneImages -a.
    const forced = await removeImage(refB, { root, force: true });
    expect(forced.deleted).toEqual([b.id]);
    await pruneImages({ root, all: true });
    for (const chain of b.layers) expect(existsSync(layerDir(root, chain))).toBe(true);
    await removeContainer(c.id, { root, force: true });
  });
});

describe.skipIf(missing.length > 0 || !busybox)('login and logout as library functions', () => {
  let registry: TestRegistry;
  const saved: Record<string, string | undefined> = {};
  let home: string;
  const authFile = () => join(home, 'config', 'pocker', 'auth.json');

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'basic' });
    home = tempDir('api-home');
    mkdirSync(join(home, 'config'));
    // credentialsPath() and dockerConfigPath() read these: a private home for this test.
    for (const key of ['XDG_CONFIG_HOME', 'DOCKER_CONFIG']) saved[key] = process.env[key];
    process.env.XDG_CONFIG_HOME = join(home, 'config');
    process.env.DOCKER_CONFIG = join(home, 'docker');
  }, 60_000);

  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await registry?.stop();
    await cleanupAll();
  });

  it('a wrong password is ERR_POCKER_AUTH and stores nothing; the right one is stored; logout removes it once', async () => {
    const wrong = await failure(login({ server: registry.host, username: registry.username!, password: 'wrong-password' }));
    expect(wrong.code).toBe('ERR_POCKER_AUTH');
    expect(wrong.message).toMatch(/unauthorized: incorrect username or password/);
    expect(existsSync(authFile())).toBe(false);
    expect((await failure(login({ server: 'not a host', username: 'u', password: 'p' }))).code).toBe('ERR_POCKER_INVALID');
    expect((await failure(login({ server: registry.host, username: '', password: 'p' }))).code).toBe('ERR_POCKER_INVALID');

    expect(await login({ server: `http://${registry.host}/`, username: registry.username!, password: registry.password! })).toEqual({ registry: registry.host });
    expect(statSync(authFile()).mode & 0o777).toBe(0o600);
    const auths = (JSON.parse(readFileSync(authFile(), 'utf8')) as { auths: Record<string, { auth: string }> }).auths;
    expect(Buffer.from(auths[registry.host]!.auth, 'base64').toString()).toBe(`${registry.username}:${registry.password}`);

    expect(await logout(registry.host)).toEqual({ registry: registry.host, removed: true });
    expect(await logout(registry.host)).toEqual({ registry: registry.host, removed: false });
    expect(await logout('https://index.docker.io/v1/')).toEqual({ registry: 'docker.io', removed: false });
  });
});
