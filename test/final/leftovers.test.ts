// Runs LAST, on its own (`vitest run test/final`, after every other test file): whatever the
// integration and security tests started must be gone. Any test cgroup parent, mount under the temp
// dir, pocker-init process or helpers' temp dir still there is a leak of the runtime or of a test.
//
// It assumes nobody else runs pocker tests on this machine at the same time. pocker-init processes
// that belong to a live caller (another pocker user: a benchmark, a developer's shell) are not
// counted: a leaked one is an orphan, or sits in a test cgroup.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { CGROUP_PREFIX, TEMP_PREFIX, cgroupMounts } from '../helpers.js';

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
      if (e.name.startsWith(CGROUP_PREFIX)) found.push(path);
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
    });
  }
  return out;
}

const isPockerInit = (p: Proc) => p.exe.startsWith('/memfd:pocker-init') || /(^|\/)pocker-init( |$)/.test(p.cmdline);

describe.skipIf(process.getuid?.() !== 0)('nothing is left behind by the tests', () => {
  it('no test cgroup parent (pocker-test-*) remains in any hierarchy', () => {
    expect(testCgroups()).toEqual([]);
  });

  it('no mount names a pocker path under the temp dir', () => {
    const tmp = tmpdir();
    const lines = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ').some((f) => f.startsWith(tmp) && f.includes('pocker')));
    expect(lines).toEqual([]);
  });

  it('no leaked pocker-init process (orphaned, or inside a test cgroup) is running', () => {
    const all = processes();
    const byPid = new Map(all.map((p) => [p.pid, p]));
    const leaked = all.filter((p) => {
      if (!isPockerInit(p)) return false;
      if (p.cgroup.includes(`/${CGROUP_PREFIX}`)) return true;
      // A monitor's parent is its caller (a node process) and a container init's is its monitor.
      const parent = byPid.get(p.ppid);
      if (!parent || p.ppid === '1') return true;
      return !(isPockerInit(parent) || /(^|\/)node$/.test(parent.exe) || /\bnode\b/.test(parent.cmdline));
    });
    expect(leaked.map((p) => `${p.pid} (ppid ${p.ppid}) ${p.exe} ${p.cmdline}`)).toEqual([]);
    // And nothing at all runs in a test cgroup.
    const inTestCgroups = all.filter((p) => p.cgroup.includes(`/${CGROUP_PREFIX}`));
    expect(inTestCgroups.map((p) => `${p.pid} ${p.cmdline}`)).toEqual([]);
  });

  it("no temp dir of the test helpers remains", () => {
    const left = readdirSync(tmpdir()).filter((e) => e.startsWith(TEMP_PREFIX) && statSync(join(tmpdir(), e)).isDirectory());
    expect(left).toEqual([]);
  });
});
