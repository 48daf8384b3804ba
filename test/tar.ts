// Tar builders shared by the tests: tarOf (entry by entry, in memory, with tar-stream: hostile
// names, any header field, binary PAX xattrs) and gnuTar (a directory, with GNU tar).
import { execFileSync } from 'node:child_process';
import { pack, type Header } from 'tar-stream';

/** A fixed mtime for reproducible archives: 2023-11-14T22:13:20Z (1_700_000_000 s). */
export const TAR_MTIME = new Date(1_700_000_000_000);

/** One entry: a tar-stream header (as pack() takes it) plus its content. */
export interface TarEntry extends Partial<Header> {
  name: string;
  pax?: Record<string, string>;
  content?: Buffer | string;
  /** Binary xattrs, written into the entry's PAX header (`SCHILY.xattr.<name>`) byte for byte. */
  binaryXattrs?: Record<string, Buffer>;
}

/**
 * A tar of these entries (mtime TAR_MTIME unless given; tar-stream's defaults otherwise: uid/gid 0,
 * mode 0644 for files, 0755 for directories). tar-stream writes PAX values as UTF-8 text, so binary
 * xattr values are written as same-length placeholders and patched into the archive afterwards.
 */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise((resolve, reject) => {
    p.on('end', () => resolve(undefined));
    p.on('error', (err: unknown) => reject(err));
  });
  const patches: [Buffer, Buffer][] = [];
  for (const { content, binaryXattrs, ...h } of entries) {
    const header: Partial<Header> & { name: string; pax?: Record<string, string> } = { mtime: TAR_MTIME, ...h };
    if (binaryXattrs) {
      header.pax = { ...header.pax };
      for (const [name, value] of Object.entries(binaryXattrs)) {
        const placeholder = Buffer.from(`@${patches.length}@`.padEnd(value.length, 'Q'));
        if (placeholder.length !== value.length) throw new Error(`tarOf: xattr ${name} is too short for a placeholder (${value.length} bytes)`);
        patches.push([placeholder, value]);
        header.pax[`SCHILY.xattr.${name}`] = placeholder.toString();
      }
    }
    if ((header.type ?? 'file') === 'file') p.entry(header, content ?? '');
    else (p.entry(header) as unknown as { end(): void }).end();
  }
  p.finalize();
  await ended;
  const tar = Buffer.concat(chunks);
  for (const [placeholder, value] of patches) {
    const at = tar.indexOf(placeholder);
    if (at <= 0) throw new Error(`tarOf: placeholder ${placeholder.toString()} not found in the archive`);
    value.copy(tar, at);
  }
  return tar;
}

/**
 * GNU tar of a directory's content (entries `./…`), reproducible: sorted, numeric owners. With
 * `file` it is written there (optionally gzip'd) and the path returned; without, the tar is returned.
 */
export function gnuTar(dir: string, opts: { file: string; gzip?: boolean; extra?: string[] }): string;
export function gnuTar(dir: string, opts?: { gzip?: boolean; extra?: string[] }): Buffer;
export function gnuTar(dir: string, opts: { file?: string; gzip?: boolean; extra?: string[] } = {}): string | Buffer {
  const args = ['--create', '--sort=name', '--numeric-owner', ...(opts.extra ?? []), ...(opts.gzip ? ['--gzip'] : [])];
  if (opts.file !== undefined) {
    execFileSync('tar', [...args, `--file=${opts.file}`, '-C', dir, '.']);
    return opts.file;
  }
  return execFileSync('tar', [...args, '--file=-', '-C', dir, '.'], { maxBuffer: 1024 * 1024 * 1024 });
}
