// `ps --filter` and `ps --format` without containers: filter parsing and validation
// (lib/state/filters.ts), the filters over made-up lists, and ps rows through the --format
// templates (lib/cli/ps.ts, lib/cli/format.ts). No root, no I/O.
import { describe, expect, it } from 'vitest';

import { defaultPsFormat, PS_HEADERS, psRow, templateUsesSize } from '../../lib/cli/ps.js';
import { parseFormat, renderRows, renderTemplate } from '../../lib/cli/format.js';
import { TemplateError } from '../../lib/cli/failure.js';
import type { ContainerInfo } from '../../lib/state/api.js';
import { CONTAINER_STATUSES, filterContainers, normalizeFilters, parseFilterArgs, type ContainerFilters } from '../../lib/state/filters.js';
import { thrown } from './thrown.js';

const hex = (c: string) => c.repeat(64);

/** A listed container; `created` counts down so that the list is newest first. */
function info(over: Partial<ContainerInfo> & { id: string; name: string }): ContainerInfo {
  return {
    image: 'host',
    imageId: '',
    command: 'sleep 100',
    args: ['sleep', '100'],
    created: '2024-01-02T03:04:05.000Z',
    state: 'running',
    status: 'Up 5 seconds',
    pid: 42,
    exitCode: null,
    oomKilled: false,
    restartCount: 0,
    foreground: false,
    startedAt: '2024-01-02T03:04:05.100Z',
    finishedAt: '',
    logPath: '',
    ...over,
  };
}

const ALPINE = 'sha256:' + 'ab12'.repeat(16);
// Newest first, as listContainers() orders them.
const LIST: ContainerInfo[] = [
  info({ id: hex('e'), name: 'web-2', image: 'docker.io/library/alpine:3.20', imageId: ALPINE }),
  info({ id: hex('d'), name: 'job', state: 'exited', status: 'Exited (3) 1 minute ago', exitCode: 3, pid: 0 }),
  info({ id: hex('c'), name: 'killed', state: 'exited', status: 'Exited (137) 1 minute ago', exitCode: 137, pid: 0 }),
  info({ id: hex('b'), name: 'Web-1', state: 'restarting', status: 'Restarting (1) 1 second ago', exitCode: null, pid: 0, image: '/srv/rootfs' }),
  info({ id: `a${'0'.repeat(63)}`, name: 'ok', state: 'exited', status: 'Exited (0) 2 minutes ago', exitCode: 0, pid: 0 }),
];

const names = (filters: ContainerFilters, options: { all?: boolean; last?: number } = {}) =>
  filterContainers(LIST, normalizeFilters(filters), options).map((c) => c.name);

