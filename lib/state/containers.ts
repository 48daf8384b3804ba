// Containers on disk: <root>/containers/<id>/ with config.json (written by run()) and, for
// detached containers, state.json and the json-file log (written by the container's monitor).
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { native } from '../native.js';
import type { ResolvedRunConfig } from '../runtime/options.js';

export interface ContainerEntry {
  id: string;
  name: string;
  dir: string;
  /** The json-file log (it exists for detached containers). */
  logPath: string;
}

/**
 * Finds a container by full id, unique id prefix or name (Docker's lookup order). Throws a
 * PockerError `ERR_POCKER_NOT_FOUND` ("No such container") or `ERR_POCKER_AMBIGUOUS`.
 */
export function findContainer(root: string, ref: string): ContainerEntry {
  const dir = join(root, 'containers');
  let ids: string[] = [];
  try {
    ids = readdirSync(dir).filter((d) => /^[0-9a-f]{64}$/.test(d));
  } catch {
    /* no containers yet */
  }
  const entry = (id: string): ContainerEntry => {
    let name = id.slice(0, 12);
    try {
      name = (JSON.parse(readFileSync(join(dir, id, 'config.json'), 'utf8')) as { name?: string }).name ?? name;
    } catch {
      /* a container still being set up */
    }
    return { id, name, dir: join(dir, id), logPath: join(dir, id, `${id}-json.log`) };
  };
  if (ids.includes(ref)) return entry(ref);
  const byPrefix = /^[0-9a-f]{1,63}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (byPrefix.length > 1) {
    throw new PockerError(`multiple containers found with prefix ${ref}`, { code: 'ERR_POCKER_AMBIGUOUS', step: 'lookup' });
  }
  if (byPrefix.length === 1) return entry(byPrefix[0]!);
  const named = ids.map(entry).find((e) => e.name === ref);
  if (named) return named;
  throw new PockerError(`No such container: ${ref}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/** One json-file log entry. */
export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** The log files of a container, oldest first (rotated ones are <log>.N … <log>.1). */
export function logFiles(logPath: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${logPath}.${i}`); i++) rotated.unshift(`${logPath}.${i}`);
  return existsSync(logPath) ? [...rotated, logPath] : rotated;
}

/** Parses json-file lines (a torn last line, being written, is left out). */
export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      /* partial line */
    }
  }
  return out;
}

/** What run() records in containers/<id>/config.json (written once, atomically, before anything is mounted). */
export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  /** The container's command line (entrypoint and command, image defaults applied). */
  args: string[];
  /** The image (its stored name, id and layer dirs), or the rootfs the container runs on. */
  image: { name: string; id: string; layers: string[] } | { host: true } | { rootfs: string };
  /** The container's cgroup dirs (one per v1 hierarchy, or the v2 leaf): stats, exec and rm use them. */
  cgroups: string[];
  /** The process that created the container (pid and /proc start time): until the monitor writes
   * state.json it owns the container, so with it dead the container is not running. */
  owner?: { pid: number; start: string };
  /** What `exec` gives a new process by default: the container's env, workdir, user and privileges. */
  process: { env: string[]; cwd: string; user: string; caps: string; noNewPrivs: boolean };
  /** The image's Config.StopSignal (`pocker stop` sends it; SIGTERM otherwise). */
  stopSignal?: string;
  /**
   * What `start` needs to run the container (again): recorded by `create` and `run -d`, whose
   * containers are run by a monitor (foreground ones end with their `pocker run`).
   */
  run?: StoredRun;
}

/** The resolved run configuration (caps as a hex string), the container's layers and attach mode. */
export interface StoredRun {
  config: Omit<ResolvedRunConfig, 'caps'> & { caps: string };
  layout: { lowers: string[]; scratchUpper: boolean; upper: string; work: string; rootfs: string };
  /** Docker's StdinOnce (`create -i`): the first attached client's end of input closes the container's stdin. */
  stdinOnce: boolean;
}

/** A detached container's state.json, as its monitor writes it. */
export interface ContainerState {
  /**
   * `restarting` is read as `running` with `restarting: true` (and `pid` 0) by effectiveState: the
   * monitor lives and will start the container again (--restart) unless it is stopped. `created`:
   * made by `create` (or `run -d` before its start), never started.
   */
  status: 'running' | 'exited' | 'created';
  /** Between two runs of a container with a restart policy. */
  restarting?: boolean;
  /** How often the monitor has restarted the container. */
  restartCount?: number;
  pid: number;
  monitorPid: number;
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
}

