// Spawning pocker-init and watching it from libuv's loop.
//
// Node is multi-threaded, so nothing container-related happens in a child of Node: spawn() clones
// with CLONE_VM|CLONE_VFORK on a stack of its own and the child immediately execveat()s a
// read-only copy of pocker-init (only dup2/fcntl/execveat in between: async-signal-safe): a file on
// a private read-only tmpfs mounted nowhere (or a sealed memfd), so that no process can ever write
// through /proc/<pid>/exe to a host binary (CVE-2019-5736 class), nor change the shared copy. pocker-init reports over a SOCK_SEQPACKET socket; its exit is observed
// through a pidfd. Both fds are polled on the loop: no thread per container.
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "addon/addon.h"
#include "common/util.h"
#include "common/wire.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace pocker {
namespace {

// ---------- the sealed pocker-init image ----------

// setInitPath() only opens pocker-init (gInitSrc); the copy every spawn executes (gInitFd) is made
// on the first spawn, or adopted from a live monitor (shareInit): most commands that load the addon
// (an flock, a cgroup write) never start a process, and the copy (1.4 MB through a tmpfs of its
// own) cost each of them ~1 ms. Both live for the whole process.
std::mutex gInitMutex;
int gInitSrc = -1;  // pocker-init as setInitPath() found it (a regular file)
int gInitFd = -1;   // its read-only copy, once made or adopted
std::string gInitPath;

// Copies the first `size` bytes of `from` to `to` (sendfile, from offset 0); 0 or an errno.
int copyWhole(int to, int from, off_t size) {
  off_t off = 0;
  while (off < size) {
    ssize_t n = sendfile(to, from, &off, static_cast<size_t>(size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? EIO : errno;
  }
  return 0;
}

int sealedCopy(int src, int* out) {
  struct stat st;
  if (fstat(src, &st) != 0) return errno;
  Fd mem(static_cast<int>(syscall(SYS_memfd_create, "pocker-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)));
  if (!mem && errno == EINVAL)
    mem.reset(static_cast<int>(syscall(SYS_memfd_create, "pocker-init", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!mem) return errno;
  if (int e = copyWhole(mem.get(), src, st.st_size)) return e;
  if (fchmod(mem.get(), 0555) != 0) return errno;
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  if (fcntl(mem.get(), F_ADD_SEALS, seals | F_SEAL_EXEC) != 0 && fcntl(mem.get(), F_ADD_SEALS, seals) != 0)
    return errno;
  *out = mem.release();
  return 0;
}

// The image as a file on a tmpfs of its own, mounted nowhere and read-only: nobody (root in a
// container that reaches it through /proc/<pid>/exe included) can write, chmod or chown it (EROFS),
// unlike a memfd, whose seals stop writes but not a change of mode or owner. Clearing the mount's
// read-only flag takes CAP_SYS_ADMIN and a mount nobody else can name. The file is unlinked once
// open, so /proc/<pid>/exe reads "/memfd:pocker-init (deleted)", as a memfd's does: what pocker's
// tools (and ps users) match a pocker-init on. Exec'd and shared exactly as the memfd was.
// Needs CAP_SYS_ADMIN (fsopen): root, as run() is.
int readOnlyCopy(int src, int* out) {
  static const char kName[] = "memfd:pocker-init";
  struct stat st;
  if (fstat(src, &st) != 0) return errno;
  Fd fs(static_cast<int>(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)));
  if (!fs) return errno;
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "mode", "0555", 0) != 0) return errno;
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return errno;
  Fd mnt(static_cast<int>(syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)));
  if (!mnt) return errno;
  {
    Fd file(openat(mnt.get(), kName, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0555));
    if (!file) return errno;
    if (int e = copyWhole(file.get(), src, st.st_size)) return e;
  }  // the only writable open file is closed
  Fd ro(openat(mnt.get(), kName, O_RDONLY | O_CLOEXEC));
  if (!ro) return errno;
  if (unlinkat(mnt.get(), kName, 0) != 0) return errno;
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (syscall(SYS_mount_setattr, mnt.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) return errno;
  *out = ro.release();
  return 0;
}

// The copy spawns execute, made from gInitSrc on first use (gInitMutex held): 0 or an errno, with
// the failed call's name in *syscallName.
int ensureInitCopy(const char** syscallName) {
  if (gInitFd >= 0) return 0;
  *syscallName = "setInitPath";
  if (gInitSrc < 0) return ENOEXEC;
  int fd = -1;
  // A sealed memfd where a private read-only mount cannot be made (not root, an old kernel).
  *syscallName = "memfd";
  if (readOnlyCopy(gInitSrc, &fd) != 0) {
    if (int err = sealedCopy(gInitSrc, &fd)) return err;
  }
  gInitFd = fd;
  return 0;
}

Napi::Value SetInitPath(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) return throwTypeError(info.Env(), "setInitPath(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::lock_guard<std::mutex> lock(gInitMutex);
  if (gInitSrc >= 0 && gInitPath == path) return info.Env().Undefined();
  Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return throwSystemError(info.Env(), errno, "open", path, "spawn");
  struct stat st;
  if (fstat(src.get(), &st) != 0) return throwSystemError(info.Env(), errno, "fstat", path, "spawn");
  if (!S_ISREG(st.st_mode)) return throwSystemError(info.Env(), EACCES, "open", path, "spawn");
  if (gInitSrc >= 0) ::close(gInitSrc);
  if (gInitFd >= 0) ::close(gInitFd);
  gInitSrc = src.release();
  gInitFd = -1;
  gInitPath = path;
  return info.Env().Undefined();
}

// Detached monitors started by different processes would each keep a copy of their own alive
// (~1.2 MB each). A live monitor's image (/proc/<pid>/exe) is adopted instead when nobody can ever
// change it (a file on a read-only mount, or a memfd sealed against writes and size changes), it
// is still root's and mode 0555 (a memfd's mode can be changed: such a one is not adopted), and it
// holds exactly our bytes.
// `ours` is our copy, or pocker-init itself (no copy made yet): a candidate that is that very file
// is refused then (a spawn never executes the host's file).
bool sameSealedImage(int candidate, int ours, bool oursIsCopy) {
  constexpr int kNeed = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
  int seals = fcntl(candidate, F_GET_SEALS);
  struct statvfs vfs;
  bool readOnly = fstatvfs(candidate, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
  if (!readOnly && (seals < 0 || (seals & kNeed) != kNeed)) return false;
  struct stat a, b;
  if (fstat(candidate, &a) != 0 || fstat(ours, &b) != 0 || a.st_size != b.st_size) return false;
  if (!S_ISREG(a.st_mode) || (a.st_mode & 07777) != 0555 || a.st_uid != 0 || a.st_gid != 0) return false;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) return oursIsCopy;
  static char x[64 * 1024], y[64 * 1024];
  for (off_t off = 0; off < b.st_size;) {
    ssize_t n = pread(ours, y, sizeof y, off);
    if (n <= 0 || pread(candidate, x, static_cast<size_t>(n), off) != n) return false;
    if (std::memcmp(x, y, static_cast<size_t>(n)) != 0) return false;
    off += n;
  }
  return true;
}

// shareInit(pids): adopts the image of the first of these pocker-init processes that has ours;
// returns its pid, or 0 (ours is kept).
Napi::Value ShareInit(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) return throwTypeError(info.Env(), "shareInit(pids)");
  Napi::Array pids = info[0].As<Napi::Array>();
  std::lock_guard<std::mutex> lock(gInitMutex);
  // Compared with our copy, or (none made yet) with pocker-init itself: the same bytes.
  int ours = gInitFd >= 0 ? gInitFd : gInitSrc;
  if (ours < 0) return Napi::Number::New(info.Env(), 0);
  for (uint32_t i = 0; i < pids.Length(); i++) {
    Napi::Value v = pids.Get(i);
    if (!v.IsNumber()) continue;
    int pid = v.As<Napi::Number>().Int32Value();
    if (pid <= 0) continue;
    Fd candidate(::open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC));
    if (!candidate || !sameSealedImage(candidate.get(), ours, ours == gInitFd)) continue;
    if (gInitFd >= 0) ::close(gInitFd);
    gInitFd = candidate.release();
    return Napi::Number::New(info.Env(), pid);
  }
  return Napi::Number::New(info.Env(), 0);
}

// ---------- clone + exec ----------

struct Mapping {
  void* addr = MAP_FAILED;
  size_t len = 0;
  explicit Mapping(size_t n) : len(n) {
    addr = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  }
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, len);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

struct ChildArgs {
  int src[6];  // become fds 0..5: stdin, stdout, stderr, sync socket, spec memfd[, attach client]
  int count;
  int initFd;
  char* fault;  // "POCKER_FAULT=net-..." (the monitor's fault points, for tests) or nullptr
  volatile int err;
};

// Runs on its own stack, sharing Node's memory until execveat: async-signal-safe calls only.
// Every signal is blocked (by the parent, around clone) and execve resets handlers.
int childMain(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  int hi[6];
  for (int i = 0; i < a->count; i++) {
    hi[i] = fcntl(a->src[i], F_DUPFD_CLOEXEC, 16);
    if (hi[i] < 0) {
      a->err = errno;
      _exit(127);
    }
  }
  for (int i = 0; i < a->count; i++) {
    if (dup2(hi[i], i) < 0) {
      a->err = errno;
      _exit(127);
    }
  }
  static char arg0[] = "pocker-init";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {a->fault, nullptr};
  syscall(SYS_execveat, a->initFd, "", argv, envp, AT_EMPTY_PATH);
  a->err = errno;
  _exit(127);
}

// ---------- the monitor handle ----------

class Monitor : public Napi::ObjectWrap<Monitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Monitor",
                       {InstanceMethod("kill", &Monitor::Kill), InstanceAccessor("pid", &Monitor::Pid, nullptr)});
  }
  explicit Monitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Monitor>(info) {}
  ~Monitor() override = default;

