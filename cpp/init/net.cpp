// See net.h. pocker-init is single-threaded, so the monitor may setns() into the container's
// network namespace and back: it does so only to open one netlink socket there (a netlink socket
// stays bound to the namespace it was created in), then talks to both namespaces from its own.
#include "init/net.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/netlink.h"

namespace pocker {
namespace {

// POCKER_FAULT=<point>: SIGKILL ourselves right after that step (crash-safety tests).
void faultPoint(const char* point) {
  const char* f = getenv("POCKER_FAULT");
  if (f && std::strcmp(f, point) == 0) ::kill(getpid(), SIGKILL);
}

int64_t nowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// Whether `fd` becomes readable (data, EOF, or a pidfd's process ending) before `deadline`
// (nowMs()'s clock); an interrupted poll goes on waiting for what is left.
bool readableBy(int fd, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - nowMs();
    if (left <= 0) return false;
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

// What a failed helper said on its stderr (`errRead`, non-blocking: a daemon it left may hold the
// pipe, so read what is there, never wait for EOF), as the error's text.
Error helperError(const std::string& program, int errRead, const std::string& otherwise) {
  static char said[2048];
  ssize_t n = ::read(errRead, said, sizeof said - 1);
  said[n > 0 ? n : 0] = '\0';
  for (ssize_t i = 0; i < n; i++)
    if (said[i] == '\n') said[i] = ' ';
  static std::string name;  // Error holds const char* syscall names
  name = program;
  return Error{EIO, "network", name.c_str(), n > 0 ? std::string(said) : otherwise};
}

// A network helper (pocker.network.setup / .cleanup) started as a normal program expects: the fixed
// PATH below, SIGPIPE at its default and no signal blocked (the monitor blocks the ones it reads
// from its signalfd and ignores SIGPIPE), each `moves[i].from` (if >= 0) as fd `moves[i].to` (< 10),
// every fd from `closeFrom` up closed. Everything is made before fork(); between fork and exec only
// async-signal-safe calls (sigaction, sigprocmask, fcntl, dup2, close_range, execve, _exit).
// Returns the child's pid, or -1 with errno.
struct FdMove {
  int from, to;
};

pid_t spawnHelper(const std::vector<std::string>& args, const FdMove* moves, size_t count, unsigned closeFrom) {
  constexpr size_t kMaxMoves = 8;
  if (args.empty() || count > kMaxMoves) {
    errno = EINVAL;
    return -1;
  }
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  static char pathEnv[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {pathEnv, nullptr};
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  pid_t child = fork();
  if (child != 0) return child;
  sigaction(SIGPIPE, &dfl, nullptr);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Through spare numbers (>= 10) first: any `from` may be another move's `to`.
  int spare[kMaxMoves];
  for (size_t i = 0; i < count; i++) {
    spare[i] = moves[i].from >= 0 ? fcntl(moves[i].from, F_DUPFD, 10) : -1;
    if (moves[i].from >= 0 && spare[i] < 0) _exit(126);
  }
  for (size_t i = 0; i < count; i++)
    if (spare[i] >= 0 && dup2(spare[i], moves[i].to) < 0) _exit(126);
  pocker::closeFrom(closeFrom);
  execve(argv[0], argv.data(), envp);
  _exit(127);
}

// pocker.network.setup with the container's pid appended: run to its end (a user-mode stack forks
// into the background once the namespace is configured), 30 s at most; a non-zero end fails the start.
// The pidfd of the daemon the last setup left (endNetworkSetup ends it).
int gSetupDaemon = -1;

Error runNetworkSetup(const Spec& spec, pid_t pid, int userNs, int netNs) {
  std::vector<std::string> args = spec.netSetup;
  // pasta writes the pid of the daemon it forks to --pid: a pipe (fd 5 in the child) read below.
  int pidPipe[2];
  if (pipe2(pidPipe, O_CLOEXEC | O_NONBLOCK) != 0) return fail("network", "pipe2", args[0]);
  Fd pidRead(pidPipe[0]), pidWrite(pidPipe[1]);
  Fd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull) return fail("network", "open", "/dev/null");
  args.insert(args.end(), {"--pid", "/proc/self/fd/5"});
  // The namespaces reach the child as fds 3 and 4 (dup2'd below), named by their /proc/self/fd paths.
  if (userNs >= 0 && netNs >= 0) {
    args.insert(args.end(), {"--userns", "/proc/self/fd/3", "--netns", "/proc/self/fd/4"});
  } else {
    args.push_back(std::to_string(pid));
  }
  // Its stderr goes to a pipe: warnings (no IPv6 route...) are not the container's output, and a
  // failure's message becomes the error's text.
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC | O_NONBLOCK) != 0) return fail("network", "pipe2", args[0]);
  Fd errRead(errPipe[0]), errWrite(errPipe[1]);
  // Nothing of the caller's stdio (the daemon would hold it open after the container ended); fds
  // 3, 4 (the namespaces, when given) and 5 (the pid pipe).
  const FdMove moves[] = {{devNull.get(), 0}, {devNull.get(), 1}, {errWrite.get(), 2},
                          {userNs >= 0 && netNs >= 0 ? userNs : -1, 3}, {userNs >= 0 && netNs >= 0 ? netNs : -1, 4},
                          {pidWrite.get(), 5}};
  pid_t child = spawnHelper(args, moves, sizeof moves / sizeof moves[0], 6);
  if (child < 0) return fail("network", "fork", args[0]);
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  if (pidfd && !readableBy(pidfd.get(), nowMs() + 30000)) ::kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  errWrite.reset();
  pidWrite.reset();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    char buf[32] = {0};
    ssize_t got = ::read(pidRead.get(), buf, sizeof buf - 1);
    long daemon = got > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (daemon > 1) {
      if (gSetupDaemon >= 0) ::close(gSetupDaemon);
      gSetupDaemon = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(daemon), 0));
    }
    return {};
  }
  return helperError(args[0], errRead.get(), args[0] + " failed");
}

