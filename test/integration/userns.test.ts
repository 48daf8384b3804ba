// User namespaces for root (issue 13, item 4), through the CLI with real containers: `--userns=auto`
// gives each container its own range of the `pocker` entries of /etc/subuid and /etc/subgid
// (disjoint, recorded, released with the container), root inside is a mapped id outside, the
// image's owners are kept (idmapped layers, shared: no chowned copy), files made in a volume carry
// mapped owners on the host, `--uidmap`/`--gidmap` give explicit maps, exec joins the namespace, and
// bad maps are refused before anything is made.
//
// /etc/subuid and /etc/subgid get a `pocker` line only when they have none, and exactly that line
// is taken out again afterwards (the file removed if the test made it): the files end as they began.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseSubids } from '../../lib/userns/index.js';
import { cleanupAll, existingCgroupParentDirs, hostBusybox, isRoot, pk, rootTracker, tempDir, testCgroupParent } from '../helpers.js';
import { buildOciLayout, type LayerSpec } from '../image-builder.js';
import { gnuTar } from '../tar.js';

const busybox = hostBusybox();
const roots = rootTracker();
const lines = (s: string) => s.split('\n').filter(Boolean);

/** The range the test adds when there is no `pocker` entry (4 auto ranges of 65536). */
const TEST_START = 1_500_000_000;
const TEST_COUNT = 4 * 65536;

interface Added {
  file: string;
  text: string;
  created: boolean;
}

/** Appends a `pocker` line to a subid file unless it has one; returns what to take out again. */
function addSubid(file: string): Added | null {
  const had = existsSync(file);
  const before = had ? readFileSync(file, 'utf8') : '';
  if (parseSubids(before, 'pocker').length > 0) return null;
  const text = `${before && !before.endsWith('\n') ? '\n' : ''}pocker:${TEST_START}:${TEST_COUNT}\n`;
  appendFileSync(file, text);
  return { file, text, created: !had };
}

/** Takes the added line out (whatever else was written meanwhile stays). */
function removeSubid(a: Added): void {
  const now = readFileSync(a.file, 'utf8');
  const at = now.lastIndexOf(a.text);
  const out = at < 0 ? now : now.slice(0, at) + now.slice(at + a.text.length);
  if (a.created && out === '') unlinkSync(a.file);
  else writeFileSync(a.file, out);
}

/** An image with owners other than root, a whiteout and (unless `opaque` is false) an opaque dir. */
function image(dir: string, opaque = true): string {
  const base: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n',
    'etc/group': 'root:x:0:\nuser:x:1000:\n',
    'etc/gone': 'deleted by the upper layer\n',
    'home/user': { type: 'dir', mode: 0o755, uid: 1000, gid: 1000 },
    'home/user/file': { type: 'file', content: 'mine\n', uid: 1000, gid: 1000 },
    'var/cache/old': 'hidden by the opaque dir above\n',
    tmp: { type: 'dir', mode: 0o1777 },
  };
  for (const a of ['sh', 'cat', 'echo', 'id', 'ls', 'test', 'stat', 'touch', 'chown', 'readlink', 'sleep', 'mount', 'grep', 'mknod']) {
    base[`bin/${a}`] = { type: 'symlink', target: 'busybox' };
  }
  const upper: LayerSpec = {
    'etc/gone': { type: 'whiteout' },
    ...(opaque ? { 'var/cache': { type: 'opaque' as const } } : {}),
    'srv/hello': { type: 'file', content: 'hello\n', uid: 2000, gid: 3000 },
  };
  buildOciLayout(dir, { layers: [base, upper], config: { config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }, refName: 'userns-test:1' });
  return gnuTar(dir, { file: join(tempDir('userns-tar'), 'image.tar') });
}

/** The first line of a map (`0:HOST:SIZE`) as numbers. */
function firstMap(s: string): { containerID: number; hostID: number; size: number } {
  const [c, h, n] = s.split(':').map(Number);
  return { containerID: c!, hostID: h!, size: n! };
}

async function inspectOf(root: string, id: string): Promise<{ State: { Pid: number }; HostConfig: { UsernsMode: string; IDMappings: { UidMap: string[]; GidMap: string[] } } }> {
  const r = await pk(root, 'inspect', id);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout)[0];
}

