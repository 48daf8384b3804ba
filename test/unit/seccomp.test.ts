// lib/spec/seccomp.ts: Docker's profile format -> OCI linux.seccomp (Docker's includes/excludes
// rules), and the checks of a profile file. No root, no container.
import { describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { resolveRunOptions } from '../../lib/runtime/options.js';
import { buildExecSpec, containerSeccomp } from '../../lib/spec/build.js';
import { DEFAULT_CAPS, CAPABILITIES } from '../../lib/spec/defaults.js';
import { defaultOciSeccomp, dockerDefaultProfile, kernelAtLeast, parseSeccompProfile, toOciSeccomp, type DockerSeccompProfile } from '../../lib/spec/seccomp.js';

const defaultCaps = DEFAULT_CAPS.map((c) => `CAP_${c}`);
const mask = (names: string[]) => names.reduce((m, c) => m | (1n << BigInt(CAPABILITIES[c.replace(/^CAP_/, '')]!)), 0n);
const allowed = (s: ReturnType<typeof toOciSeccomp>, name: string) =>
  (s.syscalls ?? []).filter((r) => r.names.includes(name)).map((r) => ({ action: r.action, errnoRet: r.errnoRet, args: r.args?.length ?? 0 }));

describe('toOciSeccomp (Docker\'s default profile)', () => {
  const def = toOciSeccomp(dockerDefaultProfile(), { caps: defaultCaps, arch: 'x64', kernel: '6.1.0' });

  it('defaultOciSeccomp converts the shared profile without a copy, and shares nothing with it', () => {
    const before = JSON.stringify(dockerDefaultProfile());
    const s = defaultOciSeccomp({ caps: defaultCaps, arch: 'x64', kernel: '6.1.0' });
    expect(s).toEqual(def);
    // The result is the caller's: changing it (or freezing it, as containerSeccomp does) leaves the
    // profile that later conversions read as it was.
    for (const rule of s.syscalls!) {
      rule.names.push('changed');
      for (const a of rule.args ?? []) a.value = 12345;
      Object.freeze(rule.names);
    }
    s.architectures!.push('changed');
    expect(JSON.stringify(dockerDefaultProfile())).toBe(before);
    expect(defaultOciSeccomp({ caps: defaultCaps, arch: 'x64', kernel: '6.1.0' })).toEqual(def);
  });

  it('keeps the default action and errno, and the native archMap entry with its sub-architectures', () => {
    expect(def.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(def.defaultErrnoRet).toBe(1);
    expect(def.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(toOciSeccomp(dockerDefaultProfile(), { caps: defaultCaps, arch: 'arm64' }).architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it('default capabilities: no unshare/mount/keyctl; clone with the namespace-flag filter; clone3 ENOSYS', () => {
    for (const n of ['unshare', 'mount', 'keyctl', 'add_key', 'request_key', 'kcmp', 'perf_event_open', 'bpf', 'set_mempolicy']) expect(allowed(def, n)).toEqual([]);
    expect(allowed(def, 'clone')).toEqual([{ action: 'SCMP_ACT_ALLOW', errnoRet: undefined, args: 1 }]);
    expect(allowed(def, 'clone3')).toEqual([{ action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: 0 }]);
    expect(allowed(def, 'socket')).toHaveLength(3);
    expect(allowed(def, 'arch_prctl')).toHaveLength(1); // includes arches amd64
    expect(allowed(def, 'sync_file_range2')).toEqual([]); // ppc64le/arm only
  });

  it('capability groups follow the bounding set (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_NICE)', () => {
    const admin = toOciSeccomp(dockerDefaultProfile(), { caps: [...defaultCaps, 'CAP_SYS_ADMIN'], arch: 'x64' });
    expect(allowed(admin, 'unshare')).toEqual([{ action: 'SCMP_ACT_ALLOW', errnoRet: undefined, args: 0 }]);
    expect(allowed(admin, 'clone').every((r) => r.args === 0)).toBe(true);
    expect(allowed(admin, 'clone3')).toEqual([{ action: 'SCMP_ACT_ALLOW', errnoRet: undefined, args: 0 }]);
    const ptrace = toOciSeccomp(dockerDefaultProfile(), { caps: [...defaultCaps, 'CAP_SYS_PTRACE'], arch: 'x64' });
    expect(allowed(ptrace, 'kcmp')).toHaveLength(1);
    expect(allowed(ptrace, 'pidfd_getfd')).toHaveLength(1);
    const nice = toOciSeccomp(dockerDefaultProfile(), { caps: [...defaultCaps, 'CAP_SYS_NICE'], arch: 'x64' });
    expect(allowed(nice, 'set_mempolicy')).toHaveLength(1);
  });

  it('minKernel: ptrace is allowed from 4.8 on', () => {
    expect(kernelAtLeast('6.18.44-fc', '4.8')).toBe(true);
    expect(kernelAtLeast('4.4.0', '4.8')).toBe(false);
    expect(allowed(toOciSeccomp(dockerDefaultProfile(), { caps: defaultCaps, arch: 'x64', kernel: '4.4.0' }), 'ptrace')).toEqual([]);
    expect(allowed(def, 'ptrace')).toHaveLength(1);
  });

  it('containerSeccomp: unconfined is none, the default is converted once per bounding set, a file\'s profile as given', () => {
    expect(containerSeccomp({ kind: 'unconfined' }, mask(defaultCaps))).toBeNull();
    const a = containerSeccomp({ kind: 'default' }, mask(defaultCaps));
    expect(a).toBe(containerSeccomp(undefined, mask(defaultCaps)));
    expect(Object.isFrozen(a)).toBe(true);
    const custom: DockerSeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    expect(containerSeccomp({ kind: 'custom', profile: custom, source: 'p.json' }, 0n)).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  });

  it('exec carries its container\'s filter and the cache path', () => {
    const s = containerSeccomp({ kind: 'default' }, mask(defaultCaps))!;
    const spec = buildExecSpec({ args: ['true'], env: [], cwd: '/', user: '', caps: 0n, noNewPrivs: false, tty: false, detach: false, pid: 1, cgroups: { v1Tasks: [] }, seccomp: s, root: '/r' });
    expect(spec.linux?.seccomp).toBe(s);
    expect(spec.pocker?.seccompCache).toMatch(/^\/r\/seccomp\/[0-9a-f]{64}\.bpf$/);
  });
});

describe('parseSeccompProfile / --security-opt seccomp=', () => {
  const bad = (text: string) => {
    try {
      parseSeccompProfile(text, 'p.json');
    } catch (err) {
      expect(err).toBeInstanceOf(PockerError);
      expect((err as PockerError).code).toBe('ERR_POCKER_INVALID');
      return (err as PockerError).message;
    }
    throw new Error('accepted');
  };

  it('accepts Docker\'s own default profile and `name` for `names`', () => {
    expect(parseSeccompProfile(JSON.stringify(dockerDefaultProfile()), 'default.json').syscalls!.length).toBe(dockerDefaultProfile().syscalls!.length);
    expect(parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"kcmp","action":"SCMP_ACT_ERRNO","errnoRet":1}]}', 'p').syscalls).toEqual([{ names: ['kcmp'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
  });

  it.each([
    ['{}', /defaultAction: expected a string/],
    ['{"defaultAction":"SCMP_ACT_NOTIFY"}', /SCMP_ACT_NOTIFY is not supported/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}', /defaultErrnoRet: applies to SCMP_ACT_ERRNO/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}', /architectures\[0\]: unknown architecture/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}', /flags\[0\]: unsupported flag/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}', /syscalls\[0\]\.names: expected at least one/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["Read"],"action":"SCMP_ACT_ERRNO"}]}', /syscalls\[0\]\.names\[0\]: not a syscall name/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}', /args\[0\]\.value: expected an integer/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"EQ"}]}]}', /args\[0\]\.op: unknown operator/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"five"}}]}', /includes\.minKernel: expected major\.minor/],
  ])('refuses %s', (text, re) => {
    const msg = bad(text);
    expect(msg).toMatch(/^invalid seccomp profile p\.json: /);
    expect(msg).toMatch(re);
  });

  it('resolveRunOptions: unconfined, builtin, and a missing file', () => {
    expect(resolveRunOptions({ image: 'host', securityOpt: ['seccomp=unconfined'] }).seccomp).toEqual({ kind: 'unconfined' });
    expect(resolveRunOptions({ image: 'host', securityOpt: ['seccomp=unconfined', 'seccomp=builtin'] }).seccomp).toEqual({ kind: 'default' });
    expect(resolveRunOptions({ image: 'host' }).seccomp).toEqual({ kind: 'default' });
    expect(() => resolveRunOptions({ image: 'host', securityOpt: ['seccomp=/nonexistent/p.json'] })).toThrow(/opening seccomp profile \(\/nonexistent\/p\.json\) failed: no such file or directory/);
  });
});
