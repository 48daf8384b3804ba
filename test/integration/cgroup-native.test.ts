// Real cgroups through the native addon: only as root and once build/Release/pocker.node exists.
// Everything is created below `pocker-test-<pid>` and removed again, that parent included.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createCgroups,
  detectCgroups,
  planCgroups,
  readPidsCurrent,
  removeCgroups,
  type CgroupPlan,
  type Resources,
} from '../../lib/cgroup/index.js';
import type { NativeAddon } from '../../lib/native.js';

const addonPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/pocker.node');
const enabled = process.getuid?.() === 0 && existsSync(addonPath);
const MB = 1024 * 1024;
const parent = `pocker-test-${process.pid}`;

const read = (path: string): string => readFileSync(path, 'utf8').trim();
const plans: CgroupPlan[] = [];

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res(child.signalCode ?? child.exitCode);
    else child.once('exit', (code, signal) => res(signal ?? code));
  });
}

async function sleeper(): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise<void>((res, rej) => child.once('spawn', res).once('error', rej));
  return child;
}

describe.skipIf(!enabled)('cgroups through the native addon', () => {
  const addon = enabled ? (createRequire(import.meta.url)(addonPath) as NativeAddon) : (undefined as unknown as NativeAddon);
  const info = detectCgroups();
  const procsFiles = (plan: CgroupPlan): string[] => (plan.leafDirs.map((d) => join(d, 'cgroup.procs')));

  afterAll(() => {
    for (const plan of plans) {
      for (const leaf of plan.leafDirs) if (existsSync(leaf)) addon.cgroupRemove(leaf);
    }
    const parents = new Set(plans.flatMap((p) => p.leafDirs.map((l) => dirname(l))));
    for (const dir of parents) if (existsSync(dir)) rmdirSync(dir);
    for (const dir of parents) expect(existsSync(dir), dir).toBe(false);
  });

  it('creates the leaves with the limits, a process can join, removal leaves nothing', async () => {
    const res: Resources = { memory: 64 * MB, pidsLimit: 50 };
    const plan = planCgroups(info, parent, 'c1', res);
    plans.push(plan);
    createCgroups(plan, res, addon, info, parent);
    for (const leaf of plan.leafDirs) expect(existsSync(leaf), leaf).toBe(true);

    if (plan.version === 1) {
      const memory = plan.leafDirs.find((l) => l.startsWith(info.v1Mounts!['memory']! + '/'))!;
      expect(read(join(memory, 'memory.limit_in_bytes'))).toBe(String(64 * MB));
      if (existsSync(join(info.v1Mounts!['memory']!, 'memory.memsw.limit_in_bytes'))) {
        expect(read(join(memory, 'memory.memsw.limit_in_bytes'))).toBe(String(128 * MB));
      }
      const pids = plan.leafDirs.find((l) => l.startsWith(info.v1Mounts!['pids']! + '/'))!;
      expect(read(join(pids, 'pids.max'))).toBe('50');
      const cpusetMount = info.v1Mounts!['cpuset'];
      if (cpusetMount) {
        const cpuset = plan.leafDirs.find((l) => l.startsWith(cpusetMount + '/'))!;
        expect(read(join(cpuset, 'cpuset.cpus'))).toBe(read(join(cpusetMount, 'cpuset.cpus')));
        expect(read(join(cpuset, 'cpuset.mems'))).toBe(read(join(cpusetMount, 'cpuset.mems')));
      }
    } else {
      const leaf = plan.v2Leaf!;
      expect(read(join(leaf, 'memory.max'))).toBe(String(64 * MB));
      if (existsSync(join(leaf, 'memory.swap.max'))) expect(read(join(leaf, 'memory.swap.max'))).toBe(String(64 * MB));
      expect(read(join(leaf, 'pids.max'))).toBe('50');
    }

    const child = await sleeper();
    try {
      for (const procs of procsFiles(plan)) addon.cgroupWrite(procs, String(child.pid));
      for (const procs of procsFiles(plan)) expect(read(procs).split('\n')).toEqual([String(child.pid)]);
      expect(readPidsCurrent(plan)).toBe(1);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }

    removeCgroups(plan, addon);
    for (const leaf of plan.leafDirs) expect(existsSync(leaf), leaf).toBe(false);
    // the parent stays for the next container
    for (const leaf of plan.leafDirs) expect(existsSync(dirname(leaf))).toBe(true);
  });

  it('removal kills what is still inside', async () => {
    const plan = planCgroups(info, parent, 'c2', {});
    plans.push(plan);
    createCgroups(plan, {}, addon, info, parent);
    const child = await sleeper();
    const done = exited(child);
    for (const procs of procsFiles(plan)) addon.cgroupWrite(procs, String(child.pid));
    removeCgroups(plan, addon);
    expect(await done).toBe('SIGKILL');
    for (const leaf of plan.leafDirs) expect(existsSync(leaf), leaf).toBe(false);
  });

  it('a failing limit write removes the leaves it created', () => {
    // cpuset.cpus naming a CPU that does not exist is rejected by the kernel with EINVAL
    const res: Resources = { cpusetCpus: '4095' };
    const plan = planCgroups(info, parent, 'c3', res);
    plans.push(plan);
    expect(() => createCgroups(plan, res, addon, info, parent)).toThrow(expect.objectContaining({ step: 'cgroup' }));
    for (const leaf of plan.leafDirs) expect(existsSync(leaf), leaf).toBe(false);
  });
});
