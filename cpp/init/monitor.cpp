// The monitor: pocker-init's parent half. It creates the container with clone3, joins it to its
// cgroups before it may run anything, relays start-up to the caller, then stays as the container's
// parent: forwards signals, reaps it, records the OOM kill and removes the cgroups.
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/cgroup.h"
#include "common/wire.h"
#include "init/attach.h"
#include "init/init.h"
#include "init/logs.h"
#include "init/net.h"
#include "init/relay.h"
#include "init/state.h"
#include "init/userns.h"

namespace pocker {
namespace {

// Signals the monitor forwards to the container (as docker's sig-proxy does).
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

// Start-up (the spec parser, clone3, the set-up relay, libseccomp's tables) touched code and
// read-only data the monitor's loop never uses again, and the kernel maps a shared file's pages 64 KiB
// around each fault: drop those mappings once, so a monitor's resident size is what its loop uses.
// Only segments the program headers say are never written (no PF_W: the code, .rodata; RELRO lies in
// the writable segment, so the relocated GOT is never dropped): their next access faults the page back
// in from the sealed image. The heap likewise: the spec's parse (Docker's seccomp profile alone is a
// few hundred strings) freed ~100 KiB that malloc keeps; malloc_trim gives its free pages back.
void trimResident() {
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void*) -> int {
        const uintptr_t page = 4096;
        for (int i = 0; i < info->dlpi_phnum; i++) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) != 0) continue;
          uintptr_t from = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
          uintptr_t to = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
          if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
        }
        return 1;  // the executable is the first (and, static, the only) object
      },
      nullptr);
  malloc_trim(0);
}

}  // namespace

pid_t clone3Container(const Spec& spec, int cgroupFd) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = spec.namespaces;
  // cgroup v1: the container joins its cgroups after the clone, so its cgroup namespace (rooted at
  // the cgroups of its creation) is made then, by the container itself (runContainer).
  if (!spec.cgroupV1Tasks.empty()) args.flags &= ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  args.exit_signal = SIGCHLD;
  if (cgroupFd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroupFd);
  }
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

