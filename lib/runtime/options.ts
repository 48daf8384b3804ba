// Validation and resolution of the public RunOptions into a ResolvedRunConfig.
//
// Every user input is checked here, before anything touches the kernel: later layers (cgroup
// writes, the spec sent to pocker-init) trust a ResolvedRunConfig completely. Errors are
// `invalid(message, path?)` (code ERR_POCKER_INVALID, step `validate`) and their messages follow
// Docker's wording where Docker has one, always naming the offending value.
// Named imports only: the bundler makes a namespace import of a built-in (`import * as fs`) a copy
// of the module's every property at load (esbuild's __toESM: 70 KB of getters for node:fs alone).
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { availableParallelism, cpus as hostCpus, hostname as hostHostname } from 'node:os';
import { isAbsolute, join as joinPath, posix, relative, resolve as resolvePath } from 'node:path';
import { invalid } from '../errors.js';
import { resolveEnvEntry } from '../env.js';
import { defaultStateRoot, isRootless } from '../rootless/paths.js';
import { isUserModeNetwork, userModeHelper } from '../rootless/network.js';
import type { Resources } from '../cgroup/resources.js';
import { parseReference } from '../image/reference.js';
import { randomVolumeName, validateVolumeName, volumeDataDir } from '../volume/names.js';
import { CAPABILITIES, DEFAULT_CAPS } from '../spec/defaults.js';
import { parseSeccompProfile, type SeccompChoice } from '../spec/seccomp.js';
import type { RunOptions, TmpfsSpec, VolumeSpec } from '../types.js';
import type { MountSpec } from '../types.js';
import { isSignalSpec, normalizeSignal } from '../signals.js';
import { parsePublish, type PortSpec } from '../network/ports.js';
import { validateNetworkFlags, type NetworkRequest } from '../network/flags.js';
import { resolveUserns, type UsernsMaps, type UsernsRequest } from '../userns/index.js';
import { randomHex } from '../random.js';

export interface ResolvedMount {
  /** `image-volume` mounts come from an image's VOLUMEs (run() adds them); `volume`: a volume of <root>/volumes/. */
  kind: 'bind' | 'tmpfs' | 'image-volume' | 'volume';
  /** Host path for `bind`, `tmpfs` for tmpfs. */
  src: string;
  dst: string;
  readonly: boolean;
  /** tmpfs: comma-separated mount options (flags and key=value), without ro/rw. bind: ''. */
  data: string;
  /** bind (--mount bind-propagation): the mount's propagation (`rprivate`, `rshared`, ...). */
  propagation?: string;
  /** kind `volume`: the volume (`src` is its _data), anonymous or named; `nocopy`: never filled from the image. */
  volume?: { name: string; anonymous: boolean; nocopy?: boolean };
}

/** Resource limits, resolved: the cgroup layer's own type (one definition). */
export type { Resources };

export interface ResolvedRunConfig {
  /** 64 lowercase hex characters, random. */
  id: string;
  name: string;
  /** `host`, an exploded directory (absolute realpath), or an image reference to resolve in the store. */
  rootfs: { kind: 'host' } | { kind: 'dir'; path: string } | { kind: 'image'; reference: string };
  /** Entrypoint + cmd; never empty. */
  args: string[];
  /** KEY=VALUE, one entry per key. */
  env: string[];
  /** The entries the caller gave (env files, then env), before any default: images merge them over theirs. */
  userEnv: string[];
  cwd: string;
  /** '' (root) or the raw `user[:group]` spec (syntax validated). */
  user: string;
  hostname: string;
  interactive: boolean;
  tty: boolean;
  ttySize?: { rows: number; cols: number };
  readOnly: boolean;
  init: boolean;
  /** The network mode: none, host, container:REF, or bridge/a network's name (then `networks` lists them). */
  network: string;
  /** The networks of a bridge-like mode, eth0 first (set by resolveRunOptions for those modes). */
  networks?: NetworkRequest[];
  /** --add-host, --dns, --dns-search, --dns-option (when given). */
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Volumes, then tmpfs mounts, each in the given order. */
  mounts: ResolvedMount[];
  resources: Resources;
  /** Bitmask of kept capabilities: bit N = capability number N. */
  caps: bigint;
  noNewPrivs: boolean;
  /** --security-opt seccomp=: Docker's default profile (converted for `caps` by buildSpec), none, or the caller's. */
  seccomp: SeccompChoice;
  rm: boolean;
  /** Detached (see RunOptions.detach), with the json-file log's rotation. */
  detach: boolean;
  /** --restart: 0 no, 1 on-failure (max restarts, 0 = unlimited), 2 always, 3 unless-stopped. */
  restart: { policy: 0 | 1 | 2 | 3; max: number };
  log: { maxSize: number; maxFiles: number };
  /** Absolute state directory. */
  root: string;
  /** Relative cgroup path of safe segments (default `pocker`). */
  cgroupParent: string;

  // --- cgroup namespace ---
  /** --cgroupns; absent: Docker's default for the host's layout (private on v2, host on v1; buildSpec). */
  cgroupns?: 'host' | 'private';
  // --- Published ports (net-nft): set by resolveRunOptions only when given ---
  /** `-p`, parsed (lib/network/ports.ts). */
  publish?: PortSpec[];
  /** `-P`: the image's ExposedPorts too (run() adds them once the image is known: withPublishAll). */
  publishAll?: boolean;
  /** The image's ExposedPorts, parsed (set once the image is known): published with `publishAll`, else only listed. */
  exposed?: PortSpec[];
}

/** With Docker's run flags of issue 12 (see ResolvedRunFlags). */
export interface ResolvedRunConfig extends ResolvedRunFlags {}

/** The capability table and Docker's default set live with the other defaults (lib/spec/defaults.ts). */
export { CAPABILITIES, DEFAULT_CAPS };

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_CGROUP_PARENT = 'pocker';
/** Docker's linuxMinMemory: the kernel needs some headroom to even start a process. */
const MIN_MEMORY = 6 * 1024 * 1024;
const CPU_PERIOD = 100_000;
/** (uid_t)-1 is "no change" for setuid(2) and not mappable, so the largest id is 2^32-2. */
const MAX_ID = 2 ** 32 - 2;

// ---------------------------------------------------------------------------------------------
// Small helpers

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Normalises an absolute path lexically, without a trailing slash (except for `/`). */
function normalisePath(p: string): string {
  return posix.normalize(p).replace(/(.)\/+$/, '$1');
}

function noNul(value: string, what: string): void {
  if (value.includes('\0')) throw invalid(`invalid ${what} ${show(value)}: contains a NUL byte`);
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`invalid ${what} ${show(value)}: must be a string`);
  noNul(value, what);
  return value;
}

function strArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw invalid(`invalid ${what} ${show(value)}: must be an array of strings`);
  return value.map((v) => str(v, what));
}

function bool(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(`invalid ${what} ${show(value)}: must be a boolean`);
  return value;
}

/** The number of CPUs this process may use (what Docker's sysinfo.NumCPU reports). */
function cpuCount(): number {
  return availableParallelism();
}

/** The highest CPU number that may appear in a cpuset (CPUs are numbered from 0). */
function cpuMaxIndex(): number {
  return Math.max(hostCpus().length, availableParallelism()) - 1;
}

/** The kernel's highest capability number (/proc/sys/kernel/cap_last_cap), capped to the ones we name. */
let cachedLastCap: number | undefined;
function lastCap(): number {
  if (cachedLastCap !== undefined) return cachedLastCap;
  const known = Math.max(...Object.values(CAPABILITIES));
  cachedLastCap = known;
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim(), 10);
    if (Number.isInteger(n) && n >= 0) cachedLastCap = Math.min(n, known);
  } catch {
    // Not Linux, or /proc not mounted: assume every capability we know.
  }
  return cachedLastCap;
}

// ---------------------------------------------------------------------------------------------
// Sizes

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Docker's RAMInBytes: a byte count, or a string of a (possibly decimal) number and an optional
 * binary unit b, k, m, g, t, case-insensitive, optionally followed by `b` (or `ib`): `512m`,
 * `1.5g`, `10mb`, `64KiB`. The result is an integer number of bytes (truncated).
 */
