// Unit tests of the container store's state readers (lib/container/store.ts): a pid is trusted
// only with its recorded start time, a dead monitor's record reads exited (issue 9 defect 5: not
// "restarting" forever), the stop request is a symlink the monitor can read on a full disk. No
// root: the processes involved are this one and a child it starts.
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { effectiveState, markStopRequested, verifiedPid } from '../../lib/container/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function containerDirWith(state: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'pocker-state-unit-'));
  dirs.push(root);
  const dir = join(root, 'containers', 'a'.repeat(64));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 2, ...state }));
  return dir;
}

const startOf = (pid: number | 'self') => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
};

/** A pid no process has (pid_max is at most 2^22). */
const NO_PID = 2 ** 22 + 1;

describe('verifiedPid', () => {
  it('trusts a pid only with its recorded start time', () => {
    expect(verifiedPid(process.pid, startOf('self'))).toBe(true);
    expect(verifiedPid(process.pid, startOf('self') + 1)).toBe(false);
    expect(verifiedPid(NO_PID, 1)).toBe(false);
    expect(verifiedPid(0, 0)).toBe(false);
  });

  it('without a start time (an older record), the pid must be a child of the monitor', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(verifiedPid(child.pid!, undefined, process.pid)).toBe(true);
      expect(verifiedPid(child.pid!, 0, process.ppid)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('effectiveState', () => {
  const base = { pid: 0, exitCode: 0, signal: 0, oomKilled: false, restartCount: 2, startedAt: '', finishedAt: '' };

  it('a running record whose monitor is gone reads exited (137), with no pid to signal', () => {
    const dir = containerDirWith({ ...base, status: 'running', pid: process.pid, monitorPid: NO_PID, monitorStart: 5 });
    expect(effectiveState(dir)).toEqual({ deadMonitor: true, state: expect.objectContaining({ status: 'exited', exitCode: 137, signal: 9, pid: 0, restarting: false }) });
  });

  it('a restarting record whose monitor is gone reads exited with the last run\'s code, restarting off', () => {
    const dir = containerDirWith({ ...base, status: 'restarting', exitCode: 3, monitorPid: NO_PID, monitorStart: 5 });
    expect(effectiveState(dir)).toEqual({ deadMonitor: true, state: expect.objectContaining({ status: 'exited', exitCode: 3, signal: 0, restarting: false }) });
  });

  it('a monitor pid reused by another process (wrong start time) is a dead monitor', () => {
    // This process is no pocker-init, whatever the start time says.
    const dir = containerDirWith({ ...base, status: 'running', monitorPid: process.pid, monitorStart: startOf('self') });
    expect(effectiveState(dir).deadMonitor).toBe(true);
  });

  it('an exited record is read as it is', () => {
    const dir = containerDirWith({ ...base, status: 'exited', exitCode: 42, monitorPid: NO_PID });
    expect(effectiveState(dir)).toEqual({ deadMonitor: false, state: expect.objectContaining({ status: 'exited', exitCode: 42 }) });
  });
});

describe('markStopRequested', () => {
  it('asks the monitor with a symlink "<signal> <timeout>" (replacing an earlier request), or an empty file', () => {
    const dir = containerDirWith({ ...base(), status: 'running' });
    markStopRequested(dir, { signal: 15, timeout: 10 });
    expect(readlinkSync(join(dir, 'stop-requested'))).toBe('15 10');
    markStopRequested(dir, { signal: 9, timeout: 0 });
    expect(readlinkSync(join(dir, 'stop-requested'))).toBe('9 0');
    // The plain form never writes through the symlink (its target is no path).
    markStopRequested(dir);
    expect(lstatSync(join(dir, 'stop-requested')).isSymbolicLink()).toBe(true);
    const other = containerDirWith({ ...base(), status: 'running' });
    markStopRequested(other);
    expect(lstatSync(join(other, 'stop-requested')).isFile()).toBe(true);
  });
});

function base(): Record<string, unknown> {
  return { pid: 0, monitorPid: 0, exitCode: 0, signal: 0, oomKilled: false, startedAt: '', finishedAt: '' };
}
