// The registry client without a real registry: WWW-Authenticate parsing, platform selection,
// the backoff schedule, and the HTTP behaviour (auth flows, retries, ranges, redirects, digest
// checks) against small node:http servers on 127.0.0.1. Also the credentials store (auth.ts) with
// a temp HOME and XDG_CONFIG_HOME.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { credentialsPath, loadCredentials, removeCredentials, saveCredentials } from '../../lib/image/auth.js';
import { parseReference } from '../../lib/image/reference.js';
import {
  RegistryClient,
  backoffDelay,
  compatiblePlatforms,
  normalizePlatform,
  parseWwwAuthenticate,
  selectManifest,
  verifyingStream,
  type RegistryClientOptions,
} from '../../lib/image/registry.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
  type ImageIndex,
  type Platform,
} from '../../lib/image/types.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<PockerError> {
  try {
    await (typeof p === 'function' ? p() : p);
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

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate

describe('parseWwwAuthenticate', () => {
  it("parses Docker Hub's Bearer challenge", () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'),
    ).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });

  it('keeps commas inside quoted values and reads several challenges', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm", Bearer realm="https://x/t", scope="repository:a/b:pull,push" ,error="invalid_token"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', scope: 'repository:a/b:pull,push', error: 'invalid_token' } },
    ]);
  });

  it('handles escapes, unquoted values, case and token68', () => {
    expect(parseWwwAuthenticate('bearer REALM="a\\"b\\\\c", service=svc')).toEqual([{ scheme: 'bearer', params: { realm: 'a"b\\c', service: 'svc' } }]);
    expect(parseWwwAuthenticate('Negotiate abc123==, Basic realm="r"')).toEqual([
      { scheme: 'negotiate', params: { token68: 'abc123==' } },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
    expect(parseWwwAuthenticate('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Platforms

const entry = (platform: Platform | undefined, n: number, mediaType = MEDIA_TYPE_OCI_MANIFEST): Descriptor => ({
  mediaType,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  size: 100 + n,
  ...(platform ? { platform } : {}),
});

function indexOf(...entries: Descriptor[]): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: entries };
}

describe('platform selection', () => {
  const multi = indexOf(
    entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 1),
    entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 2),
    entry({ os: 'linux', architecture: 'amd64' }, 3),
    entry({ os: 'unknown', architecture: 'unknown' }, 4),
    entry({ os: 'windows', architecture: 'amd64' }, 5),
  );

  it('picks linux/amd64 for an amd64 host', () => {
    expect(selectManifest(multi, { os: 'linux', architecture: 'amd64' }).digest).toBe(entry(undefined, 3).digest);
    expect(selectManifest(multi, { os: 'linux', architecture: 'x86_64' }).digest).toBe(entry(undefined, 3).digest);
  });

  it('prefers arm64/v8 for arm64, with or without variant, over arm/v7', () => {
    expect(selectManifest(multi, { os: 'linux', architecture: 'arm64' }).digest).toBe(entry(undefined, 2).digest);
    expect(selectManifest(multi, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(entry(undefined, 2).digest);
    expect(selectManifest(multi, { os: 'linux', architecture: 'aarch64', variant: '8' }).digest).toBe(entry(undefined, 2).digest);
    // An arm64 entry without a variant is arm64/v8.
    const noVariant = indexOf(entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 1), entry({ os: 'linux', architecture: 'arm64' }, 2));
    expect(selectManifest(noVariant, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(entry(undefined, 2).digest);
    // Without arm64, an arm64 host runs 32-bit arm, newest variant first.
    const armOnly = indexOf(entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 1), entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 2));
    expect(selectManifest(armOnly, { os: 'linux', architecture: 'arm64' }).digest).toBe(entry(undefined, 2).digest);
  });

  it('falls back along the variant chain but never upwards', () => {
    const v6 = indexOf(entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 1), entry({ os: 'linux', architecture: 'arm64' }, 2));
    expect(selectManifest(v6, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(entry(undefined, 1).digest);
    expect(() => selectManifest(v6, { os: 'linux', architecture: 'arm', variant: 'v5' })).toThrow(/no matching manifest for linux\/arm\/v5/);
    // arm without variant means v7 (containerd); armhf too.
    const v7 = indexOf(entry({ os: 'linux', architecture: 'arm' }, 1));
    expect(selectManifest(v7, { os: 'linux', architecture: 'armhf' }).digest).toBe(entry(undefined, 1).digest);
    // amd64 runs 386.
    const i386 = indexOf(entry({ os: 'linux', architecture: '386' }, 7));
    expect(selectManifest(i386, { os: 'linux', architecture: 'amd64' }).digest).toBe(entry(undefined, 7).digest);
    // amd64/v3 runs v2 and plain amd64.
    const levels = indexOf(entry({ os: 'linux', architecture: 'amd64' }, 1), entry({ os: 'linux', architecture: 'amd64', variant: 'v2' }, 2));
    expect(selectManifest(levels, { os: 'linux', architecture: 'amd64', variant: 'v3' }).digest).toBe(entry(undefined, 2).digest);
    expect(selectManifest(levels, { os: 'linux', architecture: 'amd64' }).digest).toBe(entry(undefined, 1).digest);
  });

  it('takes the first of equal entries, and skips entries that are not manifests', () => {
    const dup = indexOf(
      entry({ os: 'linux', architecture: 'amd64' }, 1, 'application/vnd.in-toto+json'),
      entry({ os: 'linux', architecture: 'amd64' }, 2, MEDIA_TYPE_OCI_MANIFEST),
      entry({ os: 'linux', architecture: 'amd64' }, 3, MEDIA_TYPE_OCI_MANIFEST),
      entry(undefined, 4),
    );
    expect(selectManifest(dup, { os: 'linux', architecture: 'amd64' }).digest).toBe(entry(undefined, 2).digest);
  });

  it('a missing platform is ERR_POCKER_NOT_FOUND listing what is available', async () => {
    const err = await caught(() => selectManifest(multi, { os: 'linux', architecture: 's390x' }, 'example/app:1'));
    expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
    expect(err.step).toBe('pull');
    expect(err.message).toBe(
      'no matching manifest for linux/s390x in the manifest list entries of example/app:1 (available: linux/arm/v7, linux/arm64/v8, linux/amd64, windows/amd64)',
    );
  });

  it('normalizes like containerd', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'x86_64', variant: 'v1' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'armel' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm', variant: '7' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'linux', architecture: 'i386' })).toEqual({ os: 'linux', architecture: '386' });
    expect(compatiblePlatforms({ os: 'linux', architecture: 'arm64', variant: 'v8' }).map((p) => [p.architecture, p.variant ?? ''].join('/'))).toEqual([
      'arm64/',
      'arm/v8',
      'arm/v7',
      'arm/v6',
      'arm/v5',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Backoff

describe('backoffDelay', () => {
  it('doubles from the base, caps, and jitters within [half, full]', () => {
    const lo = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, { random: () => 0 }));
    const hi = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, { random: () => 0.999999 }));
    expect(lo).toEqual([125, 250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(hi).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 300, random: () => 0.5 }))).toEqual([75, 150, 225, 225]);
    for (let a = 0; a < 10; a++) {
      const d = backoffDelay(a);
      expect(d).toBeGreaterThanOrEqual(lo[Math.min(a, 7)]!);
      expect(d).toBeLessThanOrEqual(hi[Math.min(a, 7)]!);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// verifyingStream

describe('verifyingStream', () => {
  const data = Buffer.from('hello, blob');
  const desc = { digest: sha(data), size: data.length };

  it('passes good content through', async () => {
    const out = await collect(Readable.from([data.subarray(0, 4), data.subarray(4)]).pipe(verifyingStream(desc)));
    expect(out.equals(data)).toBe(true);
  });

  it('fails on a digest mismatch, a short and a long blob with ERR_POCKER_DIGEST', async () => {
    const bad = Buffer.from('hello, blub');
    for (const [input, re] of [
      [bad, /digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:/],
      [data.subarray(0, 5), /truncated: 5 of 11 bytes/],
      [Buffer.concat([data, Buffer.from('!')]), /larger than/],
    ] as const) {
      const err = await caught(pipeline(Readable.from([input]), verifyingStream(desc), async function* (src) {
        for await (const _ of src) yield _;
      }));
      expect(err.code).toBe('ERR_POCKER_DIGEST');
      expect(err.message).toMatch(re);
    }
  });

  it('continues a resumed hash', async () => {
    const hash = createHash('sha256').update(data.subarray(0, 6));
    const out = await collect(Readable.from([data.subarray(6)]).pipe(verifyingStream(desc, { hash, bytes: 6 })));
    expect(out.toString()).toBe(' blob');
  });
});

// ---------------------------------------------------------------------------------------------
// A tiny registry on node:http

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

interface TestServer {
  url: string;
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, server: TestServer) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let self!: TestServer;
  const srv: Server = createServer((req, res) => {
    self.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, self);
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  self = {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
  servers.push(self);
  return self;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

// Content of the fake repository `test/repo`.
const layer = Buffer.from('layer bytes; '.repeat(5000));
const layerDesc: Descriptor = { mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: sha(layer), size: layer.length };
const configBytes = Buffer.from(
  JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [sha('x')] } }),
);
const configDesc: Descriptor = { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: sha(configBytes), size: configBytes.length };
const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: configDesc, layers: [layerDesc] }));
const manifestDigest = sha(manifestBytes);
const armManifestBytes = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: { ...configDesc }, layers: [layerDesc], annotations: { arch: 'arm64' } }),
);
const indexBytes = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    manifests: [
      { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: sha(armManifestBytes), size: armManifestBytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: manifestDigest, size: manifestBytes.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }),
);