export function parseBytes(value: number | string, what: string): number {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?) ?([kmgt]?)(i?b)?$/i.exec(value);
    // "10b" must read as 10 bytes, "10bb" is garbage: a bare `b` unit takes no further suffix.
    if (!m || (m[2] === '' && m[3] !== undefined && m[3].toLowerCase() !== 'b')) {
      throw invalid(`invalid ${what} ${show(value)}: expected a size like 512m or 1.5g`);
    }
    bytes = Math.trunc(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  } else {
    throw invalid(`invalid ${what} ${show(value)}: expected a number of bytes or a size like 512m`);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw invalid(`invalid ${what} ${show(value)}: must be a non-negative integer number of bytes`);
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Environment

/**
 * Docker's --env-file format: one `KEY=VALUE` per line, taken literally (no quote processing,
 * no trimming of the value); leading whitespace ignored; blank lines and lines starting with `#`
 * skipped; `KEY` alone takes the value from `env`, and is omitted when unset there.
 */
export function parseEnvFile(text: string, env: NodeJS.ProcessEnv, file?: string): string[] {
  const where = file ? ` in ${file}` : '';
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    if (line.includes('\0')) throw invalid(`invalid env line ${i + 1}${where}: contains a NUL byte`, file);
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq);
    if (key === '') throw invalid(`no variable name on line ${show(line)}${where}`, file);
    if (/\s/.test(key)) throw invalid(`variable ${show(key)} contains whitespaces${where}`, file);
    const resolved = resolveEnvEntry(line, env);
    if (resolved !== undefined) out.push(resolved);
  });
  return out;
}

/** One `-e` entry: `KEY=VALUE`, or `KEY` alone (value from the caller's env, omitted if unset). */
function envEntry(entry: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const s = str(entry, 'environment variable');
  const eq = s.indexOf('=');
  const key = eq === -1 ? s : s.slice(0, eq);
  if (key === '') throw invalid(`invalid environment variable ${show(s)}: empty name`);
  return resolveEnvEntry(s, env);
}

function envKey(entry: string): string {
  return entry.slice(0, entry.indexOf('='));
}

/** Docker's ReplaceOrAppendEnvValues: a later entry replaces an earlier one with the same key in place. */
function mergeEnv(base: string[], overrides: string[]): string[] {
  const out = [...base];
  const index = new Map(out.map((e, i) => [envKey(e), i]));
  for (const e of overrides) {
    const k = envKey(e);
    const i = index.get(k);
    if (i === undefined) {
      index.set(k, out.length);
      out.push(e);
    } else {
      out[i] = e;
    }
  }
  return out;
}

function resolveUserEnv(opts: RunOptions, env: NodeJS.ProcessEnv): string[] {
  const user: string[] = [];
  if (opts.envFile !== undefined) {
    for (const file of strArray(opts.envFile, 'env file')) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw invalid(`cannot read env file ${file}: ${code}`, file);
      }
      user.push(...parseEnvFile(text, env, file));
    }
  }
  const e = opts.env as unknown;
  if (Array.isArray(e)) {
    for (const entry of e) {
      const s = envEntry(entry, env);
      if (s !== undefined) user.push(s);
    }
  } else if (e !== undefined && e !== null && typeof e === 'object') {
    for (const [key, value] of Object.entries(e)) {
      if (key === '' || key.includes('=')) {
        throw invalid(`invalid environment variable name ${show(key)}: must be non-empty and without '='`);
      }
      noNul(key, 'environment variable name');
      user.push(`${key}=${str(value, `value of environment variable ${key}`)}`);
    }
  } else if (e !== undefined) {
    throw invalid(`invalid env ${show(e)}: must be an array of KEY=VALUE strings or a record`);
  }
  return user;
}

/** Docker's order: its defaults come first (then the image's), user entries replace them in place or append. */
function containerEnv(user: string[], hostname: string, tty: boolean, imageEnv: string[] = []): string[] {
  const defaults = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])];
  return mergeEnv(mergeEnv(defaults, imageEnv), user);
}

// ---------------------------------------------------------------------------------------------
// Resources

