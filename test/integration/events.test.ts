// `pocker events` and the library's events(): Docker's container events without a daemon, recorded
// by the CLI/library and by each container's monitor (die, oom, a --rm container's destroy).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { events, run, type PockerEvent } from '../../lib/index.js';
import { EVENTS_LOG_MAX, eventsLogPath, recordEvent } from '../../lib/state/events.js';
import { cleanupAll, cli, cliArgs, pockerBin, rootTracker, testCgroupParent } from '../helpers.js';

const isRoot = process.getuid?.() === 0;
const roots = rootTracker();

/** The root's recorded events (all of them), as the CLI prints them in JSON. */
async function recorded(root: string, ...filters: string[]): Promise<PockerEvent[]> {
  const r = await cli(['--root', root, 'events', '--since', '0', '--until', '0s', '--format', 'json', ...filters.flatMap((f) => ['-f', f])]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PockerEvent);
}

describe.skipIf(!isRoot)('events', () => {
  afterAll(async () => {
    await roots.removeAll();
    expect(await cleanupAll()).toEqual([]);
  });

  it('run --rm: create, start, die (exit code), destroy — in order, with image and name', async () => {
    const root = roots.newRoot();
    const r = await cli(['--root', root, 'run', '--rm', '--name', 'ev1', '--cgroup-parent', testCgroupParent(), 'host', 'sh', '-c', 'exit 3']);
    expect(r.code).toBe(3);
    const evs = await recorded(root);
    expect(evs.map((e) => e.Action)).toEqual(['create', 'start', 'die', 'destroy']);
    const id = evs[0]!.Actor.ID;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    for (const e of evs) expect(e).toMatchObject({ Type: 'container', scope: 'local', Actor: { ID: id, Attributes: { image: 'host', name: 'ev1' } } });
    expect(evs[2]!.Actor.Attributes.exitCode).toBe('3');
    // Times never go back, and seconds agree with nanoseconds.
    for (let i = 1; i < evs.length; i++) expect(evs[i]!.timeNano).toBeGreaterThanOrEqual(evs[i - 1]!.timeNano);
    expect(evs[0]!.time).toBe(Math.floor(evs[0]!.timeNano / 1e9));
    // Docker's text line: TIME TYPE ACTION ID (k=v, ...), attributes sorted.
    const text = await cli(['--root', root, 'events', '--since', '0', '--until', '0s', '-f', 'event=die']);
    expect(text.stdout).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d) container die ${id} \\(exitCode=3, image=host, name=ev1\\)\\n$`));
  });

  it('-d, stop, rm: kill (signal), die 137 from the monitor, stop, destroy; -d --rm: the monitor records destroy', async () => {
    const root = roots.newRoot();
    const d = await cli(['--root', root, 'run', '-d', '--name', 'ev2', '--cgroup-parent', testCgroupParent(), 'host', 'sleep', '60']);
    expect(d.code).toBe(0);
    expect((await cli(['--root', root, 'stop', '-t', '0', 'ev2'])).code).toBe(0);
    expect((await cli(['--root', root, 'rm', 'ev2'])).code).toBe(0);
    const evs = await recorded(root, 'container=ev2');
    expect(evs.map((e) => e.Action)).toEqual(['create', 'start', 'kill', 'die', 'stop', 'destroy']);
    expect(evs[2]!.Actor.Attributes.signal).toBe('15');
    expect(evs[3]!.Actor.Attributes.exitCode).toBe('137');

    const rm = await cli(['--root', root, 'run', '-d', '--rm', '--name', 'ev3', '--cgroup-parent', testCgroupParent(), 'host', 'true']);
    expect(rm.code).toBe(0);
    // The monitor records destroy right after it removed the directory: follow until it comes.
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const e of events({ root, since: 0, filters: { container: ['ev3'] }, signal: ac.signal })) {
      seen.push(e.Action);
      if (e.Action === 'destroy') ac.abort();
    }
    expect(seen).toEqual(['create', 'start', 'die', 'destroy']);
  });

  it('an OOM kill is an oom event before die', async () => {
    const root = roots.newRoot();
    const r = await cli(['--root', root, 'run', '--rm', '-m', '10m', '--memory-swap', '10m', '--cgroup-parent', testCgroupParent(), 'host', 'tail', '/dev/zero']);
    expect(r.code).toBe(137);
    expect((await recorded(root)).map((e) => e.Action)).toEqual(['create', 'start', 'oom', 'die', 'destroy']);
  });

  it('follows: `pocker events` prints new events as they happen, filtered, and ends on SIGINT', async () => {
    const root = roots.newRoot();
    const child = spawn(process.execPath, [pockerBin, ...cliArgs(['--root', root, 'events', '-f', 'type=container', '-f', 'event=start', '-f', 'event=die'])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const lines = new Promise<void>((resolve) =>
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (/ container die /.test(out)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The follower only shows events from its start on: run containers until it has seen one end
    // (the first may start before the follower reads the log).
    let done = false;
    void lines.then(() => (done = true));
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    while (!done) {
      // A follower that ended says why at once, instead of the test's timeout.
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pocker events ended (${child.exitCode ?? child.signalCode}): ${err}`);
      const c = await run({ image: 'host', cmd: ['true'], root, cgroupParent: testCgroupParent(), stdio: 'ignore' });
      await c.wait();
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const actions = out
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[2]);
    expect(actions.every((a) => a === 'start' || a === 'die')).toBe(true);
    expect(actions).toContain('die');
  });

  it('the log is bounded: past 1 MiB it rotates to events.log.1, and --since replays both in order', async () => {
    const root = roots.newRoot();
    const big = 'x'.repeat(900);
    let n = 0;
    while (!existsSync(`${eventsLogPath(root)}.1`)) recordEvent(root, 'container', 'create', `filler${n++}`, { pad: big });
    recordEvent(root, 'container', 'start', 'after-rotation');
    expect(statSync(`${eventsLogPath(root)}.1`).size).toBeGreaterThan(EVENTS_LOG_MAX);
    expect(statSync(eventsLogPath(root)).size).toBeLessThan(EVENTS_LOG_MAX);
    const evs = await recorded(root);
    expect(evs).toHaveLength(n + 1);
    expect(evs.at(-1)!.Actor.ID).toBe('after-rotation');
    expect(evs[0]!.Actor.ID).toBe('filler0');
    // Lines are whole: every line of both files parses.
    for (const f of [`${eventsLogPath(root)}.1`, eventsLogPath(root)]) {
      for (const line of readFileSync(f, 'utf8').trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  it('bad filters are usage errors, nothing is recorded by reading', async () => {
    const root = roots.newRoot();
    const bad = await cli(['--root', root, 'events', '-f', 'nope=1', '--until', '0s']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid filter 'nope'/);
    const badType = await cli(['--root', root, 'events', '-f', 'type=car', '--until', '0s']);
    expect(badType.code).toBe(125);
    expect(existsSync(join(root, 'events.log'))).toBe(false);
  });
});
