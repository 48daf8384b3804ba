// The addon's signalVerified (cpp/addon/process.cpp): a pid from a record is signalled only when
// the process there is the one recorded (start time, or parent for a record without one), through
// a pidfd. The processes are children of this test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { native } from '../../lib/native.js';
import { processAlive, until } from '../helpers.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function sleeper(): Promise<ChildProcess> {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c;
}

const startOf = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

describe('signalVerified', () => {
  it('signals the process with the recorded start time, never another one at that pid', async () => {
    const c = await sleeper();
    const pid = c.pid!;
    expect(native().signalVerified(pid, startOf(pid) + 1, 0, 9)).toBe(false);
    expect(processAlive(pid)).toBe(true);
    expect(native().signalVerified(pid, startOf(pid), 0, 9)).toBe(true);
    await exited(c);
    expect(c.signalCode).toBe('SIGKILL');
    // Gone (or a zombie reaped meanwhile): nothing to signal.
    expect(native().signalVerified(pid, startOf(process.pid), 0, 9)).toBe(false);
  });

  it('without a start time, only a child of the given parent', async () => {
    const c = await sleeper();
    const pid = c.pid!;
    expect(native().signalVerified(pid, 0, process.ppid, 9)).toBe(false);
    expect(processAlive(pid)).toBe(true);
    expect(native().signalVerified(pid, 0, process.pid, 9)).toBe(true);
    await until('the child to end', () => c.signalCode !== null);
  });

  it('pid 0 or less, or a pid nobody has, is never signalled', () => {
    expect(native().signalVerified(0, 0, 0, 9)).toBe(false);
    expect(native().signalVerified(-1, 0, 0, 9)).toBe(false);
    expect(native().signalVerified(2 ** 22 + 1, 0, 0, 9)).toBe(false);
  });
});

describe('watchExit', () => {
  // The wake-up of stop, rm -f and wait (lib/runtime/lifecycle.ts processEnd): a pidfd, polled on
  // the loop, unref'd.
  it('calls back once when the process with the recorded start time ends; 0 for another one or none', async () => {
    const c = await sleeper();
    const pid = c.pid!;
    expect(native().watchExit(pid, startOf(pid) + 1, () => {})).toBe(0);
    expect(native().watchExit(2 ** 22 + 1, 0, () => {})).toBe(0);
    let calls = 0;
    const ended = new Promise<void>((resolve) => {
      const id = native().watchExit(pid, startOf(pid), () => {
        calls++;
        resolve();
      });
      expect(id).toBeGreaterThan(0);
    });
    c.kill('SIGKILL');
    await ended;
    await exited(c);
    expect(calls).toBe(1);
    // Gone: nothing to watch.
    expect(native().watchExit(pid, 0, () => {})).toBe(0);
  });

  it('unwatchExit ends a watch without calling it', async () => {
    const c = await sleeper();
    let called = false;
    const id = native().watchExit(c.pid!, 0, () => {
      called = true;
    });
    native().unwatchExit(id);
    native().unwatchExit(id); // a second time: nothing
    // A second watch of the same process sees its end: the first one, gone, is not called.
    const ended = new Promise<void>((resolve) => native().watchExit(c.pid!, 0, resolve));
    c.kill('SIGKILL');
    await ended;
    expect(called).toBe(false);
  });

  it('never keeps the process alive by itself (its poll handle is unref\'d)', async () => {
    const c = await sleeper();
    // A process whose only handle is a watch of a sleep that lasts 600 s ends at once (the built
    // library: the global setup builds dist/).
    const script = `const { native } = await import(${JSON.stringify(new URL('../../dist/native.js', import.meta.url).href)});
      console.log(native().watchExit(${c.pid}, 0, () => console.log('called')) > 0 ? 'watching' : 'none');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout, r.stderr).toBe('watching\n');
    expect(r.status).toBe(0);
    expect(processAlive(c.pid!)).toBe(true);
  });
});

describe('pockerInitPids', () => {
  // findMonitors' candidates (lib/container/store.ts): processes whose /proc/PID/exe is a
  // pocker-init image. A copy of sleep named pocker-init stands in for one here.
  it('lists the processes running a file named pocker-init (also once it is deleted), and no other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pocker-initpids-'));
    try {
      const fake = join(dir, 'pocker-init');
      copyFileSync(realpathSync('/bin/sleep'), fake);
      chmodSync(fake, 0o755);
      const named = spawn(fake, ['600'], { stdio: 'ignore' });
      children.push(named);
      await new Promise((r) => named.once('spawn', r));
      const other = await sleeper();
      await until('the copy runs', () => readlinkSync(`/proc/${named.pid}/exe`) === fake);
      let pids = native().pockerInitPids();
      expect(pids).toContain(named.pid);
      expect(pids).not.toContain(other.pid);
      expect(pids).toEqual([...pids].sort((a, b) => a - b));
      unlinkSync(fake);
      expect(readlinkSync(`/proc/${named.pid}/exe`)).toBe(`${fake} (deleted)`);
      pids = native().pockerInitPids();
      expect(pids).toContain(named.pid);
      named.kill('SIGKILL');
      other.kill('SIGKILL');
      await exited(named);
      expect(native().pockerInitPids()).not.toContain(named.pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
