// Issue 10, findings 3, 6, 7 and 11: what of the host a container's stdio, its --init PID 1 and
// pocker-init's image hand to the workload. Root only, real containers.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  cleanupAll,
  cliArgs,
  collect,
  containerState,
  existingCgroupParentDirs,
  isRoot,
  pk,
  pockerBin,
  processAlive,
  removeAllContainers,
  repoRoot,
  sh,
  tempDir,
  tempRoot,
  until,
} from '../helpers.js';

/** The CLI with the given fds as its stdin, stdout and stderr ('pipe' collects). */
async function cliWithStdio(args: string[], stdio: Array<number | 'pipe' | 'ignore'>, root: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [pockerBin, ...cliArgs(args, { root })], { cwd: repoRoot, stdio: stdio as never });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout: await stdout, stderr: await stderr };
}

/** What a container's fds 0-2 are, as `readlink` shows them from inside. */
const LINKS = 'for i in 0 1 2; do echo "fd$i=$(readlink /proc/self/fd/$i)" >&2; done';

describe.skipIf(!isRoot)('stdio, --init and the pocker-init image', () => {
  const root = tempRoot();
  afterAll(async () => {
    await removeAllContainers(root);
    expect(await cleanupAll()).toEqual([]);
    expect(existingCgroupParentDirs()).toEqual([]);
  });

  describe('finding 3: the caller\'s fds never reach the container', () => {
    it('run -i with a read-only (0444) file as stdin: the container cannot reopen it for writing', async () => {
      const file = join(tempDir('stdin'), 'readonly');
      writeFileSync(file, 'original\n');
      chmodSync(file, 0o444);
      const fd = openSync(file, 'r');
      try {
        const r = await cliWithStdio(['run', '-i', '--rm', 'host', 'sh', '-c', `${LINKS}; echo pwned > /proc/self/fd/0; cat`], [fd, 'pipe', 'pipe'], root);
        expect(r.code).toBe(0);
        // The workload still reads the file's content, through a pipe.
        expect(r.stdout).toContain('original\n');
        expect(r.stderr).toMatch(/fd0=pipe:/);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, 'utf8')).toBe('original\n');
    });

    it('run with an append-only log as stdout: the container cannot read it back', async () => {
      const file = join(tempDir('stdout'), 'log');
      writeFileSync(file, 'secret line\n');
      const fd = openSync(file, 'a');
      try {
        const r = await cliWithStdio(
          ['run', '--rm', 'host', 'sh', '-c', `${LINKS}; exec 3>&1; dd if=/proc/self/fd/3 iflag=nonblock bs=64 count=1 >&2 2>/dev/null; echo done`],
          ['ignore', fd, 'pipe'],
          root,
        );
        expect(r.code).toBe(0);
        expect(r.stderr).not.toContain('secret');
        expect(r.stderr).toMatch(/fd1=pipe:/);
        expect(r.stderr).not.toContain(file);
      } finally {
        closeSync(fd);
      }
      // Output still lands in the log, after what was there.
      expect(readFileSync(file, 'utf8')).toBe('secret line\ndone\n');
    });

    it('run -i with a directory as stdin: the container cannot walk or write through it', async () => {
      const dir = tempDir('stdin-dir');
      writeFileSync(join(dir, 'marker'), 'x');
      const fd = openSync(dir, 'r');
      try {
        const r = await cliWithStdio(
          ['run', '-i', '--rm', 'host', 'sh', '-c', `ls /proc/self/fd/0/ 2>&1; echo planted > /proc/self/fd/0/planted; ${LINKS}; true`],
          [fd, 'pipe', 'pipe'],
          root,
        );
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain('marker');
        expect(r.stderr).toMatch(/fd0=pipe:/);
      } finally {
        closeSync(fd);
      }
      expect(readdirSync(dir)).toEqual(['marker']);
    });

    it('exec -i: the process\'s fds are pipes, and a file behind them is out of reach of the container\'s other processes', async () => {
      const c = await pk(root, 'run', '-d', '--name', 'stdio-exec', 'host', 'sleep', 'infinity');
      expect(c.code).toBe(0);
      const file = join(tempDir('exec'), 'readonly');
      writeFileSync(file, 'original\n');
      chmodSync(file, 0o444);
      const fd = openSync(file, 'r');
      try {
        // While the exec runs, another process of the container writes to its stdin through /proc.
        const r = await cliWithStdio(
          ['--root', root, 'exec', '-i', 'stdio-exec', 'sh', '-c', `${LINKS}; sh -c 'echo pwned > /proc/$PPID/fd/0' ; cat`],
          [fd, 'pipe', 'pipe'],
          root,
        );
        expect(r.code).toBe(0);
        expect(r.stderr).toMatch(/fd0=pipe:[^\n]*\nfd1=pipe:[^\n]*\nfd2=pipe:/);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, 'utf8')).toBe('original\n');
      await pk(root, 'rm', '-f', 'stdio-exec');
    });

    it('the library\'s pipes still carry stdin, stdout and stderr (relayed)', async () => {
      const r = await sh(`${LINKS}; cat; echo to-stderr >&2`, { input: 'through the relay\n' });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout).toBe('through the relay\n');
      expect(r.stderr).toMatch(/fd0=pipe:[^\n]*\nfd1=pipe:[^\n]*\nfd2=pipe:[^\n]*\nto-stderr\n$/);
    });
  });

  describe('finding 6: --init\'s PID 1 holds nothing of the monitor\'s', () => {
    it('a detached --init container\'s PID 1 has only /dev/null as 0-2 (no sync socket, log file, attach socket, pipes)', async () => {
      const c = await pk(root, 'run', '-d', '--init', '-i', '--cap-add', 'SYS_PTRACE', '--name', 'stdio-init', 'host', 'sleep', 'infinity');
      expect(c.code).toBe(0);
      const r = await pk(root, 'exec', 'stdio-init', 'sh', '-c', 'for f in /proc/1/fd/*; do echo "${f##*/} $(readlink $f)"; done');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('0 /dev/null\n1 /dev/null\n2 /dev/null\n');
      await pk(root, 'rm', '-f', 'stdio-init');
    });

    it('a foreground --init container\'s PID 1 too', async () => {
      const r = await sh('for f in /proc/1/fd/*; do echo "${f##*/} $(readlink $f)"; done', { init: true, capAdd: ['SYS_PTRACE'] });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout).toBe('0 /dev/null\n1 /dev/null\n2 /dev/null\n');
    });
  });

  describe('finding 7: the pocker-init image a container can reach cannot be changed', () => {
    it('root in an --init container (even with CAP_SYS_PTRACE) cannot chmod or chown /proc/1/exe', async () => {
      const r = await sh('chmod 6555 /proc/1/exe; echo chmod=$?; chown 1:1 /proc/1/exe; echo chown=$?; stat -L -c "%a %u %g" /proc/1/exe', {
        init: true,
        capAdd: ['SYS_PTRACE'],
      });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout).toBe('chmod=1\nchown=1\n555 0 0\n');
    });

    it('without CAP_SYS_PTRACE, PID 1\'s image and fds are not even reachable (it is not dumpable)', async () => {
      const r = await sh('readlink /proc/1/exe || echo no-exe; readlink /proc/1/fd/0 || echo no-fd', { init: true });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout).toBe('no-exe\nno-fd\n');
    });
  });

  describe('finding 11: --init\'s PID 1 dies with its monitor', () => {
    it('SIGKILL of a detached --init container\'s monitor ends the container', async () => {
      const c = await pk(root, 'run', '-d', '--init', 'host', 'sleep', 'infinity');
      expect(c.code).toBe(0);
      const id = c.stdout.trim();
      const state = containerState(root, id);
      expect(processAlive(state.pid)).toBe(true);
      process.kill(state.monitorPid, 'SIGKILL');
      await until('the container is gone with its monitor', () => !processAlive(state.pid));
      await pk(root, 'rm', '-f', id);
      expect(existsSync(join(root, 'containers', id))).toBe(false);
    });
  });
});
