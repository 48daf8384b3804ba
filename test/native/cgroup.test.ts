// The one translation of OCI linux.resources into cgroup files (cpp/common/cgroup.cpp), through the
// addon's cgroupApply: against a recording stand-in for the kernel's files in a temp dir (every v1
// and v2 rule, on any host), and against the real hierarchies of this host (root only; everything
// below this process's pocker-test-<pid> parent, removed after).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CGROUP2_SUPER_MAGIC,
  TMPFS_MAGIC,
  createCgroups,
  detectCgroups,
  normalizeResources,
  planCgroups,
  removeCgroups,
  toOciResources,
  type CgroupFsDouble,
  type CgroupInfo,
  type LinuxResources,
  type Resources,
} from '../../lib/cgroup/index.js';
import { native } from '../../lib/native.js';
import { cleanupCgroupParent, isRoot, testCgroupParent } from '../helpers.js';

const MB = 1024 * 1024;
const oci = (r: Resources): LinuxResources => toOciResources(normalizeResources(r));

function sysErr(code: string, errno: number, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} ${path}`), { code, errno: -errno, syscall, path });
}

/** Records mkdir/write/remove and acts on the temp dir as the kernel would (mkdir is not recursive). */
class FakeFs implements CgroupFsDouble {
  calls: string[] = [];
  fail: ((op: 'create' | 'write' | 'remove', path: string) => Error | undefined) | undefined;
  constructor(private readonly root: string) {}

  private record(op: 'create' | 'write' | 'remove', p: string, v?: string): void {
    this.calls.push(`${op} ${p.replace(this.root, '@')}${v === undefined ? '' : ` = ${v}`}`);
    const err = this.fail?.(op, p);
    if (err) throw err;
  }
  mkdir(p: string): void {
    this.record('create', p);
    mkdirSync(p);
  }
  write(p: string, v: string): void {
    this.record('write', p, v);
    writeFileSync(p, v);
  }
  read(p: string): string | undefined {
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  }
  exists(p: string): boolean {
    return existsSync(p);
  }
  remove(p: string): void {
    this.record('remove', p);
    rmSync(p, { recursive: true, force: true });
  }
}

const ALL: Resources = {
  memory: 64 * MB,
  cpuQuota: { quota: 50000, period: 100000 },
  cpuShares: 512,
  cpusetCpus: '1',
  pidsLimit: 50,
};

describe('cgroupApply against a recording stand-in', () => {
  let root: string;
  let fs: FakeFs;
  const addon = () => native();
  const apply = (layout: CgroupInfo, path: string, res: LinuxResources | string) => addon().cgroupApply(path, res, { layout, fs });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pocker-cgroup-native-'));
    fs = new FakeFs(root);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  /** A v1 layout under `root`; `groups` are the hierarchies, comma-joined when co-mounted. */
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
    const text = lines.join('\n') + '\n';
    const info = detectCgroups(text, TMPFS_MAGIC);
    // the C++ detection decides the same from the same text
    expect(addon().cgroupDetect(text, TMPFS_MAGIC)).toEqual(info);
    return info;
  }

  /** A v2 mount at `root` with these controllers available and these already enabled at the root. */
  function v2Root(controllers: string, subtree: string): CgroupInfo {
    writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
    writeFileSync(join(root, 'cgroup.subtree_control'), `${subtree}\n`);
    const text = `30 25 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`;
    const info = detectCgroups(text, CGROUP2_SUPER_MAGIC);
    expect(addon().cgroupDetect(text, CGROUP2_SUPER_MAGIC)).toEqual(info);
    return info;
  }

  describe('v1', () => {
    const HIER = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'pids'];

    it('creates every parent level and the leaves, copies cpuset, writes limits in order; returns what the caller needs', () => {
      const info = v1Root(HIER);
      const out = apply(info, 'pocker/test-1/c1', oci(ALL));
      expect(fs.calls).toEqual([
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
        // devices: joined last, no limit (the container's own cgroup in its /sys/fs/cgroup)
        'create @/devices/pocker',
        'create @/devices/pocker/test-1',
        'create @/devices/pocker/test-1/c1',
      ]);
      const leaves = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices'].map((c) => join(root, c, 'pocker/test-1/c1'));
      expect(out).toEqual({
        version: 1,
        dirs: leaves,
        v1Tasks: leaves.map((l) => join(l, 'tasks')),
        oomFile: join(root, 'memory/pocker/test-1/c1/memory.oom_control'),
      });
      // the TS plan names the same dirs
      expect(planCgroups(info, 'pocker/test-1', 'c1', ALL).leafDirs).toEqual(out.dirs);
    });

    it('a second container in an existing parent only adds its leaves (cpuset from the parent)', () => {
      const info = v1Root(HIER);
      apply(info, 'pocker/c1', oci({}));
      writeFileSync(join(root, 'cpuset', 'pocker', 'cpuset.cpus'), '2-3\n'); // the parent's own value wins
      fs.calls = [];
      apply(info, 'pocker/c2', oci({ memory: 32 * MB, memorySwap: -1, pidsLimit: -1 }));
      expect(fs.calls).toEqual([
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
        'create @/devices/pocker/c2',
      ]);
    });

    it('an existing but empty cpuset parent (left by a killed run) is filled', () => {
      const info = v1Root(['cpuset']);
      mkdirSync(join(root, 'cpuset', 'pocker'));
      apply(info, 'pocker/c1', {});
      expect(fs.calls).toEqual([
        'write @/cpuset/pocker/cpuset.cpus = 0-3',
        'write @/cpuset/pocker/cpuset.mems = 0',
        'create @/cpuset/pocker/c1',
        'write @/cpuset/pocker/c1/cpuset.cpus = 0-3',
        'write @/cpuset/pocker/c1/cpuset.mems = 0',
      ]);
    });

    it('memsw only when the kernel has it; explicit memory+swap', () => {
      let info = v1Root(['memory'], { memsw: false });
      apply(info, 'pocker/a', oci({ memory: MB }));
      expect(fs.calls).toEqual(['create @/memory/pocker', 'create @/memory/pocker/a', 'write @/memory/pocker/a/memory.limit_in_bytes = 1048576']);

      rmSync(join(root, 'memory'), { recursive: true });
      info = v1Root(['memory']);
      fs.calls = [];
      apply(info, 'pocker/b', oci({ memory: MB, memorySwap: 3 * MB }));
      expect(fs.calls.slice(-2)).toEqual([
        'write @/memory/pocker/b/memory.limit_in_bytes = 1048576',
        'write @/memory/pocker/b/memory.memsw.limit_in_bytes = 3145728',
      ]);
    });

    it('co-mounted cpu,cpuacct is joined once and gets the cpu writes', () => {
      const info = v1Root(['cpu,cpuacct', 'memory']);
      const out = apply(info, 'pocker/c1', oci({ cpuQuota: { quota: 150000, period: 100000 }, memory: MB }));
      expect(out.dirs).toEqual([join(root, 'cpu,cpuacct', 'pocker', 'c1'), join(root, 'memory', 'pocker', 'c1')]);
      expect(fs.calls).toEqual([
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

    it('the OCI fields Docker does not use: reservation, swappiness, disableOOMKiller, mems', () => {
      const info = v1Root(['cpuset', 'memory']);
      apply(info, 'p/c', { memory: { reservation: MB, swappiness: 10, disableOOMKiller: true }, cpu: { mems: '0' } });
      expect(fs.calls).toEqual([
        'create @/cpuset/p',
        'write @/cpuset/p/cpuset.cpus = 0-3',
        'write @/cpuset/p/cpuset.mems = 0',
        'create @/cpuset/p/c',
        'write @/cpuset/p/c/cpuset.cpus = 0-3',
        'write @/cpuset/p/c/cpuset.mems = 0',
        'create @/memory/p',
        'create @/memory/p/c',
        'write @/memory/p/c/memory.soft_limit_in_bytes = 1048576',
        'write @/memory/p/c/memory.swappiness = 10',
        'write @/memory/p/c/memory.oom_control = 1',
      ]);
    });

    it('a failing write removes the leaves created so far and names the path', () => {
      const info = v1Root(HIER);
      fs.fail = (op, p) => (op === 'write' && p.endsWith('pids.max') ? sysErr('EACCES', 13, 'write', p) : undefined);
      expect(() => apply(info, 'pocker/c1', oci(ALL))).toThrow(
        expect.objectContaining({ code: 'EACCES', errno: -13, syscall: 'write', step: 'cgroup', path: join(root, 'pids/pocker/c1/pids.max') }),
      );
      expect(fs.calls.filter((c) => c.startsWith('remove'))).toEqual([
        'remove @/pids/pocker/c1',
        'remove @/memory/pocker/c1',
        'remove @/cpuset/pocker/c1',
        'remove @/cpuacct/pocker/c1',
        'remove @/cpu/pocker/c1',
      ]);
      for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids']) expect(existsSync(join(root, c, 'pocker/c1'))).toBe(false);
    });

    it('a failing mkdir removes only what was created before it', () => {
      const info = v1Root(HIER);
      fs.fail = (op, p) => (op === 'create' && p === join(root, 'cpuset/pocker/c1') ? sysErr('ENOSPC', 28, 'mkdir', p) : undefined);
      expect(() => apply(info, 'pocker/c1', {})).toThrow(expect.objectContaining({ code: 'ENOSPC', syscall: 'mkdir', step: 'cgroup' }));
      expect(fs.calls.filter((c) => c.startsWith('remove'))).toEqual(['remove @/cpuacct/pocker/c1', 'remove @/cpu/pocker/c1']);
    });

    it('refuses an existing leaf, a limit whose controller is not mounted and unified, before touching anything', () => {
      const info = v1Root(['cpu', 'memory']);
      mkdirSync(join(root, 'memory', 'pocker', 'c1'), { recursive: true });
      expect(() => apply(info, 'pocker/c1', {})).toThrow(
        expect.objectContaining({ code: 'EEXIST', syscall: 'mkdir', step: 'cgroup', path: join(root, 'memory/pocker/c1') }),
      );
      expect(() => apply(info, 'pocker/c2', oci({ pidsLimit: 10 }))).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'pids', step: 'cgroup' }),
      );
      expect(() => apply(info, 'pocker/c2', { unified: { 'pids.max': '5' } })).toThrow(
        expect.objectContaining({ code: 'EINVAL', syscall: 'unified', path: 'pids.max', step: 'cgroup' }),
      );
      expect(fs.calls).toEqual([]);
    });

    it('update mode (pocker update): writes into the existing leaves only, memsw first when the limit rises above it', () => {
      const info = v1Root(['memory', 'pids']);
      const leaf = join(root, 'memory', 'pocker', 'c1');
      mkdirSync(leaf, { recursive: true });
      mkdirSync(join(root, 'pids', 'pocker', 'c1'), { recursive: true });
      writeFileSync(join(leaf, 'memory.memsw.limit_in_bytes'), `${64 * MB}\n`);
      const update = (res: LinuxResources) => addon().cgroupApply('pocker/c1', res, { layout: info, fs, update: true });
      update({ memory: { limit: 128 * MB, swap: 256 * MB }, pids: { limit: 9 } });
      expect(fs.calls).toEqual([
        `write @/memory/pocker/c1/memory.memsw.limit_in_bytes = ${256 * MB}`,
        `write @/memory/pocker/c1/memory.limit_in_bytes = ${128 * MB}`,
        'write @/pids/pocker/c1/pids.max = 9',
      ]);
      fs.calls = [];
      update({ memory: { limit: 32 * MB, swap: 64 * MB } });
      expect(fs.calls).toEqual([`write @/memory/pocker/c1/memory.limit_in_bytes = ${32 * MB}`, `write @/memory/pocker/c1/memory.memsw.limit_in_bytes = ${64 * MB}`]);
      // A container whose cgroups are gone: ENOENT, nothing made.
      fs.calls = [];
      expect(() => addon().cgroupApply('pocker/gone', { pids: { limit: 1 } }, { layout: info, fs, update: true })).toThrow(
        expect.objectContaining({ code: 'ENOENT', step: 'cgroup' }),
      );
      expect(fs.calls).toEqual([]);
    });

    it('createCgroups: the same through the TS entry point (as pocker run calls it)', () => {
      const info = v1Root(['memory', 'pids']);
      // createCgroups has no stand-in: only the path checks and error mapping are exercised here
      const plan = planCgroups(info, 'pocker', 'c1', { pidsLimit: 5 });
      mkdirSync(join(root, 'memory', 'pocker', 'c1'), { recursive: true });
      expect(() => createCgroups(plan, { pidsLimit: 5 }, native(), info, 'pocker')).toThrow(
        expect.objectContaining({ code: 'EEXIST', step: 'cgroup', path: join(root, 'memory/pocker/c1') }),
      );
    });
  });

  describe('v2', () => {
    it('enables only the missing controllers on each level, then writes the limits', () => {
      const info = v2Root('cpuset cpu io memory hugetlb pids rdma', 'memory io');
      const out = apply(info, 'pocker/test-1/c1', oci(ALL));
      expect(fs.calls).toEqual([
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
      const leaf = join(root, 'pocker/test-1/c1');
      expect(out).toEqual({ version: 2, dirs: [leaf], v1Tasks: [], v2Leaf: leaf, oomFile: join(leaf, 'memory.events') });
      expect(planCgroups(info, 'pocker/test-1', 'c1', ALL).leafDirs).toEqual(out.dirs);
    });

    it('an existing parent with everything enabled only gets the leaf; unlimited values', () => {
      const info = v2Root('cpu memory pids', 'cpu memory pids');
      mkdirSync(join(root, 'pocker'));
      writeFileSync(join(root, 'pocker', 'cgroup.subtree_control'), 'cpu memory pids\n');
      apply(info, 'pocker/c1', oci({ memory: 64 * MB, memorySwap: -1, cpuQuota: { quota: -1, period: 100000 }, pidsLimit: 0 }));
      expect(fs.calls).toEqual([
        'create @/pocker/c1',
        'write @/pocker/c1/memory.max = 67108864',
        'write @/pocker/c1/memory.swap.max = max',
        'write @/pocker/c1/cpu.max = max 100000',
        'write @/pocker/c1/pids.max = max',
      ]);
    });

    it('memory.swap.max is memory+swap minus memory, and skipped when the kernel has no swap accounting', () => {
      const info = v2Root('memory', 'memory');
      const res = oci({ memory: 64 * MB, memorySwap: 100 * MB });
      apply(info, 'pocker/a', res);
      expect(fs.calls.slice(-1)).toEqual([`write @/pocker/a/memory.swap.max = ${36 * MB}`]);

      fs.calls = [];
      fs.fail = (_op, p) => (p.endsWith('memory.swap.max') ? sysErr('ENOENT', 2, 'open', p) : undefined);
      apply(info, 'pocker/b', res);
      expect(fs.calls).toEqual(['create @/pocker/b', 'write @/pocker/b/memory.max = 67108864', 'write @/pocker/b/memory.swap.max = 37748736']);
      expect(existsSync(join(root, 'pocker', 'b'))).toBe(true);
    });

    it('swap without a memory limit, or below it, is refused before anything is created (runc)', () => {
      const info = v2Root('memory', 'memory');
      expect(() => apply(info, 'pocker/a', { memory: { swap: MB } })).toThrow(expect.objectContaining({ code: 'EINVAL', step: 'cgroup' }));
      expect(() => apply(info, 'pocker/a', { memory: { limit: 2 * MB, swap: MB } })).toThrow(expect.objectContaining({ code: 'EINVAL', step: 'cgroup' }));
      expect(fs.calls).toEqual([]);
    });

    it('only available controllers are enabled; a limit needing a missing one fails before any write', () => {
      const info = v2Root('memory pids', '');
      apply(info, 'pocker/a', {});
      expect(fs.calls).toEqual([
        'write @/cgroup.subtree_control = +memory +pids',
        'create @/pocker',
        'write @/pocker/cgroup.subtree_control = +memory +pids',
        'create @/pocker/a',
      ]);
      fs.calls = [];
      expect(() => apply(info, 'pocker/b', oci({ cpuShares: 1024 }))).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'cpu', step: 'cgroup', path: root }),
      );
      expect(fs.calls).toEqual([]);
    });

    it('delegated: nothing above the delegated subtree is written; its own controllers are what counts', () => {
      // The root offers everything, the delegated user@1000.service only memory and pids (what its
      // parents enable for it); a rootless caller may write only from there down.
      const info = v2Root('cpuset cpu io memory pids', '');
      const service = join(root, 'u/user@1000.service');
      mkdirSync(service, { recursive: true });
      writeFileSync(join(service, 'cgroup.controllers'), 'memory pids\n');
      writeFileSync(join(service, 'cgroup.subtree_control'), '\n');
      const out = addon().cgroupApply('u/user@1000.service/pocker/c1', oci({ memory: 64 * MB, pidsLimit: 20 }), { layout: info, fs, delegated: 2 });
      expect(fs.calls).toEqual([
        'write @/u/user@1000.service/cgroup.subtree_control = +memory +pids',
        'create @/u/user@1000.service/pocker',
        'write @/u/user@1000.service/pocker/cgroup.subtree_control = +memory +pids',
        'create @/u/user@1000.service/pocker/c1',
        'write @/u/user@1000.service/pocker/c1/memory.max = 67108864',
        'write @/u/user@1000.service/pocker/c1/memory.swap.max = 67108864',
        'write @/u/user@1000.service/pocker/c1/pids.max = 20',
      ]);
      expect(out.v2Leaf).toBe(join(service, 'pocker/c1'));
      // A limit whose controller was not delegated fails before any write, naming the subtree.
      fs.calls = [];
      expect(() => addon().cgroupApply('u/user@1000.service/pocker/c2', oci({ cpuQuota: { quota: 50000, period: 100000 } }), { layout: info, fs, delegated: 2 })).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'cpu', step: 'cgroup', path: service }),
      );
      expect(fs.calls).toEqual([]);
      // createCgroups says so in words.
      expect(() => createCgroups(planCgroups(info, 'u/user@1000.service/pocker', 'c3', { cpuShares: 512 }), { cpuShares: 512 }, { cgroupApply: (p, r, o) => addon().cgroupApply(p, r, { ...o, fs }), cgroupRemove: () => {} }, info, 'u/user@1000.service/pocker', 'u/user@1000.service')).toThrow(
        /the cpu cgroup controller is not delegated to this user: .*user@1000\.service\/cgroup\.controllers does not list it/,
      );
      // The delegated subtree must lie above the leaf, and only on v2.
      for (const d of [4, 5, -1, 1.5]) {
        expect(() => addon().cgroupApply('u/user@1000.service/pocker/c4', {}, { layout: info, fs, delegated: d }), String(d)).toThrow();
      }
      expect(() => createCgroups(planCgroups(info, 'other/pocker', 'c5', {}), {}, addon(), info, 'other/pocker', 'u/user@1000.service')).toThrow(/not inside the delegated subtree/);
      expect(fs.calls).toEqual([]);
    });

    it('unified: written last, its controllers enabled; unknown ones refused', () => {
      const info = v2Root('cpu io memory pids', 'cpu memory pids');
      apply(info, 'p/c', { pids: { limit: 9 }, unified: { 'io.weight': '50', 'pids.max': '7' } });
      expect(fs.calls).toEqual([
        'write @/cgroup.subtree_control = +io',
        'create @/p',
        'write @/p/cgroup.subtree_control = +cpu +memory +pids +io',
        'create @/p/c',
        'write @/p/c/pids.max = 9',
        'write @/p/c/io.weight = 50',
        'write @/p/c/pids.max = 7',
      ]);
      fs.calls = [];
      expect(() => apply(info, 'p/d', { unified: { 'rdma.max': 'x' } })).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'rdma' }));
      for (const key of ['../x.max', 'nodot', 'a/b.c']) {
        expect(() => apply(info, 'p/d', { unified: { [key]: '1' } }), key).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'unified' }));
      }
      expect(fs.calls).toEqual([]);
    });

    it('a failing write removes the leaf; the shared parent stays', () => {
      const info = v2Root('cpu memory pids', 'cpu memory pids');
      fs.fail = (op, p) => (op === 'write' && p.endsWith('pids.max') ? sysErr('EINVAL', 22, 'write', p) : undefined);
      expect(() => apply(info, 'pocker/c1', oci({ memory: 64 * MB, pidsLimit: 5 }))).toThrow(
        expect.objectContaining({ code: 'EINVAL', step: 'cgroup', path: join(root, 'pocker/c1/pids.max') }),
      );
      expect(fs.calls.filter((c) => c.startsWith('remove'))).toEqual(['remove @/pocker/c1']);
      expect(existsSync(join(root, 'pocker', 'c1'))).toBe(false);
      expect(existsSync(join(root, 'pocker'))).toBe(true);
    });
  });

  describe('arguments', () => {
    it('cgroupsPath: relative or absolute, both under the hierarchy root; "." and ".." refused', () => {
      const info = v2Root('memory', 'memory');
      expect(apply(info, '/abs//x/', {}).dirs).toEqual([join(root, 'abs/x')]);
      for (const p of ['', '/', 'a/../b', './a', '..']) {
        expect(() => apply(info, p, {}), p).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'cgroupsPath', step: 'cgroup' }));
      }
    });

    it('resources as JSON give the same writes as the object; invalid ones name their JSON path', () => {
      const info = v2Root('cpu memory pids', 'cpu memory pids');
      const res = oci(ALL);
      delete res.cpu!.cpus;
      apply(info, 'obj/c', res);
      const fromObject = fs.calls.map((c) => c.replace('@/obj', '@/X'));
      fs.calls = [];
      apply(info, 'json/c', JSON.stringify(res));
      expect(fs.calls.map((c) => c.replace('@/json', '@/X'))).toEqual(fromObject);

      const bad: [unknown, string][] = [
        ['{', 'linux.resources'],
        [[], 'linux.resources'],
        [{ memory: 5 }, 'linux.resources.memory'],
        [{ memory: { limit: '1g' } }, 'linux.resources.memory.limit'],
        [{ memory: { limit: 1.5 } }, 'linux.resources.memory.limit'],
        [{ memory: { disableOOMKiller: 1 } }, 'linux.resources.memory.disableOOMKiller'],
        [{ cpu: { shares: -1 } }, 'linux.resources.cpu.shares'],
        [{ cpu: { cpus: 1 } }, 'linux.resources.cpu.cpus'],
        [{ pids: { limit: 2 ** 64 } }, 'linux.resources.pids.limit'],
        [{ unified: { 'pids.max': 5 } }, 'linux.resources.unified.pids.max'],
      ];
      for (const [r, path] of bad) {
        const arg = typeof r === 'string' ? r : JSON.stringify(r);
        expect(() => apply(info, 'p/bad', arg), arg).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'json', path, step: 'cgroup' }));
      }
      // unknown fields are ignored
      apply(info, 'p/unknown', { devices: [{ allow: false, access: 'rwm' }], blockIO: { weight: 10 } } as LinuxResources);
      expect(() => (addon().cgroupApply as unknown as (a: unknown) => void)(5)).toThrow(TypeError);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// This host's real hierarchies

describe.skipIf(!isRoot)('cgroupApply on this host', () => {
  const parent = testCgroupParent();
  const info = detectCgroups();
  const read = (p: string) => readFileSync(p, 'utf8').trim();
  const made: string[] = [];
  const apply = (id: string, res: LinuxResources | string) => {
    const out = native().cgroupApply(`${parent}/${id}`, res);
    made.push(...out.dirs);
    return out;
  };
  /** The leaf of `out` in the hierarchy of `controller`. */
  const leafOf = (dirs: string[], controller: string) =>
    info.version === 2 ? dirs[0]! : dirs.find((d) => d.startsWith(`${info.v1Mounts![controller]!}/`))!;

  afterAll(() => {
    for (const dir of made.reverse()) native().cgroupRemove(dir);
    expect(cleanupCgroupParent(parent)).toEqual([]);
  });

  it('detects the layout the TS side detects', () => {
    expect(native().cgroupDetect()).toEqual(info);
  });

  it('creates the leaves with the limits Docker options give, and cgroupRemove removes them', () => {
    const res = oci({ memory: 64 * MB, cpuQuota: { quota: 50000, period: 100000 }, cpuShares: 512, pidsLimit: 50 });
    const out = apply('all', res);
    expect(out.dirs).toEqual(planCgroups(info, parent, 'all', {}).leafDirs);
    const mem = leafOf(out.dirs, 'memory');
    const cpu = leafOf(out.dirs, 'cpu');
    const pids = leafOf(out.dirs, 'pids');
    expect(read(join(pids, 'pids.max'))).toBe('50');
    if (info.version === 1) {
      expect(read(join(mem, 'memory.limit_in_bytes'))).toBe(String(64 * MB));
      if (existsSync(join(info.v1Mounts!['memory']!, 'memory.memsw.limit_in_bytes'))) {
        expect(read(join(mem, 'memory.memsw.limit_in_bytes'))).toBe(String(128 * MB));
      }
      expect(read(join(cpu, 'cpu.cfs_quota_us'))).toBe('50000');
      expect(read(join(cpu, 'cpu.cfs_period_us'))).toBe('100000');
      expect(read(join(cpu, 'cpu.shares'))).toBe('512');
      // A hybrid's cgroup2 leaf (last) is born into (CLONE_INTO_CGROUP), the others joined through tasks.
      const hybrid = info.hybridUnified ? out.dirs.at(-1) : undefined;
      if (hybrid) expect(hybrid.startsWith(`${info.hybridUnified}/`)).toBe(true);
      expect(out.v2Leaf).toBe(hybrid);
      expect(out.v1Tasks).toEqual(out.dirs.filter((d) => d !== hybrid).map((d) => join(d, 'tasks')));
      expect(out.oomFile).toBe(join(mem, 'memory.oom_control'));
      const cpusetMount = info.v1Mounts!['cpuset'];
      if (cpusetMount) {
        const cs = leafOf(out.dirs, 'cpuset');
        expect(read(join(cs, 'cpuset.cpus'))).toBe(read(join(cpusetMount, 'cpuset.cpus')));
        expect(read(join(cs, 'cpuset.mems'))).toBe(read(join(cpusetMount, 'cpuset.mems')));
      }
    } else {
      expect(read(join(mem, 'memory.max'))).toBe(String(64 * MB));
      if (existsSync(join(mem, 'memory.swap.max'))) expect(read(join(mem, 'memory.swap.max'))).toBe(String(64 * MB));
      expect(read(join(cpu, 'cpu.max'))).toBe('50000 100000');
      expect(read(join(cpu, 'cpu.weight'))).toBe('20');
      expect(out.v2Leaf).toBe(out.dirs[0]);
      expect(out.oomFile).toBe(join(mem, 'memory.events'));
    }
    // the leaf is never reused
    expect(() => apply('all', {})).toThrow(expect.objectContaining({ code: 'EEXIST', step: 'cgroup' }));
    for (const dir of out.dirs) native().cgroupRemove(dir);
    for (const dir of out.dirs) expect(existsSync(dir), dir).toBe(false);
  });

  it('a write the kernel refuses removes the leaves it created', () => {
    // cpuset.cpus naming a CPU that does not exist is rejected by the kernel (v1 ERANGE, v2 EINVAL)
    const expected = planCgroups(info, parent, 'bad', {}).leafDirs;
    expect(() => apply('bad', { cpu: { cpus: '4095' } })).toThrow(
      expect.objectContaining({ syscall: 'write', step: 'cgroup', path: join(leafOf(expected, 'cpuset'), 'cpuset.cpus') }),
    );
    for (const dir of expected) expect(existsSync(dir), dir).toBe(false);
  });

  it('v1 refuses unified; v2 writes it', () => {
    if (info.version === 1) {
      expect(() => apply('unified', { unified: { 'pids.max': '7' } })).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'unified' }));
      expect(planCgroups(info, parent, 'unified', {}).leafDirs.some((d) => existsSync(d))).toBe(false);
    } else {
      const out = apply('unified', { unified: { 'pids.max': '7' } });
      expect(read(join(out.dirs[0]!, 'pids.max'))).toBe('7');
    }
  });

  it('createCgroups / removeCgroups: the TS entry points pocker run uses', () => {
    const res: Resources = { memory: 32 * MB, pidsLimit: -1 };
    const plan = planCgroups(info, parent, 'ts', res);
    createCgroups(plan, res, native(), info, parent);
    made.push(...plan.leafDirs);
    expect(read(join(leafOf(plan.leafDirs, 'pids'), 'pids.max'))).toBe('max');
    removeCgroups(plan, native());
    for (const dir of plan.leafDirs) expect(existsSync(dir), dir).toBe(false);
  });
});
