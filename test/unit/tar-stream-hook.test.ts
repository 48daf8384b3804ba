// lib/image/extract.ts wraps a private tar-stream method (_decodeLongHeader) to keep binary PAX
// xattr values byte-exact (tar-stream decodes them as UTF-8). tar-stream is pinned to the exact
// version this was written against; this test fails when the hook stops applying, e.g. after a
// tar-stream upgrade, instead of file capabilities being silently mangled.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { entryXattrs, layerTarExtractor } from '../../lib/image/extract.js';
import { tarOf } from '../tar.js';

/** Each entry's name and xattrs, read through the extractor extractLayer uses. */
async function readXattrs(tar: Buffer): Promise<{ rawXattrs: boolean; entries: Array<[string, Record<string, Buffer> | undefined]> }> {
  const { extractor, rawXattrs } = layerTarExtractor();
  const entries: Array<[string, Record<string, Buffer> | undefined]> = [];
  extractor.on('entry', (h, stream, next) => {
    entries.push([h.name, entryXattrs(h)]);
    stream.on('end', next);
    stream.resume();
  });
  await new Promise<void>((resolve, reject) => {
    extractor.on('finish', resolve);
    extractor.on('error', reject);
    Readable.from([tar]).pipe(extractor);
  });
  return { rawXattrs, entries };
}

// A VFS_CAP_REVISION_2 security.capability (cap_net_raw, effective): bytes that are not UTF-8.
const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');
// Every byte value, including NUL, 0x80-0xff and '\n'.
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('tar-stream hook (binary PAX xattrs)', () => {
  it('applies to the installed tar-stream, which is the exact version package.json pins', async () => {
    const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const json = (p: string) => JSON.parse(readFileSync(join(repo, p), 'utf8')) as { version: string; dependencies: Record<string, string> };
    const pkg = json('package.json');
    const installed = json('node_modules/tar-stream/package.json').version;
    expect(pkg.dependencies['tar-stream'], 'tar-stream must be pinned to an exact version').toBe(installed);
    expect(layerTarExtractor().rawXattrs, 'the _decodeLongHeader hook no longer applies to this tar-stream').toBe(true);
  });

  it('binary security.capability and other xattrs come through byte-exact', async () => {
    const tar = await tarOf([
      { name: 'bin/ping', mode: 0o755, content: 'x', binaryXattrs: { 'security.capability': CAP_NET_RAW } },
      { name: 'all-bytes', content: '', binaryXattrs: { 'user.bytes': ALL_BYTES } },
      { name: 'text', content: '', pax: { 'SCHILY.xattr.user.comment': 'a text xattr ✓' } },
      { name: 'plain', content: 'no xattrs' },
    ]);
    const { rawXattrs, entries } = await readXattrs(tar);
    expect(rawXattrs).toBe(true);
    const byName = new Map(entries);
    expect(byName.get('bin/ping')?.['security.capability']?.equals(CAP_NET_RAW), 'security.capability bytes differ').toBe(true);
    expect(byName.get('all-bytes')?.['user.bytes']?.equals(ALL_BYTES), 'user.bytes differ').toBe(true);
    expect(byName.get('text')?.['user.comment']?.toString('utf8')).toBe('a text xattr ✓');
    expect(byName.get('plain')).toBeUndefined();
  });
});
