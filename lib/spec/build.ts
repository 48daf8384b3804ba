// buildSpec(): the OCI runtime-spec document (plus the pocker section) of a container, from its
// resolved run options, its layout on disk and its cgroup plan. Pure: no I/O, so the store can
// write exactly the document that pocker-init is handed.
import { toOciResources } from '../cgroup/resources.js';
import { invalid } from '../errors.js';
import type { CgroupPlan } from '../cgroup/index.js';
import type { ResolvedMount, ResolvedRunConfig } from '../runtime/options.js';
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, MASKED_PATHS, READONLY_PATHS, capNames } from './defaults.js';
import { OCI_VERSION, type LinuxNamespace, type LinuxSeccomp, type Mount, type Process, type Spec } from './oci.js';
import { defaultOciSeccomp, seccompKey, toOciSeccomp, type SeccompChoice } from './seccomp.js';
import { POCKER_SCHEMA_VERSION, type PockerCgroups, type PockerImageVolume, type PockerSection, type RestartPolicyName } from './pocker.js';

/** Where a container's layers live (run.ts decides; see its layout()). */
export interface SpecLayout {
  /** containers/<id> */
  dir: string;
  /** Overlay lower dirs, top-most first. */
  lowers: string[];
  scratchUpper: boolean;
  upper: string;
  work: string;
  /** Mount point of the merged root. */
  rootfs: string;
}

export interface BuildOptions<C = unknown> {
  /** Detached containers: the first attached client's end of input closes stdin (create -i). */
  stdinOnce?: boolean;
  /** fd 5 is an attach client (`start -a`). */
  attachFd?: boolean;
  /** The store's record, kept in the pocker section (pocker-init ignores it). */
  container?: C;
  /** Container paths masked on top of the defaults: pocker's own stores seen through a host rootfs (lib/spec/hidden.ts). */
  hide?: string[];
}

const RESTART_POLICIES: readonly RestartPolicyName[] = ['no', 'on-failure', 'always', 'unless-stopped'];

/** Mount points sorted so that parents are mounted before their children (stable otherwise). */
export function byDepth<T extends { destination: string }>(mounts: T[]): T[] {
  const depth = (p: string) => p.split('/').filter(Boolean).length;
  return mounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
}

/** A resolved volume or tmpfs as an OCI mount. */
function ociMount(m: ResolvedMount): Mount {
  if (m.kind === 'tmpfs') {
    // data already holds the merged flags (nosuid/suid, nodev, exec/noexec) and tmpfs options.
    const options = m.data === '' ? [] : m.data.split(',');
    if (m.readonly) options.push('ro');
    return { destination: m.dst, type: 'tmpfs', source: 'tmpfs', options };
  }
  // Volumes are nodev (no device cgroup; pocker-init keeps a device node the user passes usable).
  // Bound recursively, so nodev and ro are recursive too (rnodev, rro: mount_setattr AT_RECURSIVE,
  // as Docker >= 25 does for ro): a mount under the source (-v /:/host:ro sees the host's /proc,
  // /sys/fs/cgroup, /dev) is as read-only and device-less as the volume itself.
  const options = ['rbind', 'nodev', 'rnodev', ...(m.readonly ? ['ro', 'rro'] : [])];
  return { destination: m.dst, type: 'bind', source: m.src, options };
}

/** The pocker section's view of a cgroup plan. */
export function specCgroups(plan: CgroupPlan): PockerCgroups {
  return {
    ...(plan.v2Leaf ? { v2Leaf: plan.v2Leaf } : {}),
    v1Tasks: plan.v1Tasks,
    ...(plan.oomFile ? { oom: { version: plan.oomFile.version, path: plan.oomFile.path } } : {}),
    cleanup: plan.leafDirs,
    ...(plan.views?.length ? { views: plan.views } : {}),
  };
}

function processOf(cfg: Pick<ResolvedRunConfig, 'args' | 'env' | 'cwd' | 'tty' | 'ttySize' | 'caps' | 'noNewPrivs'>): Process {
  const caps = capNames(cfg.caps);
  return {
    terminal: cfg.tty,
    ...(cfg.ttySize ? { consoleSize: { height: cfg.ttySize.rows, width: cfg.ttySize.cols } } : {}),
    // The real identity is pocker.user, resolved inside the rootfs by pocker-init.
    user: { uid: 0, gid: 0, umask: 0o022 },
    args: cfg.args,
    env: cfg.env,
    cwd: cfg.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
    noNewPrivileges: cfg.noNewPrivs,
  };
}

