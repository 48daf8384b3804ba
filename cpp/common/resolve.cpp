#include "common/resolve.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pocker {

int openInRoot(int root, const std::string& path, int flags, uint64_t resolve, mode_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode & 07777) : 0;
  how.resolve = resolve;
  const char* p = path.c_str();
  while (*p == '/') p++;
  if (!*p) p = ".";
  for (int tries = 0; tries < 64; tries++) {
    long fd = syscall(SYS_openat2, root, p, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EINTR && errno != EAGAIN) return -1;
  }
  return -1;
}

}  // namespace pocker
