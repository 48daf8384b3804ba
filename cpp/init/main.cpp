// pocker-init entry point. Started by the addon (clone with its own stack + execveat of a sealed
// memfd copy of this binary) with: 0-2 stdio, 3 the sync socket, 4 the spec memfd.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/wire.h"
#include "init/init.h"
#include "init/runc.h"
#include "init/seccomp.h"

using namespace pocker;

void pocker::reportError(int sock, const Error& e) { sendMsg(sock, wire::encodeError(e)); }

// `pocker-init wire-echo`: reads attach frames on stdin and writes each back re-encoded by this
// side's wire code (exit and resize payloads decoded and encoded again), so a test can check that
// the TypeScript and C++ encoders agree (test/native/wire.test.ts). Touches nothing else.
static int wireEcho() {
  std::string in, out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  size_t at = 0;
  uint8_t kind;
  size_t len;
  while (wire::parseFrameHeader(in.data() + at, in.size() - at, &kind, &len)) {
    if (len > wire::kMaxFrame || in.size() - at - wire::kFrameHeader < len) return 1;
    const char* p = in.data() + at + wire::kFrameHeader;
    std::string payload(p, len);
    int code, sig;
    bool oom;
    unsigned rows, cols;
    if (kind == wire::Exit) {
      if (!wire::parseExitPayload(p, len, &code, &sig, &oom)) return 1;
      payload = wire::exitPayload(code, sig, oom);
    } else if (kind == wire::Resize) {
      if (!wire::parseResizePayload(p, len, &rows, &cols)) return 1;
      payload = wire::resizePayload(rows, cols);
    }
    char h[wire::kFrameHeader];
    wire::frameHeader(kind, payload.size(), h);
    out.append(h, sizeof h);
    out += payload;
    at += wire::kFrameHeader + len;
  }
  if (at != in.size()) return 1;
  return writeAll(1, out.data(), out.size()) ? 0 : 1;
}

// `pocker-init selftest [CONFIG]`: a container-free check that this binary works where it runs (also
// under an emulator: test/integration/binaries.test.ts runs the arm64 prebuild under qemu-aarch64). It
// parses CONFIG (an OCI config.json; default: a small built-in one) as a start does, compiles its seccomp
// profile with the linked-in libseccomp (never the cache), checks the program tests this machine's audit
// architecture, runs closeFrom's fallback (closeFromByList) on three descriptors of its own, and prints
// one JSON line. Creates nothing: no namespace, mount or file.
static int selftest(const char* configPath) {
  static const char builtin[] = R"({"ociVersion":"1.2.0","process":{"args":["/bin/true"],"cwd":"/","user":{"uid":0,"gid":0}},
    "root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
    "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO",
    "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
    {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}}})";
  auto failed = [](const std::string& what) {
    std::string m = "pocker-init selftest: " + what + "\n";
    (void)!writeAll(2, m.data(), m.size());
    return 1;
  };
  std::string raw = builtin;
  if (configPath) {
    if (int err = readFile(configPath, &raw)) return failed(std::string(configPath) + ": " + std::strerror(err));
  }
  Spec spec;
  if (Error e = parseSpec(raw.data(), raw.size(), &spec))
    return failed(std::string("parse: ") + e.step + " " + e.syscall + " " + e.path + ": " + std::strerror(e.err));
  spec.seccompCache.clear();
  if (Error e = compileSeccomp(&spec))
    return failed(std::string("seccomp: ") + e.syscall + " " + e.path + ": " + std::strerror(e.err));
  const uint32_t arch = seccomp_arch_native();
  size_t insns = spec.seccompProgram.size() / sizeof(sock_filter), archChecks = 0;
  for (size_t i = 0; i < insns; i++) {
    sock_filter f;
    std::memcpy(&f, spec.seccompProgram.data() + i * sizeof f, sizeof f);
    if (f.code == (BPF_JMP | BPF_JEQ | BPF_K) && f.k == arch) archChecks++;
  }
  if (insns > 0 && archChecks == 0) return failed("the seccomp program never tests this machine's architecture");
  // closeFrom's fallback for kernels without close_range (before 5.9), run here on any kernel: two
  // descriptors closed, and one marked close-on-exec, by listing /proc/self/fd.
  if (dup2(2, 900) != 900 || dup2(2, 901) != 901) return failed(std::string("dup2: ") + std::strerror(errno));
  closeFromByList(900, false);
  if (fcntl(900, F_GETFD) != -1 || fcntl(901, F_GETFD) != -1) return failed("closeFromByList left a descriptor open");
  if (dup2(2, 902) != 902) return failed(std::string("dup2: ") + std::strerror(errno));
  closeFromByList(902, true);
  int flags = fcntl(902, F_GETFD);
  ::close(902);
  if (flags < 0 || !(flags & FD_CLOEXEC)) return failed("closeFromByList did not mark a descriptor close-on-exec");
  struct utsname u;
  if (uname(&u) != 0) return failed(std::string("uname: ") + std::strerror(errno));
  const scmp_version* v = seccomp_version();
  char line[512];
  int n = std::snprintf(line, sizeof line,
                        "{\"ok\":true,\"machine\":\"%s\",\"auditArch\":%u,\"libseccomp\":\"%u.%u.%u\",\"args\":%zu,"
                        "\"mounts\":%zu,\"seccompInstructions\":%zu,\"closeFallback\":true}\n",
                        u.machine, arch, v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, spec.args.size(),
                        spec.mounts.size(), insns);
  return n > 0 && writeAll(1, line, static_cast<size_t>(n)) ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "wire-echo") == 0) return wireEcho();
  if ((argc == 2 || argc == 3) && std::strcmp(argv[1], "selftest") == 0) return selftest(argc == 3 ? argv[2] : nullptr);
  // Node ignores SIGPIPE and the addon blocked every signal around clone: start from defaults.
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Any argument: the runc-compatible CLI (the addon starts pocker-init with argv[0] only).
  if (argc >= 2) return runcMain(argc, argv);

  struct stat st;
  if (fstat(kSyncFd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    static const char msg[] = "pocker-init: internal helper of pocker; not meant to be run by hand\n";
    (void)!write(2, msg, sizeof msg - 1);
    return 125;
  }
  // Nothing but stdio, the sync socket, the spec (and an attach client) may cross into the container.
  closeFrom(6U);

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
  // Once per pocker-init (a restart policy's later runs reuse it), before any container exists.
  if (Error err = compileSeccomp(&spec)) {
    reportError(kSyncFd, err);
    return 125;
  }
  if (!spec.attachFd) ::close(kAttachFd);
  // A foreground exec's monitor ends with its caller (the addon spawns it from Node's main thread,
  // which lives as long as the process), even while the exec is still being set up.
  if (spec.execPid && spec.foreground) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 125;
  }
  return runMonitor(spec, kSyncFd);
}