interface Content {
  body: Buffer;
  type: string;
  digestHeader?: string | false;
}

/** Serves manifests and blobs of `test/repo` (Range supported unless `ranges: false`). */
function repoHandler(opts: { ranges?: boolean; extra?: Record<string, Content> } = {}) {
  const content: Record<string, Content> = {
    '/v2/test/repo/manifests/latest': { body: manifestBytes, type: MEDIA_TYPE_OCI_MANIFEST },
    [`/v2/test/repo/manifests/${manifestDigest}`]: { body: manifestBytes, type: MEDIA_TYPE_OCI_MANIFEST },
    [`/v2/test/repo/manifests/${sha(armManifestBytes)}`]: { body: armManifestBytes, type: MEDIA_TYPE_OCI_MANIFEST },
    '/v2/test/repo/manifests/multi': { body: indexBytes, type: MEDIA_TYPE_DOCKER_MANIFEST_LIST },
    [`/v2/test/repo/blobs/${layerDesc.digest}`]: { body: layer, type: 'application/octet-stream' },
    [`/v2/test/repo/blobs/${configDesc.digest}`]: { body: configBytes, type: 'application/octet-stream' },
    ...opts.extra,
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const c = content[req.url ?? ''];
    if (!c) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      return;
    }
    const headers: Record<string, string> = { 'content-type': c.type };
    if (c.digestHeader !== false) headers['docker-content-digest'] = c.digestHeader ?? sha(c.body);
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && opts.ranges !== false) {
      const start = Number(range[1]);
      headers['content-range'] = `bytes ${start}-${c.body.length - 1}/${c.body.length}`;
      res.writeHead(206, headers);
      res.end(c.body.subarray(start));
      return;
    }
    res.writeHead(200, headers);
    res.end(c.body);
  };
}