describe('parseFilterArgs (ps -f KEY=VALUE)', () => {
  it('collects values per key; keys trimmed and lower-cased, values trimmed; exit codes as numbers', () => {
    expect(parseFilterArgs([])).toEqual({});
    expect(parseFilterArgs(['name=web', ' NAME = db ', 'status=exited', 'status=running', 'exited=0', 'exited=-1', 'id=abc', 'ancestor=alpine:3', 'before=x', 'since=y'])).toEqual({
      id: ['abc'],
      name: ['web', 'db'],
      status: ['exited', 'running'],
      exited: [0, -1],
      ancestor: ['alpine:3'],
      before: ['x'],
      since: ['y'],
    });
    // Only the first `=` splits.
    expect(parseFilterArgs(['name=a=b'])).toEqual({ name: ['a=b'] });
  });

  it("accepts every status Docker knows (created included), and refuses others with Docker's words", () => {
    for (const s of CONTAINER_STATUSES) expect(parseFilterArgs([`status=${s}`])).toEqual({ status: [s] });
    expect(CONTAINER_STATUSES).toEqual(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);
    const e = thrown(() => parseFilterArgs(['status=stopped']));
    expect(e.message).toBe("invalid filter 'status=stopped'");
    expect(e.code).toBe('ERR_POCKER_INVALID');
    expect(thrown(() => parseFilterArgs(['status=Running'])).message).toBe("invalid filter 'status=Running'");
  });

  it("unknown keys: invalid filter 'KEY'; keys pocker cannot match are refused by name; bad formats and exit codes", () => {
    expect(thrown(() => parseFilterArgs(['foo=bar'])).message).toBe("invalid filter 'foo'");
    expect(thrown(() => parseFilterArgs(['=bar'])).message).toBe("invalid filter ''");
    // label is matched since run has --label (issue 12).
    expect(parseFilterArgs(['label=a=b', 'label=c'])).toEqual({ label: ['a=b', 'c'] });
    for (const key of ['health', 'network', 'volume', 'publish', 'expose', 'isolation', 'is-task']) {
      expect(thrown(() => parseFilterArgs([`${key}=x`])).message).toMatch(new RegExp(`^filter '${key}' is not supported: `));
    }
    expect(thrown(() => parseFilterArgs(['status'])).message).toBe('invalid argument "status" for "-f, --filter" flag: bad format of filter (expected name=value)');
    for (const bad of ['abc', '1.5', '', '0x10']) {
      expect(thrown(() => parseFilterArgs([`exited=${bad}`])).message).toBe(`invalid filter 'exited=${bad}': an exit code is an integer`);
    }
  });
});

describe('normalizeFilters (the library)', () => {
  it('takes one value or several, and checks them as the CLI does', () => {
    expect(normalizeFilters(undefined)).toEqual({ id: [], name: [], status: [], exited: [], ancestor: [], before: [], since: [], label: [] });
    expect(normalizeFilters({ name: 'a', status: ['exited', 'created'], exited: 3 })).toMatchObject({ name: ['a'], status: ['exited', 'created'], exited: [3] });
    expect(thrown(() => normalizeFilters({ status: 'gone' as never })).message).toBe("invalid filter 'status=gone'");
    expect(thrown(() => normalizeFilters({ exited: 1.5 })).message).toBe("invalid filter 'exited=1.5': an exit code is an integer");
    expect(thrown(() => normalizeFilters({ exited: '1' as never })).message).toBe("invalid filter 'exited=1': an exit code is an integer");
    expect(thrown(() => normalizeFilters({ nope: 'x' } as ContainerFilters)).message).toBe("invalid filter 'nope'");
    expect(normalizeFilters({ label: 'x' })).toMatchObject({ label: ['x'] });
    expect(thrown(() => normalizeFilters({ label: '' })).message).toBe("invalid filter 'label=': an empty value");
    expect(thrown(() => normalizeFilters({ name: 5 as never })).message).toBe("invalid filter 'name=5': a string");
    expect(thrown(() => normalizeFilters({ before: '' })).message).toBe("invalid filter 'before=': an empty value");
    expect(thrown(() => normalizeFilters([] as never)).message).toBe('invalid filters: an object of KEY: value(s)');
  });
});

