// An unprivileged user for the rootless tests, made by the (root) test process: `useradd` with a
// name carrying the run's pid, subordinate id ranges of its own appended to /etc/subuid and
// /etc/subgid (useradd's automatic ranges are turned off), a private XDG_RUNTIME_DIR. remove()
// ends its processes, deletes the user and its home, and takes exactly its lines out of the subid
// files again (other lines, which another test process may add meanwhile, are kept as they are).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, statfsSync, writeFileSync } from 'node:fs';

import { expect } from 'vitest';

import { pockerBin, spawnCollect, tempDir, type CliResult } from '../helpers.js';

export const SUBUID = '/etc/subuid';
export const SUBGID = '/etc/subgid';
const RUNUSER = '/usr/sbin/runuser';

export interface RootlessUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
  /** Its subordinate range (the same for uids and gids). */
  range?: { start: number; count: number };
  /** The environment its commands run with. */
  env: Record<string, string>;
  /** `pocker ARGS` as this user (its own default state root). */
  pocker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
  /** argv running `pocker ARGS` as this user (for a pty). */
  pockerArgv(args: string[]): string[];
  /** An argv put before runuser (e.g. a private mount namespace: privateTun()). */
  prefix: string[];
  remove(): void;
}

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

/** Appends `line` to a subid file (kept as the file was: owner, mode, other lines). */
function appendLine(file: string, line: string): void {
  const text = lines(file);
  writeFileSync(file, [...text, line].map((l) => `${l}\n`).join(''));
}

/** Takes exactly the lines of `owner` out of a subid file. */
function dropOwner(file: string, owner: string): void {
  const text = lines(file);
  const kept = text.filter((l) => l.split(':')[0] !== owner);
  if (kept.length !== text.length) writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
}

/** The pids whose real uid is `uid`. */
export function pidsOf(uid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'));
      if (m && Number(m[1]) === uid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

const OVERLAYFS_MAGIC = 0x794c7630;
/** The guest's scratch ext4 disk (cgroup2-vm --disk), where scripts/test.mjs gives the VM pass one. */
const SCRATCH = '/scratch';

/**
 * Where the users' homes go: /home, unless /home is on overlayfs (the cgroup-v2 guest's root is a
 * tmpfs overlay over the host's), which can hold no image layer (whiteouts are refused: pocker says
 * so, tested in rootless.test.ts) nor be an overlay upper dir. There the homes go on the guest's
 * scratch ext4 disk, a filesystem a real home is on; the tmpfs of /tmp would not do on the guest's
 * 6.1 kernel either (tmpfs has user.* xattrs, for rootless overlay markers, only from Linux 6.6).
 */
function homeBase(): string {
  if (Number(statfsSync('/home').type) !== OVERLAYFS_MAGIC || !existsSync(SCRATCH)) return '/home';
  mkdirSync(`${SCRATCH}/home`, { recursive: true, mode: 0o755 });
  return `${SCRATCH}/home`;
}


/** After `u.remove()`: its home, its processes (polled: killed ones leave /proc once reaped, by init
 * for reparented monitors and user-mode stacks) and its subid lines are gone. */
export async function expectUserGone(u: RootlessUser, what = 'no process left'): Promise<void> {
  expect(existsSync(u.home), `${u.name}'s home is gone`).toBe(false);
  let left = pidsOf(u.uid);
  for (let i = 0; i < 600 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = pidsOf(u.uid);
  }
  expect(left, `${u.name} has ${what}`).toEqual([]);
  for (const f of [SUBUID, SUBGID]) expect(lines(f).filter((l) => l.startsWith(`${u.name}:`)), `${u.name}'s lines in ${f}`).toEqual([]);
}
/** Makes the user; `withRange` gives it 65536 subordinate ids of its own. */
export function makeRootlessUser(tag: string, withRange = true): RootlessUser {
  const name = `pkr${process.pid}${tag}`.slice(0, 31);
  const home = `${homeBase()}/${name}`;
  execFileSync('useradd', ['-m', '-d', home, '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  let range: RootlessUser['range'];
  if (withRange) {
    // High ids of this process's own (pid-derived): no range of another user or of pocker's `auto`.
    const start = 1_000_000_000 + (process.pid % 4000) * 262_144 + (tag.charCodeAt(0) % 4) * 65_536;
    range = { start, count: 65_536 };
    appendLine(SUBUID, `${name}:${start}:65536`);
    appendLine(SUBGID, `${name}:${start}:65536`);
  }
  const runtimeDir = tempDir(`xdg-${tag}`);
  chownSync(runtimeDir, uid, gid);
  chmodSync(runtimeDir, 0o700);
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    USER: name,
    XDG_RUNTIME_DIR: runtimeDir,
    POCKER_DEFAULT_NETWORK: 'none',
    LANG: 'C.UTF-8',
  };
  const user: { prefix: string[] } = { prefix: [] };
  const pockerArgv = (args: string[]): string[] => [
    ...user.prefix,
    RUNUSER, '-u', name, '--', '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, pockerBin, ...args,
  ];
  const pocker = (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> => {
    const [cmd, ...rest] = pockerArgv(args);
    return spawnCollect(cmd!, rest, { cwd: '/', ...opts });
  };

  const remove = (): void => {
    // Its processes (monitors and containers a failed test left: this user's, made by this test), by pid.
    for (const pid of pidsOf(uid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      execFileSync('userdel', ['-r', '-f', name], { stdio: 'ignore' });
    } catch {
      /* reported below if the home stays */
    }
    dropOwner(SUBUID, name);
    dropOwner(SUBGID, name);
  };
  return Object.assign(user, { name, uid, gid, home, runtimeDir, ...(range ? { range } : {}), env, pocker, pockerArgv, remove });
}

/** /dev/net when privateTunPrefix() had to make it (a cgroup-v2 guest's /dev has none): undoTun() removes it. */
let madeDevNet = false;

/**
 * The user-mode network stacks open /dev/net/tun as the user. Where it is root's only (0600, as on
 * this machine; Debian's udev makes it 0666), or missing (the cgroup-v2 guest's /dev has no /dev/net,
 * though its kernel has the tun driver), each command runs in a mount namespace of its own with a
 * 0666 node of the same device on a tmpfs over /dev/net: the host's node is left as it is. A missing
 * /dev/net is made empty for the mount point and taken out again by undoTun().
 */
export function privateTunPrefix(): string[] {
  let st;
  try {
    st = statSync('/dev/net/tun');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st && (st.mode & 0o006) === 0o006) return [];
  if (!existsSync('/dev/net')) {
    mkdirSync('/dev/net', { mode: 0o755 });
    madeDevNet = true;
  }
  const script = 'mount -t tmpfs -o mode=0755 tmpfs /dev/net && mknod -m 666 /dev/net/tun c 10 200 && exec "$@"';
  return ['/usr/bin/unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh'];
}

/**
 * Removes the /dev/net that privateTunPrefix() made (never one that was there before) while it is
 * empty: when the first open loaded the tun driver, devtmpfs put the kernel's own tun node in it,
 * which is the kernel's to keep.
 */
export function undoTun(): void {
  if (!madeDevNet) return;
  madeDevNet = false;
  try {
    rmdirSync('/dev/net');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
  }
}

/** argv running `argv` as `user` with its environment (after its prefix), e.g. a Node script of the tests. */
export function asUser(user: RootlessUser, argv: string[]): string[] {
  return [...user.prefix, RUNUSER, '-u', user.name, '--', '/usr/bin/env', '-i', ...Object.entries(user.env).map(([k, v]) => `${k}=${v}`), ...argv];
}
