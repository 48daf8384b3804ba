import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CGROUP2_SUPER_MAGIC,
  TMPFS_MAGIC,
  createCgroups,
  detectCgroups,
  parseMountinfo,
  planCgroups,
  readCpuUsageNs,
  readMemoryCurrent,
  readOomKills,
  readPidsCurrent,
  removeCgroups,
  sharesToWeight,
  type CgroupInfo,
  type CgroupOps,
  type Resources,
} from '../../lib/cgroup/index.js';
import { PockerError } from '../../lib/errors.js';

// ---------------------------------------------------------------------------------------------
// Sample mountinfo texts

/** This build machine: v1 hybrid, cpu and cpuacct mounted separately, an empty cgroup2 beside. */
const HYBRID = `22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A typical systemd v2-only host. */
const PURE_V2 = `24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 25 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw
`;

/** CentOS 7 style: cpu,cpuacct and net_cls,net_prio co-mounted, systemd's named hierarchy. */
const COMOUNTED = `18 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/root rw,attr2
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:24 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,net_cls,net_prio
29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
33 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
`;

const MB = 1024 * 1024;

describe('parseMountinfo', () => {
  it('reads mount point, root, fs type and super options, unescaping octal', () => {
    const m = parseMountinfo('50 31 0:40 /docker/abc /mnt/my\\040cg rw,relatime shared:3 master:1 - cgroup cgroup rw,cpu,cpuacct\n');
    expect(m).toEqual([{ root: '/docker/abc', mountPoint: '/mnt/my cg', fsType: 'cgroup', superOptions: ['rw', 'cpu', 'cpuacct'] }]);
  });

  it('keeps only the last mount on a mount point', () => {
    const m = parseMountinfo('1 0 0:1 / /x rw - tmpfs tmpfs rw\n2 1 0:2 / /x rw - cgroup2 cgroup2 rw\n');
    expect(m.map((e) => e.fsType)).toEqual(['cgroup2']);
  });
});

describe('detectCgroups', () => {
  it('this host: v1 hybrid with separate cpu and cpuacct', () => {
    const info = detectCgroups(HYBRID, TMPFS_MAGIC);
    expect(info.version).toBe(1);
    expect(info.unifiedMount).toBeUndefined();
    expect(info.v1Mounts).toEqual({
      cpu: '/sys/fs/cgroup/cpu',
      cpuacct: '/sys/fs/cgroup/cpuacct',
      cpuset: '/sys/fs/cgroup/cpuset',
      memory: '/sys/fs/cgroup/memory',
      devices: '/sys/fs/cgroup/devices',
      freezer: '/sys/fs/cgroup/freezer',
      blkio: '/sys/fs/cgroup/blkio',
      pids: '/sys/fs/cgroup/pids',
    });
    // without a statfs answer the mountinfo alone says the same
    expect(detectCgroups(HYBRID)).toEqual(info);
  });

  it('pure v2', () => {
    expect(detectCgroups(PURE_V2, CGROUP2_SUPER_MAGIC)).toEqual({ version: 2, unifiedMount: '/sys/fs/cgroup' });
    expect(detectCgroups(PURE_V2)).toEqual({ version: 2, unifiedMount: '/sys/fs/cgroup' });
  });

  it('co-mounted cpu,cpuacct map to the same mount point', () => {
    const info = detectCgroups(COMOUNTED, TMPFS_MAGIC);
    expect(info.version).toBe(1);
    expect(info.v1Mounts?.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(info.v1Mounts?.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(info.v1Mounts?.net_prio).toBe('/sys/fs/cgroup/net_cls,net_prio');
    expect(Object.keys(info.v1Mounts ?? {})).not.toContain('name=systemd');
    expect(Object.keys(info.v1Mounts ?? {})).not.toContain('xattr');
  });

  it('a cgroup2 mount elsewhere is used when no v1 controller is mounted', () => {
    const text = '1 0 0:1 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n2 1 0:2 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n';
    expect(detectCgroups(text, TMPFS_MAGIC)).toEqual({ version: 2, unifiedMount: '/sys/fs/cgroup/unified' });
  });

  it('fails clearly without any cgroup mount', () => {
    expect(() => detectCgroups('1 0 0:1 / / rw - ext4 /dev/sda rw\n')).toThrow(
      expect.objectContaining({ code: 'ERR_POCKER_UNSUPPORTED', step: 'cgroup' }),
    );
  });

  it('the real host is detected once and callers cannot change the cached answer', () => {
    const a = detectCgroups();
    expect([1, 2]).toContain(a.version);
    if (a.v1Mounts) a.v1Mounts['memory'] = '/nowhere';
    a.unifiedMount = '/nowhere';
    const b = detectCgroups();
    expect(b.unifiedMount).not.toBe('/nowhere');
    expect(b.v1Mounts?.['memory']).not.toBe('/nowhere');
  });
});

describe('planCgroups', () => {
  const res: Resources = { memory: 64 * MB };

  it('v1: one leaf per distinct joined hierarchy', () => {
    const plan = planCgroups(detectCgroups(HYBRID, TMPFS_MAGIC), 'pocker/test-1', 'abc', res);
    const leaves = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids'].map((c) => `/sys/fs/cgroup/${c}/pocker/test-1/abc`);
    expect(plan).toEqual({
      version: 1,
      leafDirs: leaves,
      v1Tasks: leaves.map((l) => `${l}/tasks`),
      oomFile: { version: 1, path: '/sys/fs/cgroup/memory/pocker/test-1/abc/memory.oom_control' },
      statsFiles: {
        cpuUsage: '/sys/fs/cgroup/cpuacct/pocker/test-1/abc/cpuacct.usage',
        memoryCurrent: '/sys/fs/cgroup/memory/pocker/test-1/abc/memory.usage_in_bytes',
        pidsCurrent: '/sys/fs/cgroup/pids/pocker/test-1/abc/pids.current',
      },
    });
  });

  it('v1 co-mounted: cpu,cpuacct joined once', () => {
    const plan = planCgroups(detectCgroups(COMOUNTED, TMPFS_MAGIC), 'pocker', 'abc', res);
    expect(plan.leafDirs).toEqual([
      '/sys/fs/cgroup/cpu,cpuacct/pocker/abc',
      '/sys/fs/cgroup/cpuset/pocker/abc',
      '/sys/fs/cgroup/memory/pocker/abc',
      '/sys/fs/cgroup/pids/pocker/abc',
    ]);
    expect(plan.statsFiles.cpuUsage).toBe('/sys/fs/cgroup/cpu,cpuacct/pocker/abc/cpuacct.usage');
  });

  it('v1: hierarchies that are not mounted are skipped', () => {
    const info: CgroupInfo = { version: 1, v1Mounts: { memory: '/cg/memory' } };
    const plan = planCgroups(info, 'pocker', 'x', {});
    expect(plan.leafDirs).toEqual(['/cg/memory/pocker/x']);
    expect(plan.statsFiles).toEqual({ memoryCurrent: '/cg/memory/pocker/x/memory.usage_in_bytes' });
  });

  it('v2: one leaf, used for CLONE_INTO_CGROUP', () => {
    const plan = planCgroups(detectCgroups(PURE_V2), '/pocker/', 'abc', res);
    expect(plan).toEqual({
      version: 2,
      leafDirs: ['/sys/fs/cgroup/pocker/abc'],
      v2Leaf: '/sys/fs/cgroup/pocker/abc',
      v1Tasks: [],
      oomFile: { version: 2, path: '/sys/fs/cgroup/pocker/abc/memory.events' },
      statsFiles: {
        cpuUsage: '/sys/fs/cgroup/pocker/abc/cpu.stat',
        memoryCurrent: '/sys/fs/cgroup/pocker/abc/memory.current',
        pidsCurrent: '/sys/fs/cgroup/pocker/abc/pids.current',
      },
    });
  });

  it('rejects names that escape the parent and bad resources', () => {
    const info = detectCgroups(PURE_V2);
    for (const parent of ['', '..', 'pocker/../x', 'pocker//x', 'a b']) {
      expect(() => planCgroups(info, parent, 'id', {})).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    }
    for (const id of ['', '.', '..', 'a/b']) {
      expect(() => planCgroups(info, 'pocker', id, {})).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    }
    const bad: Resources[] = [
      { memory: -5 },
      { memory: 1.5 },
      { memorySwap: 100 * MB },
      { memory: 64 * MB, memorySwap: 32 * MB },
      { memory: 64 * MB, memorySwap: -2 },
      { cpuQuota: { quota: 50000, period: 10 } },
      { cpuQuota: { quota: 10, period: 100000 } },
      { cpuShares: -1 },
      { cpusetCpus: '0-1;rm' },
      { pidsLimit: 1.5 },
    ];
    for (const r of bad) {
      expect(() => planCgroups(info, 'pocker', 'id', r), JSON.stringify(r)).toThrow(
        expect.objectContaining({ code: 'ERR_POCKER_INVALID', step: 'validate' }),
      );
    }
  });
});

describe('sharesToWeight (runc formula)', () => {
  it('maps the v1 range onto 1..10000', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(512)).toBe(20);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });
});

// ---------------------------------------------------------------------------------------------
// createCgroups against a fake root in a temp dir

type Call = [op: 'create' | 'write' | 'remove', path: string, value?: string];

/** Records every call and acts on the temp dir like the kernel would (mkdir is not recursive). */
class FakeOps implements CgroupOps {
  calls: Call[] = [];
  fail: ((op: Call[0], path: string) => Error | undefined) | undefined;

  private check(op: Call[0], path: string): void {
    const err = this.fail?.(op, path);
    if (err) throw err;
  }
  cgroupCreate(p: string): void {
    this.calls.push(['create', p]);
    this.check('create', p);
    if (!existsSync(p)) mkdirSync(p);
  }
  cgroupWrite(p: string, v: string): void {
    this.calls.push(['write', p, v]);
    this.check('write', p);
    writeFileSync(p, v);
  }
  cgroupRemove(p: string): void {
    this.calls.push(['remove', p]);
    this.check('remove', p);
    rmSync(p, { recursive: true, force: true });
  }
}

function sysErr(code: string, errno: number, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} ${path}`), { code, errno: -errno, syscall, path });
}

