// PockerError: every error pocker raises, shaped like Node's SystemError (code, errno, syscall,
// path) plus the setup `step` that failed. The codes and the steps are each ONE list, here.
import { constants, release } from 'node:os';

// ---------------------------------------------------------------------------------------------
// Codes

/**
 * pocker's own error codes, one per kind of failure (the step says where). A code that says the
 * same as another one is not added: a name already in use and an image still in use are both
 * ERR_POCKER_CONFLICT, a missing cgroup controller and a missing cgroup filesystem are both
 * ERR_POCKER_UNSUPPORTED (step `cgroup`).
 */
export const POCKER_ERROR_CODES = [
  /** An unexpected failure of no more specific kind; `cause` holds the original error. */
  'ERR_POCKER',
  /** Bad input (options, references, names, archives, layers that are not tar, --change, ...). */
  'ERR_POCKER_INVALID',
  /** No such container, image, blob, layer or file. */
  'ERR_POCKER_NOT_FOUND',
  /** A prefix (container or image id) matches more than one. */
  'ERR_POCKER_AMBIGUOUS',
  /** Something is in use: a container name, an image a container uses. */
  'ERR_POCKER_CONFLICT',
  /** The operation needs a stopped container. */
  'ERR_POCKER_RUNNING',
  /** The operation needs a running container. */
  'ERR_POCKER_NOT_RUNNING',
  /** The container runs in the foreground of a `pocker run`, which owns its stdio and its lifetime. */
  'ERR_POCKER_FOREGROUND',
  /** This host, Node or format lacks what is asked for (a cgroup controller, zstd, an image's OS, ...). */
  'ERR_POCKER_UNSUPPORTED',
  /** A registry answered with an error, or not at all. */
  'ERR_POCKER_REGISTRY',
  /** A registry refused the credentials (or asked for some). */
  'ERR_POCKER_AUTH',
  /** Content does not have its digest (or size). */
  'ERR_POCKER_DIGEST',
  /** The image list on disk cannot be read; pocker does not reset it. */
  'ERR_POCKER_STORE_CORRUPT',
  /** A layer entry would land outside its root, or through a symlink (a hostile layer). */
  'ERR_POCKER_LAYER_UNSAFE',
  /** A layer entry's owner has no mapping in the requested id map. */
  'ERR_POCKER_LAYER_ID_UNMAPPED',
  /** Another pocker process held a lock for longer than the timeout. */
  'ERR_POCKER_LOCK_TIMEOUT',
  /** pocker-init ended before the container started, without saying why. */
  'ERR_POCKER_INIT',
  /** `ps` (for `top`) failed or printed what pocker cannot read. */
  'ERR_POCKER_PS',
] as const;

export type PockerOwnCode = (typeof POCKER_ERROR_CODES)[number];

/** An errno name (ENOENT, EPERM, ...): the code of a failed system call, as in Node's SystemError. */
export type ErrnoCode = keyof typeof constants.errno;

/** Node's code for an operation its caller aborted (an AbortSignal). */
export type AbortCode = 'ABORT_ERR';

/** Every code a PockerError can have: pocker's own, an errno name, or ABORT_ERR. */
export type PockerErrorCode = PockerOwnCode | ErrnoCode | AbortCode;

const ownCodes = new Set<string>(POCKER_ERROR_CODES);

/** True for every code in PockerErrorCode. */
export function isPockerErrorCode(code: unknown): code is PockerErrorCode {
  return typeof code === 'string' && (ownCodes.has(code) || Object.hasOwn(constants.errno, code) || code === 'ABORT_ERR');
}

// ---------------------------------------------------------------------------------------------
// Steps

/**
 * What pocker was doing when it failed (`err.step`): the library's steps, then pocker-init's and the
 * addon's setup steps (cpp/; test/unit/errors.test.ts checks every step the C++ side names is here).
 */
export const SETUP_STEPS = [
  // The library (TypeScript)
  'validate', 'lookup', 'image', 'pull', 'auth', 'store', 'extract', 'load', 'save', 'commit', 'export',
  'import', 'remove', 'start', 'attach', 'exec', 'kill', 'wait', 'top', 'copy', 'lock', 'cgroup', 'spawn', 'logs', 'state',
  'cli',
  // The addon and pocker-init (C++)
  'stdio', 'tty', 'clone', 'read-spec', 'init', 'monitor', 'detach', 'setsid', 'stdin', 'hostname', 'user',
  'workdir', 'capabilities', 'no-new-privileges', 'mount-rootfs', 'mount-propagation', 'mount-proc', 'mount-dev',
  'mount-sys', 'mount-volume', 'volume-copy', 'pivot_root', 'mask-paths', 'readonly-paths', 'read-only',
  'exec-join', 'mount-tmpfs', 'namespaces', 'rlimits', 'sysctl', 'seccomp', 'keyring',
  // User namespaces (issue 13): the id maps, and the rootfs of idmapped layers (or their chowned copy)
  'userns', 'idmap',
  // Networks: veth/addresses in pocker-init and the addon, nftables rules and published ports (lib/network)
  'network',
] as const;

export type SetupStep = (typeof SETUP_STEPS)[number];

/**
 * A step name reported by the addon or pocker-init, as a SetupStep. The C++ side names only steps of
 * SETUP_STEPS (a unit test reads cpp/ to check it), so this is a cast, not a mapping.
 */
