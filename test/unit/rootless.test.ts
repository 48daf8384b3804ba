// Rootless mode's pure parts: subid parsing, the caller's id maps, the runtime dir's checks, the
// cgroup delegation decision, pasta's port arguments, slirp4netns's forwards and the stack's choice. No container runs.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { limitFlags, rootlessCgroupParent, delegatedCgroup, delegatedOfParent, evacuateDelegated, ownCgroupPath } from '../../lib/rootless/cgroup.js';
import { rootlessIdMaps } from '../../lib/rootless/idmap.js';
import { checkUnprivilegedPorts, pastaPortArgs, slirpForwards, userModeHelper } from '../../lib/rootless/network.js';
import { checkPrivateDir, runtimeDir } from '../../lib/rootless/paths.js';
import { scratchDir } from '../../lib/rootless/userns.js';
import { parseSubidText, rangesOf } from '../../lib/userns/subid.js';
import { parsePublish } from '../../lib/network/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'pocker-rootless-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('subuid/subgid files', () => {
  it('parses owner:start:count lines and skips what is not one', () => {
    const text = '# comment\nalice:100000:65536\n\n1001:200000:1000\nbad line\nbob:x:1\ncarol:5:0\n  dave:300000:10  \n';
    expect(parseSubidText(text)).toEqual([
      { owner: 'alice', start: 100000, count: 65536 },
      { owner: '1001', start: 200000, count: 1000 },
      { owner: 'dave', start: 300000, count: 10 },
    ]);
  });

  it('finds a user by name and by uid, every range in file order', () => {
    const e = parseSubidText('alice:100000:65536\n1000:300000:5\nbob:1:1\n');
    expect(rangesOf(e, { name: 'alice', uid: 1000 })).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 5 },
    ]);
    expect(rangesOf(e, { uid: 1000 })).toEqual([{ start: 300000, count: 5 }]);
    expect(rangesOf(e, { name: 'eve', uid: 7 })).toEqual([]);
  });
});

