// buildSpec(): the OCI document a container runs from (no root, no kernel objects).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import type { CgroupPlan } from '../../lib/cgroup/index.js';
import { resolveRunOptions, type ResolvedRunConfig } from '../../lib/runtime/options.js';
import { buildExecSpec, buildSpec, byDepth, encodeSpec, type SpecLayout } from '../../lib/spec/build.js';
import { DEFAULT_CAPS, DEFAULT_DEVICES, DEFAULT_MOUNTS, MASKED_PATHS, READONLY_PATHS, capNames } from '../../lib/spec/defaults.js';

const v1Plan: CgroupPlan = {
  version: 1,
  leafDirs: ['/sys/fs/cgroup/memory/pocker/x', '/sys/fs/cgroup/pids/pocker/x'],
  v1Tasks: ['/sys/fs/cgroup/memory/pocker/x/tasks', '/sys/fs/cgroup/pids/pocker/x/tasks'],
  oomFile: { version: 1, path: '/sys/fs/cgroup/memory/pocker/x/memory.oom_control' },
  statsFiles: {},
};
const v2Plan: CgroupPlan = {
  version: 2,
  leafDirs: ['/sys/fs/cgroup/pocker/x'],
  v2Leaf: '/sys/fs/cgroup/pocker/x',
  v1Tasks: [],
  oomFile: { version: 2, path: '/sys/fs/cgroup/pocker/x/memory.events' },
  statsFiles: {},
};

function layout(cfg: ResolvedRunConfig): SpecLayout {
  const dir = join(cfg.root, 'containers', cfg.id);
  return { dir, lowers: ['/layers/b', '/layers/a'], scratchUpper: false, upper: `${dir}/upper`, work: `${dir}/work`, rootfs: `${dir}/rootfs` };
}

const src = mkdtempSync(join(tmpdir(), 'pocker-spec-unit-'));
writeFileSync(join(src, 'file'), '');
afterAll(() => rmSync(src, { recursive: true, force: true }));

