// The escapes and hardening checks of test/security re-run in rootless mode (issue 13): the CLI run by
// an unprivileged user the setup creates (useradd, its own /etc/subuid and /etc/subgid ranges, all
// removed afterwards), in a user namespace mapped with newuidmap/newgidmap, its store in
// ~/.local/share/pocker. The check bodies are test/security's (checks.ts, battery.ts, layer-cases.ts);
// what must hold is the same as for root unless ROOT_ONLY below says otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CAPABILITIES, DEFAULT_CAPS } from '../../lib/spec/defaults.js';
import {
  cleanupAll,
  cli,
  collect,
  containerState,
  copyRootfs,
  hostBusybox,
  isRoot,
  mountinfoLinesNaming,
  repoRoot,
  snapshotTree,
  tempDir,
  tempRoot,
  until,
} from '../helpers.js';
import { DEFAULT_PROFILE_OUTCOMES, buildBattery, haveGcc, outcomes } from '../security/battery.js';
import { HOST_PROCESSES_SCRIPT, MASK_SCRIPT, appendProbe, expectMasked, expectNoHostProcesses, hostWriteTargets } from '../security/checks.js';
import { cases, prepareBase, snapshot, tarFor, type Case } from '../security/layer-cases.js';
import { asUser, expectUserGone, makeRootlessUser, type RootlessUser } from './user.js';

const haveTools = ['/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/sbin/useradd', '/usr/sbin/runuser'].every((p) => existsSync(p));

/**
 * The checks of test/security that do not apply to a rootless caller, and why. Each has its rootless
 * equivalent below where one exists (named after the arrow).
 */
export const ROOT_ONLY: Readonly<Record<string, string>> = {
  'seccomp.test.ts finding 1 (limit-lifting escape under --memory)':
    'a rootless container without a delegated cgroup (cgroup v1 here) has no limit to lift -> --memory is refused clearly (exit 125), tested below',
  'seccomp.test.ts runc verbs (pocker-init run with an OCI bundle and cgroupsPath)': "pocker-init's runc interface is root's (it makes cgroups); a rootless caller uses the CLI",
  'seccomp.test.ts --cap-add SYS_ADMIN capability groups': 'the profile is built from the bounding set the same way for both; the compiled program is compared byte for byte with root\'s below',
  'mounts.test.ts finding 2 nodev under a volume': 'every mount a user namespace makes of a host filesystem is nodev by the kernel already (SB_I_NODEV), mknod of a real device is EPERM',
  'mounts.test.ts finding 9 exec CLI signals (SIGTERM/SIGKILL of the exec CLI)': 'the CLI is the user\'s process: the same code path as root\'s, nothing of the host at stake',
  'stdio.test.ts finding 11 (--init PID 1 dies with its monitor)': 'the same pocker-init code as root\'s; not an escape',
  'escape.test.ts volume destinations through symlinks (library API variants)': 'the CLI variant (target present in the rootfs) is run below; the others differ only in the setup',
  'layers.test.ts root-only whiteout cases': 'run below too: the rootless worker makes 0/0 whiteouts in its namespace',
};

/** The effective mask of Docker's default capabilities, as /proc/PID/status shows it. */
const defaultCapMask = DEFAULT_CAPS.reduce((m, c) => m | (1n << BigInt(CAPABILITIES[c]!)), 0n).toString(16).padStart(16, '0');

