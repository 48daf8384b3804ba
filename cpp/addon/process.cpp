// Signals to a process named by a pid read from a record (state.json): sent only to the process
// the record means. pidfd_open pins the process found at the pid now; its start time (field 22 of
// /proc/PID/stat) is then checked against the recorded one, and the signal goes through the
// pidfd: a pid that was reused after the check can never receive it.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  if (pid <= 0 || pid > 0x7fffffff || sig < 0 || sig >= NSIG) return Napi::Boolean::New(env, false);
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0)));
  if (!pidfd) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    return throwSystemError(env, errno, "pidfd_open", "", "kill");
  }
  uint64_t st = 0;
  pid_t pp = 0;
  bool zombie = false;
  if (!procStat(static_cast<pid_t>(pid), &st, &pp, &zombie) || zombie) return Napi::Boolean::New(env, false);
  if (start > 0 ? static_cast<double>(st) != start : (parent > 0 && pp != parent)) return Napi::Boolean::New(env, false);
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), static_cast<int>(sig), nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    return throwSystemError(env, errno, "pidfd_send_signal", "", "kill");
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace

void initProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("signalVerified", Napi::Function::New(env, SignalVerified, "signalVerified"));
}

}  // namespace pocker
