// The addon's own contract: SystemError-shaped errors, the sealed pocker-init image, the spec
// channel. No container is created here (a malformed spec stops pocker-init before any namespace).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

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
