// The addon's signalVerified (cpp/addon/process.cpp): a pid from a record is signalled only when
// the process there is the one recorded (start time, or parent for a record without one), through
// a pidfd. The processes are children of this test.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