export interface ListedContainer extends ContainerEntry {
  config: ContainerConfig | null;
  /** state.json, with a dead monitor's "running" turned into exited (137). Null: foreground. */
  state: ContainerState | null;
  /** Docker's status: created, running or exited (a foreground container, without state.json, is running). */
  status: 'running' | 'exited' | 'created';
  /** True when the container has no state.json: a live `pocker run` in the foreground owns it. */
  foreground: boolean;
  /** True when state.json said running but its monitor is gone. */
  deadMonitor: boolean;
  /**
   * True when there is no state.json and the process that created the container is gone (killed
   * during create/start), or config.json is missing (its creator died before writing it): it is
   * not running, and rm / prune remove what it may have left (cgroups, directory, name).
   */
  deadOwner: boolean;
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Is `pid` a live pocker-init (its exe is pocker-init's memfd, or its command line names it)? */
export function isPockerInit(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    /* gone, or a zombie */
  }
  if (exe.startsWith('/memfd:pocker-init')) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return /(^|\/)pocker-init( |$)/.test(cmdline);
  } catch {
    return false;
  }
}

/** The container's state with a dead monitor accounted for. */
export function effectiveState(dir: string): { state: ContainerState | null; deadMonitor: boolean } {
  const raw = readJson<ContainerState | (Omit<ContainerState, 'status'> & { status: 'restarting' })>(join(dir, 'state.json'));
  const state: ContainerState | null = raw?.status === 'restarting' ? { ...raw, status: 'running', restarting: true } : (raw as ContainerState | null);
  if (state?.status === 'running' && !isPockerInit(state.monitorPid)) {
    // Re-read: the monitor may have recorded the exit and ended between the two reads.
    const again = readJson<ContainerState>(join(dir, 'state.json'));
    if (again?.status === 'exited') return { state: again, deadMonitor: false };
    return {
      state: { ...state, status: 'exited', exitCode: 137, signal: 9 },
      deadMonitor: true,
    };
  }
  return { state, deadMonitor: false };
}

function containerIds(root: string): string[] {
  try {
    return readdirSync(join(root, 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d));
  } catch {
    return [];
  }
}

/** Is the process `owner` (pid and start time) still alive? */
function ownerAlive(owner: { pid: number; start: string }): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${owner.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return !fields[0]!.startsWith('Z') && (!owner.start || fields[19] === owner.start);
  } catch {
    return false;
  }
}

/** Reads one container's config and state. */
export function describeContainer(entry: ContainerEntry): ListedContainer {
  const config = readJson<ContainerConfig>(join(entry.dir, 'config.json'));
  const { state, deadMonitor } = effectiveState(entry.dir);
  // Without state.json the container is its creator's (a foreground run, or a detached one not yet
  // handed to its monitor): a creator that died (or never wrote config.json) leaves no running container.
  let deadOwner = false;
  if (!state) {
    deadOwner = config ? !!config.owner && !ownerAlive(config.owner) : true;
    // Re-read: a detached container's monitor may have written state.json meanwhile.
    if (deadOwner && existsSync(join(entry.dir, 'state.json'))) return describeContainer(entry);
  }
  return { ...entry, config, state, status: state ? state.status : deadOwner ? 'exited' : 'running', foreground: !state, deadMonitor, deadOwner };
}

/**
 * The cgroup dirs a container may have: config.json's `cgroups` or, without config.json, a leaf
 * named after the id under the default parent (`pocker`) and the parents other containers of the
 * root record, in every mounted hierarchy.
 */
export function containerCgroupDirs(root: string, c: Pick<ListedContainer, 'id' | 'config'>): string[] {
  if (c.config) return c.config.cgroups ?? [];
  const mounts = new Set<string>();
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      const sep = f.indexOf('-', 6);
      if (sep >= 0 && (f[sep + 1] === 'cgroup' || f[sep + 1] === 'cgroup2')) mounts.add(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  } catch {
    /* no /proc */
  }
  const parents = new Set<string>(['pocker']);
  for (const id of containerIds(root)) {
    for (const dir of readJson<ContainerConfig>(join(root, 'containers', id, 'config.json'))?.cgroups ?? []) {
      const mount = [...mounts].find((m) => dir.startsWith(`${m}/`));
      if (mount) parents.add(dir.slice(mount.length + 1, dir.lastIndexOf('/')));
    }
  }
  const out: string[] = [];
  for (const mount of mounts) for (const parent of parents) if (parent) out.push(join(mount, parent, c.id));
  return out.filter((d) => existsSync(d));
}