describe('filterContainers', () => {
  it("label (issue 12): KEY has the label, KEY=VALUE with that value; every label filter must match (Docker's MatchKVList)", () => {
    const list = [
      info({ id: hex('1'), name: 'a', labels: { app: 'web', tier: '' } }),
      info({ id: hex('2'), name: 'b', labels: { app: 'db' } }),
      info({ id: hex('3'), name: 'c' }),
    ];
    const by = (label: string | string[]) => filterContainers(list, normalizeFilters({ label }), { all: true }).map((c) => c.name);
    expect(by('app')).toEqual(['a', 'b']);
    expect(by('app=web')).toEqual(['a']);
    expect(by('tier')).toEqual(['a']);
    expect(by('tier=')).toEqual(['a']);
    expect(by(['app', 'tier'])).toEqual(['a']);
    expect(by(['app=db', 'tier'])).toEqual([]);
    expect(by('app=we')).toEqual([]);
  });

  it('without filters: running and restarting ones, or all; -n N the N newest of all states', () => {
    expect(names({})).toEqual(['web-2', 'Web-1']);
    expect(names({}, { all: true })).toEqual(['web-2', 'job', 'killed', 'Web-1', 'ok']);
    expect(names({}, { last: 2 })).toEqual(['web-2', 'job']);
    expect(names({}, { last: 0 })).toEqual(['web-2', 'Web-1']);
    expect(names({}, { last: -1 })).toEqual(['web-2', 'Web-1']);
  });

  it('status compares the status string, implies all, values OR together', () => {
    expect(names({ status: 'exited' })).toEqual(['job', 'killed', 'ok']);
    expect(names({ status: ['restarting', 'running'] })).toEqual(['web-2', 'Web-1']);
    expect(names({ status: 'created' })).toEqual([]);
    expect(names({ status: 'paused' })).toEqual([]);
    // A status pocker's containers come to have is matched as it is (`created` from `pocker create`).
    const created = [info({ id: hex('f'), name: 'fresh', state: 'created' as ContainerInfo['state'], pid: 0, startedAt: '' }), ...LIST];
    expect(filterContainers(created, normalizeFilters({ status: 'created' })).map((c) => c.name)).toEqual(['fresh']);
    expect(filterContainers(created, normalizeFilters({})).map((c) => c.name)).toEqual(['web-2', 'Web-1']);
    expect(filterContainers(created, normalizeFilters({ exited: 0 })).map((c) => c.name)).toEqual(['ok']);
  });

  it('exited: exit codes of exited containers (implies all)', () => {
    expect(names({ exited: 137 })).toEqual(['killed']);
    expect(names({ exited: [0, 3] })).toEqual(['job', 'ok']);
    expect(names({ exited: 1 })).toEqual([]);
  });

  it('name: a regular expression searched for, with or without the leading /; (?i); the name itself', () => {
    expect(names({ name: 'web' }, { all: true })).toEqual(['web-2']);
    expect(names({ name: '(?i)web' }, { all: true })).toEqual(['web-2', 'Web-1']);
    expect(names({ name: '^/?[jk]' }, { all: true })).toEqual(['job', 'killed']);
    expect(names({ name: '^/ok$' }, { all: true })).toEqual(['ok']);
    expect(names({ name: ['^ok$', 'ill'] }, { all: true })).toEqual(['killed', 'ok']);
    expect(names({ name: 'o' })).toEqual([]); // running only
    expect(names({ name: '[' }, { all: true })).toEqual([]); // an invalid expression matches nothing
    expect(names({ name: '' }, { all: true })).toHaveLength(5);
  });

  it('id: prefixes; different keys AND together', () => {
    expect(names({ id: 'e' })).toEqual(['web-2']);
    expect(names({ id: ['d', 'c'] }, { all: true })).toEqual(['job', 'killed']);
    expect(names({ id: hex('d') }, { all: true })).toEqual(['job']);
    expect(names({ id: 'a0' }, { all: true })).toEqual(['ok']);
    expect(names({ id: ['d', 'c'], name: 'job' }, { all: true })).toEqual(['job']);
    expect(names({ id: 'd', status: 'running' })).toEqual([]);
  });

  it('ancestor: the recorded image by normalised reference, id or id prefix, host or rootfs', () => {
    expect(names({ ancestor: 'alpine:3.20' })).toEqual(['web-2']);
    expect(names({ ancestor: 'docker.io/library/alpine:3.20' })).toEqual(['web-2']);
    expect(names({ ancestor: 'library/alpine:3.20' })).toEqual(['web-2']);
    expect(names({ ancestor: 'alpine' })).toEqual([]); // alpine:latest
    expect(names({ ancestor: ALPINE })).toEqual(['web-2']);
    expect(names({ ancestor: 'ab12ab12' })).toEqual(['web-2']);
    expect(names({ ancestor: 'sha256:ab12' })).toEqual(['web-2']);
    expect(names({ ancestor: 'ab1' })).toEqual([]); // an id prefix has at least 4 digits
    expect(names({ ancestor: 'host' }, { all: true })).toEqual(['job', 'killed', 'ok']);
    expect(names({ ancestor: '/srv/rootfs' })).toEqual(['Web-1']);
    expect(names({ ancestor: ['host', 'alpine:3.20'] })).toEqual(['web-2']);
    expect(names({ ancestor: 'Not A Reference' }, { all: true })).toEqual([]);
  });

  it('before / since: by position in the newest-first list (id, prefix or name); unknown ones throw', () => {
    expect(names({ before: 'killed' }, { all: true })).toEqual(['Web-1', 'ok']);
    expect(names({ since: 'killed' }, { all: true })).toEqual(['web-2', 'job']);
    expect(names({ since: 'killed' })).toEqual(['web-2']); // running only
    expect(names({ before: 'job', since: 'ok' }, { all: true })).toEqual(['killed', 'Web-1']);
    expect(names({ before: hex('d') }, { all: true })).toEqual(['killed', 'Web-1', 'ok']);
    expect(names({ before: 'ddd' }, { all: true })).toEqual(['killed', 'Web-1', 'ok']);
    expect(names({ before: '/job' }, { all: true })).toEqual(['killed', 'Web-1', 'ok']);
    // Several values: any of them (before the newest of them, since the oldest).
    expect(names({ before: ['ok', 'job'] }, { all: true })).toEqual(['killed', 'Web-1', 'ok']);
    expect(names({ since: ['web-2', 'killed'] }, { all: true })).toEqual(['web-2', 'job']);
    expect(names({ since: 'web-2' }, { all: true })).toEqual([]);
    expect(names({ before: 'web-2', since: 'job' }, { all: true })).toEqual([]);
    const missing = thrown(() => names({ since: 'nope' }));
    expect([missing.code, missing.message]).toEqual(['ERR_POCKER_NOT_FOUND', 'No such container: nope']);
    const list2 = [info({ id: `ab${'1'.repeat(62)}`, name: 'x' }), info({ id: `ab${'2'.repeat(62)}`, name: 'y' })];
    const ambiguous = thrown(() => filterContainers(list2, normalizeFilters({ before: 'ab' })));
    expect([ambiguous.code, ambiguous.message]).toEqual(['ERR_POCKER_AMBIGUOUS', 'multiple containers found with prefix ab']);
  });

  it('-n counts after the filters', () => {
    expect(names({ status: 'exited' }, { last: 2 })).toEqual(['job', 'killed']);
    expect(names({ name: 'o' }, { last: 1 })).toEqual(['job']);
  });
});