describe.skipIf(!isRoot || !busybox)('user namespaces for root: --userns=auto, --uidmap/--gidmap', () => {
  let root: string;
  let imageTar: string;
  const added: Added[] = [];
  let uidPool: Array<{ start: number; count: number }>;
  let gidPool: Array<{ start: number; count: number }>;

  beforeAll(async () => {
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      const a = addSubid(f);
      if (a) added.push(a);
    }
    uidPool = parseSubids(readFileSync('/etc/subuid', 'utf8'), 'pocker');
    gidPool = parseSubids(readFileSync('/etc/subgid', 'utf8'), 'pocker');
    root = roots.newRoot();
    imageTar = image(tempDir('userns-image'));
    const loaded = await pk(root, 'load', '-q', '-i', imageTar);
    expect(loaded.stderr).toBe('');
  });

  afterAll(async () => {
    await roots.removeAll();
    for (const a of added) removeSubid(a);
    await cleanupAll();
  });

  const inPool = (pool: Array<{ start: number; count: number }>, start: number, size: number) =>
    pool.some((r) => start >= r.start && start + size <= r.start + r.count);

  it('two --userns=auto containers: disjoint ranges, root inside, mapped ids outside, image owners kept, layers shared', async () => {
    const layersBefore = readdirSync(join(root, 'layers')).sort();
    const a = await pk(root, 'run', '-d', '--userns=auto', '-m', '64m', 'userns-test:1', 'sleep', '600');
    const b = await pk(root, 'run', '-d', '--userns', 'auto', 'userns-test:1', 'sleep', '600');
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(b).toMatchObject({ code: 0, stderr: '' });
    const ids = [a.stdout.trim(), b.stdout.trim()];
    const info = await Promise.all(ids.map((id) => inspectOf(root, id)));
    const maps = info.map((i) => {
      expect(i.HostConfig.UsernsMode).toBe('auto');
      expect(i.HostConfig.IDMappings.UidMap).toHaveLength(1);
      return { uid: firstMap(i.HostConfig.IDMappings.UidMap[0]!), gid: firstMap(i.HostConfig.IDMappings.GidMap[0]!) };
    });
    for (const m of maps) {
      expect(m.uid).toMatchObject({ containerID: 0, size: 65536 });
      expect(inPool(uidPool, m.uid.hostID, 65536)).toBe(true);
      expect(inPool(gidPool, m.gid.hostID, 65536)).toBe(true);
    }
    // Disjoint ranges.
    const [ua, ub] = [maps[0]!.uid.hostID, maps[1]!.uid.hostID];
    expect(ua + 65536 <= ub || ub + 65536 <= ua).toBe(true);
    const [ga, gb] = [maps[0]!.gid.hostID, maps[1]!.gid.hostID];
    expect(ga + 65536 <= gb || gb + 65536 <= ga).toBe(true);

    for (const [i, id] of ids.entries()) {
      const pid = info[i]!.State.Pid;
      const m = maps[i]!;
      // The host sees the map and the mapped ids.
      expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number)).toEqual([0, m.uid.hostID, 65536]);
      expect(readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/).map(Number)).toEqual([0, m.gid.hostID, 65536]);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${m.uid.hostID}\\s`, 'm'));
      expect(status).toMatch(new RegExp(`^Gid:\\s+${m.gid.hostID}\\s`, 'm'));
      // Inside: root, the image's owners and its whiteout and opaque dir as in the image.
      const inside = await pk(root, 'exec', id, 'sh', '-c',
        'id -u; id -g; stat -c %u:%g /home/user/file /srv/hello /etc/passwd; test -e /etc/gone && echo present || echo gone; ls /var/cache | wc -l; readlink /proc/self/ns/user');
      expect(inside.stderr).toBe('');
      const out = lines(inside.stdout);
      expect(out.slice(0, 7)).toEqual(['0', '0', '1000:1000', '2000:3000', '0:0', 'gone', '0']);
      // exec joined the container's user namespace (the host's view of its init's).
      expect(out[7]).toBe(readlinkSync(`/proc/${pid}/ns/user`));
      expect(out[7]).not.toBe(readlinkSync('/proc/self/ns/user'));
      // From the host, the files of its rootfs carry the mapped owners.
      expect(statSync(`/proc/${pid}/root/home/user/file`)).toMatchObject({ uid: m.uid.hostID + 1000, gid: m.gid.hostID + 1000 });
      expect(statSync(`/proc/${pid}/root/srv/hello`)).toMatchObject({ uid: m.uid.hostID + 2000, gid: m.gid.hostID + 3000 });
      // Its cgroups are the test's (the monitor moved it: its root could not write the host's cgroup files).
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/${testCgroupParent()}/${id}`);
    }
    // A file made inside lands in the container's upper dir with mapped owners.
    const made = await pk(root, 'exec', ids[0]!, 'sh', '-c', 'echo x > /made && touch /made-by-user && chown 1000:1000 /made-by-user');
    expect(made).toMatchObject({ code: 0, stderr: '' });
    expect(statSync(join(root, 'containers', ids[0]!, 'upper', 'made'))).toMatchObject({ uid: ua, gid: ga });
    expect(statSync(join(root, 'containers', ids[0]!, 'upper', 'made-by-user'))).toMatchObject({ uid: ua + 1000, gid: ga + 1000 });

    // The layers are shared: both containers see the very inode of the store's layer (idmapped
    // mounts, no chowned copy), and the store holds no more layer directories than before. Where
    // the store's filesystem cannot be mounted idmapped (older kernels' tmpfs: the v2 guest),
    // inspect says so and each container has its own chowned copy (the ramfs test below shows it
    // on any kernel).
    const layerBusybox = readdirSync(join(root, 'layers')).map((l) => join(root, 'layers', l, 'bin', 'busybox')).find((p) => existsSync(p))!;
    const ino = statSync(layerBusybox).ino;
    const how = await Promise.all(ids.map(async (id) => ((await inspectOf(root, id)) as { GraphDriver?: { Data: { UsernsLayers: string } } }).GraphDriver?.Data.UsernsLayers));
    expect(how[0]).toBe(how[1]);
    for (const [i, id] of ids.entries()) {
      const seen = statSync(`/proc/${info[i]!.State.Pid}/root/bin/busybox`).ino;
      if (how[i] === 'idmapped') {
        expect(seen).toBe(ino);
        expect(existsSync(join(root, 'containers', id, 'idmap-lowers'))).toBe(false);
      } else {
        expect(how[i]).toBe('copied');
        expect(seen).not.toBe(ino);
      }
    }
    expect(statSync(layerBusybox).uid).toBe(0);
    expect(readdirSync(join(root, 'layers')).sort()).toEqual(layersBefore);

    // A range is released with its container: the next auto container gets the first one again.
    const first = Math.min(ua, ub);
    const holder = ids[ua === first ? 0 : 1]!;
    expect(await pk(root, 'rm', '-f', holder)).toMatchObject({ code: 0 });
    const c = await pk(root, 'run', '--rm', '--userns=auto', 'userns-test:1', 'cat', '/proc/self/uid_map');
    expect(c.stderr).toBe('');
    expect(c.stdout.trim().split(/\s+/).map(Number)).toEqual([0, first, 65536]);
    expect(await pk(root, 'rm', '-f', ids[ua === first ? 1 : 0]!)).toMatchObject({ code: 0 });
  });

  it('a volume: files made inside appear on the host with mapped owners; a host-network container gets the host /sys read-only', async () => {
    const r = await pk(root, 'run', '--rm', '--userns=auto', '-v', 'data:/data', 'userns-test:1', 'sh', '-c',
      'echo hi > /data/f && touch /data/g && chown 1000:1000 /data/g && stat -c %u:%g /data /data/f /data/g && cat /proc/self/uid_map');
    expect(r.stderr).toBe('');
    const out = lines(r.stdout);
    expect(out.slice(0, 3)).toEqual(['0:0', '0:0', '1000:1000']);
    const host = Number(out[3]!.trim().split(/\s+/)[1]);
    expect(inPool(uidPool, host, 65536)).toBe(true);
    const data = join(root, 'volumes', 'data', '_data');
    expect(statSync(data).uid).toBe(host);
    expect(statSync(join(data, 'f')).uid).toBe(host);
    expect(statSync(join(data, 'g')).uid).toBe(host + 1000);

    // The host's network namespace is not the container user namespace's: no fresh sysfs there,
    // the host's bound read-only (as runc does).
    const net = await pk(root, 'run', '--rm', '--userns=auto', '--network', 'host', 'userns-test:1', 'sh', '-c',
      'test -d /sys/class/net && echo sys; grep " /sys " /proc/self/mounts | grep -c "[ ,]ro[ ,]"');
    expect(net.stderr).toBe('');
    expect(lines(net.stdout)).toEqual(['sys', '1']);
  });

  it('--uidmap/--gidmap: explicit maps (several lines; gids default to the uid maps); mknod is refused inside', async () => {
    const r = await pk(root, 'run', '--rm', '--uidmap', '0:1600000000:1000', '--uidmap', '1000:1600100000:1', '--gidmap', '0:1600200000:2000',
      'userns-test:1', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /home/user/file; mknod /tmp/n c 1 3 2>/dev/null && echo made || echo refused');
    expect(r.stderr).toBe('');
    expect(lines(r.stdout).map((l) => l.trim().split(/\s+/).join(' '))).toEqual([
      '0 1600000000 1000', '1000 1600100000 1', '0 1600200000 2000', '1000:1000', 'refused',
    ]);
    const same = await pk(root, 'run', '--rm', '--uidmap', '0:1600300000:65536', 'userns-test:1', 'cat', '/proc/self/gid_map');
    expect(same.stdout.trim().split(/\s+/).map(Number)).toEqual([0, 1600300000, 65536]);
    // An image owner the map leaves out is nobody inside (the kernel's overflow id).
    const narrow = await pk(root, 'run', '--rm', '--uidmap', '0:1600400000:10', 'userns-test:1', 'stat', '-c', '%u', '/home/user/file');
    expect(narrow).toMatchObject({ code: 0, stdout: '65534\n' });
  });

  it('layers on a filesystem that cannot be mounted idmapped (ramfs): the container gets its own chowned copy, shown by inspect', async () => {
    const ram = tempDir('userns-ramfs');
    execFileSync('mount', ['-t', 'ramfs', '-o', 'mode=0700', 'pocker-test-ramfs', ram]);
    try {
      // (ramfs has no xattrs, so no opaque dir: the image without one.)
      expect(await pk(ram, 'load', '-q', '-i', image(tempDir('userns-image-ramfs'), false))).toMatchObject({ code: 0, stderr: '' });
      const d = await pk(ram, 'run', '-d', '--userns=auto', 'userns-test:1', 'sleep', '600');
      expect(d).toMatchObject({ code: 0, stderr: '' });
      const id = d.stdout.trim();
      const info = (await inspectOf(ram, id)) as Awaited<ReturnType<typeof inspectOf>> & { GraphDriver?: { Data: { UsernsLayers: string } } };
      expect(info.GraphDriver?.Data.UsernsLayers).toBe('copied');
      const host = firstMap(info.HostConfig.IDMappings.UidMap[0]!).hostID;
      const inside = await pk(ram, 'exec', id, 'sh', '-c', 'id -u; stat -c %u:%g /home/user/file /srv/hello; test -e /etc/gone && echo present || echo gone');
      expect(inside.stderr).toBe('');
      expect(lines(inside.stdout)).toEqual(['0', '1000:1000', '2000:3000', 'gone']);
      // The copies are the container's, owners shifted; the store's layers keep theirs.
      const copies = join(ram, 'containers', id, 'idmap-lowers');
      const copied = readdirSync(copies).filter((n) => !n.startsWith('.')).map((n) => join(copies, n, 'home', 'user', 'file')).find((p) => existsSync(p))!;
      expect(statSync(copied).uid).toBe(host + 1000);
      const layer = readdirSync(join(ram, 'layers')).map((l) => join(ram, 'layers', l, 'home', 'user', 'file')).find((p) => existsSync(p))!;
      expect(statSync(layer).uid).toBe(1000);
      // Started again, it reuses its copy.
      expect(await pk(ram, 'restart', '-t', '0', id)).toMatchObject({ code: 0 });
      expect((await pk(ram, 'exec', id, 'stat', '-c', '%u', '/home/user/file')).stdout).toBe('1000\n');
      expect(await pk(ram, 'rm', '-f', id)).toMatchObject({ code: 0 });
      expect(existsSync(join(ram, 'containers', id))).toBe(false);
      // A created container has not chosen yet; started on a store that can be idmapped (this
      // machine's; not the v2 guest's tmpfs), it is reported idmapped, with no copy.
      const n = await pk(root, 'create', '--userns=auto', 'userns-test:1', 'id', '-u');
      expect((await inspectOf(root, n.stdout.trim()) as { GraphDriver?: { Data: { UsernsLayers: string } } }).GraphDriver?.Data.UsernsLayers).toBe('pending');
      expect(await pk(root, 'start', '-a', n.stdout.trim())).toMatchObject({ code: 0, stdout: '0\n' });
      const how = (await inspectOf(root, n.stdout.trim()) as { GraphDriver?: { Data: { UsernsLayers: string } } }).GraphDriver?.Data.UsernsLayers;
      expect(how).toBe(existsSync(join(root, 'containers', n.stdout.trim(), 'idmap-lowers')) ? 'copied' : 'idmapped');
      if (!process.env.POCKER_TEST_IN_VM) expect(how).toBe('idmapped');
      expect(await pk(root, 'rm', n.stdout.trim())).toMatchObject({ code: 0 });
    } finally {
      await pk(ram, 'rm', '-f', ...lines((await pk(ram, 'ps', '-aq', '--no-trunc')).stdout));
      execFileSync('umount', [ram]);
    }
  });

  it('bad maps and conflicting flags are refused before anything is made (exit 125, Docker-style message)', async () => {
    const fresh = roots.newRoot();
    const cgroupsBefore = existingCgroupParentDirs().flatMap((d) => readdirSync(d)).sort();
    const cases: Array<[string[], string]> = [
      [['--uidmap', '0:100000'], 'invalid --uidmap "0:100000": expected CONTAINER:HOST:SIZE (three whole numbers)'],
      [['--uidmap', '0:100000:0'], 'invalid --uidmap "0:100000:0": the size must be at least 1'],
      [['--uidmap', '1:100000:10'], "invalid --uidmap: container id 0 must be mapped (the container's root owns its filesystem)"],
      [['--uidmap', '0:100000:10', '--uidmap', '5:200000:10'], 'invalid --uidmap 5:200000:10: its container ids overlap 0:100000:10'],
      [['--uidmap', '0:100000:10', '--uidmap', '10:100005:10'], 'invalid --uidmap 10:100005:10: its host ids overlap 0:100000:10'],
      [['--uidmap', '0:4294967290:10'], 'invalid --uidmap "0:4294967290:10": the range goes past the largest id 4294967294'],
      [['--gidmap', '0:100000:10'], 'invalid --gidmap: needs --uidmap as well'],
      [['--userns', 'auto', '--uidmap', '0:100000:10'], 'conflicting options: --userns auto and --uidmap/--gidmap'],
      [['--userns', 'nope'], 'invalid --userns "nope": expected host, auto or auto:size=N'],
      [['--userns', 'auto:size=0'], 'invalid --userns "auto:size=0": size must be from 1 to 4294967294'],
      [['--userns', 'auto', '--pid', 'host'], "conflicting options: --pid host and --userns auto (a user namespace cannot use the host's namespace)"],
      [['--userns', 'auto:size=4294967294'], 'no free range of 4294967294 ids left'],
    ];
    for (const [flags, message] of cases) {
      const r = await pk(fresh, 'run', '--rm', ...flags, 'host', 'true');
      expect(r.code, flags.join(' ')).toBe(125);
      expect(r.stderr, flags.join(' ')).toContain(message);
    }
    // Nothing was made: no container, no name, no cgroup.
    expect(existsSync(join(fresh, 'containers')) ? readdirSync(join(fresh, 'containers')) : []).toEqual([]);
    expect(existsSync(join(fresh, 'names')) ? readdirSync(join(fresh, 'names')).filter((n) => !n.startsWith('.')) : []).toEqual([]);
    expect(existingCgroupParentDirs().flatMap((d) => readdirSync(d)).sort()).toEqual(cgroupsBefore);
  });
});
