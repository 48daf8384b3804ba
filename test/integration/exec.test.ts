// exec: a new process in a running (detached) container joins its namespaces, cgroup, user,
// environment and privileges; its exit code comes back.
import { afterAll, describe, expect, it } from 'vitest';

import { exec } from '../../lib/index.js';
import { detectCgroups } from '../../lib/cgroup/index.js';
import { cleanupAll, cli, collect, isRoot, tempRoot } from '../helpers.js';

describe.skipIf(!isRoot)('exec', () => {
  const root = tempRoot();
  let id = '';

  afterAll(async () => {
    if (id) await cli(['--root', root, 'rm', '-f', id]);
    await cleanupAll();
  });

  it('joins the container: pid namespace, hostname, cgroup, env, workdir, capabilities, no_new_privs', async () => {
    const r = await cli(['run', '-d', '--name', 'exec-target', '-e', 'FROM_RUN=1', '-w', '/tmp', '--security-opt', 'no-new-privileges', '--cap-drop', 'NET_RAW', 'host', 'sleep', '100'], { root });
    expect(r.code).toBe(0);
    id = r.stdout.trim();
    const script = 'cat /proc/1/cmdline | tr "\\0" " "; echo; hostname; echo $FROM_RUN; pwd; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status; grep -c pocker /proc/self/cgroup; echo pid=$$; [ "$(cat /proc/self/cgroup)" = "$(cat /proc/1/cgroup)" ] && echo same-cgroups';
    const c = await exec('exec-target', { cmd: ['sh', '-c', script], root });
    const [out, status] = await Promise.all([collect(c.stdout), c.wait()]);
    expect(status.exitCode).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]!.trim()).toBe('sleep 100');
    expect(lines[1]).toBe(id.slice(0, 12));
    expect(lines.slice(2, 4)).toEqual(['1', '/tmp']);
    expect(lines[4]).toBe('CapBnd:\t00000000a80405fb'); // Docker's 14 minus NET_RAW (bit 13)
    expect(lines[5]).toBe('NoNewPrivs:\t1');
    // Its cgroups are the container's: pocker's on v1 (the host's view); on v2 the container has
    // a cgroup namespace of its own (Docker's default there), whose root it sees as `0::/`.
    if (detectCgroups().version === 2) expect(lines[6]).toBe('0');
    else expect(Number(lines[6])).toBeGreaterThan(0);
    expect(lines[7]).toMatch(/^pid=\d+$/);
    expect(Number(lines[7]!.slice(4))).toBeLessThan(100); // a pid of the container's namespace
    // Every hierarchy the container's init is in (a v1 hybrid's cgroup2 too, born into), the same leaves.
    expect(lines[8]).toBe('same-cgroups');
  });

  it('exec -d: the handle\'s wait() resolves when the detached process ends, not before', async () => {
    const d = await exec('exec-target', { cmd: ['sleep', '600'], detach: true, root });
    let settled = false;
    const waited = d.wait().then((s) => {
      settled = true;
      return s;
    });
    // Other work meanwhile (a whole CLI exec): the detached process still runs, wait() is pending.
    expect((await cli(['--root', root, 'exec', 'exec-target', 'true'])).code).toBe(0);
    expect(settled).toBe(false);
    expect(d.pid).toBeGreaterThan(0);
    process.kill(d.pid, 'SIGKILL');
    // Its status is not known to the handle (the process is not this one's child).
    expect(await waited).toEqual({ exitCode: -1, signal: null, oomKilled: false });
  });

  it('CLI: exit codes (N, 126, 127), -u, -e, -w, -i; a stopped container is refused', async () => {
    expect((await cli(['--root', root, 'exec', 'exec-target', 'sh', '-c', 'exit 7'])).code).toBe(7);
    const notFound = await cli(['--root', root, 'exec', 'exec-target', 'no-such-program']);
    expect([notFound.code, notFound.stderr]).toEqual([127, expect.stringMatching(/executable file not found/)]);
    expect((await cli(['--root', root, 'exec', 'exec-target', '/etc/passwd'])).code).toBe(126);
    const who = await cli(['--root', root, 'exec', '-u', 'nobody', '-e', 'X=y', '-w', '/var', 'exec-target', 'sh', '-c', 'id -u; echo $X; pwd']);
    expect(who.stdout).toBe('65534\ny\n/var\n');
    const piped = await cli(['--root', root, 'exec', '-i', 'exec-target', 'cat'], { input: 'through stdin\n' });
    expect(piped.stdout).toBe('through stdin\n');
    const t = await exec(id, { cmd: ['sh', '-c', 'tty'], tty: true, root });
    const [ttyOut] = await Promise.all([collect(t.stdout), t.wait()]);
    expect(ttyOut.trim()).toMatch(/^\/dev\/pts\/\d+$/);

    expect((await cli(['--root', root, 'kill', id])).code).toBe(0);
    expect((await cli(['--root', root, 'wait', id])).stdout.trim()).toBe('137');
    const stopped = await cli(['--root', root, 'exec', id, 'true']);
    // Docker: "Error response from daemon: container ... is not running", exit 1.
    expect([stopped.code, stopped.stderr]).toEqual([1, expect.stringMatching(/is not running/)]);
  });
});
