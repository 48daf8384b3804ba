// The image management commands end to end, through `node bin/pocker.cjs`: two small images that
// share a base layer, pushed to a real registry (Debian's docker-registry) with skopeo and pulled
// into a temp root; then images / image ls, tag, rmi, image inspect, image prune, system df, and
// login / logout against a basic-auth registry. Docker's output shapes are checked, and so is the
// store on disk: what rmi and prune delete, and what they must keep (the other image's blobs and
// layers, and the layers of a running container).
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { humanSize } from '../../lib/cli/format.js';
import { cleanupAll, cli, hostBusybox, isRoot, tempDir, tempRoot, type CliResult } from '../helpers.js';
import { buildOciLayout, pushImage, type LayerSpec } from '../image-builder.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../registry.js';

const missing = isRoot ? missingRegistryTools() : ['root'];
const busybox = hostBusybox();

interface StoredImage {
  id: string;
  manifestDigest: string;
  indexDigest?: string;
  configDigest: string;
  layers: string[];
}

function base(): LayerSpec {
  const layer: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
    'etc/base': 'from the base layer\n',
    ctl: { type: 'dir' },
    tmp: { type: 'dir', mode: 0o1777 },
  };
  for (const applet of ['sh', 'cat', 'ls', 'sleep', 'test', '[', 'echo']) layer[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  return layer;
}

/** du(1): st_blocks × 512 of every inode below `path` (hard links once), without `path` itself when `skipSelf`. */
function du(path: string, seen = new Set<string>(), skipSelf = false): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  let total = 0;
  const key = `${st.dev}:${st.ino}`;
  if (!skipSelf && !seen.has(key)) {
    seen.add(key);
    total += st.blocks * 512;
  }
  if (st.isDirectory()) for (const e of readdirSync(path)) total += du(join(path, e), seen);
  return total;
}

