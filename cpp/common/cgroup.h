// cgroups for a container, shared by the addon (pocker run / start) and pocker-init (the runc
// verbs): layout detection (v1, hybrid, v2), the one translation of OCI `linux.resources` into
// cgroup v1/v2 control files, creation and removal. Plain open/write/mkdir/rmdir syscalls: no
// shell, no library. Errors are values (step "cgroup", the path named).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/util.h"

namespace pocker {

// OCI runtime-spec (v1.2) linux.resources: the subset pocker applies. Unset fields are left alone.
struct LinuxResources {
  struct Memory {
    std::optional<int64_t> limit;        // bytes; -1 unlimited
    std::optional<int64_t> reservation;  // soft limit: v1 memory.soft_limit_in_bytes, v2 memory.low
    std::optional<int64_t> swap;         // memory + swap (v1 memsw semantics); -1 unlimited swap
    std::optional<uint64_t> swappiness;  // v1 only (ignored on v2, as runc does)
    std::optional<bool> disableOOMKiller;  // v1 only (ignored on v2, as runc does)
  };
  struct Cpu {
    std::optional<uint64_t> shares;  // v1 cpu.shares; v2 cpu.weight through runc's conversion
    std::optional<int64_t> quota;    // µs per period; -1 (or any value <= 0) unlimited
    std::optional<uint64_t> period;  // µs
    std::string cpus, mems;          // cpuset lists; "" = unset
  };
  Memory memory;
  Cpu cpu;
  std::optional<int64_t> pidsLimit;  // <= 0: "max" (runtime-spec 1.2, as crun)
  // v2 only: control file name -> value, written last (refused on v1).
  std::vector<std::pair<std::string, std::string>> unified;
};

// Parses a linux.resources JSON object (the same rules as the spec parser: unknown fields are
// ignored, a field of the wrong type is EINVAL with its JSON path in Error::path, e.g.
// "linux.resources.memory.limit"; syscall "json").
Error parseResources(std::string_view json, LinuxResources* out);

// Where the hierarchies are mounted.
struct CgroupLayout {
  int version = 0;           // 1 (legacy or hybrid) or 2 (unified)
  std::string unifiedMount;  // v2: the cgroup2 mount used
  // v1: controller -> mount point of its hierarchy (co-mounted controllers share one), in the
  // order found in mountinfo; the first mount of a hierarchy wins (others are bind mounts).
  std::vector<std::pair<std::string, std::string>> v1Mounts;
  // v1: the mount points of the other hierarchies (controllers a container gets no limit from, named
  // ones such as name=systemd), in mountinfo order, and a hybrid's cgroup2 ("unified"): the
  // container joins them too, without limits, so that its /sys/fs/cgroup shows its own cgroup in
  // each (as runc joins every hierarchy).
  std::vector<std::string> v1Others;
  std::string hybridUnified;
  // nullptr when the controller has no v1 hierarchy.
  const std::string* v1Mount(std::string_view controller) const;
};

// statfs(2) f_type of a cgroup2 mount.
constexpr long kCgroup2SuperMagic = 0x63677270;

// Decides the layout from a mountinfo text and the statfs f_type of /sys/fs/cgroup (0: unknown),
// exactly as lib/cgroup/detect.ts does: v2 when /sys/fs/cgroup is cgroup2 (or, f_type unknown, a
// cgroup2 is mounted there); else v1 when any v1 controller is mounted (hybrid hosts included: their
// extra cgroup2 is not used); else v2 on a cgroup2 mounted elsewhere; else ENOENT.
Error cgroupLayoutFrom(std::string_view mountinfo, long statfsType, CgroupLayout* out);
// This host's layout: /proc/self/mountinfo and statfs("/sys/fs/cgroup").
Error cgroupDetect(CgroupLayout* out);

// What the caller needs of a container's cgroups.
struct CgroupPaths {
  int version = 0;
  // The container's leaves (one per joined v1 hierarchy: cpu, cpuacct, cpuset, memory, pids,
  // co-mounted ones once; or the v2 leaf). cgroupRemove each to clean up.
  std::vector<std::string> dirs;
  // v1: <leaf>/tasks, which the container's first process writes 0 into (joining by itself). The
  // joined hierarchies' leaves come first in `dirs`, then those of v1Others and hybridUnified
  // (joined, no limit written).
  std::vector<std::string> v1Tasks;
  // The cgroup2 leaf the container is born in (CLONE_INTO_CGROUP): v2's, or a hybrid's (v1 with
  // cgroup2 mounted beside: version stays 1, and this is the last of `dirs`).
  std::string v2Leaf;
  // v1 <memory leaf>/memory.oom_control, v2 <leaf>/memory.events (both have "oom_kill N");
  // "" without a memory hierarchy.
  std::string oomFile;
};

// The paths of `cgroupsPath` (relative or absolute, both taken under each hierarchy's root, as
// runc and crun do without systemd; empty segments are skipped, "." and ".." are EINVAL, the last
// segment is the container's leaf). Nothing is read or created.
Error cgroupPaths(const CgroupLayout& layout, std::string_view cgroupsPath, CgroupPaths* out);

// The file operations cgroupApply performs: the real syscalls (realCgroupFs), or a test double.
// Each returns 0 or an errno.
class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  virtual int mkdir(const std::string& path) = 0;  // mkdir(path, 0755)
  virtual int write(const std::string& path, const std::string& value) = 0;  // open(O_WRONLY) + one write
  virtual int read(const std::string& path, std::string* out) = 0;
  virtual bool exists(const std::string& path) = 0;
  virtual int remove(const std::string& path) = 0;  // cgroupRemove
};
CgroupFs& realCgroupFs();

