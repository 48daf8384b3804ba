// pocker-init entry point. Started by the addon (clone with its own stack + execveat of a sealed
// memfd copy of this binary) with: 0-2 stdio, 3 the sync socket, 4 the spec memfd.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/init.h"

using namespace pocker;

void pocker::reportError(int sock, const Error& e) {
  char head[160];
  std::snprintf(head, sizeof head, "E %d %s %s\n", e.err, e.step, e.syscall);
  sendMsg(sock, std::string(head) + e.path);
}

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  // Node ignores SIGPIPE and the addon blocked every signal around clone: start from defaults.
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  struct stat st;
  if (fstat(kSyncFd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    static const char msg[] = "pocker-init: internal helper of pocker; not meant to be run by hand\n";
    (void)!write(2, msg, sizeof msg - 1);
    return 125;
  }
  // Nothing but stdio, the sync socket, the spec (and an attach client) may cross into the container.
  syscall(SYS_close_range, 6U, ~0U, 0U);

  std::string raw;
  Spec spec;
  {
    Fd specFd(kSpecFd);
    if (fstat(specFd.get(), &st) != 0) {
      reportError(kSyncFd, fail("read-spec", "fstat"));
      return 125;
    }
    raw.resize(static_cast<size_t>(st.st_size));
    size_t off = 0;
    while (off < raw.size()) {
      ssize_t n = pread(specFd.get(), raw.data() + off, raw.size() - off, static_cast<off_t>(off));
      if (n <= 0) {
        reportError(kSyncFd, fail("read-spec", "pread", {}, n == 0 ? EIO : errno));
        return 125;
      }
      off += static_cast<size_t>(n);
    }
  }
  if (Error err = parseSpec(raw.data(), raw.size(), &spec)) {
    reportError(kSyncFd, err);
    return 125;
  }
  std::string().swap(raw);
  if (!spec.attachFd) ::close(kAttachFd);
  return runMonitor(spec, kSyncFd);
}