// slirp4netns, the monitor's child for the whole run (setupKind "slirp4netns"): its pid, and the
// write end of its --exit-fd pipe (closing it, or the monitor's death, ends slirp4netns).
pid_t gForegroundPid = -1;
int gForegroundExit = -1;

// One request to slirp4netns's API socket (one connection each): written, its reply read to EOF
// (10 s at most). An {"error": ...} reply, or none, fails.
Error slirpRequest(const std::string& socketPath, const std::string& request, const std::string& program) {
  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return fail("network", "socket", socketPath);
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof addr.sun_path) return Error{ENAMETOOLONG, "network", "connect", socketPath};
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
  if (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) return fail("network", "connect", socketPath);
  if (!writeAll(sock.get(), request.data(), request.size())) return fail("network", "write", socketPath);
  ::shutdown(sock.get(), SHUT_WR);
  std::string reply;
  const int64_t deadline = nowMs() + 10000;
  while (readableBy(sock.get(), deadline)) {
    char buf[1024];
    ssize_t got = ::read(sock.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    reply.append(buf, static_cast<size_t>(got));
  }
  static std::string name;
  name = program;
  if (reply.empty()) return Error{EIO, "network", name.c_str(), "no reply to " + request};
  if (reply.find("\"error\"") != std::string::npos) return Error{EIO, "network", name.c_str(), reply + " (to " + request + ")"};
  return {};
}

