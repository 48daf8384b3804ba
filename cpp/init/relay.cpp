#include "init/relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <csignal>

namespace pocker {
namespace {

constexpr size_t kChunk = 1 << 20;   // per splice call: as much as the pipes hold
constexpr size_t kBuf = 64 << 10;    // read/write path buffer
constexpr int kPipeSize = 1 << 20;   // the container's pipes (fewer wake-ups per byte)
constexpr int kRounds = 64;          // moves per poll round, so one busy stream does not starve the rest

bool writable(int fd) {
  struct pollfd p = {fd, POLLOUT, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLOUT);
}

enum class Moved { Done, WaitSrc, WaitDst, More };

}  // namespace

Error StdioRelay::setup() {
  for (int i = 0; i < 3; i++) {
    struct stat st;
    if (fstat(i, &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) continue;  // /dev/null
    Stream& s = streams_[i];
    s.input = i == 0;
    int outer = -1;
    if (S_ISCHR(st.st_mode)) {
      // A terminal (or another device): an open file description of our own, non-blocking, so the
      // monitor never sleeps on it and the caller's own stays as it was (flags are shared).
      std::string self = "/proc/self/fd/" + std::to_string(i);
      outer = ::open(self.c_str(), (s.input ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    }
    if (outer < 0) outer = fcntl(i, F_DUPFD_CLOEXEC, 3);
    if (outer < 0) return fail("stdio", "fcntl");
    s.outer.reset(outer);
    // Sockets (a Node parent's stdio) are read and written with MSG_DONTWAIT: their flags are the
    // caller's too. Pipes and files splice (SPLICE_F_NONBLOCK covers both ends of a pipe pair).
    s.socket = S_ISSOCK(st.st_mode);
    s.splice = !s.socket;
    // A caller's pipe (`pocker run … | wc`) is grown to the size of ours, never shrunk: the hop
    // through the monitor costs a wake-up per pipeful, and a 64 KiB pipe made that the bottleneck.
    // Only its capacity changes (root may; a refusal is ignored).
    if (S_ISFIFO(st.st_mode) && fcntl(s.outer.get(), F_GETPIPE_SZ) < kPipeSize) fcntl(s.outer.get(), F_SETPIPE_SZ, kPipeSize);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return fail("stdio", "pipe2");
    Fd r(p[0]), w(p[1]);
    fcntl(r.get(), F_SETPIPE_SZ, kPipeSize);
    Fd& theirs = s.input ? r : w;
    s.inner = std::move(s.input ? w : r);
    fcntl(s.inner.get(), F_SETFL, fcntl(s.inner.get(), F_GETFL) | O_NONBLOCK);
    // The container's end takes the caller's place (dup2 leaves it inheritable).
    if (dup2(theirs.get(), i) < 0) return fail("stdio", "dup2");
  }
  // A reader that went away is an error code on write, not the monitor's end.
  if (active()) ::signal(SIGPIPE, SIG_IGN);
  return {};
}

void StdioRelay::closeAll() {
  for (auto& s : streams_) {
    s.outer.reset();
    s.inner.reset();
  }
}

bool StdioRelay::active() const {
  for (const auto& s : streams_)
    if (s.live()) return true;
  return false;
}

void StdioRelay::finish(Stream& s) {
  // Input: the container's stdin ends. Output: the caller's side is released (a library pipe's
  // reader sees EOF); if it failed, the container's next write fails too (EPIPE), as it would have.
  s.inner.reset();
  s.outer.reset();
  std::vector<char>().swap(s.buf);
  s.off = s.len = 0;
}

// Moves bytes from the stream's source to its destination until one of them would block.
// Returns what to wait for (nothing when the stream is over).
static Moved moveStream(int src, int dst, bool& splice, bool socket, bool input, std::vector<char>& buf, size_t& off,
                        size_t& len) {
  for (int round = 0; round < kRounds; round++) {
    if (splice) {
      ssize_t n = ::splice(src, nullptr, dst, nullptr, kChunk, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) continue;
      if (n == 0) return Moved::Done;  // end of the source
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return writable(dst) ? Moved::WaitSrc : Moved::WaitDst;
      if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        splice = false;  // e.g. a terminal, an O_APPEND file: read and write instead
        continue;
      }
      return Moved::Done;  // EPIPE (no reader), EIO, EISDIR...: the stream is over
    }
    if (off == len) {
      if (buf.empty()) buf.resize(kBuf);
      ssize_t n = socket && input ? recv(src, buf.data(), buf.size(), MSG_DONTWAIT) : read(src, buf.data(), buf.size());
      if (n == 0) return Moved::Done;
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Moved::WaitSrc;
        return Moved::Done;
      }
      off = 0;
      len = static_cast<size_t>(n);
    }
    ssize_t w = socket && !input ? send(dst, buf.data() + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                                 : write(dst, buf.data() + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Moved::WaitDst;
      return Moved::Done;
    }
    off += static_cast<size_t>(w);
  }
  return Moved::More;
}

void StdioRelay::move(Stream& s) {
  int src = s.input ? s.outer.get() : s.inner.get();
  int dst = s.input ? s.inner.get() : s.outer.get();
  Moved m = moveStream(src, dst, s.splice, s.socket, s.input, s.buf, s.off, s.len);
  if (m == Moved::Done) finish(s);
  else s.waitDst = m == Moved::WaitDst;
}

void StdioRelay::pollfds(std::vector<struct pollfd>* fds) const {
  for (const auto& s : streams_) {
    if (!s.live()) {
      fds->push_back({-1, 0, 0});
      continue;
    }
    int src = s.input ? s.outer.get() : s.inner.get();
    int dst = s.input ? s.inner.get() : s.outer.get();
    fds->push_back(s.waitDst ? pollfd{dst, POLLOUT, 0} : pollfd{src, POLLIN, 0});
  }
}

void StdioRelay::handle(const struct pollfd* fds, size_t n) {
  for (size_t i = 0; i < 3 && i < n; i++) {
    if (streams_[i].live() && (fds[i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR | POLLNVAL))) move(streams_[i]);
  }
}

void StdioRelay::drain(int sync) {
  for (auto& s : streams_)
    if (s.input) finish(s);
  for (;;) {
    // What the container wrote before it ended is in the pipes: move it, waiting only on a full
    // destination. An empty pipe whose writers live on (an exec's background child) ends it too.
    std::vector<struct pollfd> fds;
    for (auto& s : streams_) {
      if (!s.live()) continue;
      int src = s.inner.get(), dst = s.outer.get();
      Moved m = moveStream(src, dst, s.splice, s.socket, s.input, s.buf, s.off, s.len);
      if (m == Moved::Done || m == Moved::WaitSrc) finish(s);
      else if (m == Moved::WaitDst) fds.push_back({dst, POLLOUT, 0});
    }
    if (!active()) return;
    if (fds.empty()) continue;  // More: go on moving
    if (sync >= 0) fds.push_back({sync, 0, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (sync >= 0 && (fds.back().revents & (POLLHUP | POLLERR))) break;  // the caller is gone
  }
  closeAll();
}

}  // namespace pocker
