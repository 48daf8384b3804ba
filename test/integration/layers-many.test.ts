// Images of many layers, as root and in a user namespace. Overlay takes its lower layers as one
// option string: through mount(2) at most a page (4096 bytes) of options, and through fsconfig(2)
// (the idmapped rootfs of a user-namespaced container) at most 256 bytes per string before Linux
// 6.8 brought "lowerdir+" (one layer per call). The idmapped rootfs names its layers by fd numbers
// relative to /proc/self/fd, so 60 layers fit even in 256 bytes; this file runs in the cgroup-v2
// guest too (Linux 6.1) to check exactly that. Docker allows 125 layers: root's mount takes them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, hostBusybox, isRoot, pk, rootTracker, tempDir } from '../helpers.js';
import { buildOciLayout, type LayerSpec } from '../image-builder.js';
import { gnuTar } from '../tar.js';

const busybox = hostBusybox();
const roots = rootTracker();

/** An image of `count` layers: busybox at the bottom, then one file per layer, and the top layer
 *  deletes the bottom-most file (a whiteout must still work through the whole stack). */
function image(count: number, ref: string): string {
  const dir = tempDir(`layers-${count}`);
  const base: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/gone': 'deleted by the top layer\n',
    tmp: { type: 'dir', mode: 0o1777 },
  };
  for (const a of ['sh', 'cat', 'ls', 'wc', 'test']) base[`bin/${a}`] = { type: 'symlink', target: 'busybox' };
  const layers: LayerSpec[] = [base];
  for (let i = 1; i < count - 1; i++) layers.push({ [`layer/${String(i).padStart(3, '0')}`]: `${i}\n` });
  layers.push({ 'etc/gone': { type: 'whiteout' }, 'layer/top': 'top\n' });
  buildOciLayout(dir, { layers, config: { config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }, refName: ref });
  return gnuTar(dir, { file: join(tempDir(`layers-${count}-tar`), 'image.tar') });
}

const SCRIPT = 'ls /layer | wc -l; cat /layer/001 /layer/top; test -e /etc/gone && echo still-there || echo gone';

describe.skipIf(!isRoot || !busybox)('images of many layers', () => {
  let root: string;

  beforeAll(async () => {
    root = roots.newRoot();
    for (const [count, ref] of [[60, 'layers:60'], [125, 'layers:125']] as const) {
      const loaded = await pk(root, 'load', '-q', '-i', image(count, ref));
      expect(loaded.stderr).toBe('');
    }
  }, 600_000); // loading 185 layers is slow on a loaded machine (vitest's hook default is 60 s)

  afterAll(async () => {
    await roots.removeAll();
    await cleanupAll();
  });

  it("125 layers (Docker's most) as root: every layer and the top layer's whiteout are seen", async () => {
    const r = await pk(root, 'run', '--rm', 'layers:125', 'sh', '-c', SCRIPT);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('124\n1\ntop\ngone\n');
  });

  it('60 layers in a user namespace (idmapped layers under one overlay, also before Linux 6.8)', async () => {
    const r = await pk(root, 'run', '--rm', '--uidmap', '0:1600600000:65536', '--gidmap', '0:1600600000:65536', 'layers:60', 'sh', '-c', SCRIPT);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('59\n1\ntop\ngone\n');
  });
});