export function resolveResources(opts: RunOptions): Resources {
  const r: Resources = {};

  if (opts.memory !== undefined) {
    const memory = parseBytes(opts.memory, 'memory limit');
    // Docker: "Minimum memory limit allowed is 6MB". (Docker reads 0 as "unset"; an explicit 0
    // is rejected here: leave the option out for no limit.)
    if (memory < MIN_MEMORY) throw invalid(`invalid memory limit ${show(opts.memory)}: Minimum memory limit allowed is 6MB`);
    r.memory = memory;
  }

  if (opts.memorySwap !== undefined) {
    const raw = opts.memorySwap;
    if (raw === -1 || raw === '-1') {
      // Unlimited swap. Without a memory limit it changes nothing, which Docker accepts too.
      r.memorySwap = -1;
    } else {
      const swap = parseBytes(raw, 'memory+swap limit');
      if (r.memory === undefined) {
        throw invalid(`invalid memory+swap limit ${show(raw)}: You should always set the Memory limit when using Memoryswap limit`);
      }
      // memorySwap counts memory plus swap, so it can't be below memory; equal means "no swap".
      if (swap < r.memory) {
        throw invalid(`invalid memory+swap limit ${show(raw)}: Minimum memoryswap limit should be larger than memory limit`);
      }
      r.memorySwap = swap;
    }
  }
  // memory set and memorySwap unset: left undefined, the cgroup layer applies Docker's 2x default.

  if (opts.cpus !== undefined) {
    const raw = opts.cpus as unknown;
    let cpus: number;
    if (typeof raw === 'number') cpus = raw;
    else if (typeof raw === 'string' && /^(\d+(\.\d*)?|\.\d+)$/.test(raw)) cpus = Number(raw);
    else throw invalid(`invalid cpus ${show(raw)}: must be a number like 0.5 or 2`);
    const n = cpuCount();
    // Docker's range: quota is at least 1 ms per 100 ms period (the kernel's minimum quota).
    if (!Number.isFinite(cpus) || (cpus !== 0 && cpus < 0.01) || cpus > n) {
      throw invalid(`invalid cpus ${show(raw)}: Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
    }
    // `--cpus 0` is Docker's "no limit" (NanoCPUs 0: no CFS quota).
    if (cpus !== 0) r.cpuQuota = { quota: Math.round(cpus * CPU_PERIOD), period: CPU_PERIOD };
  }

  if (opts.cpuShares !== undefined) {
    const shares = opts.cpuShares as unknown;
    if (typeof shares !== 'number' || !Number.isInteger(shares) || shares < 2 || shares > 262144) {
      throw invalid(`invalid cpu shares ${show(shares)}: must be an integer from 2 to 262144`);
    }
    r.cpuShares = shares;
  }

  if (opts.cpusetCpus !== undefined) r.cpusetCpus = parseCpuset(opts.cpusetCpus);

  if (opts.pidsLimit !== undefined) {
    const limit = opts.pidsLimit as unknown;
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit)) {
      throw invalid(`invalid pids limit ${show(limit)}: must be an integer`);
    }
    // Docker: 0 and -1 (any value <= 0) mean unlimited.
    if (limit > 0) r.pidsLimit = limit;
  }
  return r;
}

/** Docker's ParseUintList for cpuset.cpus: `0-1,3`, ranges ascending, every CPU present. Returns the merged list. */
function parseCpuset(value: unknown): string {
  const s = str(value, 'cpuset-cpus');
  const bad = (why: string) => invalid(`invalid cpuset-cpus ${show(s)}: ${why}`);
  if (s === '') throw bad('expected a list like 0-1,3');
  const max = cpuMaxIndex();
  const cpus = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad('expected a list like 0-1,3');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad(`range ${part} is not ascending`);
    if (hi > max) {
      throw invalid(`Requested CPUs are not available - requested ${s}, available: ${max === 0 ? '0' : `0-${max}`}`);
    }
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  // Normalise: sorted, merged into ranges.
  const sorted = [...cpus].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

// ---------------------------------------------------------------------------------------------
// Mounts

/** A container-side mount destination: absolute, normalised, and not a path that would hide or expose kernel interfaces. */
function mountTarget(value: unknown, what: string): string {
  const raw = str(value, `${what} destination`);
  if (!raw.startsWith('/')) throw invalid(`invalid ${what} destination ${show(raw)}: must be an absolute path`);
  const dst = normalisePath(raw);
  if (dst === '/') throw invalid(`invalid ${what} destination ${show(raw)}: destination can't be '/'`);
  // /proc and /sys are pocker's own mounts with masked paths; mounting over or into them could
  // undo the masking. /dev itself is pocker's tmpfs, but /dev/shm etc. may be replaced.
  for (const p of ['/proc', '/sys']) {
    if (dst === p || dst.startsWith(`${p}/`)) {
      throw invalid(`invalid ${what} destination ${show(raw)}: cannot mount on ${p} or below it`);
    }
  }
  if (dst === '/dev') throw invalid(`invalid ${what} destination ${show(raw)}: cannot mount over /dev`);
  return dst;
}

/** A volume of the store mounted at `dst`: named (`name`) or anonymous (a new random name). */
export function volumeMount(root: string, name: string | undefined, dst: string, readonly: boolean, nocopy = false): ResolvedMount {
  const anonymous = name === undefined;
  const n = name === undefined ? randomVolumeName() : validateVolumeName(name);
  return { kind: 'volume', src: volumeDataDir(root, n), dst, readonly, data: '', volume: { name: n, anonymous, ...(nocopy ? { nocopy } : {}) } };
}

function resolveVolume(spec: unknown, root: string): ResolvedMount {
  let source: unknown, target: unknown, readonly = false;
  if (typeof spec === 'string') {
    noNul(spec, 'volume');
    const parts = spec.split(':');
    // `-v /path`: an anonymous volume there (Docker's).
    if (parts.length === 1 && parts[0]!.startsWith('/')) return volumeMount(root, undefined, mountTarget(parts[0], 'volume'), false);
    if (parts.length < 2 || parts.length > 3) {
      throw invalid(`invalid volume specification ${show(spec)}: expected /host/path:/container/path[:ro|rw]`);
    }
    [source, target] = parts;
    if (parts.length === 3) {
      const modes = parts[2]!.split(',');
      for (const m of modes) {
        if (m !== 'ro' && m !== 'rw') {
          throw invalid(`invalid volume specification ${show(spec)}: invalid mode ${show(m)} (only ro and rw are supported)`);
        }
      }
      // Docker rejects repeated or contradictory modes such as "ro,rw".
      if (modes.length > 1) throw invalid(`invalid volume specification ${show(spec)}: invalid mode ${show(parts[2])}`);
      readonly = modes[0] === 'ro';
    }
  } else if (spec !== null && typeof spec === 'object') {
    const v = spec as Partial<VolumeSpec>;
    source = v.source;
    target = v.target;
    readonly = bool(v.readonly, 'volume readonly flag');
  } else {
    throw invalid(`invalid volume ${show(spec)}: must be a "src:dst[:ro]" string or { source, target }`);
  }

  const src = str(source, 'volume source');
  // Not a path: a named volume (made when missing), as Docker's `-v NAME:/path`.
  if (!isAbsolute(src)) return volumeMount(root, src, mountTarget(target, 'volume'), readonly);
  try {
    statSync(src);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`invalid volume source ${src}: ${code === 'ENOENT' ? 'no such file or directory' : code ?? 'cannot stat'}`, src);
  }
  return { kind: 'bind', src: normalisePath(src), dst: mountTarget(target, 'volume'), readonly, data: '' };
}

/** tmpfs option groups where the last flag of a pair wins (as mount(8) and moby's MergeTmpfsOptions do). */
const TMPFS_FLAGS: Record<string, string> = {
  exec: 'exec', noexec: 'exec',
  suid: 'suid', nosuid: 'suid',
  dev: 'dev', nodev: 'dev',
  ro: 'rw', rw: 'rw',
};
/** The kernel's memparse: a number with an optional k/m/g/t/p/e suffix; tmpfs also takes a percentage. */
const MEMPARSE = /^\d+[kmgtpe]?$|^\d+%$/i;

function resolveTmpfs(spec: unknown): ResolvedMount {
  let target: unknown, options: unknown;
  if (typeof spec === 'string') {
    const colon = spec.indexOf(':');
    target = colon === -1 ? spec : spec.slice(0, colon);
    options = colon === -1 ? '' : spec.slice(colon + 1);
  } else if (spec !== null && typeof spec === 'object') {
    ({ target, options = '' } = spec as Partial<TmpfsSpec>);
  } else {
    throw invalid(`invalid tmpfs ${show(spec)}: must be a "/path[:options]" string or { target, options }`);
  }
  const dst = mountTarget(target, 'tmpfs');
  const opts = str(options, 'tmpfs options');

  // Defaults first; user options replace them in place. Docker also defaults to noexec; pocker
  // keeps exec allowed (a tmpfs /tmp is commonly used for build output) but always nosuid,nodev.
  const merged = new Map<string, string>([['suid', 'nosuid'], ['dev', 'nodev']]);
  const bad = (why: string) => invalid(`invalid tmpfs options ${show(opts)} for ${dst}: ${why}`);
  for (const opt of opts === '' ? [] : opts.split(',')) {
    const eq = opt.indexOf('=');
    const key = eq === -1 ? opt : opt.slice(0, eq);
    const value = eq === -1 ? undefined : opt.slice(eq + 1);
    if (Object.hasOwn(TMPFS_FLAGS, key)) {
      if (value !== undefined) throw bad(`${key} takes no value`);
      // Device nodes on a container-writable tmpfs would let the container reach host devices.
      if (key === 'dev') throw bad('dev is not allowed (tmpfs mounts are always nodev)');
      merged.set(TMPFS_FLAGS[key]!, key);
      continue;
    }
    if (value === undefined || value === '') throw bad(`${show(opt)} is not a supported option`);
    switch (key) {
      case 'size':
      case 'nr_inodes':
        if (!MEMPARSE.test(value)) throw bad(`${key} must be a number with an optional k, m or g suffix, or a percentage`);
        break;
      case 'mode':
        if (!/^[0-7]{1,4}$/.test(value)) throw bad('mode must be octal, like 1777');
        break;
      case 'uid':
      case 'gid':
        if (!/^\d+$/.test(value) || Number(value) > MAX_ID) throw bad(`${key} must be a number from 0 to ${MAX_ID}`);
        break;
      default:
        throw bad(`${show(key)} is not a supported option (size, mode, uid, gid, nr_inodes, noexec, nosuid, nodev, exec, suid, ro, rw)`);
    }
    merged.set(key, `${key}=${value}`); // last value of a key wins
  }
  const readonly = merged.get('rw') === 'ro';
  merged.delete('rw');
  return { kind: 'tmpfs', src: 'tmpfs', dst, readonly, data: [...merged.values()].join(',') };
}

function resolveMounts(opts: RunOptions, root: string): ResolvedMount[] {
  const mounts: ResolvedMount[] = [];
  const list = (value: unknown, what: string): unknown[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalid(`invalid ${what} ${show(value)}: must be an array`);
    return value;
  };
  for (const v of list(opts.volumes, 'volumes')) mounts.push(resolveVolume(v, root));
  for (const t of list(opts.tmpfs, 'tmpfs')) mounts.push(resolveTmpfs(t));
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.dst)) throw invalid(`Duplicate mount point: ${m.dst}`);
    seen.add(m.dst);
  }
  return mounts;
}

// ---------------------------------------------------------------------------------------------
// Security

/** CAP_X / x / cap_x -> X, or 'ALL'. */
function normaliseCap(value: unknown, what: string): string {
  const raw = str(value, what);
  const name = raw.toUpperCase().replace(/^CAP_/, '');
  if (name === 'ALL') return name;
  if (!Object.hasOwn(CAPABILITIES, name)) throw invalid(`unknown capability: ${show(raw)}`);
  if (CAPABILITIES[name]! > lastCap()) throw invalid(`capability CAP_${name} is not supported by this kernel`);
  return name;
}

/** moby's TweakCapabilities. */
function resolveCaps(opts: RunOptions): bigint {
  const adds = (opts.capAdd === undefined ? [] : strArray(opts.capAdd, 'capability')).map((c) => normaliseCap(c, 'capability'));
  const drops = (opts.capDrop === undefined ? [] : strArray(opts.capDrop, 'capability')).map((c) => normaliseCap(c, 'capability'));
  const all = Object.keys(CAPABILITIES).filter((c) => CAPABILITIES[c]! <= lastCap());
  let kept: string[];
  if (adds.includes('ALL')) {
    // Add ALL wins over everything: all capabilities except those dropped by name.
    kept = all.filter((c) => !drops.includes(c));
  } else if (drops.includes('ALL')) {
    // Drop ALL: only the added ones.
    kept = adds;
  } else {
    // Drop from the defaults, then add (so a capability both dropped and added is kept).
    kept = [...DEFAULT_CAPS.filter((c) => !drops.includes(c)), ...adds];
  }
  let mask = 0n;
  for (const c of kept) mask |= 1n << BigInt(CAPABILITIES[c]!);
  return mask;
}

/**
 * Docker's --security-opt values pocker knows: `no-new-privileges[:true|false]`, and
 * `seccomp=unconfined | builtin | PROFILE.json` (Docker's profile format; the file is read and
 * checked here, before anything is created). `seccomp:` is Docker's older spelling.
 */
function resolveSecurityOpt(opts: RunOptions): { noNewPrivs: boolean; seccomp: SeccompChoice } {
  let noNewPrivs = false;
  let seccomp: SeccompChoice = { kind: 'default' };
  for (const opt of opts.securityOpt === undefined ? [] : strArray(opts.securityOpt, 'security option')) {
    const m = /^no-new-privileges(?:[:=](true|false))?$/.exec(opt);
    if (m) {
      noNewPrivs = m[1] !== 'false';
      continue;
    }
    const sc = /^seccomp[=:](.*)$/s.exec(opt);
    if (!sc) {
      throw invalid(`invalid --security-opt ${show(opt)}: expected no-new-privileges[:true|false] or seccomp=unconfined|builtin|PROFILE.json (apparmor and label are not supported)`);
    }
    const value = sc[1]!;
    if (value === 'unconfined') seccomp = { kind: 'unconfined' };
    else if (value === 'builtin') seccomp = { kind: 'default' };
    else if (value === '') throw invalid('invalid --security-opt "seccomp=": expected unconfined, builtin or a profile file');
    else {
      const file = resolvePath(value);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw invalid(`opening seccomp profile (${value}) failed: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EISDIR' ? 'is a directory' : code ?? 'cannot read'}`, file);
      }
      seccomp = { kind: 'custom', profile: parseSeccompProfile(text, value), source: value };
    }
  }
  return { noNewPrivs, seccomp };
}

