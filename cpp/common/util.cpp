#include "common/util.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <cstring>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// getdents64's record (glibc declares none before 2.30).
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

namespace pocker {

namespace {
void closeOne(int fd, bool cloexec) {
  if (!cloexec) {
    ::close(fd);
    return;
  }
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}
}  // namespace

void closeFrom(unsigned first, bool cloexec) {
  if (syscall(SYS_close_range, first, ~0U, cloexec ? CLOSE_RANGE_CLOEXEC : 0U) == 0) return;
  closeFromByList(first, cloexec);
}

void closeFromByList(unsigned first, bool cloexec) {
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    // No /proc (an OCI bundle may mount none): every possible number.
    struct rlimit rl;
    rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1u << 20;
    for (rlim_t fd = first; fd < max; fd++) closeOne(static_cast<int>(fd), cloexec);
    return;
  }
  // Closing changes the directory being read: after a pass that closed something, read it again.
  alignas(8) char buf[4096];
  for (bool again = true; again;) {
    again = false;
    lseek(dir, 0, SEEK_SET);
    for (;;) {
      long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<struct linux_dirent64*>(buf + off);
        off += d->d_reclen;
        int fd = 0;
        const char* c = d->d_name;
        if (*c < '0' || *c > '9') continue;
        for (; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
        if (fd == dir || static_cast<unsigned>(fd) < first) continue;
        closeOne(fd, cloexec);
        again = again || !cloexec;
      }
    }
  }
  ::close(dir);
}

bool writeAll(int fd, const void* buf, size_t len) {
  auto p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int readFile(const char* path, std::string* out) {
  Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return errno;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    out->append(buf, static_cast<size_t>(n));
  }
}

int writeFile(const char* path, const std::string& value) {
  Fd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  do n = ::write(fd.get(), value.data(), value.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) != value.size()) return EIO;
  return 0;
}

bool sendMsg(int sock, const std::string& data, int fd) {
  struct iovec iov = {const_cast<char*>(data.data()), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(data.size());
}

ssize_t recvMsg(int sock, char* buf, size_t cap, int* fd) {
  *fd = -1;
  struct iovec iov = {buf, cap};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
      std::memcpy(fd, CMSG_DATA(c), sizeof(int));
  }
  return n;
}

Error copyData(int in, int out, const char* step, const std::string& path) {
  bool plain = false;
  for (;;) {
    ssize_t n = plain ? sendfile(out, in, nullptr, 1 << 20) : copy_file_range(in, nullptr, out, nullptr, 1 << 20, 0);
    if (n == 0) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !plain && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      plain = true;
      continue;
    }
    if (n < 0) return fail(step, plain ? "sendfile" : "copy_file_range", path);
  }
}

}  // namespace pocker
