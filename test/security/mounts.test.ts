// Issue 10, findings 2, 9, 10 and 12: mounts that are read-only and device-less all the way down,
// mount destinations judged where they really land (after the image's symlinks), pocker's own stores
// hidden from `host` containers, and a hostile /etc/passwd in `pocker exec`. Root only.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';

import { importRootfs } from '../../lib/image/archive.js';
import {
  busyboxRootfs,
  cleanupAll,
  collect,
  copyRootfs,
  existingCgroupParentDirs,
  hostBusybox,
  isRoot,
  pk,
  pockerBin,
  processAlive,
  repoRoot,
  rootTracker,
  runError,
  runToEnd,
  sh,
  start,
  tempDir,
  until,
} from '../helpers.js';
import { buildLayerTar, type LayerSpec } from '../image-builder.js';
import { appendProbe, hostWriteTargets } from './checks.js';

const roots = rootTracker();
/** Mount points the tests made on the host (unmounted in afterAll, whatever happened). */
const hostMounts: string[] = [];

function mountTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'pocker-test', dir]);
  hostMounts.push(dir);
}

/** The host pids of `pid`'s children (every thread's). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

describe.skipIf(!isRoot)('mounts (issue 10: findings 2, 9, 10, 12)', () => {
  afterAll(async () => {
    await roots.removeAll();
    for (const m of hostMounts.reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        /* not mounted */
      }
    }
    expect(await cleanupAll()).toEqual([]);
    expect(existingCgroupParentDirs()).toEqual([]);
  });

  describe('finding 2: ro and nodev of a volume are recursive', () => {
    it('a read-only volume whose source has a mount under it: that mount is read-only inside too', async () => {
      const src = tempDir('rro');
      writeFileSync(join(src, 'top'), 'top\n');
      mountTmpfs(join(src, 'sub'));
      writeFileSync(join(src, 'sub', 'inner'), 'inner\n');
      const r = await runToEnd({
        rootfs: busyboxRootfs(),
        volumes: [`${src}:/v:ro`],
        cmd: ['sh', '-c', 'cat /v/sub/inner; for f in /v/top /v/sub/inner /v/sub/new; do (echo x >> $f) 2>/dev/null && echo "$f writable" || echo "$f refused"; done; grep " /v/sub " /proc/self/mountinfo | cut -d" " -f6'],
      });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout.split('\n')).toEqual(['inner', '/v/top refused', '/v/sub/inner refused', '/v/sub/new refused', expect.stringMatching(/^ro,/), '']);
      // Nothing changed on the host side.
      expect(readFileSync(join(src, 'sub', 'inner'), 'utf8')).toBe('inner\n');
      expect(existsSync(join(src, 'sub', 'new'))).toBe(false);
    });

    it('a device node on a dev-enabled mount under a volume source cannot be opened', async () => {
      const src = tempDir('rnodev');
      mountTmpfs(join(src, 'devfs'));
      // /dev/null's numbers: harmless even if the open succeeded.
      const r = await runToEnd({
        rootfs: busyboxRootfs(),
        volumes: [`${src}:/v`],
        cmd: ['sh', '-c', 'mknod /v/devfs/null2 c 1 3 2>/dev/null; (echo x > /v/devfs/null2) 2>/dev/null && echo opened || echo refused; grep " /v/devfs " /proc/self/mountinfo | cut -d" " -f6'],
      });
      expect(r.stdout.split('\n')[0]).toBe('refused');
      expect(r.stdout.split('\n')[1]).toMatch(/(^|,)nodev(,|$)/);
    });

    it('-v /:/host:ro: the host\'s /proc/sys, cgroup release_agent and /dev/kmsg cannot be opened for writing', async () => {
      // Each file is only opened for appending and closed, nothing is written: even without the fix
      // no host setting changes.
      const targets = hostWriteTargets();
      const r = await sh(appendProbe(targets), { volumes: ['/:/host:ro'] });
      expect(r.status.exitCode).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(targets.map((t) => `${t} refused`));
    });
  });

  describe('finding 10: destinations are judged where they land, after the image\'s symlinks', () => {
    function rootfsWithLinks(): string {
      const rootfs = copyRootfs();
      symlinkSync('/proc/sys/kernel', join(rootfs, 'kern'));
      symlinkSync('/sys/kernel', join(rootfs, 'skern'));
      symlinkSync('/dev', join(rootfs, 'devlink'));
      symlinkSync('/proc', join(rootfs, 'p'));
      return rootfs;
    }

    it.each([
      ['a tmpfs on /kern -> /proc/sys/kernel', { tmpfs: ['/kern'] }, 'mount-tmpfs', /resolved to \/proc\/sys\/kernel.*inside \/proc/],
      ['a tmpfs on /p -> /proc', { tmpfs: ['/p'] }, 'mount-tmpfs', /resolved to \/proc\b.*over \/proc/],
      ['a tmpfs on /skern -> /sys/kernel', { tmpfs: ['/skern'] }, 'mount-tmpfs', /resolved to \/sys\/kernel.*inside \/sys/],
      ['a tmpfs on /devlink -> /dev', { tmpfs: ['/devlink'] }, 'mount-tmpfs', /resolved to \/dev\b/],
    ] as const)('%s is refused', async (_what, opts, step, message) => {
      const err = await runError({ rootfs: rootfsWithLinks(), cmd: ['true'], tmpfs: [...opts.tmpfs] });
      expect(err.step).toBe(step);
      expect(err.message).toMatch(message);
    });

    it('a volume on /kern/core_pattern (through /kern -> /proc/sys/kernel) is refused', async () => {
      const file = join(tempDir('volfile'), 'pattern');
      writeFileSync(file, 'not a core pattern\n');
      const err = await runError({ rootfs: rootfsWithLinks(), cmd: ['true'], volumes: [`${file}:/kern/core_pattern:ro`] });
      expect(err.step).toBe('mount-volume');
      expect(err.message).toMatch(/resolved to \/proc\/sys\/kernel\/core_pattern.*inside \/proc/);
    });

    it.each([
      ['/proc/sys/kernel', 'kern'],
      ['/sys/kernel', 'skern'],
    ])('an image VOLUME through a symlink to %s is refused, and nothing is copied into the volume', async (target, name) => {
      const root = roots.newRoot();
      const base: LayerSpec = {
        'bin/busybox': { type: 'file', content: readFileSync(hostBusybox()!), mode: 0o755 },
        'bin/sh': { type: 'symlink', target: 'busybox' },
        'bin/true': { type: 'symlink', target: 'busybox' },
        'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
        'etc/group': 'root:x:0:\n',
        [name]: { type: 'symlink', target },
      };
      const ref = `volume-through-link-${name}:1`;
      await importRootfs(Readable.from([buildLayerTar(base)]), { root, reference: ref, changes: [`VOLUME /${name}`] });
      const err = await runError({ root, image: ref, cmd: ['true'] });
      expect(err.step).toBe('mount-volume');
      expect(err.message).toMatch(/image's own files/);
      // No container directory (and so no volume with kernel files in it) is left behind.
      const containers = join(root, 'containers');
      expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
    });

    it('a plain image volume still starts as a copy of the image content', async () => {
      const root = roots.newRoot();
      const layer: LayerSpec = {
        'bin/busybox': { type: 'file', content: readFileSync(hostBusybox()!), mode: 0o755 },
        'bin/sh': { type: 'symlink', target: 'busybox' },
        'bin/cat': { type: 'symlink', target: 'busybox' },
        'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
        'data/seed': 'seeded\n',
      };
      await importRootfs(Readable.from([buildLayerTar(layer)]), { root, reference: 'plain-volume:1', changes: ['VOLUME /data'] });
      const r = await runToEnd({ root, image: 'plain-volume:1', cmd: ['cat', '/data/seed'] });
      expect([r.status.exitCode, r.stdout]).toEqual([0, 'seeded\n']);
    });
  });

  describe('finding 12: the host image does not show pocker\'s stores', () => {
    it('another container\'s config.json (and its env) in the active root is out of reach', async () => {
      const root = roots.newRoot();
      const other = await start({ root, rootfs: busyboxRootfs(), cmd: ['sleep', '1000'], env: ['SECRET=hunter2'], stdio: 'ignore' });
      try {
        const config = join(root, 'containers', other.id, 'config.json');
        expect(readFileSync(config, 'utf8')).toContain('hunter2');
        const r = await sh(`ls -A ${root}; ls -A ${root}/containers; cat ${config} 2>/dev/null || echo unreadable; echo end`, { root });
        expect(r.status.exitCode).toBe(0);
        expect(r.stdout).not.toContain('hunter2');
        expect(r.stdout).not.toContain(other.id);
        expect(r.stdout).toContain('unreadable');
      } finally {
        other.kill('SIGKILL');
        await other.wait();
      }
    });
  });

  describe('finding 9: pocker exec and a hostile /etc/passwd; the exec CLI and signals', () => {
    it('a FIFO at /etc/passwd: exec fails at once with a clear error (it hung forever)', async () => {
      const root = roots.newRoot();
      const run = await pk(root, 'run', '-d', '--rootfs', copyRootfs(), 'sleep', '1000');
      expect(run.code).toBe(0);
      const id = run.stdout.trim();
      const made = await pk(root, 'exec', id, 'sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd');
      expect(made.code).toBe(0);
      for (const args of [['true'], ['-u', 'root', 'true'], ['-u', '0', 'true']]) {
        const r = await pk(root, 'exec', ...args.slice(0, -1), id, 'true');
        expect(r.code, args.join(' ')).toBe(125);
        expect(r.stderr).toMatch(/\/etc\/passwd is not a regular file/);
      }
    });

    it('/etc/passwd as a symlink to a kernel file is refused too', async () => {
      const root = roots.newRoot();
      const rootfs = copyRootfs();
      const run = await pk(root, 'run', '-d', '--rootfs', rootfs, 'sleep', '1000');
      expect(run.code).toBe(0);
      const id = run.stdout.trim();
      expect((await pk(root, 'exec', id, 'sh', '-c', 'rm /etc/passwd && ln -s /proc/sys/kernel/ostype /etc/passwd')).code).toBe(0);
      const r = await pk(root, 'exec', id, 'true');
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/kernel file/);
    });

    /** `pocker exec ID sleep 1000` as a child of ours, once the sleep runs: the CLI, its pocker-init and the sleep. */
    async function execSleep(root: string, id: string) {
      const child = spawn(process.execPath, [pockerBin, '--root', root, 'exec', id, 'sleep', '1000'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      const stderr = collect(child.stderr);
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
      let monitor = 0;
      let sleeper = 0;
      await until('the exec\'d sleep runs', () => {
        monitor = childrenOf(child.pid!).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('pocker-init')) ?? 0;
        if (!monitor) return false;
        const stack = [monitor];
        while (stack.length) {
          const p = stack.pop()!;
          for (const c of childrenOf(p)) {
            if (readFileSync(`/proc/${c}/cmdline`, 'utf8') === 'sleep\x001000\x00') sleeper = c;
            stack.push(c);
          }
        }
        return sleeper !== 0;
      });
      return { child, ended, stderr, monitor, sleeper };
    }

    it('SIGTERM to the exec CLI reaches the exec\'d process, then the CLI ends with its status', async () => {
      const root = roots.newRoot();
      const run = await pk(root, 'run', '-d', '--rootfs', busyboxRootfs(), 'sleep', '1000');
      const id = run.stdout.trim();
      const { child, ended, monitor, sleeper } = await execSleep(root, id);
      child.kill('SIGTERM');
      expect(await ended).toEqual({ code: 143, signal: null });
      await until('the sleep and the exec\'s pocker-init are gone', () => !processAlive(sleeper) && !processAlive(monitor));
      // The container itself is untouched.
      expect((await pk(root, 'exec', id, 'true')).code).toBe(0);
    });

    it('SIGKILL of the exec CLI: its pocker-init pair and the process end with it', async () => {
      const root = roots.newRoot();
      const run = await pk(root, 'run', '-d', '--rootfs', busyboxRootfs(), 'sleep', '1000');
      const id = run.stdout.trim();
      const { child, ended, monitor, sleeper } = await execSleep(root, id);
      child.kill('SIGKILL');
      await ended;
      await until('the sleep and the exec\'s pocker-init are gone', () => !processAlive(sleeper) && !processAlive(monitor));
      expect((await pk(root, 'exec', id, 'true')).code).toBe(0);
    });
  });

});
