// lib/userns without the kernel: --userns/--uidmap/--gidmap parsing and validation, subid files,
// and first-fit allocation around the ranges other containers hold.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { allocateAuto, firstFit, hostIdOf, parseSubids, resolveUserns } from '../../lib/userns/index.js';

describe('resolveUserns', () => {
  it('host (or nothing) is no user namespace; auto defaults to 65536 ids; auto:size=N', () => {
    expect(resolveUserns({})).toBeUndefined();
    expect(resolveUserns({ userns: 'host' })).toBeUndefined();
    expect(resolveUserns({ userns: 'auto' })).toEqual({ mode: 'auto', size: 65536 });
    expect(resolveUserns({ userns: 'auto:size=1000' })).toEqual({ mode: 'auto', size: 1000 });
  });

  it('--uidmap strings and objects; --gidmap defaults to the uid maps', () => {
    expect(resolveUserns({ uidmap: ['0:100000:1000', { containerID: 1000, hostID: 5, size: 1 }] })).toEqual({
      mode: 'map',
      uidMappings: [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 5, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 5, size: 1 }],
    });
    expect(resolveUserns({ uidmap: ['0:1:2'], gidmap: ['0:3:4'] })).toMatchObject({ gidMappings: [{ containerID: 0, hostID: 3, size: 4 }] });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ userns: 'private' }, 'invalid --userns "private": expected host, auto or auto:size=N'],
    [{ userns: 'auto:size=-1' }, 'unknown option "size=-1"'],
    [{ userns: 5 }, 'invalid --userns 5: must be a string'],
    [{ uidmap: '0:1:2' }, 'must be an array'],
    [{ uidmap: ['0:1'] }, 'expected CONTAINER:HOST:SIZE'],
    [{ uidmap: ['0:01:2'] }, 'expected CONTAINER:HOST:SIZE'],
    [{ uidmap: ['0:1:0'] }, 'the size must be at least 1'],
    [{ uidmap: ['4294967290:1:10'] }, 'past the largest id'],
    [{ uidmap: ['1:1:10'] }, 'container id 0 must be mapped'],
    [{ uidmap: ['0:1:10', '9:100:1'] }, 'its container ids overlap 0:1:10'],
    [{ uidmap: ['0:1:10', '10:10:1'] }, 'its host ids overlap 0:1:10'],
    [{ uidmap: Array.from({ length: 341 }, (_, i) => `${i}:${i}:1`) }, 'at most 340 mappings'],
    [{ gidmap: ['0:1:1'] }, 'needs --uidmap as well'],
    [{ userns: 'auto', uidmap: ['0:1:1'] }, 'conflicting options: --userns auto and --uidmap/--gidmap'],
  ])('refuses %j', (opts, message) => {
    expect(() => resolveUserns(opts)).toThrow(expect.objectContaining({ code: 'ERR_POCKER_INVALID', step: 'validate', message: expect.stringContaining(message) }));
  });
});

describe('subid ranges and allocation', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('parseSubids: only the user\'s well-formed lines', () => {
    expect(parseSubids('# c\npocker:100000:65536\nother:1:2\npocker:x:1\npocker:200000:0\n pocker:300000:10 \n', 'pocker')).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 10 },
    ]);
  });

  it('firstFit skips held ranges and moves to the next pool range', () => {
    const pool = [{ start: 100, count: 30 }, { start: 1000, count: 100 }];
    expect(firstFit(pool, [], 10)).toBe(100);
    expect(firstFit(pool, [{ start: 100, count: 10 }, { start: 115, count: 5 }], 10)).toBe(120);
    expect(firstFit(pool, [{ start: 105, count: 20 }], 10)).toBe(1000);
    expect(firstFit(pool, [{ start: 0, count: 2000 }], 10)).toBeUndefined();
    expect(hostIdOf([{ containerID: 0, hostID: 100, size: 10 }], 9)).toBe(109);
    expect(hostIdOf([{ containerID: 0, hostID: 100, size: 10 }], 10)).toBeUndefined();
  });

  it('allocateAuto: around the maps recorded in the root\'s config.json files; a clear error without an entry or room', () => {
    const d = mkdtempSync(join(tmpdir(), 'pocker-unit-userns-'));
    dirs.push(d);
    const files = { subuid: join(d, 'subuid'), subgid: join(d, 'subgid') };
    writeFileSync(files.subuid, 'pocker:100000:200000\n');
    writeFileSync(files.subgid, 'pocker:500000:200000\n');
    const root = join(d, 'root');
    mkdirSync(join(root, 'containers', 'a'), { recursive: true });
    writeFileSync(join(root, 'containers', 'a', 'config.json'), JSON.stringify({ linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }] } }));
    mkdirSync(join(root, 'containers', 'half-made'));
    expect(allocateAuto(root, 65536, files)).toEqual({
      mode: 'auto',
      uidMappings: [{ containerID: 0, hostID: 165536, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 565536, size: 65536 }],
    });
    expect(() => allocateAuto(root, 150000, files)).toThrow(expect.objectContaining({ code: 'ERR_POCKER_CONFLICT', message: expect.stringContaining('no free range of 150000 ids') }));
    writeFileSync(files.subgid, 'someone:1:2\n');
    expect(() => allocateAuto(root, 10, files)).toThrow(expect.objectContaining({ code: 'ERR_POCKER_UNSUPPORTED', path: files.subgid }));
  });
});
