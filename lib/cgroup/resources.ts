// Resource limits: validation (before any cgroup exists) and translation into control-file writes
// for cgroup v1 and v2, with Docker's semantics.
import { invalid } from '../errors.js';

export interface Resources {
  /** Memory limit in bytes (`-m`). */
  memory?: number;
  /** Memory + swap in bytes (`--memory-swap`): -1 unlimited swap; unset (or 0) means 2 × memory. */
  memorySwap?: number;
  /** CFS quota and period in microseconds (`--cpus 1.5` = 150000/100000); quota -1 = unlimited. */
  cpuQuota?: { quota: number; period: number };
  /** v1 cpu.shares (2..262144; 0 = unset). v2 maps it to cpu.weight. */
  cpuShares?: number;
  /** `--cpuset-cpus`, e.g. "0-2,5". */
  cpusetCpus?: string;
  /** `--pids-limit`; 0 or negative = unlimited. */
  pidsLimit?: number;
}

/** A validated Resources (normalizeResources): every field present is meaningful; memorySwap only with memory. */
export type NormalizedResources = Resources;

export interface CgroupWrite {
  file: string;
  value: string;
  /** The kernel may lack this file (swap accounting off): ENOENT on the write is not an error. */
  optional?: boolean;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function isInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

export function normalizeResources(res: Resources): NormalizedResources {
  const out: NormalizedResources = {};
  if (res.memory !== undefined) {
    if (!isInt(res.memory) || res.memory <= 0) throw invalid(`invalid memory limit: ${String(res.memory)}`);
    out.memory = res.memory;
  }
  if (res.memorySwap !== undefined && res.memorySwap !== 0) {
    const swap = res.memorySwap;
    if (!isInt(swap) || (swap < 0 && swap !== -1)) throw invalid(`invalid memory+swap limit: ${String(swap)}`);
    if (swap > 0 && out.memory === undefined) {
      throw invalid('you should always set the memory limit when using a memory+swap limit');
    }
    if (out.memory !== undefined && swap > 0 && swap < out.memory) {
      throw invalid('the memory+swap limit must be at least the memory limit');
    }
    if (out.memory !== undefined) out.memorySwap = swap;
  }
  if (res.cpuQuota !== undefined) {
    const { quota, period } = res.cpuQuota;
    if (!isInt(period) || period < 1000 || period > 1_000_000) {
      throw invalid(`invalid CPU period: ${String(period)} (1000..1000000 µs)`);
    }
    if (!isInt(quota) || (quota !== -1 && quota < 1000)) {
      throw invalid(`invalid CPU quota: ${String(quota)} (at least 1000 µs, or -1)`);
    }
    out.cpuQuota = { quota, period };
  }
  if (res.cpuShares !== undefined && res.cpuShares !== 0) {
    if (!isInt(res.cpuShares) || res.cpuShares < 0) throw invalid(`invalid CPU shares: ${String(res.cpuShares)}`);
    out.cpuShares = Math.min(Math.max(res.cpuShares, 2), 262144); // the kernel clamps the same way
  }
  if (res.cpusetCpus !== undefined && res.cpusetCpus !== '') {
    if (typeof res.cpusetCpus !== 'string' || !CPU_LIST.test(res.cpusetCpus)) {
      throw invalid(`invalid cpuset: ${String(res.cpusetCpus)}`);
    }
    out.cpusetCpus = res.cpusetCpus;
  }
  if (res.pidsLimit !== undefined) {
    if (!isInt(res.pidsLimit)) throw invalid(`invalid pids limit: ${String(res.pidsLimit)}`);
    out.pidsLimit = res.pidsLimit;
  }
  return out;
}

/** runc's conversion of v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The controllers a set of resources needs. */
export function neededControllers(r: NormalizedResources): string[] {
  const out: string[] = [];
  if (r.cpuQuota || r.cpuShares !== undefined) out.push('cpu');
  if (r.cpusetCpus !== undefined) out.push('cpuset');
  if (r.memory !== undefined) out.push('memory');
  if (r.pidsLimit !== undefined) out.push('pids');
  return out;
}

/** v1 writes for one controller (cpuset is handled by the caller: it needs the parent's values). */
export function v1Writes(controller: string, r: NormalizedResources, memswSupported: boolean): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  switch (controller) {
    case 'cpu':
      if (r.cpuQuota) {
        w.push({ file: 'cpu.cfs_period_us', value: String(r.cpuQuota.period) });
        w.push({ file: 'cpu.cfs_quota_us', value: String(r.cpuQuota.quota) });
      }
      if (r.cpuShares !== undefined) w.push({ file: 'cpu.shares', value: String(r.cpuShares) });
      break;
    case 'memory':
      if (r.memory !== undefined) {
        // A fresh cgroup starts unlimited, so the limit goes first and memsw (>= limit) after it.
        w.push({ file: 'memory.limit_in_bytes', value: String(r.memory) });
        if (memswSupported) {
          const memsw = r.memorySwap === undefined ? 2 * r.memory : r.memorySwap;
          w.push({ file: 'memory.memsw.limit_in_bytes', value: String(memsw) });
        }
      }
      break;
    case 'pids':
      if (r.pidsLimit !== undefined) w.push({ file: 'pids.max', value: r.pidsLimit > 0 ? String(r.pidsLimit) : 'max' });
      break;
  }
  return w;
}

/** All v2 writes into the leaf, in order. */
export function v2Writes(r: NormalizedResources): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  if (r.memory !== undefined) {
    w.push({ file: 'memory.max', value: String(r.memory) });
    const swap = r.memorySwap === undefined ? String(r.memory) : r.memorySwap === -1 ? 'max' : String(r.memorySwap - r.memory);
    w.push({ file: 'memory.swap.max', value: swap, optional: true });
  }
  if (r.cpuQuota) {
    const q = r.cpuQuota.quota === -1 ? 'max' : String(r.cpuQuota.quota);
    w.push({ file: 'cpu.max', value: `${q} ${r.cpuQuota.period}` });
  }
  if (r.cpuShares !== undefined) w.push({ file: 'cpu.weight', value: String(sharesToWeight(r.cpuShares)) });
  if (r.cpusetCpus !== undefined) w.push({ file: 'cpuset.cpus', value: r.cpusetCpus });
  if (r.pidsLimit !== undefined) w.push({ file: 'pids.max', value: r.pidsLimit > 0 ? String(r.pidsLimit) : 'max' });
  return w;
}

/** OCI runtime-spec linux.resources (the subset pocker sets). */
export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  unified?: Record<string, string>;
}

/**
 * Docker's semantics (memory-swap default 2x memory, -1 unlimited, cpus -> quota/period ...).
 * STUB of the spec branch (PLAN.md): the cgroup helper owns the real one; the lead keeps theirs.
 */
export function toOciResources(res: NormalizedResources): LinuxResources {
  const out: LinuxResources = {};
  if (res.memory !== undefined) out.memory = { limit: res.memory, swap: res.memorySwap === undefined ? 2 * res.memory : res.memorySwap };
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (res.cpuQuota) Object.assign(cpu, { quota: res.cpuQuota.quota, period: res.cpuQuota.period });
  if (res.cpuShares !== undefined) cpu.shares = res.cpuShares;
  if (res.cpusetCpus !== undefined) cpu.cpus = res.cpusetCpus;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (res.pidsLimit !== undefined) out.pids = { limit: res.pidsLimit > 0 ? res.pidsLimit : -1 };
  return out;
}