/** Parses `7.38MB` back to bytes (approximately: the printed precision). */
function parseHuman(text: string): number {
  const m = /^([\d.]+(?:e[+-]\d+)?)(B|kB|MB|GB)$/.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B' | 'kB' | 'MB' | 'GB'];
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

describe.skipIf(missing.length > 0 || !busybox)('image management commands', () => {
  let registry: TestRegistry;
  let root: string;
  let refA: string;
  let refB: string;
  let repoA: string;
  let repoB: string;
  const pocker = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) => cli(['--root', root, ...args], opts);
  const images = (): Record<string, StoredImage> =>
    (JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')) as { images: Record<string, StoredImage> }).images;
  const stored = (ref: string) => images()[`${ref}`]!;
  const layerSize = (chain: string) => (JSON.parse(readFileSync(join(root, 'layers', `${chain.slice(7)}.json`), 'utf8')) as { size: number }).size;
  const blob = (digest: string) => join(root, 'blobs', 'sha256', digest.slice(7));
  const layerDir = (chain: string) => join(root, 'layers', chain.slice(7));

  beforeAll(async () => {
    registry = await startRegistry();
    const shared = base();
    const a = tempDir('layout-a');
    buildOciLayout(a, {
      layers: [shared, { 'srv/a': 'image a\n' }],
      config: {
        created: '2020-01-02T03:04:05Z',
        config: {
          Cmd: ['cat', '/srv/a'],
          Env: ['PATH=/bin', 'IMAGE=a'],
          WorkingDir: '/srv',
          User: 'root',
          Labels: { 'org.example.name': 'a' },
          ExposedPorts: { '8080/tcp': {} },
          Volumes: { '/data': {} },
          StopSignal: 'SIGQUIT',
          Entrypoint: ['/bin/sh', '-c', 'exec "$@"', 'sh'],
        },
      },
    });
    const b = tempDir('layout-b');
    buildOciLayout(b, { layers: [shared, { 'srv/b': 'image b\n' }], config: { config: { Cmd: ['cat', '/srv/b'], Env: ['PATH=/bin'] } } });
    pushImage(a, registry.host, 'test/a:1');
    pushImage(b, registry.host, 'test/b:1', { format: 'v2s2' });
    repoA = `${registry.host}/test/a`;
    repoB = `${registry.host}/test/b`;
    refA = `${repoA}:1`;
    refB = `${repoB}:1`;
    root = tempRoot();
    ok(await pocker(['pull', '-q', refA]));
    ok(await pocker(['pull', '-q', refB]));
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
    await cleanupAll();
  });

  it("images: Docker's table, newest first, sizes from the extracted layers", async () => {
    const r = ok(await pocker(['images']));
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^REPOSITORY {3,}TAG {3,}IMAGE ID {3,}CREATED {3,}SIZE$/);
    const cols = ['TAG', 'IMAGE ID', 'CREATED', 'SIZE'].map((c) => lines[0]!.indexOf(c));
    const a = stored(refA);
    const b = stored(refB);
    // A was created in 2020, B in 1970: A first.
    for (const [line, repo, img] of [[lines[1]!, repoA, a], [lines[2]!, repoB, b]] as const) {
      expect(line.startsWith(`${repo} `)).toBe(true);
      const cells = cols.map((at, i) => line.slice(at, cols[i + 1] ?? undefined).trim());
      for (const at of cols) expect(line[at - 1]).toBe(' ');
      expect(cells[0]).toBe('1');
      expect(cells[1]).toBe(img.id.slice(7, 19));
      expect(cells[2]).toMatch(/^\d+ years ago$/);
      expect(cells[3]).toBe(humanSize(img.layers.reduce((n, c) => n + layerSize(c), 0), 3));
    }
    // The base layer is shared: one directory for both images.
    expect(a.layers[0]).toBe(b.layers[0]);
    expect(a.layers[1]).not.toBe(b.layers[1]);
    expect(readdirSync(join(root, 'layers')).filter((n) => !n.endsWith('.json'))).toHaveLength(3);
  });

  it('images --format json, -q, --no-trunc, --digests, a reference filter and a template', async () => {
    const a = stored(refA);
    const json = ok(await pocker(['images', '--format', 'json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json).toHaveLength(2);
    expect(Object.keys(json[0]!)).toEqual(['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    expect(json[0]).toMatchObject({ Containers: 'N/A', ID: a.id.slice(7, 19), Repository: repoA, Tag: '1', Digest: a.manifestDigest });
    expect(json[0]!.CreatedAt).toMatch(/^2020-01-0[12] \d\d:\d\d:05 [+-]\d{4} \S+$/);

    const q = ok(await pocker(['images', '-q'])).stdout;
    expect(q).toBe(`${a.id.slice(7, 19)}\n${stored(refB).id.slice(7, 19)}\n`);
    const full = ok(await pocker(['image', 'ls', '-q', '--no-trunc'])).stdout;
    expect(full).toBe(`${a.id}\n${stored(refB).id}\n`);

    const digests = ok(await pocker(['images', '--digests'])).stdout.split('\n');
    expect(digests[0]).toMatch(/^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
    expect(digests[1]).toContain(a.manifestDigest);

    const filtered = ok(await pocker(['images', repoA])).stdout.trimEnd().split('\n');
    expect(filtered).toHaveLength(2);
    expect(filtered[1]!.startsWith(`${repoA} `)).toBe(true);
    expect(ok(await pocker(['images', `${repoB}:2`])).stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(ok(await pocker(['images', `${registry.host}/test/*`, '-q'])).stdout.trimEnd().split('\n')).toHaveLength(2);

    const tmpl = ok(await pocker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout;
    expect(tmpl).toBe(`${refA} ${a.id.slice(7, 19)}\n${refB} ${stored(refB).id.slice(7, 19)}\n`);
    const table = ok(await pocker(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}'])).stdout.split('\n');
    expect(table[0]).toMatch(/^REPOSITORY +TAG$/);

    const bad = await pocker(['images', '--format', '{{.Nope}}']);
    expect(bad.code).toBe(1); // Docker: ImageWrite's error, exit 1
    expect(bad.stderr).toMatch(/template/);
    expect((await pocker(['images', '--bogus'])).code).toBe(125);
  });

  it('image inspect: a JSON array from the stored config; unknown images exit 1', async () => {
    const a = stored(refA);
    const r = ok(await pocker(['image', 'inspect', refA, a.id.slice(7, 15)]));
    const arr = JSON.parse(r.stdout) as Array<Record<string, any>>;
    expect(arr).toHaveLength(2);
    expect(r.stdout.startsWith('[\n    {\n        "Id": ')).toBe(true);
    const o = arr[0]!;
    const config = JSON.parse(readFileSync(blob(a.configDigest), 'utf8')) as { rootfs: { diff_ids: string[] } };
    expect(o).toMatchObject({
      Id: a.id,
      RepoTags: [refA],
      RepoDigests: [`${repoA}@${a.manifestDigest}`],
      Created: '2020-01-02T03:04:05Z',
      Architecture: 'amd64',
      Os: 'linux',
      Size: a.layers.reduce((n, c) => n + layerSize(c), 0),
      Config: {
        Env: ['PATH=/bin', 'IMAGE=a'],
        Cmd: ['cat', '/srv/a'],
        Entrypoint: ['/bin/sh', '-c', 'exec "$@"', 'sh'],
        WorkingDir: '/srv',
        User: 'root',
        Labels: { 'org.example.name': 'a' },
        ExposedPorts: { '8080/tcp': {} },
        Volumes: { '/data': {} },
        StopSignal: 'SIGQUIT',
      },
      RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
      Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    });
    expect(o).not.toHaveProperty('Variant');
    expect(arr[1]!.Id).toBe(a.id);

    const fmt = ok(await pocker(['image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}}', refB]));
    expect(fmt.stdout).toBe(`${stored(refB).id} ["cat","/srv/b"]\n`);

    const missingImage = await pocker(['image', 'inspect', 'nosuch/image:1']);
    expect(missingImage.code).toBe(1);
    expect(missingImage.stdout).toBe('[]\n');
    expect(missingImage.stderr).toBe('Error: No such image: nosuch/image:1\n');
  });

  it('history: newest step first, the image id on it, each layer size; -q, --no-trunc, -H=false, json', async () => {
    const a = stored(refA);
    // Docker's columns; the test image's history has one step per layer (created 1970-01-01).
    const r = ok(await pocker(['history', refA]));
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    const rows = lines.slice(1).map((l) => l.split(/ {2,}/));
    expect(rows).toHaveLength(2);
    expect(rows[0]![0]).toBe(a.id.slice(7, 19));
    expect(rows[1]![0]).toBe('<missing>');
    expect(rows[0]![2]).toBe('pocker test layer 1');
    expect(rows[0]![3]).toBe(humanSize(layerSize(a.layers[1]!), 3));
    expect(rows[1]![3]).toBe(humanSize(layerSize(a.layers[0]!), 3));
    expect(ok(await pocker(['history', '-q', refA])).stdout).toBe(`${a.id.slice(7, 19)}\n<missing>\n`);
    expect(ok(await pocker(['image', 'history', '-q', '--no-trunc', refA])).stdout).toBe(`${a.id}\n<missing>\n`);
    const raw = ok(await pocker(['history', '-H=false', '--format', '{{.CreatedSince}} {{.Size}}', refA])).stdout;
    expect(raw).toBe(`1970-01-01T00:00:00Z ${layerSize(a.layers[1]!)}\n1970-01-01T00:00:00Z ${layerSize(a.layers[0]!)}\n`);
    const json = ok(await pocker(['history', '--format', 'json', refA])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json[0]).toMatchObject({ ID: a.id.slice(7, 19), CreatedBy: 'pocker test layer 1', Comment: '' });
    const missing = await pocker(['history', 'nosuch/image:1']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/No such image: nosuch\/image:1/);
  });

  it('diff: A/C/D of what a container changed, sorted, as Docker prints them; the host image is refused', async () => {
    // (A foreground container does not outlive its run: a detached one, ended, keeps its layer.)
    const r = await pocker(['run', '-d', '--name', 'differ', refA, 'sh', '-c', 'echo new > /srv/new && rm /srv/a && chmod 700 /bin/busybox && mkdir -p /opt/x && echo 1 > /opt/x/f']);
    expect(r.code).toBe(0);
    expect(ok(await pocker(['wait', 'differ'])).stdout).toBe('0\n');
    const d = ok(await pocker(['diff', 'differ']));
    expect(d.stdout).toBe(['C /bin', 'C /bin/busybox', 'A /opt', 'A /opt/x', 'A /opt/x/f', 'C /srv', 'D /srv/a', 'A /srv/new', ''].join('\n'));
    ok(await pocker(['rm', 'differ']));
    const h = await pocker(['run', '-d', '--name', 'hostdiff', 'host', 'sleep', '30']);
    expect(h.code).toBe(0);
    const refused = await pocker(['diff', 'hostdiff']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/host image's writable layer is a tmpfs private to the container/);
    ok(await pocker(['rm', '-f', 'hostdiff']));
    const missing = await pocker(['diff', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such container: nosuch/);
  });

  it('system df: totals consistent with the files on disk; -v per layer', async () => {
    const r = ok(await pocker(['system', 'df']));
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
    const cells = (line: string) => line.split(/ {2,}/);
    const img = cells(lines[1]!);
    expect(img.slice(0, 3)).toEqual(['Images', '2', '0']);
    // One size for one thing (issue 12): the distinct layers, each as `images` sizes it (its record),
    // so an image's SIZE in `images` and its share here agree. Nothing runs: all of it can go.
    const chains = [...new Set([...stored(refA).layers, ...stored(refB).layers])];
    const onDisk = chains.reduce((n, c) => n + layerSize(c), 0);
    expect(img[3]).toBe(humanSize(onDisk));
    const reclaimable = onDisk;
    expect(img[4]).toBe(`${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / onDisk)}%)`);
    expect(cells(lines[2]!)).toEqual(['Containers', '0', '0', '0B', '0B']);
    expect(cells(lines[3]!)).toEqual(['Local Volumes', '0', '0', '0B', '0B']);

    const json = ok(await pocker(['system', 'df', '--format', 'json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json[0]).toEqual({ Type: 'Images', TotalCount: '2', Active: '0', Size: humanSize(onDisk), Reclaimable: img[4] });

    const v = ok(await pocker(['system', 'df', '-v'])).stdout;
    expect(v).toMatch(/^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
    const layersSection = v.slice(v.indexOf('Layers space usage:'), v.indexOf('Containers space usage:')).trim().split('\n');
    expect(layersSection[2]).toMatch(/^LAYER ID +SIZE +IMAGES$/);
    const rows = layersSection.slice(3);
    expect(rows).toHaveLength(3);
    const baseChain = stored(refA).layers[0]!;
    const baseRow = rows.find((l) => l.startsWith(baseChain.slice(7, 19)))!;
    expect(baseRow).toContain(`${refA}, ${refB}`);
    // Layer sizes as `images` counts them: the extracted directory (its record says how big).
    expect(layerSize(baseChain)).toBe(du(layerDir(baseChain)));
    expect(baseRow.split(/ {2,}/)[1]).toBe(humanSize(layerSize(baseChain)));
    // Per image: SIZE as `images` shows it, the base layer shared by both images.
    const imgRow = v.split('\n').find((l) => l.startsWith(`${repoA} `))!.split(/ {2,}/);
    const a = stored(refA);
    expect(imgRow[4]).toBe(humanSize(layerSize(a.layers[0]!) + layerSize(a.layers[1]!), 3));
    expect(imgRow[5]).toBe(humanSize(layerSize(baseChain)));
    // The compressed blobs the store keeps beside the layers are shown apart, never in a SIZE above.
    const seen = new Set<string>();
    const blobs = du(join(root, 'blobs', 'sha256'), seen, true) + du(join(root, 'tmp'), seen);
    expect(v).toContain(`\nCompressed blobs kept for save and push (not counted above): ${humanSize(blobs)}\n`);
    expect(imgRow[6]).toBe(humanSize(layerSize(a.layers[1]!)));
    expect(imgRow[7]).toBe('0');
  });

  it('tag adds a normalised name; rmi of one name only untags', async () => {
    const a = stored(refA);
    expect(ok(await pocker(['tag', refA, 'mine/app:v1'])).stdout).toBe('');
    ok(await pocker(['image', 'tag', a.id.slice(7, 19), 'docker.io/library/other']));
    expect(images()['docker.io/mine/app:v1']?.id).toBe(a.id);
    expect(images()['docker.io/library/other:latest']?.id).toBe(a.id);
    const listed = ok(await pocker(['images', '--format', '{{.Repository}}:{{.Tag}}:{{.ID}}'])).stdout.trimEnd().split('\n');
    expect(listed).toEqual(expect.arrayContaining([`mine/app:v1:${a.id.slice(7, 19)}`, `other:latest:${a.id.slice(7, 19)}`, `${refA}:${a.id.slice(7, 19)}`]));
    expect(ok(await pocker(['images', '-q'])).stdout.trimEnd().split('\n')).toHaveLength(2);
    const inspect = JSON.parse(ok(await pocker(['image', 'inspect', 'mine/app:v1'])).stdout) as Array<{ RepoTags: string[] }>;
    expect(inspect[0]!.RepoTags).toEqual(['mine/app:v1', 'other:latest', refA].sort());

    const badTarget = await pocker(['tag', refA, 'Upper:1']);
    expect(badTarget.code).toBe(1);
    expect(badTarget.stderr).toBe('pocker: invalid reference format: repository name must be lowercase\n');
    const noSource = await pocker(['tag', 'nosuch', 'x']);
    expect(noSource.code).toBe(1);
    expect(noSource.stderr).toBe('pocker: No such image: nosuch:latest\n');
    // Docker (cli/required.go ExactArgs(2)): "docker: 'docker tag' requires 2 arguments ...", exit 1.
    expect((await pocker(['tag', refA])).code).toBe(1);

    // By id, with several names: must be forced.
    const conflict = await pocker(['rmi', a.id.slice(7, 19)]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/);

    const before = readdirSync(join(root, 'blobs', 'sha256')).sort();
    const r = ok(await pocker(['rmi', 'mine/app:v1']));
    expect(r.stdout).toBe('Untagged: mine/app:v1\n');
    ok(await pocker(['image', 'rm', 'other']));
    expect(readdirSync(join(root, 'blobs', 'sha256')).sort()).toEqual(before);
    expect(images()['docker.io/mine/app:v1']).toBeUndefined();
    expect(existsSync(layerDir(a.layers[1]!))).toBe(true);
  });

  it("rmi of the last name deletes the image and what only it used; the other image still runs", async () => {
    const a = stored(refA);
    const b = stored(refB);
    const r = ok(await pocker(['rmi', refA]));
    expect(r.stdout).toBe(
      [
        `Untagged: ${refA}`,
        `Untagged: ${repoA}@${a.manifestDigest}`,
        `Deleted: ${a.id}`,
        `Deleted: ${a.layers[1]}`,
        '',
      ].join('\n'),
    );
    expect(images()[refA]).toBeUndefined();
    // A's own layer, config and manifest are gone; the shared base layer and all of B stay.
    expect(existsSync(layerDir(a.layers[1]!))).toBe(false);
    expect(existsSync(`${layerDir(a.layers[1]!)}.json`)).toBe(false);
    expect(existsSync(blob(a.configDigest))).toBe(false);
    expect(existsSync(blob(a.manifestDigest))).toBe(false);
    for (const chain of b.layers) expect(existsSync(layerDir(chain))).toBe(true);
    for (const d of [b.configDigest, b.manifestDigest]) expect(existsSync(blob(d))).toBe(true);
    expect(readdirSync(join(root, 'tmp')).length).toBe(0);

    const run = await cli(['run', '--rm', refB, 'cat', '/etc/base', '/srv/b'], { root });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('from the base layer\nimage b\n');

    const gone = await pocker(['rmi', refA, 'nosuch']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`pocker: No such image: ${refA}\npocker: No such image: nosuch:latest\n`);
    expect(gone.stdout).toBe('');
  });

  it('an image a running container uses: rmi refuses without -f, prune -a keeps it, its layers outlive rmi -f', async () => {
    const b = stored(refB);
    const ctl = tempDir('ctl');
    const container = cli(['run', '--rm', '-v', `${ctl}:/ctl`, refB, 'sh', '-c', 'while [ ! -e /ctl/stop ]; do sleep 0.1; done; echo stopped'], {
      root,
    });
    try {
      let df: Array<Record<string, string>> = [];
      for (let i = 0; i < 200; i++) {
        df = ok(await pocker(['system', 'df', '--format', 'json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
        if (df[1]!.Active === '1') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(df[0]).toMatchObject({ Type: 'Images', TotalCount: '1', Active: '1' });
      expect(df[1]).toMatchObject({ Type: 'Containers', TotalCount: '1', Active: '1' });
      const v = ok(await pocker(['system', 'df', '-v'])).stdout;
      expect(v).toMatch(new RegExp(`\\n[0-9a-f]{12} +${refB.replace(/[.]/g, '\\.')} +\\S+ +Running\\n`));

      const refused = await pocker(['rmi', refB]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/conflict: unable to remove repository reference .* \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
      expect(images()[refB]).toBeDefined();

      const pruned = ok(await pocker(['image', 'prune', '-a', '-f']));
      expect(pruned.stdout).toBe('Total reclaimed space: 0B\n');
      expect(images()[refB]).toBeDefined();

      const forced = ok(await pocker(['rmi', '-f', refB]));
      expect(forced.stdout).toContain(`Untagged: ${refB}\n`);
      expect(forced.stdout).toContain(`Deleted: ${b.id}\n`);
      expect(forced.stdout).not.toContain(`Deleted: ${b.layers[1]}`);
      // The record is gone, the running container's layers are not.
      expect(images()[refB]).toBeUndefined();
      for (const chain of b.layers) expect(existsSync(layerDir(chain))).toBe(true);
    } finally {
      writeFileSync(join(ctl, 'stop'), '');
    }
    const ended = await container;
    expect(ended.stdout).toBe('stopped\n');
    expect(ended.code).toBe(0);

    // Now nothing uses them: a plain prune reclaims the layers.
    const prune = ok(await pocker(['image', 'prune', '--force']));
    expect(prune.stdout).toMatch(/^Deleted Images:\n(deleted: sha256:[0-9a-f]{64}\n)+\nTotal reclaimed space: [\d.]+[kM]B\n$/);
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);
  });

  it('image prune -a removes every image no container uses; without -f it asks first', async () => {
    ok(await pocker(['pull', '-q', refA]));
    ok(await pocker(['pull', '-q', refB]));
    ok(await pocker(['tag', refB, 'extra:1']));
    const a = stored(refA);
    const b = stored(refB);

    const declined = ok(await pocker(['image', 'prune', '-a'], { input: 'n\n' }));
    expect(declined.stdout).toBe(
      'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ',
    );
    expect(Object.keys(images())).toHaveLength(3);
    const noInput = ok(await pocker(['image', 'prune', '-a']));
    expect(noInput.stdout).toMatch(/\[y\/N\] \n$/);
    expect(Object.keys(images())).toHaveLength(3);

    const dangling = ok(await pocker(['image', 'prune'], { input: 'y\n' }));
    expect(dangling.stdout).toMatch(/WARNING! This will remove all dangling images\.\n.*\[y\/N\] Total reclaimed space: 0B\n$/s);
    expect(Object.keys(images())).toHaveLength(3);

    const onDisk = du(join(root, 'layers'), new Set(), true) + du(join(root, 'blobs', 'sha256'), new Set(), true);
    const r = ok(await pocker(['image', 'prune', '-a', '-f']));
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Deleted Images:');
    expect(lines).toEqual(expect.arrayContaining([`untagged: ${refA}`, `untagged: ${refB}`, 'untagged: extra:1', `deleted: ${a.id}`, `deleted: ${b.id}`]));
    for (const chain of [...a.layers, ...b.layers]) expect(lines).toContain(`deleted: ${chain}`);
    expect(lines.filter((l) => l === `deleted: ${a.layers[0]}`)).toHaveLength(1);
    const total = /^Total reclaimed space: (\S+)$/m.exec(r.stdout)![1]!;
    expect(Math.abs(parseHuman(total) - onDisk) / onDisk).toBeLessThan(0.01);
    expect(images()).toEqual({});
    expect(readdirSync(join(root, 'layers'))).toEqual([]);
    expect(readdirSync(join(root, 'blobs', 'sha256'))).toEqual([]);

    const df = ok(await pocker(['system', 'df'])).stdout.split('\n');
    expect(df[1]!.split(/ {2,}/).slice(0, 3)).toEqual(['Images', '0', '0']);
    expect(ok(await pocker(['images'])).stdout).toBe('REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
  });

  it("a container whose config.json names the image (not mounted: starting, or left over) uses it too", async () => {
    ok(await pocker(['pull', '-q', refB]));
    const b = stored(refB);
    const id = 'c'.repeat(64);
    const dir = join(root, 'containers', id);
    mkdirSync(join(dir, 'upper'), { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ id, name: 'starting', created: new Date().toISOString(), image: { name: refB, id: b.id, layers: b.layers.map(layerDir) } }),
    );
    try {
      const df = ok(await pocker(['system', 'df', '--format', 'json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      expect(df[0]).toMatchObject({ TotalCount: '1', Active: '1' });
      expect(df[1]).toMatchObject({ Type: 'Containers', TotalCount: '1', Active: '0' });
      expect(ok(await pocker(['system', 'df', '-v'])).stdout).toMatch(new RegExp(`\\ncccccccccccc +${refB.replace(/[.]/g, '\\.')} +\\S+ +Exited\\n`));
      const refused = await pocker(['rmi', refB]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`container ${id.slice(0, 12)} is using its referenced image ${b.id.slice(7, 19)}`);
      expect(ok(await pocker(['image', 'prune', '-a', '-f'])).stdout).toBe('Total reclaimed space: 0B\n');
      expect(images()[refB]).toBeDefined();
    } finally {
      rmSync(join(root, 'containers'), { recursive: true, force: true });
    }
  });

  it('honours POCKER_ROOT', async () => {
    const r = ok(await cli(['images', '-q'], { env: { POCKER_ROOT: root } }));
    expect(r.stdout).toBe(`${stored(refB).id.slice(7, 19)}\n`);
    const other = tempRoot();
    expect(ok(await cli(['images', '-q'], { env: { POCKER_ROOT: other } })).stdout).toBe('');
    expect(ok(await cli(['images', '-q', '--root', root])).stdout).toBe(`${stored(refB).id.slice(7, 19)}\n`);
  });
});

describe.skipIf(missing.length > 0 || !busybox)('login and logout', () => {
  let registry: TestRegistry;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let root: string;
  let ref: string;
  const authFile = () => join(home, 'config', 'pocker', 'auth.json');

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'basic' });
    home = tempDir('home');
    mkdirSync(join(home, 'config'));
    env = { HOME: home, XDG_CONFIG_HOME: join(home, 'config'), DOCKER_CONFIG: join(home, 'docker') };
    root = tempRoot();
    const layout = tempDir('layout-auth');
    buildOciLayout(layout, { layers: [{ 'etc/secret': 'behind basic auth\n' }] });
    pushImage(layout, registry.host, 'private/img:1', { creds: { username: registry.username!, password: registry.password! } });
    ref = `${registry.host}/private/img:1`;
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await cleanupAll();
  });

  it('a wrong password exits 1 and saves nothing', async () => {
    const r = await cli(['login', '-u', registry.username!, '--password-stdin', registry.host], { env, input: 'wrong-password\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unauthorized: incorrect username or password/);
    expect(r.stdout).not.toContain('Login Succeeded');
    expect(`${r.stdout}${r.stderr}`).not.toContain('wrong-password');
    expect(existsSync(authFile())).toBe(false);
  });

  it('usage errors: no TTY to prompt on, --password with --password-stdin', async () => {
    const r = await cli(['login', registry.host], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot perform an interactive login from a non TTY device/);
    const both = await cli(['login', '-u', 'x', '-p', 'y', '--password-stdin', registry.host], { env, input: 'y' });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/mutually exclusive/);
    const noUser = await cli(['login', '--password-stdin', registry.host], { env, input: 'y' });
    expect(noUser.code).toBe(1);
    expect((await cli(['login', '--bogus'], { env })).code).toBe(125);
    expect(existsSync(authFile())).toBe(false);
  });

  it('the right password: Login Succeeded, a 0600 file, and pulls use it; logout removes it', async () => {
    const denied = await cli(['--root', root, 'pull', '-q', ref], { env });
    expect(denied.code).toBe(1);

    const r = await cli(['login', '-u', registry.username!, '-p', registry.password!, registry.host], { env });
    expect(r.stderr).toBe('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Login Succeeded\n');
    expect(r.stdout).not.toContain(registry.password!);
    expect(statSync(authFile()).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(authFile(), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(saved.auths[registry.host]!.auth, 'base64').toString()).toBe(`${registry.username}:${registry.password}`);

    const viaStdin = await cli(['login', '--username', registry.username!, '--password-stdin', `http://${registry.host}/`], { env, input: `${registry.password}\n` });
    expect(viaStdin.stderr).toBe('');
    expect(viaStdin.stdout).toBe('Login Succeeded\n');

    ok(await cli(['--root', root, 'pull', '-q', ref], { env }));
    ok(await cli(['--root', root, 'images', registry.host + '/private/img'], { env }));

    const out = ok(await cli(['logout', registry.host], { env }));
    expect(out.stdout).toBe(`Removing login credentials for ${registry.host}\n`);
    const after = JSON.parse(readFileSync(authFile(), 'utf8')) as { auths: Record<string, unknown> };
    expect(after.auths[registry.host]).toBeUndefined();
    expect(statSync(authFile()).mode & 0o777).toBe(0o600);
    const again = ok(await cli(['logout', registry.host], { env }));
    expect(again.stdout).toBe(`Not logged in to ${registry.host}\n`);
  });
});
