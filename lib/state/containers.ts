// Containers on disk: <root>/containers/<id>/ with config.json (written by run()) and, for
// detached containers, state.json and the json-file log (written by the container's monitor).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { PockerError } from '../errors.js';

export interface ContainerEntry {
  id: string;
  name: string;
  dir: string;
  /** The json-file log (it exists for detached containers). */
  logPath: string;
}

/**
 * Finds a container by full id, unique id prefix or name (Docker's lookup order). Throws a
 * PockerError `ERR_POCKER_NOT_FOUND` ("No such container") or `ERR_POCKER_AMBIGUOUS`.
 */
export function findContainer(root: string, ref: string): ContainerEntry {
  const dir = join(root, 'containers');
  let ids: string[] = [];
  try {
    ids = readdirSync(dir).filter((d) => /^[0-9a-f]{64}$/.test(d));
  } catch {
    /* no containers yet */
  }
  const entry = (id: string): ContainerEntry => {
    let name = id.slice(0, 12);
    try {
      name = (JSON.parse(readFileSync(join(dir, id, 'config.json'), 'utf8')) as { name?: string }).name ?? name;
    } catch {
      /* a container still being set up */
    }
    return { id, name, dir: join(dir, id), logPath: join(dir, id, `${id}-json.log`) };
  };
  if (ids.includes(ref)) return entry(ref);
  const byPrefix = /^[0-9a-f]{1,63}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
  if (byPrefix.length > 1) {
    throw new PockerError(`multiple containers found with prefix ${ref}`, { code: 'ERR_POCKER_AMBIGUOUS', step: 'lookup' });
  }
  if (byPrefix.length === 1) return entry(byPrefix[0]!);
  const named = ids.map(entry).find((e) => e.name === ref);
  if (named) return named;
  throw new PockerError(`No such container: ${ref}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'lookup' });
}

/** One json-file log entry. */
export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** The log files of a container, oldest first (rotated ones are <log>.N … <log>.1). */
export function logFiles(logPath: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${logPath}.${i}`); i++) rotated.unshift(`${logPath}.${i}`);
  return existsSync(logPath) ? [...rotated, logPath] : rotated;
}

/** Parses json-file lines (a torn last line, being written, is left out). */
export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      /* partial line */
    }
  }
  return out;
}
