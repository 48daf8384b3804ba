// `pocker update` / updateContainer(): new limits written into a running container's cgroups (read
// back from the kernel's files, v1 here and v2 in the guest), kept for its next start; Docker's
// refusals.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { detectCgroups } from '../../lib/cgroup/index.js';
import { updateContainer } from '../../lib/index.js';
import { cleanupAll, cli, cgroupParentDirs, isRoot, rootTracker, testCgroupParent } from '../helpers.js';

const roots = rootTracker();

/** The container's control file `file` (whichever hierarchy has it). */
function control(id: string, file: string): string {
  for (const dir of cgroupParentDirs()) {
    const p = join(dir, id, file);
    if (existsSync(p)) return readFileSync(p, 'utf8').trim();
  }
  throw new Error(`no ${file} for ${id}`);
}

describe.skipIf(!isRoot)('update', () => {
  const v2 = isRoot && detectCgroups().version === 2;

  afterAll(async () => {
    await roots.removeAll();
    expect(await cleanupAll()).toEqual([]);
  });

  it('changes a running container memory, swap, pids and CPU limits at once; a restart keeps them', async () => {
    const root = roots.newRoot();
    const pk = (...args: string[]) => cli(['--root', root, ...args]);
    const id = (await pk('run', '-d', '--name', 'up', '-m', '32m', '--cgroup-parent', testCgroupParent(), 'host', 'sleep', '60')).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const r = await pk('update', '-m', '64m', '--memory-swap', '96m', '--pids-limit', '10', '--cpus', '0.5', 'up');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('up\n');
    const check = () => {
      if (v2) {
        expect(control(id, 'memory.max')).toBe(String(64 << 20));
        expect(control(id, 'memory.swap.max')).toBe(String(32 << 20));
        expect(control(id, 'cpu.max')).toBe('50000 100000');
      } else {
        expect(control(id, 'memory.limit_in_bytes')).toBe(String(64 << 20));
        expect(control(id, 'memory.memsw.limit_in_bytes')).toBe(String(96 << 20));
        expect(control(id, 'cpu.cfs_quota_us')).toBe('50000');
      }
      expect(control(id, 'pids.max')).toBe('10');
    };
    check();
    // Lowered below the current swap limit, then raised above it (v1 orders the two writes).
    await updateContainer('up', { root, memory: '16m', memorySwap: '16m' });
    expect(control(id, v2 ? 'memory.max' : 'memory.limit_in_bytes')).toBe(String(16 << 20));
    await updateContainer('up', { root, memory: '64m', memorySwap: '96m' });
    check();
    // Recorded: the next start has them.
    expect((await pk('restart', '-t', '0', 'up')).code).toBe(0);
    check();
    expect((await pk('rm', '-f', 'up')).code).toBe(0);
  });

  it('a stopped container: recorded for its next start, the restart policy too', async () => {
    const root = roots.newRoot();
    const pk = (...args: string[]) => cli(['--root', root, ...args]);
    expect((await pk('create', '--name', 'later', '--cgroup-parent', testCgroupParent(), 'host', 'sleep', '60')).code).toBe(0);
    expect((await pk('update', '--pids-limit', '7', '--restart', 'on-failure:3', 'later')).code).toBe(0);
    const inspect = JSON.parse((await pk('inspect', 'later')).stdout) as Array<{ Id: string; HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } } }>;
    expect(inspect[0]!.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect((await pk('start', 'later')).code).toBe(0);
    expect(control(inspect[0]!.Id, 'pids.max')).toBe('7');
    expect((await pk('rm', '-f', 'later')).code).toBe(0);
  });

  it("Docker's refusals: no flag, swap below memory, a running container's restart policy, an unknown container", async () => {
    const root = roots.newRoot();
    const pk = (...args: string[]) => cli(['--root', root, ...args]);
    expect((await pk('run', '-d', '--name', 'r', '--cgroup-parent', testCgroupParent(), 'host', 'sleep', '60')).code).toBe(0);
    const none = await pk('update', 'r');
    expect(none.code).toBe(1);
    // docker: "you must provide one or more flags when using this command"
    expect(none.stderr).toMatch(/you must provide one or more flags when using this command/);
    const swap = await pk('update', '-m', '16m', '--memory-swap', '8m', 'r');
    expect(swap.code).toBe(1);
    // docker: "Minimum memoryswap limit should be larger than memory limit, see usage"
    expect(swap.stderr).toMatch(/Minimum memoryswap limit should be larger than memory limit/);
    const restart = await pk('update', '--restart', 'always', 'r');
    expect(restart.code).toBe(1);
    expect(restart.stderr).toMatch(/restart policy of running container r/);
    const missing = await pk('update', '--pids-limit', '5', 'nosuch');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No such container: nosuch/);
    expect((await pk('rm', '-f', 'r')).code).toBe(0);
  });
});
