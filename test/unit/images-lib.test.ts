// The pure parts of the image library (lib/image/names.ts, usage.ts, inspect.ts, manage.ts's
// reference filter): Docker's names, which images and layers containers use, and the inspect
// document's shape. No root, no I/O.
import { describe, expect, it } from 'vitest';

import { inspectObject } from '../../lib/image/inspect.js';
import { referenceMatcher } from '../../lib/image/manage.js';
import { repoDigest, shownReference, splitName } from '../../lib/image/names.js';
import { familiarName } from '../../lib/image/reference.js';
import type { ImageEntry } from '../../lib/image/store.js';
import { imagesInUse, layersInUse, type LiveContainers } from '../../lib/image/usage.js';

const hex = (c: string) => c.repeat(64);
const D = `sha256:${hex('d')}`;

function entry(name: string, id: string, layers: string[], extra: Partial<ImageEntry> = {}): ImageEntry {
  return { name, id, configDigest: id, manifestDigest: `sha256:${hex('9')}`, layers, created: '2024-01-01T00:00:00Z', size: 0, ...extra };
}

describe('names', () => {
  it('shownReference: repository:tag, :latest without a tag, @digest for a name by digest', () => {
    expect(shownReference(splitName('docker.io/library/alpine:3.20', familiarName))).toBe('alpine:3.20');
    expect(shownReference(splitName('localhost:5000/x', familiarName))).toBe('localhost:5000/x:latest');
    expect(shownReference(splitName(`docker.io/user/app@${D}`, familiarName))).toBe(`user/app@${D}`);
  });

  it("repoDigest: the index's digest when there is one, else the manifest's", () => {
    expect(repoDigest({ manifestDigest: 'sha256:m' })).toBe('sha256:m');
    expect(repoDigest({ manifestDigest: 'sha256:m', indexDigest: 'sha256:i' })).toBe('sha256:i');
  });
});

describe('referenceMatcher (images REPOSITORY[:TAG])', () => {
  const parts = (stored: string) => splitName(stored, familiarName);
  const matches = (pattern: string, stored: string) => referenceMatcher(pattern)(parts(stored));

  it('normalises a reference to its familiar form; a tag only matches when given', () => {
    expect(matches('alpine', 'docker.io/library/alpine:3.20')).toBe(true);
    expect(matches('docker.io/library/alpine', 'docker.io/library/alpine:3.20')).toBe(true);
    expect(matches('library/alpine:3.20', 'docker.io/library/alpine:3.20')).toBe(true);
    expect(matches('alpine:3.19', 'docker.io/library/alpine:3.20')).toBe(false);
    expect(matches('alpine', 'docker.io/library/alpinex:1')).toBe(false);
    expect(matches('127.0.0.1:5000/x', '127.0.0.1:5000/x:1')).toBe(true);
    expect(matches('127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1')).toBe(true);
  });

  it("takes globs as they are (Go's path.Match), against the name with and without its tag", () => {
    expect(matches('alp*', 'docker.io/library/alpine:3.20')).toBe(true);
    expect(matches('alpine:3.?0', 'docker.io/library/alpine:3.20')).toBe(true);
    expect(matches('*', 'docker.io/user/app:1')).toBe(false);
    expect(matches('*/*', 'docker.io/user/app:1')).toBe(true);
  });

  it('matches a name by digest by its digest', () => {
    expect(matches(`alpine@${D}`, `docker.io/library/alpine@${D}`)).toBe(true);
    expect(matches('alpine', `docker.io/library/alpine@${D}`)).toBe(true);
    expect(matches(`alpine@sha256:${hex('e')}`, `docker.io/library/alpine@${D}`)).toBe(false);
  });

  it('matches something that is no reference as given', () => {
    expect(matches('Bad Ref', 'docker.io/library/alpine:1')).toBe(false);
  });
});