// setupKind "slirp4netns": the argv with --ready-fd 5 and --exit-fd 6 (a pipe whose write end only
// the monitor holds), the namespaces (or the pid) and the tap's name appended, started as the
// monitor's child; ready when it writes "1" to fd 5 (30 s at most; its early end fails the start
// with what it said). Then each published port through its API socket (a private temporary
// directory, removed once they are added: slirp4netns keeps what it bound), before the workload runs.
Error runForegroundSetup(const Spec& spec, pid_t pid, int userNs, int netNs) {
  std::vector<std::string> args = spec.netSetup;
  const std::string program = args[0];
  int ready[2], exitPipe[2], errPipe[2];
  if (pipe2(ready, O_CLOEXEC | O_NONBLOCK) != 0) return fail("network", "pipe2", program);
  Fd readyRead(ready[0]), readyWrite(ready[1]);
  if (pipe2(exitPipe, O_CLOEXEC) != 0) return fail("network", "pipe2", program);
  Fd exitRead(exitPipe[0]), exitWrite(exitPipe[1]);
  if (pipe2(errPipe, O_CLOEXEC | O_NONBLOCK) != 0) return fail("network", "pipe2", program);
  Fd errRead(errPipe[0]), errWrite(errPipe[1]);
  Fd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull) return fail("network", "open", "/dev/null");
  args.insert(args.end(), {"--ready-fd", "5", "--exit-fd", "6"});
  // The API socket, in a directory of the monitor's own (mkdtemp: 0700), gone when this returns.
  char dir[] = "/tmp/pocker-slirp-XXXXXX";
  std::string socketPath;
  if (!spec.netForwards.empty()) {
    if (!mkdtemp(dir)) return fail("network", "mkdtemp", "/tmp");
    socketPath = std::string(dir) + "/api.sock";
    args.insert(args.end(), {"--api-socket", socketPath});
  }
  struct DirGuard {
    const std::string& sock;
    const char* dir;
    ~DirGuard() {
      if (sock.empty()) return;
      ::unlink(sock.c_str());
      ::rmdir(dir);
    }
  } guard{socketPath, dir};
  const bool fds = userNs >= 0 && netNs >= 0;
  if (fds) {
    args.insert(args.end(), {"--userns-path", "/proc/self/fd/3", "--netns-type=path", "/proc/self/fd/4"});
  } else {
    args.push_back(std::to_string(pid));
  }
  args.push_back("tap0");
  const FdMove moves[] = {{devNull.get(), 0},     {devNull.get(), 1}, {errWrite.get(), 2}, {fds ? userNs : -1, 3},
                          {fds ? netNs : -1, 4}, {readyWrite.get(), 5}, {exitRead.get(), 6}};
  pid_t child = spawnHelper(args, moves, sizeof moves / sizeof moves[0], 7);
  if (child < 0) return fail("network", "fork", program);
  readyWrite.reset();
  exitRead.reset();
  errWrite.reset();
  auto reap = [&] {
    ::kill(child, SIGKILL);
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  // Ready: "1" on fd 5. EOF there (it ended) or 30 s without it fail.
  const int64_t deadline = nowMs() + 30000;
  bool isReady = false;
  while (readableBy(readyRead.get(), deadline)) {
    char c = 0;
    ssize_t got = ::read(readyRead.get(), &c, 1);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    isReady = got == 1 && c == '1';
    break;
  }
  if (!isReady) {
    reap();  // its stderr is read after it is gone (all it wrote is in the pipe then)
    return helperError(program, errRead.get(), program + " did not become ready");
  }
  for (const auto& request : spec.netForwards)
    if (Error e = slirpRequest(socketPath, request, program)) {
      reap();
      return e;
    }
  gForegroundPid = child;
  gForegroundExit = exitWrite.release();
  return {};
}

Error runUserModeSetup(const Spec& spec, pid_t pid, int userNs, int netNs) {
  return spec.netSetupForeground ? runForegroundSetup(spec, pid, userNs, netNs) : runNetworkSetup(spec, pid, userNs, netNs);
}

}  // namespace

