// The library's async readers never block the event loop on the store (issue 12: listContainers,
// inspectContainer and containerLogs read records and logs with *Sync calls, so a server that
// embeds pocker stalled while they ran). Shown with a container whose config.json is a FIFO that
// nobody writes until the call has returned: a synchronous read would wait in the call itself for
// a writer that the test only releases afterwards (the writer stops waiting after 20 s and the test
// fails saying so, instead of hanging the run).
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { containerLogs, inspectContainer, listContainers } from '../../lib/index.js';

const root = mkdtempSync(join(tmpdir(), 'pocker-unit-async-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fake exited container (records as lib/container/record.ts writes them, reduced). */
function container(name: string): { id: string; dir: string; config: string } {
  const id = (++n).toString(16).padStart(64, 'b');
  const dir = join(root, 'containers', id);
  mkdirSync(dir, { recursive: true });
  const meta = { id, name, created: '2026-12-06T00:00:00Z', args: ['true'], image: { host: true }, cgroups: [], process: { env: [], cwd: '/', user: '', caps: '0x0', noNewPrivs: false } };
  const config = JSON.stringify({ ociVersion: '1.2.0', pocker: { version: 2, container: meta } });
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: 'exited', pid: 0, monitorPid: 0, exitCode: 3 }));
  return { id, dir, config };
}

/**
 * Makes `dir`/config.json a FIFO (a link to `dir`/.fifo) and a writer that, once released (or once
 * it gave up waiting, 20 s), puts the real config.json in its place and then gives the FIFO's
 * reader `text`: the first read waits for the release, any later one reads the file. `release()`
 * resolves with what the writer saw: `go` when it was released, `timeout` when nothing released it
 * in time (a reader blocked the event loop in the call). `stop()` ends the writer.
 */
function fifoConfig(dir: string, text: string): { release: () => Promise<string>; stop: () => void } {
  const fifo = join(dir, '.fifo');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  linkSync(fifo, join(dir, 'config.json'));
  writeFileSync(join(dir, '.config.json.ready'), text);
  const script = 'if read -t 20 go; then echo go; else echo timeout; fi; mv -f "$1/.config.json.ready" "$1/config.json"; printf %s "$0" > "$1/.fifo"';
  const child = spawn('bash', ['-c', script, text, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const saw = new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return {
    release: () => {
      child.stdin.end('go\n');
      return saw;
    },
    // The FIFO's write may still wait for a reader (the call read the real file): end it.
    stop: () => void child.kill('SIGKILL'),
  };
}

describe('the async API reads the store without blocking the event loop', () => {
  it('listContainers: a record being read does not hold up the caller', async () => {
    const c = container('listed');
    const writer = fifoConfig(c.dir, c.config);
    try {
      const listing = listContainers({ root, all: true });
      // Here the call has returned: with a synchronous read it would still be waiting for a writer.
      expect(await writer.release()).toBe('go');
      const list = await listing;
      expect(list.map((x) => [x.id, x.name])).toContainEqual([c.id, 'listed']);
    } finally {
      writer.stop();
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('inspectContainer: the lookup and the records are read asynchronously', async () => {
    const c = container('inspected');
    const writer = fifoConfig(c.dir, c.config);
    try {
      const inspecting = inspectContainer(c.id, { root });
      expect(await writer.release()).toBe('go');
      const d = await inspecting;
      expect(d.Name).toBe('/inspected');
      expect(d.State.ExitCode).toBe(3);
    } finally {
      writer.stop();
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('containerLogs: the event loop turns while a log is read', async () => {
    const c = container('logged');
    writeFileSync(join(c.dir, 'config.json'), c.config);
    let text = '';
    for (let i = 0; i < 20_000; i++) text += `${JSON.stringify({ log: `line ${i}\n`, stream: 'stdout', time: '2026-12-06T00:00:00.000000001Z' })}\n`;
    writeFileSync(join(c.dir, `${c.id}-json.log`), text);
    let done = false;
    let turns = 0;
    const spin = (): void => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    const entries = await containerLogs('logged', { root });
    done = true;
    expect(entries).toHaveLength(20_000);
    // Every chunk is read on the thread pool: the loop went round (setImmediate ran) meanwhile.
    expect(turns).toBeGreaterThan(0);
  });
});