let root: string;
let ops: FakeOps;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pocker-cgroup-unit-'));
  ops = new FakeOps();
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Mountinfo text for a v1 layout under `root`; `groups` are the hierarchies, comma-joined when co-mounted. */
function v1Root(groups: string[], opts: { memsw?: boolean } = {}): CgroupInfo {
  const lines = [`31 23 0:28 / ${root} rw,relatime - tmpfs tmpfs rw,mode=755`];
  groups.forEach((g, i) => {
    mkdirSync(join(root, g));
    lines.push(`${32 + i} 31 0:${29 + i} / ${join(root, g)} rw,relatime - cgroup cgroup rw,${g}`);
  });
  if (groups.includes('cpuset')) {
    writeFileSync(join(root, 'cpuset', 'cpuset.cpus'), '0-3\n');
    writeFileSync(join(root, 'cpuset', 'cpuset.mems'), '0\n');
  }
  if (opts.memsw !== false && groups.includes('memory')) {
    writeFileSync(join(root, 'memory', 'memory.memsw.limit_in_bytes'), '9223372036854771712\n');
  }
  return detectCgroups(lines.join('\n') + '\n', TMPFS_MAGIC);
}

/** A v2 mount at `root` with these controllers available and these already enabled at the root. */
function v2Root(controllers: string, subtree: string): CgroupInfo {
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'cgroup.subtree_control'), `${subtree}\n`);
  return detectCgroups(`30 25 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`, CGROUP2_SUPER_MAGIC);
}

