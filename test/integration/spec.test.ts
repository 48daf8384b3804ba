// pocker-init on a plain OCI document (no overlay: root.path is a ready rootfs, as in a bundle):
// the fields run() does not use yet (sysctl, rlimits, domainname, ambient capabilities, umask,
// additionalGids, a namespace joined by path) are applied as the spec says. Root only.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { native, type NativeEvent } from '../../lib/native.js';
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, DEV_SYMLINKS, MASKED_PATHS, READONLY_PATHS } from '../../lib/spec/defaults.js';
import { encodeSpec } from '../../lib/spec/build.js';
import type { Spec } from '../../lib/spec/oci.js';
import { cleanupAll, cli, containerState, copyRootfs, isRoot, mountinfoLinesNaming, rootTracker, tempDir, until } from '../helpers.js';

function runDoc(doc: Spec): Promise<NativeEvent[]> {
  return new Promise((resolve) => {
    const events: NativeEvent[] = [];
    const devnull = openSync('/dev/null', 'r+');
    native().spawn({
      spec: encodeSpec(doc),
      stdio: [devnull, devnull, devnull],
      onEvent: (ev) => {
        events.push(ev);
        if (ev.type === 'reaped') resolve(events);
      },
    });
    closeSync(devnull);
  });
}

describe.skipIf(!isRoot)('a plain OCI document', () => {
  afterAll(async () => {
    expect(await cleanupAll()).toEqual([]);
  });

  it('applies mounts, devices, links, masked/read-only paths, sysctl, rlimits, domainname, caps sets, umask and groups', async () => {
    const rootfs = copyRootfs();
    const out = tempDir('spec-out');
    const script = [
      'exec > /out/report 2>&1',
      'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status',
      'grep -E "^Groups" /proc/self/status',
      'echo umask $(umask)',
      'echo nofile $(ulimit -n)',
      'echo domain $(cat /proc/sys/kernel/domainname)',
      'echo host $(hostname)',
      'echo shmmni $(cat /proc/sys/kernel/shmmni)',
      'for l in ptmx fd stdin stdout stderr core; do echo link $l $(readlink /dev/$l); done',
      'ls /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty > /dev/null && echo devices ok',
      'echo interrupts $(cat /proc/interrupts | wc -c)',
      'echo x > /proc/sysrq-trigger 2>/dev/null || echo sysrq read-only',
      'mount | grep -E " on /(proc|dev|sys|out)( |/)" | cut -d" " -f3,5',
    ].join('\n');
    const doc: Spec = {
      ociVersion: '1.2.0',
      process: {
        user: { uid: 0, gid: 0, umask: 0o027, additionalGids: [7, 9] },
        args: ['/bin/sh', '-c', script],
        env: ['PATH=/bin'],
        cwd: '/',
        capabilities: {
          bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETPCAP'],
          permitted: ['CAP_CHOWN', 'CAP_KILL'],
          effective: ['CAP_CHOWN'],
          inheritable: ['CAP_KILL'],
          ambient: ['CAP_KILL'],
        },
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }],
        noNewPrivileges: true,
      },
      root: { path: rootfs, readonly: false },
      hostname: 'spec-host',
      domainname: 'spec.example',
      mounts: [...DEFAULT_MOUNTS, { destination: '/out', type: 'bind', source: out, options: ['rbind', 'nodev', 'nosuid'] }],
      linux: {
        namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }, { type: 'network' }],
        devices: [...DEFAULT_DEVICES],
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
        sysctl: { 'kernel.shmmni': '1234' },
      },
      pocker: { version: 2, monitor: { foreground: true } },
    };
    const events = await runDoc(doc);
    expect(events.find((e) => e.type === 'error')).toBeUndefined();
    expect(events.find((e) => e.type === 'exit')).toMatchObject({ exitCode: 0 });
    const report = readFileSync(join(out, 'report'), 'utf8');
    // CHOWN = bit 0, KILL = bit 5, SETPCAP = bit 8.
    expect(report).toContain('CapInh:\t0000000000000020');
    expect(report).toContain('CapPrm:\t0000000000000021');
    expect(report).toMatch(/CapEff:\t00000000000000(21|01)/); // ambient KILL is raised into the effective set at exec
    expect(report).toContain('CapBnd:\t0000000000000121');
    expect(report).toContain('CapAmb:\t0000000000000020');
    expect(report).toMatch(/Groups:\t7 9\s*\n/);
    expect(report).toContain('umask 0027');
    expect(report).toContain('nofile 321');
    expect(report).toContain('domain spec.example');
    expect(report).toContain('host spec-host');
    expect(report).toContain('shmmni 1234');
    for (const [link, target] of Object.entries(DEV_SYMLINKS)) expect(report).toContain(`link ${link.slice(5)} ${target}\n`);
    expect(report).toContain('devices ok');
    expect(report).toContain('interrupts 0'); // masked: /dev/null
    expect(report).toContain('sysrq read-only');
    expect(report).toMatch(/^\/out /m);
    // The host's own shmmni is untouched (ipc namespace), nothing of the container stays mounted.
    expect(readFileSync('/proc/sys/kernel/shmmni', 'utf8').trim()).not.toBe('1234');
    expect(mountinfoLinesNaming(rootfs)).toEqual([]);
  });

  it('refuses a sysctl outside the namespaces the container has, before it runs anything', async () => {
    const rootfs = copyRootfs();
    const doc: Spec = {
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/' },
      root: { path: rootfs },
      mounts: [...DEFAULT_MOUNTS],
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }], sysctl: { 'net.ipv4.ip_forward': '1' } },
      pocker: { version: 2, monitor: { foreground: true } },
    };
    const events = await runDoc(doc);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ step: 'sysctl', path: 'net.ipv4.ip_forward is not in a namespace of the container' });
    expect(events.some((e) => e.type === 'started')).toBe(false);
    expect(mountinfoLinesNaming(rootfs)).toEqual([]);
  });

  it('joins a namespace given by path (the uts namespace of a running container)', async () => {
    const rootfs = copyRootfs();
    const out = tempDir('spec-join');
    const base = (args: string[], extra: Partial<Spec> = {}): Spec => ({
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
      root: { path: rootfs },
      mounts: [...DEFAULT_MOUNTS, { destination: '/out', type: 'bind', source: out, options: ['rbind'] }],
      linux: { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }] },
      pocker: { version: 2, monitor: { foreground: true } },
      ...extra,
    });
    // The first container: its own uts namespace, named; it runs until the second has looked.
    let onPid!: (pid: number) => void;
    const pidP = new Promise<number>((r) => (onPid = r));
    const first = new Promise<NativeEvent[]>((resolve) => {
      const events: NativeEvent[] = [];
      const devnull = openSync('/dev/null', 'r+');
      native().spawn({
        spec: encodeSpec(base(['/bin/sh', '-c', 'while [ ! -e /out/done ]; do sleep 0.05; done'], { hostname: 'first-uts' })),
        stdio: [devnull, devnull, devnull],
        onEvent: (ev) => {
          events.push(ev);
          if (ev.type === 'pid') onPid(ev.pid);
          if (ev.type === 'reaped') resolve(events);
        },
      });
      closeSync(devnull);
    });
    const pid = await pidP;
    const events = await runDoc(
      base(['/bin/sh', '-c', 'hostname > /out/seen; touch /out/done'], {
        linux: { namespaces: [{ type: 'mount' }, { type: 'uts', path: `/proc/${pid}/ns/uts` }, { type: 'pid' }] },
      }),
    );
    expect(events.find((e) => e.type === 'error')).toBeUndefined();
    expect(readFileSync(join(out, 'seen'), 'utf8')).toBe('first-uts\n');
    expect((await first).find((e) => e.type === 'exit')).toMatchObject({ exitCode: 0 });
  });
});