// ---------------------------------------------------------------------------------------------
// Identity, process

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const LABEL_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const USER_PART_RE = /^[a-z_][a-z0-9_.-]*$|^\d+$/;

function resolveName(value: unknown, id: string): string {
  if (value === undefined) return `pocker_${id.slice(0, 12)}`;
  const name = str(value, 'container name');
  if (!NAME_RE.test(name) || name.length > 128) {
    throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 128 characters`);
  }
  return name;
}

function resolveHostname(value: unknown, id: string): string {
  if (value === undefined) return id.slice(0, 12);
  const hostname = str(value, 'hostname');
  // RFC 1123: dot-separated labels of letters, digits and inner hyphens; the kernel keeps 64 bytes.
  if (hostname.length === 0 || hostname.length > 64 || !hostname.split('.').every((l) => LABEL_RE.test(l))) {
    throw invalid(`invalid hostname ${show(hostname)}: must be RFC 1123 labels (letters, digits, inner '-') separated by '.', at most 64 characters`);
  }
  return hostname;
}

function resolveUser(value: unknown): string {
  if (value === undefined) return '';
  const user = str(value, 'user');
  if (user === '') return '';
  const parts = user.split(':');
  const ok =
    parts.length <= 2 &&
    parts.every((p) => USER_PART_RE.test(p) && (!/^\d+$/.test(p) || Number(p) <= MAX_ID));
  if (!ok) {
    throw invalid(`invalid user ${show(user)}: expected name|uid[:name|gid], ids from 0 to ${MAX_ID}`);
  }
  return user;
}

function resolveArgs(opts: RunOptions): string[] {
  const cmd = opts.cmd === undefined ? [] : strArray(opts.cmd, 'command argument');
  const entrypoint = opts.entrypoint === undefined ? '' : str(opts.entrypoint, 'entrypoint');
  // With an entrypoint the command is its arguments (Docker resets the image's cmd when
  // --entrypoint is given); '' means no entrypoint.
  const args = entrypoint !== '' ? [entrypoint, ...cmd] : cmd.length > 0 ? cmd : ['/bin/sh'];
  if (args[0] === '') throw invalid(`invalid command ${show(args)}: the executable can't be empty`);
  return args;
}

function resolveWorkdir(value: unknown): string {
  if (value === undefined) return '/';
  const dir = str(value, 'working directory');
  if (!dir.startsWith('/')) throw invalid(`the working directory ${show(dir)} is invalid, it needs to be an absolute path`);
  return normalisePath(dir);
}

function resolveRootfs(opts: RunOptions): ResolvedRunConfig['rootfs'] {
  const { image, rootfs } = opts;
  if (image !== undefined && rootfs !== undefined) throw invalid('give either an image or a rootfs, not both');
  if (image === undefined && rootfs === undefined) throw invalid('an image or a rootfs is required');
  if (image !== undefined) {
    const ref = str(image, 'image');
    if (ref === 'host') return { kind: 'host' };
    // An image id (`sha256:<hex>`) or a reference; parseReference throws Docker's "invalid reference format".
    if (!/^sha256:[0-9a-f]{4,64}$/.test(ref)) parseReference(ref);
    return { kind: 'image', reference: ref };
  }
  const dir = str(rootfs, 'rootfs');
  if (dir === '') throw invalid('invalid rootfs "": must be a directory');
  let real: string;
  try {
    real = realpathSync(resolvePath(dir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`invalid rootfs ${dir}: ${code === 'ENOENT' ? 'no such file or directory' : code ?? 'cannot resolve'}`, dir);
  }
  if (!statSync(real).isDirectory()) throw invalid(`invalid rootfs ${dir}: not a directory`, dir);
  return { kind: 'dir', path: real };
}

function resolveTtySize(value: unknown): { rows: number; cols: number } | undefined {
  if (value === undefined) return undefined;
  const v = value as { rows?: unknown; cols?: unknown } | null;
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
  if (v === null || typeof v !== 'object' || !ok(v.rows) || !ok(v.cols)) {
    throw invalid(`invalid tty size ${show(value)}: rows and cols must be integers from 1 to 65535`);
  }
  return { rows: v.rows as number, cols: v.cols as number };
}


export function resolveRestart(opts: RunOptions): { policy: 0 | 1 | 2 | 3; max: number } {
  if (opts.restart === undefined || opts.restart === 'no') return { policy: 0, max: 0 };
  const value = str(opts.restart, 'restart policy');
  const m = /^(on-failure)(?::(\d+))?$|^(always|unless-stopped)$/.exec(value);
  if (!m) throw invalid(`invalid restart policy ${show(value)}: no, on-failure[:max-retries], always or unless-stopped`);
  if (opts.rm) throw invalid('conflicting options: cannot specify both --restart and --rm');
  if (!opts.detach) throw invalid('--restart applies to detached containers (-d): their monitor restarts them');
  if (m[1]) return { policy: 1, max: m[2] === undefined ? 0 : Number(m[2]) };
  return { policy: m[3] === 'always' ? 2 : 3, max: 0 };
}

/**
 * The json-file log's cap without `--log-opt`: rotate at 10 MiB, keep 5 files (at most 50 MiB a
 * container): the kubelet's default for container logs (containerLogMaxSize 10Mi,
 * containerLogMaxFiles 5). Docker's json-file default is unbounded (a log then grows until the disk
 * is full); `--log-opt max-size=-1` asks for that.
 */
export const DEFAULT_LOG_OPTS: Readonly<{ maxSize: number; maxFiles: number }> = { maxSize: 10 * 1024 * 1024, maxFiles: 5 };

function resolveLogOpts(value: RunOptions['logOpts']): { maxSize: number; maxFiles: number } {
  if (value === undefined) return { ...DEFAULT_LOG_OPTS };
  if (value === null || typeof value !== 'object') throw invalid(`invalid log options ${show(value)}`);
  if (value.maxSize === undefined && value.maxFile === undefined) return { ...DEFAULT_LOG_OPTS };
  // As Docker: max-size -1 is unbounded; an explicit max-size keeps 1 file unless max-file says more.
  const unbounded = value.maxSize === -1 || value.maxSize === '-1';
  const maxSize = value.maxSize === undefined || unbounded ? 0 : parseBytes(value.maxSize, 'log max-size');
  const maxFiles = value.maxFile ?? 1;
  if (!Number.isInteger(maxFiles) || maxFiles < 1 || maxFiles > 1000) throw invalid(`invalid log max-file ${show(value.maxFile)}: must be an integer from 1 to 1000`);
  if (maxFiles > 1 && maxSize === 0) throw invalid('log max-file needs max-size');
  return { maxSize, maxFiles };
}

/** Said when a network flag meets the default network while that is none (the user did not choose it). */
function defaultNoneHint(env: NodeJS.ProcessEnv): string {
  if (env.POCKER_DEFAULT_NETWORK === 'none') return ': the default network is none here (POCKER_DEFAULT_NETWORK=none); add --network bridge or a network\'s name';
  return ': a rootless caller\'s default network is none (there is no bridge without root)';
}

/**
 * The network of a container that names none: Docker's `bridge` for root, `none` for a rootless
 * caller (who has no bridge; `-p` alone picks the user-mode stack, as Podman). $POCKER_DEFAULT_NETWORK
 * (none or bridge) overrides it: the test suites set none outside their own network namespaces, so
 * no test container gets a bridge on the machine's real network. The bridge needs no program (its
 * rules go to nf_tables through netlink from the addon), only the kernel's bridge, veth and
 * nf_tables support; where one is missing the error says so and names --network none.
 */
export function defaultNetworkMode(env: NodeJS.ProcessEnv = process.env, rootless: boolean = isRootless()): 'none' | 'bridge' {
  const v = env.POCKER_DEFAULT_NETWORK;
  if (v === undefined || v === '') return rootless ? 'none' : 'bridge';
  if (v === 'none' || v === 'bridge') return v;
  throw invalid(`invalid POCKER_DEFAULT_NETWORK ${show(v)}: none or bridge`);
}

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * --network (one or several) with --ip, --ip6, --network-alias, --mac-address, --add-host, --dns:
 * syntax only (whether a network exists is checked against the store before anything is created).
 */
function resolveNetwork(opts: RunOptions, env: NodeJS.ProcessEnv): Pick<ResolvedRunConfig, 'network' | 'networks' | 'addHosts' | 'dns' | 'dnsSearch' | 'dnsOptions'> {
  const given = opts.network;
  const list: unknown[] = given === undefined ? [defaultNetworkMode(env)] : Array.isArray(given) ? [...(given as unknown[])] : [given];
  if (list.length === 0) list.push(defaultNetworkMode(env));
  for (const v of list) {
    if (typeof v !== 'string' || v === '') throw invalid(`invalid network ${show(v)}: a network name, bridge, none, host or container:NAME`);
  }
  const modes = list as string[];
  const special = modes.find((m) => m === 'none' || m === 'host' || m.startsWith('container:') || isUserModeNetwork(m));
  if (special !== undefined && modes.length > 1) throw invalid(`conflicting options: cannot attach both user-defined and non-user-defined network-modes (--network ${modes.join(', --network ')})`);
  const out: Pick<ResolvedRunConfig, 'network' | 'networks' | 'addHosts' | 'dns' | 'dnsSearch' | 'dnsOptions'> = { network: modes[0]! };
  const strs = (v: unknown, what: string): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`invalid ${what} ${show(v)}: must be an array of strings`);
    return v.length ? [...(v as string[])] : undefined;
  };
  const addHosts = strs(opts.addHosts, 'addHosts');
  const dns = strs(opts.dns, 'dns');
  const dnsSearch = strs(opts.dnsSearch, 'dnsSearch');
  const dnsOptions = strs(opts.dnsOptions, 'dnsOptions');
  const aliases = strs(opts.networkAliases, 'networkAliases');
  for (const [k, v] of [['ip', opts.ip], ['ip6', opts.ip6], ['macAddress', opts.macAddress]] as const) {
    if (v !== undefined && typeof v !== 'string') throw invalid(`invalid ${k} ${show(v)}: must be a string`);
  }
  if (special !== undefined) {
    if (special.startsWith('container:') && special.length === 'container:'.length) throw invalid(`invalid network ${show(special)}: container: needs a container's name or id`);
    if (opts.ip !== undefined || opts.ip6 !== undefined || aliases || opts.macAddress !== undefined) {
      throw invalid(`conflicting options: --ip, --network-alias and --mac-address need a bridge or user-defined network (--network ${special})${opts.network === undefined ? defaultNoneHint(env) : ''}`);
    }
    if (special.startsWith('container:') && (addHosts || dns || dnsSearch || dnsOptions)) throw invalid(`conflicting options: --add-host and --dns cannot be used with --network ${special} (its /etc/hosts and resolv.conf are the other container's)`);
  } else {
    for (const m of modes) if (!NETWORK_NAME_RE.test(m)) throw invalid(`invalid network ${show(m)}: a network name, bridge, none, host or container:NAME`);
    out.networks = modes.map((m, i) => ({
      network: m,
      ...(i === 0 && opts.ip !== undefined ? { ip: opts.ip } : {}),
      ...(i === 0 && opts.ip6 !== undefined ? { ip6: opts.ip6 } : {}),
      ...(i === 0 && aliases ? { aliases } : {}),
      ...(i === 0 && opts.macAddress !== undefined ? { mac: opts.macAddress.toLowerCase() } : {}),
    }));
  }
  if (addHosts) out.addHosts = addHosts;
  if (dns) out.dns = dns;
  if (dnsSearch) out.dnsSearch = dnsSearch;
  if (dnsOptions) out.dnsOptions = dnsOptions;
  validateNetworkFlags(out.networks ?? [], { ...(addHosts ? { extraHosts: addHosts } : {}), ...(dns ? { dns } : {}) });
  return out;
}