/** Docker's default profile converted, per bounding set (a container start pays no conversion). */
const defaultSeccomps = new Map<bigint, LinuxSeccomp>();
const seccompKeys = new WeakMap<LinuxSeccomp, string>();

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    // Indexes and for-in, not Object.values: no array copied per object and array (the default
    // profile's ~400 syscall names were ~20 KB of garbage in every run, issue 12).
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) deepFreeze(v[i]);
    else for (const k in v) deepFreeze(v[k]);
    Object.freeze(v);
  }
  return v;
}

/**
 * linux.seccomp of a container: Docker's default profile or the caller's, converted for its
 * bounding set on this machine (Docker's rules); null when unconfined. The default profile's
 * conversion is made once per bounding set and shared (frozen).
 */
export function containerSeccomp(choice: SeccompChoice | undefined, caps: bigint): LinuxSeccomp | null {
  // A record written before seccomp existed has no choice: it gets the default, as new containers do.
  const c = choice ?? { kind: 'default' };
  if (c.kind === 'unconfined') return null;
  if (c.kind === 'custom') return toOciSeccomp(c.profile, { caps: capNames(caps) });
  let s = defaultSeccomps.get(caps);
  if (!s) {
    s = deepFreeze(defaultOciSeccomp({ caps: capNames(caps) }));
    defaultSeccomps.set(caps, s);
  }
  return s;
}

/** Where pocker-init caches the program compiled from `s` (the store's seccomp/ directory). */
export function seccompCachePath(root: string, s: LinuxSeccomp): string {
  let key = seccompKeys.get(s);
  if (key === undefined) {
    key = seccompKey(s);
    seccompKeys.set(s, key);
  }
  return `${root}/seccomp/${key}.bpf`;
}

/** Docker's attributes of a container's events: its image (as given) and name. */
export function eventAttributes(cfg: Pick<ResolvedRunConfig, 'rootfs' | 'name'>): Record<string, string> {
  const r = cfg.rootfs;
  return { image: r.kind === 'image' ? r.reference : r.kind === 'host' ? 'host' : r.path, name: cfg.name };
}

/** The document pocker-init runs a container from (run, start). */
export function buildSpec<C = unknown>(cfg: ResolvedRunConfig, l: SpecLayout, plan: CgroupPlan, opts: BuildOptions<C> = {}): Spec<PockerSection<C>> {
  const namespaces: LinuxNamespace[] = [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }];
  // A network namespace of its own unless the host's (`container:` joins: withRunFlags).
  if (cfg.network !== 'host') namespaces.push({ type: 'network' });
  // Docker's --cgroupns default: private on v2, host on v1 (pocker-init makes a v1 one after joining).
  if ((cfg.cgroupns ?? (plan.version === 2 ? 'private' : 'host')) === 'private') namespaces.push({ type: 'cgroup' });
  // Filled from the image's content there while empty: image VOLUMEs, and volumes of the store (not volume-nocopy).
  const volumes: PockerImageVolume[] = cfg.mounts
    .filter((m) => m.kind === 'image-volume' || (m.kind === 'volume' && !m.volume?.nocopy))
    .map((m) => ({ source: m.src, destination: m.dst }));
  const user = byDepth(cfg.mounts.map((m) => ({ destination: m.dst, mount: ociMount(m) }))).map((x) => x.mount);
  const seccomp = containerSeccomp(cfg.seccomp, cfg.caps);
  const pocker: PockerSection<C> = {
    version: POCKER_SCHEMA_VERSION,
    rootfs: { lowers: l.lowers, upper: l.upper, work: l.work, scratchUpper: l.scratchUpper },
    user: cfg.user,
    ...(volumes.length ? { volumes } : {}),
    init: cfg.init,
    ...(seccomp ? { seccompCache: seccompCachePath(cfg.root, seccomp) } : {}),
    monitor: {
      foreground: !cfg.detach,
      events: { log: `${cfg.root}/events.log`, id: cfg.id, attributes: eventAttributes(cfg) },
      ...(cfg.restart.policy !== 0 ? { restart: { policy: RESTART_POLICIES[cfg.restart.policy]!, max: cfg.restart.max } } : {}),
      ...(cfg.detach
        ? {
            detach: {
              stateDir: l.dir,
              logPath: `${l.dir}/${cfg.id}-json.log`,
              logMaxSize: cfg.log.maxSize,
              logMaxFiles: cfg.log.maxFiles,
              removeOnExit: cfg.rm,
              attachSocket: `${l.dir}/attach.sock`,
              interactive: cfg.interactive,
              stdinOnce: !!opts.stdinOnce,
              attachFd: !!opts.attachFd,
            },
          }
        : {}),
    },
    cgroups: specCgroups(plan),
    ...(opts.container !== undefined ? { container: opts.container } : {}),
  };
  return withRunFlags(cfg, {
    ociVersion: OCI_VERSION,
    process: processOf(cfg),
    root: { path: l.rootfs, readonly: cfg.readOnly },
    hostname: cfg.hostname,
    mounts: [...DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] })), ...user],
    annotations: {},
    linux: {
      namespaces,
      resources: toOciResources(cfg.resources),
      cgroupsPath: `${cfg.cgroupParent}/${cfg.id}`,
      devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
      maskedPaths: [...MASKED_PATHS, ...(opts.hide ?? [])],
      readonlyPaths: [...READONLY_PATHS],
      rootfsPropagation: 'rslave',
      ...(seccomp ? { seccomp } : {}),
    },
    pocker,
  });
}

