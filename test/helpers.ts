// Shared helpers of the integration, security and leftovers tests.
//
// Every container a test starts uses a temporary state root (under os.tmpdir(), prefix
// `pocker-it-<run>-<pid>-`) and the cgroup parent `pocker-test-<run>-<pid>`, where <run> names the
// `npm test` run (POCKER_TEST_RUN, set by scripts/test.mjs; `dev` for a bare vitest) so that its
// leftovers check judges only what that run made, whatever else runs on the machine; `cleanupAll()` (each file's afterAll) kills the
// containers the file started that are still running, removes the temp dirs and the test cgroup
// parent on every hierarchy. Nothing here touches a cgroup, process or directory it did not create.
//
// This module has no side effects at import time and does not import 'vitest' (the global setup
// imports it for ensureBuilt()).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { run } from '../lib/index.js';
import type { Container, ExitStatus, RunOptions } from '../lib/types.js';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Every temp dir the helpers create starts with this (the leftovers test looks for it). */
export const TEMP_PREFIX = 'pocker-it-';
/** Prefix of the test cgroup parents (`pocker-test-<run>-<pid>`). */
export const CGROUP_PREFIX = 'pocker-test-';
/** The test run (scripts/test.mjs sets POCKER_TEST_RUN for all its steps): only letters and digits. */
export const TEST_RUN = (process.env.POCKER_TEST_RUN ?? 'dev').replace(/[^A-Za-z0-9]/g, '') || 'dev';
/** Prefix of this run's temp dirs. */
export const RUN_TEMP_PREFIX = `${TEMP_PREFIX}${TEST_RUN}-`;
/** Prefix of this run's cgroup parents. */
export const RUN_CGROUP_PREFIX = `${CGROUP_PREFIX}${TEST_RUN}-`;

export const isRoot = process.getuid?.() === 0;

/**
 * The timeout of a test that sets its own (longer than the project's 60 s): `ms`, or the pass's own
 * per-test timeout where that is longer. The cgroup-v2 guest is an emulated machine, 8-20x slower
 * than the host; its pass sets 600 s (POCKER_TEST_TIMEOUT_MS, scripts/test.mjs), and a test's own
 * `120_000` would otherwise override it (a 2-minute network test timed out there under load).
 */
export function longTest(ms: number): number {
  return Math.max(ms, Number(process.env.POCKER_TEST_TIMEOUT_MS) || 0);
}

// ---------------------------------------------------------------------------------------------
// Temp dirs

const tempDirs: string[] = [];

/** Where this process's temp dirs start: the pid says which test process made a leftover. */
export function processTempPrefix(pid = process.pid): string {
  return `${RUN_TEMP_PREFIX}${pid}-`;
}

