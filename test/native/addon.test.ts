// The addon's own contract: SystemError-shaped errors, the sealed pocker-init image, the spec
// channel. No container is created here (a malformed spec stops pocker-init before any namespace).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

import { native, type NativeEvent } from '../../lib/native.js';
import { encodeSpec } from '../../lib/spec/build.js';
import type { Spec } from '../../lib/spec/oci.js';

const built = existsSync(new URL('../../build/Release/pocker.node', import.meta.url)) ||
  existsSync(new URL('../../prebuilds/linux-x64/pocker.node', import.meta.url));

function spawnAndCollect(spec: Uint8Array): Promise<{ events: NativeEvent[]; exe: string }> {
  return new Promise((resolve) => {
    const events: NativeEvent[] = [];
    let exe = '';
    const devnull = openSync('/dev/null', 'r+');
    const m = native().spawn({
      spec,
      stdio: [devnull, devnull, devnull],
      onEvent: (ev) => {
        events.push(ev);
        if (ev.type === 'reaped') resolve({ events, exe });
      },
    });
    try {
      exe = readlinkSync(`/proc/${m.pid}/exe`);
    } catch {
      /* already gone */
    }
    closeSync(devnull);
  });
}

describe.skipIf(!built)('native addon', () => {
  it('reports a malformed spec as an error event with step read-spec, then the reaped event', async () => {
    const { events } = await spawnAndCollect(Buffer.from('garbage'));
    const err = events.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', code: 'EINVAL', step: 'read-spec', errno: -22 });
    expect(events.at(-1)).toMatchObject({ type: 'reaped', status: 125, signal: 0 });
  });

  it('rejects a spec without a command, naming the JSON path', async () => {
    const { events } = await spawnAndCollect(encodeSpec({ ociVersion: '1.2.0', process: { user: { uid: 0, gid: 0 }, args: [], cwd: '/' }, root: { path: '/' } }));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ step: 'read-spec', path: 'spec: process.args: expected a non-empty command' });
  });

  it.skipIf(process.getuid?.() !== 0)('a cgroup v1 hierarchy the container cannot join: error event with step cgroup and the path, nothing runs', async () => {
    const spec: Spec = {
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/' },
      root: { path: '/nonexistent-pocker-dir/rootfs' },
      pocker: { version: 2, monitor: { foreground: true }, cgroups: { v1Tasks: ['/nonexistent-pocker-dir/tasks'], cleanup: [] } },
    };
    const { events } = await spawnAndCollect(encodeSpec(spec));
    expect(events.find((e) => e.type === 'error')).toMatchObject({ code: 'ENOENT', step: 'cgroup', syscall: 'write', path: '/nonexistent-pocker-dir/tasks' });
    expect(events.some((e) => e.type === 'started')).toBe(false);
  });

  it('runs pocker-init from a sealed memfd, never from a host path', async () => {
    // pocker-init stops at once on this spec, so /proc/<pid>/exe can be gone before we look:
    // try until one look succeeds (every look that succeeds must show the memfd).
    const seen: string[] = [];
    for (let i = 0; i < 50 && seen.length === 0; i++) {
      const { exe } = await spawnAndCollect(Buffer.from('{}'));
      if (exe) seen.push(exe);
    }
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatch(/^\/memfd:pocker-init/);
  });

  it('copies pocker-init on the first spawn, not when the addon is loaded (most commands never spawn)', () => {
    const dir = existsSync(new URL('../../build/Release/pocker.node', import.meta.url)) ? '../../build/Release/' : '../../prebuilds/linux-x64/';
    const addonPath = new URL(`${dir}pocker.node`, import.meta.url).pathname;
    const initPath = process.env.POCKER_INIT || new URL(`${dir}pocker-init`, import.meta.url).pathname;
    // In a process of its own: this one may have spawned already. It prints the targets of its
    // open descriptors after setInitPath, then after one spawn (a spec pocker-init refuses).
    const script = `
      const { readdirSync, readlinkSync, openSync } = require('node:fs');
      const fds = () => readdirSync('/proc/self/fd').map((n) => { try { return readlinkSync('/proc/self/fd/' + n); } catch { return ''; } });
      const addon = require(${JSON.stringify(addonPath)});
      addon.setInitPath(${JSON.stringify(initPath)});
      const loaded = fds();
      const devnull = openSync('/dev/null', 'r+');
      addon.spawn({ spec: Buffer.from('{}'), stdio: [devnull, devnull, devnull], onEvent: (ev) => {
        if (ev.type === 'reaped') console.log(JSON.stringify({ loaded, spawned: fds() }));
      } });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { loaded, spawned } = JSON.parse(r.stdout) as { loaded: string[]; spawned: string[] };
    expect(loaded).toContain(initPath); // opened, to copy later
    expect(loaded.filter((t) => t.startsWith('/memfd:pocker-init'))).toEqual([]);
    expect(spawned.filter((t) => t.startsWith('/memfd:pocker-init'))).toHaveLength(1);
  });

  it('loads one instance per process, shared by every copy of lib/native (the bundled CLI\'s and the ES modules\')', async () => {
    // A second copy of the module (its own module instance, as the CLI bundle's is) gets the very
    // object the first one loaded, from the registry on globalThis, not a second load of the file.
    vi.resetModules();
    const copy = await import('../../lib/native.js');
    expect(copy.native).not.toBe(native);
    expect(copy.native()).toBe(native());
  });

  it('throws SystemError-shaped errors with a step', () => {
    const addon = native();
    let caught: unknown;
    try {
      addon.cgroupWrite('/nonexistent-pocker-dir/cgroup.procs', '1');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'write', path: '/nonexistent-pocker-dir/cgroup.procs', step: 'cgroup' });
    expect(() => addon.setInitPath('/nonexistent-pocker-init')).toThrow(expect.objectContaining({ code: 'ENOENT', step: 'spawn' }));
    expect(() => (addon.spawn as unknown as (x: unknown) => void)({})).toThrow(TypeError);
  });

  it('makes close-on-exec pipes', () => {
    const [r, w] = native().pipe();
    writeFileSync(w, 'x');
    expect(fstatSync(r).isFIFO()).toBe(true);
    // A child process must not inherit them.
    const out = spawnSync('sh', ['-c', `ls /proc/self/fd`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(out).not.toContain(String(r));
    expect(out).not.toContain(String(w));
    closeSync(r);
    closeSync(w);
  });
});

describe.skipIf(!built)('the spec document: pocker-init refuses an invalid one before creating anything', () => {
  const valid = (): Spec => ({
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/', capabilities: { bounding: ['CAP_CHOWN'] } },
    root: { path: '/nonexistent-pocker-dir/rootfs' },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m'] },
    ],
    linux: { namespaces: [{ type: 'mount' }], maskedPaths: ['/proc/kcore'] },
    pocker: { version: 2, monitor: { foreground: true } },
  });
  const patched = (edit: (d: Record<string, any>) => void): Buffer => {
    const d = valid() as unknown as Record<string, any>;
    edit(d);
    return Buffer.from(JSON.stringify(d));
  };
  it.each<[string, Buffer, string]>([
    ['not JSON', Buffer.from('{"ociVersion": '), 'spec: (document): not valid JSON'],
    ['not an object', Buffer.from('[1,2]'), 'spec: (document): expected an object'],
    ['a wrong type deep inside', patched((d) => (d.mounts[1].options[1] = 5)), 'spec: mounts[1].options[1]: expected a string'],
    ['no process.args', patched((d) => delete d.process.args), 'spec: process.args: missing'],
    ['args not an array', patched((d) => (d.process.args = 'true')), 'spec: process.args: expected an array of strings'],
    ['a relative mount destination', patched((d) => (d.mounts[0].destination = 'proc')), 'spec: mounts[0].destination: expected an absolute path'],
    ['an unknown namespace type', patched((d) => (d.linux.namespaces[0].type = 'nope')), 'spec: linux.namespaces[0].type: unknown namespace type nope'],
    ['a new user namespace without maps', patched((d) => d.linux.namespaces.push({ type: 'user' })), 'spec: linux.uidMappings: a new user namespace needs uid and gid mappings'],
    ['maps without a user namespace', patched((d) => (d.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 10 }])), 'spec: linux.uidMappings: mappings need a new user namespace (linux.namespaces: user without a path)'],
    ['a map of size 0', patched((d) => { d.linux.namespaces.push({ type: 'user' }); d.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 0 }]; }), 'spec: linux.uidMappings[0].size: expected at least 1'],
    ['overlapping container ids', patched((d) => { d.linux.namespaces.push({ type: 'user' }); d.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 10 }, { containerID: 5, hostID: 200000, size: 10 }]; d.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 1 }]; }), 'spec: linux.gidMappings[1]: container ids overlap an earlier mapping'],
    ['overlapping host ids', patched((d) => { d.linux.namespaces.push({ type: 'user' }); d.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 10 }, { containerID: 10, hostID: 100009, size: 10 }]; }), 'spec: linux.uidMappings[1]: host ids overlap an earlier mapping'],
    ['a range past the last id', patched((d) => { d.linux.namespaces.push({ type: 'user' }); d.linux.uidMappings = [{ containerID: 0, hostID: 4294967290, size: 10 }]; }), 'spec: linux.uidMappings[0]: range past 4294967294'],
    ['an uid out of range', patched((d) => (d.process.user.uid = -1)), 'spec: process.user.uid: out of range'],
    ['a fractional gid', patched((d) => (d.process.user.gid = 1.5)), 'spec: process.user.gid: expected an integer'],
    ['a bad capability name', patched((d) => d.process.capabilities.bounding.push('chown')), 'spec: process.capabilities.bounding[1]: not a capability name: chown'],
    ['an unknown rlimit', patched((d) => (d.process.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }])), 'spec: process.rlimits[0].type: unknown rlimit RLIMIT_NOPE'],
    ['a NUL byte in an env entry', patched((d) => (d.process.env = ['A=\u0000'])), 'spec: process.env[0]: NUL byte in a string'],
    ['tmpcopyup', patched((d) => d.mounts[1].options.push('tmpcopyup')), 'spec: mounts[1].options[2]: tmpcopyup is not supported'],
    ['a newer pocker section', patched((d) => (d.pocker.version = 3)), 'spec: pocker.version: unsupported version 3 (this pocker-init reads 2)'],
    ['no root', patched((d) => delete d.root), 'spec: root: missing'],
    // The container's /sys/fs/cgroup: a view's name is one directory under it, its source a host path.
    ['a cgroup view escaping /sys/fs/cgroup', patched((d) => (d.pocker.cgroups = { v1Tasks: [], cleanup: [], views: [{ name: '../x', source: '/sys/fs/cgroup/memory/p/x' }] })), 'spec: pocker.cgroups.views[0].name: expected a directory name'],
    ['a relative cgroup view source', patched((d) => (d.pocker.cgroups = { v1Tasks: [], cleanup: [], views: [{ name: 'memory', source: 'memory/p/x' }] })), 'spec: pocker.cgroups.views[0].source: expected an absolute path'],
  ])('%s', async (_what, doc, message) => {
    const { events } = await spawnAndCollect(doc);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ code: 'EINVAL', step: 'read-spec', syscall: 'parse', path: message });
    expect(events.some((e) => e.type === 'pid' || e.type === 'started')).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'reaped', status: 125 });
  });

  it.skipIf(process.getuid?.() !== 0)('ignores unknown fields: the document parses and the run goes on to its first kernel step', async () => {
    const doc = patched((d) => {
      d.futureField = { anything: [1, 2] };
      d.process.futureField = true;
      d.mounts[0].futureField = 'x';
      d.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
      d.pocker.cgroups = { v1Tasks: ['/nonexistent-pocker-dir/tasks'], cleanup: [] };
    });
    const { events } = await spawnAndCollect(doc);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ step: 'cgroup', path: '/nonexistent-pocker-dir/tasks' });
  });
});

describe.skipIf(!built)('pocker-init run by hand', () => {
  it('refuses with a message and exit 125', async () => {
    const { initPath } = await import('../../lib/native.js');
    const { existsSync: ex } = await import('node:fs');
    const addonPath = ['build/Release', 'prebuilds/linux-x64']
      .map((d) => new URL(`../../${d}/pocker.node`, import.meta.url).pathname)
      .find((p) => ex(p))!;
    const r = spawnSync(initPath(addonPath), [], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/internal helper of pocker/);
  });
});
