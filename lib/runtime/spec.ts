// Encoder of the spec wire format read by pocker-init (cpp/common/spec.h is the reference).
// Header "PKS1", then records: u16 tag | u32 length | payload, little-endian.

export const Tag = {
  Arg: 1,
  Env: 2,
  Cwd: 3,
  Hostname: 4,
  User: 5,
  Lower: 7,
  ScratchUpper: 8,
  Upper: 9,
  Work: 10,
  Rootfs: 11,
  ReadOnly: 12,
  Caps: 13,
  NoNewPrivs: 14,
  Namespaces: 15,
  Mount: 16,
  Mask: 17,
  ReadOnlyPath: 18,
  CgroupV2: 19,
  CgroupV1Tasks: 20,
  OomV1: 21,
  OomV2: 22,
  CgroupCleanup: 23,
  Init: 24,
  Tty: 25,
  TtySize: 26,
  Foreground: 28,
  Detach: 30,
  StateDir: 31,
  LogPath: 32,
  LogMaxSize: 33,
  LogMaxFiles: 34,
  RemoveOnExit: 35,
  ExecPid: 36,
  Restart: 37,
  Interactive: 38,
  StdinOnce: 39,
  AttachSocket: 40,
  AttachFd: 41,
} as const;

/** Linux clone flags for namespaces (include/uapi/linux/sched.h). */
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

export interface SpecMount {
  /** `image-volume`: an anonymous volume for an image's VOLUME, filled from the image when empty. */
  kind: 'bind' | 'tmpfs' | 'image-volume';
  readonly: boolean;
  src: string;
  dst: string;
  data: string;
}

/** Everything pocker-init needs, fully resolved (no defaults are applied on the C++ side but HOME). */
export interface InitSpec {
  args: string[];
  env: string[];
  cwd: string;
  hostname: string;
  user: string;
  lowers: string[];
  scratchUpper: boolean;
  upper: string;
  work: string;
  rootfs: string;
  readOnly: boolean;
  caps: bigint;
  noNewPrivs: boolean;
  namespaces: number;
  mounts: SpecMount[];
  masks: string[];
  readonlyPaths: string[];
  cgroupV2?: string;
  /** v1 `tasks` files the container's first process joins by writing 0 (itself) into them. */
  cgroupV1Tasks: string[];
  oomV1?: string;
  oomV2?: string;
  cgroupCleanup: string[];
  init: boolean;
  tty: boolean;
  ttySize?: { rows: number; cols: number };
  foreground: boolean;
  /** --restart policy (0 no, 1 on-failure, 2 always, 3 unless-stopped) and on-failure's maximum. */
  restart?: { policy: number; max: number };
  /** exec: join the running container whose first process has this host pid. */
  execPid?: number;
  /**
   * Detached: the monitor keeps state.json in `stateDir` and the output in `logPath` (both empty
   * for `exec -d`: the process just outlives the caller). It serves attach clients on
   * `attachSocket`, feeds the container's stdin from them when `interactive` (closing it at the
   * first client's end of input with `stdinOnce`), and `attachFd` says fd 5 is a client already.
   */
  detach?: {
    stateDir: string;
    logPath: string;
    logMaxSize: number;
    logMaxFiles: number;
    removeOnExit: boolean;
    attachSocket?: string;
    interactive?: boolean;
    stdinOnce?: boolean;
    attachFd?: boolean;
  };
}

