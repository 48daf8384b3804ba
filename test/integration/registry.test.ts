// The registry client against a real registry: Debian's docker-registry on 127.0.0.1 (test/registry.ts),
// images built as OCI layouts (test/image-builder.ts) and pushed with skopeo as OCI and as Docker
// schema 2, single- and multi-platform, to an open and to a basic-auth registry. Then blobs are
// corrupted and truncated in the registry's storage to see them rejected.
//
// Needs the Debian packages docker-registry, skopeo and apache2-utils (`npm test` installs them as
// root); skipped, loudly, when they are missing.
import { mkdtempSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { loadCredentials, saveCredentials } from '../../lib/image/auth.js';
import { parseReference } from '../../lib/image/reference.js';
import { RegistryClient, verifyingStream } from '../../lib/image/registry.js';
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
} from '../../lib/image/types.js';
import { RUN_TEMP_PREFIX } from '../helpers.js';
import { buildOciLayout, pushImage, type BuiltLayout, type LayerSpec } from '../image-builder.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../registry.js';

const missing = missingRegistryTools();
if (missing.length > 0) {
  process.stderr.write(`registry integration tests SKIPPED: missing ${missing.join(', ')} (apt-get install ${missing.join(' ')})\n`);
}

async function caught(fn: () => Promise<unknown>): Promise<PockerError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PockerError);
    return err as PockerError;
  }
  throw new Error('expected an error');
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const fast = { backoff: { baseMs: 5, maxMs: 20 } };

