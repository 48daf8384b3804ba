// File-descriptor primitives Node has no JS API for.
#include <fcntl.h>
#include <unistd.h>

#include "addon/addon.h"

namespace pocker {
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

}  // namespace

void initFs(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
}

}  // namespace pocker
