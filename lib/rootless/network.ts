// Networking of a rootless container: `none` (a network namespace with lo only), `host` (the
// caller's own network namespace), or a user-mode network stack that gives the container's own
// namespace outbound traffic and published ports (`-p`) without any privilege: pasta (Debian
// `passt`, preferred) or slirp4netns, whichever is found in $PATH ($POCKER_ROOTLESS_NETWORK picks
// one). The monitor (pocker-init) runs it before the workload (pocker.network.setup):
// - pasta joins the container's namespaces through fds, binds the host ports as the caller, forks
//   into the background, and the monitor ends it with the run;
// - slirp4netns stays in the foreground as the monitor's child (setupKind 'slirp4netns'): it gets
//   --ready-fd (the monitor waits for it) and --exit-fd (the read end of a pipe only the monitor
//   writes: it ends when the run ends or the monitor dies, even by SIGKILL), and the published
//   ports are added through its API socket (`add_hostfwd`, `forwards`) before the workload runs:
//   slirp4netns itself binds them as the caller. (Podman's default is a separate port forwarder,
//   rootlessport, faster but one more process and it hides the client's address; slirp's own
//   forwarding needs nothing else, keeps the client's address, and ends with slirp4netns.)
// Random host ports (`-p 80`, `-P`) are picked by the caller (lib/network/ports.ts, as root) and
// handed to the stack as fixed ones.
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
export function userModeHelper(mode?: UserModeNetwork, path = process.env.PATH ?? '', env: NodeJS.ProcessEnv = process.env): { kind: UserModeNetwork; path: string } {
  const wanted = env.POCKER_ROOTLESS_NETWORK;
  if (!mode && wanted !== undefined && wanted !== '') {
    if (!isUserModeNetwork(wanted)) {
      throw new PockerError(`invalid POCKER_ROOTLESS_NETWORK ${JSON.stringify(wanted)}: pasta or slirp4netns`, { code: 'ERR_POCKER_INVALID', step: 'validate' });
    }
    mode = wanted;
  }
  const kinds: UserModeNetwork[] = mode ? [mode] : ['pasta', 'slirp4netns'];
  for (const kind of kinds) {
    const file = findExecutable(kind, path, []); // $PATH only, as Podman looks up its stacks
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

/** slirp4netns's add_hostfwd requests (its API socket's JSON, one per port) for `publish`. */
export function slirpForwards(publish: readonly PortSpec[]): string[] {
  const out: string[] = [];
  for (const p of publish) {
    for (let i = 0; i <= p.containerPortEnd - p.containerPortStart; i++) {
      const host = p.hostPortEnd - p.hostPortStart === p.containerPortEnd - p.containerPortStart ? p.hostPortStart + i : p.hostPortStart;
      out.push(JSON.stringify({ execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: p.hostIp || '0.0.0.0', host_port: host, guest_port: p.containerPortStart + i } }));
    }
  }
  return out;
}

/** pocker.network's user-mode part: the setup argv, and for slirp4netns its kind and port forwards. */
export interface UserModePlan {
  setup: string[];
  setupKind?: 'slirp4netns';
  forwards?: string[];
}

/**
 * The user-mode network of a container (pocker.network.setup): the monitor runs the argv with the
 * container's namespaces (or pid) appended once they exist and before its workload runs. pasta
 * configures the container's interface like the namespace's (addresses, routes; the gateway
 * address reaches the host's loopback) and binds the published ports as the caller; slirp4netns
 * (--configure: 10.0.2.100/24, gateway 10.0.2.2, which reaches the host's loopback: no
 * --disable-host-loopback, as pasta) gets its fds and API socket from the monitor (cpp/init/net.cpp).
 * Every host port must be fixed here (random ones are allocated before: lib/runtime/run.ts).
 */
export function userModeSetup(publish: readonly PortSpec[], mode?: UserModeNetwork): UserModePlan {
  const helper = userModeHelper(mode);
  if (publish.some((p) => p.hostPortStart === 0)) {
    throw new PockerError('internal: a user-mode network got a random host port that was not allocated', { code: 'ERR_POCKER', step: 'network' });
  }
  if (helper.kind === 'pasta') return { setup: [helper.path, '--config-net', '--quiet', ...pastaPortArgs(publish)] };
  // --mtu 65520: Podman's (and rootlesskit's) default, far faster than 1500 through slirp.
  return { setup: [helper.path, '--configure', '--mtu', '65520'], setupKind: 'slirp4netns', forwards: slirpForwards(publish) };
}
