// Public types of the library API. Option names mirror the CLI's flags (camelCase).
import type { Readable, Writable } from 'node:stream';

/** A bind mount (`-v src:dst[:ro]`). */
export interface VolumeSpec {
  /** Absolute host path (must exist), or a volume's name (made when missing). */
  source: string;
  /** Absolute path inside the container (not under /proc or /sys, not `/`). */
  target: string;
  readonly?: boolean;
}

/** A tmpfs mount (`--tmpfs /path[:options]`). */
export interface TmpfsSpec {
  target: string;
  /** mount(8) data, e.g. `size=64m,mode=1777`. Only size, mode, uid, gid, nr_inodes, noexec, nosuid, nodev, exec, suid, dev, ro, rw are accepted. */
  options?: string;
}

/** A container's network mode (RunOptions.network). */
export type NetworkMode = 'bridge' | 'none' | 'host' | `container:${string}` | (string & {});

export interface RunOptions {
  /**
   * Image reference (`alpine`, `alpine:3.20`, `ghcr.io/o/r:tag`, `localhost:5000/x@sha256:…`), or the
   * built-in `host` image (a read-only view of the host's `/`). Exactly one of `image` and `rootfs`.
   * The image's Entrypoint, Cmd, Env, WorkingDir and User apply unless given here.
   */
  image?: string;
  /** When to pull the image: `missing` (default), `always` or `never`. */
  pull?: 'missing' | 'always' | 'never';
  /** Registries (`host[:port]`) reached over plain HTTP; loopback registries always are. */
  insecureRegistries?: string[];
  /** Pull progress, when run() pulls the image. */
  onPull?: (event: PullProgress) => void;
  /** An exploded root filesystem directory, used like an image (never modified). */
  rootfs?: string;
  /** Command and arguments. Defaults to `/bin/sh`. */
  cmd?: string[];
  /** Replaces the image's entrypoint (the command's arguments follow it). */
  entrypoint?: string;
  /** Environment, as `KEY=VALUE` strings or a record. `PATH`, `HOSTNAME` and `HOME` get defaults. */
  env?: string[] | Record<string, string>;
  /** Files of `KEY=VALUE` lines (Docker's --env-file format). */
  envFile?: string[];
  /** Working directory inside the container (absolute); created when missing. */
  workdir?: string;
  /** `uid[:gid]`, or a user (and group) name from the rootfs' /etc/passwd and /etc/group. */
  user?: string;
  hostname?: string;
  /** Container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters. */
  name?: string;
  /** Keep stdin open (`-i`). The library gives `stdin` as a writable stream. */
  interactive?: boolean;
  /** Allocate a pty (`-t`). stdout then carries the terminal's output; stderr is empty. */
  tty?: boolean;
  /** Initial terminal size for `tty`. */
  ttySize?: { rows: number; cols: number };
  readOnly?: boolean;
  /** `-v`: `/host/path:/ctr[:ro]` (a bind), `NAME:/ctr[:ro]` (a named volume, made when missing), `/ctr` (an anonymous volume). */
  volumes?: Array<string | VolumeSpec>;
  tmpfs?: Array<string | TmpfsSpec>;
  /**
   * `bridge` (the default network, and the default mode for root, as Docker's; a rootless caller's
   * default is `none`, and `-p` alone picks `pasta`, else `slirp4netns` ($POCKER_ROOTLESS_NETWORK chooses); $POCKER_DEFAULT_NETWORK=none|bridge overrides both),
   * `none` (a private network namespace with only loopback), `host`, `container:NAME|ID` (join that
   * running container's network namespace) or a user-defined network's name or id. Several
   * networks (bridge and user-defined ones): one interface each, eth0, eth1 … in order.
   */
  network?: NetworkMode | NetworkMode[];
  /** `--ip`/`--ip6`: the address on the first network (user-defined networks only). */
  ip?: string;
  ip6?: string;
  /** `--network-alias`: more names of the container on its first (user-defined) network. */
  networkAliases?: string[];
  /** `--mac-address` of the first interface. */
  macAddress?: string;
  /** `--add-host HOST:IP` lines of the container's /etc/hosts. */
  addHosts?: string[];
  /** `--dns`, `--dns-search`, `--dns-option`: the container's /etc/resolv.conf. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  // --- Published ports (lib/network/ports.ts) ---
  /**
   * `-p` values: `[IP:][HOST_PORT[-HOST_PORT]:]CONTAINER_PORT[-CONTAINER_PORT][/tcp|/udp]` (IPv6
   * host addresses in brackets; `-p 80` publishes on a free host port). Needs a bridge network.
   */
  publish?: string[];
  /** `-P`: publish every port the image exposes (Config.ExposedPorts) on a free host port. */
  publishAll?: boolean;
  // --- end of published ports ---
  /** Run an init as PID 1 that reaps zombies and forwards signals. */
  init?: boolean;
  /** Memory limit: bytes or a string like `512m`, `1g` (at least 6 MB). */
  memory?: number | string;
  /** Memory + swap limit (Docker's semantics): bytes, a string, or -1 for unlimited swap. */
  memorySwap?: number | string;
  /** CPU quota in CPUs, e.g. 0.5 (more than 0, at most the number of CPUs). */
  cpus?: number | string;
  /** Relative CPU weight (2..262144). */
  cpuShares?: number;
  /** CPUs the container may use, e.g. `0-1` or `0,2`. */
  cpusetCpus?: string;
  /** Maximum number of tasks; -1 or 0 for unlimited. */
  pidsLimit?: number;
  capAdd?: string[];
  capDrop?: string[];
  /**
   * Docker's `--security-opt` values: `no-new-privileges[:true|false]` and
   * `seccomp=unconfined|builtin|PROFILE.json` (a profile in Docker's format; the default is Docker's profile).
   */
  securityOpt?: string[];
  /** Remove the container's writable layer and state when it ends (the library always cleans up its kernel objects). */
  rm?: boolean;
  /**
   * Run in the background (`-d`): the container's own pocker-init monitor outlives this process,
   * writes its output to a json-file log (`containers/<id>/<id>-json.log`) and its status to
   * `containers/<id>/state.json`. stdio, `tty` and `interactive` don't apply.
   */
  detach?: boolean;
  /**
   * Restart policy of a detached container, carried out by its monitor (`--restart`): `no`
   * (default), `on-failure[:N]` (a non-zero exit, at most N times), `always`, `unless-stopped`
   * (as always; `pocker stop` ends both). Backoff: 100 ms, doubling, at most a minute.
   */
  restart?: string;
  /**
   * json-file log options (`--log-opt`): `maxSize` (bytes or `10m`; rotate past it; -1: unbounded)
   * and `maxFile` (files kept; default 1 with a `maxSize`). Without either: 10m and 5 files.
   */
  logOpts?: { maxSize?: number | string; maxFile?: number };
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  /** cgroup parent below the root of each hierarchy (default `pocker`). */
  cgroupParent?: string;
  /**
   * Standard streams. `pipe` (default for the library) gives Node streams on the handle;
   * `inherit` hands this process's fd straight to the container; `ignore` is /dev/null;
   * a number is any open file descriptor.
   */
  stdio?: StdioOption | [StdioOption, StdioOption, StdioOption];

