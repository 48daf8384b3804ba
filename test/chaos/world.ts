// What the chaos test can see of "its" pocker world: the containers of one temp --root whose cgroups
// sit under one pocker-test-<pid> parent. Everything here only looks (reads /proc, the cgroup
// hierarchies and the root); the only signal it ever sends is chosen by the caller, to a pid these
// functions verified is one of this root's (a pocker-init holding a file under the root, or a
// process inside one of this test's cgroups).
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { existingCgroupParentDirs } from '../helpers.js';

export const readOr = (p: string, fallback = ''): string => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return fallback;
  }
};

/** Fields of /proc/<pid>/stat after the command name: [0] = state, [1] = ppid, [19] = start time. */
export function statOf(pid: number | string): string[] | null {
  const s = readOr(`/proc/${pid}/stat`);
  return s ? s.slice(s.lastIndexOf(')') + 2).split(' ') : null;
}

/** Alive and not a zombie. */
export function alive(pid: number | string): boolean {
  const st = statOf(pid);
  return !!st && !st[0]!.startsWith('Z');
}

export function isInit(pid: number | string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:pocker-init') && alive(pid);
  } catch {
    return false;
  }
}

const allPids = (): string[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p));

/** The cgroup paths (one per hierarchy line) of a process, e.g. `/pocker-test-1/<id>`. */
export function cgroupPathsOf(pid: number | string): string[] {
  return readOr(`/proc/${pid}/cgroup`)
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
}

/** The container id whose leaf under `parent` holds `pid`, or undefined. */
export function leafOf(pid: number | string, parent: string): string | undefined {
  for (const p of cgroupPathsOf(pid)) {
    const m = new RegExp(`^/${parent}/([^/]+)`).exec(p);
    if (m) return m[1];
  }
  return undefined;
}

/** Does pocker-init `pid` hold a file under `root` open (a detached monitor's log, a lock…)? */
function holdsFileUnder(pid: string, root: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${root}/`);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * The live pocker-init processes of this test: holding a file under `root`, inside a cgroup under
 * `parent`, the parent of a process inside one, or a child of one of `cliPids` (CLIs the test spawned).
 */
export function initsOf(root: string, parent: string, cliPids: Set<number> = new Set()): number[] {
  const pids = allPids();
  const inParent = pids.filter((p) => leafOf(p, parent) !== undefined);
  const parents = new Set(inParent.map((p) => statOf(p)?.[1]).filter(Boolean) as string[]);
  const set = new Set(inParent);
  return pids
    .filter((p) => isInit(p) && (set.has(p) || parents.has(p) || cliPids.has(Number(statOf(p)?.[1])) || holdsFileUnder(p, root)))
    .map(Number);
}

/** Is `pid` a pocker-init of this root (see initsOf)? Checked right before signalling it. */
export function isOurInit(pid: number, root: string, parent: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !isInit(pid)) return false;
  if (holdsFileUnder(String(pid), root) || leafOf(pid, parent) !== undefined) return true;
  return allPids().some((p) => statOf(p)?.[1] === String(pid) && leafOf(p, parent) !== undefined);
}

/** Container leaves under `parent` in every hierarchy: id -> the leaf dirs. */
export function leaves(parent: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const dir of existingCgroupParentDirs(parent)) {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      out.set(e.name, [...(out.get(e.name) ?? []), join(dir, e.name)]);
    }
  }
  return out;
}

/** Pids in a cgroup leaf. */
export function procsOf(leaf: string): number[] {
  return readOr(join(leaf, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

/** Every file below `dir` (relative paths), for the leftovers listing. */
export function filesBelow(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  return out;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same plan. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}
