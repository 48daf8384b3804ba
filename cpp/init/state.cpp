#include "init/state.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/spec.h"

namespace pocker {
namespace {

constexpr const char* kStopMarker = "stop-requested";
constexpr int kRetryMs = 1000;  // a pending state write or a missing spare is tried again this often

int64_t nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool pwriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = pwrite(fd, text.data() + off, text.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint64_t processStartTime(pid_t pid) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::string text;
  if (readFile(path, &text) != 0) return 0;
  // comm (field 2) is in parentheses and may hold anything: count fields after its last ')'.
  size_t at = text.rfind(')');
  if (at == std::string::npos) return 0;
  const char* p = text.c_str() + at + 1;
  for (int field = 2; field < 22; field++) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return std::strtoull(p, nullptr, 10);
}

int StateKeeper::wakeSignal() { return SIGRTMIN + 2; }

Error StateKeeper::open(const std::string& dir) {
  dir_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_) return fail("state", "open", dir);
  bool any = false;
  int err = ENOSPC;
  for (int i = 0; i < 2; i++) {
    if (reserve(i)) any = true;
    else err = errno ? errno : ENOSPC;
  }
  if (!any) {
    Error e = fail("state", "fallocate", dir + "/" + kStateSpares[0], err);
    dir_.reset();
    return e;
  }
  // dnotify (not inotify: that one is limited to 128 instances per user, one per monitor): a new
  // or renamed entry in the state dir raises the wake signal. Without it (a kernel built without
  // dnotify) the timer looks for a stop request every second.
  if (fcntl(dir_.get(), F_SETSIG, wakeSignal()) != 0 || fcntl(dir_.get(), F_NOTIFY, DN_CREATE | DN_RENAME | DN_MULTISHOT) != 0)
    notify_ = false;
  else notify_ = true;
  struct sigevent sev;
  std::memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = wakeSignal();
  timer_ = timer_create(CLOCK_MONOTONIC, &sev, &timerId_) == 0;
  arm();
  return {};
}

bool StateKeeper::reserve(int i) {
  if (spare_[i]) return true;
  Fd fd(::openat(dir_.get(), kStateSpares[i], O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return false;
  // Blocks already there (a spare the store or an earlier monitor reserved) cost nothing more.
  int e = posix_fallocate(fd.get(), 0, kStateSpareSize);
  if (e != 0) {
    ::unlinkat(dir_.get(), kStateSpares[i], 0);  // never leave an empty spare behind
    errno = e;
    return false;
  }
  spare_[i] = std::move(fd);
  return true;
}

bool StateKeeper::flush() {
  if (!dirty_) return true;
  int i = -1;
  for (int k = 0; k < 2 && i < 0; k++)
    if (spare_[k] || reserve(k)) i = k;
  if (i < 0) return false;
  std::string text = json_ + "\n";
  int fd = spare_[i].get();
  if (!pwriteAll(fd, text) || ftruncate(fd, static_cast<off_t>(text.size())) != 0 || fsync(fd) != 0 ||
      ::renameat(dir_.get(), kStateSpares[i], dir_.get(), "state.json") != 0) {
    // Not for lack of space (the blocks are ours): the spare is not trusted again.
    spare_[i].reset();
    ::unlinkat(dir_.get(), kStateSpares[i], 0);
    return false;
  }
  spare_[i].reset();
  dirty_ = false;
  reserve(i);  // the old state.json's blocks, just freed (on ext4: after the next commit; the timer retries)
  return true;
}

bool StateKeeper::write(const std::string& json) {
  if (!dir_) return false;
  json_ = json;
  dirty_ = true;
  bool ok = flush();
  // The rename and the refill raised our own dnotify signal: take it now (and look for a stop
  // request here instead), so an idle monitor does not wake for its own write (and fault code
  // back in after trimming it).
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, wakeSignal());
  struct timespec zero = {0, 0};
  while (sigtimedwait(&wake, nullptr, &zero) > 0) {
  }
  checkStop();
  arm();
  return ok;
}

void StateKeeper::arm() {
  if (!timer_) return;
  int64_t wait = -1;
  auto sooner = [&wait](int64_t ms) {
    if (ms < 0) ms = 0;
    if (wait < 0 || ms < wait) wait = ms;
  };
  if (killAt_ >= 0) sooner(killAt_ - nowMs());
  if (dirty_ || !spare_[0] || !spare_[1]) sooner(kRetryMs);
  if (!notify_ && !stopSeen_) sooner(kRetryMs);
  // Nothing to change (no deadline before, none now): no call (the common case of a wake).
  if (wait < 0 && !armed_) return;
  armed_ = wait >= 0;
  struct itimerspec its;
  std::memset(&its, 0, sizeof its);
  if (wait >= 0) {
    if (wait == 0) wait = 1;
    its.it_value.tv_sec = wait / 1000;
    its.it_value.tv_nsec = (wait % 1000) * 1000000;
  }
  timer_settime(timerId_, 0, &its, nullptr);
}

void StateKeeper::beginRun(pid_t pid) {
  pid_ = pid;
  stopSeen_ = false;
  idleStop_ = false;
  killAt_ = -1;
  checkStop();
  arm();
}

bool StateKeeper::stopRequested() const {
  struct stat st;
  return dir_ && fstatat(dir_.get(), kStopMarker, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool StateKeeper::takeStopWhileIdle() {
  bool s = idleStop_;
  idleStop_ = false;
  return s;
}

void StateKeeper::checkStop() {
  if (!dir_ || stopSeen_) return;
  char target[64];
  ssize_t n = readlinkat(dir_.get(), kStopMarker, target, sizeof target - 1);
  // Only the symlink form is a request to carry out; an empty file (an older pocker's CLI, which
  // signals the container itself) only keeps the container from being restarted.
  if (n <= 0) return;
  target[n] = '\0';
  // "<signal> <timeout>" (strtol, not sscanf: a monitor's resident code stays small).
  char* end = nullptr;
  long sig = std::strtol(target, &end, 10);
  long timeout = 10;
  if (end && *end == ' ') timeout = std::strtol(end + 1, nullptr, 10);
  if (sig <= 0 || sig >= NSIG) sig = SIGTERM;
  stopSeen_ = true;
  if (pid_ <= 0) {
    idleStop_ = true;
    return;
  }
  ::kill(pid_, static_cast<int>(sig));
  if (sig != SIGKILL && timeout >= 0) killAt_ = nowMs() + static_cast<int64_t>(timeout) * 1000;
}

bool StateKeeper::onSignal(int signo) {
  if (!dir_ || (signo != wakeSignal() && signo != SIGIO)) return false;
  checkStop();
  if (killAt_ >= 0 && nowMs() >= killAt_) {
    killAt_ = -1;
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  flush();
  for (int i = 0; i < 2; i++) reserve(i);
  arm();
  return true;
}

void StateKeeper::flushBeforeExit(int sfd) {
  while (dir_ && !flush()) {
    struct stat st;
    if (fstat(dir_.get(), &st) != 0 || st.st_nlink == 0) return;  // removed (rm -f): nobody reads it
    // `rm -f` (a SIGKILL request) does not wait for space: the container is going away.
    char target[64];
    ssize_t n = readlinkat(dir_.get(), kStopMarker, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      if (std::atoi(target) == SIGKILL) return;
    }
    arm();
    struct pollfd pfd = {sfd, POLLIN, 0};
    if (poll(&pfd, 1, kRetryMs) > 0) {
      struct signalfd_siginfo si;
      (void)!read(sfd, &si, sizeof si);
    }
  }
}

void recordEvent(const Spec& spec, const char* action, const char* extraKey, const std::string& extraValue) {
  if (spec.eventsLog.empty()) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  nlohmann::json attrs = nlohmann::json::object();
  for (const auto& [k, v] : spec.eventsAttributes) attrs[k] = v;
  if (extraKey) attrs[extraKey] = extraValue;
  nlohmann::json ev = {{"Type", "container"},
                       {"Action", action},
                       {"Actor", {{"ID", spec.eventsId}, {"Attributes", attrs}}},
                       {"scope", "local"},
                       {"time", static_cast<int64_t>(ts.tv_sec)},
                       {"timeNano", static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec}};
  // replace: invalid UTF-8 in a name must not throw (pocker-init has no exceptions).
  std::string line = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  Fd fd(::open(spec.eventsLog.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return;
  ssize_t n;
  do n = write(fd.get(), line.data(), line.size());
  while (n < 0 && errno == EINTR);
  struct stat st;
  // Past 1 MiB, one generation is kept (lib/state/events.ts: EVENTS_LOG_MAX).
  if (fstat(fd.get(), &st) == 0 && st.st_size > (1 << 20)) ::rename(spec.eventsLog.c_str(), (spec.eventsLog + ".1").c_str());
}

}  // namespace pocker