describe('the caller id maps', () => {
  const sub = join(dir, 'subuid');
  const subg = join(dir, 'subgid');

  it('maps container root to the caller and 1… to its ranges', () => {
    writeFileSync(sub, 'u:100000:65536\n');
    writeFileSync(subg, 'u:200000:65536\n');
    const m = rootlessIdMaps({ uid: 1000, gid: 1001, user: 'u', subuidFile: sub, subgidFile: subg, path: '/usr/bin:/usr/sbin' });
    if (!m.helpers) return; // no uidmap on this machine: the next case covers the note
    expect(m.uidMappings).toEqual([
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ]);
    expect(m.gidMappings).toEqual([
      { containerID: 0, hostID: 1001, size: 1 },
      { containerID: 1, hostID: 200000, size: 65536 },
    ]);
    expect(m.note).toBeUndefined();
  });

  it('without a range maps only the caller, with a note of what then fails', () => {
    writeFileSync(sub, 'other:100000:65536\n');
    const m = rootlessIdMaps({ uid: 1000, gid: 1000, user: 'u', subuidFile: sub, subgidFile: join(dir, 'missing') });
    expect(m.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(m.gidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(m.note).toMatch(/has no range in .*subuid and .*missing.*chown/);
    expect(m.helpers).toBeUndefined();
  });
});

describe('the runtime directory', () => {
  const uid = process.geteuid!();

  it('is $XDG_RUNTIME_DIR/pocker when that is the caller own', () => {
    const xdg = join(dir, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    expect(runtimeDir({ XDG_RUNTIME_DIR: xdg }, dir)).toBe(join(xdg, 'pocker'));
  });

  it('falls back to a private directory under the temp dir, checked each time', () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const env = { XDG_RUNTIME_DIR: join(dir, 'nope') };
    // (as root the fallback without XDG_RUNTIME_DIR is /run/pocker; with one that is not ours, the temp dir)
    const got = runtimeDir(env, tmp);
    expect(got).toBe(join(tmp, `pocker-run-${uid}`));
    chmodSync(got, 0o755);
    expect(() => runtimeDir(env, tmp)).toThrow(/refusing the runtime directory .* has mode 755, not 700/);
  });

  it('refuses a symlink and a directory someone else owns', () => {
    const target = join(dir, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(dir, 'link');
    symlinkSync(target, link);
    expect(() => checkPrivateDir(link, uid)).toThrow(/is a symlink/);
    expect(() => checkPrivateDir(target, uid + 1)).toThrow(/is owned by uid \d+, not by this user/);
  });
});

describe('rootless cgroups', () => {
  it('names the limit flags given', () => {
    expect(limitFlags({})).toEqual([]);
    expect(limitFlags({ memory: 1 << 20, pidsLimit: 10, cpuQuota: { quota: 50000, period: 100000 } })).toEqual(['--memory', '--pids-limit', '--cpus']);
  });

  it('makes no cgroup without limits; refuses limits on v1 with the clear error', () => {
    expect(rootlessCgroupParent({ version: 1, v1Mounts: {} }, {}, 1000)).toBeUndefined();
    expect(() => rootlessCgroupParent({ version: 1, v1Mounts: {} }, { memory: 1 << 20 }, 1000)).toThrow(/this user has no delegated cgroup: this host uses cgroup v1.*--memory/);
  });

  it('on v2 uses the highest directory the user owns on the way to its own cgroup', () => {
    const mount = join(dir, 'cg');
    const own = join(mount, 'a', 'deleg', 'session');
    mkdirSync(own, { recursive: true });
    for (const d of [join(mount, 'a', 'deleg'), own]) for (const f of ['cgroup.procs', 'cgroup.subtree_control']) writeFileSync(join(d, f), '');
    const uid = process.geteuid!();
    // `a` has no cgroup.procs/subtree_control of its own: `a/deleg` is the highest delegated level.
    expect(delegatedCgroup(mount, uid, '/a/deleg/session')).toBe('a/deleg');
    expect(delegatedCgroup(mount, uid + 12345, '/a/deleg/session')).toBeUndefined();
    expect(() => rootlessCgroupParent({ version: 2, unifiedMount: mount }, { pidsLimit: 5 }, uid + 12345)).toThrow(/this user has no delegated cgroup: no cgroup v2 directory.*--pids-limit/);
    expect(ownCgroupPath('12:pids:/x\n0::/user.slice/user-1000.slice/user@1000.service/app.slice\n')).toBe('/user.slice/user-1000.slice/user@1000.service/app.slice');
  });

  it('the delegated subtree of a rootless parent is the parent without its pocker level', () => {
    expect(delegatedOfParent('user.slice/user-1000.slice/user@1000.service/pocker')).toBe('user.slice/user-1000.slice/user@1000.service');
    expect(delegatedOfParent('/a/pocker/')).toBe('a');
    expect(delegatedOfParent('pocker')).toBeUndefined();
    expect(delegatedOfParent('a/b')).toBeUndefined();
  });

  it("moves the caller's processes out of the delegated cgroup only when they sit in it (no internal processes)", () => {
    const mount = join(dir, 'evac');
    const deleg = join(mount, 'd');
    mkdirSync(join(deleg, 'session'), { recursive: true });
    writeFileSync(join(deleg, 'cgroup.procs'), '');
    // The caller lives below (systemd's case): nothing is made or moved.
    evacuateDelegated(mount, 'd', '/d/session');
    expect(existsSync(join(deleg, 'init'))).toBe(false);
    // The caller sits in the delegated cgroup: its leaf is made and each pid written there.
    writeFileSync(join(deleg, 'cgroup.procs'), `${process.pid}\n`);
    evacuateDelegated(mount, 'd', '/d');
    expect(readFileSync(join(deleg, 'init', 'cgroup.procs'), 'utf8')).toBe(String(process.pid));
  });
});

describe('user-mode networks', () => {
  it('gives pasta the published ports, nothing else forwarded', () => {
    expect(pastaPortArgs(parsePublish(['8080:80', '127.0.0.1:5353:53/udp']))).toEqual(['-t', '8080:80', '-u', '127.0.0.1/5353:53', '-T', 'none', '-U', 'none']);
    expect(pastaPortArgs([])).toEqual(['-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none']);
  });

  it("gives slirp4netns one add_hostfwd request per port", () => {
    expect(slirpForwards(parsePublish(['8080:80', '127.0.0.1:5353:53/udp', '9000-9001:90-91'])).map((r) => JSON.parse(r) as unknown)).toEqual([
      { execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '0.0.0.0', host_port: 8080, guest_port: 80 } },
      { execute: 'add_hostfwd', arguments: { proto: 'udp', host_addr: '127.0.0.1', host_port: 5353, guest_port: 53 } },
      { execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '0.0.0.0', host_port: 9000, guest_port: 90 } },
      { execute: 'add_hostfwd', arguments: { proto: 'tcp', host_addr: '0.0.0.0', host_port: 9001, guest_port: 91 } },
    ]);
  });

  it('picks the stack in $PATH: pasta first, slirp4netns else, $POCKER_ROOTLESS_NETWORK forcing one', () => {
    const bin = join(dir, 'stacks');
    mkdirSync(bin);
    expect(() => userModeHelper(undefined, bin, {})).toThrow(/neither pasta nor slirp4netns is installed \(Debian: apt-get install passt, or slirp4netns\)/);
    expect(() => userModeHelper(undefined, bin, { POCKER_ROOTLESS_NETWORK: 'vde' })).toThrow(/invalid POCKER_ROOTLESS_NETWORK "vde": pasta or slirp4netns/);
    expect(() => userModeHelper(undefined, bin, { POCKER_ROOTLESS_NETWORK: 'slirp4netns' })).toThrow(/slirp4netns is not installed/);
    if (!existsSync('/dev/net/tun')) return; // (the stacks' tun check)
    for (const name of ['pasta', 'slirp4netns']) writeFileSync(join(bin, name), '#!/bin/sh\n', { mode: 0o755 });
    expect(userModeHelper(undefined, bin, {})).toEqual({ kind: 'pasta', path: join(bin, 'pasta') });
    expect(userModeHelper(undefined, bin, { POCKER_ROOTLESS_NETWORK: 'slirp4netns' })).toEqual({ kind: 'slirp4netns', path: join(bin, 'slirp4netns') });
    rmSync(join(bin, 'pasta'));
    expect(userModeHelper(undefined, bin, {}).kind).toBe('slirp4netns');
  });

  it('explains a host port below the unprivileged start', () => {
    expect(() => checkUnprivilegedPorts(parsePublish(['80:80']), () => 1024)).toThrow(/ports below 1024 need root .*ip_unprivileged_port_start=80/);
    expect(() => checkUnprivilegedPorts(parsePublish(['8080:80']), () => 1024)).not.toThrow();
  });
});

describe('the userns worker\'s tmpfs (a fixed bug: a clone in /tmp hid pocker from its own worker)', () => {
  it('is /tmp unless pocker or Node lives there; then another directory that holds neither', () => {
    expect(scratchDir(['/opt/pocker', '/usr/bin/node'])).toBe('/tmp');
    const other = scratchDir(['/tmp/ci/pocker', '/usr/bin/node']);
    expect(other).not.toBe('/tmp');
    expect(existsSync(other)).toBe(true);
    expect(scratchDir(['/tmp/ci/pocker', '/run/node/bin/node'])).not.toMatch(/^\/(tmp|run)$/);
    expect(scratchDir(['/tmpfoo/pocker', '/usr/bin/node'])).toBe('/tmp'); // a prefix is not a parent
  });
});
