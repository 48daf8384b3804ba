// Hostile layers: containerd's archive breakout cases (pkg/archive/tar_test.go, TestBreakouts) and
// more, each built in memory with tar-stream and extracted into a fresh `dest` inside a temp dir
// that also holds sentinel trees OUTSIDE dest (`etc/` and `outside/`). Every case either is refused
// with ERR_POCKER_LAYER_UNSAFE, or (where containerd treats it as safe by clamping to the root) lands
// entirely inside dest; in both, the sentinels are byte for byte and inode for inode unchanged.
//
// pocker is stricter than containerd: a layer never writes, links or whiteouts through a symlink,
// not even one it created itself and that points inside the root (containerd resolves such a symlink
// within the root). Where containerd's case writes through `/etc` (the host's, clamped), these use
// the absolute path of the sentinel `etc/` instead (@BASE@), so a regression could never touch the
// host's /etc.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';

import { extractLayer } from '../../lib/image/extract.js';
import { cleanupAll, isRoot, tempDir } from '../helpers.js';
import { cases, file, judge, prepareBase, snapshot, symlink, tarFor } from './layer-cases.js';

afterAll(async () => {
  await cleanupAll();
});

describe('hostile layers', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    if (c.root && !isRoot) return;
    const base = tempDir('layer');
    const dest = prepareBase(base);
    const before = snapshot(base, dest);

    const tar = await tarFor(c.entries, base);
    let error: unknown;
    try {
      await extractLayer(Readable.from([tar]), dest);
    } catch (err) {
      error = err;
    }
    judge(c, error, dest, base, before);
    rmSync(dest, { recursive: true, force: true });
  });

  it('names the refused entry', async () => {
    const base = tempDir('layer');
    const tar = await tarFor([symlink('../outside', 'link'), file('link/passwd', 'x')], base);
    await expect(extractLayer(Readable.from([tar]), join(base))).rejects.toMatchObject({
      code: 'ERR_POCKER_LAYER_UNSAFE',
      step: 'extract',
      path: 'link/passwd',
    });
  });

  it('rejects a corrupt or truncated tar without touching anything outside', async () => {
    const base = tempDir('layer');
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const tar = await tarFor([file('a', 'x'.repeat(5000)), file('b', 'y')], base);
    await expect(extractLayer(Readable.from([tar.subarray(0, 1024)]), dest)).rejects.toMatchObject({
      code: 'ERR_POCKER_INVALID',
      step: 'extract',
    });
    const garbage = Buffer.from(tar);
    garbage.fill(0x41, 0, 100); // a header with a bad checksum
    await expect(extractLayer(Readable.from([garbage]), dest)).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID' });
    // The input's own error comes through as is.
    const boom = new Error('download failed');
    const failing = new Readable({ read() {} });
    failing.push(tar.subarray(0, 512));
    setTimeout(() => failing.destroy(boom), 10);
    await expect(extractLayer(failing, dest)).rejects.toBe(boom);
    expect(readdirSync(base)).toEqual(['dest']);
  });
});