/** Calls with `root` shortened to `@`. */
function rel(calls: Call[]): string[] {
  return calls.map(([op, p, v]) => `${op} ${p.replace(root, '@')}${v === undefined ? '' : ` = ${v}`}`);
}

const ALL: Resources = {
  memory: 64 * MB,
  cpuQuota: { quota: 50000, period: 100000 },
  cpuShares: 512,
  cpusetCpus: '1',
  pidsLimit: 50,
};

describe('createCgroups v1', () => {
  const HIER = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'pids'];

  it('creates every parent level and the leaves, copies cpuset, writes limits in order', () => {
    const info = v1Root(HIER);
    const plan = planCgroups(info, 'pocker/test-1', 'c1', ALL);
    createCgroups(plan, ALL, ops, info, 'pocker/test-1');
    expect(rel(ops.calls)).toEqual([
      'create @/cpu/pocker',
      'create @/cpu/pocker/test-1',
      'create @/cpu/pocker/test-1/c1',
      'write @/cpu/pocker/test-1/c1/cpu.cfs_period_us = 100000',
      'write @/cpu/pocker/test-1/c1/cpu.cfs_quota_us = 50000',
      'write @/cpu/pocker/test-1/c1/cpu.shares = 512',
      'create @/cpuacct/pocker',
      'create @/cpuacct/pocker/test-1',
      'create @/cpuacct/pocker/test-1/c1',
      'create @/cpuset/pocker',
      'write @/cpuset/pocker/cpuset.cpus = 0-3',
      'write @/cpuset/pocker/cpuset.mems = 0',
      'create @/cpuset/pocker/test-1',
      'write @/cpuset/pocker/test-1/cpuset.cpus = 0-3',
      'write @/cpuset/pocker/test-1/cpuset.mems = 0',
      'create @/cpuset/pocker/test-1/c1',
      'write @/cpuset/pocker/test-1/c1/cpuset.cpus = 1',
      'write @/cpuset/pocker/test-1/c1/cpuset.mems = 0',
      'create @/memory/pocker',
      'create @/memory/pocker/test-1',
      'create @/memory/pocker/test-1/c1',
      'write @/memory/pocker/test-1/c1/memory.limit_in_bytes = 67108864',
      'write @/memory/pocker/test-1/c1/memory.memsw.limit_in_bytes = 134217728',
      'create @/pids/pocker',
      'create @/pids/pocker/test-1',
      'create @/pids/pocker/test-1/c1',
      'write @/pids/pocker/test-1/c1/pids.max = 50',
    ]);
    // devices is not joined
    expect(existsSync(join(root, 'devices', 'pocker'))).toBe(false);
  });

  it('a second container in an existing parent only adds its leaves (cpuset from the parent)', () => {
    const info = v1Root(HIER);
    createCgroups(planCgroups(info, 'pocker', 'c1', {}), {}, ops, info, 'pocker');
    writeFileSync(join(root, 'cpuset', 'pocker', 'cpuset.cpus'), '2-3\n'); // the parent's own value wins
    ops.calls = [];
    const res: Resources = { memory: 32 * MB, memorySwap: -1, pidsLimit: -1 };
    createCgroups(planCgroups(info, 'pocker', 'c2', res), res, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'create @/cpu/pocker/c2',
      'create @/cpuacct/pocker/c2',
      'create @/cpuset/pocker/c2',
      'write @/cpuset/pocker/c2/cpuset.cpus = 2-3',
      'write @/cpuset/pocker/c2/cpuset.mems = 0',
      'create @/memory/pocker/c2',
      'write @/memory/pocker/c2/memory.limit_in_bytes = 33554432',
      'write @/memory/pocker/c2/memory.memsw.limit_in_bytes = -1',
      'create @/pids/pocker/c2',
      'write @/pids/pocker/c2/pids.max = max',
    ]);
  });

  it('an existing but empty cpuset parent (left by a killed run) is filled', () => {
    const info = v1Root(['cpuset']);
    mkdirSync(join(root, 'cpuset', 'pocker'));
    createCgroups(planCgroups(info, 'pocker', 'c1', {}), {}, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'write @/cpuset/pocker/cpuset.cpus = 0-3',
      'write @/cpuset/pocker/cpuset.mems = 0',
      'create @/cpuset/pocker/c1',
      'write @/cpuset/pocker/c1/cpuset.cpus = 0-3',
      'write @/cpuset/pocker/c1/cpuset.mems = 0',
    ]);
  });

  it('memsw only when the kernel has it; explicit memory+swap', () => {
    let info = v1Root(['memory'], { memsw: false });
    createCgroups(planCgroups(info, 'pocker', 'a', { memory: MB }), { memory: MB }, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual(['create @/memory/pocker', 'create @/memory/pocker/a', 'write @/memory/pocker/a/memory.limit_in_bytes = 1048576']);

    rmSync(join(root, 'memory'), { recursive: true });
    info = v1Root(['memory']);
    ops.calls = [];
    const res = { memory: MB, memorySwap: 3 * MB };
    createCgroups(planCgroups(info, 'pocker', 'b', res), res, ops, info, 'pocker');
    expect(rel(ops.calls).slice(-2)).toEqual([
      'write @/memory/pocker/b/memory.limit_in_bytes = 1048576',
      'write @/memory/pocker/b/memory.memsw.limit_in_bytes = 3145728',
    ]);
  });

  it('co-mounted cpu,cpuacct is joined once and gets the cpu writes', () => {
    const info = v1Root(['cpu,cpuacct', 'memory']);
    const res: Resources = { cpuQuota: { quota: 150000, period: 100000 }, memory: MB };
    const plan = planCgroups(info, 'pocker', 'c1', res);
    expect(plan.leafDirs).toEqual([join(root, 'cpu,cpuacct', 'pocker', 'c1'), join(root, 'memory', 'pocker', 'c1')]);
    createCgroups(plan, res, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'create @/cpu,cpuacct/pocker',
      'create @/cpu,cpuacct/pocker/c1',
      'write @/cpu,cpuacct/pocker/c1/cpu.cfs_period_us = 100000',
      'write @/cpu,cpuacct/pocker/c1/cpu.cfs_quota_us = 150000',
      'create @/memory/pocker',
      'create @/memory/pocker/c1',
      'write @/memory/pocker/c1/memory.limit_in_bytes = 1048576',
      'write @/memory/pocker/c1/memory.memsw.limit_in_bytes = 2097152',
    ]);
  });

  it('a failing write removes the leaves created so far and throws a cgroup-step error', () => {
    const info = v1Root(HIER);
    const plan = planCgroups(info, 'pocker', 'c1', ALL);
    ops.fail = (op, p) => (op === 'write' && p.endsWith('pids.max') ? sysErr('EACCES', 13, 'write', p) : undefined);
    let err: unknown;
    try {
      createCgroups(plan, ALL, ops, info, 'pocker');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PockerError);
    expect(err).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'write', step: 'cgroup', path: join(root, 'pids/pocker/c1/pids.max') });
    expect(rel(ops.calls.filter((c) => c[0] === 'remove'))).toEqual([
      'remove @/pids/pocker/c1',
      'remove @/memory/pocker/c1',
      'remove @/cpuset/pocker/c1',
      'remove @/cpuacct/pocker/c1',
      'remove @/cpu/pocker/c1',
    ]);
    for (const leaf of plan.leafDirs) expect(existsSync(leaf)).toBe(false);
  });

  it('a failing mkdir removes only what was created before it', () => {
    const info = v1Root(HIER);
    const plan = planCgroups(info, 'pocker', 'c1', {});
    ops.fail = (op, p) => (op === 'create' && p === join(root, 'cpuset/pocker/c1') ? sysErr('ENOSPC', 28, 'mkdir', p) : undefined);
    expect(() => createCgroups(plan, {}, ops, info, 'pocker')).toThrow(expect.objectContaining({ code: 'ENOSPC', step: 'cgroup' }));
    expect(rel(ops.calls.filter((c) => c[0] === 'remove'))).toEqual(['remove @/cpuacct/pocker/c1', 'remove @/cpu/pocker/c1']);
  });

  it('refuses to reuse an existing leaf, and limits whose controller is not mounted, before touching anything', () => {
    const info = v1Root(['cpu', 'memory']);
    mkdirSync(join(root, 'memory', 'pocker', 'c1'), { recursive: true });
    expect(() => createCgroups(planCgroups(info, 'pocker', 'c1', {}), {}, ops, info, 'pocker')).toThrow(
      expect.objectContaining({ code: 'EEXIST', step: 'cgroup' }),
    );
    const res = { pidsLimit: 10 };
    expect(() => createCgroups(planCgroups(info, 'pocker', 'c2', res), res, ops, info, 'pocker')).toThrow(
      expect.objectContaining({ code: 'ERR_POCKER_UNSUPPORTED', step: 'cgroup' }),
    );
    expect(ops.calls).toEqual([]);
  });
});