// Creates the container's cgroups and writes the resources:
//  - everything is checked before anything is created: the path, the resources, that the leaf does
//    not exist yet (EEXIST, syscall "mkdir"), that every controller the resources need is there
//    (EOPNOTSUPP; syscall names the controller, e.g. "pids"; path is the v2 mount or the v1 root);
//  - v2: the missing controllers among cpu, cpuset, memory, pids (those available, plus those of
//    `unified` keys) are enabled in cgroup.subtree_control from the mount down to the parent, missing
//    parent levels are created; then the leaf and its files: memory.max, memory.swap.max (swap minus
//    limit, runc's conversion; skipped when the kernel has no swap accounting), memory.low, cpu.max,
//    cpu.weight, cpuset.cpus/mems, pids.max, then `unified`;
//  - v1: in each joined hierarchy the missing parent levels are created (cpuset: a level with an empty
//    cpuset.cpus/mems gets its parent's, or it could take no task), then the leaf: cpu.cfs_period_us,
//    cpu.cfs_quota_us, cpu.shares; cpuset.cpus/mems (the requested ones, else the parent's);
//    memory.limit_in_bytes, then memory.memsw.limit_in_bytes (only where the kernel has it),
//    memory.soft_limit_in_bytes, memory.swappiness, memory.oom_control; pids.max.
// Parent levels stay (they are shared). On failure the leaves created so far are removed and the
// error names the step "cgroup", the syscall and the path.
// With `update` (`pocker update` of a running container) the leaves must exist (ENOENT otherwise):
// nothing is created or removed, the same files are written with the values given (v1: memsw before
// the limit when the new limit is above the current memsw).
// `delegated` (v2 only): the first `delegated` segments of cgroupsPath are a subtree delegated to
// the caller (a rootless user's): the controllers checked are those of its cgroup.controllers, and
// they are enabled from it down, never in the levels above (they are not the caller's).
Error cgroupApply(const CgroupLayout& layout, std::string_view cgroupsPath, const LinuxResources& resources,
                  CgroupPaths* out, CgroupFs& fs = realCgroupFs(), bool update = false, size_t delegated = 0);

// Kills every process left in the cgroup (cgroup.kill on v2, else SIGKILL to each pid in
// cgroup.procs: these are processes of a cgroup pocker created), then removes it, retrying while
// the kernel drains exiting tasks (up to ~2 s). A missing directory is fine. Returns 0 or errno.
int cgroupRemove(const std::string& path);

}  // namespace pocker
