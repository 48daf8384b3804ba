// The syscall battery (test/security/battery/battery.c, built with gcc -static) and what Docker's
// default profile answers it: shared by test/security/seccomp.test.ts (root) and
// test/rootless/security.test.ts (the same probes as an unprivileged user).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot, tempDir } from '../helpers.js';

export const haveGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

/** Builds the battery into a new temp dir (0755, the binary 0755): the dir. */
export function buildBattery(): string {
  const dir = tempDir('battery');
  execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'battery'), join(repoRoot, 'test/security/battery/battery.c')]);
  return dir;
}

/** Probe name -> outcome ("ok" or an errno name), from the battery's lines. */
export function outcomes(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .filter((l) => /^\S+ \S+$/.test(l))
      .map((l) => l.split(' ') as [string, string]),
  );
}

/** Every probe under Docker's default profile and the default capabilities: the profile's errno (clone3: ENOSYS). */
export const DEFAULT_PROFILE_OUTCOMES: Record<string, string> = {
  keyctl: 'EPERM',
  add_key: 'EPERM',
  request_key: 'EPERM',
  'unshare-user': 'EPERM',
  'unshare-net': 'EPERM',
  'clone-newuser': 'EPERM',
  clone3: 'ENOSYS',
  perf_event_open: 'EPERM',
  userfaultfd: 'EPERM',
  personality: 'EPERM',
  kcmp: 'EPERM',
  pidfd_getfd: 'EPERM',
  set_mempolicy: 'EPERM',
  migrate_pages: 'EPERM',
  sysfs: 'EPERM',
  'socket-vsock': 'EPERM',
  'socket-inet': 'ok',
  'syscall-467': 'ENOSYS',
};