describe('createCgroups v2', () => {
  it('enables only the missing controllers on each level, then writes the limits', () => {
    const info = v2Root('cpuset cpu io memory hugetlb pids rdma', 'memory io');
    const plan = planCgroups(info, 'pocker/test-1', 'c1', ALL);
    createCgroups(plan, ALL, ops, info, 'pocker/test-1');
    expect(rel(ops.calls)).toEqual([
      'write @/cgroup.subtree_control = +cpu +cpuset +pids',
      'create @/pocker',
      'write @/pocker/cgroup.subtree_control = +cpu +cpuset +memory +pids',
      'create @/pocker/test-1',
      'write @/pocker/test-1/cgroup.subtree_control = +cpu +cpuset +memory +pids',
      'create @/pocker/test-1/c1',
      'write @/pocker/test-1/c1/memory.max = 67108864',
      'write @/pocker/test-1/c1/memory.swap.max = 67108864',
      'write @/pocker/test-1/c1/cpu.max = 50000 100000',
      'write @/pocker/test-1/c1/cpu.weight = 20',
      'write @/pocker/test-1/c1/cpuset.cpus = 1',
      'write @/pocker/test-1/c1/pids.max = 50',
    ]);
  });

  it('an existing parent with everything enabled only gets the leaf', () => {
    const info = v2Root('cpu memory pids', 'cpu memory pids');
    mkdirSync(join(root, 'pocker'));
    writeFileSync(join(root, 'pocker', 'cgroup.subtree_control'), 'cpu memory pids\n');
    const res: Resources = { memory: 64 * MB, memorySwap: -1, cpuQuota: { quota: -1, period: 100000 }, pidsLimit: 0 };
    createCgroups(planCgroups(info, 'pocker', 'c1', res), res, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'create @/pocker/c1',
      'write @/pocker/c1/memory.max = 67108864',
      'write @/pocker/c1/memory.swap.max = max',
      'write @/pocker/c1/cpu.max = max 100000',
      'write @/pocker/c1/pids.max = max',
    ]);
  });

  it('memory.swap.max is memory+swap minus memory, and skipped when the kernel has no swap accounting', () => {
    const info = v2Root('memory', 'memory');
    const res = { memory: 64 * MB, memorySwap: 100 * MB };
    createCgroups(planCgroups(info, 'pocker', 'a', res), res, ops, info, 'pocker');
    expect(rel(ops.calls).slice(-1)).toEqual([`write @/pocker/a/memory.swap.max = ${36 * MB}`]);

    ops.calls = [];
    ops.fail = (op, p) => (p.endsWith('memory.swap.max') ? sysErr('ENOENT', 2, 'open', p) : undefined);
    createCgroups(planCgroups(info, 'pocker', 'b', res), res, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'create @/pocker/b',
      'write @/pocker/b/memory.max = 67108864',
      'write @/pocker/b/memory.swap.max = 37748736',
    ]);
    expect(existsSync(join(root, 'pocker', 'b'))).toBe(true);
  });

  it('only available controllers are enabled; a limit needing a missing one fails before any write', () => {
    const info = v2Root('memory pids', '');
    createCgroups(planCgroups(info, 'pocker', 'a', {}), {}, ops, info, 'pocker');
    expect(rel(ops.calls)).toEqual([
      'write @/cgroup.subtree_control = +memory +pids',
      'create @/pocker',
      'write @/pocker/cgroup.subtree_control = +memory +pids',
      'create @/pocker/a',
    ]);
    ops.calls = [];
    const res = { cpuShares: 1024 };
    expect(() => createCgroups(planCgroups(info, 'pocker', 'b', res), res, ops, info, 'pocker')).toThrow(
      expect.objectContaining({ code: 'ERR_POCKER_UNSUPPORTED', step: 'cgroup' }),
    );
    expect(ops.calls).toEqual([]);
  });

  it('a failing write removes the leaf; the shared parent stays', () => {
    const info = v2Root('cpu memory pids', 'cpu memory pids');
    const res = { memory: 64 * MB, pidsLimit: 5 };
    const plan = planCgroups(info, 'pocker', 'c1', res);
    ops.fail = (op, p) => (op === 'write' && p.endsWith('pids.max') ? sysErr('EINVAL', 22, 'write', p) : undefined);
    expect(() => createCgroups(plan, res, ops, info, 'pocker')).toThrow(
      expect.objectContaining({ code: 'EINVAL', step: 'cgroup', path: join(root, 'pocker/c1/pids.max') }),
    );
    expect(rel(ops.calls.filter((c) => c[0] === 'remove'))).toEqual(['remove @/pocker/c1']);
    expect(existsSync(join(root, 'pocker', 'c1'))).toBe(false);
    expect(existsSync(join(root, 'pocker'))).toBe(true);
  });

  it('rejects a plan made for another layout', () => {
    const info = v2Root('memory', 'memory');
    const plan = planCgroups({ version: 1, v1Mounts: { memory: '/x' } }, 'pocker', 'a', {});
    expect(() => createCgroups(plan, {}, ops, info, 'pocker')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    const plan2 = planCgroups(info, 'pocker', 'a', {});
    expect(() => createCgroups(plan2, {}, ops, info, 'other')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    expect(ops.calls).toEqual([]);
  });
});

