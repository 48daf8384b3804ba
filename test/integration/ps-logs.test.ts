// `ps --filter / --format / -n / -l / -s` and `logs --since / --until` on real detached containers
// (host image, a busybox image imported from a rootfs tarball, a --rootfs directory), through the
// CLI and the library (listContainers({ filters, last, size }), containerLogs / followLogs).
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PockerError, containerLogs, followLogs, listContainers } from '../../lib/index.js';
import { busyboxRootfs, cleanupAll, cli, hostBusybox, isRoot, tempDir, tempRoot, until } from '../helpers.js';

const busybox = hostBusybox();

/** `2024-05-06T07:08:09.123456789Z` -> `1715… .123456789` (Unix seconds, exact). */
function unixOf(rfc: string): string {
  return `${Date.parse(`${rfc.slice(0, 19)}Z`) / 1000}.${rfc.slice(20, 29)}`;
}

/** The same instant as a local time without zone, whole seconds (rounded down). */
function localSecondOf(rfc: string): string {
  const d = new Date(Date.parse(`${rfc.slice(0, 19)}Z`));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

describe.skipIf(!isRoot || !busybox)('ps --filter/--format and logs --since/--until', () => {
  let root: string;
  let imageId: string;
  let rootfs: string;
  const ids: Record<string, string> = {};
  const pk = (...args: string[]) => cli(['--root', root, ...args]);
  /** `ps ARGS --format {{.Names}}` as a list. */
  const names = async (...args: string[]) => {
    const r = await pk('ps', ...args, '--format', '{{.Names}}');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  };
  const start = async (name: string, ...args: string[]) => {
    const r = await pk('run', '-d', '--name', name, ...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    ids[name] = r.stdout.trim();
    return ids[name]!;
  };
  const state = async (name: string) => (JSON.parse((await pk('ps', '-a', '-f', `name=^${name}$`, '--format', 'json')).stdout) as { State: string }).State;

  beforeAll(async () => {
    root = tempRoot();
    rootfs = busyboxRootfs();
    const file = join(tempDir('ps-tar'), 'rootfs.tar');
    execFileSync('tar', ['--create', `--file=${file}`, '--numeric-owner', '-C', rootfs, '.']);
    const imported = await pk('import', file, 'ps-bb:1');
    expect(imported.code, imported.stderr).toBe(0);
    imageId = (await pk('images', '--no-trunc', '--format', '{{.ID}}')).stdout.trim();
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Created in this order (newest first in ps: up2, rootfs1, img, done3, done0, up1).
    await start('up1', 'host', 'sleep', '100');
    await start('done0', 'host', 'sh', '-c', 'exit 0');
    await start('done3', 'host', 'sh', '-c', 'exit 3');
    await start('img', 'ps-bb:1', 'sh', '-c', 'head -c 100000 /dev/zero > /big; exec sleep 100');
    await start('rootfs1', '--rootfs', rootfs, 'sleep', '100');
    await start('up2', 'host', 'sleep', '100');
    await until('done0 and done3 to exit', async () => (await state('done0')) === 'exited' && (await state('done3')) === 'exited');
    const big = join(root, 'containers', ids.img!, 'upper', 'big');
    await until('the 100 kB log to be written', () => existsSync(big) && statSync(big).size === 100_000);
  });

  afterAll(async () => {
    if (root) {
      const all = (await pk('ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
      if (all.length) await pk('rm', '-f', ...all);
    }
    await cleanupAll();
  });

  it('status (implies -a), exited, name, id: values OR together, keys AND together', async () => {
    expect(await names()).toEqual(['up2', 'rootfs1', 'img', 'up1']);
    expect(await names('-a')).toEqual(['up2', 'rootfs1', 'img', 'done3', 'done0', 'up1']);
    expect(await names('-f', 'status=exited')).toEqual(['done3', 'done0']);
    expect(await names('--filter', 'status=running')).toEqual(['up2', 'rootfs1', 'img', 'up1']);
    expect(await names('-f', 'status=running', '-f', 'status=exited')).toHaveLength(6);
    expect(await names('-f', 'status=created')).toEqual([]);
    expect(await names('-f', 'status=paused')).toEqual([]);
    expect(await names('-f', 'exited=3')).toEqual(['done3']);
    expect(await names('-f', 'exited=0', '-f', 'exited=3')).toEqual(['done3', 'done0']);
    expect(await names('-f', 'exited=137')).toEqual([]);
    expect(await names('-f', 'name=^up')).toEqual(['up2', 'up1']);
    expect(await names('-a', '-f', 'name=^/done')).toEqual(['done3', 'done0']);
    expect(await names('-f', 'name=(?i)UP1')).toEqual(['up1']);
    expect(await names('-f', 'name=done')).toEqual([]); // running only
    expect(await names('-f', `id=${ids.up1!.slice(0, 8)}`)).toEqual(['up1']);
    expect(await names('-a', '-f', `id=${ids.done3}`, '-f', `id=${ids.up2!.slice(0, 5)}`)).toEqual(['up2', 'done3']);
    expect(await names('-f', 'status=exited', '-f', 'name=3')).toEqual(['done3']);
    expect(await names('-a', '-f', 'name=^up', '-f', `id=${ids.up1!.slice(0, 12)}`)).toEqual(['up1']);
  });

  it('ancestor: image reference, id and id prefix, host, a rootfs directory', async () => {
    expect(await names('-f', 'ancestor=ps-bb:1')).toEqual(['img']);
    expect(await names('-f', 'ancestor=docker.io/library/ps-bb:1')).toEqual(['img']);
    expect(await names('-f', 'ancestor=ps-bb')).toEqual([]); // ps-bb:latest
    expect(await names('-f', `ancestor=${imageId}`)).toEqual(['img']);
    expect(await names('-f', `ancestor=${imageId.slice(7, 19)}`)).toEqual(['img']);
    expect(await names('-f', 'ancestor=host')).toEqual(['up2', 'up1']);
    expect(await names('-a', '-f', 'ancestor=host')).toEqual(['up2', 'done3', 'done0', 'up1']);
    expect(await names('-f', `ancestor=${rootfs}`)).toEqual(['rootfs1']);
    expect(await names('-f', 'ancestor=host', '-f', 'ancestor=ps-bb:1')).toEqual(['up2', 'img', 'up1']);
  });

  it('before and since: by creation, naming a container by name, id or id prefix', async () => {
    expect(await names('-f', 'before=img')).toEqual(['up1']);
    expect(await names('-a', '-f', 'before=img')).toEqual(['done3', 'done0', 'up1']);
    expect(await names('-a', '-f', `before=${ids.img!.slice(0, 12)}`)).toEqual(['done3', 'done0', 'up1']);
    expect(await names('-f', 'since=done0')).toEqual(['up2', 'rootfs1', 'img']);
    expect(await names('-a', '-f', `since=${ids.done0}`)).toEqual(['up2', 'rootfs1', 'img', 'done3']);
    expect(await names('-a', '-f', 'since=up1', '-f', 'before=up2')).toEqual(['rootfs1', 'img', 'done3', 'done0']);
    expect(await names('-a', '-f', 'since=up2')).toEqual([]);
  });

  it('-n / --last and -l / --latest (stopped ones included), -q, --no-trunc', async () => {
    expect(await names('-n', '2')).toEqual(['up2', 'rootfs1']);
    expect(await names('--last', '4')).toEqual(['up2', 'rootfs1', 'img', 'done3']);
    expect(await names('-n', '-1')).toEqual(['up2', 'rootfs1', 'img', 'up1']);
    expect(await names('-l')).toEqual(['up2']);
    expect(await names('--latest', '-f', 'status=exited')).toEqual(['done3']);
    expect(await names('-n', '1', '-f', 'ancestor=host', '-f', 'status=exited')).toEqual(['done3']);
    expect((await pk('ps', '-l', '-q')).stdout).toBe(`${ids.up2!.slice(0, 12)}\n`);
    expect((await pk('ps', '-q', '--no-trunc', '-f', 'name=^up')).stdout).toBe(`${ids.up2}\n${ids.up1}\n`);
    // A format given with -q wins (Docker).
    expect((await pk('ps', '-q', '--format', '{{.Names}}', '-f', 'name=up1')).stdout).toBe('up1\n');
  });

  it("bad filters and flags: exit 125 with Docker's words", async () => {
    const cases: Array<[string[], string | RegExp]> = [
      [['-f', 'foo=bar'], "pocker: invalid filter 'foo'\n"],
      [['-f', 'status=bogus'], "pocker: invalid filter 'status=bogus'\n"],
      [['-f', 'status=Running'], "pocker: invalid filter 'status=Running'\n"],
      [['-f', 'exited=x'], "pocker: invalid filter 'exited=x': an exit code is an integer\n"],
      [['-f', 'network=host'], /^pocker: filter 'network' is not supported: /],
      [['-f', 'status'], 'pocker: invalid argument "status" for "-f, --filter" flag: bad format of filter (expected name=value)\n'],
      [['-f', 'before=nope'], 'pocker: No such container: nope\n'],
      [['-a', '-f', 'since=nope'], 'pocker: No such container: nope\n'],
      [['-n', 'x'], 'pocker: invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax\n'],
    ];
    for (const [args, message] of cases) {
      const r = await pk('ps', ...args);
      expect([r.code, r.stdout], args.join(' ')).toEqual([125, '']);
      if (typeof message === 'string') expect(r.stderr).toBe(message);
      else expect(r.stderr).toMatch(message);
    }
    // label= is matched since run has --label (issue 12: test/integration/flags.test.ts); none here has one.
    expect(await pk('ps', '-a', '-q', '-f', 'label=a=b')).toMatchObject({ code: 0, stdout: '' });
  });

  it('--format json, {{json .}}, table TEMPLATE, plain templates; bad templates exit 1', async () => {
    const json = (await pk('ps', '-a', '--format', 'json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(json.map((j) => j.Names)).toEqual(['up2', 'rootfs1', 'img', 'done3', 'done0', 'up1']);
    const keys = ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status'];
    for (const j of json) expect(Object.keys(j)).toEqual(keys);
    expect(json[3]).toMatchObject({
      Command: '"sh -c exit 3"',
      ID: ids.done3!.slice(0, 12),
      Image: 'host',
      Names: 'done3',
      State: 'exited',
      Status: expect.stringMatching(/^Exited \(3\) /) as unknown as string,
      Size: '0B',
      Labels: '',
      LocalVolumes: '0',
    });
    expect(json[3]!.CreatedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
    expect(json[3]!.RunningFor).toMatch(/^(\d+ seconds?|Less than a second|About a minute|\d+ minutes) ago$/);
    expect(json[2]).toMatchObject({ Image: 'ps-bb:1', State: 'running', Command: '"sh -c head -c 10000…"' });
    expect(json[1]).toMatchObject({ Image: rootfs, Names: 'rootfs1' });
    const moving = ({ RunningFor: _r, Status: _s, ...rest }: Record<string, string>) => rest;
    const goJson = (await pk('ps', '-a', '--format', '{{json .}}')).stdout.trim().split('\n').map((l) => moving(JSON.parse(l) as Record<string, string>));
    expect(goJson).toEqual(json.map(moving));
    expect((await pk('ps', '-a', '--no-trunc', '--format', 'json', '-f', 'name=img')).stdout).toContain(`"ID":"${ids.img}"`);

    const table = (await pk('ps', '-a', '--format', 'table {{.ID}}\\t{{.Names}}\\t{{.Status}}')).stdout.split('\n');
    expect(table[0]).toBe('CONTAINER ID   NAMES     STATUS');
    expect(table[6]).toMatch(new RegExp(`^${ids.up1!.slice(0, 12)}   up1       Up \\S`));
    expect(table[4]).toMatch(/^[0-9a-f]{12} {3}done3 {5}Exited \(3\) /);
    expect((await pk('ps', '--format', '{{.ID}} {{.Image}} {{.State}}', '-f', 'name=img')).stdout).toBe(`${ids.img!.slice(0, 12)} ps-bb:1 running\n`);
    expect((await pk('ps', '-a', '--format', '{{upper .Names}}:{{.State}}', '-f', 'name=^done')).stdout).toBe('DONE3:exited\nDONE0:exited\n');
    const def = (await pk('ps')).stdout.split('\n');
    expect(def[0]).toMatch(/^CONTAINER ID {3}IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    expect(def[3]).toMatch(new RegExp(`^${ids.img!.slice(0, 12)} {3}ps-bb:1 +"sh -c head -c 10000…" +.* ago +Up .* +img$`));

    const empty = tempRoot();
    for (const [format, message] of [
      ['{{.Nope}}', /^pocker: template parsing error: template: :1:2: executing "" at <\.Nope>: can't evaluate field Nope\n$/],
      ['{{.Names', /^pocker: template parsing error: template: :1: unclosed action\n$/],
      ['table {{nope .Names}}', /^pocker: template parsing error: template: :1: function "nope" not defined\n$/],
    ] as const) {
      for (const r of [await pk('ps', '--format', format), await cli(['--root', empty, 'ps', '--format', format])]) {
        // Docker: formatter.ContainerWrite's error, returned as is: exit 1.
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(message);
      }
    }
  });

  it("-s / --size and {{.Size}}: the writable layer, and the image's as the virtual size", async () => {
    const table = (await pk('ps', '-s', '-f', 'name=img')).stdout.split('\n');
    expect(table[0]).toMatch(/ +NAMES +SIZE$/);
    expect(table[1]).toMatch(/ img +100kB \(virtual \d+(\.\d+)?[kM]B\)$/);
    expect((await pk('ps', '--format', '{{.Names}} {{.Size}}', '-f', 'name=img')).stdout).toMatch(/^img 100kB \(virtual \d+(\.\d+)?[kM]B\)\n$/);
    expect((await pk('ps', '-s', '--format', '{{.Size}}', '-f', 'name=rootfs1')).stdout).toMatch(/^0B \(virtual \d+(\.\d+)?[kM]B\)\n$/);
    // A host container's writable layer is a tmpfs inside the container: 0B, no virtual size.
    expect((await pk('ps', '-s', '--format', '{{.Size}}', '-f', 'name=up1')).stdout).toBe('0B\n');
    // Not computed unless asked for.
    expect(JSON.parse((await pk('ps', '--format', 'json', '-f', 'name=img')).stdout)).toMatchObject({ Size: '0B' });
    expect(JSON.parse((await pk('ps', '-s', '--format', 'json', '-f', 'name=img')).stdout)).toMatchObject({ Size: expect.stringMatching(/^100kB \(virtual /) as unknown as string });
  });

  it('listContainers({ filters, last, size }) in the library', async () => {
    const list = async (options: Parameters<typeof listContainers>[0]) => (await listContainers({ root, ...options })).map((c) => c.name);
    expect(await list({ filters: { status: 'exited' } })).toEqual(['done3', 'done0']);
    expect(await list({ filters: { exited: [0, 3] } })).toEqual(['done3', 'done0']);
    expect(await list({ filters: { name: '^up', ancestor: 'host' } })).toEqual(['up2', 'up1']);
    expect(await list({ filters: { since: 'done0', before: 'up2' }, all: true })).toEqual(['rootfs1', 'img', 'done3']);
    expect(await list({ last: 2 })).toEqual(['up2', 'rootfs1']);
    const [img] = await listContainers({ root, filters: { ancestor: imageId }, size: true });
    expect(img!.sizeRw).toBeGreaterThanOrEqual(100_000);
    expect(img!.sizeRootFs).toBeGreaterThan(img!.sizeRw!);
    expect((await listContainers({ root, filters: { name: 'img' } }))[0]!.sizeRw).toBeUndefined();
    for (const bad of [{ status: 'bogus' }, { label: '' }, { before: 'nope' }] as never[]) {
      await expect(listContainers({ root, filters: bad })).rejects.toThrow(PockerError);
    }
    await expect(listContainers({ root, last: 1.5 })).rejects.toThrow(/invalid last 1.5/);
  });

  describe('logs --since / --until', () => {
    let times: string[];

    beforeAll(async () => {
      await start('logs1', 'host', 'sh', '-c', 'echo one; sleep 1.2; echo two >&2; sleep 1.2; echo three');
      expect((await pk('wait', 'logs1')).stdout).toBe('0\n');
      const r = await pk('logs', '-t', 'logs1');
      const lines = (r.stdout + r.stderr).split('\n').filter(Boolean).sort();
      expect(lines.map((l) => l.split(' ')[1])).toEqual(['one', 'two', 'three']);
      times = lines.map((l) => l.split(' ')[0]!);
      for (const t of times) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    });

    const logs = async (...args: string[]) => {
      const r = await pk('logs', ...args, 'logs1');
      expect(r.code, r.stderr).toBe(0);
      return { out: r.stdout, err: r.stderr };
    };

    it('RFC 3339 times (exact, local, date only), Unix timestamps, durations; inclusive bounds; stdout and stderr apart', async () => {
      const [t1, t2, t3] = times as [string, string, string];
      expect(await logs('--since', t2)).toEqual({ out: 'three\n', err: 'two\n' });
      expect(await logs('--until', t2)).toEqual({ out: 'one\n', err: 'two\n' });
      expect(await logs('--since', t2, '--until', t2)).toEqual({ out: '', err: 'two\n' });
      expect(await logs('--since', t3, '-t')).toEqual({ out: `${t3} three\n`, err: '' });
      expect(await logs('--since', unixOf(t2))).toEqual({ out: 'three\n', err: 'two\n' });
      expect(await logs('--until', unixOf(t1))).toEqual({ out: 'one\n', err: '' });
      expect(await logs('--since', localSecondOf(t2))).toEqual({ out: 'three\n', err: 'two\n' });
      expect(await logs('--since', localSecondOf(t1).slice(0, 10))).toEqual({ out: 'one\nthree\n', err: 'two\n' }); // local midnight
      expect(await logs('--since', '1h')).toEqual({ out: 'one\nthree\n', err: 'two\n' });
      expect(await logs('--since', '0')).toEqual({ out: 'one\nthree\n', err: 'two\n' });
      expect(await logs('--until', '1h')).toEqual({ out: '', err: '' });
      expect(await logs('--until', '2000-01-01')).toEqual({ out: '', err: '' });
      expect(await logs('--since', '')).toEqual({ out: 'one\nthree\n', err: 'two\n' });
      // --tail counts what the window leaves.
      expect(await logs('--until', t2, '--tail', '1')).toEqual({ out: '', err: 'two\n' });
      expect(await logs('--since', t1, '-n', '2')).toEqual({ out: 'three\n', err: 'two\n' });
    });

    it('bad times: exit 125 naming the flag', async () => {
      for (const [args, message] of [
        [['--since', 'yesterday'], 'pocker: invalid --since "yesterday": not an RFC 3339 time (2013-01-02T13:23:37Z), a Unix timestamp (1357133017) or a duration (42m)\n'],
        [['--until', '2024-02-30'], 'pocker: invalid --until "2024-02-30": day out of range\n'],
        [['--until', '10 m'], /^pocker: invalid --until "10 m": /],
        [['-f', '--since', '-5'], /^pocker: invalid --since "-5": /],
      ] as const) {
        const r = await pk('logs', ...args, 'logs1');
        expect(r.code).toBe(125);
        expect(r.stdout).toBe('');
        if (typeof message === 'string') expect(r.stderr).toBe(message);
        else expect(r.stderr).toMatch(message);
      }
    });

    it('-f --until stops following at that time; -f --since skips older entries', async () => {
      await start('ticker', 'host', 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done');
      await until('tick 2 in the logs', async () => (await pk('logs', 'ticker')).stdout.includes('tick 2'));
      const untilTime = new Date(Date.now() + 1500).toISOString();
      const t0 = Date.now();
      const r = await pk('logs', '-f', '-t', '--until', untilTime, 'ticker');
      const elapsed = Date.now() - t0;
      expect(r.code, r.stderr).toBe(0);
      expect(elapsed).toBeGreaterThan(1000);
      expect(elapsed).toBeLessThan(10_000);
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(5);
      for (const l of lines) expect(Date.parse(l.split(' ')[0]!)).toBeLessThanOrEqual(Date.parse(untilTime));
      // The last entries are the ones written just before `until`, not only the history.
      expect(Date.parse(lines.at(-1)!.split(' ')[0]!)).toBeGreaterThan(Date.parse(untilTime) - 1000);

      // An --until already past: the history up to it, then the command ends.
      const past = await pk('logs', '-f', '--until', '1s', 'ticker');
      expect(past.code).toBe(0);
      expect(past.stdout).toMatch(/^tick 0\n/);

      const since = new Date().toISOString();
      const follow = await pk('logs', '-f', '-t', '--since', since, '--until', new Date(Date.now() + 800).toISOString(), 'ticker');
      const followed = follow.stdout.split('\n').filter(Boolean);
      expect(followed.length).toBeGreaterThan(0);
      // Millisecond prefixes: an entry at or after `since` has one at or after since's.
      for (const l of followed) expect(l.slice(0, 23) >= since.slice(0, 23)).toBe(true);
    });

    it('containerLogs / followLogs({ since, until }) in the library', async () => {
      const [t1, t2] = times as [string, string, string];
      const text = (entries: Array<{ log: string }>) => entries.map((e) => e.log).join('');
      expect(text(await containerLogs('logs1', { root, since: t2 }))).toBe('two\nthree\n');
      expect(text(await containerLogs('logs1', { root, until: t2 }))).toBe('one\ntwo\n');
      expect(text(await containerLogs('logs1', { root, since: new Date(Date.parse(t2)) }))).toBe('two\nthree\n');
      expect(text(await containerLogs('logs1', { root, until: Date.parse(t1) / 1000 + 0.5 }))).toBe('one\n');
      expect(text(await containerLogs('logs1', { root, since: '1h', tail: 1 }))).toBe('three\n');
      await expect(containerLogs('logs1', { root, since: 'yesterday' })).rejects.toThrow(PockerError);
      expect(() => followLogs('logs1', { root, until: new Date(NaN) })).toThrow(/invalid until: an invalid Date/);

      const seen: string[] = [];
      const t0 = Date.now();
      for await (const e of followLogs('ticker', { root, since: new Date(), until: new Date(Date.now() + 700) })) seen.push(e.log);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((l) => /^tick \d+\n$/.test(l))).toBe(true);
    });
  });
});
