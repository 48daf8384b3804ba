// /sys/fs/cgroup inside a container: the container's own cgroup view, read-only, as Docker mounts
// it (v2: cgroup2 inside a private cgroup namespace; v1: a tmpfs with the container's leaf of each
// joined hierarchy bound at the hierarchy's name). What Node (process.constrainedMemory()), the JVM
// and Go's runtime read to size themselves. Runs on this host (v1 hybrid) and in the cgroup-v2 VM
// (scripts/test.mjs VM_TESTS). Root only.
import { afterAll, describe, expect, it } from 'vitest';

import { detectCgroups, planCgroups } from '../../lib/cgroup/index.js';
import { cleanupAll, cli, existingCgroupParentDirs, isRoot, pk, runToEnd, testCgroupParent, tempRoot } from '../helpers.js';

const MB = 1024 * 1024;
const node = process.execPath;

/** A node script run inside the container (the `host` image has this Node at the same path). */
function nodeScript(script: string): string[] {
  return [node, '-e', script];
}

/** The /sys/fs/cgroup lines of the container's mountinfo: [root, mount point, options, fstype]. */
const mountsScript = `
const lines = require('fs').readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\\n');
const out = [];
for (const l of lines) {
  const f = l.split(' ');
  const sep = f.indexOf('-', 6);
  if (f[4] === '/sys/fs/cgroup' || f[4].startsWith('/sys/fs/cgroup/')) out.push([f[3], f[4], f[5], f[sep + 1]]);
}
console.log(JSON.stringify(out));`;

