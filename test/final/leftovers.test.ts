// Runs LAST, on its own (`vitest run test/final`, after every other test file): whatever the
// integration and security tests of this run (POCKER_TEST_RUN: the names of its temp dirs and cgroup
// parents, test/helpers.ts) started must be gone; another run's (a second checkout's) are not judged. Any test cgroup parent, mount under the temp
// dir, pocker-init process or helpers' temp dir still there is a leak of the runtime or of a test.
//
// It judges only what the suite made: a pocker-init process is the suite's when it sits in a test
// cgroup (pocker-test-*) or holds a file (its state dir, json log, cwd) under a test temp dir
// (pocker-it-*). Any other pocker-init on the machine (a user's detached container, a benchmark, another
// checkout's tests) is not ours to judge, whatever its parent.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { RUN_CGROUP_PREFIX, RUN_TEMP_PREFIX, cgroupMounts } from '../helpers.js';

/** Directories named pocker-test-* in every cgroup hierarchy (up to 3 levels down). */
function testCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = join(dir, e.name);
      if (e.name.startsWith(RUN_CGROUP_PREFIX)) found.push(path);
      if (depth < 3) walk(path, depth + 1);
    }
  };
  for (const mount of cgroupMounts()) walk(mount, 1);
  return found;
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function exeOf(pid: string): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

interface Proc {
  pid: string;
  ppid: string;
  exe: string;
  cmdline: string;
  cgroup: string;
  /** Targets of its cwd, root and open fds. */
  files: string[];
}

function filesOf(pid: string): string[] {
  const out = ['cwd', 'root'].map((l) => {
    try {
      return readlinkSync(`/proc/${pid}/${l}`);
    } catch {
      return '';
    }
  });
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const stat = readOr(`/proc/${pid}/stat`);
    if (!stat) continue;
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '';
    out.push({
      pid,
      ppid,
      exe: exeOf(pid),
      cmdline: readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim(),
      cgroup: readOr(`/proc/${pid}/cgroup`),
      files: filesOf(pid),
    });
  }
  return out;
}

/**
 * A leftover with what says where it came from: when it was made and what it holds (the helpers'
 * temp dirs carry the pid of the test process that made them, the cgroup parents too).
 */
function described(path: string): string {
  try {
    const made = statSync(path).birthtime.toISOString();
    const entries = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory() || !path.startsWith('/sys/')).map((e) => e.name);
    return `${path} (made ${made}; holds ${entries.slice(0, 8).join(' ') || 'nothing'}${entries.length > 8 ? ' …' : ''})`;
  } catch {
    return path;
  }
}

const isPockerInit = (p: Proc) => p.exe.startsWith('/memfd:pocker-init') || /(^|\/)pocker-init( |$)/.test(p.cmdline);

describe.skipIf(process.getuid?.() !== 0)('nothing is left behind by the tests', () => {
  it('no test cgroup parent (pocker-test-*) remains in any hierarchy', () => {
    expect(testCgroups().map(described)).toEqual([]);
  });

  it('no mount names a pocker path under the temp dir', () => {
    const tmp = tmpdir();
    const lines = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ').some((f) => f.startsWith(tmp) && f.includes('pocker')));
    expect(lines).toEqual([]);
  });

  it("no pocker-init process of the suite's (in a test cgroup, or holding a test temp dir's file) is running", () => {
    const testTemp = join(tmpdir(), RUN_TEMP_PREFIX);
    const ours = (p: Proc) => p.cgroup.includes(`/${RUN_CGROUP_PREFIX}`) || p.files.some((f) => f.startsWith(testTemp));
    const leaked = processes().filter((p) => isPockerInit(p) && ours(p));
    expect(leaked.map((p) => `${p.pid} (ppid ${p.ppid}) ${p.exe} ${p.cmdline} ${p.files.filter((f) => f.startsWith('/')).join(' ')}`)).toEqual([]);
  });

  it('nothing at all runs in a test cgroup', () => {
    const inTestCgroups = processes().filter((p) => p.cgroup.includes(`/${RUN_CGROUP_PREFIX}`));
    expect(inTestCgroups.map((p) => `${p.pid} ${p.cmdline}`)).toEqual([]);
  });

  it("no temp dir of the test helpers remains", () => {
    const left = readdirSync(tmpdir()).filter((e) => e.startsWith(RUN_TEMP_PREFIX) && statSync(join(tmpdir(), e)).isDirectory());
    expect(left.map((e) => described(join(tmpdir(), e)))).toEqual([]);
  });
});