function resolveRoot(value: unknown, env: NodeJS.ProcessEnv): string {
  // An empty POCKER_ROOT counts as unset, as usual for environment variables.
  const raw = value !== undefined ? value : env.POCKER_ROOT || defaultStateRoot(env);
  const root = str(raw, 'root directory');
  if (root === '') throw invalid('invalid root directory "": must be a path');
  return resolvePath(root);
}

function resolveCgroupParent(value: unknown): string {
  if (value === undefined) return DEFAULT_CGROUP_PARENT;
  const parent = str(value, 'cgroup parent');
  const ok = parent !== '' && parent.split('/').every((s) => /^[A-Za-z0-9_.-]+$/.test(s) && s !== '.' && s !== '..');
  if (!ok) {
    throw invalid(`invalid cgroup parent ${show(parent)}: must be a relative path of [A-Za-z0-9_.-] segments, without '.' or '..'`);
  }
  return parent;
}

function resolveCgroupns(value: unknown): 'host' | 'private' | undefined {
  if (value === undefined || value === 'host' || value === 'private') return value;
  throw invalid(`invalid cgroup namespace mode ${show(value)}: must be "host" or "private"`);
}

// ---------------------------------------------------------------------------------------------
// Docker's run flags of issue 12 (i12-flags): labels, stop signal and timeout, ulimits, /dev/shm
// size, devices, supplementary groups, sysctls, memory reservation and OOM killer, pid/ipc/uts
// namespaces, --mount. Each is checked here, before any kernel object; lib/spec/build.ts puts
// them into the OCI document (withRunFlags) and lib/runtime/namespaces.ts resolves, right before
// a (re)start, what depends on other containers or on the rootfs (`container:` joins, group names).

/** A `--device`, resolved: the host's node (its real path) and where the container sees it. */
export interface ResolvedDevice {
  pathOnHost: string;
  pathInContainer: string;
  /** Docker's cgroup permissions (`rwm`): recorded, not enforced (pocker has no device cgroup). */
  cgroupPermissions: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
}

/** The issue-12 fields of ResolvedRunConfig (all optional: records made before them have none). */
export interface ResolvedRunFlags {
  /** --label / --label-file. */
  labels?: Record<string, string>;
  /** --stop-signal, normalised (`SIGUSR1`, or Docker's real-time spelling `SIGRTMIN+3`). */
  stopSignal?: string;
  /** --stop-timeout in seconds (-1: wait forever). */
  stopTimeout?: number;
  /** --ulimit as OCI process.rlimits (-1 = unlimited). */
  rlimits?: Array<{ type: `RLIMIT_${string}`; soft: number; hard: number }>;
  /** --shm-size in bytes. */
  shmSize?: number;
  devices?: ResolvedDevice[];
  /** --group-add as given (gids or group names; names are resolved in the rootfs at each start). */
  groupAdd?: string[];
  sysctls?: Record<string, string>;
  /** --pid: `host` or `container:<name|id>`. */
  pidMode?: string;
  /** --ipc: `private`, `shareable`, `none`, `host` or `container:<name|id>` (absent: private). */
  ipcMode?: string;
  /** --uts: `host`. */
  utsMode?: string;
  /** Set right before a start (lib/runtime/namespaces.ts): namespaces to join, by type (`/proc/PID/ns/ipc`). */
  joins?: { pid?: string; ipc?: string; net?: string; netDir?: string };
  /** Set right before a start: the numeric gids of groupAdd. */
  groupAddGids?: number[];
  /** --userns / --uidmap / --gidmap (issue 13), validated; absent: the host's user namespace. */
  userns?: UsernsRequest;
  /** The maps the container runs with: set when its record is made (`auto`: allocated then). */
  usernsMaps?: UsernsMaps;
}

/** Docker's ulimit names (go-units ulimitNameMapping) -> setrlimit resources. */
const ULIMITS: Readonly<Record<string, `RLIMIT_${string}`>> = {
  as: 'RLIMIT_AS', core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

/** The kernel's ceiling for RLIMIT_NOFILE (/proc/sys/fs/nr_open). */
function nrOpen(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/fs/nr_open', 'utf8'), 10);
    return Number.isSafeInteger(n) && n > 0 ? n : 1048576;
  } catch {
    return 1048576;
  }
}

/**
 * Docker's `--ulimit NAME=SOFT[:HARD]` (go-units ParseUlimit, with its messages): -1 is unlimited;
 * the soft limit may not exceed the hard one.
 */