/** A new temp dir (mode 0755), removed by cleanupAll(). */
export function tempDir(label = 'tmp'): string {
  const dir = mkdtempSync(join(tmpdir(), `${processTempPrefix()}${label}-`));
  chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

/** A new, empty pocker state root. */
export function tempRoot(): string {
  return tempDir('root');
}

let sharedRootDir: string | undefined;

/** The state root shared by the tests of this process (runToEnd and cli use it by default). */
export function sharedRoot(): string {
  if (!sharedRootDir || !existsSync(sharedRootDir)) sharedRootDir = tempRoot();
  return sharedRootDir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  sharedRootDir = undefined;
  busybox = undefined;
}

// ---------------------------------------------------------------------------------------------
// cgroups

/** This process's cgroup parent: `pocker-test-<run>-<pid>`. */
export function testCgroupParent(): string {
  return `${RUN_CGROUP_PREFIX}${process.pid}`;
}

/** Roots of every mounted cgroup hierarchy (v1 controllers, named v1 hierarchies, cgroup2). */
export function cgroupMounts(): string[] {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    const fstype = f[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') {
      out.add(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  }
  return [...out];
}

/** Where this process's test cgroup parent can exist: one path per hierarchy. */
export function cgroupParentDirs(parent = testCgroupParent()): string[] {
  const dirs = new Set<string>();
  for (const mount of cgroupMounts()) dirs.add(join(mount, parent));
  return [...dirs];
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes this process's test cgroup parent on every hierarchy. Container leaves still inside (the
 * runtime should have removed them: that is reported back) are emptied first: their processes were
 * started by these tests. Returns the leaves that were left over.
 */
export function cleanupCgroupParent(parent = testCgroupParent()): string[] {
  if (!parent.startsWith(CGROUP_PREFIX)) throw new Error(`refusing to clean up cgroup parent ${parent}`);
  const leftovers: string[] = [];
  for (const dir of cgroupParentDirs(parent)) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const leaf = join(dir, e.name);
      leftovers.push(leaf);
      for (let i = 0; i < 50 && existsSync(leaf); i++) {
        try {
          // A frozen (paused) container keeps a SIGKILL pending until it is thawed.
          for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']]) {
            try {
              writeFileSync(join(leaf, file), value);
            } catch {
              /* not this hierarchy's file */
            }
          }
          for (const pid of readFileSync(join(leaf, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          rmdirSync(leaf);
        } catch {
          sleepSync(20);
        }
      }
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        if (i === 49) throw err;
        sleepSync(20);
      }
    }
  }
  return leftovers;
}

/** The test cgroup parent dirs that still exist. */
export function existingCgroupParentDirs(parent = testCgroupParent()): string[] {
  return cgroupParentDirs(parent).filter((d) => existsSync(d));
}

// ---------------------------------------------------------------------------------------------
// Containers

const started = new Set<Container>();

/** run() with this process's temp root and cgroup parent (unless given); tracked for cleanup. */
export async function start(options: RunOptions): Promise<Container> {
  const c = await run({ root: sharedRoot(), cgroupParent: testCgroupParent(), ...options });
  started.add(c);
  void c.wait().then(() => started.delete(c));
  return c;
}

/** Kills (SIGKILL) the containers this process started that are still running, and waits for them. */
export async function killStarted(): Promise<void> {
  const list = [...started];
  for (const c of list) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await Promise.all(list.map((c) => c.wait()));
}

/** Whether a stream has already emitted 'end' (or was destroyed with nothing left to read). */
function alreadyOver(stream: Readable): boolean {
  return stream.readableEnded || (stream.destroyed && stream.readableLength === 0);
}

/**
 * Everything a stream gives until its end, as UTF-8 ('' for null). A pty's EIO counts as the end.
 * Called right after run() resolves: a stream that has already ended by then could never have
 * been read by a caller (a fixed bug), so that rejects.
 */
export function collect(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  if (alreadyOver(stream)) return Promise.reject(new Error('the stream ended before run() resolved: nobody could have listened'));
  return new Promise((resolveText) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolveText(Buffer.concat(chunks).toString('utf8'));
    };
    stream.on('data', (d: Buffer | string) => chunks.push(Buffer.isBuffer(d) ? d : Buffer.from(d)));
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

/** Resolves with the stream's text so far once it matches `re` (rejects after `timeoutMs`). */
export function waitForOutput(stream: Readable, re: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolveText, reject) => {
    if (alreadyOver(stream)) {
      reject(new Error(`stream already ended before ${re} matched`));
      return;
    }
    let text = '';
    const onData = (d: Buffer | string) => {
      text += d.toString();
      if (re.test(text)) {
        cleanup();
        resolveText(text);
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`stream ended before ${re} matched; got ${JSON.stringify(text)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}; got ${JSON.stringify(text)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

export interface RunResult {
  stdout: string;
  stderr: string;
  status: ExitStatus;
  container: Container;
}

/**
 * Runs a container to its end through the library with piped stdio and returns its output and
 * exit status. `input` (when given) is written to stdin, which is then closed.
 */
export async function runToEnd(options: RunOptions & { input?: string }): Promise<RunResult> {
  const { input, ...opts } = options;
  const c = await start({ stdio: 'pipe', ...(input !== undefined ? { interactive: true } : {}), ...opts });
  const out = collect(c.stdout);
  const err = collect(c.stderr);
  if (input !== undefined && c.stdin) c.stdin.end(input);
  const [stdout, stderr, status] = await Promise.all([out, err, c.wait()]);
  return { stdout, stderr, status, container: c };
}

/** runToEnd on the host image with `sh -c script`. */
export function sh(script: string, options: RunOptions & { input?: string } = {}): Promise<RunResult> {
  return runToEnd({ image: 'host', cmd: ['sh', '-c', script], ...options });
}

/** Runs a function with a run() that is expected to fail; returns the error. */
export async function runError(options: RunOptions): Promise<Error & { code?: string; step?: string; path?: string }> {
  try {
    const c = await start({ stdio: 'ignore', ...options });
    await c.wait();
  } catch (err) {
    return err as Error & { code?: string; step?: string };
  }
  throw new Error('run() was expected to fail but the container started');
}

// ---------------------------------------------------------------------------------------------
// The CLI

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the CLI's stdin, then closed (stdin is /dev/null otherwise). */
  input?: string;
  /** State root (default: sharedRoot()). */
  root?: string;
  cgroupParent?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra fds for the child, placed after stdio (fd 3, 4, ...): 'ignore' or an open fd. */
  extraFds?: Array<'ignore' | number>;
  /** Kill the CLI (SIGKILL) if it has not ended by then. Default 120 s. */
  timeoutMs?: number;
}

export const pockerBin = join(repoRoot, 'bin', 'pocker.cjs');

/** The argv given to `node bin/pocker.cjs`: `--root` and `--cgroup-parent` go right after `run` (or `create`). */
export function cliArgs(args: string[], opts: CliOptions = {}): string[] {
  // `run`/`create` first, or after global options (`--root DIR run …`): containers always get the test's
  // cgroup parent; the root only when the caller gave none.
  let i = 0;
  while (args[i] === '--root') i += 2;
  const verb = args[i];
  if (verb !== 'run' && verb !== 'create') return [...args];
  const root = i === 0 ? ['--root', opts.root ?? sharedRoot()] : [];
  return [...args.slice(0, i), verb, ...root, '--cgroup-parent', opts.cgroupParent ?? testCgroupParent(), ...args.slice(i + 1)];
}

/**
 * Runs `node bin/pocker.cjs <argv>` (argv as given: no root or cgroup parent added) with a probe
 * that records the modules the CLI loaded: Node's built-in modules it loaded beyond its start
 * ('net', 'internal/promise_hooks', ...), with its exit status, stdout and stderr.
 */
export function builtinsLoadedBy(argv: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const dir = tempDir('probe');
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, [
    'const before = new Set(process.moduleLoadList);',
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.PROBE_OUT, JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m)))));",
  ].join('\n'));
  const out = join(dir, 'loaded.json');
  const r = spawnSync(process.execPath, ['-r', probe, pockerBin, ...argv], { encoding: 'utf8', env: { ...process.env, ...env, PROBE_OUT: out } });
  const loaded = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as string[]) : [];
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    loaded: loaded.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
  };
}

/** Runs `node bin/pocker.cjs <args>` (with the test root and cgroup parent for `run`). */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCollect(process.execPath, [pockerBin, ...cliArgs(args, opts)], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.extraFds ? { extraFds: opts.extraFds } : {}),
  });
}

/** Runs a program to its end: its exit, signal, stdout and stderr (SIGKILLed after timeoutMs, default 120 s). */
export function spawnCollect(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; extraFds?: NonNullable<CliOptions['extraFds']> } = {},
): Promise<CliResult> {
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  return new Promise((resolveResult, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      void Promise.all([stdout, stderr]).then(([o, e]) => resolveResult({ code, signal, stdout: o, stderr: e }));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A minimal busybox root filesystem

export const busyboxPaths = ['/bin/busybox', '/usr/bin/busybox'];

export function hostBusybox(): string | undefined {
  return busyboxPaths.find((p) => existsSync(p));
}

let busybox: string | undefined;

/**
 * A minimal rootfs (created once per process in a temp dir): /bin/busybox and a symlink per applet,
 * /etc/passwd (root, app 1000:1000 with home /home/app), /etc/group (app 1000, extra 2000 with app as
 * a member), /tmp 1777, empty /proc /sys /dev. Tests must not modify it (copy it: copyRootfs()).
 */
export function busyboxRootfs(): string {
  if (busybox && existsSync(busybox)) return busybox;
  const bin = hostBusybox();
  if (!bin) throw new Error('busybox is not installed (apt-get install busybox-static)');
  const dir = join(tempDir('busybox'), 'rootfs');
  mkdirSync(dir, { mode: 0o755 });
  for (const d of ['bin', 'etc', 'root', 'home', 'home/app', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { mode: 0o755 });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  chownSync(join(dir, 'home/app'), 1000, 1000);
  copyFileSync(bin, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(bin, ['--list'], { encoding: 'utf8' }).split('\n').map((a) => a.trim()).filter((a) => a && !a.includes('/'));
  for (const applet of applets) {
    if (applet === 'busybox') continue;
    try {
      symlinkSync('busybox', join(dir, 'bin', applet));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n', { mode: 0o644 });
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n', { mode: 0o644 });
  busybox = dir;
  return dir;
}

/** A private copy of a rootfs (cp -a), in a new temp dir. */
export function copyRootfs(src = busyboxRootfs(), label = 'rootfs'): string {
  const dst = join(tempDir(label), 'rootfs');
  execFileSync('cp', ['-a', src, dst]);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Host-side observations

/** Lines of this process's /proc/self/mountinfo that name `path` (as a mount point or source). */
export function mountinfoLinesNaming(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(path));
}

/** Every entry below `dir`: type, mode, owner, size, symlink target and content hash. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = join(dir, rel);
    const st = lstatSync(abs);
    const base = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) out.set(rel, `${base} -> ${readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      out.set(rel, `${base} dir`);
      for (const e of readdirSync(abs).sort()) walk(join(rel, e));
    } else if (st.isFile()) {
      out.set(rel, `${base} ${st.size} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
    } else out.set(rel, `${base} rdev=${st.rdev}`);
  };
  walk('.');
  return out;
}

/** Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat. */
export function procStatField(pid: number | 'self', n: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm is in parentheses and may hold spaces: split after its closing parenthesis.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return rest[n - 3]!;
}

/** Interface names in a /proc/net/dev text. */
export function netDevNames(text: string): string[] {
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean)
    .sort();
}

/** Whether python3 with its pty module is available (for driving `pocker run -it`). */
export function havePythonPty(): boolean {
  const r = spawnSync('python3', ['-c', 'import pty, termios, fcntl, struct'], { stdio: 'ignore' });
  return r.status === 0;
}

// ---------------------------------------------------------------------------------------------
// Per-file cleanup (call from afterAll)

/**
 * Kills containers still running, removes the temp dirs and the test cgroup parent. Returns the
 * container cgroup leaves that were still there (the runtime should leave none).
 */
export async function cleanupAll(): Promise<string[]> {
  await killStarted();
  removeTempDirs();
  return isRoot ? cleanupCgroupParent() : [];
}

// ---------------------------------------------------------------------------------------------
// Build (global setup)

function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

function oldestMtime(paths: string[]): number {
  return Math.min(...paths.map((p) => (existsSync(p) ? statSync(p).mtimeMs : 0)));
}

function sh1(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Builds the native code and dist/ when missing or older than their sources, and installs busybox-static when missing (as root). */
export function ensureBuilt(log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  // `npm test` (scripts/test.mjs) builds first; this covers a bare `npx vitest run`.
  const nativeOut = [join(repoRoot, 'build/Release/pocker.node'), join(repoRoot, 'build/Release/pocker-init')];
  if (nativeOut.some((p) => !existsSync(p)) || newestMtime([join(repoRoot, 'cpp'), join(repoRoot, 'CMakeLists.txt')]) > newestMtime(nativeOut)) {
    log('pocker tests: building the native addon (npm run build:native)');
    sh1('npm', ['run', '--silent', 'build:native']);
  }
  const distOut = [join(repoRoot, 'dist/index.js'), join(repoRoot, 'dist/cli.cjs')];
  if (distOut.some((p) => !existsSync(p)) || newestMtime([join(repoRoot, 'lib')]) > oldestMtime(distOut)) {
    log('pocker tests: building dist (npm run build:ts)');
    sh1('npm', ['run', '--silent', 'build:ts']);
  }

  if (!hostBusybox() && isRoot) {
    log('pocker tests: installing busybox-static');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'busybox-static'], { stdio: 'inherit', env });
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
      install();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Detached containers on disk (containers/<id>/state.json) and their processes

/** A detached container's state.json, as its monitor writes it. */
export interface StateFile {
  status: string;
  pid: number;
  monitorPid: number;
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  restartCount: number;
  startedAt: string;
  finishedAt: string;
}

/** Reads `root`'s container `id`'s state.json. */
export function containerState(root: string, id: string): StateFile {
  return JSON.parse(readFileSync(join(root, 'containers', id, 'state.json'), 'utf8')) as StateFile;
}

/** Alive and not a zombie (a reparented monitor may wait for a busy reaper). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Does process `pid` hold a file open under `dir` (a link of /proc/PID/fd starting with it)? False when it is gone or not ours to read. */
export function holdsFileUnder(pid: number | string, dir: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Removes every container of `root` (rm -f), so that no pocker-init is left behind. */
export async function removeAllContainers(root: string): Promise<void> {
  const ids = (await cli(['--root', root, 'ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await cli(['--root', root, 'rm', '-f', ...ids]);
}

/**
 * Temporary state roots for one test file: `newRoot()` makes one, `removeAll()` (from afterAll)
 * removes every container in each of them.
 */
export function rootTracker(): { newRoot(): string; removeAll(): Promise<void> } {
  const roots: string[] = [];
  return {
    newRoot() {
      const r = tempRoot();
      roots.push(r);
      return r;
    },
    async removeAll() {
      for (const r of roots) await removeAllContainers(r);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Waiting (one copy each: tests wait on real signals, never on a fixed delay as synchronisation)

/** A delay. Only for pacing (polls, letting time pass on purpose), never as synchronisation. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` every 50 ms until it is true; throws `timed out after N ms waiting for <what>` (with
 * the last error `check` threw, if any) when it never is. Generous default: 20 s.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
    }
    await sleep(50);
  }
}

/** `pocker --root ROOT ARGS...` through the CLI. */
export const pk = (root: string, ...args: string[]): Promise<CliResult> => cli(['--root', root, ...args]);

/** One row of `pocker ps -a --format json` (the fields the tests read). */
export interface PsRow {
  ID: string;
  Names: string;
  State: string;
  Status: string;
}

/** Every container of `root` as `ps -a --no-trunc --format json` lists it, and what ps said on stderr (a non-zero exit throws). */
export async function psRows(root: string): Promise<{ rows: PsRow[]; stderr: string }> {
  const r = await pk(root, 'ps', '-a', '--no-trunc', '--format', 'json');
  if (r.code !== 0) throw new Error(`pocker ps -a exited ${r.code}: ${r.stderr}`);
  return { rows: r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as PsRow), stderr: r.stderr };
}
