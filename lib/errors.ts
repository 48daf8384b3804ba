// PockerError: every error pocker raises, shaped like Node's SystemError (code, errno, syscall,
// path) plus the setup `step` that failed.
import { constants } from 'node:os';
import type { PockerErrorShape, SetupStep } from './types.js';

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value as number, name]),
);

/** The errno name for a positive errno number, e.g. 2 -> ENOENT. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

export interface PockerErrorInit {
  code: string;
  step: SetupStep;
  /** Positive or negative errno; stored negative as Node does. */
  errno?: number;
  syscall?: string;
  path?: string;
  cause?: unknown;
}

export class PockerError extends Error implements PockerErrorShape {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
  step: SetupStep;

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

/** A validation error: raised before any kernel object exists. */
export function invalid(message: string, path?: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_INVALID', step: 'validate', ...(path ? { path } : {}) });
}

/** Wraps an error thrown by the addon (which carries code/errno/syscall/path) with a step. */
export function fromSystemError(err: unknown, step: SetupStep, what: string): PockerError {
  const e = err as { code?: string; errno?: number; syscall?: string; path?: string; message?: string };
  const code = e.code ?? 'ERR_POCKER';
  const detail = [e.syscall, e.path].filter(Boolean).join(' ');
  return new PockerError(`${what}: ${code}${detail ? ` (${detail})` : ''}`, {
    code,
    step,
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    ...(e.syscall ? { syscall: e.syscall } : {}),
    ...(e.path ? { path: e.path } : {}),
    cause: err,
  });
}
