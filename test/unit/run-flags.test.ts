// Docker's run flags of issue 12 (no root, no kernel objects): their parsers (Docker's syntax and
// messages: docker/cli opts, go-units), their validation in resolveRunOptions, the CLI mapping, and
// what buildSpec makes of them.
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import type { CgroupPlan } from '../../lib/cgroup/index.js';
import { toOciResources } from '../../lib/cgroup/resources.js';
import { toRunOptions } from '../../lib/cli/run.js';
import { parseDevice, parseLabelFile, parseMountFlag, parseUlimit, resolveRunOptions, type ResolvedRunConfig } from '../../lib/runtime/options.js';
import { resolveForStart } from '../../lib/runtime/namespaces.js';
import { buildSpec, type SpecLayout } from '../../lib/spec/build.js';
import type { RunOptions } from '../../lib/types.js';
import { thrown } from './thrown.js';

const tmp = mkdtempSync(join(tmpdir(), 'pocker-run-flags-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ROOT = join(tmp, 'root');
const base: RunOptions = { image: 'host', cmd: ['true'], root: ROOT };
const resolve = (o: RunOptions): ResolvedRunConfig => resolveRunOptions({ ...base, ...o }, {});
const message = (o: RunOptions): string => {
  const e = thrown(() => resolve(o));
  expect(e.code).toBe('ERR_POCKER_INVALID');
  expect(e.step).toBe('validate');
  return e.message;
};

const plan: CgroupPlan = { version: 1, leafDirs: [], v1Tasks: [], statsFiles: {} };
function layout(cfg: ResolvedRunConfig): SpecLayout {
  const dir = join(cfg.root, 'containers', cfg.id);
  return { dir, lowers: ['/'], scratchUpper: true, upper: `${dir}/scratch`, work: '', rootfs: `${dir}/rootfs` };
}
const spec = (o: RunOptions) => {
  const cfg = resolve(o);
  return buildSpec(resolveForStart(cfg, ['/']), layout(cfg), plan);
};

describe('--ulimit (go-units ParseUlimit)', () => {
  it('NAME=SOFT[:HARD], hard defaulting to soft, -1 unlimited', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=50')).toEqual({ type: 'RLIMIT_NPROC', soft: 50, hard: 50 });
    expect(parseUlimit('core=-1')).toEqual({ type: 'RLIMIT_CORE', soft: -1, hard: -1 });
    expect(parseUlimit('core=0:-1')).toEqual({ type: 'RLIMIT_CORE', soft: 0, hard: -1 });
    expect(parseUlimit({ name: 'memlock', soft: 65536 })).toEqual({ type: 'RLIMIT_MEMLOCK', soft: 65536, hard: 65536 });
  });

  it("refuses what Docker refuses, in Docker's words", () => {
    expect(thrown(() => parseUlimit('nofile')).message).toBe('invalid ulimit argument: nofile');
    expect(thrown(() => parseUlimit('files=1')).message).toBe('invalid ulimit type: files');
    expect(thrown(() => parseUlimit('nofile=1:2:3')).message).toBe('too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`');
    expect(thrown(() => parseUlimit('nofile=2048:1024')).message).toBe('ulimit soft limit must be less than or equal to hard limit: 2048 > 1024');
    expect(thrown(() => parseUlimit('core=-1:10')).message).toBe('ulimit soft limit must be less than or equal to hard limit: unlimited > 10');
    expect(thrown(() => parseUlimit('nofile=abc')).message).toMatch(/invalid syntax/);
    expect(thrown(() => parseUlimit('nofile=-1')).message).toMatch(/at most \d+ open files \(fs.nr_open\)/);
    expect(thrown(() => parseUlimit('core=-2')).message).toMatch(/-1 for unlimited/);
  });

  it('the last of one name wins; they become process.rlimits', () => {
    const s = spec({ ulimits: ['nofile=10:20', 'core=0', 'nofile=100:200'] });
    expect(s.process!.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ]);
  });
});

