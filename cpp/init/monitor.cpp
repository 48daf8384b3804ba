// The monitor: pocker-init's parent half. It creates the container with clone3, joins it to its
// cgroups before it may run anything, relays start-up to the caller, then stays as the container's
// parent: forwards signals, reaps it, records the OOM kill and removes the cgroups.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/cgroup.h"
#include "init/init.h"

namespace pocker {
namespace {

// Signals the monitor forwards to the container (as docker's sig-proxy does).
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

pid_t clone3Container(const Spec& spec, int cgroupFd) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = spec.namespaces;
  args.exit_signal = SIGCHLD;
  if (cgroupFd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroupFd);
  }
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

// "oom_kill N" in memory.events (v2) or memory.oom_control (v1, kernel >= 4.13).
bool oomKilled(const Spec& spec) {
  const std::string& path = !spec.oomV2.empty() ? spec.oomV2 : spec.oomV1;
  if (path.empty()) return false;
  std::string text;
  if (readFile(path.c_str(), &text) != 0) return false;
  size_t at = text.find("oom_kill ");
  if (at == std::string::npos) return false;
  return std::strtoull(text.c_str() + at + 9, nullptr, 10) > 0;
}

void cleanupCgroups(const Spec& spec) {
  for (const auto& dir : spec.cgroupCleanup) cgroupRemove(dir);
}

// The container never got to exec: reap it, clean up, report.
int abortStart(const Spec& spec, int sync, pid_t pid, const Error& e) {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
  }
  cleanupCgroups(spec);
  reportError(sync, e);
  return 1;
}

}  // namespace

int runMonitor(const Spec& spec, int sync) {
  // Block what we forward (and SIGCHLD) before the child exists, so nothing is lost; the child
  // restores an empty mask before exec.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  Fd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return abortStart(spec, sync, -1, fail("monitor", "signalfd"));

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return abortStart(spec, sync, -1, fail("monitor", "socketpair"));
  Fd child(pair[0]), childEnd(pair[1]);

  Fd cgroupFd;
  if (!spec.cgroupV2.empty()) {
    cgroupFd.reset(::open(spec.cgroupV2.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cgroupFd) return abortStart(spec, sync, -1, fail("cgroup", "open", spec.cgroupV2));
  }

  pid_t pid = clone3Container(spec, cgroupFd.get());
  if (pid < 0) return abortStart(spec, sync, -1, fail("clone", "clone3"));
  if (pid == 0) {
    child.reset();
    runContainer(spec, childEnd.get());
    _exit(125);
  }
  childEnd.reset();
  cgroupFd.reset();

  // cgroup v1: join every hierarchy before the container may run a single instruction of its own.
  char pidText[24];
  std::snprintf(pidText, sizeof pidText, "%d", pid);
  for (const auto& procs : spec.cgroupV1Procs) {
    if (int err = writeFile(procs.c_str(), pidText))
      return abortStart(spec, sync, pid, fail("cgroup", "write", procs, err));
  }
  char msg[64];
  std::snprintf(msg, sizeof msg, "P %d", pid);
  sendMsg(sync, msg);
  if (!sendMsg(child.get(), "G")) return abortStart(spec, sync, pid, fail("start", "sendmsg"));

  // The monitor no longer needs the container's stdio: holding it would delay EOF for readers.
  {
    Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (devnull)
      for (int i = 0; i < 3; i++) dup2(devnull.get(), i);
  }

  // Start-up: a pty master to pass on, an error, or EOF (the workload's exec closed the socket).
  for (;;) {
    char buf[4096];
    int fd = -1;
    ssize_t n = recvMsg(child.get(), buf, sizeof buf - 1, &fd);
    if (n < 0) return abortStart(spec, sync, pid, fail("start", "recvmsg"));
    if (n == 0) break;
    buf[n] = 0;
    if (buf[0] == 'T' && fd >= 0) {
      Fd master(fd);
      sendMsg(sync, "T", master.get());
    } else if (buf[0] == 'E') {
      if (fd >= 0) ::close(fd);
      // Relay the container's own error report unchanged, after cleaning up.
      ::kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
      }
      cleanupCgroups(spec);
      sendMsg(sync, std::string(buf, static_cast<size_t>(n)));
      return 1;
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  child.reset();
  sendMsg(sync, "S");

  // Monitor loop.
  bool syncOpen = true;
  int status = 0;
  for (;;) {
    struct pollfd pfd[2] = {{sfd.get(), POLLIN, 0}, {sync, POLLIN, 0}};
    int n = poll(pfd, syncOpen ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          pid_t r = waitpid(pid, &status, WNOHANG | __WALL);
          if (r == pid) break;
        } else {
          ::kill(pid, static_cast<int>(si.ssi_signo));
        }
      }
    }
    if (syncOpen && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[64];
      int fd = -1;
      ssize_t r = recvMsg(sync, buf, sizeof buf - 1, &fd);
      if (fd >= 0) ::close(fd);
      if (r <= 0) {
        // The caller is gone. A foreground container dies with it (no orphaned workloads).
        syncOpen = false;
        if (spec.foreground) ::kill(pid, SIGKILL);
      } else if (buf[0] == 'K') {
        buf[r] = 0;
        int sig = std::atoi(buf + 1);
        if (sig > 0 && sig < NSIG) ::kill(pid, sig);
      }
    }
  }

  int exitCode = 0, sig = 0;
  if (WIFEXITED(status)) {
    exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    exitCode = 128 + sig;
  }
  bool oom = oomKilled(spec);
  cleanupCgroups(spec);
  std::snprintf(msg, sizeof msg, "X %d %d %d", exitCode, sig, oom ? 1 : 0);
  if (syncOpen) sendMsg(sync, msg);
  return 0;
}

}  // namespace pocker