const fast: RegistryClientOptions = { backoff: { baseMs: 1, maxMs: 4 } };

describe('RegistryClient: manifests', () => {
  it('resolves an OCI manifest by tag, with the Accept headers, and verifies it', async () => {
    const srv = await serve(repoHandler());
    const client = new RegistryClient(fast);
    const r = await client.resolveManifest(parseReference(`${srv.host}/test/repo`));
    expect(r.digest).toBe(manifestDigest);
    expect(r.mediaType).toBe(MEDIA_TYPE_OCI_MANIFEST);
    expect(r.raw.equals(manifestBytes)).toBe(true);
    expect(r.config).toEqual(configDesc);
    expect(r.layers).toEqual([layerDesc]);
    expect(r.index).toBeUndefined();
    const accept = String(srv.seen[0]!.headers.accept);
    for (const t of [
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ]) {
      expect(accept).toContain(t);
    }
    expect(srv.seen[0]!.headers['user-agent']).toBe('pocker');
    const config = await client.getConfig(parseReference(`${srv.host}/test/repo`), r.config);
    expect(config.config?.Cmd).toEqual(['/bin/sh']);
  });

  it('resolves a manifest list to the requested platform', async () => {
    const srv = await serve(repoHandler());
    const client = new RegistryClient(fast);
    const amd = await client.resolveManifest(parseReference(`${srv.host}/test/repo:multi`));
    expect(amd.digest).toBe(manifestDigest);
    expect(amd.index).toMatchObject({ digest: sha(indexBytes), mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST });
    expect(amd.index!.raw.equals(indexBytes)).toBe(true);
    const arm = await client.resolveManifest(parseReference(`${srv.host}/test/repo:multi`), { os: 'linux', architecture: 'arm64' });
    expect(arm.digest).toBe(sha(armManifestBytes));
    const err = await caught(client.resolveManifest(parseReference(`${srv.host}/test/repo:multi`), { os: 'linux', architecture: 'ppc64le' }));
    expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
    expect(err.message).toContain('available: linux/arm64/v8, linux/amd64');
  });

  it('rejects bytes that do not match the digest (header or reference) with ERR_POCKER_DIGEST', async () => {
    const evil = Buffer.concat([manifestBytes, Buffer.from('\n')]);
    const srv = await serve(
      repoHandler({
        extra: {
          '/v2/test/repo/manifests/liar': { body: evil, type: MEDIA_TYPE_OCI_MANIFEST, digestHeader: manifestDigest },
          [`/v2/test/repo/manifests/${manifestDigest}`]: { body: evil, type: MEDIA_TYPE_OCI_MANIFEST, digestHeader: false },
        },
      }),
    );
    const client = new RegistryClient(fast);
    const e1 = await caught(client.resolveManifest(parseReference(`${srv.host}/test/repo:liar`)));
    expect(e1.code).toBe('ERR_POCKER_DIGEST');
    expect(e1.message).toContain(`${srv.url}/v2/test/repo/manifests/liar`);
    const e2 = await caught(client.resolveManifest(parseReference(`${srv.host}/test/repo@${manifestDigest}`)));
    expect(e2.code).toBe('ERR_POCKER_DIGEST');
    expect(e2.step).toBe('pull');
  });

  it('refuses schema 1 clearly', async () => {
    const s1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'test/repo', tag: 'old', fsLayers: [], history: [], signatures: [] }));
    const srv = await serve(repoHandler({ extra: { '/v2/test/repo/manifests/old': { body: s1, type: MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED } } }));
    const err = await caught(new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo:old`)));
    expect(err.code).toBe('ERR_POCKER_REGISTRY');
    expect(err.message).toMatch(/schema 1 is not supported/);
  });

  it('a missing manifest is ERR_POCKER_NOT_FOUND, not retried, with the URL', async () => {
    const srv = await serve(repoHandler());
    const err = await caught(new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo:nope`)));
    expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
    expect(err.message).toContain(`manifest for ${srv.host}/test/repo:nope not found: MANIFEST_UNKNOWN: manifest unknown`);
    expect(err.message).toContain(`${srv.url}/v2/test/repo/manifests/nope`);
    expect(srv.seen).toHaveLength(1);
  });
});

