// Rootless pocker (issue 13): the CLI run by an unprivileged user the setup creates (useradd, its
// own /etc/subuid and /etc/subgid ranges, removed afterwards) with runuser. Everything below is
// that user's: its state root (~/.local/share/pocker), its containers in a user namespace mapped
// with its ranges, images extracted in that namespace with their owners, no cgroup on this
// cgroup-v1 machine (limit flags refused clearly), and a second user who sees none of it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildOciLayout, type LayerSpec } from '../image-builder.js';
import { cleanupAll, hostBusybox, isRoot, tempDir } from '../helpers.js';
import { runOnPty } from '../pty.js';
import { gnuTar } from '../tar.js';
import { expectUserGone, makeRootlessUser, type RootlessUser } from './user.js';

const busybox = hostBusybox();
const haveTools = ['/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/sbin/useradd', '/usr/sbin/runuser'].every((p) => existsSync(p));

/** A busybox base layer with /etc/passwd naming alice (1000) and bob (2000). */
function baseLayer(): LayerSpec {
  const base: LayerSpec = {
    'bin/busybox': { type: 'file', content: readFileSync(busybox!), mode: 0o755 },
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:2000:2000::/home/bob:/bin/sh\n',
    'etc/group': 'root:x:0:\nalice:x:1000:\nbob:x:2000:\n',
    'etc/gone': 'removed by the next layer\n',
    'opaque/old': 'hidden by an opaque dir above\n',
    tmp: { type: 'dir', mode: 0o1777 },
    root: { type: 'dir', mode: 0o700 },
  };
  for (const applet of ['sh', 'cat', 'echo', 'id', 'ls', 'stat', 'test', 'touch', 'chown', 'sleep', 'tty', 'mkdir', 'nc', 'httpd', 'wget']) base[`bin/${applet}`] = { type: 'symlink', target: 'busybox' };
  return base;
}