describe('images and layers containers use', () => {
  const L1 = `sha256:${hex('1')}`;
  const L2 = `sha256:${hex('2')}`;
  const L3 = `sha256:${hex('3')}`;
  const A = entry('docker.io/library/a:1', `sha256:${hex('a')}`, [L1, L2]);
  const B = entry('docker.io/library/b:1', `sha256:${hex('b')}`, [L1, L3]);
  const c1 = hex('c');
  const c2 = hex('e');

  it("a container's config.json names its image; a mounted one without it counts by its top layer", () => {
    const live: LiveContainers = {
      dirs: [c1, c2],
      running: new Map([[c2, [L3, L1]]]),
      images: new Map([[c1, { name: A.name, id: A.id, layers: [L1, L2] }]]),
    };
    expect([...imagesInUse([A, B], live)]).toEqual([
      [A.id, [c1.slice(0, 12)]],
      [B.id, [c2.slice(0, 12)]],
    ]);
    expect([...layersInUse(live)].sort()).toEqual([L1, L2, L3]);
  });

  it('a container is listed once per image, and nothing is in use without containers', () => {
    const live: LiveContainers = {
      dirs: [c1],
      running: new Map([[c1, [L2, L1]]]),
      images: new Map([[c1, { name: A.name, id: A.id, layers: [L1, L2] }]]),
    };
    expect(imagesInUse([A, B], live).get(A.id)).toEqual([c1.slice(0, 12)]);
    expect(imagesInUse([A, B], { dirs: [], running: new Map(), images: new Map() }).size).toBe(0);
  });
});

describe('inspectObject', () => {
  const e = entry('docker.io/library/a:1', `sha256:${hex('a')}`, [`sha256:${hex('1')}`], { indexDigest: `sha256:${hex('8')}` });

  it("keeps Docker's field order, with the optional fields in their places only when set", () => {
    const o = inspectObject(
      e,
      {
        architecture: 'arm64',
        variant: 'v8',
        os: 'linux',
        'os.version': '1',
        config: {
          ExposedPorts: { '80/tcp': {} },
          Healthcheck: { Test: ['CMD', 'true'] },
          ArgsEscaped: true,
          StopSignal: 'SIGINT',
          Shell: ['/bin/ash', '-c'],
          Labels: {},
          Volumes: {},
        },
        rootfs: { type: 'layers', diff_ids: [] },
      },
      [],
      1,
      { lowerDirs: ['/l/2', '/l/1'] },
    );
    expect(Object.keys(o)).toEqual([
      'Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config',
      'Architecture', 'Variant', 'Os', 'OsVersion', 'Size', 'GraphDriver', 'RootFS', 'Metadata',
    ]);
    expect(Object.keys(o.Config)).toEqual([
      'User', 'ExposedPorts', 'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'StopSignal', 'Shell',
    ]);
    expect(o.Config).toMatchObject({ Volumes: null, Labels: null, Env: null, Cmd: null });
    expect(o.GraphDriver).toEqual({ Data: { LowerDir: '/l/2:/l/1' }, Name: 'overlay' });
    expect(o.Created).toBe(e.created);
    expect(o.RepoTags).toEqual(['docker.io/library/a:1']);
    expect(o.RepoDigests).toEqual([`docker.io/library/a@sha256:${hex('8')}`]);
  });

  it('a name by digest gives a RepoDigest and no RepoTag; other ids are not its names', () => {
    const byDigest = { ...e, name: `docker.io/library/a@${D}` };
    const other = entry('docker.io/library/other:1', `sha256:${hex('f')}`, []);
    const o = inspectObject(e, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, [e, byDigest, other], 0, { familiar: familiarName });
    expect(o.RepoTags).toEqual(['a:1']);
    expect(o.RepoDigests).toEqual([`a@sha256:${hex('8')}`, `a@${D}`]); // sorted
    expect(o.GraphDriver.Data).toBeNull();
    expect(Object.keys(o.Config)).toEqual(['User', 'Env', 'Cmd', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels']);
  });
});
