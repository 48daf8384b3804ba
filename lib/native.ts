// The one loader of the native addon (pocker.node) and the pocker-init helper binary.
// node-gyp-build finds prebuilds/linux-x64/ (npm installs) or build/Release/ (source builds).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PockerError, type ErrnoCode, type SetupStep } from './errors.js';
import { packageRoot } from './paths.js';
import type { CgroupApplied, CgroupApplyOptions, CgroupInfo, LinuxResources } from './cgroup/index.js';

/** Events a running container's monitor reports, in this order: pid, [pty], started | error, exit. */
export type NativeEvent =
  | { type: 'pid'; pid: number }
  | { type: 'pty'; fd: number }
  | { type: 'started' }
  | { type: 'error'; errno: number; code: ErrnoCode; syscall: string; step: SetupStep; path: string }
  | { type: 'exit'; exitCode: number; signal: number; oomKilled: boolean }
  /** The monitor process itself was reaped (always last). `status` is its exit code or -1; `signal` 0 or the signal that killed it. */
  | { type: 'reaped'; status: number; signal: number };

export interface NativeMonitor {
  /** Host pid of the pocker-init monitor. */
  readonly pid: number;
  /** Asks the monitor to send `signal` to the container process. False when the monitor is gone. */
  kill(signal: number): boolean;
}

export interface SpawnOptions {
  /** The OCI spec document (JSON bytes), built by lib/spec/build.ts. */
  spec: Uint8Array;
  /** File descriptors that become the monitor's (and, without a tty, the container's) stdin, stdout, stderr. */
  stdio: [number, number, number];
  /** An attach client socket, handed to the (detached) monitor as its first client (`start -a`). */
  attach?: number;
  onEvent: (event: NativeEvent) => void;
}

// ---- Networking (cpp/addon/net.cpp, rtnetlink). Errors: SystemError shape with step `network`,
// `syscall` the netlink request (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_GETLINK, RTM_DELLINK...),
// `path` the link (and the address or gateway, for those requests).

/** A link of a network namespace (netLinks). `kind` is '' for a device without one (lo, a physical NIC). */
export interface NetLink {
  name: string;
  index: number;
  kind: string;
  /** The bridge (or other master) it is enslaved to. */
  master?: string;
  mtu: number;
  up: boolean;
  /** '' when it has no hardware address. */
  mac: string;
}

/** One container interface: the shape of `pocker.network.interfaces[i]` (lib/spec/pocker.ts PockerInterface). */
export interface NetInterfaceSpec {
  name: string;
  hostName: string;
  bridge: string;
  addresses: string[];
  gateway?: string;
  gateway6?: string;
  mac: string;
  mtu: number;
}

export interface NetAddress {
  /** The link's name. */
  name: string;
  /** CIDR: '172.18.0.5/16', 'fd00:1::5/64'. */
  address: string;
}

/** A unicast route of the main table. */
export interface NetRoute {
  /** CIDR; '0.0.0.0/0' or '::/0' for a default route. */
  dst: string;
  /** '' for a multipath route. */
  dev: string;
  gateway?: string;
}

/** netSnapshot(): a namespace's links, addresses and routes, read together. */
export interface NetSnapshot {
  links: NetLink[];
  addresses: NetAddress[];
  routes: NetRoute[];
}

/** One match or action of a rule of pocker's nftables table (cpp/addon/nft.cpp encodes it). */
export type NftExpr =
  | { kind: 'iifname' | 'oifname'; name: string; neq?: boolean }
  /** ip/ip6 saddr/daddr in a prefix ('10.0.0.0/24'; a single address is '/32' or '/128'). */
  | { kind: 'saddr' | 'daddr'; cidr: string }
  | { kind: 'ctDnat' }
  | { kind: 'fibLocal' }
  | { kind: 'nfproto'; family: 'ipv4' | 'ipv6' }
  | { kind: 'dport'; protocol: 'tcp' | 'udp'; port: number }
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'masquerade' }
  | { kind: 'dnat'; addr: string; port: number };

