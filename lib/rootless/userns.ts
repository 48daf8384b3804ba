// Work on files owned by the caller's subordinate ids (image layers with several owners, a
// container's writable layer) in a user namespace mapped like the caller's containers. A Node
// process cannot enter a new user namespace once it has threads, and newuidmap must write the maps
// before the process that uses them starts; so the work runs in a rootless container of the `host`
// image (pocker-init makes and maps the namespace; `pocker run` in a child process) whose workload
// is worker.ts on this Node. The
// directories it works on are bound under a tmpfs (the host's paths under the store are masked in a
// `host` container): at /tmp, or, when pocker or Node lives there (a clone in /tmp), at the first of
// a few other directories every system has that holds neither.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';

import { PockerError, isPockerErrorCode } from '../errors.js';
import { packageRoot } from '../paths.js';
import { callerIdMaps } from './index.js';
import { isRootless, runtimeDir } from './paths.js';

/** The compiled worker (dist/rootless/worker.js). */
export function workerPath(): string {
  return join(packageRoot, 'dist', 'rootless', 'worker.js');
}

/** True when files of several owners need the user namespace: rootless with subordinate ranges. */
export function needsUsernsWorker(): boolean {
  return isRootless() && callerIdMaps().helpers !== undefined;
}

/**
 * Where the worker's container gets its tmpfs: a directory of the host that exists and holds
 * neither pocker nor the Node running it (the tmpfs would hide them from the worker).
 */
export function scratchDir(keep: readonly string[] = [packageRoot, process.execPath]): string {
  const real = keep.map((p) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  });
  const holds = (dir: string) => real.some((p) => p === dir || p.startsWith(dir + sep));
  return ['/tmp', '/run', '/mnt', '/var/tmp'].find((d) => existsSync(d) && !holds(d)) ?? '/tmp';
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function collect(stream: Readable | null): Promise<string> {
  if (!stream) return '';
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text;
}

/**
 * Runs the worker's `op` on `dirs` (each bound read-write at SCRATCH/w<i>, the worker seeing those
 * paths) with `stdin` as its input; resolves with its JSON result, rejects with its error.
 */
export async function runInUserns(op: 'extract' | 'remove', dirs: string[], stdin?: Readable): Promise<unknown> {
  const worker = workerPath();
  if (!existsSync(worker)) {
    throw new PockerError(`the userns worker ${worker} is missing: build pocker (npm run build:ts)`, { code: 'ERR_POCKER_NOT_FOUND', step: 'extract', path: worker });
  }
  // The CLI in a child process (not run() here: the image store that calls this is below the runtime).
  const scratch = scratchDir();
  const inside = dirs.map((_, i) => `${scratch}/w${i}`);
  const argv = [
    join(packageRoot, 'bin', 'pocker.cjs'),
    'run', '--rm', '--network', 'none', '--tmpfs', scratch, '--root', join(runtimeDir(), 'helpers'),
    ...(stdin ? ['-i'] : []),
    ...dirs.flatMap((d, i) => ['-v', `${d}:${inside[i]}`]),
    'host', process.execPath, worker, op, ...inside,
  ];
  const child = spawn(process.execPath, argv, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)));
  });
  if (stdin && child.stdin) {
    stdin.on('error', () => child.stdin?.destroy());
    child.stdin.on('error', () => undefined); // the worker stops reading after a refused entry
    stdin.pipe(child.stdin);
  }
  const [out, err, code] = await Promise.all([collect(child.stdout), collect(child.stderr), exited]);
  const status = { exitCode: code };
  if (status.exitCode === 0) return JSON.parse(out.trim().split('\n').pop() || 'null') as unknown;
  let e: { message?: string; code?: string; errno?: number; syscall?: string; path?: string; step?: string } = {};
  try {
    e = JSON.parse(err.trim().split('\n').pop() || '{}') as typeof e;
  } catch {
    e = { message: err.trim() };
  }
  // The worker's paths are its bind mounts': said as the caller's.
  const named = new RegExp(`${escapeRegExp(scratch)}/w(\\d+)`, 'g');
  const path = e.path?.replace(named, (_m, i: string) => dirs[Number(i)] ?? _m);
  const message = e.message?.replace(named, (_m, i: string) => dirs[Number(i)] ?? _m);
  throw new PockerError(message || `the userns worker failed (status ${status.exitCode})`, {
    code: isPockerErrorCode(e.code) ? e.code : 'ERR_POCKER',
    step: op === 'extract' ? 'extract' : 'remove',
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    ...(e.syscall ? { syscall: e.syscall } : {}),
    ...(path ? { path } : {}),
  });
}

/** extractLayer's result, in the user namespace (owners as in the tar, mapped like a container's). */
export async function extractLayerInUserns(input: Readable, dest: string): Promise<{ entries: number; bytes: number }> {
  return (await runInUserns('extract', [dest], input)) as { entries: number; bytes: number };
}

/** Removes directory trees whose files belong to subordinate ids: emptied in the user namespace, then removed. */
export async function removeInUserns(paths: string[]): Promise<void> {
  const dirs = paths.filter((p) => existsSync(p));
  if (dirs.length) await runInUserns('remove', dirs);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
