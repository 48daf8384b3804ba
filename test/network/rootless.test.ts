// Rootless networking (issue 13), in the test run's own network namespace: an unprivileged user the
// test makes publishes `-p 18080:80` through each user-mode stack (pasta, and slirp4netns: picked
// when pasta is not in $PATH, or by $POCKER_ROOTLESS_NETWORK / --network), a request to
// 127.0.0.1:18080 reaches the server in its container, and the container reaches a server the test
// runs on this namespace's loopback through the stack's gateway address (pasta: the namespace's
// gateway; slirp4netns: 10.0.2.2). `-p 80` gets a free host port that `pocker port` reports. pasta copies the
// namespace's addresses and default route into the container, so the test gives this namespace a
// veth pair with an address and a default route (nothing leaves it: both ends are here).
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, hostBusybox, isRoot, tempDir } from '../helpers.js';
import { expectUserGone, makeRootlessUser, pidsOf, privateTunPrefix, undoTun, type RootlessUser } from '../rootless/user.js';
import { findExecutable } from '../../lib/rootless/idmap.js';

const busybox = hostBusybox();
const pasta = findExecutable('pasta');
const slirp = findExecutable('slirp4netns');

/** GET http://127.0.0.1:PORT/index.html, polled (bounded) while the server starts: never a fixed sleep. */
async function getBody(port: number): Promise<string> {
  let body = '';
  for (let i = 0; i < 200 && body === ''; i++) {
    body = await fetch(`http://127.0.0.1:${port}/index.html`)
      .then((r) => r.text())
      .catch(async () => {
        await new Promise((r) => setTimeout(r, 50));
        return '';
      });
  }
  return body;
}
const link = `pkr${process.pid % 100000}`;
const GATEWAY = '10.251.0.254';

