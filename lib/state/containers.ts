// Containers on disk: <root>/containers/<id>/ with config.json (written by run()) and, for
// detached containers, state.json and the json-file log (written by the container's monitor).
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

import { PockerError } from '../errors.js';

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
  /** What `exec` gives a new process by default: the container's env, workdir, user and privileges. */
  process: { env: string[]; cwd: string; user: string; caps: string; noNewPrivs: boolean };
}

/** A detached container's state.json, as its monitor writes it. */
export interface ContainerState {
  status: 'running' | 'exited';
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
  /** Docker's status: running or exited (a foreground container, without state.json, is running). */
  status: 'running' | 'exited';
  /** True when the container has no state.json: a live `pocker run` in the foreground owns it. */
  foreground: boolean;
  /** True when state.json said running but its monitor is gone. */
  deadMonitor: boolean;
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
  const state = readJson<ContainerState>(join(dir, 'state.json'));
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

/** Reads one container's config and state. */
export function describeContainer(entry: ContainerEntry): ListedContainer {
  const config = readJson<ContainerConfig>(join(entry.dir, 'config.json'));
  const { state, deadMonitor } = effectiveState(entry.dir);
  return { ...entry, config, state, status: state ? state.status : 'running', foreground: !state, deadMonitor };
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

/** Docker's human duration ("5 seconds", "About a minute", "2 hours"). */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.floor(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.floor(d / 7)} weeks`;
  if (d < 365 * 2) return `${Math.floor(d / 30)} months`;
  return `${Math.floor(d / 365)} years`;
}

/** Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`. */
export function containerStatus(c: ListedContainer, now = Date.now()): string {
  if (c.status === 'running') {
    const since = Date.parse(c.state?.startedAt ?? c.config?.created ?? '') || now;
    return `Up ${humanDuration(now - since)}`;
  }
  const code = c.state?.exitCode ?? 0;
  const finished = Date.parse(c.state?.finishedAt ?? '');
  return `Exited (${code}) ${finished > 0 ? `${humanDuration(now - finished)} ago` : ''}`.trimEnd();
}
