// `stats` and `top`: what a container uses, read from its cgroup files (config.json `cgroups`) and
// from /proc: figures only (lib/cli/format.ts makes Docker's cells of them).
import { readFileSync, readlinkSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { cgroupProcs, readCgroupUsage } from '../cgroup/usage.js';
import type { ListedContainer } from '../container/index.js';

/** One raw sample of a container's counters. */
export interface StatsSample {
  /** Cumulative CPU time in nanoseconds (null: no cpu accounting). */
  cpuNs: number | null;
  /** When the sample was taken (process.hrtime, ns). */
  atNs: bigint;
  /** Memory in use, page cache's inactive files left out (as Docker does). */
  memUsage: number;
  memLimit: number;
  pids: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
}

/** What `stats` shows for one container. */
export interface ContainerStats {
  id: string;
  name: string;
  /** Percent of one CPU (Docker: 100% per fully busy CPU). */
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Bytes received and sent on the container's interfaces (lo excluded; 0 with the host's netns). */
export function netIO(pid: number): { rx: number; tx: number } {
  try {
    if (readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net')) return { rx: 0, tx: 0 };
  } catch {
    return { rx: 0, tx: 0 };
  }
  return parseNetDev(read(`/proc/${pid}/net/dev`) ?? '');
}

/** Sums /proc/net/dev's receive and transmit bytes over every interface but lo. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (line.slice(0, colon).trim() === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

/** Reads the container's counters now. `pid`: the container's init (0 when it is not running). */
export function sampleStats(cgroups: string[], pid: number): StatsSample {
  const atNs = process.hrtime.bigint();
  const u = readCgroupUsage(cgroups);
  const net = pid > 0 ? netIO(pid) : { rx: 0, tx: 0 };
  return { cpuNs: u.cpuNs, atNs, memUsage: u.memUsage, memLimit: u.memLimit, pids: u.pids, netRx: net.rx, netTx: net.tx, blkRead: u.blkRead, blkWrite: u.blkWrite };
}

/**
 * Docker's CPU %: (container CPU time delta / host CPU time delta) × online CPUs × 100. The host's
 * CPU time over an interval is the wall time × online CPUs, so this is the container's CPU time
 * over the wall time, × 100.
 */
export function cpuPercent(prev: StatsSample, now: StatsSample): number {
  if (prev.cpuNs === null || now.cpuNs === null) return 0;
  const wall = Number(now.atNs - prev.atNs);
  const used = now.cpuNs - prev.cpuNs;
  return wall > 0 && used > 0 ? (used / wall) * 100 : 0;
}

/** Combines two samples into the row `stats` shows. */
export function statsOf(c: ListedContainer, prev: StatsSample, now: StatsSample): ContainerStats {
  return {
    id: c.id,
    name: c.name,
    cpuPercent: cpuPercent(prev, now),
    memUsage: now.memUsage,
    memLimit: now.memLimit,
    memPercent: now.memLimit > 0 ? (now.memUsage / now.memLimit) * 100 : 0,
    netRx: now.netRx,
    netTx: now.netTx,
    blkRead: now.blkRead,
    blkWrite: now.blkWrite,
    pids: now.pids,
  };
}

/** A zero row for a container that is not running. */
export function zeroStats(c: ListedContainer): ContainerStats {
  return { id: c.id, name: c.name, cpuPercent: 0, memUsage: 0, memLimit: 0, memPercent: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0 };
}

// ---------------------------------------------------------------------------------------------
// top

/** The host pids in the container's cgroup, sorted. */
export const containerPids = cgroupProcs;

let userNames: Map<number, string> | undefined;

function userName(uid: number): string {
  if (!userNames) {
    userNames = new Map();
    for (const line of (read('/etc/passwd') ?? '').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2]!) && !userNames.has(Number(f[2]))) userNames.set(Number(f[2]), f[0]!);
    }
  }
  return userNames.get(uid) ?? String(uid);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major === 136) return `pts/${minor}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  if (major === 4) return `ttyS${minor - 64}`;
  return '?';
}

/** Host boot time in ms since the epoch. */
function bootTimeMs(): number {
  const btime = /^btime (\d+)$/m.exec(read('/proc/stat') ?? '');
  return btime ? Number(btime[1]) * 1000 : Date.now() - Number((read('/proc/uptime') ?? '0').split(' ')[0]) * 1000;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** One `ps -ef` row (UID PID PPID C STIME TTY TIME CMD) for a host pid, or null when it is gone. */
export function psRow(pid: number, now = Date.now()): string[] | null {
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (!stat || !status) return null;
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const field = (n: number) => Number(f[n - 3] ?? 0);
  const hz = 100; // USER_HZ on Linux
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const startMs = bootTimeMs() + (field(22) / hz) * 1000;
  const cpuSec = (field(14) + field(15)) / hz;
  const elapsed = Math.max((now - startMs) / 1000, 0.001);
  const c = Math.min(99, Math.floor((cpuSec / elapsed) * 100));
  const start = new Date(startMs);
  const today = new Date(now);
  const stime =
    start.toDateString() === today.toDateString()
      ? `${pad2(start.getHours())}:${pad2(start.getMinutes())}`
      : now - startMs < 365 * 86400_000
        ? `${MONTHS[start.getMonth()]}${pad2(start.getDate())}`
        : String(start.getFullYear());
  const total = Math.floor(cpuSec);
  const days = Math.floor(total / 86400);
  const time = `${days ? `${days}-` : ''}${pad2(Math.floor((total % 86400) / 3600))}:${pad2(Math.floor((total % 3600) / 60))}:${pad2(total % 60)}`;
  const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').replace(/\0+$/, '').split('\0').join(' ');
  return [userName(uid), String(pid), String(field(4)), String(c), stime, ttyName(field(7)), time, cmdline || `[${comm}]`];
}

export const TOP_TITLES = ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'];

/** `top` rows for every pid of the container, from /proc. */
export function topRows(cgroups: string[]): string[][] {
  const now = Date.now();
  return containerPids(cgroups)
    .map((pid) => psRow(pid, now))
    .filter((r): r is string[] => r !== null);
}

/** Size in bytes of the regular files under `dir` (no symlink followed, errors ignored). */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          total += (await stat(p)).size;
        } catch {
          /* gone */
        }
      }
    }
  };
  await walk(dir);
  return total;
}
