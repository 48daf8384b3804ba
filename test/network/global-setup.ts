// vitest globalSetup of the `network` project: these tests create bridges, veth pairs, nftables
// rules and published ports. They must live and die in a network namespace made for the run (the
// runner starts vitest under `unshare --net`), never in this machine's own: refuse otherwise. A
// namespace made for the run has nothing but `lo` when the run begins (this machine's has its real
// devices; /proc/1/ns may not be readable, so the devices are the test). Brings `lo` up (a new
// namespace's is down).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The devices of this process's network namespace (/sys/class/net shows the sysfs mounter's). */
function devices(): string[] {
  return readFileSync('/proc/self/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((d) => d !== '' && d !== 'lo');
}

export default function setup(): void {
  const present = devices();
  if (present.length > 0) {
    throw new Error(
      'test/network must run in a network namespace of its own: use `npm run test:network` ' +
        `(unshare --net -- vitest run --project network), never in the host namespace (devices here: ${present.join(', ')})`,
    );
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
}
