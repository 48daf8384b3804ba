// /etc/subuid and /etc/subgid: the subordinate id ranges an administrator gave each user
// (shadow's subuid(5): `owner:start:count` a line, the owner a user name or a decimal uid; a user
// may have several lines). Written by hand: the format is three colon-separated fields, and the
// one well-kept reader (shadow's libsubid) is a C library no Node package wraps. Lines that are
// not in the format (blank lines, comments, garbage) are skipped, as shadow's own reader does.
import { readFileSync } from 'node:fs';

/** One subordinate range: `count` ids from `start`. */
export interface SubidRange {
  start: number;
  count: number;
}

/** One parsed line. */
export interface SubidEntry extends SubidRange {
  /** The owner as written: a user name or a decimal uid. */
  owner: string;
}

export const SUBUID_FILE = '/etc/subuid';
export const SUBGID_FILE = '/etc/subgid';

const MAX_ID = 0xffffffff; // (uid_t)-1 is never a valid id

/** Every well-formed line of a subuid/subgid file's text, in order. */
export function parseSubidText(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length !== 3) continue;
    const [owner, s, c] = fields as [string, string, string];
    if (owner === '' || !/^\d{1,10}$/.test(s) || !/^\d{1,10}$/.test(c)) continue;
    const start = Number(s);
    const count = Number(c);
    if (count === 0 || start + count > MAX_ID) continue;
    out.push({ owner, start, count });
  }
  return out;
}

/** The ranges of the user `name` (or `uid`): lines naming either, in file order. */
export function rangesOf(entries: readonly SubidEntry[], user: { name?: string | undefined; uid: number }): SubidRange[] {
  const uid = String(user.uid);
  return entries.filter((e) => e.owner === uid || (user.name !== undefined && e.owner === user.name)).map(({ start, count }) => ({ start, count }));
}

/** Reads a subid file: [] when it does not exist (a system without `uidmap`'s files). */
export function readSubidFile(path: string): SubidEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  return parseSubidText(text);
}