/** Every container under `root`, newest first. */
export function listContainers(root: string): ListedContainer[] {
  const dir = join(root, 'containers');
  const list = containerIds(root)
    .map((id) => describeContainer({ id, name: id.slice(0, 12), dir: join(dir, id), logPath: join(dir, id, `${id}-json.log`) }))
    .filter((c) => existsSync(c.dir))
    .map((c) => (c.config?.name ? { ...c, name: c.config.name } : c));
  const time = (c: ListedContainer) => Date.parse(c.config?.created ?? '') || 0;
  return list.sort((a, b) => time(b) - time(a));
}

/** go-units HumanDuration, Docker's: "Less than a second", "About a minute", "3 hours", "2 weeks", … */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`. */
export function containerStatus(c: ListedContainer, now = Date.now()): string {
  // Its creator died before the monitor took over: killed while being created or started.
  if (c.deadOwner) return 'Exited (137)';
  if (c.status === 'created') return 'Created';
  if (c.state?.restarting) {
    const finished = Date.parse(c.state.finishedAt);
    return `Restarting (${c.state.exitCode}) ${finished > 0 ? `${humanDuration(now - finished)} ago` : ''}`.trimEnd();
  }
  if (c.status === 'running') {
    const since = Date.parse(c.state?.startedAt ?? c.config?.created ?? '') || now;
    return `Up ${humanDuration(now - since)}`;
  }
  const code = c.state?.exitCode ?? 0;
  const finished = Date.parse(c.state?.finishedAt ?? '');
  return `Exited (${code}) ${finished > 0 ? `${humanDuration(now - finished)} ago` : ''}`.trimEnd();
}

/**
 * Releases the name claims (`names/<name>`, all of them or those in `only`) whose container does not
 * exist: left by a process killed after claiming the name and before making the directory. Checked
 * under the names lock, which the claim and the directory's creation hold together.
 */
export function releaseStaleNames(root: string, only?: string[]): string[] {
  const dir = join(root, 'names');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.') && (!only || only.includes(n)));
  } catch {
    return [];
  }
  if (!names.length) return [];
  const released: string[] = [];
  const fd = openSync(join(dir, '.lock'), 'a', 0o600);
  try {
    native().flock(fd, true, true);
    for (const name of names) {
      let owner = '';
      try {
        owner = readFileSync(join(dir, name, 'owner'), 'utf8').trim();
      } catch {
        continue; // no owner file: not a completed claim
      }
      if (/^[0-9a-f]{64}$/.test(owner) && !existsSync(join(root, 'containers', owner))) {
        rmSync(join(dir, name), { recursive: true, force: true });
        released.push(name);
      }
    }
  } finally {
    closeSync(fd);
  }
  return released;
}

/** The signals a container's monitor passes on to it (cpp/init/monitor.cpp kForwarded). */
const FORWARDED_SIGNALS: ReadonlySet<number> = new Set(
  ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'].map(
    (name) => (osConstants.signals as Record<string, number>)[name]!,
  ),
);

/**
 * Sends `signal` to a detached container: through its monitor when the monitor forwards it,
 * otherwise (SIGKILL, SIGSTOP, real-time signals…) straight to the container's first process, so
 * the monitor itself is never killed by a signal it does not handle. A pid of 0 (between two runs
 * of a restarting container) is never signalled: it would mean our own process group.
 */
export function signalDetached(state: Pick<ContainerState, 'pid' | 'monitorPid'>, signal: number): void {
  const target = FORWARDED_SIGNALS.has(signal) ? state.monitorPid : state.pid;
  if (!(target > 0)) return;
  try {
    process.kill(target, signal);
  } catch {
    /* it has just ended */
  }
}

/**
 * Runs `fn` holding the container's lock (an flock on `<dir>/lock`, polled so the event loop goes
 * on): `start` holds it until the monitor has taken over and `rm` while it removes, so a container
 * is never started twice at once, nor removed half-started. Throws `ERR_POCKER_NOT_FOUND` when the
 * container was removed while we waited.
 */
export async function withContainerLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  let fd: number;
  try {
    fd = openSync(join(dir, 'lock'), 'a', 0o600);
  } catch {
    throw new PockerError(`No such container: ${dir.slice(dir.lastIndexOf('/') + 1)}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
  }
  try {
    while (!native().flock(fd, true, false)) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(join(dir, 'config.json'))) {
      throw new PockerError(`No such container: ${dir.slice(dir.lastIndexOf('/') + 1)}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
    }
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/** Monitor pids of (up to `limit`) containers under `root` whose state.json says running. */
export function runningMonitorPids(root: string, limit = 4): number[] {
  const out: number[] = [];
  for (const id of containerIds(root)) {
    const s = readJson<ContainerState>(join(root, 'containers', id, 'state.json'));
    if (s?.status === 'running' && s.monitorPid > 0) out.push(s.monitorPid);
    if (out.length >= limit) break;
  }
  return out;
}
