// Docker's output formats for the image commands (lib/cli/format.ts, images.ts): go-units sizes and
// durations, text/tabwriter tables, Go's JSON, the --format template subset, name splitting and
// the mountinfo parsing that finds the layers running containers use. No root, no I/O.
import { describe, expect, it } from 'vitest';

import { imageRow, reclaimableCell } from '../../lib/cli/images.js';
import {
  formatG,
  formatTable,
  goJson,
  goTimeString,
  humanDuration,
  humanSize,
  parseFormat,
  renderRows,
  renderTemplate,
  timeAgo,
} from '../../lib/cli/format.js';
import { TemplateError } from '../../lib/cli/failure.js';
import { inspectObject } from '../../lib/image/inspect.js';
import { globMatch, shortImageId, splitName } from '../../lib/image/names.js';
import { familiarName } from '../../lib/image/reference.js';
import type { ImageEntry } from '../../lib/image/store.js';
import type { ImageConfig } from '../../lib/image/types.js';
import { containerMounts } from '../../lib/image/usage.js';

const HEX = 'a'.repeat(64);
const ID = `sha256:05455a08881e${'0'.repeat(52)}`;

describe('formatG (Go %.Ng)', () => {
  it.each([
    [7.8, 3, '7.8'],
    [7.377908, 3, '7.38'],
    [7.377908, 4, '7.378'],
    [123.456, 3, '123'],
    [100, 3, '100'],
    [1, 3, '1'],
    [0, 3, '0'],
    [999.5, 3, '1e+03'],
    [0.00001234, 3, '1.23e-05'],
    [12.5, 4, '12.5'],
  ])('%d with precision %d is %s', (value, precision, expected) => {
    expect(formatG(value, precision)).toBe(expected);
  });
});

describe('humanSize (go-units HumanSizeWithPrecision, decimal)', () => {
  it.each([
    [0, 3, '0B'],
    [1, 3, '1B'],
    [999, 3, '999B'],
    [1000, 3, '1kB'],
    [1024, 3, '1.02kB'],
    [4096, 4, '4.096kB'],
    [7_800_000, 3, '7.8MB'],
    [7_377_908, 3, '7.38MB'],
    [7_377_908, 4, '7.378MB'],
    [12_300_000, 4, '12.3MB'],
    [123_456_789, 3, '123MB'],
    [1_500_000_000, 3, '1.5GB'],
    [2e15, 3, '2PB'],
  ])('%d bytes (precision %d) is %s', (bytes, precision, expected) => {
    expect(humanSize(bytes, precision)).toBe(expected);
  });

  it('defaults to HumanSize (4 significant digits)', () => {
    expect(humanSize(7_377_908)).toBe('7.378MB');
  });
});

describe('humanDuration and timeAgo (go-units HumanDuration)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  it.each([
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [729 * d, '24 months'],
    [730 * d, '2 years'],
    [56 * 365 * d, '56 years'],
  ])('%d ms is %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });

  it('says "ago", and N/A for unknown or zero times', () => {
    const now = Date.parse('2024-02-10T12:00:00Z');
    expect(timeAgo('2024-02-08T12:00:00Z', now)).toBe('2 days ago');
    expect(timeAgo('2024-02-10T11:59:58Z', now)).toBe('2 seconds ago');
    expect(timeAgo('2024-02-10T12:00:05Z', now)).toBe('Less than a second ago');
    expect(timeAgo('1970-01-01T00:00:00Z', now)).toBe('54 years ago');
    expect(timeAgo('0001-01-01T00:00:00Z', now)).toBe('N/A');
    expect(timeAgo('not a date', now)).toBe('N/A');
  });

  it('goTimeString is Go time.Time.String() without fractions', () => {
    expect(goTimeString('2024-01-27T01:32:17Z')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
    if (new Date().getTimezoneOffset() === 0) expect(goTimeString('2024-01-27T01:32:17Z')).toBe('2024-01-27 01:32:17 +0000 UTC');
  });
});