describe.skipIf(!isRoot)("a container's config.json", () => {
  const roots = rootTracker();
  afterAll(async () => {
    await roots.removeAll();
    expect(await cleanupAll()).toEqual([]);
  });

  it('is the OCI document pocker-init was handed (jq reads it), with the store record in pocker.container, and a start rewrites it', async () => {
    const root = roots.newRoot();
    const rootfs = copyRootfs();
    const r = await cli(['--root', root, 'run', '-d', '--name', 'doc', '--rootfs', rootfs, '-e', 'A=1', '/bin/sh', '-c', 'exit 3'], { root });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const file = join(root, 'containers', id, 'config.json');
    const jq = (filter: string) => execFileSync('jq', ['-c', filter, file], { encoding: 'utf8' }).trim();
    expect(jq('.ociVersion')).toBe('"1.2.0"');
    expect(jq('.process.args')).toBe('["/bin/sh","-c","exit 3"]');
    expect(jq('.process.env | index("A=1") != null')).toBe('true');
    expect(jq('.root.path')).toBe(JSON.stringify(join(root, 'containers', id, 'rootfs')));
    expect(jq('[.mounts[].destination] | .[0:3]')).toBe('["/proc","/dev","/dev/pts"]');
    expect(jq('.linux.cgroupsPath | endswith("/' + id + '")')).toBe('true');
    expect(jq('.pocker.version')).toBe('2');
    expect(jq('.pocker.container.id')).toBe(JSON.stringify(id));
    expect(jq('.pocker.monitor.detach.stateDir')).toBe(JSON.stringify(join(root, 'containers', id)));
    await until('the container to exit', () => containerState(root, id).status === 'exited');
    // A start hands over a new document (attach client this time) and config.json is that one.
    const s = await cli(['--root', root, 'start', '-a', 'doc'], { root });
    expect(s.code).toBe(3);
    expect(jq('.pocker.monitor.detach.attachFd')).toBe('true');
    expect(jq('.pocker.container.name')).toBe('"doc"');
  });
});