// ---------------------------------------------------------------------------------------------
// Docker's run flags of issue 12 (i12-flags): namespaces (--pid, --ipc, --uts), /dev/shm
// (--shm-size, --ipc host|none), devices, rlimits, supplementary groups, sysctls, bind
// propagation. Applied to the document buildSpec made; pocker-init carries each out.

/** Replaces namespace `type`: none (`host`), a join (`path`), or a new one. */
function setNamespace(namespaces: LinuxNamespace[], type: LinuxNamespace['type'], mode: 'host' | 'new' | { path: string }): LinuxNamespace[] {
  const at = namespaces.findIndex((n) => n.type === type);
  const rest = namespaces.filter((n) => n.type !== type);
  if (mode === 'host') return rest;
  const ns: LinuxNamespace = mode === 'new' ? { type } : { type, path: mode.path };
  rest.splice(at < 0 ? rest.length : at, 0, ns);
  return rest;
}

/** The join path of a `container:` mode (lib/runtime/namespaces.ts resolves it right before a start). */
function joinPath(cfg: ResolvedRunConfig, kind: 'pid' | 'ipc', mode: string): { path: string } {
  const p = cfg.joins?.[kind];
  if (!p) throw invalid(`--${kind} ${mode}: the container to join was not resolved`);
  return { path: p };
}