export function parseUlimit(value: unknown): { type: `RLIMIT_${string}`; soft: number; hard: number } {
  let name: string, soft: number, hard: number;
  if (typeof value === 'string') {
    noNul(value, 'ulimit');
    const eq = value.indexOf('=');
    if (eq < 0) throw invalid(`invalid ulimit argument: ${value}`);
    name = value.slice(0, eq);
    if (!Object.hasOwn(ULIMITS, name)) throw invalid(`invalid ulimit type: ${name}`);
    const vals = value.slice(eq + 1).split(':');
    if (vals.length > 2) throw invalid(`too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
    const num = (v: string): number => {
      if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalid(`invalid ulimit ${show(value)}: strconv.ParseInt: parsing ${show(v)}: invalid syntax`);
      return Number(v);
    };
    soft = num(vals[0]!);
    hard = vals.length === 2 ? num(vals[1]!) : soft;
  } else if (value !== null && typeof value === 'object') {
    const u = value as { name?: unknown; soft?: unknown; hard?: unknown };
    name = str(u.name, 'ulimit name');
    if (!Object.hasOwn(ULIMITS, name)) throw invalid(`invalid ulimit type: ${name}`);
    if (typeof u.soft !== 'number' || !Number.isSafeInteger(u.soft)) throw invalid(`invalid ulimit ${show(value)}: soft must be an integer`);
    soft = u.soft;
    if (u.hard !== undefined && (typeof u.hard !== 'number' || !Number.isSafeInteger(u.hard))) throw invalid(`invalid ulimit ${show(value)}: hard must be an integer`);
    hard = u.hard === undefined ? soft : (u.hard as number);
  } else {
    throw invalid(`invalid ulimit ${show(value)}: must be a "NAME=SOFT[:HARD]" string or { name, soft, hard }`);
  }
  for (const v of [soft, hard]) if (v < -1) throw invalid(`invalid ulimit ${show(value)}: a limit is a number from 0, or -1 for unlimited`);
  if (hard !== -1 && (soft === -1 || soft > hard)) {
    throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${soft === -1 ? 'unlimited' : soft} > ${hard}`);
  }
  if (name === 'nofile') {
    const max = nrOpen();
    if (hard === -1 || hard > max) throw invalid(`invalid ulimit ${show(value)}: the kernel allows at most ${max} open files (fs.nr_open)`);
  }
  return { type: ULIMITS[name]!, soft, hard };
}

/** glibc's gnu_dev_major/minor of a dev_t. */
function devNumbers(r: bigint): { major: number; minor: number } {
  return { major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)) };
}

/** Docker's device cgroup permissions: some of r, w, m, each at most once. */
function deviceMode(mode: string): boolean {
  return mode !== '' && mode.length <= 3 && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;
}

/** The device nodes of a host path: itself, or those under a directory (Docker's getDevicesFromPath). */
function devicesAt(host: string, shown: string): Array<{ path: string; st: Stats }> {
  let real: string;
  let st: Stats;
  try {
    real = realpathSync(host);
    st = statSync(real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`error gathering device information while adding custom device ${show(shown)}: ${code === 'ENOENT' ? 'no such file or directory' : code ?? 'cannot stat'}`, host);
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) return [{ path: real, st }];
  if (!st.isDirectory()) throw invalid(`error gathering device information while adding custom device ${show(shown)}: not a device node`, host);
  const out: Array<{ path: string; st: Stats }> = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = joinPath(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isCharacterDevice() || e.isBlockDevice()) out.push({ path: p, st: statSync(p) });
    }
  };
  walk(real, 0);
  return out;
}

/**
 * Docker's `--device HOST[:CONTAINER][:PERMISSIONS]` (a missing container path is the host's; two
 * fields whose second is a mode are HOST:PERMISSIONS), or a DeviceMapping. A directory brings every
 * device under it, at the same place below the container path.
 */
export function parseDevice(value: unknown): ResolvedDevice[] {
  let host: string, inContainer: string, perms = 'rwm';
  if (typeof value === 'string') {
    noNul(value, 'device');
    const parts = value.split(':');
    if (parts.length > 3 || parts[0] === '') throw invalid(`invalid device specification: ${value}`);
    host = parts[0]!;
    inContainer = host;
    if (parts.length === 3) {
      inContainer = parts[1]!;
      perms = parts[2]!;
    } else if (parts.length === 2) {
      if (deviceMode(parts[1]!)) perms = parts[1]!;
      else inContainer = parts[1]!;
    }
  } else if (value !== null && typeof value === 'object') {
    const d = value as { pathOnHost?: unknown; pathInContainer?: unknown; cgroupPermissions?: unknown };
    host = str(d.pathOnHost, 'device host path');
    inContainer = d.pathInContainer === undefined ? host : str(d.pathInContainer, 'device container path');
    if (d.cgroupPermissions !== undefined) perms = str(d.cgroupPermissions, 'device permissions');
  } else {
    throw invalid(`invalid device ${show(value)}: must be a "HOST[:CONTAINER][:PERMISSIONS]" string or { pathOnHost, pathInContainer, cgroupPermissions }`);
  }
  if (!deviceMode(perms)) throw invalid(`invalid device mode: ${perms}`);
  if (!host.startsWith('/')) throw invalid(`invalid device specification: ${host}: the host path must be absolute`);
  if (!inContainer.startsWith('/')) throw invalid(`bad format for path: ${inContainer}`);
  const dst = mountTarget(inContainer, 'device');
  const found = devicesAt(host, host);
  const real = realpathSync(host);
  return found.map(({ path: p, st }) => ({
    pathOnHost: p,
    pathInContainer: p === real ? dst : posix.join(dst, relative(real, p)),
    cgroupPermissions: perms,
    type: st.isBlockDevice() ? ('b' as const) : ('c' as const),
    ...devNumbers(BigInt(st.rdev)),
  }));
}

/** Docker's allowed sysctls (opts.ValidateSysctl): the IPC keys, fs.mqueue.*, net.*. */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** `KEY=VALUE` entries or a record -> a record (a later key wins). */
function keyValues(value: unknown, what: string, needValue: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const e of value) {
      const s = str(e, what);
      const eq = s.indexOf('=');
      if (needValue && eq < 0) throw invalid(`invalid ${what} ${show(s)}: expected KEY=VALUE`);
      const key = (eq < 0 ? s : s.slice(0, eq)).trim();
      if (key === '') throw invalid(`invalid ${what} ${show(s)}: empty name`);
      out[key] = eq < 0 ? '' : s.slice(eq + 1);
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      noNul(k, `${what} name`);
      if (k.trim() === '' || k.includes('=')) throw invalid(`invalid ${what} name ${show(k)}: must be non-empty and without '='`);
      out[k] = str(v, `value of ${what} ${k}`);
    }
  } else {
    throw invalid(`invalid ${what}s ${show(value)}: must be an array of KEY=VALUE strings or a record`);
  }
  return out;
}

/** Docker's label file: `KEY[=VALUE]` lines, blank lines and `#` comments skipped, no quoting. */
export function parseLabelFile(text: string, file?: string): string[] {
  const out: string[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    if (line.includes('\0')) throw invalid(`invalid label line ${i + 1}${file ? ` in ${file}` : ''}: contains a NUL byte`, file);
    if (line.startsWith('=')) throw invalid(`invalid label ${show(line)}${file ? ` in ${file}` : ''}: empty name`, file);
    out.push(line);
  });
  return out;
}

function resolveLabels(opts: RunOptions): Record<string, string> | undefined {
  if (opts.labels === undefined && opts.labelFile === undefined) return undefined;
  const entries: string[] = [];
  for (const file of opts.labelFile === undefined ? [] : strArray(opts.labelFile, 'label file')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw invalid(`open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as NodeJS.ErrnoException).code ?? 'cannot read'}`, file);
    }
    entries.push(...parseLabelFile(text, file));
  }
  const fromFiles = keyValues(entries, 'label', false);
  return { ...fromFiles, ...(opts.labels === undefined ? {} : keyValues(opts.labels, 'label', false)) };
}

function resolveSysctls(opts: RunOptions, network: string, ipcMode: string | undefined): Record<string, string> | undefined {
  if (opts.sysctls === undefined) return undefined;
  const sysctls = keyValues(opts.sysctls, 'sysctl', true);
  for (const key of Object.keys(sysctls)) {
    const ipc = IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.');
    if (!ipc && !key.startsWith('net.')) throw invalid(`sysctl '${key}=${sysctls[key]}' is not whitelisted: only the IPC keys (kernel.msg*, kernel.sem, kernel.shm*), fs.mqueue.* and net.* are namespaced`);
    if (ipc && ipcMode === 'host') throw invalid(`sysctl '${key}' is not allowed in the host's IPC namespace (--ipc host)`);
    if (ipc && ipcMode?.startsWith('container:')) throw invalid(`sysctl '${key}' is not allowed in a joined IPC namespace (--ipc ${ipcMode})`);
    if (!ipc && network === 'host') throw invalid(`sysctl '${key}' is not allowed in the host's network namespace (--network host)`);
    // Network modes that join another container's namespace (net-store's `container:NAME`).
    if (!ipc && network.startsWith('container:')) throw invalid(`sysctl '${key}' is not allowed in a joined network namespace (--network ${network})`);
  }
  return sysctls;
}

/** `host`, `container:REF` (REF a name or id), or the given private words. */
function namespaceMode(value: unknown, flag: string, words: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  const v = str(value, `${flag} mode`);
  if (words.includes(v)) return v;
  const m = /^container:(.+)$/.exec(v);
  if (m && (flag === '--pid' || flag === '--ipc')) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(m[1]!)) throw invalid(`invalid ${flag} ${show(v)}: container:NAME|ID`);
    return v;
  }
  throw invalid(`invalid ${flag} mode ${show(v)}: expected ${[...words, ...(flag === '--uts' ? [] : ['container:NAME|ID'])].join(', ')}`);
}

