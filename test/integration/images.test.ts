// Images end to end: a real registry (Debian's docker-registry on 127.0.0.1), images pushed with
// skopeo, then `pocker pull` and `pocker run` of them through the CLI and the library.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, hostBusybox, isRoot, runToEnd, tempDir, tempRoot } from '../helpers.js';
import { buildOciLayout, pushImage, type LayerSpec } from '../image-builder.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../registry.js';

const missing = isRoot ? missingRegistryTools() : ['root'];
const busybox = hostBusybox();

/** A busybox base layer, then a layer that deletes a file and replaces a directory. */
function layers(): LayerSpec[] {
  const base: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n',
    'etc/group': 'root:x:0:\napp:x:1000:\n',
    'etc/gone': 'deleted by the upper layer\n',
    'data/old/a': 'old a\n',
    'data/old/b': 'old b\n',
    'tmp': { type: 'dir', mode: 0o1777 },
  };
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'pwd', 'env', 'id', 'find', 'sort', 'true']) {
    base[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  }
  const upper: LayerSpec = {
    'etc/gone': { type: 'whiteout' },
    'data/old': { type: 'opaque' },
    'data/old/c': 'new c\n',
    'srv/hello': 'hello from the image\n',
  };
  return [base, upper];
}

describe.skipIf(missing.length > 0 || !busybox)('images: pull and run from a registry', () => {
  let registry: TestRegistry;
  let root: string;
  let ref: string;
  let refV2s2: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const layout = tempDir('layout');
    buildOciLayout(layout, {
      layers: layers(),
      config: { config: { Cmd: ['sh', '-c', 'echo default cmd'], Env: ['PATH=/bin', 'FROM_IMAGE=yes'], WorkingDir: '/srv' } },
    });
    pushImage(layout, registry.host, 'test/busybox:1', { format: 'oci' });
    pushImage(layout, registry.host, 'test/busybox-v2s2:1', { format: 'v2s2' });
    const stopLayout = tempDir('layout-stop');
    buildOciLayout(stopLayout, {
      layers: [...layers(), { 'vol/seed': 'from the image\n', 'vol/sub/deep': 'deep\n' }],
      config: { config: { Env: ['PATH=/bin'], StopSignal: 'SIGUSR1', Volumes: { '/vol': {}, '/empty': {} } } },
    });
    pushImage(stopLayout, registry.host, 'test/stopsignal:1', { format: 'oci' });
    ref = `${registry.host}/test/busybox:1`;
    refV2s2 = `${registry.host}/test/busybox-v2s2:1`;
    root = tempRoot();
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await cleanupAll();
  });

  it('pocker pull shows per-layer progress, the digest and the status, then the name', async () => {
    const r = await cli(['--root', root, 'pull', ref]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1: Pulling from /m);
    expect(r.stdout.match(/^[0-9a-f]{12}: Pull complete$/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^Digest: sha256:[0-9a-f]{64}$/m);
    expect(r.stdout).toMatch(/^Status: Downloaded newer image for /m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(ref);
    const again = await cli(['--root', root, 'pull', ref]);
    expect(again.stdout).toMatch(/^Status: Image is up to date for /m);
  });

  it('runs the image: its Cmd, Env and WorkingDir apply; whiteouts and opaque dirs give the expected tree', async () => {
    const r = await cli(['--root', root, 'run', '--rm', ref]);
    expect(r.stdout).toBe('default cmd\n');
    const tree = await cli(['--root', root, 'run', '--rm', ref, 'sh', '-c',
      'pwd; echo $FROM_IMAGE; ls /etc; find /data | sort; cat /data/old/c /srv/hello']);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toBe(['/srv', 'yes', 'group', 'passwd', '/data', '/data/old', '/data/old/c', 'new c', 'hello from the image', ''].join('\n'));
  });

  it('runs an image by its id or an id prefix, as docker run does', async () => {
    const images = JSON.parse(readFileSync(join(root, 'images.json'), 'utf8')).images as Record<string, { id: string }>;
    const id = images[ref.replace(/^/, '')]?.id ?? Object.values(images)[0]!.id;
    for (const r of [id, id.slice('sha256:'.length, 'sha256:'.length + 12)]) {
      const out = await cli(['--root', root, 'run', '--rm', '--pull', 'never', r, 'cat', '/srv/hello']);
      expect([out.code, out.stdout]).toEqual([0, 'hello from the image\n']);
    }
  });

  it('a Docker schema 2 image pulls and runs the same way (layers shared by chain id)', async () => {
    const before = readdirSync(join(root, 'layers')).filter((f) => !f.endsWith('.json')).length;
    const r = await cli(['--root', root, 'run', '--rm', refV2s2, 'cat', '/srv/hello']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello from the image\n');
    expect(r.stderr).toMatch(/Unable to find image/);
    expect(readdirSync(join(root, 'layers')).filter((f) => !f.endsWith('.json')).length).toBe(before);
  });

  it('the library runs an image (pulling it when missing) with command and env overrides', async () => {
    const fresh = tempRoot();
    const events: string[] = [];
    const r = await runToEnd({ root: fresh, image: ref, cmd: ['sh', '-c', 'echo $FROM_IMAGE $MINE'], env: ['MINE=given'], onPull: (e) => events.push(e.type) });
    expect(r.status.exitCode).toBe(0);
    expect(r.stdout).toBe('yes given\n');
    expect(events[0]).toBe('resolving');
    expect(events.at(-1)).toBe('done');
  });

  it('--pull never fails clearly for a missing image (125), before creating anything', async () => {
    const fresh = tempRoot();
    const r = await cli(['--root', fresh, 'run', '--rm', '--pull', 'never', ref, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/No such image/);
  });

  it('containers starting while `image prune -a` and `rmi -f` run keep their layers (the store lock covers both)', async () => {
    const fresh = tempRoot();
    expect((await cli(['--root', fresh, 'pull', '-q', ref])).code).toBe(0);
    const runs = Array.from({ length: 6 }, () => cli(['--root', fresh, 'run', '--rm', '--pull', 'never', ref, 'cat', '/srv/hello']));
    const removals = [cli(['--root', fresh, 'image', 'prune', '-a', '-f']), cli(['--root', fresh, 'rmi', '-f', ref])];
    const results = await Promise.all(runs);
    await Promise.all(removals);
    // Each run either started (then its layers were kept and it printed the file) or found the
    // image already gone (a clear "No such image", exit 125): never a broken mount.
    for (const r of results) {
      if (r.code === 0) expect(r.stdout).toBe('hello from the image\n');
      else expect([r.code, r.stderr]).toEqual([125, expect.stringMatching(/No such image|was removed while the container was starting/)]);
    }
  });

  it("an image's VOLUMEs get anonymous volumes, filled from the image, outside the container layer", async () => {
    const stopRef = `${registry.host}/test/stopsignal:1`;
    const r = await cli(['run', '--rm', stopRef, 'sh', '-c', 'cat /vol/seed /vol/sub/deep; echo x > /vol/new; ls -A /empty; grep -c " /vol " /proc/self/mountinfo']);
    expect([r.code, r.stdout], r.stderr).toEqual([0, 'from the image\ndeep\n1\n']);
    // A -v on the same path wins over the anonymous volume.
    const mine = tempDir('myvol');
    const v = await cli(['run', '--rm', '-v', `${mine}:/vol`, stopRef, 'sh', '-c', 'ls -A /vol; echo mine > /vol/f']);
    expect([v.code, v.stdout]).toEqual([0, '']);
    expect(readFileSync(join(mine, 'f'), 'utf8')).toBe('mine\n');
  });

  it("`pocker stop` sends the image's StopSignal", async () => {
    const stopRef = `${registry.host}/test/stopsignal:1`;
    const r = await cli(['run', '-d', stopRef, 'sh', '-c', 'trap "echo got-usr1; exit 0" USR1; echo ready; while :; do sleep 0.1; done'], { root });
    const id = r.stdout.trim();
    for (let i = 0; i < 100 && !(await cli(['--root', root, 'logs', id])).stdout.includes('ready'); i++) await new Promise((res) => setTimeout(res, 50));
    expect((await cli(['--root', root, 'stop', '-t', '5', id])).code).toBe(0);
    expect((await cli(['--root', root, 'logs', id])).stdout).toBe('ready\ngot-usr1\n');
    expect((await cli(['--root', root, 'wait', id])).stdout.trim()).toBe('0');
    await cli(['--root', root, 'rm', id]);
  });

  it('save → rmi → load → run round-trips', async () => {
    const fresh = tempRoot();
    expect((await cli(['--root', fresh, 'pull', '-q', ref])).code).toBe(0);
    const tar = join(tempDir('save'), 'image.tar');
    expect((await cli(['--root', fresh, 'save', '-o', tar, ref])).code).toBe(0);
    expect((await cli(['--root', fresh, 'rmi', ref])).code).toBe(0);
    expect((await cli(['--root', fresh, 'images', '-q'])).stdout).toBe('');
    const loaded = await cli(['--root', fresh, 'load', '-i', tar]);
    expect([loaded.code, loaded.stdout]).toEqual([0, expect.stringMatching(/^Loaded image: /m)]);
    const r = await cli(['--root', fresh, 'run', '--rm', '--pull', 'never', ref, 'cat', '/srv/hello']);
    expect([r.code, r.stdout]).toEqual([0, 'hello from the image\n']);
  });

  it('two concurrent pulls of the same image both succeed and store each blob once', async () => {
    const fresh = tempRoot();
    const [a, b] = await Promise.all([cli(['--root', fresh, 'pull', '-q', ref]), cli(['--root', fresh, 'pull', '-q', ref])]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    const blobs = readdirSync(join(fresh, 'blobs', 'sha256'));
    expect(new Set(blobs).size).toBe(blobs.length);
    expect(blobs.length).toBe(4); // manifest, config, two layers
    expect(readdirSync(join(fresh, 'tmp')).filter((f) => !f.endsWith('.lock') && f !== '.')).toEqual([]);
  });
});