  // Returns 0 or an errno (with *syscall set).
  int Start(Napi::Env env, Napi::Object self, const uint8_t* spec, size_t specLen, const int stdio[3], int attachFd,
            Napi::Function onEvent, const char** syscallName);

 private:
  Napi::Value Kill(const Napi::CallbackInfo& info);
  Napi::Value Pid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pid_); }

  static void OnSock(uv_poll_t* h, int status, int events);
  static void OnExit(uv_poll_t* h, int status, int events);
  void DrainSocket();
  void Emit(Napi::Object ev);
  void CloseSocket();
  static void ClosePoll(uv_poll_t*& h);

  Napi::Env env_ = nullptr;
  pid_t pid_ = -1;
  Fd pidfd_, sock_;
  uv_poll_t* sockPoll_ = nullptr;
  uv_poll_t* exitPoll_ = nullptr;
  Napi::FunctionReference onEvent_;
  Napi::ObjectReference self_;  // keeps this object alive while the monitor runs
  Napi::AsyncContext* ctx_ = nullptr;
};

int Monitor::Start(Napi::Env env, Napi::Object self, const uint8_t* spec, size_t specLen, const int stdio[3],
                   int attachFd, Napi::Function onEvent, const char** syscallName) {
  env_ = env;
  int initFd;
  {
    std::lock_guard<std::mutex> lock(gInitMutex);
    if (int err = ensureInitCopy(syscallName)) return err;
    initFd = gInitFd;
  }

  // The spec travels in a sealed memfd: any size, read-only for pocker-init.
  *syscallName = "memfd_create";
  Fd specFd(static_cast<int>(syscall(SYS_memfd_create, "pocker-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!specFd) return errno;
  *syscallName = "write";
  if (!writeAll(specFd.get(), spec, specLen)) return errno;
  *syscallName = "fcntl";
  if (fcntl(specFd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) return errno;

  int sv[2];
  *syscallName = "socketpair";
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) return errno;
  Fd ours(sv[0]), theirs(sv[1]);
  // pocker-init's end must block.
  fcntl(theirs.get(), F_SETFL, fcntl(theirs.get(), F_GETFL) & ~O_NONBLOCK);

  Mapping stack(64 * 1024);
  *syscallName = "mmap";
  if (stack.addr == MAP_FAILED) return errno;

  // pocker-init runs with an empty environment, but for the monitor's own fault points (POCKER_FAULT=net-*,
  // cpp/init/net.cpp): crash-safety tests set them in the caller's environment.
  std::string fault;
  if (const char* f = getenv("POCKER_FAULT"); f && std::strncmp(f, "net-", 4) == 0) fault = std::string("POCKER_FAULT=") + f;
  ChildArgs args = {{stdio[0], stdio[1], stdio[2], theirs.get(), specFd.get(), attachFd}, attachFd >= 0 ? 6 : 5, initFd,
                    fault.empty() ? nullptr : fault.data(), 0};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = clone(childMain, static_cast<char*>(stack.addr) + stack.len, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  *syscallName = "clone";
  if (pid < 0) return cloneErr;
  if (args.err) {
    // The child never reached pocker-init; reap it and report why.
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    *syscallName = "execveat";
    return args.err;
  }
  pid_ = pid;
  *syscallName = "pidfd_open";
  pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd_) {
    int err = errno;
    ::kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return err;
  }
  sock_ = std::move(ours);

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  sockPoll_ = new uv_poll_t;
  exitPoll_ = new uv_poll_t;
  uv_poll_init(loop, sockPoll_, sock_.get());
  uv_poll_init(loop, exitPoll_, pidfd_.get());
  sockPoll_->data = this;
  exitPoll_->data = this;
  uv_poll_start(sockPoll_, UV_READABLE | UV_DISCONNECT, OnSock);
  uv_poll_start(exitPoll_, UV_READABLE, OnExit);
  onEvent_ = Napi::Persistent(onEvent);
  self_ = Napi::Persistent(self);
  ctx_ = new Napi::AsyncContext(env, "pocker:container");
  return 0;
}

Napi::Value Monitor::Kill(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return throwTypeError(info.Env(), "kill(signal)");
  int sig = info[0].As<Napi::Number>().Int32Value();
  if (!sock_) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), sendMsg(sock_.get(), wire::encodeKill(sig)));
}

void Monitor::Emit(Napi::Object ev) {
  if (onEvent_.IsEmpty()) return;
  onEvent_.MakeCallback(self_.IsEmpty() ? env_.Undefined() : self_.Value(), {ev}, *ctx_);
}

void Monitor::ClosePoll(uv_poll_t*& h) {
  if (!h) return;
  uv_poll_stop(h);
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<uv_poll_t*>(x); });
  h = nullptr;
}

