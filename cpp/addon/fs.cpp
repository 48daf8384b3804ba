// File-descriptor primitives Node has no JS API for. The root-relative primitives of layer
// extraction (fsOpenRoot, fsMkdir, ...) live in extract.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "addon/addon.h"
#include "common/resolve.h"

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

// A connected pair of unix stream sockets (close-on-exec): `start -a` keeps one end and hands the
// other to the container's monitor as its first attach client. Node cannot make socketpairs.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
    return throwSystemError(info.Env(), errno, "socketpair", "", "attach");
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

// fsOpenInRoot(rootFd, path, flags, mode): openat2(rootFd, path, {flags | O_CLOEXEC, mode,
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS}). Every component, symlinks and ".." included, is
// resolved as if rootFd were "/" (a container's root from /proc/<pid>/root): nothing can escape it.
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber())
    return throwTypeError(info.Env(), "fsOpenInRoot(rootFd, path, flags, mode)");
  int root = info[0].As<Napi::Number>().Int32Value();
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) return throwSystemError(info.Env(), EINVAL, "openat2", path, "copy");
  int fd = openInRoot(root, path, info[2].As<Napi::Number>().Int32Value(), kInRoot, info[3].As<Napi::Number>().Uint32Value());
  if (fd < 0) return throwSystemError(info.Env(), errno, "openat2", path, "copy");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

}  // namespace

void initFs(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("fsOpenInRoot", Napi::Function::New(env, OpenInRoot, "fsOpenInRoot"));
  initRootFs(env, exports);
}

}  // namespace pocker
