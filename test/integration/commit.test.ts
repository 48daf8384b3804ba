// `pocker commit` and `pocker export` end to end: a busybox image (imported from a rootfs tarball)
// runs detached and changes its filesystem (a new file, a deleted file, a directory removed and
// recreated); commit turns the changes into a layer (whiteout, opaque dir) of an image that runs
// with them; export gives the same tree from the live root and from the stopped container's layers.
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, cli, copyRootfs, hostBusybox, isRoot, tempDir, tempRoot, until } from '../helpers.js';

const busybox = hostBusybox();

const SCRIPT = 'echo new > /new; rm /etc/group; rm -rf /data/old; mkdir -p /data/old && echo c > /data/old/c; sleep 100';

/** The sorted entry names of a tar file. */
function tarList(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

describe.skipIf(!isRoot || !busybox)('commit and export', () => {
  let root: string;
  const ids: string[] = [];

  beforeAll(async () => {
    root = tempRoot();
    const rootfs = copyRootfs(undefined, 'commit-rootfs');
    mkdirSync(join(rootfs, 'data/old'), { recursive: true });
    writeFileSync(join(rootfs, 'data/old/a'), 'a\n');
    writeFileSync(join(rootfs, 'data/old/b'), 'b\n');
    writeFileSync(join(rootfs, 'data/keep'), 'keep\n');
    linkSync(join(rootfs, 'data/keep'), join(rootfs, 'data/keep-link'));
    const file = join(tempDir('commit-tar'), 'rootfs.tar');
    execFileSync('tar', ['--create', `--file=${file}`, '--numeric-owner', '-C', rootfs, '.']);
    const r = await cli(['--root', root, 'import', file, 'commit-base:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  afterAll(async () => {
    for (const id of ids) await cli(['--root', root, 'rm', '-f', id]);
    await cleanupAll();
  });

  async function startChanged(): Promise<string> {
    const r = await cli(['run', '-d', 'commit-base:1', 'sh', '-c', SCRIPT], { root });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    ids.push(id);
    await until('the script to write /data/old/c', () => existsSync(join(root, 'containers', id, 'upper', 'data', 'old', 'c')));
    return id;
  }

  async function checkImage(image: string): Promise<void> {
    const cat = await cli(['run', '--rm', image], { root });
    expect(cat.stderr).toBe('');
    expect(cat.stdout).toBe('new\n');
    const ls = await cli(['run', '--rm', image, 'sh', '-c', 'ls /data/old; test -e /etc/group && echo group-present; ls /data; cat /data/keep-link'], { root });
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toBe('c\nkeep\nkeep-link\nold\nkeep\n');
  }

  it('commits a running container: the new image runs with its changes, deletions and the replaced dir', async () => {
    const id = await startChanged();
    const r = await cli(['--root', root, 'commit', '--change', 'CMD ["cat","/new"]', '-m', 'a test', '-a', 'tester', id, 'commit-new:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    await checkImage('commit-new:1');
    await cli(['--root', root, 'rm', '-f', id]);
  });

  it('exports a running container and the same tree once it has stopped; commits the stopped one', async () => {
    const id = await startChanged();
    const dir = tempDir('commit-export');
    const running = join(dir, 'running.tar');
    const r1 = await cli(['--root', root, 'export', '-o', running, id]);
    expect(r1.stderr).toBe('');
    expect(r1.code).toBe(0);
    const live = tarList(running);
    expect(live).toContain('new');
    expect(live).not.toContain('etc/group');
    expect(live.filter((n) => n.startsWith('data/old/'))).toEqual(['data/old/', 'data/old/c']);
    expect(live).toContain('proc/');
    expect(live.some((n) => n.startsWith('proc/') && n !== 'proc/')).toBe(false);
    // The hard link stays one.
    const verbose = execFileSync('tar', ['-tvf', running], { encoding: 'utf8' });
    expect(verbose).toMatch(/data\/keep-link link to data\/keep|data\/keep link to data\/keep-link/);

    expect((await cli(['--root', root, 'kill', id])).code).toBe(0);
    await until('the container to exit', () => /"status":"exited"/.test(execFileSync('cat', [join(root, 'containers', id, 'state.json')], { encoding: 'utf8' })));
    const stopped = join(dir, 'stopped.tar');
    const r2 = await cli(['--root', root, 'export', '-o', stopped, id]);
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    expect(tarList(stopped)).toEqual(live);

    const c = await cli(['--root', root, 'commit', '-c', 'CMD ["cat","/new"]', id, 'commit-stopped:1']);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    await checkImage('commit-stopped:1');
    await cli(['--root', root, 'rm', '-f', id]);
  });

  it('refuses the host image and an unknown container', async () => {
    const r = await cli(['run', '-d', 'host', 'sleep', '100'], { root });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    ids.push(id);
    const c = await cli(['--root', root, 'commit', id]);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('the host image keeps its changes in memory: commit is not supported');
    await cli(['--root', root, 'rm', '-f', id]);
    const missing = await cli(['--root', root, 'commit', 'no-such-container']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such container');
  });
});
