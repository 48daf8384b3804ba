// File-descriptor primitives Node has no JS API for. The root-relative primitives of layer
// extraction (fsOpenRoot, fsMkdir, ...) live in extract.cpp.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "addon/addon.h"

namespace pocker {

void initRootFs(Napi::Env env, Napi::Object exports);  // extract.cpp

namespace {

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return throwSystemError(info.Env(), errno, "pipe2", "", "stdio");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, p[0]);
  a.Set(1u, p[1]);
  return a;
}

Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean())
    return throwTypeError(info.Env(), "setCloexec(fd, on)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return throwSystemError(info.Env(), errno, "fcntl", "", "stdio");
  flags = info[1].As<Napi::Boolean>().Value() ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, flags) != 0) return throwSystemError(info.Env(), errno, "fcntl", "", "stdio");
  return info.Env().Undefined();
}

// flock(fd, exclusive, wait): true once the lock is held; with wait=false, false when another
// open file description holds a conflicting lock. (wait=true blocks the calling thread.)
Napi::Value Flock(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBoolean() || !info[2].IsBoolean())
    return throwTypeError(info.Env(), "flock(fd, exclusive, wait)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool exclusive = info[1].As<Napi::Boolean>().Value(), wait = info[2].As<Napi::Boolean>().Value();
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  for (;;) {
    if (flock(fd, op) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == EINTR) continue;
    if (!wait && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    return throwSystemError(info.Env(), errno, "flock", "", "lock");
  }
}

}  // namespace

void initFs(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  initRootFs(env, exports);
}

}  // namespace pocker