  // --- cgroup namespace (/sys/fs/cgroup view) ---
  /**
   * `--cgroupns`: `private` (a cgroup namespace of its own: /proc/self/cgroup reads `0::/` on v2) or
   * `host`. Default as Docker's: private on cgroup v2, host on v1.
   */
  cgroupns?: 'host' | 'private';

  // --- User namespace (issue 13) ---
  /**
   * `--userns`: `host` (default: the container's root is the host's root) or `auto` / `auto:size=N`
   * (a user namespace of its own, with N ids (default 65536) from the `pocker` entry of /etc/subuid
   * and /etc/subgid, disjoint from every other live container's of this root). Not with uidmap/gidmap.
   */
  userns?: string;
  /**
   * `--uidmap`: a user namespace with these maps, podman's `CONTAINER:HOST:SIZE` strings or objects
   * (container ids [CONTAINER, CONTAINER+SIZE) are host ids [HOST, HOST+SIZE)). Container id 0 must be mapped.
   */
  uidmap?: Array<string | IdMapping>;
  /** `--gidmap`: as uidmap, for group ids; absent with uidmap: the uid maps apply to gids too (podman's rule). */
  gidmap?: Array<string | IdMapping>;
  // --- Docker's run flags of issue 12 (i12-flags): labels, stop, limits, devices, namespaces, mounts ---
  /** Labels (`--label k=v`): a record, or `KEY=VALUE` / `KEY` (empty value) strings. Shown by inspect (Config.Labels), matched by `ps --filter label=`. */
  labels?: Record<string, string> | string[];
  /** Files of labels (`--label-file`): one `KEY[=VALUE]` per line; blank lines and `#` comments skipped. Given labels win. */
  labelFile?: string[];
  /** The signal `stop` sends first (`--stop-signal`): a name (`SIGUSR1`, `USR1`) or number; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string | number;
  /** Seconds `stop`/`restart` wait before SIGKILL when they are not given a timeout (`--stop-timeout`; default 10, -1 waits forever). */
  stopTimeout?: number;
  /** Resource limits of the container's processes (`--ulimit nofile=1024:2048`): Docker's `NAME=SOFT[:HARD]` strings or objects (-1 = unlimited). */
  ulimits?: Array<string | UlimitSpec>;
  /** Size of /dev/shm (`--shm-size`): bytes or a string like `128m` (default 64m). */
  shmSize?: number | string;
  /** Host devices (`--device /dev/fuse[:/dev/fuse[:rwm]]`): the host's node is made available at the container path. */
  devices?: Array<string | DeviceMapping>;
  /** Supplementary groups of the container's process (`--group-add`): gids, or group names of the container's /etc/group. */
  groupAdd?: Array<string | number>;
  /** Namespaced kernel parameters (`--sysctl net.ipv4.ip_forward=1`): Docker's allowed set (IPC keys, fs.mqueue.*, net.*). */
  sysctls?: Record<string, string> | string[];
  /** Disable the OOM killer for the container (`--oom-kill-disable`; cgroup v1 only — ignored on v2, as Docker). */
  oomKillDisable?: boolean;
  /** Memory soft limit (`--memory-reservation`): bytes or `256m` (at least 6 MB, at most the memory limit). */
  memoryReservation?: number | string;
  /** PID namespace (`--pid`): `host` (the host's), or `container:NAME|ID` (a running container's). Default: a private one. */
  pid?: 'host' | `container:${string}`;
  /**
   * IPC namespace (`--ipc`): `private` (default), `shareable` (others may join it), `none` (private,
   * without /dev/shm), `host`, or `container:NAME|ID` (a shareable, running, detached container's:
   * its SysV IPC and POSIX message queues; /dev/shm stays the container's own tmpfs).
   */
  ipc?: 'private' | 'shareable' | 'none' | 'host' | `container:${string}`;
  /** UTS namespace (`--uts`): `host` (the host's hostname; `hostname` can't be given). Default: a private one. */
  uts?: 'host';
  /** Mounts in Docker's `--mount` syntax (`type=bind,src=/a,dst=/b,ro`) or as objects. `volume` mounts are named (`source`) or anonymous volumes. */
  mounts?: Array<string | MountSpec>;
}