describe('ps rows and --format', () => {
  const now = Date.parse('2024-01-02T03:06:05.000Z');
  const rows = LIST.map((c) => psRow(c, { now, familiar: (n) => n.replace(/^docker\.io\/library\//, '') }));

  it("Docker's ContainerContext fields, keys sorted", () => {
    expect(rows[0]).toEqual({
      Command: '"sleep 100"',
      CreatedAt: expect.stringMatching(/^2024-01-0[12] \d\d:\d\d:05 [+-]\d{4} \S+$/) as unknown as string,
      ID: 'eeeeeeeeeeee',
      Image: 'alpine:3.20',
      Labels: '',
      LocalVolumes: '0',
      Mounts: '',
      Names: 'web-2',
      Networks: '',
      Ports: '',
      RunningFor: '2 minutes ago',
      Size: '0B',
      State: 'running',
      Status: 'Up 5 seconds',
    });
    expect(Object.keys(rows[0]!)).toEqual([...Object.keys(rows[0]!)].sort());
    expect(Object.keys(PS_HEADERS)).toEqual(Object.keys(rows[0]!));
    expect(rows[3]).toMatchObject({ Image: '/srv/rootfs', State: 'restarting' });
    const full = psRow(LIST[0]!, { now, trunc: false, familiar: (n) => n });
    expect(full).toMatchObject({ ID: hex('e'), Image: 'docker.io/library/alpine:3.20' });
    // An image known by id only shows its short id; sizes as Docker prints them.
    expect(psRow(info({ id: hex('1'), name: 'n', image: ALPINE, imageId: ALPINE }), { now }).Image).toBe('ab12ab12ab12');
    expect(psRow(info({ id: hex('1'), name: 'n', sizeRw: 12_345, sizeRootFs: 5_612_345 }), { now }).Size).toBe('12.3kB (virtual 5.61MB)');
    expect(psRow(info({ id: hex('1'), name: 'n', sizeRw: 0, sizeRootFs: 0 }), { now }).Size).toBe('0B');
    expect(psRow(info({ id: hex('1'), name: 'n', command: 'sh -c echo a long command line' }), { now }).Command).toBe('"sh -c echo a long c…"');
    expect(psRow(info({ id: hex('1'), name: 'n', created: '' }), { now })).toMatchObject({ CreatedAt: '', RunningFor: '' });
  });

  it('table (default, -s), json, table TEMPLATE and plain templates', () => {
    const table = renderRows(parseFormat(undefined, defaultPsFormat(false)), rows.slice(0, 2), PS_HEADERS).split('\n');
    expect(table[0]).toBe('CONTAINER ID   IMAGE         COMMAND       CREATED         STATUS                    PORTS     NAMES');
    expect(table[1]).toBe('eeeeeeeeeeee   alpine:3.20   "sleep 100"   2 minutes ago   Up 5 seconds                        web-2');
    expect(renderRows(parseFormat('table', defaultPsFormat(true)), [], PS_HEADERS)).toMatch(/NAMES     SIZE\n$/);
    const json = renderRows(parseFormat('json', defaultPsFormat(false)), rows.slice(0, 1), PS_HEADERS);
    expect(json.endsWith('}\n')).toBe(true);
    expect(JSON.parse(json)).toEqual(rows[0]);
    expect(renderRows(parseFormat('{{json .}}', ''), rows.slice(0, 1), PS_HEADERS)).toBe(json);
    expect(renderRows(parseFormat('{{.Names}}', ''), rows, PS_HEADERS)).toBe('web-2\njob\nkilled\nWeb-1\nok\n');
    expect(renderRows(parseFormat('table {{.ID}}\\t{{.Names}}\\t{{.Status}}', ''), rows.slice(1, 3), PS_HEADERS)).toBe(
      'CONTAINER ID   NAMES     STATUS\n' + 'dddddddddddd   job       Exited (3) 1 minute ago\n' + 'cccccccccccc   killed    Exited (137) 1 minute ago\n',
    );
    expect(renderRows(parseFormat('{{.ID}}: {{upper .State}} {{json .Names}}', ''), rows.slice(1, 2), PS_HEADERS)).toBe('dddddddddddd: EXITED "job"\n');
  });

  it('bad templates are TemplateErrors ("template parsing error" in the CLI); .Size is detected', () => {
    const sample = { ...PS_HEADERS };
    expect(() => renderTemplate('{{.Nope}}', sample)).toThrow(TemplateError);
    expect(() => renderTemplate('{{.Names}', sample)).toThrow(/unclosed action/);
    expect(() => renderTemplate('{{nope .Names}}', sample)).toThrow(/function "nope" not defined/);
    expect(renderTemplate('{{.Names}} {{.Size}}', sample)).toBe('NAMES SIZE');
    expect(templateUsesSize('{{.Names}}\t{{.Size}}')).toBe(true);
    expect(templateUsesSize('{{ .Size }}')).toBe(true);
    expect(templateUsesSize('{{.Names}} Size')).toBe(false);
    expect(templateUsesSize('{{.SizeRw}}')).toBe(false);
  });
});
