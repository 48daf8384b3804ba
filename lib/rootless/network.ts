// Networking of a rootless container: `none` (a network namespace with lo only), `host` (the
// caller's own network namespace), or a user-mode network stack that gives the container's own
// namespace outbound traffic and published ports (`-p`) without any privilege: pasta (Debian
// `passt`) or slirp4netns, whichever is installed, chosen when the container starts. The helper
// joins the container's user and network namespaces through its pid, binds the host ports as the
// caller, and ends by itself when the container's namespace goes. Published ports need pasta.
import { spawn } from 'node:child_process';

import { PockerError } from '../errors.js';
import type { PortSpec } from '../network/ports.js';
import { findExecutable } from './idmap.js';

/** The user-mode network modes (Podman's names). */
export const USER_MODE_NETWORKS = ['pasta', 'slirp4netns'] as const;
export type UserModeNetwork = (typeof USER_MODE_NETWORKS)[number];

export function isUserModeNetwork(mode: string): mode is UserModeNetwork {
  return (USER_MODE_NETWORKS as readonly string[]).includes(mode);
}

/** The helper for `mode` ('pasta', 'slirp4netns' or undefined: the first installed), or the clear error. */
export function userModeHelper(mode?: UserModeNetwork, path?: string): { kind: UserModeNetwork; path: string } {
  const kinds: UserModeNetwork[] = mode ? [mode] : ['pasta', 'slirp4netns'];
  for (const kind of kinds) {
    const file = findExecutable(kind, path);
    if (file) return { kind, path: file };
  }
  const what = mode ? `${mode} is not installed` : 'neither pasta nor slirp4netns is installed';
  throw new PockerError(`rootless networking needs a user-mode network stack: ${what} (Debian: apt-get install passt, or slirp4netns); without one use --network none or --network host`, {
    code: 'ERR_POCKER_UNSUPPORTED',
    step: 'network',
  });
}

/** A host port below net.ipv4.ip_unprivileged_port_start cannot be bound by a user: said before the start. */
export function checkUnprivilegedPorts(publish: readonly PortSpec[], readStart: () => number): void {
  let start: number;
  try {
    start = readStart();
  } catch {
    start = 1024;
  }
  const low = publish.find((p) => p.hostPortStart !== 0 && p.hostPortStart < start);
  if (low) {
    throw new PockerError(
      `cannot publish host port ${low.hostPortStart} as an unprivileged user: ports below ${start} need root (as root: sysctl net.ipv4.ip_unprivileged_port_start=${low.hostPortStart})`,
      { code: 'EACCES', errno: 13, step: 'network' },
    );
  }
}

/** pasta's -t/-u arguments for `publish` ("none" when nothing is published: no automatic forwarding). */
export function pastaPortArgs(publish: readonly PortSpec[]): string[] {
  const tcp = publish.filter((p) => p.protocol === 'tcp');
  const udp = publish.filter((p) => p.protocol === 'udp');
  const spec = (p: PortSpec): string => {
    const host = p.hostPortStart === p.hostPortEnd ? `${p.hostPortStart}` : `${p.hostPortStart}-${p.hostPortEnd}`;
    const ctr = p.containerPortStart === p.containerPortEnd ? `${p.containerPortStart}` : `${p.containerPortStart}-${p.containerPortEnd}`;
    return `${p.hostIp ? `${p.hostIp}/` : ''}${host}:${ctr}`;
  };
  const list = (flag: string, ps: PortSpec[]): string[] => (ps.length ? ps.flatMap((p) => [flag, spec(p)]) : [flag, 'none']);
  // -T/-U: nothing forwarded from the container's namespace back to the host's.
  return [...list('-t', tcp), ...list('-u', udp), '-T', 'none', '-U', 'none'];
}

/**
 * Starts the user-mode network of the container whose process is `pid`: pasta configures the
 * container's interface like the host's (addresses, routes; the gateway address reaches the host's
 * loopback) and forks into the background; it ends by itself when the
 * container's network namespace goes. Resolves once the network is configured.
 */
export async function startUserModeNetwork(pid: number, publish: readonly PortSpec[], mode?: UserModeNetwork): Promise<void> {
  const helper = userModeHelper(mode);
  if (publish.some((p) => p.hostPortStart === 0)) {
    throw new PockerError('rootless -p needs a host port (a random host port is not supported with a user-mode network)', { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  let args: string[];
  if (helper.kind === 'pasta') {
    // The gateway address reaches the host's loopback (pasta's default: no --no-map-gw).
    args = ['--config-net', '--quiet', ...pastaPortArgs(publish), String(pid)];
  } else {
    if (publish.length) {
      throw new PockerError('published ports with slirp4netns are not supported yet: install passt (pasta) for -p', { code: 'ERR_POCKER_UNSUPPORTED', step: 'network' });
    }
    args = ['--configure', '--mtu=65520', '--disable-host-loopback', String(pid), 'tap0'];
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn(helper.path, args, {
      stdio: helper.kind === 'pasta' ? ['ignore', 'ignore', 'pipe'] : 'ignore',
      detached: helper.kind !== 'pasta',
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) => reject(new PockerError(`cannot start ${helper.kind}: ${err.message}`, { code: 'ERR_POCKER', step: 'network', path: helper.path, cause: err })));
    if (helper.kind === 'slirp4netns') {
      // slirp4netns stays in the foreground for the container's life: it ends with the namespace.
      child.unref();
      resolve();
      return;
    }
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new PockerError(`${helper.kind} failed (${signal ?? `status ${code}`}): ${stderr.trim() || 'no message'}`, { code: 'ERR_POCKER', step: 'network', path: helper.path }));
    });
  });
}