class Writer {
  private chunks: Buffer[] = [Buffer.from('PKS1')];
  record(tag: number, payload: Buffer = Buffer.alloc(0)): void {
    const head = Buffer.alloc(6);
    head.writeUInt16LE(tag, 0);
    head.writeUInt32LE(payload.length, 2);
    this.chunks.push(head, payload);
  }
  str(tag: number, s: string | undefined): void {
    if (s !== undefined && s !== '') this.record(tag, Buffer.from(s));
  }
  list(tag: number, items: string[]): void {
    for (const s of items) this.record(tag, Buffer.from(s));
  }
  flag(tag: number, on: boolean): void {
    if (on) this.record(tag);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function lstr(s: string): Buffer {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length, 0);
  return Buffer.concat([len, b]);
}

export function encodeSpec(s: InitSpec): Buffer {
  const w = new Writer();
  w.list(Tag.Arg, s.args);
  w.list(Tag.Env, s.env);
  w.str(Tag.Cwd, s.cwd);
  w.str(Tag.Hostname, s.hostname);
  w.str(Tag.User, s.user);
  w.list(Tag.Lower, s.lowers);
  w.flag(Tag.ScratchUpper, s.scratchUpper);
  w.str(Tag.Upper, s.upper);
  w.str(Tag.Work, s.work);
  w.str(Tag.Rootfs, s.rootfs);
  w.flag(Tag.ReadOnly, s.readOnly);
  const caps = Buffer.alloc(8);
  caps.writeBigUInt64LE(s.caps, 0);
  w.record(Tag.Caps, caps);
  w.flag(Tag.NoNewPrivs, s.noNewPrivs);
  const ns = Buffer.alloc(4);
  ns.writeUInt32LE(s.namespaces >>> 0, 0);
  w.record(Tag.Namespaces, ns);
  for (const m of s.mounts) {
    w.record(
      Tag.Mount,
      Buffer.concat([Buffer.from([m.kind === 'bind' ? 1 : m.kind === 'tmpfs' ? 2 : 3, m.readonly ? 1 : 0]), lstr(m.src), lstr(m.dst), lstr(m.data)]),
    );
  }
  w.list(Tag.Mask, s.masks);
  w.list(Tag.ReadOnlyPath, s.readonlyPaths);
  w.str(Tag.CgroupV2, s.cgroupV2);
  w.list(Tag.CgroupV1Tasks, s.cgroupV1Tasks);
  w.str(Tag.OomV1, s.oomV1);
  w.str(Tag.OomV2, s.oomV2);
  w.list(Tag.CgroupCleanup, s.cgroupCleanup);
  w.flag(Tag.Init, s.init);
  w.flag(Tag.Tty, s.tty);
  if (s.ttySize) {
    const sz = Buffer.alloc(4);
    sz.writeUInt16LE(s.ttySize.rows, 0);
    sz.writeUInt16LE(s.ttySize.cols, 2);
    w.record(Tag.TtySize, sz);
  }
  w.flag(Tag.Foreground, s.foreground);
  if (s.restart && s.restart.policy !== 0) {
    const r = Buffer.alloc(5);
    r.writeUInt8(s.restart.policy, 0);
    r.writeUInt32LE(s.restart.max, 1);
    w.record(Tag.Restart, r);
  }
  if (s.execPid) {
    const pid = Buffer.alloc(4);
    pid.writeUInt32LE(s.execPid, 0);
    w.record(Tag.ExecPid, pid);
  }
  if (s.detach) {
    w.flag(Tag.Detach, true);
    w.str(Tag.StateDir, s.detach.stateDir);
    w.str(Tag.LogPath, s.detach.logPath);
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(s.detach.logMaxSize), 0);
    w.record(Tag.LogMaxSize, size);
    const files = Buffer.alloc(4);
    files.writeUInt32LE(s.detach.logMaxFiles, 0);
    w.record(Tag.LogMaxFiles, files);
    w.flag(Tag.RemoveOnExit, s.detach.removeOnExit);
    w.str(Tag.AttachSocket, s.detach.attachSocket);
    w.flag(Tag.Interactive, !!s.detach.interactive);
    w.flag(Tag.StdinOnce, !!s.detach.stdinOnce);
    w.flag(Tag.AttachFd, !!s.detach.attachFd);
  }
  return w.bytes();
}

/** Docker's masked paths (moby oci/defaults.go). */
export const MASKED_PATHS = [
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
];

/** Docker's read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
