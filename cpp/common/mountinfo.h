// The one parser of /proc/<pid>/mountinfo (proc(5)) on the C++ side.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pocker {

struct MountInfo {
  std::string root;        // 4th field: the subtree of the filesystem that is mounted
  std::string mountPoint;  // 5th field
  std::string fsType;      // after the "-" separator
  std::string source;
  std::vector<std::string> superOptions;
};

// Every well-formed line, in order; `\ooo` escapes (space, tab, newline, backslash) are undone in
// root, mount point and source. Malformed lines are skipped.
std::vector<MountInfo> parseMountinfo(std::string_view text);

// The mounts that are visible: a later mount on a mount point hides an earlier one, so only the
// last entry per mount point is kept (placed where that last entry appears).
std::vector<MountInfo> visibleMounts(std::vector<MountInfo> all);

// Reads and parses /proc/self/mountinfo. Returns 0 or errno.
int readMountinfo(std::vector<MountInfo>* out);

}  // namespace pocker
