// The `pocker` section of a container's config.json: what the OCI runtime spec does not describe
// (overlay layers, Docker's `user[:group]` string, image volumes, the monitor, exec mode, the
// cgroups the TypeScript side made). pocker-init reads it beside the OCI fields; `container` is the
// store's and pocker-init ignores it.

/** Schema version of pocker's records (config.json and state.json). Absent = 1 (the old records). */
export const POCKER_SCHEMA_VERSION = 2;

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

/** The overlay pocker-init assembles at `root.path`. Absent: `root.path` is a ready rootfs (an OCI bundle). */
export interface PockerRootfs {
  /** Lower dirs, top-most first. */
  lowers: string[];
  /** With `scratchUpper`, a tmpfs is mounted here and holds upper/ and work/ (the host image: overlayfs refuses an upper inside a lower). */
  upper: string;
  /** '' with `scratchUpper`. */
  work: string;
  scratchUpper: boolean;
}

/** An image VOLUME's anonymous volume: the mount at `destination` (a bind of `source`) is filled from the image's content there when empty. */
export interface PockerImageVolume {
  source: string;
  destination: string;
}

export interface PockerDetach {
  /** containers/<id>: the monitor keeps state.json here ('' for `exec -d`). */
  stateDir: string;
  /** json-file log of the container's output ('' for `exec -d`). */
  logPath: string;
  /** Rotate past this many bytes (0 = never). */
  logMaxSize: number;
  /** Log files kept, the current one included (>= 1). */
  logMaxFiles: number;
  /** --rm: remove stateDir when the container has ended. */
  removeOnExit: boolean;
  /** Unix socket the monitor serves attach clients on. */
  attachSocket?: string;
  /** The container's stdin is a pipe fed from attached clients. */
  interactive?: boolean;
  /** The first attached client's end of input closes the container's stdin. */
  stdinOnce?: boolean;
  /** fd 5 is an attach client already (`start -a`). */
  attachFd?: boolean;
}

export interface PockerMonitor {
  /** Kill the container when the controlling socket closes (the caller is gone). */
  foreground: boolean;
  /** The monitor leaves the caller's session and owns the container's output. */
  detach?: PockerDetach;
  /** The root's events.log: the monitor records `die` and `oom` (and restarts' `start`) there (lib/state/events.ts). */
  events?: { log: string; id: string; attributes: Record<string, string> };
  /** --restart (detached containers); `max` is on-failure's maximum (0 = no limit). */
  restart?: { policy: RestartPolicyName; max: number };
}

/** The cgroups the TypeScript side created for the container (pocker-init joins and removes them). */
export interface PockerCgroups {
  /** The cgroup2 leaf the container is born in (CLONE_INTO_CGROUP): v2's, or a v1 hybrid's. */
  v2Leaf?: string;
  /** v1: `tasks` files the container's first process writes 0 (itself) into. */
  v1Tasks: string[];
  /** v1 memory.oom_control or v2 memory.events ("oom_kill N"). */
  oom?: { version: 1 | 2; path: string };
  /** Dirs removed, in order, after the container has ended. */
  cleanup: string[];
  /**
   * v1: the container's /sys/fs/cgroup (the OCI mount of type `cgroup`): per joined hierarchy,
   * `name` (its mount point's basename: `cpu,cpuacct`, `memory`) and `source`, the container's leaf,
   * bound there; co-mounted controllers get a link each (`cpu` -> `cpu,cpuacct`). v2 mounts cgroup2.
   */
  views?: { name: string; source: string }[];
}

/** One interface pocker-init plumbs into the container's network namespace (cpp/init/net.cpp). */
export interface PockerInterface {
  name: string;
  hostName: string;
  bridge: string;
  addresses: string[];
  gateway?: string;
  gateway6?: string;
  mac: string;
  mtu: number;
}

/** pocker.network: the interfaces, and the argv the monitor runs at the container's last end. */
export interface PockerNetwork {
  interfaces: PockerInterface[];
  /** An argv the monitor runs with the container's pid appended before the workload may run (a user-mode stack: pasta). */
  setup?: string[];
  /**
   * How `setup` runs: unset, it forks a daemon and ends (pasta); 'slirp4netns': it stays in the
   * foreground as the monitor's child (--ready-fd, --exit-fd given by the monitor) until the run ends.
   */
  setupKind?: 'slirp4netns';
  /** slirp4netns: add_hostfwd requests (JSON) the monitor sends to its API socket before the workload runs. */
  forwards?: string[];
  cleanup?: string[];
}

export interface PockerSection<C = unknown> {
  version: typeof POCKER_SCHEMA_VERSION;
  rootfs?: PockerRootfs;
  /** Docker's `user[:group]` (names or numbers), resolved inside the rootfs; replaces process.user when set. */
  user?: string;
  volumes?: PockerImageVolume[];
  /** --init: a reaping PID 1 runs the workload as its child. */
  init?: boolean;
  /**
   * Where pocker-init caches the BPF program compiled from `linux.seccomp` (an absolute path in
   * the store, named by the profile's hash): read when valid, written after a compile.
   */
  seccompCache?: string;
  monitor: PockerMonitor;
  /** exec mode: join the running container whose first process has this host pid (only `process` and this section apply). */
  exec?: { pid: number };
  cgroups?: PockerCgroups;
  network?: PockerNetwork;
  /** The store's record (pocker-init ignores it). */
  container?: C;
}
