// Named volumes with real containers (root only), through the CLI: data that outlives its
// container, read-only mounts, Docker's refusal to remove a volume in use, prune, anonymous volumes
// (`-v /path`, `--mount type=volume`) removed by `run --rm` and `rm -v`, and the copy-up of the
// image's content into a new, empty volume. Each test uses a temp root of its own.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, run } from '../../lib/index.js';
import { cleanupAll, copyRootfs, isRoot, pk, rootTracker, testCgroupParent, until } from '../helpers.js';

const roots = rootTracker();
const lines = (s: string) => s.split('\n').filter(Boolean);
const volumeNames = async (root: string) => lines((await pk(root, 'volume', 'ls', '-q')).stdout);

describe.skipIf(!isRoot)('named volumes', () => {
  afterAll(async () => {
    await roots.removeAll();
    await cleanupAll();
  });

  it('create, ls, inspect (Docker\'s fields), rm; bad names and missing volumes in Docker\'s words', async () => {
    const root = roots.newRoot();
    expect(await pk(root, 'volume', 'create', '--label', 'tier=db', 'data1')).toMatchObject({ code: 0, stdout: 'data1\n' });
    const anon = await pk(root, 'volume', 'create');
    expect(anon.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const ls = await pk(root, 'volume', 'ls');
    expect(lines(ls.stdout)).toEqual(['DRIVER    VOLUME NAME', ...[`local     ${anon.stdout.trim()}`, 'local     data1'].sort()]);
    expect(lines((await pk(root, 'volume', 'ls', '--filter', 'label=tier=db', '--format', '{{.Name}} {{.Labels}}')).stdout)).toEqual(['data1 tier=db']);
    const inspect = await pk(root, 'volume', 'inspect', 'data1');
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toEqual([
      { CreatedAt: expect.any(String), Driver: 'local', Labels: { tier: 'db' }, Mountpoint: join(root, 'volumes', 'data1', '_data'), Name: 'data1', Options: {}, Scope: 'local' },
    ]);
    expect((await pk(root, 'volume', 'inspect', '--format', '{{.Mountpoint}}', 'data1')).stdout).toBe(`${join(root, 'volumes', 'data1', '_data')}\n`);
    // `pocker inspect` finds volumes too (after containers and images), and `--type volume` only them.
    expect(JSON.parse((await pk(root, 'inspect', 'data1')).stdout)).toEqual(JSON.parse(inspect.stdout));
    expect(await pk(root, 'inspect', '--type', 'volume', '-f', '{{.Name}} {{.Driver}}', 'data1')).toMatchObject({ code: 0, stdout: 'data1 local\n' });

    // Docker: "Error response from daemon: create a/b: "a/b" includes invalid characters for a local volume name, ..." (exit 1).
    const bad = await pk(root, 'volume', 'create', 'a/b');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('pocker: create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path\n');
    // Docker: "Error response from daemon: get nope: no such volume" (exit 1), for inspect and rm alike.
    const missing = await pk(root, 'volume', 'inspect', 'nope');
    expect(missing).toMatchObject({ code: 1, stdout: '[]\n', stderr: 'pocker: get nope: no such volume\n' });
    expect(await pk(root, 'volume', 'rm', 'nope')).toMatchObject({ code: 1, stderr: 'pocker: get nope: no such volume\n' });
    expect(await pk(root, 'volume', 'rm', '-f', 'nope')).toMatchObject({ code: 0, stderr: '' });

    expect(await pk(root, 'volume', 'rm', 'data1', anon.stdout.trim())).toMatchObject({ code: 0, stdout: `data1\n${anon.stdout}` });
    expect(await volumeNames(root)).toEqual([]);
    // Docker's volume events: create and destroy, the volume's name as the actor.
    const ev = await pk(root, 'events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}');
    expect(lines(ev.stdout)).toEqual(['create data1', `create ${anon.stdout.trim()}`, 'destroy data1', `destroy ${anon.stdout.trim()}`]);
  });

  it('-v NAME:/path: data persists across two containers; :ro is read-only; the volume is made when missing', async () => {
    const root = roots.newRoot();
    const w = await pk(root, 'run', '--rm', '-v', 'keep:/data', 'host', 'sh', '-c', 'echo persisted > /data/f');
    expect(w).toMatchObject({ code: 0, stderr: '' });
    expect(await volumeNames(root)).toEqual(['keep']);
    expect(readFileSync(join(root, 'volumes', 'keep', '_data', 'f'), 'utf8')).toBe('persisted\n');
    const r = await pk(root, 'run', '--rm', '-v', 'keep:/data:ro', 'host', 'sh', '-c', 'cat /data/f; echo x > /data/g 2>/dev/null && echo writable || echo read-only');
    expect(lines(r.stdout)).toEqual(['persisted', 'read-only']);
    expect(existsSync(join(root, 'volumes', 'keep', '_data', 'g'))).toBe(false);
    const m = await pk(root, 'run', '--rm', '--mount', 'type=volume,source=keep,target=/m,readonly', 'host', 'sh', '-c', 'cat /m/f; touch /m/h 2>/dev/null && echo writable || echo read-only');
    expect(lines(m.stdout)).toEqual(['persisted', 'read-only']);
    // A named volume stays after run --rm (Docker removes only anonymous ones).
    expect(await volumeNames(root)).toEqual(['keep']);
    // Bad names are refused before anything is made (run's exit 125).
    const bad = await pk(root, 'run', '--rm', '-v', 'bad$name:/x', 'host', 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/"bad\$name" includes invalid characters for a local volume name/);
    expect(await volumeNames(root)).toEqual(['keep']);
    // A run that makes no container (its name is taken) leaves no volume it made for it.
    const holder = (await pk(root, 'create', '--name', 'taken', 'host', 'true')).stdout.trim();
    const clash = await pk(root, 'run', '--rm', '--name', 'taken', '-v', 'fresh:/f', '-v', '/anon', '-v', 'keep:/data', 'host', 'true');
    expect(clash.code).toBe(125);
    expect(clash.stderr).toMatch(/taken/);
    expect(await volumeNames(root)).toEqual(['keep']);
    expect((await pk(root, 'rm', holder)).code).toBe(0);
  });

  it('rm refuses a volume any container uses, running or stopped ("volume is in use - [ID]"); prune keeps it', async () => {
    const root = roots.newRoot();
    const running = (await pk(root, 'run', '-d', '-v', 'busy:/data', 'host', 'sleep', '1000')).stdout.trim();
    expect(running).toMatch(/^[0-9a-f]{64}$/);
    const created = (await pk(root, 'create', '-v', 'idle:/data', 'host', 'true')).stdout.trim();
    expect(created).toMatch(/^[0-9a-f]{64}$/);
    // Docker: "Error response from daemon: remove busy: volume is in use - [<full container id>]" (exit 1).
    expect(await pk(root, 'volume', 'rm', 'busy')).toMatchObject({ code: 1, stderr: `pocker: remove busy: volume is in use - [${running}]\n` });
    expect(await pk(root, 'volume', 'rm', '-f', 'idle')).toMatchObject({ code: 1, stderr: `pocker: remove idle: volume is in use - [${created}]\n` });
    expect(lines((await pk(root, 'volume', 'ls', '-q', '--filter', 'dangling=false')).stdout)).toEqual(['busy', 'idle']);
    expect(await pk(root, 'volume', 'prune', '-af')).toMatchObject({ code: 0, stdout: 'Total reclaimed space: 0B\n' });
    expect(await volumeNames(root)).toEqual(['busy', 'idle']);
    // Once the containers are gone, the volumes can go.
    expect((await pk(root, 'rm', '-f', running, created)).code).toBe(0);
    expect(lines((await pk(root, 'volume', 'ls', '-q', '--filter', 'dangling=true')).stdout)).toEqual(['busy', 'idle']);
    expect(await pk(root, 'volume', 'rm', 'busy')).toMatchObject({ code: 0, stdout: 'busy\n' });
  });

  it('prune: anonymous unused volumes only, all of them with -a (Docker >= 23); system prune --volumes; system df', async () => {
    const root = roots.newRoot();
    await pk(root, 'volume', 'create', 'named');
    // `run` without --rm: pocker's foreground container goes when it ends, its anonymous volume stays (dangling).
    expect((await pk(root, 'run', '-v', '/anon', 'host', 'sh', '-c', 'head -c 3000 /dev/zero > /anon/f')).code).toBe(0);
    const names = await volumeNames(root);
    expect(names).toHaveLength(2);
    const anon = names.find((n) => n !== 'named')!;
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    const df = await pk(root, 'system', 'df');
    expect(lines(df.stdout).find((l) => l.startsWith('Local Volumes'))).toMatch(/^Local Volumes\s+2\s+0\s+3kB\s+3kB \(100%\)$/);
    // docker volume prune -f: "Deleted Volumes:\n<name>\n\nTotal reclaimed space: 3kB".
    expect(await pk(root, 'volume', 'prune', '-f')).toMatchObject({ code: 0, stdout: `Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 3kB\n` });
    expect(await volumeNames(root)).toEqual(['named']);
    // Without -f it asks (Docker's warning) and a "no" keeps everything.
    const asked = await pk(root, 'volume', 'prune', '-a');
    expect(asked.stdout).toMatch(/^WARNING! This will remove all local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] /);
    expect(await volumeNames(root)).toEqual(['named']);
    expect((await pk(root, 'run', '-v', '/again', 'host', 'true')).code).toBe(0);
    const sp = await pk(root, 'system', 'prune', '-f', '--volumes');
    expect(sp.code).toBe(0);
    expect(sp.stdout).toMatch(/^Deleted Volumes:\n[0-9a-f]{64}\n\n/);
    expect(await volumeNames(root)).toEqual(['named']);
    expect(await pk(root, 'volume', 'prune', '-a', '-f')).toMatchObject({ code: 0, stdout: 'Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n' });
  });

  it('anonymous volumes: removed by run --rm (foreground and detached) and by rm -v; a named one stays', async () => {
    const root = roots.newRoot();
    const fg = await pk(root, 'run', '--rm', '-v', '/a1', '--mount', 'type=volume,target=/a2', '-v', 'stays:/n', 'host', 'sh', '-c', 'echo x > /a1/f; echo y > /a2/f; echo z > /n/f');
    expect(fg).toMatchObject({ code: 0, stderr: '' });
    expect(await volumeNames(root)).toEqual(['stays']);

    const d = (await pk(root, 'run', '-d', '--rm', '-v', '/a3', 'host', 'sh', '-c', 'echo x > /a3/f')).stdout.trim();
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    // The monitor removes the container; its anonymous volume goes with the next look at the volumes.
    await until('the detached --rm container and its anonymous volume to be gone', async () => !existsSync(join(root, 'containers', d)) && (await volumeNames(root)).length === 1);
    expect(await volumeNames(root)).toEqual(['stays']);

    const kept = (await pk(root, 'run', '-d', '-v', '/a4', '-v', 'stays:/n', 'host', 'true')).stdout.trim();
    expect((await pk(root, 'wait', kept)).stdout).toBe('0\n');
    expect(await volumeNames(root)).toHaveLength(2);
    expect((await pk(root, 'rm', kept)).code).toBe(0);
    // rm without -v keeps the anonymous volume (dangling), as Docker's.
    expect(await volumeNames(root)).toHaveLength(2);
    await pk(root, 'volume', 'prune', '-f');
    const again = (await pk(root, 'run', '-d', '-v', '/a5', '-v', 'stays:/n', 'host', 'true')).stdout.trim();
    expect((await pk(root, 'wait', again)).stdout).toBe('0\n');
    expect(await pk(root, 'rm', '-v', again)).toMatchObject({ code: 0, stdout: `${again}\n` });
    expect(await volumeNames(root)).toEqual(['stays']);
  });

  it("copy-up: a new, empty volume starts with the image's content at its path; a volume that holds data keeps it; volume-nocopy", async () => {
    const root = roots.newRoot();
    const rootfs = copyRootfs();
    mkdirSync(join(rootfs, 'seed', 'sub'), { recursive: true });
    writeFileSync(join(rootfs, 'seed', 'a.txt'), 'from the image\n', { mode: 0o640 });
    writeFileSync(join(rootfs, 'seed', 'sub', 'b'), 'deeper\n');
    const first = await pk(root, 'run', '--rm', '--rootfs', rootfs, '-v', 'cu:/seed', 'sh', '-c', 'cat /seed/a.txt /seed/sub/b; stat -c %a /seed/a.txt; echo mine > /seed/a.txt');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(lines(first.stdout)).toEqual(['from the image', 'deeper', '640']);
    // Not empty any more: the next container sees the volume's data, not the image's.
    const second = await pk(root, 'run', '--rm', '--rootfs', rootfs, '-v', 'cu:/seed', 'cat', '/seed/a.txt');
    expect(second.stdout).toBe('mine\n');
    const nocopy = await pk(root, 'run', '--rm', '--rootfs', rootfs, '--mount', 'type=volume,src=nc,dst=/seed,volume-nocopy', 'ls', '-A', '/seed');
    expect(nocopy).toMatchObject({ code: 0, stdout: '' });
    const anon = await pk(root, 'run', '--rm', '--rootfs', rootfs, '-v', '/seed', 'cat', '/seed/sub/b');
    expect(anon.stdout).toBe('deeper\n');
    // Two containers starting at once on one new volume: it is filled once, both see the image's files.
    const both = await Promise.all([1, 2].map(() => pk(root, 'run', '--rm', '--rootfs', rootfs, '-v', 'shared:/seed', 'cat', '/seed/a.txt', '/seed/sub/b')));
    for (const r of both) expect(r).toMatchObject({ code: 0, stdout: 'from the image\ndeeper\n', stderr: '' });
    // A container started again keeps what its volume holds (filled once, while empty).
    const c = (await pk(root, 'create', '--rootfs', rootfs, '-v', 'again:/seed', 'sh', '-c', 'cat /seed/a.txt; echo changed > /seed/a.txt')).stdout.trim();
    expect((await pk(root, 'start', '-a', c)).stdout).toBe('from the image\n');
    expect((await pk(root, 'start', '-a', c)).stdout).toBe('changed\n');
    expect((await pk(root, 'rm', c)).code).toBe(0);
  });

  it('the library: createVolume, listVolumes, inspectVolume, removeVolume, pruneVolumes, and run({ volumes })', async () => {
    const root = roots.newRoot();
    const v = await createVolume({ root, name: 'lib1', labels: { a: 'b' } });
    expect(v).toMatchObject({ Name: 'lib1', Driver: 'local', Scope: 'local', Labels: { a: 'b' } });
    const c = await run({ root, image: 'host', cmd: ['sh', '-c', 'echo lib > /v/f'], volumes: ['lib1:/v'], cgroupParent: testCgroupParent() });
    expect((await c.wait()).exitCode).toBe(0);
    expect(readFileSync(join(v.Mountpoint, 'f'), 'utf8')).toBe('lib\n');
    expect((await listVolumes({ root })).map((x) => x.Name)).toEqual(['lib1']);
    expect(await inspectVolume('lib1', { root })).toEqual(v);
    expect(await pruneVolumes({ root })).toEqual({ deleted: [], reclaimedBytes: 0 });
    await removeVolume('lib1', { root });
    await expect(inspectVolume('lib1', { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_FOUND' });
  });
});
