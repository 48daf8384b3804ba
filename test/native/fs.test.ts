// The addon's root-relative filesystem primitives (layer extraction): each works on normal paths,
// and none follows a symlink planted inside the root — a sentinel directory outside the root stays
// exactly as it was (content, mode, owner, times, ctime, xattrs, no new entries).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

import { removeContainerDir } from '../../lib/container/store.js';
import { loadedNative, native } from '../../lib/native.js';
import { cleanupAll, isRoot, repoRoot, tempDir } from '../helpers.js';

const { S_IFCHR, S_IFIFO } = constants;

afterAll(async () => {
  await cleanupAll();
});

/** Everything about a tree that a stray write, chmod, chown, utimes, xattr or link would change. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p, { bigint: true });
    let what = `${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.nlink}:${st.mtimeNs}:${st.ctimeNs}` // (not atime: reading changes it);
    if (st.isSymbolicLink()) what += `:${readlinkSync(p)}`;
    else if (st.isFile()) what += `:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    out[rel] = what;
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), `${rel}/${e}`);
  };
  walk(dir, '.');
  return out;
}

function fail(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

describe('root-relative fs primitives', () => {
  const addon = native();
  let base: string;
  let rootDir: string;
  let outside: string;
  let root: number;
  let before: Record<string, string>;

  beforeEach(() => {
    base = tempDir('fs');
    rootDir = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(rootDir);
    mkdirSync(outside);
    writeFileSync(join(outside, 'sentinel'), 'sentinel\n', { mode: 0o644 });
    mkdirSync(join(outside, 'dir'));
    // Planted symlinks: relative up-and-out, absolute, to the sentinel file, a loop, /proc magic.
    symlinkSync('../outside', join(rootDir, 'out'));
    symlinkSync(outside, join(rootDir, 'abs'));
    symlinkSync(join(outside, 'sentinel'), join(rootDir, 'flink'));
    symlinkSync('loop2', join(rootDir, 'loop1'));
    symlinkSync('loop1', join(rootDir, 'loop2'));
    symlinkSync('/proc/self/cwd', join(rootDir, 'magic'));
    writeFileSync(join(rootDir, 'file'), 'inside\n');
    root = addon.fsOpenRoot(rootDir);
    before = snapshot(outside);
  });

  afterEach(() => {
    closeSync(root);
    // Whatever a test did, nothing outside the root changed.
    expect(snapshot(outside)).toEqual(before);
  });

  it('opens a root and reports SystemError-shaped errors with step extract', () => {
    expect(fail(() => addon.fsOpenRoot(join(base, 'missing')))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', step: 'extract' });
    expect(fail(() => addon.fsMkdir(root, 'out/x', 0o755))).toMatchObject({
      code: 'ELOOP',
      errno: -40,
      syscall: 'openat2',
      path: 'out/x',
      step: 'extract',
    });
    expect(() => (addon.fsMkdir as unknown as (x: unknown) => void)('x')).toThrow(TypeError);
  });

  it('mkdir, create, symlink, hardlink, mknod, remove work on normal paths', () => {
    expect(addon.fsMkdir(root, 'a', 0o755)).toBe(true);
    expect(addon.fsMkdir(root, '/a/b/', 0o755)).toBe(true);
    expect(addon.fsMkdir(root, 'a/./b', 0o755)).toBe(false); // an existing dir is fine
    expect(statSync(join(rootDir, 'a/b')).isDirectory()).toBe(true);
    expect(fail(() => addon.fsMkdir(root, 'file', 0o755))).toMatchObject({ code: 'EEXIST' });

    const fd = addon.fsCreateFile(root, 'a/b/f', 0o644);
    writeSync(fd, 'hello');
    closeSync(fd);
    expect(readFileSync(join(rootDir, 'a/b/f'), 'utf8')).toBe('hello');
    // Replacing unlinks: a hardlink of the old file keeps the old content.
    addon.fsLink(root, 'a/hl', 'a/b/f');
    expect(statSync(join(rootDir, 'a/hl')).ino).toBe(statSync(join(rootDir, 'a/b/f')).ino);
    addon.fsLink(root, 'a/hl', 'a/b/f'); // the same link again: fine
    const fd2 = addon.fsCreateFile(root, 'a/b/f', 0o644);
    writeSync(fd2, 'new');
    closeSync(fd2);
    expect(readFileSync(join(rootDir, 'a/hl'), 'utf8')).toBe('hello');
    expect(readFileSync(join(rootDir, 'a/b/f'), 'utf8')).toBe('new');

    addon.fsSymlink(root, 'a/s', '../../etc/passwd');
    expect(readlinkSync(join(rootDir, 'a/s'))).toBe('../../etc/passwd');
    addon.fsSymlink(root, 'a/s', 'b/f'); // replaced
    expect(readlinkSync(join(rootDir, 'a/s'))).toBe('b/f');

    addon.fsMknod(root, 'a/fifo', S_IFIFO | 0o600, 0, 0);
    expect(lstatSync(join(rootDir, 'a/fifo')).isFIFO()).toBe(true);
    expect(fail(() => addon.fsMknod(root, 'a/reg', 0o100644, 0, 0))).toMatchObject({ code: 'EINVAL' });

    // A directory is replaced by a file (the whole tree goes).
    addon.fsMkdir(root, 'tree', 0o755);
    addon.fsMkdir(root, 'tree/x', 0o755);
    closeSync(addon.fsCreateFile(root, 'tree/x/f', 0o644));
    closeSync(addon.fsCreateFile(root, 'tree', 0o644));
    expect(lstatSync(join(rootDir, 'tree')).isFile()).toBe(true);

    expect(addon.fsRemove(root, 'a')).toBe(true);
    expect(existsSync(join(rootDir, 'a'))).toBe(false);
    expect(addon.fsRemove(root, 'a')).toBe(false);
    expect(fail(() => addon.fsRemove(root, ''))).toMatchObject({ code: 'EBUSY' });
    expect(existsSync(rootDir)).toBe(true);
  });

  it.skipIf(!isRoot)('mknod of devices, lchown, chmod with setuid, ns utimes, xattrs, set-meta (root)', () => {
    addon.fsMknod(root, 'null', S_IFCHR | 0o666, 1, 3);
    const dev = lstatSync(join(rootDir, 'null'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe(0x103);
    addon.fsMknod(root, 'wh', S_IFCHR, 0, 0); // an overlay whiteout
    expect(lstatSync(join(rootDir, 'wh')).rdev).toBe(0);

    addon.fsLchown(root, 'file', 1234, 5678);
    addon.fsChmod(root, 'file', 0o4755);
    let st = lstatSync(join(rootDir, 'file'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 5678, 0o4755]);

    addon.fsUtimes(root, 'file', 1_600_000_000_123_456_789n, 1_500_000_000_987_654_321n);
    const bst = lstatSync(join(rootDir, 'file'), { bigint: true });
    expect(bst.mtimeNs).toBe(1_500_000_000_987_654_321n);
    expect(bst.atimeNs).toBe(1_600_000_000_123_456_789n);
    addon.fsUtimes(root, 'file', null, 1_000_000_000n); // atime unchanged
    expect(lstatSync(join(rootDir, 'file'), { bigint: true }).atimeNs).toBe(1_600_000_000_123_456_789n);

    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
    addon.fsLsetxattr(root, 'file', 'security.capability', cap);
    expect(addon.fsLgetxattr(root, 'file', 'security.capability')).toEqual(cap);
    expect(addon.fsLgetxattr(root, 'file', 'user.none')).toBeNull();
    addon.fsLsetxattr(root, 'flink', 'trusted.pocker', Buffer.from('on-the-link'));
    expect(addon.fsLgetxattr(root, 'flink', 'trusted.pocker')).toEqual(Buffer.from('on-the-link'));

    // The root itself ("" or ".").
    addon.fsLsetxattr(root, '', 'trusted.overlay.opaque', Buffer.from('y'));
    expect(addon.fsLgetxattr(root, '.', 'trusted.overlay.opaque')).toEqual(Buffer.from('y'));
    addon.fsChmod(root, '.', 0o711);
    addon.fsUtimes(root, '', 5_000_000_000n, 6_000_000_000n);
    expect(statSync(rootDir).mode & 0o7777).toBe(0o711);
    expect(statSync(rootDir, { bigint: true }).mtimeNs).toBe(6_000_000_000n);

    // setMeta: owner, then mode (setuid survives the chown), xattrs, times; tolerated xattr failures reported.
    closeSync(addon.fsCreateFile(root, 'bin', 0o755));
    const skipped = addon.fsSetMeta(root, 'bin', {
      uid: 0,
      gid: 0,
      mode: 0o6755,
      xattrs: { 'security.capability': cap },
      atimeNs: 2_000_000_001n,
      mtimeNs: 2_000_000_002n,
    });
    expect(skipped).toEqual([]);
    st = lstatSync(join(rootDir, 'bin'));
    expect(st.mode & 0o7777).toBe(0o6755);
    expect(addon.fsLgetxattr(root, 'bin', 'security.capability')).toEqual(cap);
    expect(lstatSync(join(rootDir, 'bin'), { bigint: true }).mtimeNs).toBe(2_000_000_002n);
    // user.* xattrs are not allowed on symlinks: skipped and reported, not thrown.
    expect(addon.fsSetMeta(root, 'flink', { uid: 7, gid: 7, xattrs: { 'user.x': Buffer.from('1') } })).toEqual(['user.x']);
    expect(lstatSync(join(rootDir, 'flink')).uid).toBe(7);

    const fd = addon.fsCreateFile(root, 'viafd', 0o600);
    writeSync(fd, 'data');
    expect(addon.fsSetMetaFd(fd, { uid: 42, gid: 43, mode: 0o2750, xattrs: { 'user.k': Buffer.from('v') }, mtimeNs: 3_000_000_000n })).toEqual([]);
    closeSync(fd);
    st = lstatSync(join(rootDir, 'viafd'));
    expect([st.uid, st.gid, st.mode & 0o7777, st.mtimeMs]).toEqual([42, 43, 0o2750, 3000]);
    expect(addon.fsLgetxattr(root, 'viafd', 'user.k')).toEqual(Buffer.from('v'));
  });

  // Each primitive, pointed through (or at) a planted symlink: refused with ELOOP, or acting on the
  // symlink itself. afterEach checks the sentinel tree is unchanged.
  const throughSymlink: [string, (root: number) => unknown][] = [
    ['mkdir out/x', (r) => addon.fsMkdir(r, 'out/x', 0o755)],
    ['mkdir abs/x', (r) => addon.fsMkdir(r, 'abs/x', 0o755)],
    ['mkdir out (an existing symlink)', (r) => addon.fsMkdir(r, 'out', 0o755)],
    ['mkdir out/dir/x', (r) => addon.fsMkdir(r, 'out/dir/x', 0o755)],
    ['create out/sentinel', (r) => addon.fsCreateFile(r, 'out/sentinel', 0o644)],
    ['create abs/new', (r) => addon.fsCreateFile(r, 'abs/new', 0o644)],
    ['create loop1/x', (r) => addon.fsCreateFile(r, 'loop1/x', 0o644)],
    ['create magic/x', (r) => addon.fsCreateFile(r, 'magic/x', 0o644)],
    ['symlink out/new', (r) => addon.fsSymlink(r, 'out/new', 'x')],
    ['hardlink to out/sentinel', (r) => addon.fsLink(r, 'hl', 'out/sentinel')],
    ['hardlink at out/hl', (r) => addon.fsLink(r, 'out/hl', 'file')],
    ['mknod out/fifo', (r) => addon.fsMknod(r, 'out/fifo', S_IFIFO | 0o644, 0, 0)],
    ['lchown out/sentinel', (r) => addon.fsLchown(r, 'out/sentinel', 4242, 4242)],
    ['chmod flink (a symlink)', (r) => addon.fsChmod(r, 'flink', 0o777)],
    ['chmod out/sentinel', (r) => addon.fsChmod(r, 'out/sentinel', 0o777)],
    ['utimes abs/sentinel', (r) => addon.fsUtimes(r, 'abs/sentinel', 0n, 0n)],
    ['setxattr out/sentinel', (r) => addon.fsLsetxattr(r, 'out/sentinel', 'user.pocker', Buffer.from('x'))],
    ['getxattr out/sentinel', (r) => addon.fsLgetxattr(r, 'out/sentinel', 'user.pocker')],
    ['remove out/sentinel', (r) => addon.fsRemove(r, 'out/sentinel')],
    ['remove out/dir', (r) => addon.fsRemove(r, 'out/dir')],
    ['set-meta out/sentinel', (r) => addon.fsSetMeta(r, 'out/sentinel', { mode: 0o777 })],
    ['set-meta flink mode', (r) => addon.fsSetMeta(r, 'flink', { mode: 0o777 })],
  ];
  it.each(throughSymlink)('refuses %s with ELOOP', (_name, op) => {
    expect(fail(() => op(root))).toMatchObject({ code: 'ELOOP', step: 'extract' });
  });

  it.each([
    ['create ../escape', (r: number) => addon.fsCreateFile(r, '../escape', 0o644)],
    ['mkdir a/../../x', (r: number) => addon.fsMkdir(r, 'a/../../x', 0o755)],
    ['symlink ../s', (r: number) => addon.fsSymlink(r, '../s', 'x')],
    ['hardlink to ../outside/sentinel', (r: number) => addon.fsLink(r, 'hl', '../outside/sentinel')],
  ])('refuses %s with EXDEV', (_name, op) => {
    expect(fail(() => op(root))).toMatchObject({ code: 'EXDEV', step: 'extract' });
    expect(existsSync(join(base, 'escape'))).toBe(false);
  });

  it('acts on a planted symlink itself, never on its target', () => {
    // Create over it: the symlink is replaced, the sentinel untouched.
    closeSync(addon.fsCreateFile(root, 'flink', 0o644));
    expect(lstatSync(join(rootDir, 'flink')).isFile()).toBe(true);
    symlinkSync(join(outside, 'sentinel'), join(rootDir, 'flink2'));
    addon.fsMknod(root, 'flink2', S_IFIFO | 0o644, 0, 0);
    expect(lstatSync(join(rootDir, 'flink2')).isFIFO()).toBe(true);
    symlinkSync(join(outside, 'sentinel'), join(rootDir, 'flink3'));
    addon.fsSymlink(root, 'flink3', 'elsewhere');
    expect(readlinkSync(join(rootDir, 'flink3'))).toBe('elsewhere');
    // A hardlink to a symlink links the symlink.
    symlinkSync(join(outside, 'sentinel'), join(rootDir, 'flink4'));
    addon.fsLink(root, 'hl', 'flink4');
    expect(lstatSync(join(rootDir, 'hl')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(rootDir, 'hl')).ino).toBe(lstatSync(join(rootDir, 'flink4')).ino);
    // utimes and remove of the symlink itself.
    addon.fsUtimes(root, 'flink4', 1_000_000_000n, 1_000_000_000n);
    expect(lstatSync(join(rootDir, 'flink4')).mtimeMs).toBe(1000);
    expect(addon.fsRemove(root, 'out')).toBe(true);
    expect(existsSync(join(rootDir, 'out'))).toBe(false);
    // mkdir over nothing where a symlink was: a real directory inside the root.
    expect(addon.fsMkdir(root, 'out', 0o755)).toBe(true);
    if (isRoot) {
      addon.fsLchown(root, 'abs', 4242, 4242);
      expect(lstatSync(join(rootDir, 'abs')).uid).toBe(4242);
    }
  });

  it('removeContainerDir, with the addon loaded, removes a whole tree through it without following a symlink', () => {
    // An overlay's work/work is left mode 0000; a container directory holds no symlink of its own,
    // but one planted there must be unlinked, never followed (afterEach: `outside` is unchanged).
    mkdirSync(join(rootDir, 'scratch/work/work'), { recursive: true });
    writeFileSync(join(rootDir, 'scratch/work/work/f'), 'x');
    chmodSync(join(rootDir, 'scratch/work/work'), 0);
    symlinkSync(outside, join(rootDir, 'scratch/out'));
    expect(loadedNative()).toBe(addon);
    removeContainerDir(rootDir);
    expect(existsSync(rootDir)).toBe(false);
    removeContainerDir(rootDir); // gone already: no error, as fs.rmSync with force
  });

  it('refuses a regular file as a parent with ENOTDIR', () => {
    expect(fail(() => addon.fsCreateFile(root, 'file/x', 0o644))).toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('root-relative fs primitives without openat2 (kernels before 5.6)', () => {
  it('walks one component at a time and still refuses every symlink', () => {
    const base = tempDir('fs-walk');
    const script = `
      const fs = require('node:fs');
      const path = require('node:path');
      const a = require(${JSON.stringify(join(repoRoot, 'build/Release/pocker.node'))});
      const base = ${JSON.stringify(base)};
      fs.mkdirSync(path.join(base, 'root'));
      fs.mkdirSync(path.join(base, 'outside'));
      fs.symlinkSync('../outside', path.join(base, 'root/out'));
      fs.symlinkSync(path.join(base, 'outside'), path.join(base, 'root/abs'));
      const r = a.fsOpenRoot(path.join(base, 'root'));
      const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
      const out = {
        mkdir: code(() => a.fsMkdir(r, 'd/', 0o755)),
        nested: code(() => a.fsMkdir(r, 'd/e', 0o755)),
        create: code(() => fs.closeSync(a.fsCreateFile(r, 'd/e/f', 0o644))),
        viaRel: code(() => a.fsCreateFile(r, 'out/x', 0o644)),
        viaAbs: code(() => a.fsMkdir(r, 'abs/x', 0o755)),
        viaLast: code(() => a.fsMkdir(r, 'd/e/f/g', 0o755)),
        link: code(() => a.fsLink(r, 'hl', 'out/x')),
        dotdot: code(() => a.fsCreateFile(r, '../x', 0o644)),
        outside: fs.readdirSync(path.join(base, 'outside')),
      };
      process.stdout.write(JSON.stringify(out));
    `;
    const res = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, POCKER_TEST_NO_OPENAT2: '1' }, encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout)).toEqual({
      mkdir: 'ok',
      nested: 'ok',
      create: 'ok',
      viaRel: 'ELOOP',
      viaAbs: 'ELOOP',
      viaLast: 'ENOTDIR',
      link: 'ELOOP',
      dotdot: 'EXDEV',
      outside: [],
    });
  });
});

describe('flock', () => {
  it('takes exclusive and shared locks, without waiting when asked', () => {
    const addon = native();
    const file = join(tempDir('flock'), 'lock');
    writeFileSync(file, '');
    const a = openSync(file, 'r');
    const b = openSync(file, 'r');
    const c = openSync(file, 'r');
    try {
      expect(addon.flock(a, true, false)).toBe(true);
      expect(addon.flock(b, true, false)).toBe(false);
      expect(addon.flock(b, false, false)).toBe(false);
      closeSync(a);
      expect(addon.flock(b, false, true)).toBe(true);
      expect(addon.flock(c, false, false)).toBe(true); // shared + shared
      expect(addon.flock(c, true, false)).toBe(false); // upgrade blocked by b's shared lock
      expect(() => addon.flock(-1, true, false)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'flock' }));
    } finally {
      for (const fd of [b, c]) closeSync(fd);
    }
  });
});
