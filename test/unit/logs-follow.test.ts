// followLogs() goes on from exactly where its first read ended: a line being written at that moment
// (torn) or right after it is not lost (a fixed bug: following started at the file's size, read later).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { followLogs } from '../../lib/index.js';

describe('followLogs', () => {
  const root = mkdtempSync(join(tmpdir(), 'pocker-unit-logs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a line torn at the first read comes out whole once it is complete', async () => {
    const id = 'c'.repeat(64);
    const dir = join(root, 'containers', id);
    mkdirSync(dir, { recursive: true });
    // A container record as pocker writes it (lib/container/record.ts), reduced to what the store checks.
    const container = { id, name: 'follow', created: '', args: [], image: { host: true }, cgroups: [], process: { env: [], cwd: '/', user: '', caps: '0x0', noNewPrivs: false } };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', pocker: { version: 2, container } }));
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: 'running', pid: 1, monitorPid: 1 }));
    const line = (log: string) => `${JSON.stringify({ log, stream: 'stdout', time: '2026-11-29T07:00:00.000000001Z' })}\n`;
    const log = join(dir, `${id}-json.log`);
    const torn = line('second\n');
    writeFileSync(log, line('first\n') + torn.slice(0, 10));

    const it = followLogs('follow', { root })[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ log: 'first\n' });
    // The rest of the torn line, and one more, arrive while following.
    appendFileSync(log, torn.slice(10) + line('third\n'));
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: 'exited', pid: 0, monitorPid: 1 }));
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
    expect(rest).toEqual(['second\n', 'third\n']);
  });
});