/** One message of an nftApply() batch (table family inet). */
export type NftCommand =
  | { op: 'table' }
  | { op: 'chain'; name: string; type: 'nat' | 'filter'; hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'; prio: number }
  /** Appended to the chain, or with `insert` put at its head. */
  | { op: 'rule'; chain: string; comment: string; insert?: boolean; expr: NftExpr[] }
  | { op: 'delete'; chain: string; handle: number };

/** A rule as nftList() reads it back: `expr` is the kernel's expression names (meta, cmp, nat...). */
export interface NftListedRule {
  chain: string;
  handle: number;
  comment: string;
  expr: string[];
}

export interface NativeAddon {
  /** Seals a memfd copy of pocker-init (once per process); spawn() executes that copy. */
  setInitPath(path: string): void;
  spawn(options: SpawnOptions): NativeMonitor;
  /**
   * Uses the pocker-init image of the first of these running pocker-init processes whose image is
   * a sealed memfd with exactly our bytes (so detached monitors share one copy); returns its pid, or 0.
   */
  shareInit(pids: number[]): number;
  /** A close-on-exec pipe: [readFd, writeFd]. */
  pipe(): [number, number];
  /** A connected pair of close-on-exec unix stream sockets. */
  socketpair(): [number, number];
  /** This host's cgroup layout (cpp/common/cgroup.h cgroupDetect), or the one a mountinfo text and statfs f_type give. */
  cgroupDetect(mountinfo?: string, statfsType?: number): CgroupInfo;
  /**
   * Creates the cgroups of an OCI `linux.cgroupsPath` with its `linux.resources` (an object or its
   * JSON): cpp/common/cgroup.h cgroupApply, the one translation into control files. Throws a
   * SystemError-shaped error (step `cgroup`; EOPNOTSUPP names a missing controller in `syscall`)
   * after removing what it created.
   */
  cgroupApply(cgroupsPath: string, resources: LinuxResources | string, options?: CgroupApplyOptions): CgroupApplied;
  /** open(O_WRONLY) + write of one value to a cgroup control file. */
  cgroupWrite(path: string, value: string): void;
  /** Kills what is left in a cgroup and removes it (and retries while it drains); a missing one is fine. */
  cgroupRemove(path: string): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  /**
   * Sends `signal` to the process at `pid` only if it is the one a record means: its start time
   * (field 22 of /proc/PID/stat) is `start`, or, with `start` 0, it is a child of `parent` (0: any).
   * Checked and sent through a pidfd, so a pid reused meanwhile never gets it. False when no such
   * process is there (any more). Errors have step `kill`.
   */
  signalVerified(pid: number, start: number, parent: number, signal: number): boolean;
  /**
   * Watches the process at `pid` whose start time is `start` (0: any) through a pidfd: onExit is
   * called once when it ends. An id for unwatchExit, or 0 when no such process lives. The watch
   * never keeps the process alive by itself (its poll handle is unref'd).
   */
  watchExit(pid: number, start: number, onExit: () => void): number;
  /** Ends a watch without calling it (nothing for one that has ended). */
  unwatchExit(id: number): void;
  /** The pids of the processes running a pocker-init image (/proc/PID/exe: its memfd copy or the binary), ascending. */
  pockerInitPids(): number[];
  // Networking, in the caller's network namespace unless a pid is given (then inside that process's;
  // the Node thread itself never changes namespace).
  /** The links of this namespace. */
  netLinks(): NetLink[];
  /** Creates the bridge if missing (true when created), adds the addresses it lacks, sets it up. Idempotent; a non-bridge link of that name is EEXIST. */
  netBridge(name: string, addresses: string[], mtu: number): boolean;
  /** Deletes a link (a veth's peer goes with it). False when there is none of that name. */
  netDeleteLink(name: string): boolean;
  /** pocker-init's plumbing of one interface into the running process `pid` (network connect). On error nothing is left. */
  netAttach(pid: number, iface: NetInterfaceSpec): void;
  /** Deletes the interface `name` inside pid's namespace (the pair goes with it). False when absent. */
  netDetach(pid: number, name: string): boolean;
  /** The addresses of this namespace, or of pid's. */
  netAddresses(pid?: number): NetAddress[];
  /** The main table's unicast routes (IPv4 and IPv6) of this namespace. */
  netRoutes(): NetRoute[];
  /**
   * Can this process bind `host:port` (an IP address, or '0.0.0.0' / '::' for all)? 0 when it can,
   * else the errno of the failing call (EADDRINUSE: something of this host holds it). Binds as
   * Node's net and dgram would (TCP: SO_REUSEADDR, bind, listen), and closes the socket at once.
   */
  netBindTest(protocol: 'tcp' | 'udp', host: string, port: number): number;
  /** netLinks(), netAddresses() and netRoutes() of this namespace at once: one socket, one link dump. */
  netSnapshot(): NetSnapshot;
  /**
   * nf_tables (cpp/addon/nft.cpp): `commands` as ONE netlink batch on the inet table `table`, applied
   * atomically by the kernel. Errors: SystemError shape, step `network`, syscall socket/sendmsg/recvmsg,
   * plus `index` (the failed command; -1: the batch) and `request` (NFT_MSG_NEWRULE...).
   */
  nftApply(table: string, commands: NftCommand[]): void;
  /** The rules of the inet table `table` (none when there is no such table). */
  nftList(table: string): NftListedRule[];
  /** Clears FD_CLOEXEC, or sets it. */
  setCloexec(fd: number, on: boolean): void;
  /**
   * flock(2): a shared or exclusive lock on an open file. With `wait` false (LOCK_NB) returns false
   * when another open file description holds a conflicting lock; with `wait` true it blocks the
   * calling thread until granted. Released by closing the fd. Errors have step `lock`.
   */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  /**
   * openat2(rootFd, path, { flags | O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS }):
   * `path` and every symlink met on the way (absolute ones, "..") are resolved as if `rootFd` were
   * "/" — e.g. a dir fd of /proc/<pid>/root, for `cp` into and out of a container — so nothing
   * resolves outside it. `flags` are open(2)'s (fs.constants), `mode` applies with O_CREAT.
   * Returns the new fd (close it with fs.closeSync). Errors: SystemError shape, step `copy`.
   */
  fsOpenInRoot(rootFd: number, path: string, flags: number, mode: number): number;
  /**
   * A whole file as a one-byte (latin1) string, read into memory the kernel populates in one call;
   * an external string over it where Node has them (no copy into V8's heap). bin/pocker.cjs reads
   * the CLI's bundle with it. As many bytes as fstat gives (a procfs file reads as empty), or fewer
   * when the file shrank meanwhile. Errors: SystemError shape, step `cli`.
   */
  readFileLatin1(path: string): string;
  /** A whole file as a Buffer over memory of its own, populated in one call (the bundle's code cache). Errors as readFileLatin1. */
  readFileBytes(path: string): Buffer;

  // Root-relative filesystem primitives (layer extraction; cpp/addon/extract.cpp). `rootFd` comes
  // from fsOpenRoot; every `path` is relative to it ("" or "." is the root itself, a leading "/"
  // and "." components are ignored, ".." is refused with EXDEV). No call ever follows a symlink:
  // one anywhere in the parent chain fails with ELOOP (even a symlink the caller created), the last
  // component is acted on with *at()/NOFOLLOW calls. Creating over an existing entry unlinks it
  // first (a whole directory tree too), never writes through it. Modes passed at creation are
  // subject to the umask; set them with fsChmod/fsSetMeta. Errors: SystemError shape, step `extract`.
  /** Opens a directory as a root (O_RDONLY|O_DIRECTORY|O_CLOEXEC); close it with fs.closeSync. */
  fsOpenRoot(dir: string): number;
  /** mkdir. True when created, false when a directory was already there; an existing symlink is ELOOP, anything else EEXIST. */
  fsMkdir(rootFd: number, path: string, mode: number): boolean;
  /** Creates (or replaces) a regular file; returns an O_WRONLY close-on-exec fd for its content. */
  fsCreateFile(rootFd: number, path: string, mode: number): number;
  /** Creates (or replaces) a symlink; `target` is stored as is, never resolved. */
  fsSymlink(rootFd: number, path: string, target: string): void;
  /** Creates (or replaces) a hard link to `target`, itself resolved beneath the root with no symlinks (a symlink target is linked itself). */
  fsLink(rootFd: number, path: string, target: string): void;
  /** Creates (or replaces) a device node or fifo: `mode` includes S_IFCHR, S_IFBLK or S_IFIFO. */
  fsMknod(rootFd: number, path: string, mode: number, major: number, minor: number): void;
  /** lchown: a symlink's own owner. -1 leaves an id unchanged. */
  fsLchown(rootFd: number, path: string, uid: number, gid: number): void;
  /** chmod of the entry itself (07777 bits); a symlink is refused with ELOOP. */
  fsChmod(rootFd: number, path: string, mode: number): void;
  /** utimensat(AT_SYMLINK_NOFOLLOW) in nanoseconds since the epoch; null leaves a time unchanged. */
  fsUtimes(rootFd: number, path: string, atimeNs: bigint | null, mtimeNs: bigint | null): void;
  /** lsetxattr (e.g. security.capability, trusted.overlay.opaque). */
  fsLsetxattr(rootFd: number, path: string, name: string, value: Uint8Array): void;
  /** lgetxattr; null when the entry has no such attribute. */
  fsLgetxattr(rootFd: number, path: string, name: string): Buffer | null;
  /** Removes a file or a whole directory tree (fd-relative, no symlink followed). False when nothing was there. */
  fsRemove(rootFd: number, path: string): boolean;
  /**
   * Applies, in this order, owner (lchown), mode (refused on a symlink), xattrs and times to one
   * entry. Returns the xattr names the filesystem refused with EOPNOTSUPP or EPERM (not applied);
   * any other error throws.
   */
  fsSetMeta(
    rootFd: number,
    path: string,
    meta: { uid?: number; gid?: number; mode?: number; xattrs?: Record<string, Uint8Array>; atimeNs?: bigint | null; mtimeNs?: bigint | null },
  ): string[];
  /** fsSetMeta on an open file (fchown, fchmod, fsetxattr, futimens). */
  fsSetMetaFd(
    fd: number,
    meta: { uid?: number; gid?: number; mode?: number; xattrs?: Record<string, Uint8Array>; atimeNs?: bigint | null; mtimeNs?: bigint | null },
  ): string[];
}

let cached: NativeAddon | undefined;

interface NodeGypBuild {
  (dir: string): unknown;
  resolve(dir: string): string;
}

/**
 * Where the addon is: a source build (build/Release, preferred, as node-gyp-build does) or the
 * shipped prebuild. These two paths are checked directly: node-gyp-build's general search costs
 * 4-6 ms of every CLI start here, so it is only the fallback for other layouts.
 */
function addonPath(): string {
  for (const dir of [join(packageRoot, 'build', 'Release'), join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)]) {
    const file = join(dir, 'pocker.node');
    if (existsSync(file)) return file;
  }
  return (createRequire(join(packageRoot, 'package.json'))('node-gyp-build') as NodeGypBuild).resolve(packageRoot);
}

