// Layer extraction for real (root): every entry type with owners, modes (setuid/setgid/sticky),
// ns mtimes, xattrs (a binary security.capability), hardlinks, devices, long names; whiteouts in
// overlay format; and two extracted layers stacked by a real overlay mount, where the upper layer
// deletes a file (.wh.) and replaces a directory (opaque), show exactly the expected tree.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';

import { extractLayer } from '../../lib/image/extract.js';
import { native } from '../../lib/native.js';
import { cleanupAll, isRoot, tempDir } from '../helpers.js';
import { TAR_MTIME, tarOf, type TarEntry } from '../tar.js';

afterAll(async () => {
  await cleanupAll();
});

const T0 = TAR_MTIME; // 2023-11-14T22:13:20Z

function sha(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function getxattr(dir: string, path: string, name: string): Buffer | null {
  const addon = native();
  const root = addon.fsOpenRoot(dir);
  try {
    return addon.fsLgetxattr(root, path, name);
  } finally {
    closeSync(root);
  }
}

/** Every path under dir (sorted, dirs with a trailing '/'), with file contents. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    for (const e of readdirSync(p).sort()) {
      const full = join(p, e);
      const r = rel ? `${rel}/${e}` : e;
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out[`${r}/`] = '';
        walk(full, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(full)}`;
      else if (st.isFile()) out[r] = readFileSync(full, 'utf8');
      else out[r] = `special ${st.mode.toString(8)} ${st.rdev}`;
    }
  };
  walk(dir, '');
  return out;
}

// cap_net_raw+ep, VFS_CAP_REVISION_2 (as `setcap cap_net_raw+ep` writes it): note the NUL bytes.
const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');

describe.skipIf(!isRoot)('layer extraction', () => {
  it('extracts every entry type with owners, modes, ns times, xattrs and hardlinks', async () => {
    const dest = join(tempDir('extract'), 'layer');
    mkdirSync(dest);
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff;
    const longDir = `deep/${'d'.repeat(120)}`;
    const longTarget = `../${'t'.repeat(150)}`;
    const T1 = new Date('2020-01-02T03:04:05Z');
    const tar = await tarOf([
      { name: './', type: 'directory', mode: 0o755, mtime: T1 },
      { name: 'bin/', type: 'directory', mode: 0o755, mtime: T1 },
      {
        name: 'bin/ping',
        mode: 0o4755,
        uid: 0,
        gid: 0,
        content: 'ELF ping',
        binaryXattrs: { 'security.capability': CAP_NET_RAW },
        pax: { mtime: '1600000000.123456789', atime: '1650000000.5' },
      },
      { name: 'bin/ping6', type: 'link', linkname: 'bin/ping' },
      { name: 'bin/sgid', mode: 0o2751, uid: 1000, gid: 50, content: 'sgid' },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox', uid: 1000, gid: 1001 },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'home/user/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 }, // home/ implicit
      { name: 'home/user/.profile', mode: 0o600, uid: 1000, gid: 1000, content: 'export X=1\n' },
      { name: 'dev/', type: 'directory', mode: 0o755 },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/loop0', type: 'block-device', mode: 0o660, gid: 6, devmajor: 7, devminor: 0 },
      { name: 'dev/initctl', type: 'fifo', mode: 0o600 },
      { name: 'etc/motd', mode: 0o644, content: 'hi', pax: { 'SCHILY.xattr.user.comment': 'a text xattr ✓', 'SCHILY.xattr.trusted.overlay.redirect': '/x' } },
      { name: `${longDir}/file`, mode: 0o644, content: 'long name' },
      { name: 'deep/longlink', type: 'symlink', linkname: longTarget },
      { name: 'big', mode: 0o640, content: big },
      { name: '/abs/olute', mode: 0o644, content: 'made relative' },
    ]);
    const seen: string[] = [];
    const result = await extractLayer(Readable.from([tar]), dest, { onEntry: (p) => seen.push(p) });
    expect(result).toEqual({ entries: 18, bytes: 'ELF ping'.length + 4 + 11 + 2 + 9 + big.length + 13 });
    expect(seen[0]).toBe('.');
    expect(seen).toContain('bin/ping6');

    const st = (p: string) => lstatSync(join(dest, p), { bigint: true });
    const mode = (p: string) => Number(st(p).mode) & 0o7777;
    const owner = (p: string) => [Number(st(p).uid), Number(st(p).gid)];

    // Root and directories: mode and mtime applied after their children.
    expect(mode('.')).toBe(0o755);
    expect(st('.').mtimeNs).toBe(BigInt(T1.getTime()) * 1_000_000n);
    expect(st('bin').mtimeNs).toBe(BigInt(T1.getTime()) * 1_000_000n);
    expect(mode('tmp')).toBe(0o1777);
    expect(mode('home/user')).toBe(0o700);
    expect(owner('home/user')).toEqual([1000, 1000]);
    expect(mode('home')).toBe(0o755); // implicit parent
    expect(owner('home')).toEqual([0, 0]);

    // setuid survives chown; the capability survives chown and chmod; ns mtime; atime.
    expect(mode('bin/ping')).toBe(0o4755);
    expect(owner('bin/ping')).toEqual([0, 0]);
    expect(getxattr(dest, 'bin/ping', 'security.capability')).toEqual(CAP_NET_RAW);
    expect(st('bin/ping').mtimeNs).toBe(1_600_000_000_123_456_789n);
    expect(st('bin/ping').atimeNs).toBe(1_650_000_000_500_000_000n);
    expect(st('bin/ping6').ino).toBe(st('bin/ping').ino);
    expect(st('bin/ping').nlink).toBe(2n);
    expect(mode('bin/sgid')).toBe(0o2751);
    expect(owner('bin/sgid')).toEqual([1000, 50]);

    expect(readlinkSync(join(dest, 'bin/sh'))).toBe('busybox');
    expect(owner('bin/sh')).toEqual([1000, 1001]);
    expect(st('bin/sh').mtimeNs).toBe(BigInt(T0.getTime()) * 1_000_000n);

    expect(st('dev/null').rdev).toBe(0x103n);
    expect(lstatSync(join(dest, 'dev/null')).isCharacterDevice()).toBe(true);
    expect(mode('dev/null')).toBe(0o666);
    expect(lstatSync(join(dest, 'dev/loop0')).isBlockDevice()).toBe(true);
    expect(st('dev/loop0').rdev).toBe(0x700n);
    expect(owner('dev/loop0')).toEqual([0, 6]);
    expect(lstatSync(join(dest, 'dev/initctl')).isFIFO()).toBe(true);
    expect(mode('dev/initctl')).toBe(0o600);

    expect(getxattr(dest, 'etc/motd', 'user.comment')?.toString()).toBe('a text xattr ✓');
    expect(getxattr(dest, 'etc/motd', 'trusted.overlay.redirect')).toBeNull(); // never taken from a layer
    expect(readFileSync(join(dest, longDir, 'file'), 'utf8')).toBe('long name');
    expect(readlinkSync(join(dest, 'deep/longlink'))).toBe(longTarget);
    expect(sha(readFileSync(join(dest, 'big')))).toBe(sha(big));
    expect(mode('big')).toBe(0o640);
    expect(readFileSync(join(dest, 'abs/olute'), 'utf8')).toBe('made relative');
  });

  it('maps owners through a uid/gid map, and refuses an unmapped id', async () => {
    const tar = await tarOf([
      { name: 'a', uid: 0, gid: 0, content: 'a' },
      { name: 'b', uid: 1000, gid: 100, mode: 0o4755, content: 'b' },
    ]);
    const dest = join(tempDir('extract'), 'layer');
    mkdirSync(dest);
    const map = [{ containerID: 0, hostID: 200_000, size: 65536 }];
    await extractLayer(Readable.from([tar]), dest, { uidMap: map });
    expect([lstatSync(join(dest, 'a')).uid, lstatSync(join(dest, 'a')).gid]).toEqual([200_000, 200_000]);
    expect([lstatSync(join(dest, 'b')).uid, lstatSync(join(dest, 'b')).gid]).toEqual([201_000, 200_100]);
    expect(lstatSync(join(dest, 'b')).mode & 0o7777).toBe(0o4755);

    const dest2 = join(tempDir('extract'), 'layer');
    mkdirSync(dest2);
    await expect(
      extractLayer(Readable.from([tar]), dest2, { uidMap: [{ containerID: 0, hostID: 200_000, size: 1000 }] }),
    ).rejects.toMatchObject({ code: 'ERR_POCKER_LAYER_ID_UNMAPPED', step: 'extract', path: 'b' });
  });

  it('writes whiteouts in overlay format', async () => {
    const dest = join(tempDir('extract'), 'layer');
    mkdirSync(dest);
    const tar = await tarOf([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.passwd', content: '' },
      { name: 'var/lib/.wh..wh..opq', content: '' }, // parents implicit
      { name: 'var/lib/new', content: 'n' },
      { name: '.wh..wh..opq', content: '' }, // the layer root itself
      { name: '.wh..wh.plnk/12345', content: 'aufs hardlink dir: skipped' },
    ]);
    const result = await extractLayer(Readable.from([tar]), dest);
    expect(result.entries).toBe(6);
    const wh = lstatSync(join(dest, 'etc/passwd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(getxattr(dest, 'var/lib', 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(getxattr(dest, '', 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(getxattr(dest, 'var', 'trusted.overlay.opaque')).toBeNull();
    expect(tree(dest)).toEqual({
      'etc/': '',
      'etc/passwd': 'special 20000 0',
      'var/': '',
      'var/lib/': '',
      'var/lib/new': 'n',
    });
  });

  it('stacks two extracted layers in a real overlay mount: a deleted file and a replaced directory', async () => {
    const base = tempDir('overlay');
    const lower = join(base, 'l1');
    const upper = join(base, 'l2');
    const mnt = join(base, 'mnt');
    for (const d of [lower, upper, mnt]) mkdirSync(d);
    await extractLayer(
      Readable.from([
        await tarOf([
          { name: 'etc/', type: 'directory', mode: 0o755 },
          { name: 'etc/keep', content: 'keep' },
          { name: 'etc/delete-me', content: 'gone' },
          { name: 'data/', type: 'directory', mode: 0o755 },
          { name: 'data/old1', content: 'old1' },
          { name: 'data/sub/', type: 'directory', mode: 0o755 },
          { name: 'data/sub/old2', content: 'old2' },
          { name: 'gone-dir/', type: 'directory', mode: 0o755 },
          { name: 'gone-dir/x', content: 'x' },
          { name: 'link', type: 'symlink', linkname: 'etc/keep' },
        ]),
      ]),
      lower,
    );
    await extractLayer(
      Readable.from([
        await tarOf([
          { name: 'etc/', type: 'directory', mode: 0o755 },
          { name: 'etc/.wh.delete-me', content: '' },
          { name: 'data/', type: 'directory', mode: 0o750 },
          { name: 'data/.wh..wh..opq', content: '' },
          { name: 'data/new', content: 'new' },
          { name: '.wh.gone-dir', content: '' },
          { name: 'added', content: 'added' },
        ]),
      ]),
      upper,
    );

    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${upper}:${lower}`, mnt]);
    try {
      expect(tree(mnt)).toEqual({
        'added': 'added',
        'data/': '',
        'data/new': 'new',
        'etc/': '',
        'etc/keep': 'keep',
        'link': '-> etc/keep',
      });
      expect(lstatSync(join(mnt, 'data')).mode & 0o7777).toBe(0o750);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('keeps the event loop responsive while extracting a large layer', async () => {
    const dest = join(tempDir('extract'), 'layer');
    mkdirSync(dest);
    const entries: TarEntry[] = [];
    for (let d = 0; d < 20; d++) {
      entries.push({ name: `d${d}/`, type: 'directory', mode: 0o755 });
      for (let f = 0; f < 50; f++) entries.push({ name: `d${d}/f${f}`, mode: 0o644, content: `file ${d}/${f}\n`.repeat(20) });
    }
    const tar = await tarOf(entries);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    try {
      const result = await extractLayer(Readable.from([tar]), dest);
      expect(result.entries).toBe(entries.length);
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - t0;
    // Timers ran during the extraction (it yields at least every few ms).
    if (elapsed > 50) expect(ticks).toBeGreaterThan(2);
    expect(readFileSync(join(dest, 'd19/f49'), 'utf8')).toBe('file 19/49\n'.repeat(20));
  });
});