export function withRunFlags<S extends Spec<unknown>>(cfg: ResolvedRunConfig, spec: S): S {
  const linux = spec.linux ?? (spec.linux = {});
  let namespaces = linux.namespaces ?? [];
  if (cfg.pidMode === 'host') namespaces = setNamespace(namespaces, 'pid', 'host');
  else if (cfg.pidMode?.startsWith('container:')) namespaces = setNamespace(namespaces, 'pid', joinPath(cfg, 'pid', cfg.pidMode));
  if (cfg.ipcMode === 'host') namespaces = setNamespace(namespaces, 'ipc', 'host');
  else if (cfg.ipcMode?.startsWith('container:')) namespaces = setNamespace(namespaces, 'ipc', joinPath(cfg, 'ipc', cfg.ipcMode));
  if (cfg.network.startsWith('container:')) {
    const p = cfg.joins?.net;
    if (!p) throw invalid(`--network ${cfg.network}: the container to join was not resolved`);
    namespaces = setNamespace(namespaces, 'network', { path: p });
  }
  if (cfg.utsMode === 'host') {
    namespaces = setNamespace(namespaces, 'uts', 'host');
    // The host's name is the host's: pocker-init must not set one.
    delete spec.hostname;
  }
  // --userns / --uidmap (issue 13): a user namespace of its own, first (the others are made with
  // it and owned by it), with the maps its record holds (`auto`: allocated when it was created).
  if (cfg.usernsMaps) {
    namespaces = [{ type: 'user' }, ...namespaces.filter((n) => n.type !== 'user')];
    linux.uidMappings = cfg.usernsMaps.uidMappings.map((m) => ({ ...m }));
    linux.gidMappings = cfg.usernsMaps.gidMappings.map((m) => ({ ...m }));
  }
  linux.namespaces = namespaces;

  let mounts = spec.mounts ?? [];
  if (cfg.ipcMode === 'host') {
    // Docker: the host's /dev/shm.
    mounts = mounts.map((m) => (m.destination === '/dev/shm' ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] } : m));
  } else if (cfg.ipcMode === 'none') {
    mounts = mounts.filter((m) => m.destination !== '/dev/shm');
  } else if (cfg.shmSize !== undefined) {
    const size = `size=${Math.max(1, Math.ceil(cfg.shmSize / 1024))}k`;
    mounts = mounts.map((m) => (m.destination === '/dev/shm' && m.type === 'tmpfs' ? { ...m, options: [...(m.options ?? []).filter((o) => !o.startsWith('size=')), size] } : m));
  }
  for (const m of cfg.mounts) {
    if (!m.propagation) continue;
    const i = mounts.findIndex((x) => x.destination === m.dst && x.type === 'bind');
    if (i >= 0) mounts[i] = { ...mounts[i]!, options: [...(mounts[i]!.options ?? []), m.propagation] };
  }
  // --device: the host's node bound at the container path (pocker-init keeps a bound device node
  // usable under the nodev /dev). pocker puts containers in no device cgroup (v1) and loads no
  // device filter (v2), so there is no allow rule to add; cgroupPermissions are recorded only.
  for (const d of cfg.devices ?? []) mounts.push({ destination: d.pathInContainer, type: 'bind', source: d.pathOnHost, options: ['bind', 'nosuid', 'noexec'] });
  spec.mounts = mounts;

  const proc = spec.process;
  if (proc) {
    if (cfg.rlimits?.length) proc.rlimits = cfg.rlimits.map((r) => ({ ...r }));
    if (cfg.groupAdd?.length) {
      const gids = cfg.groupAddGids ?? cfg.groupAdd.map((g) => {
        if (!/^\d+$/.test(g)) throw invalid(`--group-add ${g}: the group name was not resolved`);
        return Number(g);
      });
      proc.user = { ...proc.user, additionalGids: [...gids] };
    }
  }
  if (cfg.sysctls && Object.keys(cfg.sysctls).length) linux.sysctl = { ...cfg.sysctls };
  return spec;
}

/** What exec() resolved: the process to run and where. */
export interface ExecSpecInput {
  args: string[];
  env: string[];
  cwd: string;
  /** `user[:group]`, resolved inside the container. */
  user: string;
  caps: bigint;
  noNewPrivs: boolean;
  tty: boolean;
  ttySize?: { rows: number; cols: number };
  detach: boolean;
  /** Host pid of the container's first process. */
  pid: number;
  /** The container's cgroups (joined, never removed by the exec). */
  cgroups: Omit<PockerCgroups, 'cleanup' | 'oom'>;
  /** The container's filter (its config.json's linux.seccomp): an exec runs under it too. */
  seccomp?: LinuxSeccomp;
  /** The store's root (where the compiled filter is cached). */
  root?: string;
}

/** The document of `pocker exec`: only `process`, `linux.seccomp` and the pocker section apply. */
export function buildExecSpec(x: ExecSpecInput): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: processOf(x),
    ...(x.seccomp ? { linux: { seccomp: x.seccomp } } : {}),
    pocker: {
      version: POCKER_SCHEMA_VERSION,
      user: x.user,
      ...(x.seccomp && x.root ? { seccompCache: seccompCachePath(x.root, x.seccomp) } : {}),
      monitor: {
        foreground: !x.detach,
        ...(x.detach ? { detach: { stateDir: '', logPath: '', logMaxSize: 0, logMaxFiles: 1, removeOnExit: false } } : {}),
      },
      exec: { pid: x.pid },
      cgroups: { ...x.cgroups, cleanup: [] },
    },
  };
}

/**
 * An exec's document with its container's --ulimit and --group-add (issue 12): Docker's exec runs
 * with the container's rlimits and supplementary groups, which the container's own document holds.
 */
export function withContainerProcess(spec: Spec, container: Process | undefined): Spec {
  if (!container || !spec.process) return spec;
  if (container.rlimits?.length) spec.process.rlimits = container.rlimits.map((r) => ({ ...r }));
  const gids = container.user?.additionalGids;
  if (gids?.length) spec.process.user = { ...spec.process.user, additionalGids: [...gids] };
  return spec;
}

/** The bytes handed to pocker-init (a sealed memfd on fd 4): the document as JSON. */
export function encodeSpec(spec: Spec): Buffer {
  return Buffer.from(JSON.stringify(spec));
}