/** A second layer: files of several owners, a whiteout, an opaque directory. */
const ownersLayer: LayerSpec = {
  'home/alice': { type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
  'home/alice/notes': { type: 'file', content: 'alice\n', mode: 0o600, uid: 1000, gid: 1000 },
  'srv/bob': { type: 'file', content: 'bob\n', mode: 0o640, uid: 2000, gid: 2000 },
  'etc/gone': { type: 'whiteout' },
  opaque: { type: 'opaque' },
  'opaque/new': 'above\n',
};

describe.skipIf(!isRoot || !busybox || !haveTools)('rootless pocker (an unprivileged user made by the test)', () => {
  let alice: RootlessUser;
  let bob: RootlessUser;
  let imageTar: string;

  beforeAll(() => {
    alice = makeRootlessUser('a');
    bob = makeRootlessUser('b', false);
    const dir = tempDir('rootless-oci');
    buildOciLayout(dir, { layers: [baseLayer(), ownersLayer], config: { config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }, refName: 'owners:1' });
    imageTar = join(tempDir('rootless-oci-tar'), 'owners.tar');
    gnuTar(dir, { file: imageTar });
  });

  afterAll(async () => {
    alice?.remove();
    bob?.remove();
    await cleanupAll();
    for (const u of [alice, bob]) if (u) await expectUserGone(u);
  });

  it('runs the host image as root of a user namespace mapped to the user and its subordinate ids', async () => {
    const r = await alice.pocker(['run', '--rm', 'host', 'sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [id, ...maps] = r.stdout.trim().split('\n');
    expect(id).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    const fields = maps.map((l) => l.trim().split(/\s+/).map(Number));
    expect(fields).toEqual([
      [0, alice.uid, 1],
      [1, alice.range!.start, 65536],
      [0, alice.gid, 1],
      [1, alice.range!.start, 65536],
    ]);
    // Its state is in its own home, not in /var/lib/pocker.
    expect(existsSync(join(alice.home, '.local/share/pocker'))).toBe(true);
  });

  it('loads a multi-layer image whose files have several owners, and runs it with those owners', async () => {
    const load = await alice.pocker(['load', '-i', imageTar]);
    expect(load.stderr).toBe('');
    expect(load.stdout).toBe('Loaded image: owners:1\n');
    const r = await alice.pocker(['run', '--rm', 'owners:1', 'sh', '-c', 'stat -c "%u:%g %a %n" /home/alice /home/alice/notes /srv/bob /bin/busybox; test -e /etc/gone && echo present || echo gone; ls /opaque']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(['1000:1000 700 /home/alice', '1000:1000 600 /home/alice/notes', '2000:2000 640 /srv/bob', '0:0 755 /bin/busybox', 'gone', 'new', ''].join('\n'));
    // On the host the files belong to the user's subordinate ids (container id N -> start + N - 1).
    const layers = join(alice.home, '.local/share/pocker/layers');
    const owned = readdirSync(layers).map((l) => join(layers, l, 'srv/bob')).filter((p) => existsSync(p));
    expect(owned.map((p) => statSync(p).uid)).toEqual([alice.range!.start + 2000 - 1]);
    // chown to another user works inside (a mapped id).
    const chown = await alice.pocker(['run', '--rm', 'owners:1', 'sh', '-c', 'touch /tmp/f && chown 2000:2000 /tmp/f && stat -c %u:%g /tmp/f']);
    expect(chown.stdout).toBe('2000:2000\n');
  });

  it('-it gives the container a terminal', async () => {
    const r = await runOnPty(alice.pockerArgv(['run', '-it', '--rm', 'owners:1', 'sh']), [{ expect: /\/ # / }, { send: 'tty; id -u; exit 3\n' }, { expect: /\/dev\/pts\/\d+\s+0\s/ }]);
    expect(r.err).toBe('');
    expect(r.code).toBe(3);
  });

  it('-d, logs, exec, stop and rm work for the user', async () => {
    const d = await alice.pocker(['run', '-d', '--name', 'web', 'owners:1', 'sh', '-c', 'echo started; exec sleep 1000']);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    const ps = await alice.pocker(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/^web Up/);
    // logs: the line the container wrote (polled: the container writes it on its own time).
    let logs = '';
    for (let i = 0; i < 200 && !logs.includes('started'); i++) logs = (await alice.pocker(['logs', 'web'])).stdout;
    expect(logs).toBe('started\n');
    const ex = await alice.pocker(['exec', 'web', 'sh', '-c', 'id -u; cat /proc/self/uid_map | wc -l']);
    expect(ex.stderr).toBe('');
    expect(ex.stdout.split('\n').map((s) => s.trim())).toEqual(['0', '2', '']);
    const stop = await alice.pocker(['stop', '-t', '1', 'web']);
    expect(stop.stdout).toBe('web\n');
    const exited = await alice.pocker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(exited.stdout).toMatch(/^web Exited \((137|143)\)/);
    const rm = await alice.pocker(['rm', 'web']);
    expect(rm.stdout).toBe('web\n');
    expect((await alice.pocker(['ps', '-a', '-q'])).stdout).toBe('');
  });

  it('commit and cp work for the user', async () => {
    const d = await alice.pocker(['run', '-d', '--name', 'work', 'owners:1', 'sh', '-c', 'echo made > /srv/made; chown 1000:1000 /srv/made; exec sleep 1000']);
    expect(d.code).toBe(0);
    let seen = '';
    for (let i = 0; i < 200 && seen !== 'made\n'; i++) seen = (await alice.pocker(['exec', 'work', 'cat', '/srv/made'])).stdout;
    expect(seen).toBe('made\n');
    const commit = await alice.pocker(['commit', 'work', 'committed:1']);
    expect(commit.stderr).toBe('');
    expect(commit.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const src = join(tempDir('rootless-cp'), 'in.txt');
    writeFileSync(src, 'copied in\n', { mode: 0o644 });
    const cpIn = await alice.pocker(['cp', src, 'work:/srv/in.txt']);
    expect(cpIn.stderr).toBe('');
    const out = join(alice.runtimeDir, 'out.txt');
    const cpOut = await alice.pocker(['cp', 'work:/srv/made', out]);
    expect(cpOut.stderr).toBe('');
    expect((await alice.pocker(['exec', 'work', 'cat', '/srv/in.txt'])).stdout).toBe('copied in\n');
    expect((await alice.pocker(['rm', '-f', 'work'])).code).toBe(0);
    const r = await alice.pocker(['run', '--rm', 'committed:1', 'stat', '-c', '%u:%g %n', '/srv/made', '/srv/bob']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000:1000 /srv/made\n2000:2000 /srv/bob\n');
  });

  it("a second user sees none of the first user's containers or images", async () => {
    const d = await alice.pocker(['run', '-d', '--name', 'mine', 'owners:1', 'sleep', '1000']);
    expect(d.code).toBe(0);
    const id = d.stdout.trim();
    expect((await bob.pocker(['ps', '-a', '-q'])).stdout).toBe('');
    expect((await bob.pocker(['images', '-q'])).stdout).toBe('');
    const logs = await bob.pocker(['logs', id]);
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toMatch(/No such container/);
    const rm = await bob.pocker(['rm', '-f', 'mine']);
    expect(rm.code).not.toBe(0);
    expect((await alice.pocker(['ps', '-q', '--no-trunc'])).stdout).toBe(`${id}\n`);
    expect((await alice.pocker(['rm', '-f', 'mine'])).code).toBe(0);
  });

  it('a user without subordinate ids runs with its own id only', async () => {
    const r = await bob.pocker(['run', '--rm', 'host', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', `0 ${bob.uid} 1`, '']);
  });

  it('limit flags are refused with the clear error without a delegated cgroup (cgroup v1 here; the root cgroup in the v2 guest), and nothing is left', async () => {
    for (const flag of [['--memory', '64m'], ['--cpus', '0.5'], ['--pids-limit', '10']]) {
      const r = await alice.pocker(['run', '--rm', ...flag, 'host', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`this user has no delegated cgroup: .*${flag[0]} cannot be applied`));
    }
    const containers = join(alice.home, '.local/share/pocker/containers');
    expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
    // Without a limit it runs (no cgroup of its own), and its limits cannot be updated while it runs.
    expect((await alice.pocker(['run', '--rm', 'host', 'true'])).code).toBe(0);
    const d = await alice.pocker(['run', '-d', '--name', 'nolimit', 'host', 'sleep', '1000']);
    expect(d.code).toBe(0);
    const up = await alice.pocker(['update', '--pids-limit', '10', 'nolimit']);
    expect(up.code).toBe(1); // update's own exit for a container it could not update (as Docker's)
    expect(up.stderr).toMatch(/cannot update the limits of running container nolimit: it was started without limit flags, so as a rootless container it has no cgroup of its own/);
    expect((await alice.pocker(['rm', '-f', 'nolimit'])).code).toBe(0);
  });

  it('save writes the loaded image as the user (manifest and layer digests), and it loads back into a second store', async () => {
    expect((await alice.pocker(['load', '-i', imageTar])).code).toBe(0); // loaded already unless run alone
    const out = join(alice.runtimeDir, 'saved.tar');
    const save = await alice.pocker(['save', '-o', out, 'owners:1']);
    expect(save.stderr).toBe('');
    expect(save.code).toBe(0);
    expect(statSync(out).uid).toBe(alice.uid);
    const dir = tempDir('rootless-saved');
    execFileSync('tar', ['-xf', out, '-C', dir]);
    const read = (p: string): Buffer => readFileSync(join(dir, p));
    const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const [entry, ...more] = JSON.parse(read('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    expect(more).toEqual([]);
    expect(entry!.RepoTags).toEqual(['owners:1']);
    const id = (await alice.pocker(['images', '-q', '--no-trunc', 'owners:1'])).stdout.trim();
    expect(sha(read(entry!.Config))).toBe(id);
    const config = JSON.parse(read(entry!.Config).toString()) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toHaveLength(2);
    expect(entry!.Layers.map((l) => sha(read(l)))).toEqual(config.rootfs.diff_ids);
    // The saved layers keep the tar's owners and the whiteout (not the subordinate ids of the store).
    const second = join(alice.home, 'second-store');
    const load = await alice.pocker(['--root', second, 'load', '-i', out]);
    expect(load.stderr).toBe('');
    expect(load.stdout).toBe('Loaded image: owners:1\n');
    const r = await alice.pocker(['--root', second, 'run', '--rm', 'owners:1', 'sh', '-c', 'stat -c "%u:%g %n" /home/alice/notes /srv/bob; test -e /etc/gone || echo gone; ls /opaque']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000:1000 /home/alice/notes\n2000:2000 /srv/bob\ngone\nnew\n');
  });

  it('a store on overlayfs (a home inside a container or a live system) is refused naming the filesystem, not with a bare EPERM', async () => {
    // overlayfs refuses whiteout devices to everyone (and cannot be an overlay upper dir).
    const base = tempDir('rootless-ovl');
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(base, d));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`, join(base, 'merged')]);
    try {
      const store = join(base, 'merged', 'store');
      mkdirSync(store);
      chownSync(store, alice.uid, alice.gid);
      const r = await alice.pocker(['--root', store, 'load', '-i', imageTar]);
      expect(r.code, r.stderr).toBe(1); // load's own failure exit, as Docker's
      expect(r.stderr).toMatch(new RegExp(`cannot store image layers on overlayfs \\(${store}/.*\\): it refuses overlay whiteouts .*--root, \\$POCKER_ROOT, or rootless \\$XDG_DATA_HOME`));
      expect((await alice.pocker(['--root', store, 'images', '-q'])).stdout).toBe('');
    } finally {
      execFileSync('umount', [join(base, 'merged')]);
    }
  });

  it('bridge networks are refused clearly', async () => {
    const r = await alice.pocker(['run', '--rm', '--network', 'bridge', 'host', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/rootless containers cannot use --network bridge/);
  });
});
