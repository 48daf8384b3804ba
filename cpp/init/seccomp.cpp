// The seccomp filter of a container: compiled from linux.seccomp with libseccomp (Debian's
// libseccomp-dev, linked statically into pocker-init), exported as BPF and loaded with seccomp(2)
// by the container process itself, so the compile (the slow part) runs once per pocker-init
// start, or not at all when the caller's cache (pocker.seccompCache) already holds the program.
//
// Semantics follow runc's: an ERRNO action without errnoRet returns EPERM; a rule whose action
// is the default one is skipped (libseccomp refuses it); a syscall name this libseccomp does not
// know is looked up in a small table of newer x86_64 numbers, else skipped; arguments that
// compare the same index more than once become one rule per argument (libseccomp can't AND two
// comparisons of one argument), otherwise one rule with all of them (AND).
#include "init/seccomp.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <malloc.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

namespace pocker {
namespace {

// Owner of a libseccomp filter context.
class Filter {
 public:
  explicit Filter(uint32_t def) : ctx_(seccomp_init(def)) {}
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter() {
    if (ctx_) seccomp_release(ctx_);
  }
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

uint32_t actionValue(SeccompAction a, uint32_t ret) {
  switch (a) {
    case SeccompAction::Kill: return SCMP_ACT_KILL;
    case SeccompAction::KillProcess: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::KillThread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::Trap: return SCMP_ACT_TRAP;
    case SeccompAction::Errno: return SCMP_ACT_ERRNO(ret);
    case SeccompAction::Trace: return SCMP_ACT_TRACE(ret);
    case SeccompAction::Log: return SCMP_ACT_LOG;
    case SeccompAction::Allow: break;
  }
  return SCMP_ACT_ALLOW;
}

enum scmp_compare opValue(SeccompOp op) {
  switch (op) {
    case SeccompOp::NotEqual: return SCMP_CMP_NE;
    case SeccompOp::LessThan: return SCMP_CMP_LT;
    case SeccompOp::LessEqual: return SCMP_CMP_LE;
    case SeccompOp::Equal: return SCMP_CMP_EQ;
    case SeccompOp::GreaterEqual: return SCMP_CMP_GE;
    case SeccompOp::GreaterThan: return SCMP_CMP_GT;
    case SeccompOp::MaskedEqual: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

// x86_64 syscalls newer than the libseccomp this is built with may know (Debian 12 ships 2.5.4):
// their numbers from the kernel's arch/x86/entry/syscalls/syscall_64.tbl.
struct Newer {
  const char* name;
  int nr;
};
#if defined(__x86_64__)
const Newer kNewer[] = {
    {"uretprobe", 335},         {"statmount", 457},        {"listmount", 458},   {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460}, {"lsm_list_modules", 461}, {"mseal", 462},       {"setxattrat", 463},
    {"getxattrat", 464},        {"listxattrat", 465},      {"removexattrat", 466},
};
#else
const Newer kNewer[] = {{"", -1}};
#endif

int syscallNumber(const std::string& name) {
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr != __NR_SCMP_ERROR) return nr;
  for (const auto& n : kNewer)
    if (name == n.name) return n.nr;
  return __NR_SCMP_ERROR;
}

// The cache file: an 8-byte header naming this program format (bump it whenever what compile()
// produces changes: a cache written by an older pocker-init is then recompiled), the program, then
// an 8-byte FNV-1a hash of it (a torn or foreign file is refused).
constexpr char kCacheMagic[8] = {'P', 'K', 'S', 'E', 'C', 'C', '0', '2'};
uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

constexpr size_t kInsn = sizeof(struct sock_filter);
constexpr size_t kMaxInsns = BPF_MAXINSNS;

bool readCache(const std::string& path, std::string* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return false;
  struct stat st;
  // Only a file this user wrote and nobody else may change.
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
    return false;
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8 + kInsn + 8 || size > 8 + kMaxInsns * kInsn + 8 || (size - 16) % kInsn != 0) return false;
  std::string buf(size, '\0');
  size_t off = 0;
  while (off < size) {
    ssize_t n = pread(fd.get(), buf.data() + off, size - off, static_cast<off_t>(off));
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  uint64_t want;
  std::memcpy(&want, buf.data() + size - 8, 8);
  if (std::memcmp(buf.data(), kCacheMagic, 8) != 0) return false;
  buf.resize(size - 8);
  buf.erase(0, 8);
  if (fnv1a(buf.data(), buf.size()) != want) return false;
  *out = std::move(buf);
  return true;
}

// Best effort: a cache that can't be written only costs the next start a compile.
void writeCache(const std::string& path, const std::string& prog) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  std::string dir = path.substr(0, slash);
  ::mkdir(dir.c_str(), 0700);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  uint64_t h = fnv1a(prog.data(), prog.size());
  bool ok = writeAll(fd.get(), kCacheMagic, 8) && writeAll(fd.get(), prog.data(), prog.size()) && writeAll(fd.get(), &h, 8);
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

// A stub in front of the program: on the native architecture, a syscall numbered above every one
// the profile names gets ENOSYS instead of the default action, as runc does. A profile written
// before a syscall existed says nothing about it, and a program probing a new syscall falls back
// on ENOSYS, not on EPERM (glibc's fchmodat2, clone3 probes...). x32 numbers are left alone.
void prependEnosys(uint32_t arch, int limit, std::string* prog) {
  const struct sock_filter stub[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),  // seccomp_data.arch
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),  // seccomp_data.nr
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, static_cast<uint32_t>(limit), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
  };
  prog->insert(0, reinterpret_cast<const char*>(stub), sizeof stub);
}

Error compile(const SeccompSpec& sc, std::string* out) {
  const uint32_t def = actionValue(sc.defaultAction, sc.defaultRet);
  Filter f(def);
  if (!f.get()) return Error{ENOMEM, "seccomp", "seccomp_init", {}};
  // no_new_privs is pocker-init's business (process.noNewPrivileges), not the filter's; a
  // binary tree of syscalls keeps a 400-rule profile cheap for every syscall the workload makes.
  seccomp_attr_set(f.get(), SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(f.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const auto& name : sc.architectures) {
    std::string lower;
    for (char c : name.substr(sizeof "SCMP_ARCH_" - 1)) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    uint32_t arch = seccomp_arch_resolve_name(lower.c_str());
    if (arch == 0) return Error{EINVAL, "seccomp", "seccomp_arch_resolve_name", "unknown architecture " + name};
    int rc = seccomp_arch_add(f.get(), arch);
    if (rc != 0 && rc != -EEXIST) return Error{-rc, "seccomp", "seccomp_arch_add", name};
  }
  int highest = -1;  // the highest native syscall number the profile names
  for (const auto& rule : sc.syscalls) {
    for (const auto& name : rule.names)
      if (int nr = syscallNumber(name); nr > highest) highest = nr;
    const uint32_t act = actionValue(rule.action, rule.ret);
    if (act == def) continue;
    std::vector<struct scmp_arg_cmp> cmps;
    bool repeated = false;
    for (const auto& a : rule.args) {
      for (const auto& c : cmps)
        if (c.arg == a.index) repeated = true;
      cmps.push_back(scmp_arg_cmp{a.index, opValue(a.op), a.value, a.valueTwo});
    }
    for (const auto& name : rule.names) {
      int nr = syscallNumber(name);
      if (nr == __NR_SCMP_ERROR) continue;
      int rc = 0;
      if (!repeated) {
        rc = seccomp_rule_add_array(f.get(), act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
      } else {
        for (const auto& c : cmps)
          if ((rc = seccomp_rule_add_array(f.get(), act, nr, 1, &c)) != 0) break;
      }
      // A number only the native architecture has (kNewer) can't be translated for the others.
      if (rc == -EFAULT || rc == -EDOM) continue;
      if (rc != 0) return Error{-rc, "seccomp", "seccomp_rule_add", name};
    }
  }
  Fd mem(static_cast<int>(syscall(SYS_memfd_create, "seccomp-bpf", MFD_CLOEXEC)));
  if (!mem) return fail("seccomp", "memfd_create");
  if (int rc = seccomp_export_bpf(f.get(), mem.get()); rc != 0) return Error{-rc, "seccomp", "seccomp_export_bpf", {}};
  struct stat st;
  if (fstat(mem.get(), &st) != 0) return fail("seccomp", "fstat");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % kInsn != 0 || size + 6 * kInsn > kMaxInsns * kInsn)
    return Error{E2BIG, "seccomp", "seccomp_export_bpf", "program of " + std::to_string(size / kInsn) + " instructions"};
  out->assign(size, '\0');
  size_t off = 0;
  while (off < size) {
    ssize_t n = pread(mem.get(), out->data() + off, size - off, static_cast<off_t>(off));
    if (n <= 0) return fail("seccomp", "pread");
    off += static_cast<size_t>(n);
  }
  const bool denying = sc.defaultAction != SeccompAction::Allow && sc.defaultAction != SeccompAction::Log;
  if (denying && highest >= 0) prependEnosys(seccomp_arch_native(), highest + 1, out);
  return {};
}

}  // namespace

Error compileSeccomp(Spec* spec) {
  if (!spec->seccomp.present) return {};
  const bool cached = !spec->seccompCache.empty() && readCache(spec->seccompCache, &spec->seccompProgram);
  if (!cached) {
    if (Error err = compile(spec->seccomp, &spec->seccompProgram)) return err;
    if (!spec->seccompCache.empty()) writeCache(spec->seccompCache, spec->seccompProgram);
  }
  // pocker-init stays as the container's monitor: the rules are no longer needed, and after a
  // compile libseccomp's work memory (about 1 MB for Docker's profile) goes back to the kernel, so
  // a monitor's resident size is what its loop uses (the trim costs ~0.1 ms: not on the cached path).
  std::vector<SeccompRule>().swap(spec->seccomp.syscalls);
  std::vector<std::string>().swap(spec->seccomp.architectures);
  if (!cached) malloc_trim(0);
  return {};
}

Error applySeccomp(const Spec& spec) {
  if (spec.seccompProgram.empty()) return {};
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(spec.seccompProgram.size() / kInsn);
  prog.filter = reinterpret_cast<struct sock_filter*>(const_cast<char*>(spec.seccompProgram.data()));
  unsigned flags = 0;
  if (spec.seccomp.flagLog) flags |= SECCOMP_FILTER_FLAG_LOG;
  if (spec.seccomp.flagSpecAllow) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) return fail("seccomp", "seccomp");
  return {};
}

Error joinSessionKeyring() {
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
    return fail("keyring", "keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
  return {};
}

}  // namespace pocker
