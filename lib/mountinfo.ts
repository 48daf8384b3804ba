// /proc/<pid>/mountinfo, parsed once for the TypeScript side (cgroup detection, which layers a
// running container mounts). cpp/common/mountinfo.* is the C++ side's one parser.

export interface MountEntry {
  mountPoint: string;
  /** The subtree of the filesystem that is mounted (4th mountinfo field). */
  root: string;
  fsType: string;
  /** The super options split on commas (cgroup controllers, …). */
  superOptions: string[];
  /** The super options unsplit (octal escapes undone): overlay escapes `,` `:` inside its paths. */
  superOptionsRaw: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses /proc/<pid>/mountinfo. A later mount on the same mount point hides an earlier one, so only
 * the last entry per mount point is kept (in the order the mount points first appear), unless
 * `all` asks for every entry.
 */
export function parseMountinfo(text: string, options: { all?: boolean } = {}): MountEntry[] {
  const all: MountEntry[] = [];
  const byPoint = new Map<string, MountEntry>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.trim().split(' ');
    // id parent maj:min root mountpoint options [optional…] - fstype source superoptions
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 4) continue;
    const entry: MountEntry = {
      root: unescapeOctal(f[3]!),
      mountPoint: unescapeOctal(f[4]!),
      fsType: f[sep + 1]!,
      superOptions: f[sep + 3]!.split(','),
      superOptionsRaw: unescapeOctal(f[sep + 3]!),
    };
    all.push(entry);
    byPoint.delete(entry.mountPoint);
    byPoint.set(entry.mountPoint, entry);
  }
  return options.all ? all : [...byPoint.values()];
}