void Monitor::CloseSocket() {
  ClosePoll(sockPoll_);
  sock_.reset();
}

void Monitor::DrainSocket() {
  Napi::HandleScope scope(env_);
  while (sock_) {
    char buf[8192];
    int fd = -1;
    ssize_t n = recvMsg(sock_.get(), buf, sizeof buf - 1, &fd);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      CloseSocket();
      return;
    }
    wire::SyncMsg m;
    if (!wire::decode(buf, static_cast<size_t>(n), &m)) {
      if (fd >= 0) ::close(fd);
      continue;
    }
    Napi::Object ev = Napi::Object::New(env_);
    switch (m.kind) {
      case wire::Sync::Pid:
        ev.Set("type", "pid");
        ev.Set("pid", m.pid);
        break;
      case wire::Sync::Pty:
        if (fd < 0) continue;
        ev.Set("type", "pty");
        ev.Set("fd", fd);
        fd = -1;  // now owned by JS
        break;
      case wire::Sync::Started:
        ev.Set("type", "started");
        break;
      case wire::Sync::Error:
        ev = makeSystemError(env_, m.err, m.syscall.c_str(), m.path, m.step.c_str());
        ev.Set("type", "error");
        ev.Set("path", m.path);
        break;
      case wire::Sync::Exit:
        ev.Set("type", "exit");
        ev.Set("exitCode", m.exitCode);
        ev.Set("signal", m.signal);
        ev.Set("oomKilled", m.oomKilled);
        break;
      default:
        if (fd >= 0) ::close(fd);
        continue;
    }
    if (fd >= 0) ::close(fd);
    Emit(ev);
  }
}