describe.skipIf(!isRoot)('/sys/fs/cgroup inside a container', () => {
  const info = isRoot ? detectCgroups() : undefined;
  const v2 = info?.version === 2;

  afterAll(async () => {
    expect(await cleanupAll()).toEqual([]);
    expect(existingCgroupParentDirs()).toEqual([]);
  });

  it("process.constrainedMemory() sees -m 64m: 67108864 (Node's own reading of /sys/fs/cgroup)", async () => {
    const r = await cli(['run', '--rm', '-m', '64m', 'host', ...nodeScript('console.log(process.constrainedMemory())')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${64 * MB}\n`);
    expect(r.code).toBe(0);
  });

  it('the memory limit is readable and read-only: a write fails with EROFS', async () => {
    const file = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const r = await runToEnd({
      image: 'host',
      memory: '64m',
      cmd: nodeScript(`
const fs = require('fs');
console.log(fs.readFileSync(${JSON.stringify(file)}, 'utf8').trim());
try { fs.writeFileSync(${JSON.stringify(file)}, '1'); console.log('written'); } catch (e) { console.log(e.code); }
try { fs.mkdirSync('/sys/fs/cgroup/x'); console.log('made'); } catch (e) { console.log(e.code); }`),
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([String(64 * MB), 'EROFS', 'EROFS', '']);
    expect(r.status.exitCode).toBe(0);
  });

  it('the cpu quota (--cpus 0.5) and the pids limit are visible', async () => {
    const script = v2
      ? `cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max`
      : `echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; cat /sys/fs/cgroup/pids/pids.max`;
    const r = await runToEnd({ image: 'host', cpus: 0.5, pidsLimit: 50, cmd: ['sh', '-c', script] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('50000 100000\n50\n');
  });

  it("only the container's own cgroup is visible, mounted read-only", async () => {
    const r = await runToEnd({
      image: 'host',
      memory: '64m',
      cmd: nodeScript(`
const fs = require('fs');
${mountsScript}
// Every directory under /sys/fs/cgroup, following no link (a leaf's child cgroup would show here).
const dirs = [];
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) { dirs.push(d + '/' + e.name); walk(d + '/' + e.name); } };
walk('/sys/fs/cgroup');
const links = fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true }).filter((e) => e.isSymbolicLink()).map((e) => [e.name, fs.readlinkSync('/sys/fs/cgroup/' + e.name)]);
console.log(JSON.stringify(dirs));
console.log(JSON.stringify(links));
console.log(JSON.stringify(fs.readFileSync('/proc/self/cgroup', 'utf8')));`),
    });
    expect(r.stderr).toBe('');
    expect(r.status.exitCode).toBe(0);
    const [mountsLine, dirsLine, linksLine, cgroupLine] = r.stdout.trim().split('\n');
    const mounts = JSON.parse(mountsLine!) as [string, string, string, string][];
    const dirs = JSON.parse(dirsLine!) as string[];
    const links = JSON.parse(linksLine!) as [string, string][];
    const procCgroup = JSON.parse(cgroupLine!) as string;
    for (const [, , options] of mounts) expect(options.split(',')).toContain('ro');
    if (v2) {
      // cgroup2 inside the container's cgroup namespace: its root is the container's cgroup.
      expect(mounts).toEqual([['/', '/sys/fs/cgroup', expect.stringContaining('ro') as unknown as string, 'cgroup2']]);
      expect(dirs).toEqual([]);
      expect(links).toEqual([]);
      expect(procCgroup).toBe('0::/\n');
      return;
    }
    // v1: a tmpfs, then per joined hierarchy the container's leaf (mountinfo's root field: the
    // cgroup path, as Docker with --cgroupns host), and a link per co-mounted controller.
    const id = r.container.id;
    const cgroupPath = `/${testCgroupParent()}/${id}`;
    const views = planCgroups(info!, testCgroupParent(), id, {}).views ?? [];
    expect(views.length).toBeGreaterThan(0);
    expect(mounts[0]).toEqual(['/', '/sys/fs/cgroup', expect.any(String) as unknown as string, 'tmpfs']);
    const fsType = (source: string) => (info!.hybridUnified && source.startsWith(`${info!.hybridUnified}/`) ? 'cgroup2' : 'cgroup');
    expect(mounts.slice(1)).toEqual(views.map((v) => [cgroupPath, `/sys/fs/cgroup/${v.name}`, expect.any(String) as unknown as string, fsType(v.source)]));
    expect(dirs.sort()).toEqual(views.map((v) => `/sys/fs/cgroup/${v.name}`).sort());
    const expectedLinks = views.flatMap((v) => (v.name.includes(',') ? v.name.split(',').map((c) => [c, v.name]) : []));
    expect(links.sort()).toEqual(expectedLinks.sort());
    // Every mounted hierarchy is joined (named ones such as name=systemd and a hybrid's cgroup2
    // `unified` too, as runc does): /proc/self/cgroup names the container's cgroup in each (host
    // cgroupns, as Docker on v1).
    if (info!.v1Others?.length) expect(views.length).toBeGreaterThan(new Set(Object.values(info!.v1Mounts ?? {})).size);
    if (info!.hybridUnified) expect(views.at(-1)).toEqual({ name: 'unified', source: `${info!.hybridUnified}${cgroupPath}` });
    const names = new Set(views.flatMap((v) => v.name.split(',')));
    const lines = procCgroup.trim().split('\n').map((l) => l.split(':'));
    let checked = 0;
    for (const [, controllers, path] of lines) {
      const mine = controllers === '' ? !!info!.hybridUnified : controllers!.split(',').some((c) => names.has(c.replace(/^name=/, '')));
      if (!mine) continue;
      expect(path).toBe(cgroupPath);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(views.length - links.length);
  });

  it('--cgroupns private|host: /proc/self/cgroup relative to the container (Docker: private by default on v2, host on v1)', async () => {
    const read = async (mode: string) => {
      const r = await cli(['run', '--rm', '--cgroupns', mode, '-m', '64m', 'host', ...nodeScript(`
const fs = require('fs');
console.log(fs.readFileSync('/proc/self/cgroup', 'utf8').trim());
console.log(process.constrainedMemory());`)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      return { cgroup: lines.slice(0, -1), constrained: Number(lines.at(-1)) };
    };
    const priv = await read('private');
    expect(priv.constrained).toBe(64 * MB);
    const memoryLine = (lines: string[]) => lines.find((l) => (v2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').includes('memory')));
    expect(memoryLine(priv.cgroup)?.split(':')[2]).toBe('/');
    const host = await read('host');
    expect(host.constrained).toBe(64 * MB);
    expect(memoryLine(host.cgroup)?.split(':')[2]).toMatch(new RegExp(`^/(.*/)?${testCgroupParent()}/[0-9a-f]{64}$`));
    const bad = await cli(['run', '--rm', '--cgroupns', 'shared', 'host', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid cgroup namespace mode "shared"/);
  });

  it('an exec sees the same view as the container', async () => {
    const root = tempRoot();
    const run = await pk(root, 'run', '-d', '--cgroup-parent', testCgroupParent(), '-m', '64m', 'host', 'sleep', '1000');
    expect(run.stderr).toBe('');
    const id = run.stdout.trim();
    try {
      const script = 'console.log(process.constrainedMemory(), require("fs").readFileSync("/proc/self/cgroup", "utf8") === require("fs").readFileSync("/proc/1/cgroup", "utf8"))';
      const r = await pk(root, 'exec', id, ...nodeScript(script));
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${64 * MB} true\n`);
    } finally {
      await pk(root, 'rm', '-f', id);
    }
  });
});