const baseLayer: LayerSpec = {
  'etc/os-release': 'NAME=pocker-test\n',
  'etc/hello': 'hello\n',
  bin: { type: 'dir', mode: 0o755 },
  'bin/tool': { type: 'file', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
  'bin/sh': { type: 'symlink', target: 'tool' },
  'var/cache/a': 'a\n',
};
const upperLayer: LayerSpec = {
  'etc/hello': { type: 'whiteout' },
  'var/cache': { type: 'opaque' },
  'var/cache/b': 'b\n',
  'etc/motd': 'welcome\n',
};

describe.skipIf(missing.length > 0)('registry client against docker-registry (loopback)', () => {
  let reg: TestRegistry;
  let authReg: TestRegistry;
  let work: string;
  let single: BuiltLayout;
  let multi: BuiltLayout;
  const pushed: Record<string, string> = {};
  const savedEnv: Record<string, string | undefined> = {};

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), `${RUN_TEMP_PREFIX}registry-images-`));
    [reg, authReg] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);

    single = buildOciLayout(join(work, 'single'), {
      layers: [baseLayer, upperLayer],
      config: { config: { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo hi'], Env: ['PATH=/bin', 'A=1'], WorkingDir: '/etc', User: '0:0', StopSignal: 'SIGINT', Labels: { k: 'v' } } },
    });
    multi = buildOciLayout(join(work, 'multi'), {
      layers: [baseLayer],
      platforms: [
        { os: 'linux', architecture: 'arm64', variant: 'v8', layers: [baseLayer, { 'etc/arch': 'arm64\n' }] },
        { os: 'linux', architecture: 'amd64', layers: [baseLayer, { 'etc/arch': 'amd64\n' }] },
        { os: 'linux', architecture: 'arm', variant: 'v7', layers: [baseLayer, { 'etc/arch': 'arm\n' }] },
      ],
    });
    pushed.oci = pushImage(single.dir, reg.host, 'test/oci:1', { format: 'oci' });
    pushed.v2s2 = pushImage(single.dir, reg.host, 'test/v2s2:1', { format: 'v2s2' });
    pushed.multiOci = pushImage(multi.dir, reg.host, 'test/multi:oci', { format: 'oci', all: true });
    pushed.multiV2s2 = pushImage(multi.dir, reg.host, 'test/multi:v2s2', { format: 'v2s2', all: true });
    pushed.private = pushImage(single.dir, authReg.host, 'private/app:1', {
      format: 'oci',
      creds: { username: authReg.username!, password: authReg.password! },
    });
    for (const k of ['HOME', 'XDG_CONFIG_HOME', 'DOCKER_CONFIG']) savedEnv[k] = process.env[k];
  }, 120_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await Promise.all([reg?.stop(), authReg?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resolves an OCI manifest, its config, and streams verified layers', async () => {
    const client = new RegistryClient(fast);
    const ref = parseReference(`${reg.host}/test/oci:1`);
    const r = await client.resolveManifest(ref);
    const image = single.images[0]!;
    expect(r.digest).toBe(pushed.oci);
    expect(r.digest).toBe(image.manifestDescriptor.digest);
    expect(r.mediaType).toBe(MEDIA_TYPE_OCI_MANIFEST);
    expect(r.index).toBeUndefined();
    expect(r.config.mediaType).toBe(MEDIA_TYPE_OCI_CONFIG);
    expect(r.layers.map((l) => [l.mediaType, l.digest, l.size])).toEqual(image.layers.map((l) => [MEDIA_TYPE_OCI_LAYER_GZIP, l.descriptor.digest, l.descriptor.size]));

    const config = await client.getConfig(ref, r.config);
    expect(config.architecture).toBe('amd64');
    expect(config.os).toBe('linux');
    expect(config.config).toMatchObject({ Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo hi'], WorkingDir: '/etc', StopSignal: 'SIGINT', Labels: { k: 'v' } });
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));

    for (const [i, layer] of r.layers.entries()) {
      let last = 0;
      const stream = await client.fetchBlob(ref, layer, { onProgress: (n) => (last = n) });
      const gz = await collect(stream.pipe(verifyingStream(layer)));
      expect(last).toBe(layer.size);
      expect(gunzipSync(gz).equals(image.layers[i]!.tar)).toBe(true);
    }

    // By digest, too (what a pull records), and with name:tag@digest.
    const byDigest = await client.resolveManifest(parseReference(`${reg.host}/test/oci@${r.digest}`));
    expect(byDigest.raw.equals(r.raw)).toBe(true);
    const both = await client.resolveManifest(parseReference(`${reg.host}/test/oci:nonexistent-tag@${r.digest}`));
    expect(both.digest).toBe(r.digest);
  });

  it('resolves a Docker schema 2 manifest', async () => {
    const client = new RegistryClient(fast);
    const ref = parseReference(`${reg.host}/test/v2s2:1`);
    const r = await client.resolveManifest(ref);
    expect(r.digest).toBe(pushed.v2s2);
    expect(r.mediaType).toBe(MEDIA_TYPE_DOCKER_MANIFEST);
    expect(r.config.mediaType).toBe(MEDIA_TYPE_DOCKER_CONFIG);
    expect(r.layers.every((l) => l.mediaType === MEDIA_TYPE_DOCKER_LAYER_GZIP)).toBe(true);
    // The layers themselves are the same blobs as the OCI image's.
    expect(r.layers.map((l) => l.digest)).toEqual(single.images[0]!.layers.map((l) => l.descriptor.digest));
    const config = await client.getConfig(ref, r.config);
    expect(config.config?.Env).toEqual(['PATH=/bin', 'A=1']);
  });

  it('resolves a multi-arch OCI index and a manifest list to linux/amd64 (and to other platforms on request)', async () => {
    const client = new RegistryClient(fast);
    for (const [tag, digest, indexType, manifestType] of [
      ['oci', pushed.multiOci, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST],
      ['v2s2', pushed.multiV2s2, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_DOCKER_MANIFEST],
    ] as const) {
      const ref = parseReference(`${reg.host}/test/multi:${tag}`);
      const amd = await client.resolveManifest(ref, { os: 'linux', architecture: 'amd64' });
      expect(amd.index?.digest).toBe(digest);
      expect(amd.index?.mediaType).toBe(indexType);
      expect(amd.mediaType).toBe(manifestType);
      expect((await client.getConfig(ref, amd.config)).architecture).toBe('amd64');
      const top = await collect((await client.fetchBlob(ref, amd.layers[1]!)).pipe(verifyingStream(amd.layers[1]!)));
      expect(gunzipSync(top).toString('latin1')).toContain('amd64\n');
      // The default platform is this host's.
      if (process.arch === 'x64') expect((await client.resolveManifest(ref)).digest).toBe(amd.digest);

      const arm64 = await client.resolveManifest(ref, { os: 'linux', architecture: 'arm64' });
      expect((await client.getConfig(ref, arm64.config)).architecture).toBe('arm64');
      const armv7 = await client.resolveManifest(ref, { os: 'linux', architecture: 'arm', variant: 'v7' });
      expect((await client.getConfig(ref, armv7.config)).variant).toBe('v7');

      const err = await caught(() => client.resolveManifest(ref, { os: 'linux', architecture: 's390x' }));
      expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
      expect(err.message).toContain('linux/s390x');
      expect(err.message).toContain('linux/arm64/v8, linux/amd64, linux/arm/v7');
    }
  });

  it('a missing tag or repository is ERR_POCKER_NOT_FOUND', async () => {
    const client = new RegistryClient(fast);
    for (const name of ['test/oci:nope', 'test/nothing-here:1']) {
      const err = await caught(() => client.resolveManifest(parseReference(`${reg.host}/${name}`)));
      expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
      expect(err.step).toBe('pull');
      expect(err.message).toContain(`${reg.url}/v2/`);
    }
  });

  it('a basic-auth repository: 401 without credentials, works with them (also from the credentials store)', async () => {
    const ref = parseReference(`${authReg.host}/private/app:1`);
    const anonymous = await caught(() => new RegistryClient(fast).resolveManifest(ref));
    expect(anonymous.code).toBe('ERR_POCKER_AUTH');
    expect(anonymous.message).toContain(`pocker login ${authReg.host}`);

    const wrong = await caught(() =>
      new RegistryClient({ ...fast, credentials: () => ({ username: authReg.username!, password: 'wrong-password' }) }).resolveManifest(ref),
    );
    expect(wrong.code).toBe('ERR_POCKER_AUTH');
    expect(wrong.message).not.toContain('wrong-password');

    // Through pocker login's store, in a temp HOME.
    process.env.HOME = join(work, 'home');
    process.env.XDG_CONFIG_HOME = join(work, 'home', '.config');
    delete process.env.DOCKER_CONFIG;
    await saveCredentials(authReg.host, authReg.username!, authReg.password!);
    const client = new RegistryClient({ ...fast, credentials: loadCredentials });
    const r = await client.resolveManifest(ref);
    expect(r.digest).toBe(pushed.private);
    const config = await client.getConfig(ref, r.config);
    expect(config.rootfs.diff_ids).toHaveLength(2);
    const layer = await collect((await client.fetchBlob(ref, r.layers[0]!)).pipe(verifyingStream(r.layers[0]!)));
    expect(layer.length).toBe(r.layers[0]!.size);
  });

  /** Pushes a one-layer image with unique content (its blobs are shared with nothing else). */
  function uniqueImage(name: string): { repo: string; layout: BuiltLayout } {
    const layout = buildOciLayout(join(work, name), {
      layers: [{ [`data/${name}`]: `${name} ${Date.now()} ${Math.random()}\n`.repeat(2000) }],
      config: { config: { Cmd: ['/bin/true'] }, author: name },
    });
    pushImage(layout.dir, reg.host, `test/${name}:1`, { format: 'oci' });
    return { repo: `test/${name}:1`, layout };
  }

  /** Downloads a blob through fetchBlob + verifyingStream, failing however the client fails. */
  async function download(client: RegistryClient, repo: string, desc: Descriptor): Promise<Buffer> {
    return collect((await client.fetchBlob(parseReference(`${reg.host}/${repo}`), desc)).pipe(verifyingStream(desc)));
  }

  it('a corrupted blob is rejected with ERR_POCKER_DIGEST', async () => {
    const { repo, layout } = uniqueImage('corrupt');
    const client = new RegistryClient(fast);
    const ref = parseReference(`${reg.host}/${repo}`);
    const r = await client.resolveManifest(ref);
    const layer = r.layers[0]!;
    expect((await download(client, repo, layer)).length).toBe(layer.size); // fine before

    // Same size, different bytes: only the digest can tell.
    const path = reg.blobPath(layer.digest);
    expect(statSync(path).size).toBe(layer.size);
    writeFileSync(path, Buffer.alloc(layer.size, 0x5a));
    const err = await caught(() => download(client, repo, layer));
    expect(err.code).toBe('ERR_POCKER_DIGEST');
    expect(err.step).toBe('pull');
    expect(err.message).toContain(`expected ${layer.digest}`);

    // The config blob goes through fetchBlobBytes' own check.
    writeFileSync(reg.blobPath(r.config.digest), Buffer.alloc(r.config.size, 0x20));
    const cfgErr = await caught(() => client.getConfig(ref, r.config));
    expect(cfgErr.code).toBe('ERR_POCKER_DIGEST');
    expect(layout.images[0]!.configDescriptor.digest).toBe(r.config.digest);
  });

  it('a truncated download is rejected with ERR_POCKER_DIGEST', async () => {
    const { repo } = uniqueImage('truncated');
    const client = new RegistryClient(fast);
    const r = await client.resolveManifest(parseReference(`${reg.host}/${repo}`));
    const layer = r.layers[0]!;
    truncateSync(reg.blobPath(layer.digest), Math.floor(layer.size / 2));
    const err = await caught(() => download(client, repo, layer));
    expect(err.code).toBe('ERR_POCKER_DIGEST');
    expect(err.message).toMatch(/serves \d+ bytes, the descriptor says \d+|truncated/);
    expect(err.message).toContain(`${reg.url}/v2/${repo.split(':')[0]}/blobs/${layer.digest}`);
  });
});
