// Signals to a process named by a pid read from a record (state.json): sent only to the process
// the record means. pidfd_open pins the process found at the pid now; its start time (field 22 of
// /proc/PID/stat) is then checked against the recorded one, and the signal goes through the
// pidfd: a pid that was reused after the check can never receive it.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <algorithm>
#include <string_view>
#include <vector>

#include "addon/addon.h"
#include "common/util.h"

namespace pocker {
namespace {

// Fields 4 (ppid) and 22 (starttime) of /proc/<pid>/stat, and whether it is a zombie.
bool procStat(pid_t pid, uint64_t* start, pid_t* ppid, bool* zombie) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::string text;
  if (readFile(path, &text) != 0) return false;
  size_t at = text.rfind(')');
  if (at == std::string::npos || at + 2 >= text.size()) return false;
  const char* p = text.c_str() + at + 2;  // field 3, the state
  *zombie = *p == 'Z';
  for (int field = 3; field < 22; field++) {
    if (field == 4) *ppid = static_cast<pid_t>(std::strtol(p, nullptr, 10));
    p = std::strchr(p, ' ');
    if (!p) return false;
    p++;
  }
  *start = std::strtoull(p, nullptr, 10);
  return true;
}

// A pidfd of the process at `pid` when it is the one meant: start time `start`, or without one (0)
// a child of `parent` (0: any). The start time is read after pidfd_open: the pidfd holds the
// process found then, so a pid reused later can never be the one signalled or watched. An empty
// Fd (with *err 0) when no such process lives (gone, a zombie, another one), else *err the errno
// of pidfd_open.
Fd pidfdOfProcess(int64_t pid, double start, int64_t parent, int* err) {
  *err = 0;
  if (pid <= 0 || pid > 0x7fffffff) return Fd();
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
  if (!pidfd) {
    if (errno != ESRCH) *err = errno;
    return Fd();
  }
  uint64_t st = 0;
  pid_t pp = 0;
  bool zombie = false;
  if (!procStat(static_cast<pid_t>(pid), &st, &pp, &zombie) || zombie) return Fd();
  if (start > 0 ? static_cast<double>(st) != start : (parent > 0 && pp != parent)) return Fd();
  return pidfd;
}

// signalVerified(pid, start, parent, signal): true once sent; false when no process at `pid` is the
// one meant (start time `start`, or without one (0) a child of `parent`), or it has just ended.
Napi::Value SignalVerified(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
    return throwTypeError(env, "signalVerified(pid, start, parent, signal)");
  int64_t pid = info[0].As<Napi::Number>().Int64Value();
  double start = info[1].As<Napi::Number>().DoubleValue();
  int64_t parent = info[2].As<Napi::Number>().Int64Value();
  int64_t sig = info[3].As<Napi::Number>().Int64Value();
  if (sig < 0 || sig >= NSIG) return Napi::Boolean::New(env, false);
  int err = 0;
  Fd pidfd = pidfdOfProcess(pid, start, parent, &err);
  if (err) return throwSystemError(env, err, "pidfd_open", "", "kill");
  if (!pidfd) return Napi::Boolean::New(env, false);
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), static_cast<int>(sig), nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    return throwSystemError(env, errno, "pidfd_send_signal", "", "kill");
  }
  return Napi::Boolean::New(env, true);
}

// An exit watch: a pidfd polled on the loop (unref'd: a watch never keeps the process alive; the
// waiter's own timer does), calling onExit once when the process ends. Main thread only.
struct ExitWatch {
  uint32_t id = 0;
  Napi::Env env = nullptr;
  Fd pidfd;
  uv_poll_t* poll = nullptr;
  Napi::FunctionReference onExit;
  Napi::AsyncContext* ctx = nullptr;
};

std::map<uint32_t, ExitWatch*> gWatches;
uint32_t gNextWatch = 1;

