// A real OCI distribution registry for tests: Debian's `docker-registry` (distribution 2.8) on
// 127.0.0.1, with its storage in a temp dir (RUN_TEMP_PREFIX, so the leftovers check sees a leak).
//
//   const reg = await startRegistry();                  // anonymous pull and push
//   const reg = await startRegistry({ auth: 'basic' }); // htpasswd: reg.username / reg.password
//   ... reg.url ('http://127.0.0.1:PORT'), reg.host ('127.0.0.1:PORT'), reg.blobPath(digest)
//   await reg.stop();                                   // kills only this registry, removes its dir
//
// Needs the Debian packages docker-registry and (for basic auth) apache2-utils; `npm test`
// (scripts/test.mjs) installs them. Does not import 'vitest'.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RUN_TEMP_PREFIX } from './helpers.js';

/** The registry binary of the Debian package docker-registry. */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** The tools the registry tests need, with the Debian package of each; empty when all are there. */
export function missingRegistryTools(): string[] {
  const missing: string[] = [];
  if (!existsSync(REGISTRY_BIN)) missing.push('docker-registry');
  if (!onPath('skopeo')) missing.push('skopeo');
  if (!onPath('htpasswd')) missing.push('apache2-utils');
  return missing;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

/** A running test registry. */
export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`: the registry part of image references. */
  host: string;
  /** The storage root (`storage.filesystem.rootdirectory`). */
  storageDir: string;
  /** Basic-auth user and password (only with `auth: 'basic'`). */
  username?: string;
  password?: string;
  /** The path of a blob's data file in the storage (to corrupt or truncate it). */
  blobPath(digest: string): string;
  /** What the registry printed so far (for failure messages). */
  log(): string;
  /** Stops this registry process and removes its temp dir. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Protect every repository with HTTP basic auth (htpasswd). */
  auth?: 'basic';
  /** Basic-auth credentials (defaults: `pocker` / a fixed test password). */
  username?: string;
  password?: string;
  /** How long to wait for `GET /v2/` to answer (default 20 s). */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A free TCP port on 127.0.0.1 (bound and released; the registry binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a registry; resolves once `GET /v2/` answers. Retries a few ports if one is taken. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: apt-get install docker-registry`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
  throw lastError;
}

async function startOnce(options: StartRegistryOptions): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), `${RUN_TEMP_PREFIX}registry-`));
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const username = options.username ?? 'pocker';
  const password = options.password ?? 'pocker-test-password';

  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${host}`,
    '  secret: pocker-test-secret',
  ];
  if (options.auth === 'basic') {
    const htpasswd = join(dir, 'htpasswd');
    const entry = execFileSync('htpasswd', ['-Bbn', username, password], { encoding: 'utf8' });
    writeFileSync(htpasswd, entry, { mode: 0o600 });
    lines.push('auth:', '  htpasswd:', '    realm: pocker-test', `    path: ${htpasswd}`);
  }
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, `${lines.join('\n')}\n`);

  const child = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test run that dies without stop(): do not leave registries behind.
    process.once('exit', () => {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    }),
  );

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killed = await Promise.race([exitPromise.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://${host}`;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`docker-registry exited before serving on ${host}:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host} in time:\n${output}`);
    }
    await sleep(50);
  }

  const registry: TestRegistry = {
    url,
    host,
    storageDir,
    blobPath(digest: string) {
      const [algorithm, hex] = digest.split(':') as [string, string];
      return join(storageDir, 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
    },
    log: () => output,
    stop,
  };
  if (options.auth === 'basic') {
    registry.username = username;
    registry.password = password;
  }
  return registry;
}