export function nativeStep(step: string): SetupStep {
  return step as SetupStep;
}

// ---------------------------------------------------------------------------------------------
// The error

// Made at the first error that needs it, not when the module loads: every CLI command loads this
// module, and ~130 entries cost ~0.25 ms of a process that usually raises no error (issue 12).
let errnoNames: Map<number, string> | undefined;

/** The errno name for a positive errno number, e.g. 2 -> ENOENT. */
export function errnoName(errno: number): ErrnoCode {
  errnoNames ??= new Map(Object.entries(constants.errno).map(([name, value]) => [value as number, name]));
  return (errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`) as ErrnoCode;
}

/** Every error pocker raises: Node's SystemError shape plus `step`. */
export interface PockerErrorShape extends Error {
  /** One of PockerErrorCode: `ERR_POCKER_*`, an errno name such as `ENOENT`, or `ABORT_ERR`. */
  code: PockerErrorCode;
  /** Negative errno (as in Node's SystemError), or undefined when no system call failed. */
  errno?: number;
  syscall?: string;
  path?: string;
  /** What pocker was doing: `validate`, `cgroup`, `spawn`, `mount-rootfs`, `pivot_root`, `exec`, … */
  step: SetupStep;
}

export interface PockerErrorInit {
  code: PockerErrorCode;
  step: SetupStep;
  /** Positive or negative errno; stored negative as Node does. */
  errno?: number;
  syscall?: string;
  path?: string;
  cause?: unknown;
}


export class PockerError extends Error implements PockerErrorShape {
  code: PockerErrorCode;
  errno?: number;
  syscall?: string;
  path?: string;
  step: SetupStep;

  constructor(message: string, init: PockerErrorInit);
  
  constructor(message: string, init: PockerErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'PockerError';
    this.code = init.code;
    this.step = init.step;
    if (init.errno !== undefined) this.errno = -Math.abs(init.errno);
    if (init.syscall !== undefined) this.syscall = init.syscall;
    if (init.path !== undefined) this.path = init.path;
  }
}

/** A container that is not running, where the operation needs one (stop, pause, exec, top, ...). */
export function notRunningError(message: string, step: SetupStep): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_NOT_RUNNING', step });
}

/** A container run in the foreground of a `pocker run`, which has no detached monitor to ask. */
export function foregroundError(message: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_FOREGROUND', step: 'lookup' });
}

/** A validation error: raised before any kernel object exists. */
export function invalid(message: string, path?: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_INVALID', step: 'validate', ...(path ? { path } : {}) });
}

/**
 * The oldest kernel pocker runs containers on: clone3 and pidfd_open came in Linux 5.3, openat2 (every
 * mount and layer path is resolved with it) in 5.6, setns with a pidfd (`exec`) in 5.8. The prebuilt
 * binaries load on older systems (glibc 2.28: RHEL 8, Debian 10, Ubuntu 20.04), whose kernels
 * (4.18, 4.19, 5.4) lack some of these.
 */
export const MIN_KERNEL = '5.8';

/** For an ENOSYS from `syscall`: what it says about this kernel (else ''). */
export function kernelHint(code: string, syscall: unknown): string {
  if (code !== 'ENOSYS') return '';
  const call = typeof syscall === 'string' && syscall ? syscall : 'a system call';
  return `; this kernel (Linux ${release()}) lacks ${call}: pocker needs Linux ${MIN_KERNEL} or newer`;
}

/**
 * Wraps an error thrown by the addon or by Node (which may carry code/errno/syscall/path) with a
 * step. A code outside PockerErrorCode (Node's ERR_STREAM_PREMATURE_CLOSE, ERR_INVALID_ARG_TYPE, a
 * SyntaxError from JSON.parse, ...) becomes ERR_POCKER; the original stays the `cause`.
 */
export function fromSystemError(err: unknown, step: SetupStep, what: string): PockerError {
  const e = (err ?? {}) as { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown; message?: unknown };
  const code = isPockerErrorCode(e.code) ? e.code : 'ERR_POCKER';
  const detail = [e.syscall, e.path].filter((x) => typeof x === 'string' && x).join(' ');
  const why = code === 'ERR_POCKER' && typeof e.message === 'string' ? e.message : code;
  return new PockerError(`${what}: ${why}${detail ? ` (${detail})` : ''}${kernelHint(code, e.syscall)}`, {
    code,
    step,
    ...(typeof e.errno === 'number' ? { errno: e.errno } : {}),
    ...(typeof e.syscall === 'string' && e.syscall ? { syscall: e.syscall } : {}),
    ...(typeof e.path === 'string' && e.path ? { path: e.path } : {}),
    cause: err,
  });
}

/**
 * Any error as a PockerError: a PockerError passes through; a system error keeps its errno code;
 * anything else is ERR_POCKER (or ABORT_ERR) with `what: <its message>` and the original as `cause`.
 */
export function asPockerError(err: unknown, step: SetupStep, what: string): PockerError {
  if (err instanceof PockerError) return err;
  const e = (err ?? {}) as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
  if (typeof e.errno === 'number' && typeof e.syscall === 'string') return fromSystemError(err, step, what);
  const code = isPockerErrorCode(e.code) ? e.code : 'ERR_POCKER';
  const message = typeof e.message === 'string' ? e.message : String(err);
  return new PockerError(`${what}: ${message}`, { code, step, cause: err });
}