// Ends watch `w`: its poll closed (the handle freed by libuv's close callback), the callback and
// context released, the watch forgotten and freed.
void endWatch(ExitWatch* w) {
  gWatches.erase(w->id);
  uv_poll_stop(w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(w->poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  w->onExit.Reset();
  delete w->ctx;
  delete w;
}

void onWatchReadable(uv_poll_t* h, int status, int events) {
  (void)status;
  (void)events;
  auto* w = static_cast<ExitWatch*>(h->data);
  Napi::Env env = w->env;
  Napi::HandleScope scope(env);
  Napi::Function cb = w->onExit.Value();
  Napi::AsyncContext* ctx = w->ctx;
  w->ctx = nullptr;
  endWatch(w);
  // After the watch is gone: the callback may start another one, or unwatch this id (a no-op now).
  cb.MakeCallback(env.Global(), {}, *ctx);
  delete ctx;
}

// watchExit(pid, start, onExit): an id (> 0) once the process at `pid` whose start time is `start`
// (field 22 of its stat; 0: any) is watched, onExit called when it ends; 0 when no such process
// lives (gone already, a zombie, or another one at that pid: nothing to wait for).
Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction())
    return throwTypeError(env, "watchExit(pid: number, start: number, onExit: () => void)");
  int64_t pid = info[0].As<Napi::Number>().Int64Value();
  double start = info[1].As<Napi::Number>().DoubleValue();
  int err = 0;
  Fd pidfd = pidfdOfProcess(pid, start, 0, &err);
  if (err) return throwSystemError(env, err, "pidfd_open", "", "wait");
  if (!pidfd) return Napi::Number::New(env, 0);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return throwSystemError(env, EINVAL, "uv_default_loop", "", "wait");
  auto* w = new ExitWatch;
  w->env = env;
  w->pidfd = std::move(pidfd);
  w->poll = new uv_poll_t;
  if (int e = uv_poll_init(loop, w->poll, w->pidfd.get())) {
    delete w->poll;
    delete w;
    return throwSystemError(env, -e, "uv_poll_init", "", "wait");
  }
  w->poll->data = w;
  w->onExit = Napi::Persistent(info[2].As<Napi::Function>());
  w->ctx = new Napi::AsyncContext(env, "pocker:watchExit");
  w->id = gNextWatch++;
  if (gNextWatch == 0) gNextWatch = 1;
  gWatches[w->id] = w;
  uv_poll_start(w->poll, UV_READABLE, onWatchReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(w->poll));
  return Napi::Number::New(env, w->id);
}

// unwatchExit(id): ends a watch without calling it (a no-op for one that ended).
Napi::Value UnwatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return throwTypeError(env, "unwatchExit(id: number)");
  auto it = gWatches.find(static_cast<uint32_t>(info[0].As<Napi::Number>().Int64Value()));
  if (it != gWatches.end()) endWatch(it->second);
  return env.Undefined();
}

// Is `exe` (a /proc/PID/exe link) a pocker-init image: the sealed copy (`/memfd:pocker-init…`) or
// the binary itself (`…/pocker-init`, or `… (deleted)` once replaced on disk)?
bool isPockerInitExe(std::string_view exe) {
  constexpr std::string_view memfd = "/memfd:pocker-init", name = "/pocker-init", deleted = " (deleted)";
  if (exe.substr(0, memfd.size()) == memfd) return true;
  if (exe.size() >= deleted.size() && exe.substr(exe.size() - deleted.size()) == deleted) exe.remove_suffix(deleted.size());
  return exe.size() >= name.size() && exe.substr(exe.size() - name.size()) == name;
}

// pockerInitPids(): the pids of this pid namespace's processes that run a pocker-init image (their
// /proc/PID/exe), ascending. One readlink per process, no exception per kernel thread or process
// of another user (those are skipped): the JavaScript loop it replaces cost ~15 us a process
// (`ps` on a machine of 500 processes: ~7 ms).
Napi::Value PockerInitPids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct Closer {
    DIR* d;
    ~Closer() {
      if (d) closedir(d);
    }
  } proc{opendir("/proc")};
  if (!proc.d) return throwSystemError(env, errno, "opendir", "/proc", "lookup");
  std::vector<int> pids;
  char path[64], exe[4096];
  while (dirent* e = readdir(proc.d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || end == e->d_name || *end != '\0') continue;
    std::snprintf(path, sizeof path, "/proc/%ld/exe", pid);
    ssize_t n = readlink(path, exe, sizeof exe);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof exe) continue;  // gone, a kernel thread, not ours to read
    if (isPockerInitExe(std::string_view(exe, static_cast<size_t>(n)))) pids.push_back(static_cast<int>(pid));
  }
  std::sort(pids.begin(), pids.end());
  Napi::Array out = Napi::Array::New(env, pids.size());
  for (size_t i = 0; i < pids.size(); i++) out.Set(static_cast<uint32_t>(i), pids[i]);
  return out;
}

}  // namespace

void initProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("pockerInitPids", Napi::Function::New(env, PockerInitPids, "pockerInitPids"));
  exports.Set("signalVerified", Napi::Function::New(env, SignalVerified, "signalVerified"));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
  exports.Set("unwatchExit", Napi::Function::New(env, UnwatchExit, "unwatchExit"));
}

}  // namespace pocker