Error setupNetwork(const Spec& spec, const std::vector<NetInterface>& interfaces, pid_t pid, int userNs, int netNs) {
  if (!(spec.namespaces & CLONE_NEWNET)) return {};
  // (ownLoopback: the container brings its lo up; a rootless monitor cannot enter its namespace.)
  if (ownLoopback(spec)) return spec.netSetup.empty() ? Error{} : runUserModeSetup(spec, pid, userNs, netNs);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/ns/net", static_cast<int>(pid));
  Fd target(::open(path, O_RDONLY | O_CLOEXEC));
  if (!target) return fail("network", "open", path);
  // (/proc/self/ns/net is opened per run: one open, and a restart's monitor holds no fd between runs.)
  Fd self(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return fail("network", "open", "/proc/self/ns/net");
  if (setns(target.get(), CLONE_NEWNET) != 0) return fail("network", "setns", path);
  nl::Socket inner;
  int openErr = inner.open();
  // Back home before anything else (a monitor that cannot return gives up the start).
  if (setns(self.get(), CLONE_NEWNET) != 0) return fail("network", "setns", "/proc/self/ns/net");
  if (openErr) return Error{openErr, "network", "socket", "lo"};
  if (int e = inner.setLinkUp("lo")) return Error{e, "network", "RTM_NEWLINK", "lo"};
  if (interfaces.empty()) return spec.netSetup.empty() ? Error{} : runUserModeSetup(spec, pid, userNs, netNs);

  nl::Socket host;
  if (int e = host.open()) return Error{e, "network", "socket", interfaces[0].hostName};
  for (size_t i = 0; i < interfaces.size(); i++) {
    if (Error err = netAttach(host, inner, target.get(), interfaces[i], faultPoint, true)) {
      for (size_t k = 0; k < i; k++) host.deleteLink(interfaces[k].hostName);
      return err;
    }
  }
  return {};
}

Error loopbackUp() {
  nl::Socket sock;
  if (int e = sock.open()) return Error{e, "network", "socket", "lo"};
  if (int e = sock.setLinkUp("lo")) return Error{e, "network", "RTM_NEWLINK", "lo"};
  return {};
}

void endNetworkSetup() {
  if (gForegroundPid > 0) {
    // Its exit fd closed, slirp4netns ends by itself; SIGKILL makes the wait below short and sure
    // (it keeps no state worth a graceful end).
    ::close(gForegroundExit);
    ::kill(gForegroundPid, SIGKILL);
    while (waitpid(gForegroundPid, nullptr, 0) < 0 && errno == EINTR) {
    }
    gForegroundPid = -1;
    gForegroundExit = -1;
  }
  if (gSetupDaemon < 0) return;
  syscall(SYS_pidfd_send_signal, gSetupDaemon, SIGTERM, nullptr, 0U);
  ::close(gSetupDaemon);
  gSetupDaemon = -1;
}

std::vector<NetInterface> reloadInterfaces(const Spec& spec, const std::vector<NetInterface>& current) {
  if (spec.stateDir.empty()) return current;
  std::string text;
  if (readFile((spec.stateDir + "/config.json").c_str(), &text) != 0) return current;
  std::vector<NetInterface> out;
  if (!parseNetInterfaces(text.data(), text.size(), &out)) return current;
  return out;
}

void removeHostEnds(const std::vector<NetInterface>& interfaces) {
  if (interfaces.empty()) return;
  nl::Socket host;
  if (host.open() != 0) return;
  for (const auto& i : interfaces) host.deleteLink(i.hostName);
}

void runNetworkCleanup(const Spec& spec) {
  if (spec.netCleanup.empty()) return;
  // The monitor's stdio stays; nothing else of its (the sync socket, attach clients).
  pid_t child = spawnHelper(spec.netCleanup, nullptr, 0, 3);
  if (child < 0) return;
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  const int64_t deadline = nowMs() + 10000;
  bool done = pidfd && readableBy(pidfd.get(), deadline);
  // No pidfd (kernel < 5.3, which clone3 needs anyway): poll the child.
  while (!pidfd && nowMs() < deadline) {
    if (waitpid(child, nullptr, WNOHANG) == child) return;
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, nullptr);
  }
  if (!done) ::kill(child, SIGKILL);
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace pocker
