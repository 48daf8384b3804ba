// Podman for the run and lifecycle benches: rootful podman with all of its state in one temp dir,
// on a local image, and the workarounds this kind of host needs, each applied only when a probe
// container fails without it (see README.md, "Podman on this host").
//
//   const pm = await setupPodman({ dir, tar, runtime: 'crun', cgroupParent, hybridNamespace });
//   if (pm.error) … else spawn(pm.argv('run', ...pm.runFlags, '--rm', IMAGE, '/bin/true'))
//   …
//   pm.cleanup();
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// No bridge on this machine's network from a bench (pocker's default network is bridge).
process.env.POCKER_DEFAULT_NETWORK ??= 'none';

export const IMAGE = 'localhost/pocker-bench-bb:latest';

const sh = (argv, env) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: (r.stdout ?? '').trim(), stderr: (r.stderr ?? '').trim() || (r.error ? String(r.error) : '') };
};
const lastLine = (s) => (s.split('\n').filter(Boolean).pop() ?? '').trim();

export function podmanVersion() {
  return sh(['podman', '--version']).stdout || null;
}

/**
 * The `--ulimit` flags that match what this process may set (the fallback when an empty
 * `default_ulimits` is not enough). Rootful podman asks its runtime for RLIMIT_NOFILE and
 * RLIMIT_NPROC = 1048576 unless told otherwise, and raising a hard limit needs CAP_SYS_RESOURCE.
 * containers/common also lowers podman's own RLIMIT_NPROC to kernel.pid_max at start-up (its
 * default `nproc` ulimit), and conmon and the runtime inherit that: nproc can be at most
 * min(hard limit, pid_max).
 */
export function hostUlimits() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name) => {
    const v = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return v === undefined || v === 'unlimited' ? null : Number(v);
  };
  let nproc = hard('Max processes');
  try {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    if (Number.isInteger(pidMax) && (nproc === null || pidMax < nproc)) nproc = pidMax;
  } catch { /* no pid_max */ }
  const nofile = hard('Max open files');
  return [
    ...(nofile !== null ? ['--ulimit', `nofile=${nofile}:${nofile}`] : []),
    ...(nproc !== null ? ['--ulimit', `nproc=${nproc}:${nproc}`] : []),
  ];
}

/** The cgroup2 mount of a hybrid cgroup host (/sys/fs/cgroup is a tmpfs of v1 hierarchies), or null. */
export function hybridUnifiedMount() {
  let v1 = false;
  let unified = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    if (f[sep + 1] === 'cgroup') v1 = true;
    if (f[sep + 1] === 'cgroup2') unified = f[4];
  }
  return v1 ? unified : null;
}

/**
 * Starts one process in a private mount namespace where an empty file hides
 * <unified>/cgroup.controllers, the same workaround the run bench uses for crun (crun 1.x refuses
 * hybrid hosts whose cgroup2 mount holds a controller). Resolves with the child process.
 */
export function startHybridNamespace(dir, unifiedMount) {
  const empty = join(dir, 'empty-controllers');
  writeFileSync(empty, '');
  const script = 'mount --bind "$1" "$2" && echo ready && exec sleep 2147483647';
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', empty, join(unifiedMount, 'cgroup.controllers')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => { out += b; if (out.includes('ready')) resolve(child); });
    child.stderr.on('data', (b) => { err += b; });
    child.on('exit', () => reject(new Error(`unshare helper exited: ${err.trim()}`)));
    child.on('error', reject);
  });
}

/**
 * `podman import` records the blob in containers/image's blob-info cache, which for root is always
 * /var/lib/containers/cache (podman has no flag for it). The import runs in a throwaway mount
 * namespace where that directory (or its deepest existing parent) is covered by a temp dir, so
 * the host's cache is not written.
 */
function withPrivateBlobCache(dir, argv) {
  const target = ['/var/lib/containers/cache', '/var/lib/containers', '/var/lib'].find((p) => existsSync(p));
  if (!target) return argv;
  const cover = join(dir, 'blob-cache');
  mkdirSync(cover, { recursive: true });
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', cover, target, ...argv];
}

/**
 * Podman with every path of its own under `dir` (keep `dir` short: podman refuses a runroot over
 * 50 characters), the image `tar` imported as IMAGE, and `runtime` as its OCI runtime. A probe
 * `run --rm IMAGE true` decides the workarounds:
 *
 * - setrlimit fails (no CAP_SYS_RESOURCE): `default_ulimits = []` in containers.conf, so that the
 *   OCI spec has no rlimits and the container inherits the limits (as pocker's containers do);
 *   if that is not enough, `--ulimit` flags at the current hard limits;
 * - crun refuses a hybrid cgroup host: every podman command runs through
 *   `nsenter --mount=/proc/<pid>/ns/mnt`, `pid` from `hybridNamespace()` (async, shared).
 *
 * Returns { key, label, runtime, argv(...args), env, runFlags, workarounds, error, nsPid, cleanup() }.
 */
