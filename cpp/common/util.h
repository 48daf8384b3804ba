// Small shared helpers: an owning fd, full reads/writes, and a step-tagged error value.
// Used by both the addon and pocker-init; nothing here allocates after a fork.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unistd.h>

namespace pocker {

// RAII owner of a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// An error as a value: errno, the setup step, the syscall and the path involved.
struct Error {
  int err = 0;
  const char* step = "";
  const char* syscall = "";
  std::string path;
  explicit operator bool() const { return err != 0; }
};

inline Error fail(const char* step, const char* syscall, std::string path = {}, int err = errno) {
  return Error{err ? err : EIO, step, syscall, std::move(path)};
}

bool writeAll(int fd, const void* buf, size_t len);
// Copies the rest of the file `in` to `out`: copy_file_range, or sendfile where that is refused
// (across filesystems, e.g. overlay -> a volume's). Step `step`, path `path` in the error.
Error copyData(int in, int out, const char* step, const std::string& path);
// Reads a whole (small) file into *out. Returns 0 or errno.
int readFile(const char* path, std::string* out);
// open(O_WRONLY|O_CLOEXEC) + one write(2) of `value`: the way cgroup control files want it.
int writeFile(const char* path, const std::string& value);

// Closes every descriptor >= first (cloexec: marks it close-on-exec instead). close_range(2) needs
// Linux 5.9 (CLOSE_RANGE_CLOEXEC 5.11); where it is refused, closeFromByList does the same by
// listing /proc/self/fd, and without /proc every number up to RLIMIT_NOFILE is tried: on an older
// kernel nothing may cross into a container unnoticed (a leaked host fd is a way out of it). No
// allocation: it runs between fork and exec.
void closeFrom(unsigned first, bool cloexec = false);
// The fallback itself (pocker-init selftest runs it on any kernel).
void closeFromByList(unsigned first, bool cloexec);

// Sends `data` with an optional fd over a SOCK_SEQPACKET socket.
bool sendMsg(int sock, const std::string& data, int fd = -1);
// Receives one packet; *fd gets a passed descriptor (close-on-exec) or -1. Returns bytes or -1.
ssize_t recvMsg(int sock, char* buf, size_t cap, int* fd);

}  // namespace pocker
