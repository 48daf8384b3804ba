// Resource limits: validation (before any cgroup exists, Docker's rules and messages) and Docker's
// options as OCI linux.resources. Which cgroup files they become is cpp/common/cgroup.cpp's business.
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
  // Issue 12 (i12-flags):
  /** `--memory-reservation`: the soft limit in bytes (v1 memory.soft_limit_in_bytes, v2 memory.low). */
  memoryReservation?: number;
  /** `--oom-kill-disable` (v1 memory.oom_control; v2 has no such switch: ignored, as runc does). */
  oomKillDisable?: boolean;
}

/** A validated Resources (normalizeResources): every field present is meaningful; memorySwap only with memory. */
export type NormalizedResources = Resources;

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
  if (res.memoryReservation !== undefined) {
    if (!isInt(res.memoryReservation) || res.memoryReservation <= 0) throw invalid(`invalid memory reservation: ${String(res.memoryReservation)}`);
    out.memoryReservation = res.memoryReservation;
  }
  if (res.oomKillDisable === true) out.oomKillDisable = true;
  return out;
}

/** OCI runtime-spec linux.resources (the subset pocker sets). */
export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  unified?: Record<string, string>;
}

/**
 * Docker's run options as OCI linux.resources, with Docker's semantics (moby's adaptContainerSettings
 * and oci_linux.go): `--memory-swap` unset means swap = 2 × memory (memory + swap, as OCI's `swap`
 * is), -1 unlimited swap; `--cpus` is quota/period; `--pids-limit` <= 0 is -1 (unlimited). The
 * cgroup files are written from this by cpp/common/cgroup.cpp (the one translation into v1/v2
 * files), for `pocker run` / `start` through the addon and for the runc verbs in pocker-init.
 */
export function toOciResources(res: NormalizedResources): LinuxResources {
  const out: LinuxResources = {};
  if (res.memory !== undefined) {
    out.memory = { limit: res.memory, swap: res.memorySwap === undefined ? 2 * res.memory : res.memorySwap };
  }
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (res.cpuQuota) {
    cpu.quota = res.cpuQuota.quota;
    cpu.period = res.cpuQuota.period;
  }
  if (res.cpuShares !== undefined) cpu.shares = res.cpuShares;
  if (res.cpusetCpus !== undefined) cpu.cpus = res.cpusetCpus;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (res.pidsLimit !== undefined) out.pids = { limit: res.pidsLimit > 0 ? res.pidsLimit : -1 };
  if (res.memoryReservation !== undefined) out.memory = { ...out.memory, reservation: res.memoryReservation };
  if (res.oomKillDisable) out.memory = { ...out.memory, disableOOMKiller: true };
  return out;
}
