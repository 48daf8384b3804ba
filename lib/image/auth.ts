// Registry credentials for pulls, and login() / logout() (`pocker login` / `pocker logout`).
//
// pocker's own store is `$XDG_CONFIG_HOME/pocker/auth.json` (default `~/.config/pocker/auth.json`),
// in the shape of Docker's config.json: `{ "auths": { "<registry>": { "auth": base64(user:pass) } } }`,
// written mode 0600 and atomically (temp file + fsync + rename + fsync of the directory). When it
// has no entry for a registry, Docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`)
// is read: its `auths` entries (`auth`, or the older `username`/`password`). Docker's credential
// helpers (`credsStore`, `credHelpers`) and OAuth identity tokens are not used.
//
// Registry names are normalised (see normalizeRegistry): `https://index.docker.io/v1/`,
// `index.docker.io` and `registry-1.docker.io` all mean `docker.io`, which is stored under
// `docker.io`.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

import { PockerError, invalid, isPockerErrorCode, type PockerErrorCode } from '../errors.js';
import { fsyncPath, writeFileAtomic } from '../fsutil.js';
import { normalizeRegistry } from './reference.js';
import { RegistryClient } from './registry.js';
import type { Credentials } from './types.js';

export type { Credentials } from './types.js';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  [key: string]: unknown;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [key: string]: unknown;
}

/** pocker's credentials file: `$XDG_CONFIG_HOME/pocker/auth.json` or `~/.config/pocker/auth.json`. */
export function credentialsPath(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.config');
  return join(base, 'pocker', 'auth.json');
}

/** Docker's config file: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG;
  return join(dir && dir !== '' ? dir : join(homedir(), '.docker'), 'config.json');
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PockerError(`cannot read credentials from ${path}: ${(err as Error).message}`, {
      code: isPockerErrorCode((err as NodeJS.ErrnoException).code) ? ((err as NodeJS.ErrnoException).code as PockerErrorCode) : 'ERR_POCKER',
      step: 'auth',
      path,
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`${path} is not valid JSON`, path);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(`${path}: not a JSON object`, path);
  const file = parsed as AuthFile;
  if (file.auths !== undefined && (file.auths === null || typeof file.auths !== 'object' || Array.isArray(file.auths))) {
    throw invalid(`${path}: "auths" is not an object`, path);
  }
  return file;
}

/** The normalised registry of a key of an `auths` map, or undefined when the key is not one. */
function keyRegistry(key: string): string | undefined {
  try {
    return normalizeRegistry(key);
  } catch {
    return undefined;
  }
}

function decodeEntry(entry: AuthEntry | undefined): Credentials | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return undefined;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && entry.username !== '' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

function findEntry(file: AuthFile | undefined, registry: string): Credentials | undefined {
  const auths = file?.auths;
  if (!auths) return undefined;
  // An exact key first, then any key that normalises to the same registry.
  const exact = decodeEntry(auths[registry]);
  if (exact) return exact;
  for (const [key, entry] of Object.entries(auths)) {
    if (keyRegistry(key) === registry) {
      const found = decodeEntry(entry);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The credentials for `registry` (a domain such as `docker.io`, `ghcr.io`, `localhost:5000`):
 * pocker's own file first, then Docker's config.json; undefined when neither has any.
 */
export async function loadCredentials(registry: string): Promise<Credentials | undefined> {
  const key = normalizeRegistry(registry);
  const own = findEntry(await readAuthFile(credentialsPath()), key);
  if (own) return own;
  try {
    return findEntry(await readAuthFile(dockerConfigPath()), key);
  } catch {
    // Docker's file belongs to Docker: an unreadable one is not pocker's error.
    return undefined;
  }
}

/** Writes `data` to `path` atomically with mode 0600 (lib/fsutil.ts: temp file, fsync, rename, fsync of the directory). */
async function writeAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, data, { mode: 0o600, fsyncDir: false });
  } catch (err) {
    throw new PockerError(`cannot write credentials to ${path}: ${(err as Error).message}`, {
      code: isPockerErrorCode((err as NodeJS.ErrnoException).code) ? ((err as NodeJS.ErrnoException).code as PockerErrorCode) : 'ERR_POCKER',
      step: 'auth',
      path,
      cause: err,
    });
  }
  // Some filesystems refuse fsync on a directory; the rename is still atomic.
  await fsyncPath(dir).catch(() => {});
}

/** Stores credentials for `registry` in pocker's file (replacing any), mode 0600. */
export async function saveCredentials(registry: string, username: string, password: string): Promise<void> {
  const key = normalizeRegistry(registry);
  if (username === '' || username.includes(':')) throw invalid('the username must be non-empty and must not contain ":"');
  const path = credentialsPath();
  const file = (await readAuthFile(path)) ?? {};
  const auths: Record<string, AuthEntry> = { ...(file.auths ?? {}) };
  for (const k of Object.keys(auths)) if (k !== key && keyRegistry(k) === key) delete auths[k];
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  await writeAtomic(path, `${JSON.stringify({ ...file, auths }, null, 2)}\n`);
}

/**
 * Removes the credentials for `registry` from pocker's file. Returns whether there were any.
 * (Docker's config.json is never modified: `docker logout` owns it.)
 */
export async function removeCredentials(registry: string): Promise<boolean> {
  const key = normalizeRegistry(registry);
  const path = credentialsPath();
  const file = await readAuthFile(path);
  if (!file?.auths) return false;
  const auths = { ...file.auths };
  let removed = false;
  for (const k of Object.keys(auths)) {
    if (k === key || keyRegistry(k) === key) {
      delete auths[k];
      removed = true;
    }
  }
  if (!removed) return false;
  await writeAtomic(path, `${JSON.stringify({ ...file, auths }, null, 2)}\n`);
  return true;
}

/** Options of login(). */
export interface LoginOptions {
  /** The registry: `ghcr.io`, `localhost:5000`, `https://index.docker.io/v1/`, … (default Docker Hub). */
  server?: string;
  username: string;
  password: string;
  /** Registries reached over plain HTTP (loopback ones always are). */
  insecureRegistries?: string[];
}

/**
 * Logs in to a registry, Docker's `login`: checks the credentials against the registry's `/v2/`
 * (answering its Bearer or basic challenge) and, when it accepts them, stores them in pocker's
 * credentials file (see {@link saveCredentials}), where pull() finds them. Returns the registry as
 * stored (`docker.io`, `ghcr.io`). Refused credentials: ERR_POCKER_AUTH, nothing is stored; a bad
 * server name, an empty username or password: ERR_POCKER_INVALID.
 */
export async function login(options: LoginOptions): Promise<{ registry: string }> {
  const registry = normalizeRegistry(options.server ?? 'docker.io');
  const { username, password } = options;
  if (typeof username !== 'string' || username === '') throw invalid('a username is required');
  if (typeof password !== 'string' || password === '') throw invalid('a password is required');
  const creds: Credentials = { username, password };
  const client = new RegistryClient({
    credentials: (r) => (r === registry ? creds : undefined),
    retries: 1,
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
  });
  await client.checkLogin(registry);
  await saveCredentials(registry, username, password);
  return { registry };
}

/**
 * Logs out of a registry, Docker's `logout`: removes its credentials from pocker's file (never
 * from Docker's config.json). Returns the registry as stored and whether there were credentials.
 */
export async function logout(server = 'docker.io'): Promise<{ registry: string; removed: boolean }> {
  const registry = normalizeRegistry(server);
  return { registry, removed: await removeCredentials(registry) };
}
