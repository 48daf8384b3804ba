// Named volumes without containers: name validation (moby's words), the run options that name
// volumes, the CLI's flag parsing, and the store (create, list, inspect, rm, prune) in a temp root.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { parseVolumeFilters, parseVolumeLabels, volumePruneReport, volumeRow } from '../../lib/cli/volume.js';
import { parseMountFlag, resolveRunOptions } from '../../lib/runtime/options.js';
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, validateVolumeName, volumeDiskUsage, withContainerVolumes } from '../../lib/volume/index.js';
import { thrown } from './thrown.js';

const base = mkdtempSync(join(tmpdir(), 'pocker-volumes-unit-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const newRoot = () => join(base, `root${n++}`);

// moby volume/local/local.go: `%q includes invalid characters for a local volume name, only %q are
// allowed. If you intended to pass a host directory, use absolute path`.
const INVALID_CHARS = /includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed\. If you intended to pass a host directory, use absolute path$/;

describe('volume names', () => {
  it.each(['ab', 'my-vol', 'v.1', 'A_b-c.d', '0x', 'a'.repeat(64)])('accepts %j', (name) => {
    expect(validateVolumeName(name)).toBe(name);
  });

  it.each(['a/b', '-ab', '.ab', '_ab', 'a b', 'a:b', 'ab$', 'é1'])('refuses %j in moby\'s words', (name) => {
    const err = thrown(() => validateVolumeName(name));
    expect(err.code).toBe('ERR_POCKER_INVALID');
    expect(err.message).toBe(`create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  });

  it('refuses a one-character name (moby: "volume name is too short, names should be at least two alphanumeric characters")', () => {
    expect(thrown(() => validateVolumeName('x')).message).toBe('create x: volume name is too short, names should be at least two alphanumeric characters');
  });
});

describe('run options naming volumes', () => {
  const root = '/srv/pocker-root';
  const resolve = (o: Parameters<typeof resolveRunOptions>[0]) => resolveRunOptions({ rootfs: '/', cmd: ['true'], root, ...o }, {});

  it('-v NAME:/path[:ro] mounts the named volume\'s _data', () => {
    const [m, r] = resolve({ volumes: ['data:/data', 'cfg:/etc/app:ro'] }).mounts;
    expect(m).toEqual({ kind: 'volume', src: '/srv/pocker-root/volumes/data/_data', dst: '/data', readonly: false, data: '', volume: { name: 'data', anonymous: false } });
    expect(r).toMatchObject({ kind: 'volume', src: '/srv/pocker-root/volumes/cfg/_data', dst: '/etc/app', readonly: true, volume: { name: 'cfg', anonymous: false } });
  });

  it('-v /path alone is an anonymous volume (a new 64-hex name)', () => {
    const a = resolve({ volumes: ['/cache'] }).mounts[0]!;
    const b = resolve({ volumes: ['/cache'] }).mounts[0]!;
    expect(a.kind).toBe('volume');
    expect(a.volume).toMatchObject({ anonymous: true });
    expect(a.volume!.name).toMatch(/^[0-9a-f]{64}$/);
    expect(a.volume!.name).not.toBe(b.volume!.name);
    expect(a.src).toBe(`/srv/pocker-root/volumes/${a.volume!.name}/_data`);
  });

  it('--mount type=volume,source=NAME,target=/path[,readonly][,volume-nocopy]', () => {
    expect(parseMountFlag('type=volume,src=v1,dst=/v,volume-nocopy')).toEqual({ type: 'volume', source: 'v1', target: '/v', volumeNocopy: true });
    const [m] = resolve({ mounts: ['type=volume,source=v1,target=/v,readonly,volume-nocopy'] }).mounts;
    expect(m).toEqual({ kind: 'volume', src: '/srv/pocker-root/volumes/v1/_data', dst: '/v', readonly: true, data: '', volume: { name: 'v1', anonymous: false, nocopy: true } });
  });

  it('refuses a bad name, or a bad destination, before anything is made', () => {
    expect(thrown(() => resolve({ volumes: ['bad$:/data'] })).message).toMatch(INVALID_CHARS);
    expect(thrown(() => resolve({ mounts: ['type=volume,src=a/b,dst=/x'] })).message).toMatch(INVALID_CHARS);
    expect(thrown(() => resolve({ volumes: ['data:/proc/x'] })).message).toMatch(/cannot mount on \/proc/);
    expect(thrown(() => resolve({ volumes: ['data:/a', 'other:/a'] })).message).toBe('Duplicate mount point: /a');
    expect(existsSync(root)).toBe(false);
  });
});

describe('volume CLI parsing', () => {
  it('--label k=v and --label k', () => {
    expect(parseVolumeLabels(['a=b', 'c', 'd=e=f'])).toEqual({ a: 'b', c: '', d: 'e=f' });
    expect(thrown(() => parseVolumeLabels(['=x'])).message).toMatch(/invalid label format/);
  });

  it('--filter name=, label=, dangling=, driver=', () => {
    expect(parseVolumeFilters(['name=ab', 'label=k', 'label=k=v', 'dangling=true', 'driver=local'])).toEqual({ name: ['ab'], label: ['k', 'k=v'], dangling: true, driver: ['local'] });
    expect(parseVolumeFilters(['dangling=0'])).toEqual({ dangling: false });
    // docker: "invalid filter 'dangling=maybe'", "invalid filter 'nope'".
    expect(thrown(() => parseVolumeFilters(['dangling=maybe'])).message).toBe("invalid filter 'dangling=maybe'");
    expect(thrown(() => parseVolumeFilters(['nope=1'])).message).toBe("invalid filter 'nope'");
    expect(thrown(() => parseVolumeFilters(['novalue'])).message).toBe('bad format of filter (expected name=value)');
  });

  it('rows and the prune report', () => {
    const row = volumeRow({ Name: 'v1', Driver: 'local', Mountpoint: '/r/volumes/v1/_data', CreatedAt: '2026-01-01T00:00:00Z', Labels: { a: 'b', c: '' }, Scope: 'local', Options: {} });
    expect(row).toMatchObject({ Name: 'v1', Driver: 'local', Labels: 'a=b,c=', Scope: 'local', Links: 'N/A', Size: 'N/A' });
    expect(volumePruneReport(['a', 'b'], 2048)).toBe('Deleted Volumes:\na\nb\n\nTotal reclaimed space: 2.048kB\n');
    expect(volumePruneReport([], 0)).toBe('Total reclaimed space: 0B\n');
  });
});

describe('the volume store (no containers)', () => {
  it('create: named, random, idempotent; inspect shows Docker\'s fields', async () => {
    const root = newRoot();
    const v = await createVolume({ root, name: 'data', labels: { tier: 'db' } });
    expect(v).toEqual({
      Name: 'data',
      Driver: 'local',
      Mountpoint: join(root, 'volumes', 'data', '_data'),
      CreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      Labels: { tier: 'db' },
      Scope: 'local',
      Options: {},
    });
    expect(existsSync(v.Mountpoint)).toBe(true);
    // Docker's create of an existing name returns it as it is.
    expect(await createVolume({ root, name: 'data', labels: { other: 'x' } })).toEqual(v);
    const anon = await createVolume({ root });
    expect(anon.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(await inspectVolume('data', { root })).toEqual(v);
    expect((await listVolumes({ root })).map((x) => x.Name)).toEqual([anon.Name, 'data'].sort());
    // Nothing half-made is left beside the volumes.
    expect(readdirSync(join(root, 'volumes')).sort()).toEqual(['.lock', anon.Name, 'data'].sort());
  });

  it('refuses bad input before creating anything', async () => {
    const root = newRoot();
    await expect(createVolume({ root, name: 'a/b' })).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID' });
    await expect(createVolume({ root, name: 'ok', driver: 'nfs' })).rejects.toMatchObject({ code: 'ERR_POCKER_INVALID' });
    expect(existsSync(root)).toBe(false);
  });

  it('inspect / rm of a missing volume: "get NAME: no such volume" (ERR_POCKER_NOT_FOUND); rm force ignores it', async () => {
    const root = newRoot();
    await expect(inspectVolume('nope', { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', message: 'get nope: no such volume' });
    await expect(removeVolume('nope', { root })).rejects.toMatchObject({ code: 'ERR_POCKER_NOT_FOUND', message: 'get nope: no such volume' });
    await expect(removeVolume('nope', { root, force: true })).resolves.toBeUndefined();
  });

  it('the sweep: what a killed create or remove left, and anonymous volumes of --rm containers that are gone', async () => {
    const root = newRoot();
    await createVolume({ root, name: 'kept' });
    mkdirSync(join(root, 'volumes', '.new-0123456789ab', '_data'), { recursive: true });
    mkdirSync(join(root, 'volumes', '.rm-0123456789ab', '_data'), { recursive: true });
    const gone = 'a'.repeat(64);
    const alive = 'b'.repeat(64);
    mkdirSync(join(root, 'containers', alive), { recursive: true });
    await withContainerVolumes(root, [{ name: 'anon-gone', anonymous: true }], gone, true, async () => undefined);
    await withContainerVolumes(root, [{ name: 'anon-alive', anonymous: true }], alive, true, async () => undefined);
    await withContainerVolumes(root, [{ name: 'anon-kept', anonymous: true }], gone, false, async () => undefined);
    expect((await listVolumes({ root })).map((v) => v.Name)).toEqual(['anon-alive', 'anon-kept', 'kept']);
    expect(readdirSync(join(root, 'volumes')).filter((e) => e.startsWith('.new-') || e.startsWith('.rm-'))).toEqual([]);
    // A failed creation (no container came of it) takes back the volumes it made, not the ones that were there.
    await expect(withContainerVolumes(root, [{ name: 'fresh', anonymous: false }, { name: 'kept', anonymous: false }], 'c'.repeat(64), false, async () => {
      throw new Error('name in use');
    })).rejects.toThrow('name in use');
    expect((await listVolumes({ root })).map((v) => v.Name)).toEqual(['anon-alive', 'anon-kept', 'kept']);
  });

  it('ls filters; prune removes only anonymous ones unless all (Docker >= 23); sizes', async () => {
    const root = newRoot();
    await createVolume({ root, name: 'named1', labels: { keep: 'yes' } });
    await createVolume({ root, name: 'named2' });
    const anon = await createVolume({ root, labels: { 'com.docker.volume.anonymous': '' } });
    writeFileSync(join(anon.Mountpoint, 'f'), 'x'.repeat(1000));
    expect((await listVolumes({ root, filters: { name: ['named'] } })).map((v) => v.Name)).toEqual(['named1', 'named2']);
    expect((await listVolumes({ root, filters: { label: ['keep=yes'] } })).map((v) => v.Name)).toEqual(['named1']);
    expect((await listVolumes({ root, filters: { dangling: false } })).map((v) => v.Name)).toEqual([]);
    expect(await listVolumes({ root, filters: { driver: ['nfs'] } })).toEqual([]);
    expect((await volumeDiskUsage({ root })).find((v) => v.Name === anon.Name)!.UsageData).toEqual({ Size: 1000, RefCount: 0 });
    expect(await pruneVolumes({ root })).toEqual({ deleted: [anon.Name], reclaimedBytes: 1000 });
    expect(await pruneVolumes({ root, all: true, filters: { 'label!': ['keep'] } })).toEqual({ deleted: ['named2'], reclaimedBytes: 0 });
    expect((await listVolumes({ root })).map((v) => v.Name)).toEqual(['named1']);
    await removeVolume('named1', { root });
    expect(await listVolumes({ root })).toEqual([]);
  });
});