describe.skipIf(!isRoot || !busybox || (!pasta && !slirp) || !findExecutable('newuidmap'))('rootless networking through a user-mode stack', () => {
  let user: RootlessUser;
  let server: Server;
  let serverPort = 0;
  let site: string;

  beforeAll(async () => {
    execFileSync('ip', ['link', 'add', `${link}a`, 'type', 'veth', 'peer', 'name', `${link}b`]);
    execFileSync('ip', ['addr', 'add', '10.251.0.1/24', 'dev', `${link}a`]);
    execFileSync('ip', ['link', 'set', `${link}a`, 'up']);
    execFileSync('ip', ['link', 'set', `${link}b`, 'up']);
    execFileSync('ip', ['route', 'add', 'default', 'via', GATEWAY, 'dev', `${link}a`]);
    server = createServer((_req, res) => res.end('from the host loopback\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    serverPort = (server.address() as { port: number }).port;
    user = makeRootlessUser('n');
    user.prefix = privateTunPrefix();
    site = tempDir('rootless-site');
    writeFileSync(join(site, 'index.html'), 'served from the container\n', { mode: 0o644 });
  });

  afterAll(async () => {
    user?.remove();
    undoTun();
    server?.close();
    try {
      execFileSync('ip', ['link', 'del', `${link}a`]);
    } catch {
      /* not made */
    }
    await cleanupAll();
    if (user) await expectUserGone(user, "no process left (pasta ends with the container's namespace)");
  });

  it.skipIf(!pasta)('-p 8080:80 is reached from 127.0.0.1 (the host port bound as the user)', async () => {
    const d = await user.pocker(['run', '-d', '--name', 'web', '-p', '18080:80', 'host', busybox!, 'httpd', '-f', '-p', '80', '-h', site]);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    const inspect = JSON.parse((await user.pocker(['inspect', 'web'])).stdout) as Array<{ HostConfig: { NetworkMode: string } }>;
    expect(inspect[0]!.HostConfig.NetworkMode).toBe('pasta');
    const body = await getBody(18080);
    expect(body).toBe('served from the container\n');
    expect((await user.pocker(['rm', '-f', 'web'])).code).toBe(0);
  });

  it.skipIf(!pasta)("reaches a server on the host's loopback through the gateway address", async () => {
    // (busybox-static's wget crashes here, and this pasta does not pass the server's close on to a
    // half-closed nc: the shell polls nc's output for the body, then ends nc and the container.)
    const script = `: > /tmp/out; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${GATEWAY} ${serverPort} > /tmp/out & until grep -q loopback /tmp/out; do usleep 20000; done; cat /tmp/out; kill $!`;
    const r = await user.pocker(['run', '--rm', '--network', 'pasta', '--tmpfs', '/tmp', 'host', busybox!, 'sh', '-c', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfrom the host loopback\n/);
  });

  it('a host port below the unprivileged start is refused with the explanation', async () => {
    const r = await user.pocker(['run', '--rm', '-p', '80:80', 'host', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot publish host port 80 as an unprivileged user: ports below \d+ need root .*ip_unprivileged_port_start/);
  });
  it('-p 80 gets a free host port: `pocker port`, ps PORTS and inspect report it, and it reaches the server', async () => {
    const d = await user.pocker(['run', '-d', '--name', 'rnd', '-p', '80', 'host', busybox!, 'httpd', '-f', '-p', '80', '-h', site]);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    const port = await user.pocker(['port', 'rnd', '80']);
    expect(port.code).toBe(0);
    const m = /^0\.0\.0\.0:(\d+)\n$/.exec(port.stdout);
    expect(m, port.stdout).not.toBeNull();
    const hostPort = Number(m![1]);
    expect(hostPort).toBeGreaterThanOrEqual(1024);
    const inspect = JSON.parse((await user.pocker(['inspect', 'rnd'])).stdout) as Array<{ NetworkSettings: { Ports: Record<string, unknown> } }>;
    expect(inspect[0]!.NetworkSettings.Ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }] });
    expect((await user.pocker(['ps', '--format', '{{.Ports}}'])).stdout).toBe(`0.0.0.0:${hostPort}->80/tcp\n`);
    expect(await getBody(hostPort)).toBe('served from the container\n');
    // Its end gives the port back: `pocker port` of the stopped container lists nothing (polled:
    // the monitor releases after the container's end).
    expect((await user.pocker(['kill', 'rnd'])).code).toBe(0);
    let listed = port.stdout;
    for (let i = 0; i < 200 && listed !== ''; i++) {
      listed = (await user.pocker(['port', 'rnd'])).stdout;
      if (listed !== '') await new Promise((r) => setTimeout(r, 50));
    }
    expect(listed).toBe('');
    expect((await user.pocker(['rm', '-f', 'rnd'])).code).toBe(0);
  });

  it('the clear error when neither pasta nor slirp4netns is in $PATH', async () => {
    const env = user.env;
    const path = env.PATH!;
    env.PATH = tempDir('rootless-nopath');
    try {
      const r = await user.pocker(['run', '--rm', '-p', '18082:80', 'host', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/rootless networking needs a user-mode network stack: neither pasta nor slirp4netns is installed \(Debian: apt-get install passt, or slirp4netns\)/);
    } finally {
      env.PATH = path;
    }
  });

  describe.skipIf(!slirp)('slirp4netns (pasta not in $PATH)', () => {
    let path = '';
    beforeAll(() => {
      // A PATH with slirp4netns and no pasta: the fallback pocker picks at run time.
      const dir = tempDir('rootless-slirp-path');
      chmodSync(dir, 0o755);
      symlinkSync(slirp!, join(dir, 'slirp4netns'));
      path = user.env.PATH!;
      user.env.PATH = dir;
    });
    afterAll(() => {
      if (path) user.env.PATH = path;
    });

    it('-p 18081:80 is reached from 127.0.0.1, -p 80 through `pocker port` too', async () => {
      const d = await user.pocker(['run', '-d', '--name', 'sweb', '-p', '18081:80', '-p', '127.0.0.1::80', 'host', busybox!, 'httpd', '-f', '-p', '80', '-h', site]);
      expect(d.stderr).toBe('');
      expect(d.code).toBe(0);
      const inspect = JSON.parse((await user.pocker(['inspect', 'sweb'])).stdout) as Array<{ HostConfig: { NetworkMode: string } }>;
      expect(inspect[0]!.HostConfig.NetworkMode).toBe('slirp4netns');
      expect(await getBody(18081)).toBe('served from the container\n');
      const port = await user.pocker(['port', 'sweb', '80']);
      const m = /^0\.0\.0\.0:18081\n127\.0\.0\.1:(\d+)\n$/.exec(port.stdout);
      expect(m, port.stdout).not.toBeNull();
      expect(await getBody(Number(m![1]))).toBe('served from the container\n');
      expect((await user.pocker(['rm', '-f', 'sweb'])).code).toBe(0);
    });

    it("reaches a server on the host's loopback through 10.0.2.2 ($POCKER_ROOTLESS_NETWORK too)", async () => {
      // (pasta in $PATH again: the variable picks slirp4netns.)
      const dir = user.env.PATH!;
      user.env.POCKER_ROOTLESS_NETWORK = 'slirp4netns';
      user.env.PATH = path;
      try {
        const script = `: > /tmp/out; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 10.0.2.2 ${serverPort} > /tmp/out & until grep -q loopback /tmp/out; do usleep 20000; done; cat /tmp/out; kill $! 2>/dev/null; true`;
        const r = await user.pocker(['run', '--rm', '-p', '18084:80', '--tmpfs', '/tmp', 'host', busybox!, 'sh', '-c', script]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfrom the host loopback\n/);
      } finally {
        delete user.env.POCKER_ROOTLESS_NETWORK;
        user.env.PATH = dir;
      }
    });

    it('a host port below the unprivileged start is refused with the explanation', async () => {
      const r = await user.pocker(['run', '--rm', '-p', '80:80', 'host', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/cannot publish host port 80 as an unprivileged user: ports below \d+ need root .*ip_unprivileged_port_start/);
    });

    it('slirp4netns ends with its monitor, even a SIGKILLed one (--exit-fd)', async () => {
      const d = await user.pocker(['run', '-d', '--name', 'skill', '-p', '18083:80', 'host', busybox!, 'httpd', '-f', '-p', '80', '-h', site]);
      expect(d.code).toBe(0);
      const slirps = pidsOf(user.uid).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('/slirp4netns');
        } catch {
          return false;
        }
      });
      expect(slirps).toHaveLength(1);
      const monitor = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${slirps[0]}/status`, 'utf8'))![1]);
      expect(readFileSync(`/proc/${monitor}/cmdline`, 'utf8')).toMatch(/pocker-init/);
      process.kill(monitor, 'SIGKILL');
      let alive = true;
      for (let i = 0; i < 600 && alive; i++) {
        try {
          alive = !/^State:\s+Z/m.test(readFileSync(`/proc/${slirps[0]}/status`, 'utf8'));
        } catch {
          alive = false;
        }
        if (alive) await new Promise((r) => setTimeout(r, 50));
      }
      expect(alive, 'slirp4netns ended once its exit fd closed').toBe(false);
      expect((await user.pocker(['rm', '-f', 'skill'])).code).toBe(0);
    });
  });
});