/** Docker's --mount CSV (encoding/csv: fields may be double-quoted, `""` is a quote). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw invalid(`invalid argument ${show(line)} for "--mount" flag: extraneous or missing " in quoted-field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw invalid(`invalid argument ${show(line)} for "--mount" flag: extraneous or missing " in quoted-field`);
    } else {
      const comma = line.indexOf(',', i);
      field = comma < 0 ? line.slice(i) : line.slice(i, comma);
      i = comma < 0 ? line.length : comma;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'];

function boolWord(v: string, key: string, spec: string): boolean {
  const t = v.toLowerCase();
  if (t === '' || t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw invalid(`invalid value for ${key}: ${v} (in --mount ${show(spec)})`);
}

/** Docker's `--mount` string -> MountSpec (docker/cli opts/mount.go: keys, aliases and messages). */
export function parseMountFlag(spec: string): MountSpec {
  noNul(spec, 'mount');
  const m: Partial<MountSpec> & { type: MountSpec['type'] } = { type: 'volume' };
  let sawVolumeOpt = false;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1).trim();
    if (value === undefined) {
      if (key === 'readonly' || key === 'ro') {
        m.readonly = true;
        continue;
      }
      if (key === 'volume-nocopy') {
        sawVolumeOpt = true;
        m.volumeNocopy = true;
        continue;
      }
      throw invalid(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type':
        if (value !== 'bind' && value !== 'volume' && value !== 'tmpfs') {
          throw invalid(`invalid mount type ${show(value)} (in --mount ${show(spec)}): bind, volume or tmpfs`);
        }
        m.type = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = boolWord(value, key, spec);
        break;
      case 'consistency':
        break; // macOS only, as in Docker on Linux
      case 'bind-propagation':
        m.bindPropagation = value;
        break;
      case 'tmpfs-size':
        m.tmpfsSize = value;
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]{1,4}$/.test(value)) throw invalid(`invalid value for tmpfs-mode: ${value}`);
        m.tmpfsMode = Number.parseInt(value, 8);
        break;
      case 'volume-nocopy':
        if (boolWord(value, key, spec)) m.volumeNocopy = true;
        sawVolumeOpt = true;
        break;
      case 'volume-driver':
      case 'volume-label':
      case 'volume-opt':
      case 'volume-subpath':
        throw invalid(`mount option ${key} is not supported: pocker has only local volumes without options (in --mount ${show(spec)})`);
      default:
        throw invalid(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.target === undefined || m.target === '') throw invalid('target is required');
  if (sawVolumeOpt && m.type !== 'volume') throw invalid(`cannot mix 'volume-*' options with mount type '${m.type}'`);
  return m as MountSpec;
}

/** A --mount (string or MountSpec) as a ResolvedMount: bind and tmpfs as -v and --tmpfs are, volume anonymous. */
function resolveMountFlag(value: unknown, root: string): ResolvedMount {
  const m: MountSpec = typeof value === 'string' ? parseMountFlag(value) : (value as MountSpec);
  if (m === null || typeof m !== 'object') throw invalid(`invalid mount ${show(value)}: must be a --mount string or { type, source, target }`);
  const ro = bool(m.readonly, 'mount readonly flag');
  const what = `mount config for type ${JSON.stringify(m.type)}`;
  if (m.type !== 'bind' && m.bindPropagation !== undefined) throw invalid(`invalid ${what}: field BindOptions must not be specified`);
  if (m.type !== 'tmpfs' && (m.tmpfsSize !== undefined || m.tmpfsMode !== undefined)) throw invalid(`invalid ${what}: field TmpfsOptions must not be specified`);
  switch (m.type) {
    case 'bind': {
      const src = m.source === undefined ? '' : str(m.source, 'mount source');
      if (src === '') throw invalid(`invalid ${what}: field Source must not be empty`);
      if (!isAbsolute(src)) throw invalid(`invalid ${what}: invalid mount path: '${src}' mount path must be absolute`, src);
      if (!existsSync(src)) throw invalid(`invalid ${what}: bind source path does not exist: ${src}`, src);
      const prop = m.bindPropagation === undefined ? undefined : str(m.bindPropagation, 'bind-propagation');
      if (prop !== undefined && !PROPAGATIONS.includes(prop)) throw invalid(`invalid bind-propagation ${show(prop)}: ${PROPAGATIONS.join(', ')}`);
      const r = resolveVolume({ source: src, target: m.target, readonly: ro }, root);
      return prop ? { ...r, propagation: prop } : r;
    }
    case 'tmpfs': {
      if (m.source !== undefined && m.source !== '') throw invalid(`invalid ${what}: field Source must not be specified`);
      const data: string[] = [];
      if (m.tmpfsSize !== undefined) data.push(`size=${parseBytes(m.tmpfsSize, 'tmpfs-size')}`);
      if (m.tmpfsMode !== undefined) {
        if (!Number.isInteger(m.tmpfsMode) || m.tmpfsMode < 0 || m.tmpfsMode > 0o7777) throw invalid(`invalid tmpfs-mode ${show(m.tmpfsMode)}`);
        data.push(`mode=${m.tmpfsMode.toString(8)}`);
      }
      if (ro) data.push('ro');
      return resolveTmpfs({ target: str(m.target, 'mount target'), options: data.join(',') });
    }
    case 'volume': {
      const src = m.source === undefined || m.source === '' ? undefined : str(m.source, 'mount source');
      // Docker: "invalid mount config for type "volume": invalid mount path: '/x' mount path must be absolute" is for the target;
      // an absolute source is a bind's.
      if (src !== undefined && src.startsWith('/')) throw invalid(`invalid ${what}: a volume's source is a volume name, not a path (${show(src)}): use type=bind for a host path`, src);
      // Named (made when missing) or anonymous (a new volume of the store, removed by run --rm and rm -v), filled from the image when empty.
      return volumeMount(root, src, mountTarget(m.target, 'mount'), ro, bool(m.volumeNocopy, 'volume-nocopy'));
    }
    default:
      throw invalid(`invalid mount type ${show((m as { type?: unknown }).type)}: bind, volume or tmpfs`);
  }
}

/**
 * Resolves the issue-12 flags of `opts` onto a resolved config (called by resolveRunOptions once
 * the rest is resolved: it needs the network, the tty and the root).
 */