describe.skipIf(!isRoot || !hostBusybox() || !haveTools || !haveGcc)('test/security re-run rootless (an unprivileged user made by the test)', () => {
  let u: RootlessUser;
  let batteryDir: string;
  /** The user's own state root. */
  const store = () => join(u.home, '.local/share/pocker');

  /** A temp dir the user owns. */
  function userDir(label: string): string {
    const d = tempDir(label);
    chownSync(d, u.uid, u.gid);
    return d;
  }

  /** A private copy of the busybox rootfs, owned by the user (root of its containers). */
  function userRootfs(): string {
    const rootfs = copyRootfs();
    expect(spawnSync('chown', ['-R', `${u.uid}:${u.gid}`, rootfs]).status).toBe(0);
    return rootfs;
  }

  /** The battery bound at /tmp/battery (a rootless `host` container has no writable layer for a new mount point: a tmpfs at /tmp). */
  const withBattery = () => ['--tmpfs', '/tmp', '-v', `${batteryDir}:/tmp/battery:ro`];

  /** Runs the user's pocker with these fds as its stdio ('pipe' collects). */
  async function withStdio(args: string[], stdio: Array<number | 'pipe' | 'ignore'>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const [cmd, ...rest] = u.pockerArgv(args);
    const child = spawn(cmd!, rest, { cwd: '/', stdio: stdio as never });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    return { code, stdout: await stdout, stderr: await stderr };
  }

  beforeAll(() => {
    u = makeRootlessUser('s');
    batteryDir = buildBattery();
  });

  afterAll(async () => {
    u?.remove();
    await cleanupAll();
    if (u) await expectUserGone(u);
  });

  describe('escape.test.ts: symlinks planted in the rootfs', () => {
    it.each(['proc', 'dev', 'sys'])('/%s as a symlink to a dir the user owns: the run is refused and nothing is mounted on it', async (name) => {
      const evil = userDir('evil');
      const rootfs = userRootfs();
      rmSync(join(rootfs, name), { recursive: true });
      symlinkSync(evil, join(rootfs, name));
      const before = snapshotTree(rootfs);
      const r = await u.pocker(['run', '--rm', '--rootfs', rootfs, 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`mount-${name}|/${name}`));
      expect(r.stderr).toMatch(/symlink|ELOOP|too many levels/i);
      expect(mountinfoLinesNaming(evil)).toEqual([]);
      expect(readdirSync(evil)).toEqual([]);
      expect(snapshotTree(rootfs)).toEqual(before);
    });

    it('a volume destination through a symlink to a host dir lands inside the rootfs', async () => {
      const hostDir = userDir('hostdir');
      const src = userDir('volsrc');
      writeFileSync(join(src, 'marker'), 'volume content\n');
      const rootfs = userRootfs();
      symlinkSync(hostDir, join(rootfs, 'data'));
      mkdirSync(join(rootfs, hostDir), { recursive: true });
      chownSync(join(rootfs, hostDir), u.uid, u.gid);
      const r = await u.pocker(['run', '--rm', '--rootfs', rootfs, '-v', `${src}:/data/vol`, 'sh', '-c', `cat /data/vol/marker; ls -A ${hostDir}; echo written > /data/vol/from-container`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('volume content\nvol\n');
      expect(readdirSync(hostDir)).toEqual([]);
      expect(readFileSync(join(src, 'from-container'), 'utf8')).toBe('written\n');
    });
  });

  describe('escape.test.ts: processes, /proc/self/exe and the monitor', () => {
    it('cannot see host processes', async () => {
      const r = await u.pocker(['run', '--rm', 'host', 'sh', '-c', HOST_PROCESSES_SCRIPT]);
      expect(r.code).toBe(0);
      expectNoHostProcesses(r.stdout);
    });

    // Stricter than root's: --init's PID 1 was forked by the monitor before the user namespace had any
    // mapping, so its memory belongs to the initial user namespace, where nothing in the container has
    // CAP_SYS_PTRACE: even with --cap-add SYS_PTRACE its /proc/1/exe cannot be read (root's shows the memfd).
    it('with --init (even with CAP_SYS_PTRACE), /proc/1/exe cannot be reached or opened for writing; /proc/self/exe (the host\'s, bound read-only) neither', async () => {
      const script = 'readlink /proc/1/exe 2>/dev/null || echo no-exe; for f in /proc/1/exe /proc/self/exe; do (echo x >> $f) 2>/dev/null && echo "$f OPENED" || echo "$f refused"; done; chmod 6555 /proc/1/exe 2>/dev/null; echo chmod=$?';
      const r = await u.pocker(['run', '--rm', '--init', '--cap-add', 'SYS_PTRACE', 'host', 'sh', '-c', script]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('no-exe\n/proc/1/exe refused\n/proc/self/exe refused\nchmod=1\n');
    });

    it("the container's monitor on the host runs from a memfd, and the container leads a session of its own", async () => {
      const d = await u.pocker(['run', '-d', 'host', 'sleep', '1000']);
      expect(d.code).toBe(0);
      const id = d.stdout.trim();
      try {
        const state = containerState(store(), id);
        expect(readlinkSync(`/proc/${state.monitorPid}/exe`)).toMatch(/^\/memfd:pocker-init/);
        const stat = readFileSync(`/proc/${state.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        expect(stat[3]).toBe(String(state.pid)); // field 6, the session id
      } finally {
        expect((await u.pocker(['rm', '-f', id])).code).toBe(0);
      }
    });
  });

  describe('masked and read-only paths, capabilities, no_new_privs', () => {
    it('the masked paths read as empty and the read-only paths are read-only mounts', async () => {
      const r = await u.pocker(['run', '--rm', 'host', 'sh', '-c', MASK_SCRIPT]);
      expect(r.stderr).toBe('');
      expectMasked(r.stdout);
      const w = await u.pocker(['run', '--rm', 'host', 'sh', '-c', appendProbe(['/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/proc/sys/vm/drop_caches'])]);
      expect(w.stdout.trim().split('\n')).toEqual(['/proc/sys/kernel/core_pattern refused', '/proc/sysrq-trigger refused', '/proc/sys/vm/drop_caches refused']);
    });

    it('the capabilities are the default set and no more (in the user namespace); no_new_privs as asked', async () => {
      const script = 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):" /proc/self/status';
      const want = (nnp: number) => `CapInh:\t0000000000000000\nCapPrm:\t${defaultCapMask}\nCapEff:\t${defaultCapMask}\nCapBnd:\t${defaultCapMask}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t${nnp}\n`;
      const r = await u.pocker(['run', '--rm', 'host', 'sh', '-c', script]);
      expect(r.stdout).toBe(want(0));
      const n = await u.pocker(['run', '--rm', '--security-opt', 'no-new-privileges', 'host', 'sh', '-c', script]);
      expect(n.stdout).toBe(want(1));
      // Root's figures, the same.
      const root = await cli(['run', '--rm', 'host', 'sh', '-c', script], { root: tempRoot() });
      expect(root.stdout).toBe(want(0));
      // A non-root user of the container has none.
      const app = await u.pocker(['run', '--rm', '-u', '1000', 'host', 'sh', '-c', 'grep -E "^Cap(Prm|Eff):" /proc/self/status']);
      expect(app.stdout).toBe('CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n');
    });
  });

  describe('mounts.test.ts: the host\'s files and pocker\'s stores', () => {
    it('-v /:/host:ro: the host\'s /proc/sys, cgroup release_agent and /dev/kmsg cannot be opened for writing', async () => {
      const targets = hostWriteTargets('/tmp/host');
      const r = await u.pocker(['run', '--rm', '--tmpfs', '/tmp', '-v', '/:/tmp/host:ro', 'host', 'sh', '-c', appendProbe(targets)]);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual(targets.map((t) => `${t} refused`));
    });

    // No cgroup of its own here (cgroup v1, no limit flags): its /sys/fs/cgroup shows none of the host's
    // hierarchies (what a root container sees there is its own cgroup, read-only), and the host's cgroup
    // files, bound in read-only, cannot be opened for writing. (On cgroup v1 the cgroup namespace is the
    // host's, Docker's default there, for root and rootless alike: /proc/self/cgroup shows host paths.)
    it("the host's cgroup files are out of reach", async () => {
      const script = [
        'echo "entries $(ls -A /sys/fs/cgroup | wc -l)"',
        'for f in $(find /sys/fs/cgroup /tmp/host/sys/fs/cgroup -maxdepth 3 \\( -name cgroup.procs -o -name release_agent -o -name notify_on_release -o -name memory.limit_in_bytes -o -name pids.max \\) 2>/dev/null); do n=$((n+1)); (true >> $f) 2>/dev/null && echo "$f writable"; done',
        'echo "probed ${n:-0}"',
      ].join('; ');
      const r = await u.pocker(['run', '--rm', '--tmpfs', '/tmp', '-v', '/sys/fs/cgroup:/tmp/host/sys/fs/cgroup:ro', 'host', 'sh', '-c', script]);
      expect(r.stderr).toBe('');
      const [entries, ...rest] = r.stdout.trim().split('\n');
      expect(entries).toBe('entries 0');
      expect(rest).toHaveLength(1);
      expect(rest[0]).toMatch(/^probed ([1-9]\d*)$/);
    });

    it("a host container does not see the user's store: another container's config.json (and its env) is out of reach", async () => {
      const other = await u.pocker(['run', '-d', '-e', 'SECRET=hunter2', 'host', 'sleep', '1000']);
      expect(other.code).toBe(0);
      const id = other.stdout.trim();
      try {
        const config = join(store(), 'containers', id, 'config.json');
        expect(readFileSync(config, 'utf8')).toContain('hunter2');
        const r = await u.pocker(['run', '--rm', 'host', 'sh', '-c', `ls -A ${store()}; ls -A ${store()}/containers; cat ${config} 2>/dev/null || echo unreadable; echo end`]);
        expect(r.stdout).not.toContain('hunter2');
        expect(r.stdout).not.toContain(id);
        expect(r.stdout).toContain('unreadable');
      } finally {
        expect((await u.pocker(['rm', '-f', id])).code).toBe(0);
      }
    });

    it('a FIFO at /etc/passwd: exec fails at once with a clear error', async () => {
      const run = await u.pocker(['run', '-d', '--rootfs', userRootfs(), 'sleep', '1000']);
      expect(run.code).toBe(0);
      const id = run.stdout.trim();
      try {
        expect((await u.pocker(['exec', id, 'sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd'])).code).toBe(0);
        for (const args of [[], ['-u', 'root'], ['-u', '0']]) {
          const r = await u.pocker(['exec', ...args, id, 'true']);
          expect(r.code, args.join(' ')).toBe(125);
          expect(r.stderr).toMatch(/\/etc\/passwd is not a regular file/);
        }
      } finally {
        // A fixed bug: the whiteout made the kernel leave one in the overlay's work/work (mode 0):
        // rm failed with EACCES there and left a broken container behind.
        const rm = await u.pocker(['rm', '-f', id]);
        expect(rm.stderr).toBe('');
        expect(rm.code).toBe(0);
      }
      expect(readdirSync(join(store(), 'containers'))).toEqual([]);
    });

    it('a detached --rm container whose overlay made a whiteout is removed by its monitor (a fixed bug, as above)', async () => {
      const d = await u.pocker(['run', '-d', '--rm', '--rootfs', userRootfs(), 'sh', '-c', 'rm /etc/group && mkfifo /etc/group']);
      expect(d.code).toBe(0);
      await until('the container is removed', () => readdirSync(join(store(), 'containers')).length === 0, 60_000);
      expect((await u.pocker(['ps', '-a', '-q'])).stdout).toBe('');
    });
  });

  describe('seccomp.test.ts: Docker\'s default profile', () => {
    it('every probe of the battery fails with the profile\'s errno, in run and in exec', async () => {
      const r = await u.pocker(['run', '--rm', ...withBattery(), 'host', '/tmp/battery/battery']);
      expect(r.code).toBe(0);
      expect(outcomes(r.stdout)).toEqual(DEFAULT_PROFILE_OUTCOMES);
      const d = await u.pocker(['run', '-d', ...withBattery(), 'host', 'sleep', '1000']);
      const id = d.stdout.trim();
      try {
        const e = await u.pocker(['exec', id, 'sh', '-c', 'grep ^Seccomp: /proc/self/status; /tmp/battery/battery keyctl unshare-user socket-inet']);
        expect(e.stdout).toBe('Seccomp:\t2\nkeyctl EPERM\nunshare-user EPERM\nsocket-inet ok\n');
      } finally {
        expect((await u.pocker(['rm', '-f', id])).code).toBe(0);
      }
    });

    it("the loaded program is root's, byte for byte (same profile, same capabilities)", async () => {
      const root = tempRoot();
      expect((await cli(['run', '--rm', 'host', 'true'], { root })).code).toBe(0);
      const own = userDir('store');
      expect((await u.pocker(['--root', own, 'run', '--rm', 'host', 'true'])).code).toBe(0);
      const bpf = (dir: string) => readdirSync(join(dir, 'seccomp')).filter((f) => f.endsWith('.bpf')).map((f) => readFileSync(join(dir, 'seccomp', f)).toString('hex'));
      const mine = bpf(own);
      expect(mine).toHaveLength(1);
      expect(mine).toEqual(bpf(root));
    });

    it('finding 1 rootless: a limit flag (the escape\'s target) is refused clearly, nothing is made', async () => {
      const r = await u.pocker(['run', '--rm', '-m', '64m', ...withBattery(), 'host', '/tmp/battery/battery', 'escape']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/no delegated cgroup: .*--memory cannot be applied/);
      // Without a limit the chain still stops at unshare(CLONE_NEWUSER).
      const e = await u.pocker(['run', '--rm', ...withBattery(), 'host', '/tmp/battery/battery', 'escape']);
      expect(e.stdout.trim()).toBe('escape unshare EPERM');
    });
  });

  describe('stdio.test.ts: the caller\'s fds never reach the container', () => {
    const LINKS = 'for i in 0 1 2; do echo "fd$i=$(readlink /proc/self/fd/$i)" >&2; done';

    it('run -i with a read-only (0444) file as stdin: the container cannot reopen it for writing', async () => {
      const file = join(userDir('stdin'), 'readonly');
      writeFileSync(file, 'original\n');
      chownSync(file, u.uid, u.gid);
      chmodSync(file, 0o444);
      const fd = openSync(file, 'r');
      try {
        const r = await withStdio(['run', '-i', '--rm', 'host', 'sh', '-c', `${LINKS}; echo pwned > /proc/self/fd/0; cat`], [fd, 'pipe', 'pipe']);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('original\n');
        expect(r.stderr).toMatch(/fd0=pipe:/);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, 'utf8')).toBe('original\n');
    });

    it('run with an append-only log as stdout: the container cannot read it back', async () => {
      const file = join(userDir('stdout'), 'log');
      writeFileSync(file, 'secret line\n');
      chownSync(file, u.uid, u.gid);
      const fd = openSync(file, 'a');
      try {
        const r = await withStdio(['run', '--rm', 'host', 'sh', '-c', `${LINKS}; exec 3>&1; dd if=/proc/self/fd/3 iflag=nonblock bs=64 count=1 >&2 2>/dev/null; echo done`], ['ignore', fd, 'pipe']);
        expect(r.code).toBe(0);
        expect(r.stderr).not.toContain('secret');
        expect(r.stderr).toMatch(/fd1=pipe:/);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, 'utf8')).toBe('secret line\ndone\n');
    });

    it('an extra fd of the caller (a file it holds open) is not inherited by the container', async () => {
      const file = join(userDir('fd3'), 'held');
      writeFileSync(file, 'held open\n');
      chownSync(file, u.uid, u.gid);
      const fd = openSync(file, 'r');
      try {
        const r = await withStdio(['run', '--rm', 'host', 'sh', '-c', 'for f in /proc/self/fd/*; do echo "${f##*/} $(readlink $f)"; done'], ['ignore', 'pipe', 'pipe', fd]);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain(file);
        const fds = r.stdout.trim().split('\n').map((l) => Number(l.split(' ')[0]));
        expect(fds.filter((n) => n > 2).length).toBeLessThanOrEqual(1); // the shell's glob of /proc/self/fd
      } finally {
        closeSync(fd);
      }
    });

    // PID 1 of --init is out of reach from inside (see above), so its fds are read from the host.
    it("a detached --init container's PID 1 has only /dev/null as 0-2; exec joins the container's namespaces all the same", async () => {
      const c = await u.pocker(['run', '-d', '--init', '-i', 'host', 'sleep', 'infinity']);
      expect(c.code).toBe(0);
      const id = c.stdout.trim();
      try {
        const { pid } = containerState(store(), id);
        const fds = readdirSync(`/proc/${pid}/fd`).sort();
        expect(fds).toEqual(['0', '1', '2']);
        for (const fd of fds) expect(readlinkSync(`/proc/${pid}/fd/${fd}`)).toMatch(/\/dev\/null$/);
        // A fixed bug: exec into a rootless --init container failed at exec-join (EACCES on PID 1's
        // /proc/PID/ns, closed to the user): it joins through PID 1's child now.
        const e = await u.pocker(['exec', id, 'sh', '-c', 'for n in user mnt pid net ipc uts; do readlink /proc/self/ns/$n; done; readlink /proc/1/fd/0 2>/dev/null || echo no-fd']);
        expect(e.stderr).toBe('');
        const want = ['user', 'mnt', 'pid', 'net', 'ipc', 'uts'].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
        expect(e.stdout).toBe(`${[...want, 'no-fd'].join('\n')}\n`);
      } finally {
        expect((await u.pocker(['rm', '-f', id])).code).toBe(0);
      }
    });
  });

  describe('layers.test.ts: hostile layers extracted as the user (in its user namespace, by the rootless worker)', () => {
    /** A device node: a rootless layer skips it (it cannot be made), nothing else changes. */
    const deviceCase: Case = {
      name: 'a character device node (skipped rootless)',
      entries: [{ name: 'null2', type: 'character-device', devmajor: 1, devminor: 3 }, { name: 'after', type: 'file', content: 'after' }],
      expect: 'ok',
      check: (dest) => {
        expect(existsSync(join(dest, 'null2'))).toBe(false);
        expect(readFileSync(join(dest, 'after'), 'utf8')).toBe('after');
      },
    };
    const all = [...cases, deviceCase];

    it(`all ${all.length} cases: refused or kept inside, the sentinels untouched`, async () => {
      const work = userDir('layers');
      const jobs: Array<{ tar: string; dest: string }> = [];
      const bases: Array<{ base: string; dest: string; before: Record<string, string> }> = [];
      for (const [i, c] of all.entries()) {
        const base = join(work, String(i));
        mkdirSync(base);
        const dest = prepareBase(base);
        chownSync(dest, u.uid, u.gid);
        const tar = join(work, `${i}.tar`);
        writeFileSync(tar, await tarFor(c.entries, base));
        jobs.push({ tar, dest });
        bases.push({ base, dest, before: snapshot(base, dest) });
      }
      const driver = join(work, 'driver.mjs');
      writeFileSync(
        driver,
        [
          "import { createReadStream } from 'node:fs';",
          `import { extractLayerInUserns } from ${JSON.stringify(join(repoRoot, 'dist/rootless/userns.js'))};`,
          'const out = [];',
          `for (const j of ${JSON.stringify(jobs)}) {`,
          '  try { await extractLayerInUserns(createReadStream(j.tar), j.dest); out.push(null); }',
          '  catch (e) { out.push({ code: e.code, step: e.step, message: e.message }); }',
          '}',
          'console.log(JSON.stringify(out));',
        ].join('\n'),
      );
      const [cmd, ...rest] = asUser(u, [process.execPath, driver]);
      const child = spawn(cmd!, rest, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      const [stdout, stderr] = await Promise.all([collect(child.stdout), collect(child.stderr)]);
      expect(stderr).toBe('');
      const errors = JSON.parse(stdout) as Array<{ code: string; step: string; message: string } | null>;
      const verdicts = all.map((c, i) => {
        const e = errors[i];
        const ok = c.expect === 'refused' ? e?.code === 'ERR_POCKER_LAYER_UNSAFE' && e.step === 'extract' && /layer entry '.*' refused/.test(e.message) : e === null;
        return `${c.name}: ${ok ? 'as expected' : `got ${JSON.stringify(e)}`}`;
      });
      expect(verdicts).toEqual(all.map((c) => `${c.name}: as expected`));
      for (const [i, c] of all.entries()) {
        const { base, dest, before } = bases[i]!;
        if (c.expect === 'ok') c.check?.(dest, base);
        expect(snapshot(base, dest), c.name).toEqual(before);
      }
      expect(existsSync('/tmp/pocker-escape')).toBe(false);
    }, 900_000);
  });
});

