// Check bodies shared by the root tests of test/security and their rootless re-run
// (test/rootless/security.test.ts): the script a container runs and what its output must be.
import { existsSync } from 'node:fs';
import { expect } from 'vitest';

import { MASKED_PATHS, READONLY_PATHS } from '../../lib/spec/defaults.js';

/** Lists the pids and command lines a container sees, split by a `---` line. */
export const HOST_PROCESSES_SCRIPT = 'ls /proc | grep -E "^[0-9]+$" | sort -n; echo ---; cat /proc/[0-9]*/cmdline | tr "\\0" " "';

/** HOST_PROCESSES_SCRIPT's output: only the container's own few processes, none of the host's. */
export function expectNoHostProcesses(stdout: string): void {
  const [pids, cmdlines] = stdout.split('---\n');
  const visible = pids!.split('\n').filter(Boolean).map(Number);
  // sh, and the ls / grep / sort pipeline at most.
  expect(visible.length).toBeLessThanOrEqual(6);
  expect(Math.max(...visible)).toBeLessThan(20);
  expect(visible).toContain(1);
  expect(cmdlines).not.toMatch(/vitest|node/);
}

/**
 * Host files a container that has `/` at `at` (read-only) must not open for writing: the kernel's
 * core_pattern, /dev/kmsg and a cgroup v1 release_agent where the machine has one. Each file is only
 * opened for appending and closed: even a regression writes nothing.
 */
export function hostWriteTargets(at = '/host'): string[] {
  const targets = [`${at}/proc/sys/kernel/core_pattern`, `${at}/dev/kmsg`];
  const agent = ['cpu', 'memory', 'pids', 'systemd'].map((h) => `/sys/fs/cgroup/${h}/release_agent`).find((p) => existsSync(p));
  if (agent) targets.push(`${at}${agent}`);
  return targets;
}

/** Prints "<file> writable" or "<file> refused" for each file, opened for appending only. */
export const appendProbe = (files: string[]): string => `for f in ${files.join(' ')}; do (true >> $f) 2>/dev/null && echo "$f writable" || echo "$f refused"; done`;

/**
 * The spec's masked paths (those this kernel has) read as empty (a file bound to /dev/null, a
 * directory under an empty tmpfs), and its read-only paths are read-only mounts: one line per path.
 */
export const MASK_SCRIPT = [
  ...MASKED_PATHS.map((p) => `if [ -d ${p} ]; then echo "${p} $(ls -A ${p} | wc -l)"; elif [ -e ${p} ]; then echo "${p} $(head -c 64 ${p} 2>/dev/null | wc -c)"; fi`),
  ...READONLY_PATHS.map((p) => `[ -e ${p} ] && echo "${p} $(grep -E "^([^ ]+ ){4}${p} " /proc/self/mountinfo | cut -d" " -f6 | cut -d, -f1 | tail -1)"`),
  'true',
].join('\n');

/** MASK_SCRIPT's output: every masked path empty, every read-only path mounted ro. */
export function expectMasked(stdout: string): void {
  const lines = stdout.trim().split('\n');
  const masked = lines.filter((l) => MASKED_PATHS.includes(l.split(' ')[0]!));
  const ro = lines.filter((l) => READONLY_PATHS.includes(l.split(' ')[0]!));
  expect(masked.length).toBeGreaterThan(3); // /proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware at least
  for (const l of masked) expect(l).toMatch(/ 0$/);
  expect(ro.length).toBeGreaterThanOrEqual(4);
  for (const l of ro) expect(l).toMatch(/ ro$/);
}
