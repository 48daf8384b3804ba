// `cp` between the host and a running container. Every path inside the container is resolved
// beneath a directory fd of /proc/<pid>/root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
// (the addon's fsOpenInRoot): a symlink planted in the container (`/data -> /etc`) resolves to the
// container's /etc, never to the host's. Below the entry named on the command line everything is
// reached relative to an open directory fd (`/proc/self/fd/<fd>/<name>`, the last component never
// followed), so a concurrent swap of an entry for a symlink cannot redirect a write either.
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  chmodSync,
  type Stats,
} from 'node:fs';
import { basename, join, posix } from 'node:path';

import { cgroupProcs } from '../cgroup/usage.js';
import { PockerError, type PockerErrorCode } from '../errors.js';
import { native } from '../native.js';

/** O_PATH (Linux, every architecture Node runs on). */
const O_PATH = 0o10000000;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW } = constants;

/** A `cp` operand: a host path, or CONTAINER:PATH. */
export type CpOperand = { host: string } | { container: string; path: string };

/** Docker's rule: CONTAINER:PATH unless the operand looks like a local path (starts with / or .). */
export function parseCpOperand(arg: string): CpOperand {
  if (arg.startsWith('/') || arg.startsWith('.')) return { host: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { host: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

const at = (dirFd: number, name: string) => `/proc/self/fd/${dirFd}/${name}`;

function cpError(message: string, code: PockerErrorCode = 'ERR_POCKER_INVALID'): PockerError {
  return new PockerError(message, { code, step: 'copy' });
}

/**
 * Opens the root directory of a running container's init (`pid`) and checks that this pid is
 * still in the container's cgroup, when it has one (a recycled pid is refused). Close the fd with closeSync.
 */
export function openContainerRoot(pid: number, cgroups: string[]): number {
  const fd = openSync(`/proc/${pid}/root`, O_RDONLY | O_DIRECTORY);
  // A rootless container without limits has no cgroup of its own: the pid was checked against the
  // start time its monitor recorded (runningPid), as kill and stop do.
  if (cgroups.length > 0 && !cgroupProcs(cgroups).includes(pid)) {
    closeSync(fd);
    throw cpError('the container is not running', 'ERR_POCKER_NOT_RUNNING');
  }
  return fd;
}

function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Splits a container path into its parent (absolute) and last component ('' for "/"). */
function splitContainerPath(p: string): { parent: string; name: string } {
  const norm = posix.normalize(`/${p}`);
  if (norm === '/') return { parent: '/', name: '' };
  const trimmed = norm.replace(/\/+$/, '');
  return { parent: posix.dirname(trimmed), name: posix.basename(trimmed) };
}

function copyFileData(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(from, buf, 0, buf.length, null);
    if (n === 0) return;
    for (let off = 0; off < n; ) off += writeSync(to, buf, off, n - off);
  }
}

// ---------------------------------------------------------------------------------------------
// Out of the container

/** Copies the entry `name` of the container directory `dirFd` to the host path `dest` (replaced). */
function copyOutEntry(dirFd: number, name: string, dest: string): void {
  const st = lstatSync(at(dirFd, name));
  if (st.isSymbolicLink()) {
    rmSync(dest, { force: true, recursive: true });
    symlinkSync(readlinkSync(at(dirFd, name)), dest);
  } else if (st.isDirectory()) {
    withFd(native().fsOpenInRoot(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0), (fd) => copyOutDir(fd, fstatSync(fd), dest));
  } else if (st.isFile()) {
    withFd(native().fsOpenInRoot(dirFd, name, O_RDONLY | O_NOFOLLOW, 0), (fd) => {
      let exists: Stats | undefined;
      try {
        exists = lstatSync(dest);
      } catch {
        /* new */
      }
      if (exists && !exists.isFile()) rmSync(dest, { force: true, recursive: true });
      withFd(openSync(dest, 'w', st.mode & 0o7777), (out) => {
        copyFileData(fd, out);
        fchmodSync(out, st.mode & 0o7777);
      });
    });
  }
  // Devices, fifos and sockets are left out.
}

function copyOutDir(fd: number, st: Stats, dest: string): void {
  let exists: Stats | undefined;
  try {
    exists = lstatSync(dest);
  } catch {
    /* new */
  }
  if (exists && !exists.isDirectory()) rmSync(dest, { force: true });
  if (!exists?.isDirectory()) mkdirSync(dest, { mode: 0o700 });
  for (const e of readdirSync(`/proc/self/fd/${fd}`)) copyOutEntry(fd, e, join(dest, e));
  chmodSync(dest, st.mode & 0o7777);
}

/**
 * `cp CONTAINER:SRC DEST`: Docker's rules — into DEST when it is an existing directory (as
 * DEST/<basename of SRC>, or SRC's content with a trailing "/."), else as DEST. A symlink SRC is
 * copied as a symlink.
 */
export function copyOut(rootFd: number, src: string, dest: string): void {
  const contentOnly = /(^|\/)\.$/.test(src);
  const { parent, name } = splitContainerPath(src);
  const addon = native();
  let destIsDir = false;
  try {
    destIsDir = statSync(dest).isDirectory();
  } catch {
    /* new */
  }
  if (dest.endsWith('/') && !destIsDir) throw cpError(`destination directory ${dest} does not exist`, 'ENOENT');
  if (!name) {
    withFd(addon.fsOpenInRoot(rootFd, '/', O_RDONLY | O_DIRECTORY, 0), (fd) => copyOutDir(fd, fstatSync(fd), destIsDir && !contentOnly ? join(dest, 'rootfs') : dest));
    return;
  }
  withFd(addon.fsOpenInRoot(rootFd, parent, O_PATH | O_DIRECTORY, 0), (dirFd) => {
    const st = lstatSync(at(dirFd, name));
    if (contentOnly && st.isDirectory()) {
      if (!destIsDir) mkdirSync(dest, { mode: 0o755 });
      withFd(addon.fsOpenInRoot(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0), (fd) => copyOutDir(fd, fstatSync(fd), dest));
      return;
    }
    copyOutEntry(dirFd, name, destIsDir ? join(dest, name) : dest);
  });
}

// ---------------------------------------------------------------------------------------------
// Into the container

/** The entry `name` of the container directory `dirFd` (lstat), or null. */
function lstatAt(dirFd: number, name: string): Stats | null {
  try {
    return lstatSync(at(dirFd, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Copies the host entry `src` (lstat'ed: symlinks are copied as symlinks) to `name` in the container directory `dirFd`. */
function copyInEntry(src: string, dirFd: number, name: string): void {
  const st = lstatSync(src);
  const there = lstatAt(dirFd, name);
  const addon = native();
  if (st.isDirectory()) {
    if (there && !there.isDirectory()) unlinkSync(at(dirFd, name));
    if (!there?.isDirectory()) mkdirSync(at(dirFd, name), { mode: 0o700 });
    withFd(addon.fsOpenInRoot(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0), (fd) => {
      for (const e of readdirSync(src)) copyInEntry(join(src, e), fd, e);
      fchmodSync(fd, st.mode & 0o7777);
    });
    return;
  }
  if (!st.isFile() && !st.isSymbolicLink()) return; // devices, fifos, sockets are left out
  if (there?.isDirectory()) throw cpError(`cannot overwrite directory ${name} with non-directory`, 'EISDIR');
  if (there) unlinkSync(at(dirFd, name)); // replaced, never written through
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), at(dirFd, name));
    return;
  }
  withFd(openSync(src, O_RDONLY | O_NOFOLLOW), (from) =>
    withFd(addon.fsOpenInRoot(dirFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, st.mode & 0o777), (to) => {
      copyFileData(from, to);
      fchmodSync(to, st.mode & 0o7777);
    }),
  );
}

/**
 * `cp SRC CONTAINER:DEST`: Docker's rules — into DEST when it is an existing directory (symlinks
 * followed inside the container's root), else as DEST (its parent must exist).
 */
export function copyIn(rootFd: number, src: string, dest: string): void {
  const contentOnly = /(^|\/)\.$/.test(src);
  const srcSt = lstatSync(src);
  const addon = native();
  const destDirFd = (() => {
    try {
      return addon.fsOpenInRoot(rootFd, dest, O_RDONLY | O_DIRECTORY, 0);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return -1;
      throw err;
    }
  })();
  if (destDirFd >= 0) {
    withFd(destDirFd, (fd) => {
      if (contentOnly && srcSt.isDirectory()) for (const e of readdirSync(src)) copyInEntry(join(src, e), fd, e);
      else copyInEntry(src, fd, basename(src.replace(/\/+$/, '')) || '.');
    });
    return;
  }
  if (dest.endsWith('/')) throw cpError(`destination directory ${dest} does not exist in the container`, 'ENOENT');
  const { parent, name } = splitContainerPath(dest);
  withFd(addon.fsOpenInRoot(rootFd, parent, O_PATH | O_DIRECTORY, 0), (dirFd) => copyInEntry(src, dirFd, name));
}
