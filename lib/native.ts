// The one loader of the native addon (pocker.node) and the pocker-init helper binary.
// node-gyp-build finds prebuilds/linux-x64/ (npm installs) or build/Release/ (source builds).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from './paths.js';

/** Events a running container's monitor reports, in this order: pid, [pty], started | error, exit. */
export type NativeEvent =
  | { type: 'pid'; pid: number }
  | { type: 'pty'; fd: number }
  | { type: 'started' }
  | { type: 'error'; errno: number; code: string; syscall: string; step: string; path: string }
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
  /** The spec, encoded by lib/runtime/spec.ts. */
  spec: Uint8Array;
  /** File descriptors that become the monitor's (and, without a tty, the container's) stdin, stdout, stderr. */
  stdio: [number, number, number];
  onEvent: (event: NativeEvent) => void;
}

export interface NativeAddon {
  /** Seals a memfd copy of pocker-init (once per process); spawn() executes that copy. */
  setInitPath(path: string): void;
  spawn(options: SpawnOptions): NativeMonitor;
  /** A close-on-exec pipe: [readFd, writeFd]. */
  pipe(): [number, number];
  /** mkdir of a cgroup directory; an existing one is fine. */
  cgroupCreate(path: string): void;
  /** open(O_WRONLY) + write of one value to a cgroup control file. */
  cgroupWrite(path: string, value: string): void;
  /** Kills what is left in a cgroup and removes it (and retries while it drains); a missing one is fine. */
  cgroupRemove(path: string): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** Clears FD_CLOEXEC, or sets it. */
  setCloexec(fd: number, on: boolean): void;
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
function addonPath(require: NodeRequire): string {
  for (const dir of [join(packageRoot, 'build', 'Release'), join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)]) {
    const file = join(dir, 'pocker.node');
    if (existsSync(file)) return file;
  }
  return (require('node-gyp-build') as NodeGypBuild).resolve(packageRoot);
}

/** Loads the addon and points it at the pocker-init built with it. Throws a clear error when neither a prebuild nor a build exists. */
export function native(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(join(packageRoot, 'package.json'));
  const path = addonPath(require);
  const addon = require(path) as NativeAddon;
  addon.setInitPath(initPath(path));
  cached = addon;
  return addon;
}

/** pocker-init lives beside the addon it was built with (prebuilds/linux-x64/ or build/Release/), so the two always match; POCKER_INIT overrides. */
export function initPath(addonPath: string): string {
  const path = process.env.POCKER_INIT || join(dirname(addonPath), 'pocker-init');
  if (!existsSync(path)) throw new Error(`pocker: pocker-init not found at ${path} (run \`npm run build:native\`)`);
  return path;
}