/** The addons this process has loaded, by path: one registry for every copy of this module (below). */
const LOADED = Symbol.for('pocker.native.loaded');

/**
 * Loads the addon at `path` with process.dlopen, once per process. A CommonJS require of the same
 * absolute path would first resolve it as a module (the package scope's package.json looked up,
 * read and parsed: ~0.6 ms of every CLI start that loads the addon, here), for a path already
 * final. Every copy of this module in the process (the bundled CLI's, the ES modules') shares the
 * one instance through a registry on globalThis, as Node's module cache did.
 */
function loadAddon(path: string): NativeAddon {
  const registry = ((globalThis as { [LOADED]?: Map<string, NativeAddon> })[LOADED] ??= new Map());
  let addon = registry.get(path);
  if (!addon) {
    const mod = { exports: {} };
    process.dlopen(mod, path);
    addon = mod.exports as NativeAddon;
    registry.set(path, addon);
  }
  return addon;
}

/** Loads the addon and points it at the pocker-init built with it. Throws a clear error when neither a prebuild nor a build exists. */
export function native(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  const addon = loadAddon(path);
  addon.setInitPath(initPath(path));
  cached = addon;
  return addon;
}

/** The addon when this process has loaded it already (native()), else undefined: nothing is loaded. */
export function loadedNative(): NativeAddon | undefined {
  return cached;
}

/** The pocker-init binary that native() runs (for tests and tools that execute it directly). */
export function nativeInitPath(): string {
  return initPath(addonPath());
}

/** pocker-init lives beside the addon it was built with (prebuilds/linux-x64/ or build/Release/), so the two always match; POCKER_INIT overrides. */
export function initPath(addonPath: string): string {
  const path = process.env.POCKER_INIT || join(dirname(addonPath), 'pocker-init');
  if (!existsSync(path)) {
    throw new PockerError(`pocker-init not found at ${path} (run \`npm run build:native\`)`, { code: 'ENOENT', step: 'spawn', path });
  }
  return path;
}
