// Networking of a rootless container: `none` (a network namespace with lo only), `host` (the
// caller's own network namespace), or a user-mode network stack that gives the container's own
// namespace outbound traffic and published ports (`-p`) without any privilege. pasta (Debian
// `passt`) is the one driven: the monitor runs it before the workload (pocker.network.setup), it
// joins the container's namespaces through fds, binds the host ports as the caller, and the monitor
// ends it with the run. slirp4netns is found and named, but refused clearly: it stays in the
// foreground, which the setup step does not support yet.
import { accessSync, constants } from 'node:fs';

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
    if (file) {
      checkTun(kind);
      return { kind, path: file };
    }
  }
  const what = mode ? `${mode} is not installed` : 'neither pasta nor slirp4netns is installed';
  throw new PockerError(`rootless networking needs a user-mode network stack: ${what} (Debian: apt-get install passt, or slirp4netns); without one use --network none or --network host`, {
    code: 'ERR_POCKER_UNSUPPORTED',
    step: 'network',
  });
}

/** Both stacks give the container a tap device: /dev/net/tun must be the caller's to open. */
function checkTun(kind: UserModeNetwork, tun = '/dev/net/tun'): void {
  try {
    accessSync(tun, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new PockerError(`${kind} cannot open ${tun}: ${(err as NodeJS.ErrnoException).code ?? 'error'} (its usual mode is 0666; as root: chmod 0666 ${tun})`, {
      code: ((err as NodeJS.ErrnoException).code as 'EACCES') ?? 'ERR_POCKER',
      step: 'network',
      path: tun,
    });
  }
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
 * The argv of the user-mode network of a container (pocker.network.setup): the monitor runs it with
 * the container's pid appended once the container's namespaces exist and before its workload runs.
 * pasta joins them through the pid, configures the container's interface like the namespace's
 * (addresses, routes; the gateway address reaches the host's loopback), binds the published ports
 * as the caller, forks into the background and ends by itself when the container's namespace goes.
 */
export function userModeSetup(publish: readonly PortSpec[], mode?: UserModeNetwork): string[] {
  const helper = userModeHelper(mode);
  if (publish.some((p) => p.hostPortStart === 0)) {
    throw new PockerError('rootless -p needs a host port (a random host port is not supported with a user-mode network)', { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
  if (helper.kind === 'pasta') return [helper.path, '--config-net', '--quiet', ...pastaPortArgs(publish)];
  if (publish.length) {
    throw new PockerError('published ports with slirp4netns are not supported: install passt (pasta) for -p', { code: 'ERR_POCKER_UNSUPPORTED', step: 'network' });
  }
  // slirp4netns stays in the foreground for the container's life (it has no daemon mode): the
  // monitor, which waits for the setup argv to end, cannot run it yet.
  throw new PockerError('slirp4netns is installed but pocker drives only pasta as a user-mode network: install passt', { code: 'ERR_POCKER_UNSUPPORTED', step: 'network' });
}