describe('removeCgroups', () => {
  it('removes every leaf, keeps going after a failure, then throws', () => {
    const info = v1Root(['cpu', 'memory', 'pids']);
    const plan = planCgroups(info, 'pocker', 'c1', {});
    createCgroups(plan, {}, ops, info, 'pocker');
    ops.calls = [];
    ops.fail = (op, p) => (op === 'remove' && p.includes('/memory/') ? sysErr('EBUSY', 16, 'rmdir', p) : undefined);
    expect(() => removeCgroups(plan, ops)).toThrow(expect.objectContaining({ code: 'EBUSY', step: 'cgroup' }));
    expect(rel(ops.calls)).toEqual(['remove @/cpu/pocker/c1', 'remove @/memory/pocker/c1', 'remove @/pids/pocker/c1']);
    ops.fail = undefined;
    removeCgroups(plan, ops);
    for (const leaf of plan.leafDirs) expect(existsSync(leaf)).toBe(false);
    expect(existsSync(join(root, 'cpu', 'pocker'))).toBe(true);
  });
});

describe('stats', () => {
  it('v1: cpuacct.usage, memory.usage_in_bytes, pids.current, oom_control', () => {
    const info = v1Root(['cpuacct', 'memory', 'pids']);
    const plan = planCgroups(info, 'pocker', 'c1', {});
    createCgroups(plan, {}, ops, info, 'pocker');
    writeFileSync(plan.statsFiles.cpuUsage!, '123456789\n');
    writeFileSync(plan.statsFiles.memoryCurrent!, '4096\n');
    writeFileSync(plan.statsFiles.pidsCurrent!, '3\n');
    writeFileSync(plan.oomFile!.path, 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(readCpuUsageNs(plan)).toBe(123456789);
    expect(readMemoryCurrent(plan)).toBe(4096);
    expect(readPidsCurrent(plan)).toBe(3);
    expect(readOomKills(plan)).toBe(2);
  });

  it('v2: usage_usec in cpu.stat, oom_kill in memory.events', () => {
    const info = v2Root('memory pids', 'memory pids');
    const plan = planCgroups(info, 'pocker', 'c1', {});
    createCgroups(plan, {}, ops, info, 'pocker');
    writeFileSync(plan.statsFiles.cpuUsage!, 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
    writeFileSync(plan.oomFile!.path, 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n');
    expect(readCpuUsageNs(plan)).toBe(1_500_000);
    expect(readOomKills(plan)).toBe(1);
  });

  it('no cpuacct hierarchy: 0', () => {
    const plan = planCgroups({ version: 1, v1Mounts: { memory: '/x' } }, 'pocker', 'c', {});
    expect(readCpuUsageNs(plan)).toBe(0);
  });
});
