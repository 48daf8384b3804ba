// Seccomp profiles: Docker's profile format (what `--security-opt seccomp=FILE` reads and what
// Docker's default is written in) and its conversion to the OCI spec's `linux.seccomp`, which
// pocker-init compiles with libseccomp (cpp/init/seccomp.cpp).
//
// The default profile is Docker's, kept verbatim as data in seccomp-default.json: moby/profiles
// seccomp v0.2.3 (github.com/moby/profiles, vendored in moby/moby as
// vendor/github.com/moby/profiles/seccomp/default.json), Copyright The Moby Authors, Apache
// License 2.0. The conversion follows Docker's semantics (moby/profiles seccomp_linux.go, read, not
// copied): the native architecture's entry of `archMap` with its sub-architectures, and each rule
// kept or dropped by its `includes`/`excludes` (architectures, capabilities of the container's
// bounding set, minimum kernel).
import { release as kernelRelease } from 'node:os';
import { invalid } from '../errors.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from './oci.js';
import { sha256Hex } from '../random.js';
import dockerDefault from './seccomp-default.json' with { type: 'json' };

/** A condition of Docker's profile format (`includes` / `excludes` of a rule). */
export interface DockerSeccompFilter {
  /** Docker's architecture names (`amd64`, `arm64`, `x86`, ...). */
  arches?: string[];
  /** Capability names: the rule applies when all are (includes) / any is (excludes) in the bounding set. */
  caps?: string[];
  /** `major.minor`: the running kernel is at least this one. */
  minKernel?: string;
}

export interface DockerSeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[] | null;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

/** Docker's seccomp profile format (moby/profiles seccomp.Seccomp). */
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }>;
  flags?: string[];
  syscalls?: DockerSeccompRule[] | null;
}

/** What a container's seccomp is: Docker's default, none, or a profile the caller gave. */
export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'custom'; profile: DockerSeccompProfile; source: string };

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
] as const;
export const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
const FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];
/** The architectures libseccomp 2.5 knows (an unknown one would fail in pocker-init: refused here first). */
const ARCHES = [
  'X86', 'X86_64', 'X32', 'ARM', 'AARCH64', 'MIPS', 'MIPS64', 'MIPS64N32', 'MIPSEL', 'MIPSEL64', 'MIPSEL64N32',
  'PPC', 'PPC64', 'PPC64LE', 'S390', 'S390X', 'PARISC', 'PARISC64', 'RISCV64',
].map((a) => `SCMP_ARCH_${a}`);