describe('buildSpec', () => {
  const cfg = resolveRunOptions({ image: 'host', cmd: ['sh', '-c', 'true'], root: '/tmp/pocker-spec-unit-root', memory: '64m', pidsLimit: 10 });
  const doc = buildSpec(cfg, layout(cfg), v1Plan);

  it('is an OCI runtime-spec 1.2 document with the pocker section (version 2)', () => {
    expect(doc.ociVersion).toBe('1.2.0');
    expect(doc.process).toMatchObject({ args: ['sh', '-c', 'true'], cwd: '/', terminal: false, user: { uid: 0, gid: 0, umask: 0o022 } });
    expect(doc.root).toEqual({ path: layout(cfg).rootfs, readonly: false });
    expect(doc.hostname).toBe(cfg.hostname);
    expect(doc.pocker).toMatchObject({
      version: 2,
      rootfs: { lowers: ['/layers/b', '/layers/a'], upper: layout(cfg).upper, work: layout(cfg).work, scratchUpper: false },
      user: '',
      init: false,
      monitor: { foreground: true },
      cgroups: { v1Tasks: v1Plan.v1Tasks, oom: v1Plan.oomFile, cleanup: v1Plan.leafDirs },
    });
    expect(doc.pocker?.monitor.detach).toBeUndefined();
  });

  it('round-trips through JSON unchanged (what pocker-init reads is what a store writes)', () => {
    expect(JSON.parse(encodeSpec(doc).toString('utf8'))).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it("carries Docker's defaults: mounts, devices, masked and read-only paths", () => {
    expect(doc.mounts!.slice(0, DEFAULT_MOUNTS.length)).toEqual(DEFAULT_MOUNTS);
    expect(doc.mounts!.map((m) => m.destination).slice(0, 6)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    expect(doc.mounts![1]!.options).toEqual(['nosuid', 'nodev', 'strictatime', 'mode=755', 'size=65536k']);
    expect(doc.mounts![2]!.options).toEqual(expect.arrayContaining(['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']));
    expect(doc.mounts![5]!.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'noexec', 'nodev']));
    expect(doc.linux!.devices!.map((d) => d.path)).toEqual(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
    expect(doc.linux!.devices).toEqual(DEFAULT_DEVICES);
    expect(doc.linux!.maskedPaths).toEqual(MASKED_PATHS);
    expect(doc.linux!.readonlyPaths).toEqual(READONLY_PATHS);
    expect(doc.linux!.rootfsPropagation).toBe('rslave');
  });

  it('lists capabilities by name, the same set bounding, effective and permitted', () => {
    const names = DEFAULT_CAPS.map((c) => `CAP_${c}`).sort();
    const caps = doc.process!.capabilities!;
    expect([...caps.bounding!].sort()).toEqual(names);
    expect(caps.effective).toEqual(caps.bounding);
    expect(caps.permitted).toEqual(caps.bounding);
    expect(caps.inheritable).toEqual([]);
    expect(caps.ambient).toEqual([]);
    const added = resolveRunOptions({ image: 'host', cmd: ['true'], capAdd: ['SYS_ADMIN'], capDrop: ['NET_RAW'] });
    const b = buildSpec(added, layout(added), v1Plan).process!.capabilities!.bounding!;
    expect(b).toContain('CAP_SYS_ADMIN');
    expect(b).not.toContain('CAP_NET_RAW');
    expect(capNames(0b101n)).toEqual(['CAP_CHOWN', 'CAP_DAC_READ_SEARCH']);
  });

  it('namespaces: mount, uts, ipc, pid, network unless host; cgroup on v2 only', () => {
    expect(doc.linux!.namespaces).toEqual([{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }, { type: 'network' }]);
    const host = resolveRunOptions({ image: 'host', cmd: ['true'], network: 'host' });
    const v2 = buildSpec(host, layout(host), v2Plan);
    expect(v2.linux!.namespaces!.map((n) => n.type)).toEqual(['mount', 'uts', 'ipc', 'pid', 'cgroup']);
    expect(v2.pocker!.cgroups).toEqual({ v2Leaf: v2Plan.v2Leaf, v1Tasks: [], oom: v2Plan.oomFile, cleanup: v2Plan.leafDirs });
  });

  it("/sys/fs/cgroup: Docker's read-only cgroup mount; v1 views of the plan; --cgroupns as Docker (private on v2, host on v1)", () => {
    expect(doc.mounts!.find((m) => m.destination === '/sys/fs/cgroup')).toEqual({
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev'],
    });
    const views = [{ name: 'memory', source: '/sys/fs/cgroup/memory/pocker/x' }];
    expect(buildSpec(cfg, layout(cfg), { ...v1Plan, views }).pocker!.cgroups!.views).toEqual(views);
    expect(doc.pocker!.cgroups!.views).toBeUndefined();
    const ns = (cgroupns: 'host' | 'private' | undefined, plan: CgroupPlan) => {
      const c = resolveRunOptions({ image: 'host', cmd: ['true'], ...(cgroupns ? { cgroupns } : {}) });
      return buildSpec(c, layout(c), plan).linux!.namespaces!.some((n) => n.type === 'cgroup');
    };
    expect([ns(undefined, v1Plan), ns('private', v1Plan), ns('host', v1Plan)]).toEqual([false, true, false]);
    expect([ns(undefined, v2Plan), ns('private', v2Plan), ns('host', v2Plan)]).toEqual([true, true, false]);
    expect(() => resolveRunOptions({ image: 'host', cmd: ['true'], cgroupns: 'shared' as 'host' })).toThrow(/invalid cgroup namespace mode "shared"/);
  });

  it('cgroupsPath is <cgroupParent>/<id>; resources in OCI form', () => {
    expect(doc.linux!.cgroupsPath).toBe(`pocker/${cfg.id}`);
    expect(doc.linux!.resources).toMatchObject({ memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 10 } });
  });

  it('user mounts follow the defaults, parents first (stable otherwise); binds are rbind,nodev[,ro]; tmpfs keeps its options', () => {
    const c = resolveRunOptions({
      image: 'host',
      cmd: ['true'],
      volumes: [`${src}:/a/b/c`, `${src}:/a:ro`, `${join(src, 'file')}:/etc/x`],
      tmpfs: ['/a/b:size=1m,noexec', '/t:ro'],
    });
    const mounts = buildSpec(c, layout(c), v1Plan).mounts!.slice(DEFAULT_MOUNTS.length);
    expect(mounts.map((m) => m.destination)).toEqual(['/a', '/t', '/etc/x', '/a/b', '/a/b/c']);
    expect(mounts[0]).toEqual({ destination: '/a', type: 'bind', source: src, options: ['rbind', 'nodev', 'rnodev', 'ro', 'rro'] });
    expect(mounts[1]).toEqual({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'ro'] });
    expect(mounts[3]).toEqual({ destination: '/a/b', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m', 'noexec'] });
    expect(mounts[4]!.options).toEqual(['rbind', 'nodev', 'rnodev']);
    expect(byDepth([{ destination: '/x/y' }, { destination: '/b' }, { destination: '/a' }])).toEqual([{ destination: '/b' }, { destination: '/a' }, { destination: '/x/y' }]);
  });

  it('image volumes are bind mounts plus a pocker.volumes entry (filled from the image when empty)', () => {
    const c: ResolvedRunConfig = { ...cfg, mounts: [{ kind: 'image-volume', src: '/vol/0', dst: '/data', readonly: false, data: '' }] };
    const d = buildSpec(c, layout(c), v1Plan);
    expect(d.mounts!.at(-1)).toEqual({ destination: '/data', type: 'bind', source: '/vol/0', options: ['rbind', 'nodev', 'rnodev'] });
    expect(d.pocker!.volumes).toEqual([{ source: '/vol/0', destination: '/data' }]);
  });

  it('detached: the monitor section (state dir, log, attach socket, restart policy by name); tty size as consoleSize', () => {
    const c = resolveRunOptions({ image: 'host', cmd: ['true'], detach: true, tty: true, ttySize: { rows: 30, cols: 100 }, restart: 'on-failure:3', init: true, readOnly: true, user: 'nobody' });
    const l = layout(c);
    const d = buildSpec(c, l, v1Plan, { stdinOnce: true, attachFd: true, container: { id: c.id } });
    expect(d.process).toMatchObject({ terminal: true, consoleSize: { height: 30, width: 100 } });
    expect(d.root!.readonly).toBe(true);
    expect(d.pocker).toMatchObject({
      user: 'nobody',
      init: true,
      monitor: {
        foreground: false,
        restart: { policy: 'on-failure', max: 3 },
        detach: { stateDir: l.dir, logPath: `${l.dir}/${c.id}-json.log`, removeOnExit: false, attachSocket: `${l.dir}/attach.sock`, stdinOnce: true, attachFd: true },
      },
      container: { id: c.id },
    });
  });

  it('exec: only process and the pocker section (exec.pid, the joined cgroups, nothing to clean up)', () => {
    const d = buildExecSpec({ args: ['ls'], env: ['A=1'], cwd: '/w', user: '1:2', caps: 1n, noNewPrivs: true, tty: false, detach: true, pid: 42, cgroups: { v1Tasks: ['/t/tasks'] } });
    expect(d.root).toBeUndefined();
    expect(d.mounts).toBeUndefined();
    expect(d.process).toMatchObject({ args: ['ls'], env: ['A=1'], cwd: '/w', noNewPrivileges: true, capabilities: { bounding: ['CAP_CHOWN'] } });
    expect(d.pocker).toMatchObject({ version: 2, user: '1:2', exec: { pid: 42 }, cgroups: { v1Tasks: ['/t/tasks'], cleanup: [] }, monitor: { foreground: false, detach: { stateDir: '' } } });
  });
});