function resolveRunFlags(opts: RunOptions, cfg: ResolvedRunConfig, userEnv: string[]): void {
  const labels = resolveLabels(opts);
  if (labels) cfg.labels = labels;
  if (opts.stopSignal !== undefined) {
    const raw = typeof opts.stopSignal === 'number' ? String(opts.stopSignal) : str(opts.stopSignal, 'stop signal');
    if (!isSignalSpec(raw)) throw invalid(`invalid signal: ${raw}`);
    cfg.stopSignal = normalizeSignal(raw) ?? (raw.toUpperCase().startsWith('SIG') ? raw.toUpperCase() : `SIG${raw.toUpperCase()}`);
  }
  if (opts.stopTimeout !== undefined) {
    const t = opts.stopTimeout as unknown;
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < -1) throw invalid(`invalid stop timeout ${show(t)}: a whole number of seconds, or -1 to wait forever`);
    cfg.stopTimeout = t;
  }
  if (opts.ulimits !== undefined) {
    if (!Array.isArray(opts.ulimits)) throw invalid(`invalid ulimits ${show(opts.ulimits)}: must be an array`);
    const byType = new Map<string, { type: `RLIMIT_${string}`; soft: number; hard: number }>();
    for (const u of opts.ulimits) {
      const r = parseUlimit(u);
      byType.set(r.type, r); // a later one of a name wins, as Docker's map
    }
    cfg.rlimits = [...byType.values()];
  }
  const ipcMode = namespaceMode(opts.ipc, '--ipc', ['private', 'shareable', 'host', 'none']);
  const pidMode = namespaceMode(opts.pid, '--pid', ['host']);
  const utsMode = namespaceMode(opts.uts, '--uts', ['host']);
  if (ipcMode) cfg.ipcMode = ipcMode;
  if (pidMode) cfg.pidMode = pidMode;
  if (utsMode) {
    if (opts.hostname !== undefined) throw invalid('Conflicting options: hostname and the UTS mode');
    cfg.utsMode = utsMode;
    cfg.hostname = hostHostname();
    cfg.env = containerEnv(userEnv, cfg.hostname, cfg.tty);
  }
  if (opts.shmSize !== undefined) {
    const shm = parseBytes(opts.shmSize, 'shm size');
    if (shm === 0) throw invalid(`invalid shm size ${show(opts.shmSize)}: must be more than 0`);
    if (ipcMode === 'host' || ipcMode === 'none' || ipcMode?.startsWith('container:')) {
      throw invalid(`invalid shm size: --shm-size does not apply with --ipc ${ipcMode} (the container has no /dev/shm of its own)`);
    }
    cfg.shmSize = shm;
  }
  if (opts.devices !== undefined) {
    if (!Array.isArray(opts.devices)) throw invalid(`invalid devices ${show(opts.devices)}: must be an array`);
    cfg.devices = opts.devices.flatMap((d) => parseDevice(d));
    const taken = new Set(cfg.mounts.map((m) => m.dst));
    for (const d of cfg.devices) {
      if (taken.has(d.pathInContainer)) throw invalid(`Duplicate mount point: ${d.pathInContainer}`);
      taken.add(d.pathInContainer);
    }
  }
  if (opts.groupAdd !== undefined) {
    if (!Array.isArray(opts.groupAdd)) throw invalid(`invalid groupAdd ${show(opts.groupAdd)}: must be an array`);
    cfg.groupAdd = opts.groupAdd.map((g) => {
      const s = typeof g === 'number' ? String(g) : str(g, 'group');
      if (!USER_PART_RE.test(s) || (/^\d+$/.test(s) && Number(s) > MAX_ID)) throw invalid(`invalid group ${show(g)}: a group name or a gid from 0 to ${MAX_ID}`);
      return s;
    });
  }
  const sysctls = resolveSysctls(opts, cfg.network, ipcMode);
  if (sysctls) cfg.sysctls = sysctls;
  const userns = resolveUserns(opts);
  if (userns) {
    // A user namespace owns the namespaces made with it: one of the host's (or another container's,
    // made without it) cannot be set up from inside it (no /proc of the host's pid namespace, no
    // mqueue or hostname of the host's), so those modes are refused, as Docker's userns-remap does.
    const flag = userns.mode === 'auto' ? `--userns ${String(opts.userns)}` : '--uidmap';
    for (const [name, mode] of [['--pid', pidMode], ['--ipc', ipcMode], ['--uts', utsMode]] as const) {
      if (mode === 'host' || mode?.startsWith('container:')) throw invalid(`conflicting options: ${name} ${mode} and ${flag} (a user namespace cannot use the ${mode === 'host' ? "host's" : "other container's"} namespace)`);
    }
    if (cfg.network.startsWith('container:')) throw invalid(`conflicting options: --network ${cfg.network} and ${flag} (a user namespace cannot join another container's network)`);
    cfg.userns = userns;
  }
  if (opts.memoryReservation !== undefined) {
    const r = parseBytes(opts.memoryReservation, 'memory reservation');
    if (r < MIN_MEMORY) throw invalid(`invalid memory reservation ${show(opts.memoryReservation)}: Minimum memory reservation allowed is 6MB`);
    if (cfg.resources.memory !== undefined && cfg.resources.memory < r) {
      throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
    }
    cfg.resources = { ...cfg.resources, memoryReservation: r };
  }
  if (bool(opts.oomKillDisable, 'oomKillDisable')) cfg.resources = { ...cfg.resources, oomKillDisable: true };
  if (opts.mounts !== undefined) {
    if (!Array.isArray(opts.mounts)) throw invalid(`invalid mounts ${show(opts.mounts)}: must be an array`);
    const seen = new Set(cfg.mounts.map((m) => m.dst));
    opts.mounts.forEach((m) => {
      const r = resolveMountFlag(m, cfg.root);
      if (seen.has(r.dst)) throw invalid(`Duplicate mount point: ${r.dst}`);
      seen.add(r.dst);
      cfg.mounts.push(r);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Published ports (-p, -P): syntax here; host ports are claimed when the container starts.

/** RunOptions.publish / publishAll, validated: only the fields that were given. */
export function resolvePublishOptions(opts: Pick<RunOptions, 'publish' | 'publishAll'>): Pick<ResolvedRunConfig, 'publish' | 'publishAll'> {
  const out: Pick<ResolvedRunConfig, 'publish' | 'publishAll'> = {};
  if (opts.publish !== undefined) {
    if (!Array.isArray(opts.publish) || !opts.publish.every((p) => typeof p === 'string')) {
      throw invalid(`invalid publish ${show(opts.publish)}: must be an array of strings`);
    }
    if (opts.publish.length > 0) out.publish = parsePublish(opts.publish);
  }
  if (opts.publishAll !== undefined) {
    if (typeof opts.publishAll !== 'boolean') throw invalid(`invalid publishAll ${show(opts.publishAll)}: must be a boolean`);
    if (opts.publishAll) out.publishAll = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Validates `opts` completely and resolves defaults. Throws `invalid()` on the first bad value. */
export function resolveRunOptions(opts: RunOptions, env: NodeJS.ProcessEnv = process.env): ResolvedRunConfig {
  if (opts === null || typeof opts !== 'object') throw invalid(`invalid run options ${show(opts)}: must be an object`);
  const id = randomHex(32);
  const rootfs = resolveRootfs(opts);
  const name = resolveName(opts.name, id);
  const hostname = resolveHostname(opts.hostname, id);
  const tty = bool(opts.tty, 'tty');
  const ttySize = resolveTtySize(opts.ttySize);
  const userEnv = resolveUserEnv(opts, env);
  const security = resolveSecurityOpt(opts);
  const root = resolveRoot(opts.root, env);
  const config: ResolvedRunConfig = {
    id,
    name,
    rootfs,
    args: resolveArgs(opts),
    env: containerEnv(userEnv, hostname, tty),
    userEnv,
    cwd: resolveWorkdir(opts.workdir),
    user: resolveUser(opts.user),
    hostname,
    interactive: bool(opts.interactive, 'interactive'),
    tty,
    readOnly: bool(opts.readOnly, 'readOnly'),
    init: bool(opts.init, 'init'),
    ...resolveNetwork(opts, env),
    mounts: resolveMounts(opts, root),
    resources: resolveResources(opts),
    caps: resolveCaps(opts),
    noNewPrivs: security.noNewPrivs,
    seccomp: security.seccomp,
    rm: bool(opts.rm, 'rm'),
    detach: bool(opts.detach, 'detach'),
    restart: resolveRestart(opts),
    log: resolveLogOpts(opts.logOpts),
    root,
    cgroupParent: resolveCgroupParent(opts.cgroupParent),
  };
  if (ttySize) config.ttySize = ttySize;
  const cgroupns = resolveCgroupns(opts.cgroupns);
  if (cgroupns) config.cgroupns = cgroupns;
  resolveRunFlags(opts, config, userEnv);
  Object.assign(config, resolvePublishOptions(opts));
  if (config.publish || config.publishAll) {
    // Docker: published ports are discarded (with a warning) on the host's network, a conflict in none or a joined one.
    if (config.network === 'host') {
      delete config.publish;
      delete config.publishAll;
    } else if (isRootless() && opts.network === undefined && !config.networks) {
      // Rootless -p: the user-mode network stack that is installed (pasta, else slirp4netns), as Podman.
      config.network = userModeHelper(undefined, env.PATH ?? '', env).kind;
    } else if (!config.networks && !isUserModeNetwork(config.network)) {
      throw invalid(`conflicting options: port publishing and the container type network mode (--network ${config.network})${opts.network === undefined ? defaultNoneHint(env) : ''}`);
    }
  }
  return config;
}

/** What an image's config contributes to a container (Config.Entrypoint, Cmd, Env, WorkingDir, User). */
export interface ImageDefaults {
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  env?: string[] | null;
  workdir?: string;
  user?: string;
}

/**
 * Applies an image's defaults where the caller gave nothing, with Docker's rules: `entrypoint`
 * replaces the image's Entrypoint and drops its Cmd; a command replaces Cmd; the image's Env comes
 * after pocker's defaults and before the caller's entries; WorkingDir and User apply unless given.
 */
export function applyImageDefaults(cfg: ResolvedRunConfig, opts: RunOptions, image: ImageDefaults): ResolvedRunConfig {
  const given = opts.cmd !== undefined && opts.cmd.length > 0 ? [...opts.cmd] : undefined;
  const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint === '' ? [] : [opts.entrypoint]) : [...(image.entrypoint ?? [])];
  const cmd = given ?? (opts.entrypoint !== undefined ? [] : [...(image.cmd ?? [])]);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalid('no command specified: the image has no Entrypoint or Cmd, and none was given');
  if (args[0] === '') throw invalid(`invalid command ${show(args)}: the executable can't be empty`);
  for (const a of args) noNul(a, 'command argument');
  const imageEnv = (image.env ?? []).filter((e) => e.includes('=') && !e.includes('\0'));
  const workdir = opts.workdir !== undefined ? cfg.cwd : image.workdir ? normalisePath(image.workdir.startsWith('/') ? image.workdir : `/${image.workdir}`) : '/';
  const user = opts.user !== undefined ? cfg.user : resolveUser(image.user ?? '');
  return { ...cfg, args, env: containerEnv(cfg.userEnv, cfg.hostname, cfg.tty, imageEnv), cwd: workdir, user };
}
