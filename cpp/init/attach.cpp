#include "init/attach.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>

#include <cstring>

namespace pocker {
namespace {

using wire::kFrameHeader;
constexpr size_t kMaxClients = 64;

int64_t nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Error AttachHub::listen(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return Error{EINVAL, "attach", "bind", path};
  Fd dir(::open(slash == 0 ? "/" : path.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return fail("attach", "open", path);
  std::string base = path.substr(slash + 1);
  // The state dir may be deeper than sun_path's 108 bytes: bind through the directory's fd.
  std::string via = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + base;
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (via.size() >= sizeof addr.sun_path) return Error{ENAMETOOLONG, "attach", "bind", path};
  std::memcpy(addr.sun_path, via.c_str(), via.size());
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return fail("attach", "socket", path);
  if (unlinkat(dir.get(), base.c_str(), 0) != 0 && errno != ENOENT) return fail("attach", "unlinkat", path);
  mode_t old = umask(077);  // the socket is born 0600: only root may attach
  int rc = bind(s.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (rc != 0) return fail("attach", "bind", path, err);
  if (::listen(s.get(), 16) != 0) return fail("attach", "listen", path);
  listen_ = std::move(s);
  path_ = path;
  return {};
}

void AttachHub::addClient(int fd) {
  Fd owned(fd);
  if (clients_.size() >= kMaxClients) return;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  Client c;
  c.fd = std::move(owned);
  clients_.push_back(std::move(c));
}

void AttachHub::setInput(int stdinPipe, int ptyMaster, bool ptyInput, bool stdinOnce) {
  stdinPipe_.reset(stdinPipe);
  if (stdinPipe_) fcntl(stdinPipe, F_SETFL, fcntl(stdinPipe, F_GETFL) | O_NONBLOCK);
  pty_ = ptyMaster;
  ptyInput_ = ptyInput;
  closeWhenDrained_ = false;
  stdinOnce_ = stdinOnce;
  input_.clear();
}

void AttachHub::frame(Client& c, uint8_t kind, const char* data, size_t n) {
  if (c.dead) return;
  if (c.out.size() + n + kFrameHeader > kMaxPending) {
    c.dead = true;  // it does not read: it must not hold the container up
    return;
  }
  char h[kFrameHeader];
  wire::frameHeader(kind, n, h);
  c.out.append(h, kFrameHeader);
  c.out.append(data, n);
  flushClient(c);
}

void AttachHub::broadcast(uint8_t kind, const char* data, size_t n) {
  for (auto& c : clients_) frame(c, kind, data, n);
}

void AttachHub::flushClient(Client& c) {
  while (!c.dead && !c.out.empty()) {
    ssize_t w = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      c.out.erase(0, static_cast<size_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      c.dead = true;
    }
  }
}

void AttachHub::flushInput() {
  int target = pty_ >= 0 ? pty_ : stdinPipe_.get();
  while (!input_.empty() && target >= 0) {
    ssize_t w = write(target, input_.data(), input_.size());
    if (w > 0) {
      input_.erase(0, static_cast<size_t>(w));
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      if (w < 0 && errno == EAGAIN) return;
      input_.clear();  // the container closed its stdin (EPIPE) or its pty (EIO)
      if (target == stdinPipe_.get()) stdinPipe_.reset();
      return;
    }
  }
  if (target < 0) input_.clear();
  if (closeWhenDrained_ && input_.empty()) {
    stdinPipe_.reset();
    closeWhenDrained_ = false;
  }
}

void AttachHub::parse(Client& c) {
  uint8_t kind;
  size_t len;
  while (wire::parseFrameHeader(c.in.data(), c.in.size(), &kind, &len)) {
    if (len > wire::kMaxFrame) {
      c.dead = true;
      return;
    }
    if (c.in.size() < kFrameHeader + len) return;
    const char* p = c.in.data() + kFrameHeader;
    unsigned rows, cols;
    if (kind == wire::Stdin) {
      if ((pty_ >= 0 && ptyInput_) || stdinPipe_) input_.append(p, len);
    } else if (kind == wire::Resize && pty_ >= 0 && wire::parseResizePayload(p, len, &rows, &cols)) {
      struct winsize ws;
      std::memset(&ws, 0, sizeof ws);
      ws.ws_row = static_cast<unsigned short>(rows);
      ws.ws_col = static_cast<unsigned short>(cols);
      if (ws.ws_row && ws.ws_col) ioctl(pty_, TIOCSWINSZ, &ws);
    } else if (kind == wire::CloseStdin && stdinOnce_ && stdinPipe_) {
      // Docker's StdinOnce: the first attached client's end of input is the container's, once
      // the container has taken what came before it.
      closeWhenDrained_ = true;
      flushInput();
    }
    c.in.erase(0, kFrameHeader + len);
  }
}

void AttachHub::pollfds(std::vector<struct pollfd>* fds) const {
  fds->push_back({listen_.get(), POLLIN, 0});
  int target = pty_ >= 0 ? pty_ : stdinPipe_.get();
  fds->push_back({input_.empty() ? -1 : target, POLLOUT, 0});
  // Input that the container does not take stops reading from clients (back-pressure).
  bool reading = input_.size() < kMaxInput;
  for (const auto& c : clients_) {
    short ev = static_cast<short>((reading ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT));
    fds->push_back({c.fd.get(), ev, 0});
  }
}

void AttachHub::handle(const struct pollfd* fds, size_t n) {
  if (n < 2) return;
  size_t known = n - 2 < clients_.size() ? n - 2 : clients_.size();
  for (size_t i = 0; i < known; i++) {
    Client& c = clients_[i];
    short re = fds[2 + i].revents;
    if (re & POLLOUT) flushClient(c);
    if (re & (POLLIN | POLLHUP | POLLERR)) {
      char buf[32 * 1024];
      ssize_t r = recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        c.in.append(buf, static_cast<size_t>(r));
        parse(c);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        c.dead = true;  // detached (or gone): the container keeps running
      }
    }
  }
  if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) flushInput();
  else if (!input_.empty()) flushInput();
  for (size_t i = 0; i < clients_.size();) {
    if (clients_[i].dead) clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
    else i++;
  }
  if (fds[0].revents & POLLIN) {
    for (;;) {
      int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      addClient(fd);
    }
  }
}

void AttachHub::finish(int exitCode, int sig, bool oom) {
  std::string text = wire::exitPayload(exitCode, sig, oom);
  for (auto& c : clients_) frame(c, wire::Exit, text.data(), text.size());
  // Give readers a moment to take what is pending; a client that does not read is not waited for.
  int64_t end = nowMs() + 1000;
  for (;;) {
    std::vector<struct pollfd> fds;
    for (const auto& c : clients_)
      if (!c.dead && !c.out.empty()) fds.push_back({c.fd.get(), POLLOUT, 0});
    int64_t left = end - nowMs();
    if (fds.empty() || left <= 0) break;
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (auto& c : clients_) flushClient(c);
  }
  clients_.clear();
  stdinPipe_.reset();
  pty_ = -1;
  input_.clear();
  closeWhenDrained_ = false;
}

void AttachHub::stopListening() {
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
  if (!listen_) return;
  for (;;) {
    int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    addClient(fd);
  }
  listen_.reset();
}

void AttachHub::close() {
  if (!path_.empty()) ::unlink(path_.c_str());
  listen_.reset();
  path_.clear();
}

}  // namespace pocker
