// The test runner (scripts/test.mjs) never passes quietly without the cgroup-v2 VM under CI: most users
// run cgroup v2, and this machine is v1, so a CI run that skipped the VM would have tested neither.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const runner = join(import.meta.dirname, '..', '..', 'scripts', 'test.mjs');

function vmStatus(env: Record<string, string>, args: string[] = []) {
  const base = { ...process.env };
  delete base.CI;
  delete base.POCKER_TEST_SKIP_VM;
  const r = spawnSync(process.execPath, [runner, '--vm-status', ...args], { env: { ...base, ...env }, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('npm test without the cgroup-v2 VM', () => {
  const missing = { POCKER_TEST_VM_SCRIPT: '/nonexistent/cgroup2-vm' };

  it('fails under CI=true, saying the v2 path is not tested', () => {
    const r = vmStatus({ ...missing, CI: 'true' });
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/NOT RUN \(CI=true: this fails the run\): \/nonexistent\/cgroup2-vm does not exist/);
  });

  it('skips loudly outside CI', () => {
    const r = vmStatus({ ...missing, CI: 'false' });
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/SKIPPED: \/nonexistent\/cgroup2-vm does not exist/);
  });

  it('--no-vm is a choice, even under CI', () => {
    const r = vmStatus({ ...missing, CI: 'true' }, ['--no-vm']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/skipped on purpose \(--no-vm\)/);
  });
});

describe('the cgroup-v2 guest pass', () => {
  it('runs the cgroup and the network files in two guests at once (as root; not as another user)', () => {
    const r = vmStatus({ POCKER_TEST_VM_SCRIPT: '/bin/true', CI: 'true' });
    if (process.getuid?.() !== 0) {
      expect(r.out).toMatch(/not running as root/);
      return;
    }
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/runs \(\/bin\/true\), in 2 guests at once: cgroup \(test\/integration\/cgroups\.test\.ts .*\); network \(test\/network\)/);
  });
});

// Every apt-get the project's scripts run (npm ci's native build, npm test's prerequisites) waits for
// dpkg's lock: a machine that is installing something else at that moment (an unattended upgrade, a
// user's own apt-get) otherwise failed npm ci at once with "Could not get lock
// /var/lib/dpkg/lock-frontend", and the build then failed on the headers it could not install.
describe("the scripts' apt-get calls", () => {
  it("each waits for dpkg's lock (DPkg::Lock::Timeout)", () => {
    for (const file of ['install.cjs', 'test.mjs']) {
      const src = readFileSync(join(import.meta.dirname, '..', '..', 'scripts', file), 'utf8');
      const calls = [...src.matchAll(/\(\s*'apt-get',\s*\[([^\]]*)/g)].map((m) => m[1]);
      expect(calls.length, file).toBeGreaterThan(0);
      expect(src, file).toMatch(/const lock = \['-o', 'DPkg::Lock::Timeout=\d+'\]/);
      for (const args of calls) expect(args.trimStart(), `${file}: apt-get [${args}]`).toMatch(/^\.\.\.lock,/);
    }
  });
});