describe('--device (docker/cli ParseDevice)', () => {
  it('HOST, HOST:CONTAINER, HOST:PERMS, HOST:CONTAINER:PERMS; the node is bound at the container path', () => {
    const st = statSync('/dev/null');
    expect(st.isCharacterDevice()).toBe(true);
    expect(parseDevice('/dev/null')).toEqual([{ pathOnHost: '/dev/null', pathInContainer: '/dev/null', cgroupPermissions: 'rwm', type: 'c', major: 1, minor: 3 }]);
    expect(parseDevice('/dev/null:/dev/mynull')[0]).toMatchObject({ pathInContainer: '/dev/mynull', cgroupPermissions: 'rwm' });
    expect(parseDevice('/dev/null:rw')[0]).toMatchObject({ pathInContainer: '/dev/null', cgroupPermissions: 'rw' });
    expect(parseDevice('/dev/null:/x/n:r')[0]).toMatchObject({ pathInContainer: '/x/n', cgroupPermissions: 'r' });
    expect(parseDevice({ pathOnHost: '/dev/zero', pathInContainer: '/dev/z' })[0]).toMatchObject({ major: 1, minor: 5, pathInContainer: '/dev/z' });
    // A symlink to a device: its target is bound.
    symlinkSync('/dev/null', join(tmp, 'null-link'));
    expect(parseDevice(`${join(tmp, 'null-link')}:/dev/n2`)[0]).toMatchObject({ pathOnHost: '/dev/null', pathInContainer: '/dev/n2' });
    const s = spec({ devices: ['/dev/null:/dev/mynull'] });
    expect(s.mounts!.at(-1)).toEqual({ destination: '/dev/mynull', type: 'bind', source: '/dev/null', options: ['bind', 'nosuid', 'noexec'] });
  });

  it('a directory brings the devices under it', () => {
    const dir = join(tmp, 'devdir');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'plain'), '');
    // No mknod here (no root needed): a directory of no devices gives none.
    expect(parseDevice(`${dir}:/dev/d`)).toEqual([]);
  });

  it('refuses bad input before anything is made', () => {
    expect(thrown(() => parseDevice('/dev/nope-xyz')).message).toBe('error gathering device information while adding custom device "/dev/nope-xyz": no such file or directory');
    expect(thrown(() => parseDevice(join(tmp, 'null-link-none'))).message).toMatch(/no such file or directory/);
    writeFileSync(join(tmp, 'regular'), '');
    expect(thrown(() => parseDevice(join(tmp, 'regular'))).message).toMatch(/not a device node$/);
    expect(thrown(() => parseDevice('/dev/null:dev/x')).message).toBe('bad format for path: dev/x');
    expect(thrown(() => parseDevice('/dev/null:/dev/x:rwx')).message).toBe('invalid device mode: rwx');
    expect(thrown(() => parseDevice('/dev/null:/dev/x:rr')).message).toBe('invalid device mode: rr');
    expect(thrown(() => parseDevice('/dev/null:/proc/x')).message).toMatch(/cannot mount on \/proc/);
    expect(thrown(() => parseDevice('a:b:c:d')).message).toBe('invalid device specification: a:b:c:d');
    expect(message({ devices: ['/dev/null:/dev/x', '/dev/zero:/dev/x'] })).toBe('Duplicate mount point: /dev/x');
  });
});

