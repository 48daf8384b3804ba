#include <cerrno>
#include <cstring>

#include "addon/addon.h"

namespace pocker {
namespace {

const char* errnoName(int err) {
  switch (err) {
#define E(x) \
  case x:    \
    return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN)
    E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
    E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE)
    E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(EOPNOTSUPP) E(ENOTSOCK)
    E(EPROTO) E(EMSGSIZE) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(EHOSTUNREACH) E(ENOBUFS)
    E(EAFNOSUPPORT) E(EPROTONOSUPPORT) E(ECONNREFUSED) E(ECONNRESET) E(ESTALE) E(EDQUOT) E(ENOMEDIUM) E(EOVERFLOW) E(ECANCELED) E(EOWNERDEAD)
#undef E
    default:
      return nullptr;
  }
}

}  // namespace

Napi::Object makeSystemError(Napi::Env env, int err, const char* syscall, const std::string& path, const char* step) {
  const char* name = errnoName(err);
  // Appended rather than `"E" + std::to_string(err)`: GCC 12 warns (-Wrestrict, a false positive) on
  // operator+(const char*, string&&).
  std::string code = name ? name : "E";
  if (!name) code += std::to_string(err);
  std::string msg = code + ": " + std::strerror(err) + ", " + syscall;
  if (!path.empty()) msg += " '" + path + "'";
  Napi::Object e = Napi::Error::New(env, msg).Value();
  e.Set("code", code);
  e.Set("errno", -err);
  e.Set("syscall", syscall);
  if (!path.empty()) e.Set("path", path);
  e.Set("step", step);
  return e;
}

Napi::Value throwSystemError(Napi::Env env, int err, const char* syscall, const std::string& path,
                             const char* step) {
  Napi::Error(env, makeSystemError(env, err, syscall, path, step)).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value throwTypeError(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace pocker