describe('RegistryClient: retries', () => {
  it('retries 500 and 429 (Retry-After) and then succeeds', async () => {
    let n = 0;
    const ok = repoHandler();
    const srv = await serve((req, res) => {
      n++;
      if (n === 1) res.writeHead(500).end('boom');
      else if (n === 2) res.writeHead(429, { 'retry-after': '0' }).end();
      else if (n === 3) res.writeHead(503, { 'retry-after': '0' }).end();
      else ok(req, res);
    });
    const r = await new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo`));
    expect(r.digest).toBe(manifestDigest);
    expect(srv.seen).toHaveLength(4);
  });

  it('gives up after `retries` retries with ERR_POCKER_REGISTRY naming the URL', async () => {
    const srv = await serve((_req, res) => res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n'));
    const err = await caught(new RegistryClient({ ...fast, retries: 2 }).resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_REGISTRY');
    expect(err.message).toContain(`GET ${srv.url}/v2/test/repo/manifests/latest -> 502`);
    expect(err.message).toContain('after 3 attempts');
    expect(srv.seen).toHaveLength(3);
  });

  it('never retries other 4xx', async () => {
    const srv = await serve((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}'));
    const err = await caught(new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_REGISTRY');
    expect(err.message).toContain('NAME_INVALID: invalid repository name');
    expect(srv.seen).toHaveLength(1);
  });

  it('retries network errors, then fails with the cause', async () => {
    const srv = await serve(() => {});
    await srv.close(); // nothing listens there any more
    const err = await caught(new RegistryClient({ ...fast, retries: 2 }).resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_REGISTRY');
    expect(err.message).toMatch(/failed after 3 attempts: .*ECONNREFUSED/);
  });

  it('an abort during the backoff is ABORT_ERR', async () => {
    const srv = await serve((_req, res) => res.writeHead(500).end());
    const controller = new AbortController();
    const client = new RegistryClient({ backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const p = client.resolveManifest(parseReference(`${srv.host}/test/repo`), undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const err = await caught(p);
    expect(err.code).toBe('ABORT_ERR');
  });
});

describe('RegistryClient: auth', () => {
  const user = 'alice';
  const password = 's3cr3t-pa55';
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  /** A Bearer registry whose token endpoint is on the same server (`/token`). */
  async function bearerRegistry(opts: { requireCreds?: boolean; rejectTokens?: boolean } = {}) {
    const repo = repoHandler();
    let issued = 0;
    const srv = await serve((req, res, self) => {
      const u = new URL(req.url ?? '/', self.url);
      if (u.pathname === '/token') {
        if (opts.requireCreds && req.headers.authorization !== basic) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
          return;
        }
        issued++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: `tok-${issued}-${u.searchParams.get('service')}-${u.searchParams.get('scope')}`, expires_in: 300 }));
        return;
      }
      const auth = req.headers.authorization ?? '';
      if (opts.rejectTokens || !auth.startsWith('Bearer tok-') || !auth.endsWith('-test-service-repository:test/repo:pull')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${self.url}/token",service="test-service",scope="repository:test/repo:pull"`,
          'content-type': 'application/json',
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      repo(req, res);
    });
    return { srv, issued: () => issued };
  }

  it('Bearer: fetches a token for the challenge scope once and reuses it', async () => {
    const { srv, issued } = await bearerRegistry();
    const client = new RegistryClient(fast);
    const ref = parseReference(`${srv.host}/test/repo`);
    const r = await client.resolveManifest(ref);
    await client.resolveManifest(parseReference(`${srv.host}/test/repo:multi`));
    expect((await collect(await client.fetchBlob(ref, r.layers[0]!))).equals(layer)).toBe(true);
    await Promise.all([client.getConfig(ref, r.config), client.getConfig(ref, r.config)]);
    expect(issued()).toBe(1);
    const tokenReq = srv.seen.find((s) => s.url.startsWith('/token'))!;
    expect(tokenReq.url).toBe('/token?service=test-service&scope=repository%3Atest%2Frepo%3Apull');
    expect(tokenReq.headers.authorization).toBeUndefined(); // anonymous: no credentials known
    expect(srv.seen.filter((s) => s.url.startsWith('/v2/')).filter((s) => !s.headers.authorization)).toHaveLength(1);
  });

  it('Bearer: sends basic credentials to the token endpoint; wrong ones are ERR_POCKER_AUTH without the password', async () => {
    const { srv } = await bearerRegistry({ requireCreds: true });
    const good = new RegistryClient({ ...fast, credentials: (reg) => (reg === srv.host ? { username: user, password } : undefined) });
    await good.resolveManifest(parseReference(`${srv.host}/test/repo`));
    expect(srv.seen.find((s) => s.url.startsWith('/token'))!.headers.authorization).toBe(basic);

    const bad = new RegistryClient({ ...fast, credentials: () => ({ username: user, password: 'wrong-password' }) });
    const err = await caught(bad.resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_AUTH');
    expect(err.step).toBe('pull');
    expect(err.message).toMatch(/incorrect username or password/);
    expect(err.message).toContain(`${srv.url}/token`);
    expect(err.message).not.toContain('wrong-password');
  });

  it('Bearer: a token the registry refuses is re-sent once, then ERR_POCKER_AUTH', async () => {
    const { srv, issued } = await bearerRegistry({ rejectTokens: true });
    const err = await caught(new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_AUTH');
    expect(err.message).toContain(`pull access denied for ${srv.host}/test/repo`);
    expect(issued()).toBe(1);
    expect(srv.seen.filter((s) => s.url.startsWith('/v2/'))).toHaveLength(2);
  });

  /** A basic-auth registry. */
  async function basicRegistry() {
    const repo = repoHandler();
    return serve((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      repo(req, res);
    });
  }

  it('Basic: no credentials is ERR_POCKER_AUTH suggesting pocker login', async () => {
    const srv = await basicRegistry();
    const err = await caught(new RegistryClient(fast).resolveManifest(parseReference(`${srv.host}/test/repo`)));
    expect(err.code).toBe('ERR_POCKER_AUTH');
    expect(err.message).toContain(`pocker login ${srv.host}`);
    expect(srv.seen).toHaveLength(1);
  });

  it('Basic: credentials are sent after the challenge and then up front', async () => {
    const srv = await basicRegistry();
    const client = new RegistryClient({ ...fast, credentials: async () => ({ username: user, password }) });
    const ref = parseReference(`${srv.host}/test/repo`);
    const r = await client.resolveManifest(ref);
    await client.getConfig(ref, r.config);
    expect(srv.seen.map((s) => s.headers.authorization ?? '-')).toEqual(['-', basic, basic]);
  });

  it('Basic: wrong credentials are ERR_POCKER_AUTH without the password', async () => {
    const srv = await basicRegistry();
    const err = await caught(
      new RegistryClient({ ...fast, credentials: () => ({ username: user, password: 'nope-nope' }) }).resolveManifest(parseReference(`${srv.host}/test/repo`)),
    );
    expect(err.code).toBe('ERR_POCKER_AUTH');
    expect(err.message).toMatch(/incorrect username or password/);
    expect(err.message).not.toContain('nope-nope');
    expect(err.message).not.toContain(Buffer.from(`${user}:nope-nope`).toString('base64'));
  });

  it('plain HTTP only for loopback and the registries named insecure', () => {
    const client = new RegistryClient({ insecureRegistries: ['myreg.lan:5000', 'http://other.lan/'] });
    expect(client.baseUrl('docker.io')).toBe('https://registry-1.docker.io');
    expect(client.baseUrl('ghcr.io')).toBe('https://ghcr.io');
    expect(client.baseUrl('myreg.lan')).toBe('https://myreg.lan');
    expect(client.baseUrl('myreg.lan:5000')).toBe('http://myreg.lan:5000');
    expect(client.baseUrl('other.lan')).toBe('http://other.lan');
    expect(client.baseUrl('localhost:5000')).toBe('http://localhost:5000');
    expect(client.baseUrl('localhost')).toBe('http://localhost');
    expect(client.baseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(client.baseUrl('127.1.2.3')).toBe('http://127.1.2.3');
    expect(client.baseUrl('[::1]:5000')).toBe('http://[::1]:5000');
    expect(client.baseUrl('128.0.0.1')).toBe('https://128.0.0.1');
    expect(client.baseUrl('localhost.example.com')).toBe('https://localhost.example.com');
  });
});

describe('RegistryClient: blobs', () => {
  const ref = (srv: TestServer) => parseReference(`${srv.host}/test/repo`);

  it('streams a blob, reporting progress', async () => {
    const srv = await serve(repoHandler());
    const progress: number[] = [];
    const stream = await new RegistryClient(fast).fetchBlob(ref(srv), layerDesc, { onProgress: (n) => progress.push(n) });
    const out = await collect(stream.pipe(verifyingStream(layerDesc)));
    expect(out.equals(layer)).toBe(true);
    expect(progress.at(-1)).toBe(layer.length);
    expect(srv.seen[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('resumes from an offset with Range (206), or skips when the server ignores it (200)', async () => {
    for (const ranges of [true, false]) {
      const srv = await serve(repoHandler({ ranges }));
      const progress: number[] = [];
      const stream = await new RegistryClient(fast).fetchBlob(ref(srv), layerDesc, { offset: 1000, onProgress: (n) => progress.push(n) });
      const out = await collect(stream);
      expect(out.equals(layer.subarray(1000))).toBe(true);
      expect(srv.seen[0]!.headers.range).toBe('bytes=1000-');
      expect(progress.at(-1)).toBe(layer.length);
    }
    // Nothing left to fetch: an empty stream, no request.
    const srv = await serve(repoHandler());
    expect((await collect(await new RegistryClient(fast).fetchBlob(ref(srv), layerDesc, { offset: layer.length }))).length).toBe(0);
    expect(srv.seen).toHaveLength(0);
  });

  it('resumes an interrupted body transparently with a Range request', async () => {
    let n = 0;
    const normal = repoHandler();
    const srv = await serve((req, res) => {
      n++;
      if (n === 1) {
        // Promise the whole blob, send a third of it, drop the connection.
        res.writeHead(200, { 'content-length': String(layer.length), 'content-type': 'application/octet-stream' });
        res.write(layer.subarray(0, Math.floor(layer.length / 3)), () => setTimeout(() => res.socket?.destroy(), 100));
        return;
      }
      normal(req, res);
    });
    const out = await collect((await new RegistryClient(fast).fetchBlob(ref(srv), layerDesc)).pipe(verifyingStream(layerDesc)));
    expect(out.equals(layer)).toBe(true);
    expect(srv.seen).toHaveLength(2);
    expect(srv.seen[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(String(srv.seen[1]!.headers.range))![0])).toBeGreaterThan(0);
  });

  it('a download that keeps breaking fails with ERR_POCKER_REGISTRY after the retries', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(layer.length) });
      res.write(layer.subarray(0, 100), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const stream = await new RegistryClient({ ...fast, retries: 2 }).fetchBlob(ref(srv), layerDesc);
    const err = await caught(collect(stream));
    expect(err.code).toBe('ERR_POCKER_REGISTRY');
    expect(err.message).toMatch(/interrupted at \d+ of \d+ bytes/);
    expect(err.message).toContain(`${srv.url}/v2/test/repo/blobs/${layerDesc.digest}`);
  });

  it('a short or long blob is ERR_POCKER_DIGEST', async () => {
    const short = await serve((_req, res) => res.writeHead(200, { 'content-length': '10' }).end(layer.subarray(0, 10)));
    expect((await caught(new RegistryClient(fast).fetchBlob(ref(short), layerDesc))).code).toBe('ERR_POCKER_DIGEST');
    const shortChunked = await serve((_req, res) => {
      res.writeHead(200);
      res.write(layer.subarray(0, 10));
      res.end();
    });
    const e1 = await caught(collect(await new RegistryClient(fast).fetchBlob(ref(shortChunked), layerDesc)));
    expect(e1.code).toBe('ERR_POCKER_DIGEST');
    expect(e1.message).toMatch(/truncated: the registry sent 10 of \d+ bytes/);
    const longChunked = await serve((_req, res) => {
      res.writeHead(200);
      res.write(layer);
      res.end('more');
    });
    const e2 = await caught(collect(await new RegistryClient(fast).fetchBlob(ref(longChunked), layerDesc)));
    expect(e2.code).toBe('ERR_POCKER_DIGEST');
    expect(e2.message).toMatch(/larger than/);
  });

  it('getConfig rejects a config that does not match its digest', async () => {
    const other = Buffer.from(configBytes.toString().replace('/bin/sh', '/bin/xx'));
    const srv = await serve(repoHandler({ extra: { [`/v2/test/repo/blobs/${configDesc.digest}`]: { body: other, type: 'application/octet-stream' } } }));
    const err = await caught(new RegistryClient(fast).getConfig(ref(srv), configDesc));
    expect(err.code).toBe('ERR_POCKER_DIGEST');
  });

  it('a missing blob is ERR_POCKER_NOT_FOUND', async () => {
    const srv = await serve(repoHandler());
    const err = await caught(new RegistryClient(fast).fetchBlob(ref(srv), { ...layerDesc, digest: sha('nothing') }));
    expect(err.code).toBe('ERR_POCKER_NOT_FOUND');
  });

  it('follows a redirect to another host without the Authorization header', async () => {
    const storage = await serve(repoHandler());
    const user = 'bob';
    const password = 'redirect-pw';
    const srv = await serve((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(307, { location: `${storage.url}${req.url}` }).end();
    });
    const client = new RegistryClient({ ...fast, credentials: () => ({ username: user, password }) });
    const out = await collect(await client.fetchBlob(ref(srv), layerDesc, { offset: 5 }));
    expect(out.equals(layer.subarray(5))).toBe(true);
    expect(storage.seen).toHaveLength(1);
    expect(storage.seen[0]!.headers.authorization).toBeUndefined();
    expect(storage.seen[0]!.headers.range).toBe('bytes=5-');
  });
});

// ---------------------------------------------------------------------------------------------
// Credentials store

describe('credentials store (auth.ts)', () => {
  let home: string;
  const saved: Record<string, string | undefined> = {};

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'pocker-auth-test-'));
    for (const k of ['HOME', 'XDG_CONFIG_HOME', 'DOCKER_CONFIG']) saved[k] = process.env[k];
    process.env.HOME = home;
    process.env.XDG_CONFIG_HOME = join(home, 'xdg');
    delete process.env.DOCKER_CONFIG;
  });

  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('saves 0600 atomically, loads, normalises Docker Hub names, removes', async () => {
    expect(credentialsPath()).toBe(join(home, 'xdg', 'pocker', 'auth.json'));
    expect(await loadCredentials('ghcr.io')).toBeUndefined();
    await saveCredentials('ghcr.io', 'me', 'pw:with:colons');
    await saveCredentials('https://index.docker.io/v1/', 'hubuser', 'hubpw');
    const path = credentialsPath();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(home, 'xdg', 'pocker'))).toEqual(['auth.json']); // no temp file left
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(file.auths).sort()).toEqual(['docker.io', 'ghcr.io']);
    expect(Buffer.from(file.auths['ghcr.io'].auth, 'base64').toString()).toBe('me:pw:with:colons');
    expect(await loadCredentials('ghcr.io')).toEqual({ username: 'me', password: 'pw:with:colons' });
    expect(await loadCredentials('docker.io')).toEqual({ username: 'hubuser', password: 'hubpw' });
    expect(await loadCredentials('index.docker.io')).toEqual({ username: 'hubuser', password: 'hubpw' });
    await saveCredentials('ghcr.io', 'me2', 'pw2');
    expect(await loadCredentials('ghcr.io')).toEqual({ username: 'me2', password: 'pw2' });
    expect(await removeCredentials('ghcr.io')).toBe(true);
    expect(await removeCredentials('ghcr.io')).toBe(false);
    expect(await loadCredentials('ghcr.io')).toBeUndefined();
    expect(await loadCredentials('docker.io')).toBeDefined();
  });

  it("falls back to Docker's config.json (auth and username/password forms)", async () => {
    mkdirSync(join(home, '.docker'));
    writeFileSync(
      join(home, '.docker', 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('dockeruser:dockerpw').toString('base64') },
          'http://localhost:5000': { auth: Buffer.from('l:p').toString('base64') },
          'quay.io': { username: 'q', password: 'qp' },
          'empty.io': {},
        },
        credsStore: 'desktop',
      }),
    );
    expect(await loadCredentials('docker.io')).toEqual({ username: 'dockeruser', password: 'dockerpw' });
    expect(await loadCredentials('localhost:5000')).toEqual({ username: 'l', password: 'p' });
    expect(await loadCredentials('quay.io')).toEqual({ username: 'q', password: 'qp' });
    expect(await loadCredentials('empty.io')).toBeUndefined();
    // pocker's own entry wins over Docker's.
    await saveCredentials('docker.io', 'mine', 'minepw');
    expect(await loadCredentials('docker.io')).toEqual({ username: 'mine', password: 'minepw' });
    // DOCKER_CONFIG moves Docker's file.
    process.env.DOCKER_CONFIG = join(home, 'elsewhere');
    expect(await loadCredentials('quay.io')).toBeUndefined();
    expect(existsSync(join(home, '.docker', 'config.json'))).toBe(true); // never modified
  });

  it('a corrupt auth.json is ERR_POCKER_INVALID naming the file', async () => {
    mkdirSync(join(home, 'xdg', 'pocker'), { recursive: true });
    writeFileSync(credentialsPath(), '{not json');
    const err = await caught(loadCredentials('ghcr.io'));
    expect(err.code).toBe('ERR_POCKER_INVALID');
    expect(err.message).toContain(credentialsPath());
    expect((await caught(saveCredentials('ghcr.io', 'a:b', 'c'))).code).toBe('ERR_POCKER_INVALID');
  });
});
