import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CGROUP2_SUPER_MAGIC,
  TMPFS_MAGIC,
  cgroupJoinTargets,
  cgroupProcs,
  createCgroups,
  detectCgroups,
  findContainerCgroupDirs,
  normalizeResources,
  parseMountinfo,
  planCgroups,
  readCgroupUsage,
  readCpuUsageNs,
  readMemoryCurrent,
  readOomKills,
  readPidsCurrent,
  removeCgroups,
  toOciResources,
  type CgroupApplied,
  type CgroupApplyOptions,
  type CgroupInfo,
  type CgroupOps,
  type CgroupPlan,
  type LinuxResources,
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
    expect(m).toEqual([{ root: '/docker/abc', mountPoint: '/mnt/my cg', fsType: 'cgroup', superOptions: ['rw', 'cpu', 'cpuacct'], superOptionsRaw: 'rw,cpu,cpuacct' }]);
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
    // The hierarchies joined without limits (their own cgroup in the container's /sys/fs/cgroup).
    expect(info.v1Others).toEqual(['/sys/fs/cgroup/devices', '/sys/fs/cgroup/freezer', '/sys/fs/cgroup/blkio', '/sys/fs/cgroup/systemd']);
    expect(info.hybridUnified).toBe('/sys/fs/cgroup/unified');
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
    expect(info.v1Others).toEqual(['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/net_cls,net_prio', '/sys/fs/cgroup/devices']);
    expect(info.hybridUnified).toBeUndefined();
  });

  it('other hierarchies: a bind of a known one, a second mount of a named one, a joined one are not listed twice', () => {
    const text = `${COMOUNTED}40 25 0:22 / /mnt/systemd2 rw - cgroup cgroup rw,name=systemd
41 25 0:33 / /mnt/devices2 rw - cgroup cgroup rw,devices
42 25 0:29 / /mnt/cpu2 rw - cgroup cgroup rw,cpu,cpuacct
43 25 0:40 / /sys/fs/cgroup/perf_event rw - cgroup cgroup rw,perf_event
`;
    expect(detectCgroups(text, TMPFS_MAGIC).v1Others).toEqual([
      '/sys/fs/cgroup/systemd',
      '/sys/fs/cgroup/net_cls,net_prio',
      '/sys/fs/cgroup/devices',
      '/sys/fs/cgroup/perf_event',
    ]);
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

  it('v1: one leaf per distinct hierarchy, the joined ones (with limits) first, a hybrid\'s cgroup2 last', () => {
    const plan = planCgroups(detectCgroups(HYBRID, TMPFS_MAGIC), 'pocker/test-1', 'abc', res);
    const names = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices', 'freezer', 'blkio', 'systemd', 'unified'];
    const leaves = names.map((c) => `/sys/fs/cgroup/${c}/pocker/test-1/abc`);
    expect(plan).toEqual({
      version: 1,
      leafDirs: leaves,
      // The hybrid's cgroup2 leaf: born into (CLONE_INTO_CGROUP), never written into cgroup.procs
      // (the kernel's global threadgroup lock and its RCU grace period: ~11 ms of every run here).
      v2Leaf: '/sys/fs/cgroup/unified/pocker/test-1/abc',
      v1Tasks: leaves.slice(0, -1).map((l) => `${l}/tasks`),
      oomFile: { version: 1, path: '/sys/fs/cgroup/memory/pocker/test-1/abc/memory.oom_control' },
      views: names.map((c, i) => ({ name: c, source: leaves[i] })),
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
      '/sys/fs/cgroup/systemd/pocker/abc',
      '/sys/fs/cgroup/net_cls,net_prio/pocker/abc',
      '/sys/fs/cgroup/devices/pocker/abc',
    ]);
    expect(plan.statsFiles.cpuUsage).toBe('/sys/fs/cgroup/cpu,cpuacct/pocker/abc/cpuacct.usage');
    // The container's /sys/fs/cgroup: its leaf at each hierarchy's name (pocker-init adds cpu, cpuacct links).
    expect(plan.views).toEqual([
      { name: 'cpu,cpuacct', source: '/sys/fs/cgroup/cpu,cpuacct/pocker/abc' },
      { name: 'cpuset', source: '/sys/fs/cgroup/cpuset/pocker/abc' },
      { name: 'memory', source: '/sys/fs/cgroup/memory/pocker/abc' },
      { name: 'pids', source: '/sys/fs/cgroup/pids/pocker/abc' },
      { name: 'systemd', source: '/sys/fs/cgroup/systemd/pocker/abc' },
      { name: 'net_cls,net_prio', source: '/sys/fs/cgroup/net_cls,net_prio/pocker/abc' },
      { name: 'devices', source: '/sys/fs/cgroup/devices/pocker/abc' },
    ]);
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

  it('paths are joined exactly without path.join: a mount point given with a trailing slash, or at /', () => {
    expect(planCgroups({ version: 2, unifiedMount: '/sys/fs/cgroup/' }, 'pocker/a', 'x', {}).leafDirs).toEqual(['/sys/fs/cgroup/pocker/a/x']);
    const root = planCgroups({ version: 1, v1Mounts: { memory: '/' } }, 'pocker', 'x', {});
    expect(root.leafDirs).toEqual(['/pocker/x']);
    expect(root.v1Tasks).toEqual(['/pocker/x/tasks']);
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

// ---------------------------------------------------------------------------------------------
// toOciResources: Docker's options as OCI linux.resources

describe('toOciResources (Docker semantics)', () => {
  const oci = (r: Resources) => toOciResources(normalizeResources(r));

  it('memory: swap is memory+swap, 2 x memory by default, -1 unlimited', () => {
    expect(oci({ memory: 64 * MB })).toEqual({ memory: { limit: 64 * MB, swap: 128 * MB } });
    expect(oci({ memory: 64 * MB, memorySwap: 100 * MB })).toEqual({ memory: { limit: 64 * MB, swap: 100 * MB } });
    expect(oci({ memory: 64 * MB, memorySwap: -1 })).toEqual({ memory: { limit: 64 * MB, swap: -1 } });
    expect(oci({ memory: 64 * MB, memorySwap: 0 })).toEqual({ memory: { limit: 64 * MB, swap: 128 * MB } });
    // --memory-swap -1 alone means nothing (no memory limit)
    expect(oci({ memorySwap: -1 })).toEqual({});
  });

  it('cpu: --cpus as quota/period, shares (clamped as the kernel does), cpuset', () => {
    expect(oci({ cpuQuota: { quota: 150000, period: 100000 } })).toEqual({ cpu: { quota: 150000, period: 100000 } });
    expect(oci({ cpuShares: 512, cpusetCpus: '0-1' })).toEqual({ cpu: { shares: 512, cpus: '0-1' } });
    expect(oci({ cpuShares: 1 })).toEqual({ cpu: { shares: 2 } });
    expect(oci({ cpuShares: 0, cpusetCpus: '' })).toEqual({});
  });

  it('pids: <= 0 is -1 (unlimited), as Docker passes it to runc', () => {
    expect(oci({ pidsLimit: 50 })).toEqual({ pids: { limit: 50 } });
    expect(oci({ pidsLimit: 0 })).toEqual({ pids: { limit: -1 } });
    expect(oci({ pidsLimit: -5 })).toEqual({ pids: { limit: -1 } });
  });

  it('nothing set: no resources', () => {
    expect(oci({})).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------
// createCgroups: what it hands to the addon (the file-level translation is tested in
// test/native/cgroup.test.ts, through the addon)

type Call = [op: 'apply' | 'remove', path: string, resources?: LinuxResources | string, options?: CgroupApplyOptions];

class FakeOps implements CgroupOps {
  calls: Call[] = [];
  fail: Error | undefined;
  /** What cgroupApply returns; by default the leaves of a v2 or v1 layout under the given path. */
  answer: ((path: string, layout: CgroupInfo) => CgroupApplied) | undefined;

  cgroupApply(path: string, resources: LinuxResources | string, options?: CgroupApplyOptions): CgroupApplied {
    this.calls.push(['apply', path, resources, options]);
    if (this.fail) throw this.fail;
    const layout = options!.layout!;
    if (this.answer) return this.answer(path, layout);
    if (layout.version === 2) {
      const leaf = join(layout.unifiedMount!, path);
      return { version: 2, dirs: [leaf], v1Tasks: [], v2Leaf: leaf, oomFile: join(leaf, 'memory.events') };
    }
    const mounts = [...new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'pids'].map((c) => layout.v1Mounts?.[c]).filter((m): m is string => !!m))];
    const others = [...(layout.v1Others ?? []), ...(layout.hybridUnified ? [layout.hybridUnified] : [])];
    const dirs = [...mounts, ...others].map((m) => join(m, path));
    const hybrid = layout.hybridUnified ? dirs.at(-1) : undefined;
    return { version: 1, dirs, v1Tasks: dirs.filter((d) => d !== hybrid).map((d) => join(d, 'tasks')), ...(hybrid ? { v2Leaf: hybrid } : {}) };
  }
  cgroupRemove(p: string): void {
    this.calls.push(['remove', p]);
  }
}

function sysErr(code: string, errno: number, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} ${path}`), { code, errno: -errno, syscall, path, step: 'cgroup' });
}

describe('createCgroups', () => {
  const v1 = detectCgroups(HYBRID, TMPFS_MAGIC);
  const v2 = detectCgroups(PURE_V2, CGROUP2_SUPER_MAGIC);
  const ALL: Resources = { memory: 64 * MB, cpuQuota: { quota: 50000, period: 100000 }, cpuShares: 512, cpusetCpus: '1', pidsLimit: 50 };

  it('hands the addon the cgroupsPath, the OCI resources and the layout the plan was made from', () => {
    for (const info of [v1, v2]) {
      const ops = new FakeOps();
      const plan = planCgroups(info, 'pocker/test-1', 'c1', ALL);
      createCgroups(plan, ALL, ops, info, 'pocker/test-1');
      expect(ops.calls).toEqual([
        [
          'apply',
          'pocker/test-1/c1',
          { memory: { limit: 64 * MB, swap: 128 * MB }, cpu: { quota: 50000, period: 100000, shares: 512, cpus: '1' }, pids: { limit: 50 } },
          { layout: info },
        ],
      ]);
    }
  });

  it('maps the addon errors: a missing controller, an existing leaf, a failed write (step cgroup)', () => {
    const plan = planCgroups(v2, 'pocker', 'c1', ALL);
    const ops = new FakeOps();
    ops.fail = sysErr('EOPNOTSUPP', 95, 'pids', '/sys/fs/cgroup');
    expect(() => createCgroups(plan, ALL, ops, v2, 'pocker')).toThrow(
      expect.objectContaining({ code: 'ERR_POCKER_UNSUPPORTED', step: 'cgroup', path: '/sys/fs/cgroup', message: expect.stringContaining('pids') }),
    );
    ops.fail = sysErr('EEXIST', 17, 'mkdir', '/sys/fs/cgroup/pocker/c1');
    expect(() => createCgroups(plan, ALL, ops, v2, 'pocker')).toThrow(
      expect.objectContaining({ code: 'EEXIST', errno: -17, syscall: 'mkdir', step: 'cgroup', message: expect.stringContaining('already exists') }),
    );
    ops.fail = sysErr('EACCES', 13, 'write', '/sys/fs/cgroup/pocker/c1/pids.max');
    let err: unknown;
    try {
      createCgroups(plan, ALL, ops, v2, 'pocker');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PockerError);
    expect(err).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'write', step: 'cgroup', path: '/sys/fs/cgroup/pocker/c1/pids.max' });
    expect(ops.calls.filter((c) => c[0] === 'remove')).toEqual([]);
  });

  it('rejects a plan made for another layout or parent before calling the addon', () => {
    const ops = new FakeOps();
    const plan = planCgroups({ version: 1, v1Mounts: { memory: '/x' } }, 'pocker', 'a', {});
    expect(() => createCgroups(plan, {}, ops, v2, 'pocker')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    const plan2 = planCgroups(v2, 'pocker', 'a', {});
    expect(() => createCgroups(plan2, {}, ops, v2, 'other')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    expect(() => createCgroups(plan2, { memory: -1 }, ops, v2, 'pocker')).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID' }));
    expect(ops.calls).toEqual([]);
  });

  it('paths the addon made that differ from the plan are removed and reported', () => {
    const ops = new FakeOps();
    ops.answer = () => ({ version: 2, dirs: ['/elsewhere/c1'], v1Tasks: [], v2Leaf: '/elsewhere/c1' });
    const plan = planCgroups(v2, 'pocker', 'c1', {});
    expect(() => createCgroups(plan, {}, ops, v2, 'pocker')).toThrow(expect.objectContaining({ step: 'cgroup' }));
    expect(ops.calls.filter((c) => c[0] === 'remove')).toEqual([['remove', '/elsewhere/c1']]);
  });
});

describe('removeCgroups', () => {
  it('removes every leaf, keeps going after a failure, then throws', () => {
    const info = detectCgroups(HYBRID, TMPFS_MAGIC);
    const plan = planCgroups(info, 'pocker', 'c1', {});
    const calls: string[] = [];
    const ops: CgroupOps = {
      cgroupApply: () => {
        throw new Error('unused');
      },
      cgroupRemove: (p) => {
        calls.push(p);
        if (p.includes('/memory/')) throw sysErr('EBUSY', 16, 'rmdir', p);
      },
    };
    expect(() => removeCgroups(plan, ops)).toThrow(expect.objectContaining({ code: 'EBUSY', step: 'cgroup' }));
    expect(calls).toEqual(plan.leafDirs);
  });
});

// ---------------------------------------------------------------------------------------------
// Reading a container's cgroups (a fake root in a temp dir)

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pocker-cgroup-unit-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Mountinfo text for a v1 layout under `root` (each hierarchy's dir is made). */
function v1Root(groups: string[]): CgroupInfo {
  const lines = [`31 23 0:28 / ${root} rw,relatime - tmpfs tmpfs rw,mode=755`];
  groups.forEach((g, i) => {
    mkdirSync(join(root, g));
    lines.push(`${32 + i} 31 0:${29 + i} / ${join(root, g)} rw,relatime - cgroup cgroup rw,${g}`);
  });
  return detectCgroups(lines.join('\n') + '\n', TMPFS_MAGIC);
}

function v2Root(): CgroupInfo {
  return detectCgroups(`30 25 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`, CGROUP2_SUPER_MAGIC);
}

function makeLeaves(plan: CgroupPlan): void {
  for (const d of plan.leafDirs) mkdirSync(d, { recursive: true });
}

describe('stats', () => {
  it('v1: cpuacct.usage, memory.usage_in_bytes, pids.current, oom_control', () => {
    const info = v1Root(['cpuacct', 'memory', 'pids']);
    const plan = planCgroups(info, 'pocker', 'c1', {});
    makeLeaves(plan);
    writeFileSync(plan.statsFiles.cpuUsage!, '123456789\n');
    writeFileSync(plan.statsFiles.memoryCurrent!, '4096\n');
    writeFileSync(plan.statsFiles.pidsCurrent!, '3\n');
    writeFileSync(plan.oomFile!.path, 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(readCpuUsageNs(plan)).toBe(123456789);
    expect(readMemoryCurrent(plan)).toBe(4096);
    expect(readPidsCurrent(plan)).toBe(3);
    expect(readOomKills(plan)).toBe(2);
    // the same through the dirs alone (stats of a listed container)
    const mem = plan.leafDirs.find((d) => d.includes('/memory/'))!;
    writeFileSync(join(mem, 'memory.stat'), 'total_inactive_file 1024\n');
    writeFileSync(join(mem, 'memory.limit_in_bytes'), `${MB}\n`);
    expect(readCgroupUsage(plan.leafDirs)).toEqual({ cpuNs: 123456789, memUsage: 3072, memLimit: MB, pids: 3, blkRead: 0, blkWrite: 0 });
  });

  it('v2: usage_usec in cpu.stat, oom_kill in memory.events', () => {
    const plan = planCgroups(v2Root(), 'pocker', 'c1', {});
    makeLeaves(plan);
    writeFileSync(plan.statsFiles.cpuUsage!, 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
    writeFileSync(plan.oomFile!.path, 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n');
    expect(readCpuUsageNs(plan)).toBe(1_500_000);
    expect(readOomKills(plan)).toBe(1);
    const leaf = plan.v2Leaf!;
    writeFileSync(join(leaf, 'memory.current'), '8192\n');
    writeFileSync(join(leaf, 'memory.max'), 'max\n');
    writeFileSync(join(leaf, 'io.stat'), '8:0 rbytes=100 wbytes=20 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n');
    writeFileSync(join(leaf, 'cgroup.procs'), '12\n3\n');
    const usage = readCgroupUsage([leaf]);
    expect(usage).toMatchObject({ cpuNs: 1_500_000, memUsage: 8192, pids: 0, blkRead: 101, blkWrite: 22 });
    expect(cgroupProcs([leaf])).toEqual([3, 12]);
  });

  it('no cpuacct hierarchy: 0', () => {
    const plan = planCgroups({ version: 1, v1Mounts: { memory: '/x' } }, 'pocker', 'c', {});
    expect(readCpuUsageNs(plan)).toBe(0);
  });
});

describe('a container\'s cgroup dirs from outside', () => {
  it('exec joins the v2 leaf or the v1 tasks files', () => {
    expect(cgroupJoinTargets(['/cg/pocker/a'], 2)).toEqual({ v2Leaf: '/cg/pocker/a', v1Tasks: [] });
    expect(cgroupJoinTargets(['/cg/cpu/pocker/a', '/cg/memory/pocker/a'], 1)).toEqual({ v1Tasks: ['/cg/cpu/pocker/a/tasks', '/cg/memory/pocker/a/tasks'] });
  });

  it('exec on a v1 hybrid: born into the cgroup2 leaf (cgroup.procs, no tasks), the v1 ones joined through tasks', () => {
    const dirs = ['cpu', 'memory', 'unified'].map((h) => join(root, h, 'pocker', 'a'));
    for (const d of dirs) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, d.includes('/unified/') ? 'cgroup.procs' : 'tasks'), '');
    }
    expect(cgroupJoinTargets(dirs, 1)).toEqual({ v2Leaf: dirs[2], v1Tasks: [join(dirs[0]!, 'tasks'), join(dirs[1]!, 'tasks')] });
  });

  it('a lost record: the leaves named after the id under "pocker" and the parents other containers use', () => {
    v1Root(['cpu', 'memory']);
    const text = ['cpu', 'memory'].map((g, i) => `${32 + i} 31 0:${29 + i} / ${join(root, g)} rw - cgroup cgroup rw,${g}`).join('\n') + '\n';
    mkdirSync(join(root, 'cpu', 'pocker', 'lost'), { recursive: true });
    mkdirSync(join(root, 'memory', 'custom', 'lost'), { recursive: true });
    const known = [join(root, 'memory', 'custom', 'other')];
    expect(findContainerCgroupDirs('lost', known, text).sort()).toEqual([join(root, 'cpu', 'pocker', 'lost'), join(root, 'memory', 'custom', 'lost')]);
    expect(findContainerCgroupDirs('lost', [], text)).toEqual([join(root, 'cpu', 'pocker', 'lost')]);
  });
});
