// Escape attempts a hostile image or workload could make. Root only.
// The fd-leak checks (no fd of the caller reaches the container) live in
// test/integration/run.test.ts ("file descriptors").
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  cleanupAll,
  collect,
  copyRootfs,
  existingCgroupParentDirs,
  isRoot,
  mountinfoLinesNaming,
  procStatField,
  runError,
  runToEnd,
  sh,
  snapshotTree,
  start,
  tempDir,
} from '../helpers.js';
import { HOST_PROCESSES_SCRIPT, expectNoHostProcesses } from './checks.js';

describe.skipIf(!isRoot)('escapes', () => {
  afterAll(async () => {
    expect(await cleanupAll()).toEqual([]);
    expect(existingCgroupParentDirs()).toEqual([]);
  });

  describe('symlinks planted in the rootfs', () => {
    it.each([
      ['proc', 'mount-proc'],
      ['dev', 'mount-dev'],
      ['sys', 'mount-sys'],
    ])('/%s as a symlink to a host dir: the run fails at step %s and nothing is mounted on the host', async (name, step) => {
      const evil = tempDir('evil');
      const rootfs = copyRootfs();
      rmSync(join(rootfs, name), { recursive: true });
      symlinkSync(evil, join(rootfs, name));
      const before = snapshotTree(rootfs);

      const err = await runError({ rootfs, cmd: ['true'] });
      expect(err.step).toBe(step);
      expect(err.message).toMatch(/symlink|ELOOP/);

      expect(mountinfoLinesNaming(evil)).toEqual([]);
      expect(mountinfoLinesNaming(rootfs)).toEqual([]);
      expect(readdirSync(evil)).toEqual([]);
      expect(snapshotTree(rootfs)).toEqual(before);
    });

    it('a volume destination through a symlink to a host dir lands inside the rootfs (target present in the rootfs)', async () => {
      const hostDir = tempDir('hostdir');
      const src = tempDir('volsrc');
      writeFileSync(join(src, 'marker'), 'volume content\n');
      const rootfs = copyRootfs();
      // /data -> <hostDir>: resolved inside the rootfs, that is <rootfs>/<hostDir>, which exists.
      symlinkSync(hostDir, join(rootfs, 'data'));
      mkdirSync(join(rootfs, hostDir), { recursive: true });
      const before = snapshotTree(rootfs);

      const c = await start({
        rootfs,
        volumes: [`${src}:/data/vol`],
        cmd: ['sh', '-c', `cat /data/vol/marker; ls -A ${hostDir}; echo written > /data/vol/from-container; echo ready; sleep 100`],
        stdio: 'pipe',
      });
      const out = collect(c.stdout);
      try {
        // While it runs: nothing in the host dir, no mount naming it on the host.
        await new Promise<void>((resolve) => c.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
        expect(readdirSync(hostDir)).toEqual([]);
        expect(mountinfoLinesNaming(hostDir)).toEqual([]);
        // In the container's own mount table, the volume is at <hostDir>/vol inside its root.
        const inside = readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8');
        expect(inside.split('\n').some((l) => l.split(' ')[4] === `${hostDir}/vol`)).toBe(true);
      } finally {
        c.kill('SIGKILL');
        await c.wait();
      }
      expect((await out).split('\n').slice(0, 2)).toEqual(['volume content', 'vol']);
      expect(readdirSync(hostDir)).toEqual([]);
      // The volume itself was the real thing (read-write), the rootfs is unchanged.
      expect(readFileSync(join(src, 'from-container'), 'utf8')).toBe('written\n');
      expect(snapshotTree(rootfs)).toEqual(before);
    });

    it('a volume destination through a symlink to a host dir never touches the host dir (target missing in the rootfs)', async () => {
      const hostDir = tempDir('hostdir');
      const src = tempDir('volsrc');
      writeFileSync(join(src, 'marker'), 'volume content\n');
      const rootfs = copyRootfs();
      symlinkSync(hostDir, join(rootfs, 'data'));
      // Refusing is safe too (a PockerError naming its step): what matters here is the host dir (see
      // the next test for the Docker-compatible behaviour). Only the run may throw: the assertion on
      // its output is outside the try, so it can fail.
      let outcome: { stdout: string } | { refused: unknown };
      try {
        outcome = await runToEnd({ rootfs, volumes: [`${src}:/data/vol`], cmd: ['cat', '/data/vol/marker'] });
      } catch (err) {
        outcome = { refused: err };
      }
      if ('refused' in outcome) expect(outcome.refused).toMatchObject({ name: 'PockerError', step: expect.any(String) });
      else expect(outcome.stdout).toBe('volume content\n');
      expect(readdirSync(hostDir)).toEqual([]);
      expect(mountinfoLinesNaming(hostDir)).toEqual([]);
    });

    // Docker (runc's MkdirAllInRoot) creates the missing directories of a mount point inside the
    // rootfs, following symlinks as if the rootfs were /. (A fixed bug: pocker used to fail with ENOENT.)
    it('a volume destination through a symlink whose target is missing in the rootfs is created inside the rootfs (Docker behaviour)', async () => {
      const hostDir = tempDir('hostdir');
      const src = tempDir('volsrc');
      writeFileSync(join(src, 'marker'), 'volume content\n');
      const rootfs = copyRootfs();
      symlinkSync(hostDir, join(rootfs, 'data'));
      const r = await runToEnd({ rootfs, volumes: [`${src}:/data/vol`], cmd: ['sh', '-c', `cat /data/vol/marker; ls -A ${hostDir}`] });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout).toBe('volume content\nvol\n');
      expect(readdirSync(hostDir)).toEqual([]);
    });
  });

  describe('the init binary', () => {
    it('with --init, /proc/1/exe is a sealed memfd that cannot be opened for writing', async () => {
      const r = await sh(
        'readlink /proc/1/exe; if echo x > /proc/1/exe; then echo OPENED; fi; if echo x >> /proc/1/exe; then echo APPENDED; fi; echo end',
        // PID 1 is not dumpable: only CAP_SYS_PTRACE reaches its image (test/security/stdio.test.ts).
        { init: true, capAdd: ['SYS_PTRACE'] },
      );
      expect(r.status.exitCode).toBe(0);
      const out = r.stdout.split('\n').filter(Boolean);
      expect(out[0]).toMatch(/^\/memfd:pocker-init/);
      expect(out.slice(1)).toEqual(['end']);
      expect(r.stderr).toMatch(/\/proc\/1\/exe/);
    });

    it("the container's monitor on the host runs from a memfd too, never from a host path", async () => {
      const c = await start({ image: 'host', cmd: ['sleep', '100'], stdio: 'ignore' });
      try {
        const monitor = Number(procStatField(c.pid, 4));
        expect(monitor).toBeGreaterThan(1);
        expect(readlinkSync(`/proc/${monitor}/exe`)).toMatch(/^\/memfd:pocker-init/);
      } finally {
        c.kill('SIGKILL');
        await c.wait();
      }
    });
  });

  describe('processes', () => {
    it('cannot see host processes', async () => {
      const r = await sh(HOST_PROCESSES_SCRIPT);
      expectNoHostProcesses(r.stdout);
    });

    it("runs in a session of its own, not the caller's", async () => {
      const c = await start({ image: 'host', cmd: ['sleep', '100'], stdio: 'ignore' });
      try {
        const mySession = procStatField('self', 6);
        const itsSession = procStatField(c.pid, 6);
        expect(itsSession).not.toBe(mySession);
        // It leads its session (setsid): its session id is its own pid.
        expect(itsSession).toBe(String(c.pid));
      } finally {
        c.kill('SIGKILL');
        await c.wait();
      }
      // Seen from inside: PID 1 leads the session.
      const r = await sh('cut -d" " -f6 /proc/self/stat; cut -d" " -f6 /proc/1/stat');
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(['1', '1']);
    });
  });
});
