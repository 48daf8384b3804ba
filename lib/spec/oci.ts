// Types of the OCI runtime-spec v1.2 `config.json` (github.com/opencontainers/runtime-spec,
// config.md and config-linux.md): the subset pocker writes and pocker-init reads. Fields pocker
// does not use are left out; pocker-init ignores unknown fields, so a fuller document still parses.
import type { LinuxResources } from '../cgroup/resources.js';
import type { PockerSection } from './pocker.js';

export type { LinuxResources };

/** The runtime-spec version pocker writes. */
export const OCI_VERSION = '1.2.0';

/** A capability name as the spec spells it: `CAP_` + the kernel's name. */
export type CapabilityName = `CAP_${string}`;

export interface LinuxCapabilities {
  bounding?: CapabilityName[];
  effective?: CapabilityName[];
  inheritable?: CapabilityName[];
  permitted?: CapabilityName[];
  ambient?: CapabilityName[];
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** `RLIMIT_NOFILE` etc. (setrlimit(2)). */
export interface POSIXRlimit {
  type: `RLIMIT_${string}`;
  hard: number;
  soft: number;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  /** Accepted and ignored (no AppArmor/SELinux support). */
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

/** A mount: `options` are mount(8)-style words (flags such as `ro`, `nosuid`, `rbind`, propagation, and fs data). */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface LinuxNamespace {
  type: NamespaceType;
  /** Join this namespace (a /proc/<pid>/ns/<kind> file or a bind mount of one) instead of making a new one. */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxDevice {
  /** `c`, `b`, `u` or `p`. */
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** An argument comparison of a seccomp rule (`value` is the mask of SCMP_CMP_MASKED_EQ, `valueTwo` the value). */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface LinuxSyscall {
  names: string[];
  /** `SCMP_ACT_*`. */
  action: string;
  /** The errno of SCMP_ACT_ERRNO (default EPERM). */
  errnoRet?: number;
  /** All must match (AND). */
  args?: LinuxSeccompArg[];
}

/** linux.seccomp: pocker-init compiles it with libseccomp and loads it last before exec. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  /** `SCMP_ARCH_*`. */
  architectures?: string[];
  flags?: string[];
  syscalls?: LinuxSyscall[];
}

export type RootfsPropagation = 'private' | 'rprivate' | 'slave' | 'rslave' | 'shared' | 'rshared' | 'unbindable' | 'runbindable';

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  resources?: LinuxResources;
  cgroupsPath?: string;
  devices?: LinuxDevice[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  mountLabel?: string;
}

/** An OCI runtime-spec document; `P` is the type of the top-level `pocker` section (absent for a plain bundle). */
export interface Spec<P = PockerSection> {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  pocker?: P;
}