Error openNamespaceJoins(const Spec& spec, std::vector<Fd>* fds, std::vector<int>* joinFds) {
  for (const auto& j : spec.joins) {
    Fd fd(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail("namespaces", "open", j.path);
    if (j.flag == CLONE_NEWPID && setns(fd.get(), CLONE_NEWPID) != 0) return fail("namespaces", "setns", j.path);
    joinFds->push_back(fd.get());
    fds->push_back(std::move(fd));
  }
  return {};
}

namespace {

// "oom_kill N" in memory.events (v2) or memory.oom_control (v1, kernel >= 4.13): a count since the
// cgroup was made, which a restarted container keeps. A run was OOM-killed when it grew during it.
uint64_t oomKills(const Spec& spec) {
  const std::string& path = !spec.oomV2.empty() ? spec.oomV2 : spec.oomV1;
  if (path.empty()) return 0;
  std::string text;
  if (readFile(path.c_str(), &text) != 0) return 0;
  size_t at = text.find("oom_kill ");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + 9, nullptr, 10);
}

void cleanupCgroups(const Spec& spec) {
  for (const auto& dir : spec.cgroupCleanup) cgroupRemove(dir);
}

// Whether the caller has closed its end of the sync socket (a poll of it right now).
bool callerGone(int sync, bool syncOpen) {
  if (!syncOpen) return true;
  struct pollfd p = {sync, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

// Whether the container's start-up socket holds a message: a container that failed on its own (an
// unknown user, a mount) reports that, then exits; whatever of ours fails after that (its network
// namespace is gone) is a consequence, and its own report is the one to relay. (The first read after
// a peer closed with our message unread may be ECONNRESET, ahead of the report: see the start-up loop.)
bool containerReported(int fd) {
  for (int tries = 0; tries < 2; tries++) {
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return true;
    if (n < 0 && errno == ECONNRESET) continue;
    return false;
  }
  return false;
}

// POCKER_FAULT=<point> (crash-safety tests; see net.cpp's faultPoint, which SIGKILLs instead).
bool faultNamed(const char* point) {
  const char* f = getenv("POCKER_FAULT");
  return f && std::strcmp(f, point) == 0;
}

// The container never got to exec: reap it, clean up, report.
int abortStart(const Spec& spec, int sync, pid_t pid, const Error& e) {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
  }
  removeHostEnds(spec.netInterfaces);
  endNetworkSetup();
  cleanupCgroups(spec);
  if (!spec.attachSocket.empty()) ::unlink(spec.attachSocket.c_str());
  // A later run of a restart policy that cannot start is the container's last end: nobody else
  // releases its network (a first start's caller is still there and does).
  if (callerGone(sync, true)) runNetworkCleanup(spec);
  reportError(sync, e);
  return 1;
}

}  // namespace

// A detached container's monitor leaves the caller's process tree and session: the process the
// caller started (and watches) forks the real monitor, waits until it has reported the start (or
// died), and exits. The monitor is then reparented to init (or the nearest subreaper), so neither a
// closed terminal nor the caller's exit reaches it. Returns the write end of the "ready" pipe.
static int detachMonitor() {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return -1;
  pid_t m = fork();
  if (m < 0) return -1;
  if (m > 0) {
    ::close(ready[1]);
    char c;
    while (read(ready[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  ::close(ready[0]);
  setsid();
  return ready[1];
}

// pidStart and monitorStart (field 22 of /proc/PID/stat) let readers tell these processes from a
// later one that got the same pid: they never signal a pid they have not verified.
static std::string stateJson(const char* status, pid_t pid, const std::string& startedAt, const std::string& finishedAt,
                             int exitCode, int sig, bool oom, uint32_t restarts) {
  static const uint64_t monitorStart = processStartTime(getpid());
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"version\":2,\"status\":\"%s\",\"pid\":%d,\"pidStart\":%llu,\"monitorPid\":%d,\"monitorStart\":%llu,"
                "\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"restartCount\":%u,",
                status, pid, static_cast<unsigned long long>(pid > 0 ? processStartTime(pid) : 0), getpid(),
                static_cast<unsigned long long>(monitorStart), exitCode, sig, oom ? "true" : "false", restarts);
  return std::string(buf) + "\"startedAt\":" + jsonString(startedAt) + ",\"finishedAt\":" + jsonString(finishedAt) + "}";
}

// --restart: whether a detached container that ended with `exitCode` runs again. `pocker stop`
// leaves a "stop-requested" marker in the state dir first: a stopped container stays stopped.
static bool shouldRestart(const Spec& spec, const StateKeeper& keeper, int exitCode, uint32_t restarts) {
  if (!spec.detach || spec.restartPolicy == RestartNo) return false;
  if (keeper.stopRequested()) return false;
  if (spec.restartPolicy == RestartOnFailure) {
    if (exitCode == 0) return false;
    if (spec.restartMax > 0 && restarts >= spec.restartMax) return false;
  }
  return true;
}

int runMonitor(const Spec& spec, int sync) {
  Fd ready;
  if (spec.detach) {
    ready.reset(detachMonitor());
    if (!ready) return abortStart(spec, sync, -1, fail("detach", "fork"));
  }
  JsonLog log;
  if (spec.detach && !spec.logPath.empty()) {
    if (Error err = log.open(spec.logPath, spec.logMaxSize, spec.logMaxFiles)) return abortStart(spec, sync, -1, err);
  }
  // Attach clients are served on a socket in the state dir; `start -a`'s own is fd 5 already.
  AttachHub hub;
  if (spec.detach) {
    ::signal(SIGPIPE, SIG_IGN);  // a client or a stdin that went away is an error code, not our end
    if (!spec.attachSocket.empty()) {
      if (Error err = hub.listen(spec.attachSocket)) return abortStart(spec, sync, -1, err);
    }
    if (spec.attachFd) hub.addClient(kAttachFd);
  }
  // Block what we forward (and SIGCHLD) before the child exists, so nothing is lost; the child
  // restores an empty mask before exec.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  sigaddset(&set, StateKeeper::wakeSignal());
  sigaddset(&set, SIGIO);  // what F_SETSIG falls back to when the real-time queue is full
  sigprocmask(SIG_BLOCK, &set, nullptr);
  Fd sfd(signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return abortStart(spec, sync, -1, fail("monitor", "signalfd"));
  // state.json and stop requests (state.h): a start that could not be recorded does not happen.
  StateKeeper keeper;
  if (!spec.stateDir.empty()) {
    if (Error err = keeper.open(spec.stateDir)) return abortStart(spec, sync, -1, err);
  }

  // linux.namespaces with a path: opened once; the container joins them (a pid namespace is
  // joined here: it applies to the children made after it).
  std::vector<Fd> joins;
  std::vector<int> joinFds;
  if (Error err = openNamespaceJoins(spec, &joins, &joinFds)) return abortStart(spec, sync, -1, err);

  // A foreground container's stdio: pipes relayed to the caller's fds (never the caller's own).
  StdioRelay relay;
  if (!spec.detach) {
    if (Error err = relay.setup()) return abortStart(spec, sync, -1, err);
  }

  bool syncOpen = true;
  uint32_t restarts = 0;
  // The interfaces of this run: the spec's for the first; a later run's are read again from
  // config.json (network connect / disconnect since then: init/net.h reloadInterfaces).
  std::vector<NetInterface> netIfaces = spec.netInterfaces;
  // One run of the container per turn; more turns only with a restart policy (detached).
  for (;;) {
    // A detached container's output goes to pipes the monitor reads into the json-file log.
    Fd outR, errR;
    if (spec.detach && !spec.logPath.empty()) {
      int po[2], pe[2];
      if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) return abortStart(spec, sync, -1, fail("logs", "pipe2"));
      if (dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0) return abortStart(spec, sync, -1, fail("logs", "dup2"));
      ::close(po[1]);
      ::close(pe[1]);
      outR.reset(po[0]);
      errR.reset(pe[0]);
    }
    // -i: the container's stdin is a pipe the monitor feeds from attached clients.
    Fd inW;
    if (spec.detach && spec.interactive && !spec.tty) {
      int pi[2];
      if (pipe2(pi, O_CLOEXEC) != 0 || dup2(pi[0], 0) < 0) return abortStart(spec, sync, -1, fail("stdin", "pipe2"));
      ::close(pi[0]);
      inW.reset(pi[1]);
    }
    Fd master;  // a detached container's pty (the monitor relays it)

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
      return abortStart(spec, sync, -1, fail("monitor", "socketpair"));
    Fd child(pair[0]), childEnd(pair[1]);

    Fd cgroupFd;
    if (!spec.cgroupV2.empty()) {
      cgroupFd.reset(::open(spec.cgroupV2.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!cgroupFd) return abortStart(spec, sync, -1, fail("cgroup", "open", spec.cgroupV2));
    }

    uint64_t oomBefore = oomKills(spec);  // this run's baseline (the cgroup outlives a restart)
    pid_t pid = clone3Container(spec, cgroupFd.get());
    if (pid < 0) return abortStart(spec, sync, -1, fail("clone", "clone3"));
    if (pid == 0) {
      child.reset();
      relay.closeAll();
      runContainer(spec, childEnd.get(), joinFds);
      _exit(125);
    }
    childEnd.reset();
    cgroupFd.reset();

    // A new user namespace: its maps, then (its root cannot write the host's cgroup v1 files) its
    // cgroups joined from here, and an overlay rootfs made of idmapped layers (init/userns.h), sent
    // with the go. Without one, the container joins its cgroup v1 hierarchies itself, first thing
    // (see runContainer).
    Fd rootfsMount;
    int setupExit = 0;
    if (spec.namespaces & CLONE_NEWUSER) {
      Error err = writeIdMaps(spec, pid);
      for (size_t i = 0; !err && i < spec.cgroupV1Tasks.size(); i++)
        if (int e = writeFile(spec.cgroupV1Tasks[i].c_str(), std::to_string(pid)))
          err = fail("cgroup", "write", spec.cgroupV1Tasks[i], e);
      // Rootless (not root of the initial user namespace): no idmapped mount can be made; the
      // container mounts its overlay itself, inside its user namespace (userxattr).
      if (!err && spec.overlay && rootInInitialUserns()) err = idmappedRootfs(spec, pid, &rootfsMount);
      if (err && restarts == 0) return abortStart(spec, sync, pid, err);
      if (err) {
        // A later run of a restart policy that cannot be set up ends the policy (as below).
        ::kill(pid, SIGKILL);
        while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
        }
        setupExit = 125;
      }
    }
    if (syncOpen && setupExit == 0) sendMsg(sync, wire::encodePid(pid));
    // A network setup argv (pasta) of a container in a new user namespace joins its namespaces
    // through fds opened now: after the go the container is not dumpable (see setupNetwork).
    Fd setupUserNs, setupNetNs;
    if (setupExit == 0 && !spec.netSetup.empty() && (spec.namespaces & CLONE_NEWUSER)) {
      setupUserNs.reset(::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
      setupNetNs.reset(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    }
    if (setupExit == 0 && !sendMsg(child.get(), wire::encodeKind(wire::Sync::Go), rootfsMount.get()))
      return abortStart(spec, sync, pid, fail("start", "sendmsg"));
    rootfsMount.reset();
    // Its network (init/net.h), while it sets up its filesystem (it waits for a second go before it
    // may run anything): a failed restart ends the policy as a failed exec would.
    if (setupExit == 0 && monitorPlumbsNetwork(spec)) {
      if (restarts > 0) netIfaces = reloadInterfaces(spec, netIfaces);
      // The test of the race below: the container has failed and exited before its network is made.
      if (faultNamed("net-after-container-exit")) {
        siginfo_t si;
        while (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
        }
      }
      Error err = setupNetwork(spec, netIfaces, pid, setupUserNs ? setupUserNs.get() : -1, setupNetNs ? setupNetNs.get() : -1);
      setupUserNs.reset();
      setupNetNs.reset();
      if (err && restarts == 0 && containerReported(child.get())) {
        // Its own error comes first: the start-up loop below relays it (and cleans up).
      } else if (err) {
        if (restarts == 0) return abortStart(spec, sync, pid, err);
        ::kill(pid, SIGKILL);
        while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
        }
        setupExit = 125;
      } else {
        // When this fails (EPIPE) the container has already failed on its own: its error report
        // waits in the socket and the loop below relays it.
        (void)sendMsg(child.get(), wire::encodeKind(wire::Sync::Go));
      }
    }

    // The monitor no longer needs the container's stdio: holding it would delay EOF for readers.
    {
      Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
      if (devnull)
        for (int i = 0; i < 3; i++) dup2(devnull.get(), i);
    }

    // Start-up: a pty master to pass on, an error, or EOF (the workload's exec closed the socket).
    while (setupExit == 0) {
      char buf[4096];
      int fd = -1;
      ssize_t n = recvMsg(child.get(), buf, sizeof buf - 1, &fd);
      // A container that failed before it read our second go exits with that go unread: the kernel
      // then reports ECONNRESET on our end once, and on some kernels (6.1) ahead of the error report
      // still queued behind it. The report (or EOF) comes with the next read.
      if (n < 0 && errno == ECONNRESET) continue;
      if (n < 0) return abortStart(spec, sync, pid, fail("start", "recvmsg"));
      if (n == 0) break;
      wire::SyncMsg m;
      if (!wire::decode(buf, static_cast<size_t>(n), &m)) {
        if (fd >= 0) ::close(fd);
        continue;
      }
      if (m.kind == wire::Sync::Pty && fd >= 0) {
        Fd pty(fd);
        if (spec.detach) master = std::move(pty);
        else if (syncOpen) sendMsg(sync, wire::encodeKind(wire::Sync::Pty), pty.get());
      } else if (m.kind == wire::Sync::Error) {
        if (fd >= 0) ::close(fd);
        ::kill(pid, SIGKILL);
        while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
        }
        if (restarts == 0) {
          // Relay the container's own error report unchanged, after cleaning up.
          removeHostEnds(netIfaces);
          cleanupCgroups(spec);
          hub.close();
          sendMsg(sync, std::string(buf, static_cast<size_t>(n)));
          return 1;
        }
        // A restart that cannot exec ends the policy, with the exit code Docker would give.
        setupExit = m.step == "exec" ? (m.err == ENOENT ? 127 : 126) : 125;
        break;
      } else if (fd >= 0) {
        ::close(fd);
      }
    }
    child.reset();
    std::string startedAt = nowRfc3339();
    int exitCode = setupExit, sig = 0, status = 0;
    if (setupExit == 0) {
      if (keeper.enabled()) {
        keeper.write(stateJson("running", pid, startedAt, "", 0, 0, false, restarts));
        keeper.beginRun(pid);
      }
      if (restarts == 0 && syncOpen) sendMsg(sync, wire::encodeKind(wire::Sync::Started));
      // Every start, the first too: recorded by the one process that also records its `die`, so a
      // workload that ends at once can never have its die before its start in the log.
      recordEvent(spec, "start");
      ready.reset();  // the caller's process may go now
      if (spec.detach) trimResident();

      if (master) fcntl(master.get(), F_SETFL, fcntl(master.get(), F_GETFL) | O_NONBLOCK);
      hub.setInput(inW.release(), master.get(), spec.interactive, spec.stdinOnce);

      // Monitor loop. Output goes to the log and to attached clients; returns what read(2) did.
      auto pump = [&](Fd& fd, int stream) -> ssize_t {
        char buf[32 * 1024];
        ssize_t r = read(fd.get(), buf, sizeof buf);
        if (r > 0) {
          log.feed(stream, buf, static_cast<size_t>(r));
          hub.broadcast(stream == 0 ? wire::Stdout : wire::Stderr, buf, static_cast<size_t>(r));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          // EOF, or EIO: a pty whose other side is closed.
          log.flush(stream);
          fd.reset();
        }
        return r;
      };
      std::vector<struct pollfd> pfd;
      for (;;) {
        pfd.assign({{sfd.get(), POLLIN, 0},
                    {syncOpen ? sync : -1, POLLIN, 0},
                    {outR.get(), POLLIN, 0},
                    {errR.get(), POLLIN, 0},
                    {master.get(), POLLIN, 0}});
        constexpr size_t kFixed = 5;
        relay.pollfds(&pfd);
        const size_t hubAt = pfd.size();
        hub.pollfds(&pfd);
        int n = poll(pfd.data(), pfd.size(), -1);
        if (n < 0) {
          if (errno == EINTR) continue;
          break;
        }
        hub.handle(pfd.data() + hubAt, pfd.size() - hubAt);
        relay.handle(pfd.data() + kFixed, hubAt - kFixed);
        if (pfd[0].revents & POLLIN) {
          struct signalfd_siginfo si;
          if (read(sfd.get(), &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGCHLD) {
              pid_t r = waitpid(pid, &status, WNOHANG | __WALL);
              if (r == pid) break;
            } else if (keeper.onSignal(static_cast<int>(si.ssi_signo))) {
              // a stop request, its timeout, or a state write to retry
            } else {
              ::kill(pid, static_cast<int>(si.ssi_signo));
            }
          }
        }
        if (outR && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))) pump(outR, 0);
        if (errR && (pfd[3].revents & (POLLIN | POLLHUP | POLLERR))) pump(errR, 1);
        if (master && (pfd[4].revents & (POLLIN | POLLHUP | POLLERR))) pump(master, 0);
        if (syncOpen && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
          char buf[64];
          int fd = -1;
          ssize_t r = recvMsg(sync, buf, sizeof buf - 1, &fd);
          if (fd >= 0) ::close(fd);
          if (r <= 0) {
            // The caller is gone. A foreground container dies with it (no orphaned workloads).
            syncOpen = false;
            if (spec.foreground) ::kill(pid, SIGKILL);
          } else {
            wire::SyncMsg m;
            if (wire::decode(buf, static_cast<size_t>(r), &m) && m.kind == wire::Sync::Kill && m.killSignal > 0 &&
                m.killSignal < NSIG)
              ::kill(pid, m.killSignal);
          }
        }
      }
      if (WIFEXITED(status)) {
        exitCode = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        exitCode = 128 + sig;
      }
      // The container's processes are gone (its PID 1 died): drain what they wrote.
      while (outR) pump(outR, 0);
      while (errR) pump(errR, 1);
      while (master && pump(master, 0) > 0) {
      }
      master.reset();
      relay.drain(syncOpen ? sync : -1);
    }
    keeper.endRun();
    endNetworkSetup();
    bool oom = oomKills(spec) > oomBefore;
    if (setupExit == 0) {
      if (oom) recordEvent(spec, "oom");
      recordEvent(spec, "die", "exitCode", std::to_string(exitCode));
    }
    if (spec.removeOnExit && keeper.enabled()) {
      // --rm: the end is recorded before the attach socket goes, and clients that connected until
      // then get it too (a `pocker wait` begun before the removal learns the exit code).
      keeper.write(stateJson("exited", 0, startedAt, nowRfc3339(), exitCode, sig, oom, restarts));
      hub.stopListening();
    }
    hub.finish(exitCode, sig, oom);

    if (setupExit == 0 && shouldRestart(spec, keeper, exitCode, restarts)) {
      // Docker's backoff: 100 ms, doubling, at most a minute. A SIGTERM/SIGINT or a stop request
      // meanwhile ends it; the next run waits until this state is recorded (a full disk).
      if (keeper.enabled()) keeper.write(stateJson("restarting", 0, startedAt, nowRfc3339(), exitCode, sig, oom, restarts));
      int delayMs = 100 << (restarts < 10 ? restarts : 10);
      if (delayMs > 60000) delayMs = 60000;
      restarts++;
      bool stop = false;
      struct timespec t0;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t left = delayMs - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (keeper.takeStopWhileIdle()) stop = true;
        if (stop || (left <= 0 && !keeper.pending())) break;
        struct pollfd pfd = {sfd.get(), POLLIN, 0};
        if (poll(&pfd, 1, left > 0 ? static_cast<int>(left) : 1000) <= 0) continue;
        struct signalfd_siginfo si;
        if (read(sfd.get(), &si, sizeof si) != sizeof si) continue;
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop = true;
        else if (keeper.onSignal(static_cast<int>(si.ssi_signo)) && keeper.takeStopWhileIdle()) stop = true;
      }
      if (!stop && !keeper.stopRequested()) continue;
    }

    cleanupCgroups(spec);
    hub.close();
    // pocker.network.cleanup: the caller releases the container's network itself unless it is
    // gone: always for a detached container, or a foreground caller that died.
    if (spec.detach || callerGone(sync, syncOpen)) runNetworkCleanup(spec);
    if (!spec.stateDir.empty()) {
      if (spec.removeOnExit) {
        removeTree(spec.stateDir);
        recordEvent(spec, "destroy");
      }
      else keeper.write(stateJson("exited", 0, startedAt, nowRfc3339(), exitCode, sig, oom, restarts));
      // The exit status is never given up: with the disk full, the monitor waits for space.
      if (!spec.removeOnExit) keeper.flushBeforeExit(sfd.get());
    }
    if (syncOpen) sendMsg(sync, wire::encodeExit(exitCode, sig, oom));
    return 0;
  }
}

}  // namespace pocker