/** Node's process.arch -> the architecture names Docker's profile uses (Go's GOARCH through libseccomp's names). */
const NATIVE: Record<string, { docker: string; scmp: string }> = {
  x64: { docker: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  ia32: { docker: 'x86', scmp: 'SCMP_ARCH_X86' },
  arm64: { docker: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
  arm: { docker: 'arm', scmp: 'SCMP_ARCH_ARM' },
  ppc64: { docker: 'ppc64le', scmp: 'SCMP_ARCH_PPC64LE' },
  s390x: { docker: 's390x', scmp: 'SCMP_ARCH_S390X' },
  riscv64: { docker: 'riscv64', scmp: 'SCMP_ARCH_RISCV64' },
  loong64: { docker: 'loong64', scmp: 'SCMP_ARCH_LOONGARCH64' },
};

/** Docker's default profile (a fresh copy: callers may not change the shared data). */
export function dockerDefaultProfile(): DockerSeccompProfile {
  return structuredClone(dockerDefault) as DockerSeccompProfile;
}

/**
 * Docker's default profile converted for a container with these capabilities, on this machine.
 * toOciSeccomp reads the shared data without changing it and copies what it keeps, so no copy
 * of the whole profile is made first (dockerDefaultProfile's structuredClone: ~0.2 ms of a run).
 */
export function defaultOciSeccomp(opts: ConvertOptions): LinuxSeccomp {
  return toOciSeccomp(dockerDefault as DockerSeccompProfile, opts);
}

/** `6.18.44-foo` >= `5.8`? (Docker's kernelGreaterEqualThan: major.minor only). */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (v: string): [number, number] => {
    const m = /^(\d+)\.(\d+)/.exec(v);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  const [a, b] = parse(release);
  const [c, d] = parse(min);
  return a > c || (a === c && b >= d);
}

export interface ConvertOptions {
  /** The container's bounding set, as `CAP_` names. */
  caps: readonly string[];
  /** Node's process.arch (default: this machine's). */
  arch?: string;
  /** The kernel release (default: os.release()). */
  kernel?: string;
}

/** Docker's profile format -> OCI linux.seccomp for a container with these capabilities, on this machine. `profile` is only read. */
export function toOciSeccomp(profile: DockerSeccompProfile, opts: ConvertOptions): LinuxSeccomp {
  const native = NATIVE[opts.arch ?? process.arch];
  const arch = native?.docker ?? '';
  const kernel = opts.kernel ?? kernelRelease();
  const caps = new Set(opts.caps);
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  let architectures = profile.architectures ? [...profile.architectures] : [];
  if (native && profile.archMap) {
    const entry = profile.archMap.find((a) => a.architecture === native.scmp);
    if (entry) architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  if (architectures.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  const syscalls: LinuxSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.includes(arch)) continue;
      if (ex.caps?.some((c) => caps.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) continue;
      if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    }
    const s: LinuxSyscall = { names: rule.names ? [...rule.names] : [rule.name!], action: rule.action };
    if (rule.errnoRet !== undefined) s.errnoRet = rule.errnoRet;
    if (rule.args?.length) s.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(s);
  }
  out.syscalls = syscalls;
  return out;
}

/** A short, stable key of a converted profile (the name of its compiled program in the store's cache). */
export function seccompKey(s: LinuxSeccomp): string {
  return sha256Hex(JSON.stringify(s));
}

// ---------------------------------------------------------------------------------------------
// Validation of a profile file (Docker's format), with the JSON path of the first bad value.

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and checks a profile in Docker's format. `source` names it in errors (the file's path).
 * Throws `invalid()` (ERR_POCKER_INVALID, step validate) naming the file and the JSON path.
 */
export function parseSeccompProfile(text: string, source: string): DockerSeccompProfile {
  const bad = (where: string, why: string) => invalid(`invalid seccomp profile ${source}: ${where}: ${why}`, source);
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad('(document)', `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw bad('(document)', 'expected an object');
  const str = (v: Json, where: string): string => {
    if (typeof v !== 'string' || v.includes('\0')) throw bad(where, 'expected a string');
    return v;
  };
  const strs = (v: Json, where: string): string[] => {
    if (!Array.isArray(v)) throw bad(where, 'expected an array of strings');
    return v.map((x, i) => str(x, `${where}[${i}]`));
  };
  const uint = (v: Json, where: string, max: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw bad(where, `expected an integer from 0 to ${max}`);
    return v;
  };
  const action = (v: Json, where: string): string => {
    const a = str(v, where);
    if (a === 'SCMP_ACT_NOTIFY') throw bad(where, 'SCMP_ACT_NOTIFY is not supported');
    if (!(SECCOMP_ACTIONS as readonly string[]).includes(a)) throw bad(where, `unknown action ${JSON.stringify(a)} (one of ${SECCOMP_ACTIONS.join(', ')})`);
    return a;
  };
  const errnoRet = (v: Json, act: string, where: string): number => {
    if (act !== 'SCMP_ACT_ERRNO' && act !== 'SCMP_ACT_TRACE') throw bad(where, 'applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE only');
    return uint(v, where, 0xffff);
  };
  const out: DockerSeccompProfile = { defaultAction: action(doc.defaultAction, 'defaultAction') };
  if (doc.defaultErrnoRet !== undefined && doc.defaultErrnoRet !== null) out.defaultErrnoRet = errnoRet(doc.defaultErrnoRet, out.defaultAction, 'defaultErrnoRet');
  const arch = (v: string, where: string) => {
    if (!ARCHES.includes(v)) throw bad(where, `unknown architecture ${JSON.stringify(v)}`);
  };
  if (doc.architectures != null) {
    out.architectures = strs(doc.architectures, 'architectures');
    out.architectures.forEach((a, i) => arch(a, `architectures[${i}]`));
  }
  if (doc.archMap != null) {
    if (out.architectures?.length) throw bad('archMap', "both 'architectures' and 'archMap' are given: use one");
    if (!Array.isArray(doc.archMap)) throw bad('archMap', 'expected an array');
    out.archMap = doc.archMap.map((e, i) => {
      const w = `archMap[${i}]`;
      if (!isObject(e)) throw bad(w, 'expected an object');
      // Only the native entry is used (its names must be ones libseccomp knows); others just look like names.
      const name = (v: string, where: string) => {
        if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(v)) throw bad(where, `not an architecture name: ${JSON.stringify(v)}`);
      };
      const a = str(e.architecture, `${w}.architecture`);
      name(a, `${w}.architecture`);
      const subs = e.subArchitectures == null ? [] : strs(e.subArchitectures, `${w}.subArchitectures`);
      subs.forEach((s, k) => name(s, `${w}.subArchitectures[${k}]`));
      if (a === NATIVE[process.arch]?.scmp) {
        arch(a, `${w}.architecture`);
        subs.forEach((s, k) => arch(s, `${w}.subArchitectures[${k}]`));
      }
      return { architecture: a, subArchitectures: subs };
    });
  }
  if (doc.flags != null) {
    out.flags = strs(doc.flags, 'flags');
    out.flags.forEach((f, i) => {
      if (!FLAGS.includes(f)) throw bad(`flags[${i}]`, `unsupported flag ${JSON.stringify(f)}`);
    });
  }
  if (doc.listenerPath != null && doc.listenerPath !== '') throw bad('listenerPath', 'seccomp notify is not supported');
  if (doc.syscalls != null) {
    if (!Array.isArray(doc.syscalls)) throw bad('syscalls', 'expected an array');
    out.syscalls = doc.syscalls.map((e, i): DockerSeccompRule => {
      const w = `syscalls[${i}]`;
      if (!isObject(e)) throw bad(w, 'expected an object');
      if (e.name != null && e.names != null) throw bad(w, "both 'name' and 'names' are given: use one");
      const names = e.names != null ? strs(e.names, `${w}.names`) : e.name != null ? [str(e.name, `${w}.name`)] : [];
      if (names.length === 0) throw bad(`${w}.names`, 'expected at least one syscall name');
      names.forEach((n, k) => {
        if (!/^[a-z0-9_]+$/.test(n)) throw bad(`${w}.names[${k}]`, `not a syscall name: ${JSON.stringify(n)}`);
      });
      const rule: DockerSeccompRule = { names, action: action(e.action, `${w}.action`) };
      if (e.errnoRet != null) rule.errnoRet = errnoRet(e.errnoRet, rule.action, `${w}.errnoRet`);
      if (e.args != null) {
        if (!Array.isArray(e.args)) throw bad(`${w}.args`, 'expected an array');
        if (e.args.length > 6) throw bad(`${w}.args`, 'at most 6 arguments');
        rule.args = e.args.map((a, k) => {
          const aw = `${w}.args[${k}]`;
          if (!isObject(a)) throw bad(aw, 'expected an object');
          const op = str(a.op, `${aw}.op`);
          if (!(SECCOMP_OPERATORS as readonly string[]).includes(op)) throw bad(`${aw}.op`, `unknown operator ${JSON.stringify(op)}`);
          const arg: LinuxSeccompArg = { index: uint(a.index, `${aw}.index`, 5), value: uint(a.value, `${aw}.value`, Number.MAX_SAFE_INTEGER), op };
          if (a.valueTwo != null) arg.valueTwo = uint(a.valueTwo, `${aw}.valueTwo`, Number.MAX_SAFE_INTEGER);
          return arg;
        });
      }
      for (const key of ['includes', 'excludes'] as const) {
        const f = e[key];
        if (f == null) continue;
        const fw = `${w}.${key}`;
        if (!isObject(f)) throw bad(fw, 'expected an object');
        const filter: DockerSeccompFilter = {};
        if (f.arches != null) filter.arches = strs(f.arches, `${fw}.arches`);
        if (f.caps != null) filter.caps = strs(f.caps, `${fw}.caps`);
        if (f.minKernel != null) {
          filter.minKernel = str(f.minKernel, `${fw}.minKernel`);
          if (!/^\d+\.\d+$/.test(filter.minKernel)) throw bad(`${fw}.minKernel`, 'expected major.minor, e.g. 5.8');
        }
        rule[key] = filter;
      }
      return rule;
    });
  }
  return out;
}