export async function setupPodman({ dir, tar, runtime, cgroupParent, hybridNamespace, network = 'none', networkBackend = 'cni' }) {
  for (const d of ['net', 'cni', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/root"\n`);
  const writeConf = (containers = []) => writeFileSync(join(dir, 'containers.conf'), [
    '[containers]', ...containers,
    '[engine]', 'events_logger = "file"', `events_logfile_path = "${dir}/events.log"`, 'cgroup_manager = "cgroupfs"', 'lock_type = "file"',
    `image_copy_tmp_dir = "${dir}/tmp"`,
    // No network plugins unless asked for (bench/network.mjs: netavark, or the system's CNI plugins).
    '[network]', `network_backend = "${networkBackend}"`, `network_config_dir = "${dir}/net"`,
    `cni_plugin_dirs = ["${network === 'none' ? `${dir}/cni` : '/usr/lib/cni'}"]`, '',
  ].join('\n'));
  writeConf();
  const pm = {
    key: `podman-${runtime}`,
    label: `podman (${runtime})`,
    runtime,
    dir,
    containersConf: [],
    // TMPDIR: containers/image puts a scratch file in /var/tmp on every `run` otherwise.
    env: { CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), TMPDIR: join(dir, 'tmp') },
    prefix: [],
    global: ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'),
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', runtime],
    // pocker's containers get a network namespace with only lo, under the bench's cgroup parent.
    runFlags: ['--network', network, ...(cgroupParent ? ['--cgroup-parent', `/${cgroupParent}`] : [])],
    workarounds: [],
    error: null,
    nsPid: null,
    argv(...args) { return [...this.prefix, 'podman', ...this.global, ...args]; },
    run(...args) { return sh(this.argv(...args), this.env); },
    /** Removes every container and image of this store and unmounts what podman left under dir. */
    cleanup() {
      this.run('rm', '-af', '-t', '0');
      this.run('rmi', '-af');
      // The overlay driver bind-mounts its home on itself in whichever namespace first used the
      // store (the first probe runs in this one), and the containers' rootfs in podman's own.
      for (const [mountinfo, prefix] of [['/proc/self/mountinfo', []], ...(this.nsPid ? [[`/proc/${this.nsPid}/mountinfo`, this.prefix]] : [])]) {
        let mounts = [];
        try {
          mounts = readFileSync(mountinfo, 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(`${dir}/`));
        } catch { /* namespace gone */ }
        for (const m of mounts.sort().reverse()) sh([...prefix, 'umount', '-l', m]);
      }
    },
  };
  const imp = sh(withPrivateBlobCache(dir, ['podman', ...pm.global, 'import', tar, IMAGE]), pm.env);
  if (imp.code !== 0) {
    pm.error = `podman import: ${lastLine(imp.stderr)}`;
    return pm;
  }
  const probe = () => pm.run('run', '--rm', ...pm.runFlags, IMAGE, 'true');
  let r = probe();
  if (r.code !== 0 && /setrlimit|rlimit/i.test(r.stderr)) {
    pm.containersConf = ['default_ulimits = []'];
    writeConf(pm.containersConf);
    pm.workarounds.push({ error: lastLine(r.stderr), fix: 'default_ulimits = [] in containers.conf' });
    r = probe();
  }
  if (r.code !== 0 && /setrlimit|rlimit/i.test(r.stderr)) {
    const flags = hostUlimits();
    pm.workarounds.push({ error: lastLine(r.stderr), fix: flags.join(' ') });
    pm.runFlags.push(...flags);
    r = probe();
  }
  if (r.code !== 0 && /hybrid mode not supported/.test(r.stderr) && hybridNamespace) {
    try {
      pm.nsPid = await hybridNamespace();
      pm.prefix = ['nsenter', `--mount=/proc/${pm.nsPid}/ns/mnt`];
      pm.workarounds.push({ error: lastLine(r.stderr), fix: `nsenter --mount=/proc/<helper>/ns/mnt (cgroup.controllers of the cgroup2 mount hidden)` });
      r = probe();
    } catch (err) {
      r = { code: 1, stderr: `${r.stderr}\n(hybrid-cgroup workaround failed: ${err.message})` };
    }
  }
  if (r.code !== 0) pm.error = `podman run: ${lastLine(r.stderr)}`;
  return pm;
}