/** A `--ulimit` (Docker Engine API's Ulimit). */
/** One line of a user namespace's id map (OCI's LinuxIDMapping). */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface UlimitSpec {
  /** `nofile`, `nproc`, `core`, `memlock`, `stack`, … (setrlimit's names without RLIMIT_, lower case). */
  name: string;
  /** -1 = unlimited. */
  soft: number;
  /** Defaults to soft; -1 = unlimited. */
  hard?: number;
}

/** A `--device` (Docker Engine API's DeviceMapping). */
export interface DeviceMapping {
  /** A character or block device on the host (or a directory of them). */
  pathOnHost: string;
  /** Where it appears in the container (default: pathOnHost). */
  pathInContainer?: string;
  /** Docker's cgroup permissions `rwm` (any of r, w, m). pocker puts containers in no device cgroup: accepted and recorded, not enforced. */
  cgroupPermissions?: string;
}

/** A `--mount` (Docker Engine API's Mount). */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** bind: an absolute host path (must exist). volume: a volume name (made when missing), or absent for an anonymous volume. tmpfs: absent. */
  source?: string;
  /** Absolute path in the container. */
  target: string;
  readonly?: boolean;
  /** bind: `rprivate` (default), `private`, `rshared`, `shared`, `rslave`, `slave`. */
  bindPropagation?: string;
  /** tmpfs: size in bytes or `64m` (default unlimited: half of RAM). */
  tmpfsSize?: number | string;
  /** tmpfs: the mode of its root (default 1777). */
  tmpfsMode?: number;
  /** volume (`volume-nocopy`): never fill the volume from the image's content at the target. */
  volumeNocopy?: boolean;
}

export type StdioOption = 'pipe' | 'inherit' | 'ignore' | number;

/** Pull progress, as Docker shows it: a status per layer (`id` = the first 12 hex digits of its digest). */
export type PullProgress =
  | { type: 'resolving'; reference: string }
  | { type: 'layer'; id: string; status: 'Waiting' | 'Downloading' | 'Verifying Checksum' | 'Download complete' | 'Extracting' | 'Pull complete' | 'Already exists'; current?: number; total?: number }
  | { type: 'done'; reference: string; digest: string; id: string; upToDate: boolean };

/** How a container ended. */
export interface ExitStatus {
  /** The exit code, or 128+N when killed by signal N (Docker's convention). */
  exitCode: number;
  /** The signal that killed the container's process, e.g. `SIGKILL`, or null. */
  signal: NodeJS.Signals | null;
  /** True when the kernel's OOM killer ended a process of the container (memory limit reached). */
  oomKilled: boolean;
}

/** A running container started by `run()`. */
export interface Container {
  /** The container's id (64 hex characters). */
  readonly id: string;
  readonly name: string;
  /** Host pid of the container's first process. */
  readonly pid: number;
  /** Writable when `interactive` (or stdio[0] is `pipe`), else null. With `tty`, it writes to the terminal. */
  readonly stdin: Writable | null;
  /** The container's stdout (with `tty`: the terminal's output), when piped. */
  readonly stdout: Readable | null;
  /** The container's stderr, when piped (null with `tty`). */
  readonly stderr: Readable | null;
  /** Resolves when the container has ended and its cgroups, mounts and (with `rm`) files are gone. */
  wait(): Promise<ExitStatus>;
  /** Sends a signal (default SIGTERM) to the container's first process. */
  kill(signal?: NodeJS.Signals | number): void;
  /** With `tty`: sets the terminal size. */
  resize(rows: number, cols: number): void;
}

// The error's shape, codes and steps are defined once, in errors.ts.
export type { PockerErrorCode, PockerErrorShape, SetupStep } from './errors.js';
