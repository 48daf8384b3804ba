// cgroup directory primitives shared by the addon (create/limits) and pocker-init (join/cleanup).
// Plain open/write/mkdir/rmdir syscalls: no shell, no library.
#pragma once
#include <string>

namespace pocker {

// mkdir(path, 0755); an existing directory is fine. Returns 0 or errno.
int cgroupCreate(const std::string& path);
// Kills every process left in the cgroup (cgroup.kill on v2, else SIGKILL to each pid in
// cgroup.procs: these are processes of a cgroup pocker created), then removes it, retrying while
// the kernel drains exiting tasks (up to ~2 s). A missing directory is fine. Returns 0 or errno.
int cgroupRemove(const std::string& path);

}  // namespace pocker
