// Docker's defaults for a container, written once, as data (moby's oci/defaults.go and
// oci/caps/defaults.go, with pocker's differences noted). buildSpec() puts them into every
// container's OCI document; pocker-init applies whatever the document says. Adding a default
// mount, device, link or masked path is one entry here.
import type { CapabilityName, LinuxDevice, Mount } from './oci.js';

/**
 * The default mounts, in order (parents first). Differences from Docker: /dev is `nodev` (pocker
 * bind-mounts the host's device nodes, each its own mount, and there is no device cgroup: a node
 * made with CAP_MKNOD must stay unusable). /sys/fs/cgroup is the container's own cgroup view, read-only
 * as Docker's: on v2 cgroup2 mounted inside its cgroup namespace, on v1 a tmpfs with the container's
 * leaf of each joined hierarchy bound at the hierarchy's name (pocker.cgroups.views).
 */
export const DEFAULT_MOUNTS: readonly Mount[] = Object.freeze([
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
]);

/** A character device of the default set (OCI's "default devices"). */
function chr(name: string, major: number, minor: number): LinuxDevice {
  return { type: 'c', path: `/dev/${name}`, major, minor, fileMode: 0o666, uid: 0, gid: 0 };
}

/**
 * The default devices. pocker-init bind-mounts the host's node at each path (the host's node
 * must have these numbers); it creates a node only where it cannot bind one.
 */
export const DEFAULT_DEVICES: readonly LinuxDevice[] = Object.freeze([
  chr('null', 1, 3),
  chr('zero', 1, 5),
  chr('full', 1, 7),
  chr('random', 1, 8),
  chr('urandom', 1, 9),
  chr('tty', 5, 0),
]);

/**
 * The /dev symlinks (runc's defaultSymlinks, plus ptmx into the private devpts). Not part of the
 * OCI document: the runtime makes them (pocker-init's copy is in cpp/init/container.cpp); listed
 * here as the reference the tests check the container against.
 */
export const DEV_SYMLINKS: Readonly<Record<string, string>> = Object.freeze({
  '/dev/ptmx': 'pts/ptmx',
  '/dev/fd': '/proc/self/fd',
  '/dev/stdin': '/proc/self/fd/0',
  '/dev/stdout': '/proc/self/fd/1',
  '/dev/stderr': '/proc/self/fd/2',
  '/dev/core': '/proc/kcore',
});

/** Docker's masked paths (moby oci/defaults.go). */
export const MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]);

/** Docker's read-only paths. */
export const READONLY_PATHS: readonly string[] = Object.freeze(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);

/** Every Linux capability, keyed without the CAP_ prefix (include/uapi/linux/capability.h). */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.freeze({
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  LINUX_IMMUTABLE: 9,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_PACCT: 20,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
  SYS_TIME: 25,
  SYS_TTY_CONFIG: 26,
  MKNOD: 27,
  LEASE: 28,
  AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30,
  SETFCAP: 31,
  MAC_OVERRIDE: 32,
  MAC_ADMIN: 33,
  SYSLOG: 34,
  WAKE_ALARM: 35,
  BLOCK_SUSPEND: 36,
  AUDIT_READ: 37,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
});

/** Docker's default capability set (moby's oci/caps/defaults.go), without the CAP_ prefix. */
export const DEFAULT_CAPS: readonly string[] = Object.freeze([
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
]);

/** A capability bitmask (bit N = capability N) as the spec's names, in number order. */
export function capNames(mask: bigint): CapabilityName[] {
  return Object.entries(CAPABILITIES)
    .filter(([, n]) => (mask >> BigInt(n)) & 1n)
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => `CAP_${name}` as CapabilityName);
}
