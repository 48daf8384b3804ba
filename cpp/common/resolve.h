// "Resolve inside the root": the one openat2 wrapper of the addon and pocker-init. Every path a
// container, an image or a volume can influence is opened through it, relative to a directory fd,
// so a symlink or ".." can never lead out of that directory.
#pragma once
#include <linux/openat2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace pocker {

// Symlinks (and "..") followed as if `root` were "/"; /proc magic links refused.
constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
// No symlink followed at all, nothing above `root` reachable.
constexpr uint64_t kBeneathNoSymlinks = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

// openat2(root, path, {flags | O_CLOEXEC, mode (with O_CREAT/O_TMPFILE), resolve}). A leading "/"
// is dropped and "" is the root itself. Retries EINTR and EAGAIN (a concurrent rename elsewhere in
// the tree). Returns the fd, or -1 with errno set.
int openInRoot(int root, const std::string& path, int flags, uint64_t resolve = kInRoot, mode_t mode = 0);

}  // namespace pocker