describe('formatTable (text/tabwriter: minwidth 10, padding 3)', () => {
  it("lays out Docker's images header and rows", () => {
    const text = formatTable([
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
      ['alpine', 'latest', '05455a08881e', '2 weeks ago', '7.38MB'],
      ['127.0.0.1:5000/test/app', '1', '1234567890ab', '54 years ago', '2MB'],
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('REPOSITORY                TAG       IMAGE ID       CREATED        SIZE');
    expect(lines[1]).toBe('alpine                    latest    05455a08881e   2 weeks ago    7.38MB');
    expect(lines[2]).toBe('127.0.0.1:5000/test/app   1         1234567890ab   54 years ago   2MB');
    expect(lines[3]).toBe('');
    // Every column starts at the same offset on every line; the last one is not padded.
    for (const col of ['TAG', 'IMAGE ID', 'CREATED', 'SIZE']) {
      const at = lines[0]!.indexOf(col);
      expect(lines[1]![at - 1]).toBe(' ');
      expect(lines[1]![at]).not.toBe(' ');
    }
    expect(text.split('\n').every((l) => !l.endsWith(' '))).toBe(true);
  });

  it('matches the empty `docker images` header exactly', () => {
    expect(formatTable('REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE')).toBe('REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
  });

  it('uses the minimal width for short cells and counts characters, not bytes', () => {
    expect(formatTable([['a', 'b'], ['é', 'c']])).toBe('a         b\né         c\n');
  });

  it('sizes a column over each block of consecutive lines that have it', () => {
    const text = formatTable('aaaaaaaaaaaaaa\tx\n\nb\ty\n');
    expect(text).toBe('aaaaaaaaaaaaaa   x\n\nb         y\n');
  });

  it('honours other minimal widths and paddings', () => {
    expect(formatTable([['ab', 'c'], ['abcd', 'e']], { minWidth: 0, padding: 1 })).toBe('ab   c\nabcd e\n');
  });
});

describe("Go's JSON", () => {
  it('escapes <, > and & like encoding/json', () => {
    expect(goJson({ Tag: '<none>', A: 'a&b' })).toBe('{"Tag":"\\u003cnone\\u003e","A":"a\\u0026b"}');
    expect(JSON.parse(goJson({ Tag: '<none>' }))).toEqual({ Tag: '<none>' });
  });

  it('indents like json.MarshalIndent', () => {
    expect(goJson([{ Id: 'x' }], '    ')).toBe('[\n    {\n        "Id": "x"\n    }\n]');
  });
});

describe('--format templates', () => {
  const row = { Repository: 'alpine', Tag: 'latest', ID: '05455a08881e', Labels: { b: '2', a: '1' }, List: ['x', 'y'], Nested: { Env: ['A=1'] } };

  it('renders fields, functions and literals', () => {
    expect(renderTemplate('{{.Repository}}:{{.Tag}}', row)).toBe('alpine:latest');
    expect(renderTemplate('{{ .ID }}\t{{upper .Tag}}', row)).toBe('05455a08881e\tLATEST');
    expect(renderTemplate('{{json .Nested.Env}}', row)).toBe('["A=1"]');
    expect(renderTemplate('{{join .List ","}}', row)).toBe('x,y');
    expect(renderTemplate('{{.List}} {{.Labels}}', row)).toBe('[x y] map[a:1 b:2]');
    expect(renderTemplate('{{truncate .ID 4}}', row)).toBe('0545');
    expect(renderTemplate('{{json .}}', { B: '1', A: '<' })).toBe('{"B":"1","A":"\\u003c"}');
    expect(renderTemplate('a  {{- .Tag -}}  b', row)).toBe('alatestb');
  });

  it('rejects unknown fields and functions', () => {
    expect(() => renderTemplate('{{.Nope}}', row)).toThrow(TemplateError);
    expect(() => renderTemplate('{{nope .Tag}}', row)).toThrow(/function "nope" not defined/);
    expect(() => renderTemplate('{{.Tag', row)).toThrow(/unclosed/);
  });

  it("parses Docker's table/json prefixes and escapes", () => {
    expect(parseFormat(undefined, 'D')).toEqual({ table: true, json: false, body: 'D' });
    expect(parseFormat('table', 'D')).toEqual({ table: true, json: false, body: 'D' });
    expect(parseFormat('json', 'D')).toEqual({ table: false, json: true, body: '{{json .}}' });
    expect(parseFormat('table {{.ID}}\\t{{.Tag}}', 'D')).toEqual({ table: true, json: false, body: '{{.ID}}\t{{.Tag}}' });
    expect(parseFormat('{{.ID}}\\n', 'D')).toEqual({ table: false, json: false, body: '{{.ID}}\n' });
  });

  it('renders tables with a header from the field names', () => {
    const text = renderRows({ table: true, body: '{{.ID}}\t{{.Tag}}' }, [row], { ID: 'IMAGE ID', Tag: 'TAG' });
    expect(text).toBe('IMAGE ID       TAG\n05455a08881e   latest\n');
    expect(renderRows({ table: false, body: '{{.ID}}' }, [row, row], {})).toBe('05455a08881e\n05455a08881e\n');
  });
});

describe('names, ids and filters', () => {
  it('splits stored names into familiar repository, tag and digest', () => {
    expect(splitName('docker.io/library/alpine:3.20', familiarName)).toEqual({ name: 'docker.io/library/alpine', repository: 'alpine', tag: '3.20' });
    expect(splitName('docker.io/user/app:1', familiarName)).toMatchObject({ repository: 'user/app', tag: '1' });
    expect(splitName('127.0.0.1:5000/x:latest', familiarName)).toMatchObject({ repository: '127.0.0.1:5000/x', tag: 'latest' });
    expect(splitName(`127.0.0.1:5000/x@sha256:${HEX}`, familiarName)).toEqual({
      name: '127.0.0.1:5000/x',
      repository: '127.0.0.1:5000/x',
      digest: `sha256:${HEX}`,
    });
    expect(splitName('localhost:5000/x', familiarName)).toEqual({ name: 'localhost:5000/x', repository: 'localhost:5000/x' });
  });

  it('short ids are 12 hex digits', () => {
    expect(shortImageId(ID)).toBe('05455a08881e');
  });

  it("globs like Go's path.Match", () => {
    expect(globMatch('alpine', 'alpine')).toBe(true);
    expect(globMatch('alp*', 'alpine')).toBe(true);
    expect(globMatch('*', 'user/app')).toBe(false);
    expect(globMatch('*/*', 'user/app')).toBe(true);
    expect(globMatch('alpine:3.?0', 'alpine:3.20')).toBe(true);
    expect(globMatch('alpine:[0-9]*', 'alpine:3.20')).toBe(true);
    expect(globMatch('alpine:[!0-9]*', 'alpine:3.20')).toBe(false);
    expect(globMatch('127.0.0.1:5000/x', '127.0.0.1:5000/x')).toBe(true);
    expect(globMatch('127.0.0.1:5000/x', '127.0.0.1:5000/xy')).toBe(false);
  });
});

describe('image rows and inspect objects', () => {
  const entry: ImageEntry = {
    name: 'docker.io/library/alpine:latest',
    id: ID,
    configDigest: ID,
    manifestDigest: `sha256:${'b'.repeat(64)}`,
    indexDigest: `sha256:${'c'.repeat(64)}`,
    layers: [`sha256:${'d'.repeat(64)}`],
    created: '2024-02-08T12:00:00Z',
    size: 3_000_000,
  };

  it("has Docker's keys for --format json", () => {
    const row = imageRow(entry, 7_377_908, { familiar: familiarName, now: Date.parse('2024-02-10T12:00:00Z') });
    expect(Object.keys(row)).toEqual(['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    expect(row).toMatchObject({
      Containers: 'N/A',
      CreatedSince: '2 days ago',
      Digest: `sha256:${'c'.repeat(64)}`,
      ID: '05455a08881e',
      Repository: 'alpine',
      Size: '7.38MB',
      Tag: 'latest',
      VirtualSize: '7.378MB',
    });
    expect(imageRow(entry, 1, { noTrunc: true }).ID).toBe(ID);
    expect(imageRow({ ...entry, name: `docker.io/library/alpine@sha256:${HEX}` }, 1, { familiar: familiarName })).toMatchObject({
      Tag: '<none>',
      Digest: `sha256:${HEX}`,
    });
  });

  it('inspect: names, config and rootfs from the config blob', () => {
    const config: ImageConfig = {
      created: '2024-02-08T12:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['sh'], StopSignal: 'SIGQUIT', ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: [`sha256:${'e'.repeat(64)}`] },
    };
    const other: ImageEntry = { ...entry, name: 'docker.io/me/app:v1' };
    const o = inspectObject(entry, config, [entry, other], 4096, { familiar: familiarName });
    expect(o).toMatchObject({
      Id: ID,
      RepoTags: ['alpine:latest', 'me/app:v1'],
      RepoDigests: [`alpine@sha256:${'c'.repeat(64)}`, `me/app@sha256:${'c'.repeat(64)}`],
      Created: '2024-02-08T12:00:00Z',
      Architecture: 'amd64',
      Os: 'linux',
      Size: 4096,
      Config: {
        User: '',
        Env: ['PATH=/bin'],
        Cmd: ['sh'],
        Entrypoint: null,
        WorkingDir: '',
        Volumes: null,
        Labels: { a: 'b' },
        ExposedPorts: { '80/tcp': {} },
        StopSignal: 'SIGQUIT',
      },
      RootFS: { Type: 'layers', Layers: [`sha256:${'e'.repeat(64)}`] },
      Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    });
    expect(o).not.toHaveProperty('Variant');
    expect(inspectObject(entry, { ...config, variant: 'v8' }, [], 0)).toHaveProperty('Variant', 'v8');
  });

  it("RECLAIMABLE has Docker's percentage", () => {
    expect(reclaimableCell(1_000_000, 4_000_000)).toBe('1MB (25%)');
    expect(reclaimableCell(0, 0)).toBe('0B');
    expect(reclaimableCell(2_999, 3_000)).toBe('2.999kB (99%)');
  });
});

describe('running containers from mountinfo', () => {
  const root = '/var/lib/pocker';
  const c1 = 'f'.repeat(64);
  const line = (lower: string, upper: string) =>
    `66 42 0:40 / / rw,nodev,relatime - overlay overlay rw,lowerdir=${lower},upperdir=${upper},workdir=${upper.replace(/upper$/, 'work')},uuid=on`;

  it('finds the lower dirs of overlays whose upper dir is a container of this root', () => {
    const text = [
      '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw',
      line(`${root}/layers/${'2'.repeat(64)}:${root}/layers/${'1'.repeat(64)}`, `${root}/containers/${c1}/upper`),
      line('/other/lower', '/elsewhere/containers/x/upper'),
    ].join('\n');
    const found = containerMounts(text, `${root}/containers`);
    expect([...found.keys()]).toEqual([c1]);
    expect(found.get(c1)).toEqual([`${root}/layers/${'2'.repeat(64)}`, `${root}/layers/${'1'.repeat(64)}`]);
  });

  it("undoes mountinfo's octal escapes and overlay's backslash escapes", () => {
    const text = line('/a\\040b/l\\134:1:/c', `/r\\040x/containers/${c1}/upper`);
    const found = containerMounts(text, '/r x/containers');
    expect(found.get(c1)).toEqual(['/a b/l:1', '/c']);
  });
});
