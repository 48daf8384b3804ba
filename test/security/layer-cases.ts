// The hostile layers of test/security/layers.test.ts (containerd's archive breakout cases and more),
// shared with test/rootless/security.test.ts, which extracts the same tars as an unprivileged user (in
// its user namespace, through the rootless worker). Each case is built in memory with tar-stream and
// extracted into a fresh `dest` inside a temp dir that also holds sentinel trees OUTSIDE dest (`etc/`
// and `outside/`): see layers.test.ts for the rules.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

import { tarOf } from '../tar.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';

export interface Entry {
  name: string;
  type?: EntryType;
  content?: string;
  linkname?: string;
  mode?: number;
  devmajor?: number;
  devminor?: number;
}

export const file = (name: string, content = ''): Entry => ({ name, type: 'file', content });
export const dir = (name: string, mode = 0o755): Entry => ({ name, type: 'directory', mode });
export const symlink = (linkname: string, name: string): Entry => ({ name, type: 'symlink', linkname });
export const hardlink = (linkname: string, name: string): Entry => ({ name, type: 'link', linkname });

/** A tar (in memory) of these entries, owned by the caller; @BASE@ in names and link names is the test's temp dir. */
export function tarFor(entries: Entry[], base: string): Promise<Buffer> {
  return tarOf(
    entries.map((e) => ({
      name: e.name.replaceAll('@BASE@', base),
      type: e.type ?? 'file',
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      ...(e.mode !== undefined ? { mode: e.mode } : {}),
      ...(e.linkname !== undefined ? { linkname: e.linkname.replaceAll('@BASE@', base) } : {}),
      ...(e.content !== undefined ? { content: e.content } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
    })),
  );
}

/** Everything about a tree a stray write, chmod, chown, utimes, link or unlink would change. */
export function snapshot(dir: string, skip: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p, { bigint: true });
    let what = `${st.ino}:${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.nlink}:${st.mtimeNs}:${st.ctimeNs}`;
    if (st.isSymbolicLink()) what += `:${readlinkSync(p)}`;
    else if (st.isFile()) what += `:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    out[rel] = what;
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) if (join(p, e) !== skip) walk(join(p, e), `${rel}/${e}`);
  };
  walk(dir, '.');
  return out;
}


export interface Case {
  name: string;
  entries: Entry[];
  /** 'refused': ERR_POCKER_LAYER_UNSAFE; 'ok': extracted, everything inside dest. */
  expect: 'refused' | 'ok';
  /** Checks on dest for the 'ok' cases. */
  check?: (dest: string, base: string) => void;
  /** Needs root (whiteouts are character devices). */
  root?: boolean;
}

const sameFile = (dest: string, a: string, b: string) => expect(lstatSync(join(dest, a)).ino).toBe(lstatSync(join(dest, b)).ino);
const isWhiteout = (dest: string, p: string) => {
  const st = lstatSync(join(dest, p));
  expect(st.isCharacterDevice() && st.rdev === 0).toBe(true);
};

export const cases: Case[] = [
  // --- containerd TestBreakouts ----------------------------------------------------------------
  {
    name: 'SymlinkAbsolute',
    entries: [dir('etc'), symlink('@BASE@/etc', 'localetc'), file('/localetc/unbroken', 'broken')],
    expect: 'refused',
  },
  {
    name: 'SymlinkUpAndOut',
    entries: [dir('etc'), dir('dummy'), symlink('dummy/../../etc', 'localetc'), file('/localetc/unbroken', 'broken')],
    expect: 'refused',
  },
  {
    name: 'SymlinkMultipleAbsolute',
    entries: [dir('etc'), dir('dummy'), symlink('@BASE@/etc', '/dummy/etc'), symlink('/dummy/etc', 'localetc'), file('/dummy/etc/unbroken', 'broken')],
    expect: 'refused',
  },
  {
    name: 'SymlinkMultipleRelative',
    entries: [dir('etc'), dir('dummy'), symlink('@BASE@/etc', '/dummy/etc'), symlink('./dummy/etc', 'localetc'), file('/dummy/etc/unbroken', 'broken')],
    expect: 'refused',
  },
  {
    name: 'SymlinkEmptyFile',
    entries: [dir('etc'), file('etc/emptied', 'notempty'), symlink('@BASE@/etc', 'localetc'), file('/localetc/emptied', '')],
    expect: 'refused',
  },
  {
    name: 'HardlinkRelative',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), dir('breakouts'), symlink('../../etc', 'breakouts/d1'), hardlink('/breakouts/d1/passwd', 'breakouts/mypasswd')],
    expect: 'refused',
  },
  {
    name: 'HardlinkDownAndOut',
    entries: [
      dir('etc'),
      file('/etc/passwd', 'inside'),
      dir('breakouts'),
      dir('downandout'),
      symlink('../downandout/../../etc', 'breakouts/d1'),
      hardlink('/breakouts/d1/passwd', 'breakouts/mypasswd'),
    ],
    expect: 'refused',
  },
  {
    name: 'HardlinkAbsolute',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('@BASE@/etc', 'localetc'), hardlink('/localetc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'HardlinkRelativeLong',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('../../../../../../../etc', 'localetc'), hardlink('/localetc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'HardlinkRelativeUpAndOut',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('upandout/../../../etc', 'localetc'), hardlink('/localetc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'HardlinkDirectRelative',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), hardlink('../../../../../etc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'HardlinkDirectAbsolute (clamped: the layer\'s own /etc/passwd)',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), hardlink('/etc/passwd', 'localpasswd')],
    expect: 'ok',
    check: (dest) => {
      sameFile(dest, 'localpasswd', 'etc/passwd');
      expect(readFileSync(join(dest, 'localpasswd'), 'utf8')).toBe('inside');
    },
  },
  {
    name: 'SymlinkParentDirectory (a symlink named ..)',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('/etc/', '..'), hardlink('/etc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'SymlinkEmptyFilename',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('/etc/', ''), hardlink('/etc/passwd', 'localpasswd')],
    expect: 'refused',
  },
  {
    name: 'SymlinkParentRelative (localetc/sub/.. is localetc)',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('@BASE@/etc/', 'localetc/sub/..'), hardlink('/etc/passwd', '/localetc/localpasswd')],
    expect: 'refused',
  },
  {
    name: 'SymlinkSlashEnded',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), dir('localetc/'), hardlink('/etc/passwd', '/localetc/localpasswd')],
    expect: 'ok',
    check: (dest) => sameFile(dest, 'localetc/localpasswd', 'etc/passwd'),
  },
  {
    name: 'SymlinkOverrideDirectory',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), dir('localetc'), symlink('@BASE@/etc', 'localetc'), hardlink('/etc/passwd', '/localetc/localpasswd')],
    expect: 'refused',
  },
  {
    name: 'SymlinkOverrideDirectoryRelative',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), dir('localetc'), symlink('../../etc', 'localetc'), hardlink('/etc/passwd', '/localetc/localpasswd')],
    expect: 'refused',
  },
  {
    name: 'DirectoryOverrideSymlink (the directory replaces the symlink)',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('@BASE@/etc', 'localetc'), dir('/localetc/'), hardlink('/etc/passwd', '/localetc/localpasswd')],
    expect: 'ok',
    check: (dest) => {
      expect(lstatSync(join(dest, 'localetc')).isDirectory()).toBe(true);
      sameFile(dest, 'localetc/localpasswd', 'etc/passwd');
    },
  },
  {
    name: 'DirectoryOverrideSymlinkAndHardlink',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('etc', 'localetc'), dir('/localetc/'), file('/localetc/localpasswd', 'different')],
    expect: 'ok',
    check: (dest) => {
      expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toBe('inside');
      expect(readFileSync(join(dest, 'localetc/localpasswd'), 'utf8')).toBe('different');
    },
  },
  { name: 'WhiteoutRootParent (.wh...)', entries: [dir('etc'), file('/etc/passwd', 'inside'), file('.wh...')], expect: 'refused' },
  { name: 'WhiteoutParent (etc/.wh...)', entries: [dir('etc'), file('/etc/passwd', 'inside'), file('etc/.wh...')], expect: 'refused' },
  { name: 'WhiteoutRoot (.wh..)', entries: [dir('etc'), file('/etc/passwd', 'inside'), file('.wh..')], expect: 'refused' },
  { name: 'WhiteoutCurrentDirectory (etc/.wh..)', entries: [dir('etc'), file('/etc/passwd', 'inside'), file('etc/.wh..')], expect: 'refused' },
  {
    name: 'WhiteoutSymlink (whiteout of the symlink itself)',
    entries: [dir('etc'), file('/etc/passwd', 'all users'), symlink('@BASE@/etc', 'localetc'), file('.wh.localetc')],
    expect: 'ok',
    root: true,
    check: (dest) => {
      isWhiteout(dest, 'localetc');
      expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toBe('all users');
    },
  },
  {
    name: 'WhiteoutSymlinkPath (whiteout through a symlink)',
    entries: [dir('etc'), file('/etc/passwd', 'all users'), file('/etc/whitedout', 'x'), symlink('@BASE@/etc', 'localetc'), file('localetc/.wh.whitedout')],
    expect: 'refused',
  },
  {
    name: 'WhiteoutDirectoryName (.wh.etc/somefile is a plain file)',
    entries: [dir('etc'), file('/etc/passwd', 'all users'), file('.wh.etc/somefile', 'non-empty')],
    expect: 'ok',
    check: (dest) => {
      expect(readFileSync(join(dest, '.wh.etc/somefile'), 'utf8')).toBe('non-empty');
      expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toBe('all users');
    },
  },
  {
    name: 'WhiteoutDeadSymlinkParent',
    entries: [dir('etc'), file('/etc/passwd', 'all users'), symlink('/dne', 'localetc'), file('localetc/.wh.etc')],
    expect: 'refused',
  },
  {
    name: 'WhiteoutRelativePath (dne/../.wh.etc whites out etc)',
    entries: [dir('etc'), file('/etc/passwd', 'all users'), symlink('/dne', 'localetc'), file('dne/../.wh.etc')],
    expect: 'ok',
    root: true,
    check: (dest) => isWhiteout(dest, 'etc'),
  },
  {
    name: 'HardlinkSymlinkBeforeCreateTarget (links the symlink itself)',
    entries: [dir('etc'), symlink('@BASE@/etc/passwd', 'localpasswd'), hardlink('localpasswd', 'localpasswd-dup'), file('/etc/passwd', 'after')],
    expect: 'ok',
    check: (dest) => {
      expect(lstatSync(join(dest, 'localpasswd-dup')).isSymbolicLink()).toBe(true);
      sameFile(dest, 'localpasswd-dup', 'localpasswd');
      expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toBe('after');
    },
  },
  {
    name: 'HardlinkSymlinkRelative',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('../../../../../etc/passwd', 'passwdlink'), hardlink('/passwdlink', 'localpasswd')],
    expect: 'ok',
    check: (dest) => {
      expect(readlinkSync(join(dest, 'localpasswd'))).toBe('../../../../../etc/passwd');
      sameFile(dest, 'localpasswd', 'passwdlink');
    },
  },
  {
    name: 'HardlinkSymlinkAbsolute',
    entries: [dir('etc'), file('/etc/passwd', 'inside'), symlink('@BASE@/etc/passwd', 'passwdlink'), hardlink('/passwdlink', 'localpasswd')],
    expect: 'ok',
    check: (dest) => sameFile(dest, 'localpasswd', 'passwdlink'),
  },
  {
    name: 'HardlinkSymlinkChmod (perm400 outside keeps 0400)',
    entries: [symlink('@BASE@/outside/perm400', '@BASE@/also-exists-outside-root'), hardlink('@BASE@/also-exists-outside-root', 'sketchylink')],
    expect: 'ok',
    check: (dest, base) => {
      expect(lstatSync(join(base, 'outside/perm400')).mode & 0o777).toBe(0o400);
      expect(lstatSync(join(dest, 'sketchylink')).isSymbolicLink()).toBe(true);
    },
  },

  // --- more: names, write-through, loops, magic links, whiteouts and hardlinks ---------------------
  { name: 'dot-dot name', entries: [file('../escape', 'x')], expect: 'refused' },
  { name: 'dot-dot inside a name climbing out', entries: [dir('a'), file('a/../../escape', 'x')], expect: 'refused' },
  { name: 'absolute dot-dot name', entries: [file('/../escape', 'x')], expect: 'refused' },
  { name: 'long (PAX) name climbing out', entries: [file(`${'a/'.repeat(60)}${'../'.repeat(61)}escape`, 'x')], expect: 'refused' },
  {
    name: 'dot-dot that stays inside (a/../b is b)',
    entries: [dir('a'), file('a/../b', 'inside')],
    expect: 'ok',
    check: (dest) => expect(readFileSync(join(dest, 'b'), 'utf8')).toBe('inside'),
  },
  { name: 'empty name', entries: [file('', 'x')], expect: 'refused' },
  { name: 'a file replacing the root', entries: [file('.', 'x')], expect: 'refused' },
  { name: 'a symlink replacing the root', entries: [symlink('/', '/')], expect: 'refused' },
  {
    name: 'directory replaced by a symlink, then written through',
    entries: [dir('d'), file('d/a', 'a'), symlink('../outside', 'd'), file('d/b', 'pwned')],
    expect: 'refused',
  },
  { name: 'symlink up-and-out then write through it', entries: [symlink('../outside', 'link'), file('link/sentinel', 'pwned')], expect: 'refused' },
  { name: 'symlink to ../.. then write through it', entries: [symlink('../..', 'link'), file('link/x', 'pwned')], expect: 'refused' },
  { name: 'absolute symlink then mkdir through it', entries: [symlink('@BASE@/outside', 'd'), dir('d/sub')], expect: 'refused' },
  { name: 'absolute symlink then fifo through it', entries: [symlink('@BASE@/outside', 'd'), { name: 'd/fifo', type: 'fifo' }], expect: 'refused' },
  { name: 'absolute symlink then symlink through it', entries: [symlink('@BASE@/outside', 'd'), symlink('x', 'd/s')], expect: 'refused' },
  { name: 'symlink deep in the path', entries: [dir('a'), symlink('../../outside', 'a/b'), file('a/b/c/d', 'x')], expect: 'refused' },
  { name: 'symlink inside the root is not followed either', entries: [dir('real'), symlink('real', 'alias'), file('alias/f', 'x')], expect: 'refused' },
  { name: 'symlink loop', entries: [symlink('b', 'a'), symlink('a', 'b'), file('a/x', 'x')], expect: 'refused' },
  { name: 'magic link (/proc/self/root)', entries: [symlink('/proc/self/root', 'proc'), file('proc/tmp/pocker-escape', 'x')], expect: 'refused' },
  {
    name: 'symlink to the sentinel then a file of the same name (replaces the symlink)',
    entries: [symlink('@BASE@/outside/sentinel', 'f'), file('f', 'pwned')],
    expect: 'ok',
    check: (dest) => {
      expect(lstatSync(join(dest, 'f')).isFile()).toBe(true);
      expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('pwned');
    },
  },
  {
    name: 'symlink to the sentinel then a setuid file of the same name',
    entries: [symlink('@BASE@/outside/sentinel', 'f'), { name: 'f', type: 'file', content: 'x', mode: 0o4777 }],
    expect: 'ok',
    check: (dest) => expect(lstatSync(join(dest, 'f')).isFile()).toBe(true),
  },
  {
    name: 'symlink to the outside dir then a directory entry of the same name (mode not applied through it)',
    entries: [symlink('@BASE@/outside', 'd'), dir('d', 0o777)],
    expect: 'ok',
    check: (dest) => expect(lstatSync(join(dest, 'd')).isDirectory()).toBe(true),
  },
  { name: 'hardlink at a path through a symlink', entries: [file('x', 'x'), symlink('../outside', 'out'), hardlink('x', 'out/hl')], expect: 'refused' },
  { name: 'hardlink to a path outside the layer', entries: [hardlink('outside/sentinel', 'hl')], expect: 'refused' },
  { name: 'hardlink to a directory', entries: [dir('etc'), hardlink('etc', 'hl')], expect: 'refused' },
  { name: 'hardlink to the root', entries: [hardlink('/', 'hl')], expect: 'refused' },
  { name: 'hardlink climbing out of the root', entries: [hardlink('../outside/sentinel', 'hl')], expect: 'refused' },
  { name: 'whiteout through a symlink to outside', entries: [symlink('../outside', 'out'), file('out/.wh.sentinel')], expect: 'refused' },
  { name: 'opaque marker through a symlink to outside', entries: [symlink('../outside', 'out'), file('out/.wh..wh..opq')], expect: 'refused' },
  { name: 'whiteout with an empty name (.wh.)', entries: [file('.wh.')], expect: 'refused' },
  {
    name: 'whiteout of a symlink to the sentinel',
    entries: [symlink('@BASE@/outside/sentinel', 'flink'), file('.wh.flink')],
    expect: 'ok',
    root: true,
    check: (dest) => isWhiteout(dest, 'flink'),
  },
];


/** Makes the sentinel trees of a case in `base` and an empty `dest`; returns dest. */
export function prepareBase(base: string): string {
  const dest = join(base, 'dest');
  mkdirSync(dest);
  mkdirSync(join(base, 'etc'));
  writeFileSync(join(base, 'etc/passwd'), 'sentinel passwd\n');
  writeFileSync(join(base, 'etc/unbroken'), 'unbroken');
  writeFileSync(join(base, 'etc/emptied'), 'notempty');
  mkdirSync(join(base, 'outside/dir'), { recursive: true });
  writeFileSync(join(base, 'outside/sentinel'), 'sentinel\n');
  writeFileSync(join(base, 'outside/perm400'), '...');
  chmodSync(join(base, 'outside/perm400'), 0o400);
  return dest;
}

/** The case's verdict on an extraction that threw `error` (or not), and the sentinels as they were (`before`). */
export function judge(c: Case, error: unknown, dest: string, base: string, before: Record<string, string>): void {
  if (c.expect === 'refused') {
    expect(error).toMatchObject({ code: 'ERR_POCKER_LAYER_UNSAFE', step: 'extract' });
    expect((error as Error).message).toMatch(/layer entry '.*' refused/);
  } else {
    expect(error).toBeUndefined();
    c.check?.(dest, base);
  }
  expect(snapshot(base, dest)).toEqual(before);
  expect(existsSync('/tmp/pocker-escape')).toBe(false);
}