void Monitor::OnSock(uv_poll_t* h, int status, int events) {
  (void)status;
  (void)events;
  static_cast<Monitor*>(h->data)->DrainSocket();
}

void Monitor::OnExit(uv_poll_t* h, int status, int events) {
  (void)status;
  (void)events;
  auto* m = static_cast<Monitor*>(h->data);
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(m->pidfd_.get()), &si, WEXITED | WNOHANG) != 0 ||
      si.si_pid == 0)
    return;  // not yet
  // Everything pocker-init sent before exiting is already queued: deliver it first.
  m->DrainSocket();
  m->CloseSocket();
  ClosePoll(m->exitPoll_);
  m->pidfd_.reset();
  {
    Napi::HandleScope scope(m->env_);
    Napi::Object ev = Napi::Object::New(m->env_);
    ev.Set("type", "reaped");
    ev.Set("status", si.si_code == CLD_EXITED ? si.si_status : -1);
    ev.Set("signal", si.si_code == CLD_EXITED ? 0 : si.si_status);
    m->Emit(ev);
  }
  m->onEvent_.Reset();
  delete m->ctx_;
  m->ctx_ = nullptr;
  m->self_.Reset();  // may now be collected
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return throwTypeError(env, "spawn(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value specV = o.Get("spec"), stdioV = o.Get("stdio"), cbV = o.Get("onEvent");
  if (!specV.IsTypedArray() || !stdioV.IsArray() || !cbV.IsFunction())
    return throwTypeError(env, "spawn({ spec: Uint8Array, stdio: [fd, fd, fd], onEvent })");
  Napi::Uint8Array spec = specV.As<Napi::Uint8Array>();
  Napi::Array stdioA = stdioV.As<Napi::Array>();
  int stdio[3];
  for (uint32_t i = 0; i < 3; i++) {
    Napi::Value v = stdioA.Get(i);
    if (!v.IsNumber()) return throwTypeError(env, "spawn: stdio must be three file descriptors");
    stdio[i] = v.As<Napi::Number>().Int32Value();
  }
  // An attach client for the container's monitor (`start -a`): pocker-init's fd 5.
  int attachFd = -1;
  Napi::Value attachV = o.Get("attach");
  if (!attachV.IsUndefined()) {
    if (!attachV.IsNumber()) return throwTypeError(env, "spawn: attach must be a file descriptor");
    attachFd = attachV.As<Napi::Number>().Int32Value();
  }
  auto* ctor = env.GetInstanceData<Napi::FunctionReference>();
  Napi::Object obj = ctor->New({});
  Monitor* m = Monitor::Unwrap(obj);
  const char* sys = "";
  if (int err = m->Start(env, obj, spec.Data(), spec.ByteLength(), stdio, attachFd, cbV.As<Napi::Function>(), &sys))
    return throwSystemError(env, err, sys, "", "spawn");
  return obj;
}

}  // namespace

void initSpawn(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(Monitor::Define(env)));
  env.SetInstanceData(ctor);
  exports.Set("setInitPath", Napi::Function::New(env, SetInitPath, "setInitPath"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("shareInit", Napi::Function::New(env, ShareInit, "shareInit"));
}

}  // namespace pocker