describe('--mount (docker/cli opts/mount.go)', () => {
  it('parses the CSV syntax with its aliases; type defaults to volume', () => {
    expect(parseMountFlag('type=bind,src=/a,dst=/b,ro')).toEqual({ type: 'bind', source: '/a', target: '/b', readonly: true });
    expect(parseMountFlag('type=bind,source=/a,target=/b,readonly=false,bind-propagation=rshared')).toEqual({ type: 'bind', source: '/a', target: '/b', readonly: false, bindPropagation: 'rshared' });
    expect(parseMountFlag('destination=/v')).toEqual({ type: 'volume', target: '/v' });
    expect(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700')).toEqual({ type: 'tmpfs', target: '/t', tmpfsSize: '1m', tmpfsMode: 0o700 });
    expect(parseMountFlag('type=bind,"src=/a,b",dst=/c')).toEqual({ type: 'bind', source: '/a,b', target: '/c' });
  });

  it("refuses what Docker refuses, in Docker's words", () => {
    expect(thrown(() => parseMountFlag('type=bind,src=/a')).message).toBe('target is required');
    expect(thrown(() => parseMountFlag('type=bind,src=/a,dst=/b,foo=1')).message).toBe("unexpected key 'foo' in 'foo=1'");
    expect(thrown(() => parseMountFlag('type=bind,src=/a,dst=/b,oops')).message).toBe("invalid field 'oops' must be a key=value pair");
    expect(thrown(() => parseMountFlag('type=npipe,dst=/b')).message).toMatch(/invalid mount type "npipe"/);
    expect(thrown(() => parseMountFlag('type=bind,src=/a,dst=/b,volume-nocopy')).message).toBe("cannot mix 'volume-*' options with mount type 'bind'");
    expect(thrown(() => parseMountFlag('type=volume,dst=/b,volume-driver=x')).message).toMatch(/only local volumes without options/);
    expect(message({ mounts: ['type=bind,src=/nonexistent-xyz,dst=/b'] })).toBe('invalid mount config for type "bind": bind source path does not exist: /nonexistent-xyz');
    expect(message({ mounts: ['type=bind,dst=/b'] })).toBe('invalid mount config for type "bind": field Source must not be empty');
    expect(message({ mounts: ['type=bind,src=rel,dst=/b'] })).toMatch(/mount path must be absolute/);
    expect(message({ mounts: ['type=tmpfs,src=x,dst=/b'] })).toBe('invalid mount config for type "tmpfs": field Source must not be specified');
    expect(message({ mounts: ['type=volume,src=/abs,dst=/b'] })).toMatch(/^invalid mount config for type "volume": a volume's source is a volume name, not a path/);
    expect(message({ mounts: ['type=volume,src=bad$name,dst=/b'] })).toMatch(/includes invalid characters for a local volume name/);
    expect(message({ mounts: ['type=tmpfs,dst=/b,bind-propagation=shared'] })).toBe('invalid mount config for type "tmpfs": field BindOptions must not be specified');
    expect(message({ mounts: ['type=bind,src=/tmp,dst=/b,bind-propagation=weird'] })).toMatch(/invalid bind-propagation "weird"/);
    expect(message({ mounts: ['type=tmpfs,dst=/proc/x'] })).toMatch(/cannot mount on \/proc/);
    expect(message({ volumes: ['/tmp:/same'], mounts: ['type=tmpfs,dst=/same'] })).toBe('Duplicate mount point: /same');
  });

  it('bind and tmpfs become the mounts -v and --tmpfs make; volume an anonymous volume of the store', () => {
    const cfg = resolve({ mounts: ['type=bind,src=/tmp,dst=/b,ro,bind-propagation=rslave', 'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770', 'type=volume,dst=/v'] });
    const anon = cfg.mounts[2]!.volume!.name;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    expect(cfg.mounts).toEqual([
      { kind: 'bind', src: '/tmp', dst: '/b', readonly: true, data: '', propagation: 'rslave' },
      { kind: 'tmpfs', src: 'tmpfs', dst: '/t', readonly: false, data: 'nosuid,nodev,size=1048576,mode=1770' },
      { kind: 'volume', src: join(ROOT, 'volumes', anon, '_data'), dst: '/v', readonly: false, data: '', volume: { name: anon, anonymous: true } },
    ]);
    const s = buildSpec(cfg, layout(cfg), plan);
    expect(s.mounts!.find((m) => m.destination === '/b')!.options).toEqual(['rbind', 'nodev', 'rnodev', 'ro', 'rro', 'rslave']);
    expect(s.pocker!.volumes).toEqual([{ source: join(ROOT, 'volumes', anon, '_data'), destination: '/v' }]);
  });
});

describe('--label, --label-file', () => {
  it("KEY=VALUE or KEY (empty value); files first, then the flags (Docker's order: a flag wins)", () => {
    const file = join(tmp, 'labels');
    writeFileSync(file, '# c\n\n  a=from-file\nb=2\nflag\n');
    expect(parseLabelFile('# c\n\nx=1\n  y\n')).toEqual(['x=1', 'y']);
    expect(resolve({ labelFile: [file], labels: ['a=flag', 'c=x=y'] }).labels).toEqual({ a: 'flag', b: '2', flag: '', c: 'x=y' });
    expect(resolve({ labels: { k: 'v' } }).labels).toEqual({ k: 'v' });
    expect(resolve({}).labels).toBeUndefined();
    expect(message({ labels: ['=x'] })).toBe('invalid label "=x": empty name');
    expect(message({ labelFile: [join(tmp, 'none')] })).toBe(`open ${join(tmp, 'none')}: no such file or directory`);
  });
});

describe('--stop-signal, --stop-timeout', () => {
  it('names, short names and numbers; timeouts in whole seconds from -1', () => {
    expect(resolve({ stopSignal: 'USR1' }).stopSignal).toBe('SIGUSR1');
    expect(resolve({ stopSignal: 'sigquit' }).stopSignal).toBe('SIGQUIT');
    expect(resolve({ stopSignal: '9' }).stopSignal).toBe('SIGKILL');
    expect(resolve({ stopSignal: 'SIGRTMIN+3' }).stopSignal).toBe('SIGRTMIN+3');
    expect(message({ stopSignal: 'NOPE' })).toBe('invalid signal: NOPE');
    expect(message({ stopSignal: '65' })).toBe('invalid signal: 65');
    expect(resolve({ stopTimeout: 3 }).stopTimeout).toBe(3);
    expect(resolve({ stopTimeout: -1 }).stopTimeout).toBe(-1);
    expect(message({ stopTimeout: 1.5 })).toMatch(/^invalid stop timeout 1.5/);
    expect(message({ stopTimeout: -2 })).toMatch(/^invalid stop timeout -2/);
  });
});

describe('--sysctl (Docker ValidateSysctl and the namespace rules)', () => {
  it('the IPC keys, fs.mqueue.* and net.* only, and not in a namespace shared with the host', () => {
    expect(resolve({ sysctls: ['kernel.shmmax=1000', 'net.ipv4.ip_forward=1', 'fs.mqueue.msg_max=20'] }).sysctls).toEqual({
      'kernel.shmmax': '1000',
      'net.ipv4.ip_forward': '1',
      'fs.mqueue.msg_max': '20',
    });
    expect(spec({ sysctls: { 'kernel.sem': '250 32000 32 128' } }).linux!.sysctl).toEqual({ 'kernel.sem': '250 32000 32 128' });
    expect(message({ sysctls: ['kernel.pid_max=10'] })).toMatch(/^sysctl 'kernel.pid_max=10' is not whitelisted/);
    expect(message({ sysctls: ['vm.swappiness=1'] })).toMatch(/is not whitelisted/);
    expect(message({ sysctls: ['kernel.shmmax'] })).toBe('invalid sysctl "kernel.shmmax": expected KEY=VALUE');
    expect(message({ sysctls: ['net.ipv4.ip_forward=1'], network: 'host' })).toMatch(/not allowed in the host's network namespace/);
    expect(message({ sysctls: ['kernel.shmmax=1'], ipc: 'host' })).toMatch(/not allowed in the host's IPC namespace/);
  });
});

describe('--group-add', () => {
  it('gids and names (names resolved in the rootfs /etc/group at each start)', () => {
    const rootfs = join(tmp, 'grp-rootfs');
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\naudio:x:29:\nstaff:x:50:me\n');
    const cfg = resolve({ groupAdd: ['audio', 1234, '50'] });
    expect(cfg.groupAdd).toEqual(['audio', '1234', '50']);
    const ready = resolveForStart(cfg, [rootfs]);
    expect(ready.groupAddGids).toEqual([29, 1234, 50]);
    expect(buildSpec(ready, layout(cfg), plan).process!.user.additionalGids).toEqual([29, 1234, 50]);
    expect(thrown(() => resolveForStart(resolve({ groupAdd: ['nogroup-xyz'] }), [rootfs])).message).toBe('Unable to find group nogroup-xyz: no matching entries in group file');
    expect(message({ groupAdd: ['bad name'] })).toMatch(/^invalid group "bad name"/);
    expect(message({ groupAdd: [2 ** 32] })).toMatch(/^invalid group 4294967296/);
  });
});

describe('--pid, --ipc, --uts, --shm-size', () => {
  it('host leaves the namespace out; the default keeps a new one', () => {
    const ns = (o: RunOptions) => spec(o).linux!.namespaces!.map((n) => n.type);
    expect(ns({})).toEqual(expect.arrayContaining(['pid', 'ipc', 'uts']));
    expect(ns({ pid: 'host' })).not.toContain('pid');
    expect(ns({ ipc: 'host' })).not.toContain('ipc');
    expect(ns({ ipc: 'shareable' })).toContain('ipc');
    const uts = spec({ uts: 'host' });
    expect(uts.linux!.namespaces!.map((n) => n.type)).not.toContain('uts');
    expect(uts.hostname).toBeUndefined();
    expect(uts.process!.env).toContain(`HOSTNAME=${hostname()}`);
  });

  it('/dev/shm: --shm-size sets its size, --ipc host binds the host one, none has none', () => {
    const shm = (o: RunOptions) => spec(o).mounts!.find((m) => m.destination === '/dev/shm');
    expect(shm({})!.options).toContain('size=65536k');
    expect(shm({ shmSize: '128m' })!.options).toEqual(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=131072k']);
    expect(shm({ ipc: 'host' })).toEqual({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
    expect(shm({ ipc: 'none' })).toBeUndefined();
    expect(message({ shmSize: 'lots' })).toMatch(/^invalid shm size "lots"/);
    expect(message({ shmSize: 0 })).toMatch(/must be more than 0/);
    expect(message({ shmSize: '1m', ipc: 'host' })).toMatch(/does not apply with --ipc host/);
  });

  it('refuses unknown modes and conflicts', () => {
    expect(message({ pid: 'private' as never })).toBe('invalid --pid mode "private": expected host, container:NAME|ID');
    expect(message({ ipc: 'public' as never })).toBe('invalid --ipc mode "public": expected private, shareable, host, none, container:NAME|ID');
    expect(message({ uts: 'container:x' as 'host' })).toBe('invalid --uts mode "container:x": expected host');
    expect(message({ uts: 'host', hostname: 'h' })).toBe('Conflicting options: hostname and the UTS mode');
    expect(message({ ipc: 'container:' })).toMatch(/invalid --ipc mode "container:"/);
  });

  it('container:X needs X (a container of the root) when the container starts', () => {
    const cfg = resolve({ ipc: 'container:nosuch' });
    expect(thrown(() => resolveForStart(cfg, ['/'])).message).toBe('No such container: nosuch (--ipc container:nosuch)');
    // Not resolved: buildSpec refuses to guess.
    expect(thrown(() => buildSpec(cfg, layout(cfg), plan)).message).toMatch(/not resolved/);
  });
});

describe('--memory-reservation, --oom-kill-disable', () => {
  it("Docker's minimum and its order against -m; both become linux.resources.memory", () => {
    const r = resolve({ memory: '64m', memoryReservation: '32m', oomKillDisable: true }).resources;
    expect(r).toMatchObject({ memory: 64 << 20, memoryReservation: 32 << 20, oomKillDisable: true });
    expect(toOciResources(r).memory).toEqual({ limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, disableOOMKiller: true });
    expect(toOciResources(resolve({ memoryReservation: '10m' }).resources).memory).toEqual({ reservation: 10 << 20 });
    expect(message({ memoryReservation: '1m' })).toBe('invalid memory reservation "1m": Minimum memory reservation allowed is 6MB');
    expect(message({ memory: '16m', memoryReservation: '32m' })).toBe('Minimum memory limit can not be less than memory reservation limit, see usage');
    expect(message({ oomKillDisable: 'yes' as never })).toMatch(/^invalid oomKillDisable "yes"/);
  });
});

describe('the CLI flags map onto RunOptions', () => {
  it('each flag given appears, as given', () => {
    const o = toRunOptions('alpine', [], {
      label: ['a=b'],
      labelFile: ['/f'],
      stopSignal: 'USR1',
      stopTimeout: 3,
      ulimit: ['nofile=1:2'],
      shmSize: '1g',
      device: ['/dev/fuse'],
      groupAdd: ['audio'],
      sysctl: ['net.x=1'],
      oomKillDisable: true,
      memoryReservation: '64m',
      pid: 'host',
      ipc: 'shareable',
      uts: 'host',
      mount: ['type=tmpfs,dst=/t'],
    });
    expect(o).toMatchObject({
      labels: ['a=b'],
      labelFile: ['/f'],
      stopSignal: 'USR1',
      stopTimeout: 3,
      ulimits: ['nofile=1:2'],
      shmSize: '1g',
      devices: ['/dev/fuse'],
      groupAdd: ['audio'],
      sysctls: ['net.x=1'],
      oomKillDisable: true,
      memoryReservation: '64m',
      pid: 'host',
      ipc: 'shareable',
      uts: 'host',
      mounts: ['type=tmpfs,dst=/t'],
    });
    const none = toRunOptions('alpine', [], {});
    for (const k of ['labels', 'stopSignal', 'ulimits', 'devices', 'mounts', 'pid', 'ipc', 'uts']) expect(none).not.toHaveProperty(k);
  });
});
