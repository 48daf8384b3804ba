// /proc readers shared by the store, the network leases and the port claims (a leaf module: it
// imports nothing of pocker's, so anything may use it without an import cycle).
import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat pocker reads: 22 (start time, clock ticks since boot, as its
 * text), 3 (the state letter), 4 (the parent); null when gone (or no /proc).
 */
export function procStat(pid: number | 'self'): { start: string; state: string; ppid: number } | null {
  if (pid !== 'self' && (!Number.isInteger(pid) || pid <= 0)) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: fields[19] ?? '', state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

