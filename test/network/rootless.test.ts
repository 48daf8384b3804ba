// Rootless networking (issue 13), in the test run's own network namespace: an unprivileged user the
// test makes publishes `-p 18080:80` through the user-mode stack (pasta here), a request to
// 127.0.0.1:18080 reaches the server in its container, and the container reaches a server the test
// runs on this namespace's loopback through the stack's gateway address. pasta copies the
// namespace's addresses and default route into the container, so the test gives this namespace a
// veth pair with an address and a default route (nothing leaves it: both ends are here).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cleanupAll, hostBusybox, isRoot, tempDir } from '../helpers.js';
import { makeRootlessUser, pidsOf, privateTunPrefix, undoTun, type RootlessUser } from '../rootless/user.js';
import { findExecutable } from '../../lib/rootless/idmap.js';

const busybox = hostBusybox();
const pasta = findExecutable('pasta');
const link = `pkr${process.pid % 100000}`;
const GATEWAY = '10.251.0.254';

describe.skipIf(!isRoot || !busybox || !pasta || !findExecutable('newuidmap'))('rootless networking through a user-mode stack', () => {
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
    if (user) {
      let left = pidsOf(user.uid);
      for (let i = 0; i < 600 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = pidsOf(user.uid);
      }
      expect(left, `${user.name} has no process left (pasta ends with the container's namespace)`).toEqual([]);
    }
  });

  it('-p 8080:80 is reached from 127.0.0.1 (the host port bound as the user)', async () => {
    const d = await user.pocker(['run', '-d', '--name', 'web', '-p', '18080:80', 'host', busybox!, 'httpd', '-f', '-p', '80', '-h', site]);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    const inspect = JSON.parse((await user.pocker(['inspect', 'web'])).stdout) as Array<{ HostConfig: { NetworkMode: string } }>;
    expect(inspect[0]!.HostConfig.NetworkMode).toBe('pasta');
    // The server starts on its own time: polled (bounded), never a fixed sleep.
    let body = '';
    for (let i = 0; i < 200 && body === ''; i++) {
      body = await fetch('http://127.0.0.1:18080/index.html')
        .then((r) => r.text())
        .catch(async () => {
          await new Promise((r) => setTimeout(r, 50));
          return '';
        });
    }
    expect(body).toBe('served from the container\n');
    expect((await user.pocker(['rm', '-f', 'web'])).code).toBe(0);
  });

  it("reaches a server on the host's loopback through the gateway address", async () => {
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
});
