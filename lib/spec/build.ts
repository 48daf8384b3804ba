// buildSpec(): the OCI runtime-spec document (plus the pocker section) of a container, from its
// resolved run options, its layout on disk and its cgroup plan. Pure: no I/O, so the store can
// write exactly the document that pocker-init is handed.
import { toOciResources } from '../cgroup/resources.js';
import type { CgroupPlan } from '../cgroup/index.js';
import type { ResolvedMount, ResolvedRunConfig } from '../runtime/options.js';
import { DEFAULT_DEVICES, DEFAULT_MOUNTS, MASKED_PATHS, READONLY_PATHS, capNames } from './defaults.js';
import { OCI_VERSION, type LinuxNamespace, type LinuxSeccomp, type Mount, type Process, type Spec } from './oci.js';
import { dockerDefaultProfile, seccompKey, toOciSeccomp, type SeccompChoice } from './seccomp.js';
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
    for (const x of Object.values(v)) deepFreeze(x);
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
    s = deepFreeze(toOciSeccomp(dockerDefaultProfile(), { caps: capNames(caps) }));
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
  if (cfg.network === 'none') namespaces.push({ type: 'network' });
  // Docker's --cgroupns default: private on v2, host on v1 (pocker-init makes a v1 one after joining).
  if ((cfg.cgroupns ?? (plan.version === 2 ? 'private' : 'host')) === 'private') namespaces.push({ type: 'cgroup' });
  const volumes: PockerImageVolume[] = cfg.mounts.filter((m) => m.kind === 'image-volume').map((m) => ({ source: m.src, destination: m.dst }));
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
  return {
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
  };
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

/** The bytes handed to pocker-init (a sealed memfd on fd 4): the document as JSON. */
export function encodeSpec(spec: Spec): Buffer {
  return Buffer.from(JSON.stringify(spec));
}
