// cgroup directory creation, limit writes and removal: direct syscalls (never a shell).
#include "addon/addon.h"
#include "common/cgroup.h"
#include "common/util.h"

namespace pocker {
namespace {

bool stringArg(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) return false;
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  std::string path;
  if (!stringArg(info, 0, &path)) return throwTypeError(info.Env(), "cgroupCreate(path)");
  if (int err = cgroupCreate(path)) return throwSystemError(info.Env(), err, "mkdir", path, "cgroup");
  return info.Env().Undefined();
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  std::string path, value;
  if (!stringArg(info, 0, &path) || !stringArg(info, 1, &value))
    return throwTypeError(info.Env(), "cgroupWrite(path, value)");
  if (int err = writeFile(path.c_str(), value)) return throwSystemError(info.Env(), err, "write", path, "cgroup");
  return info.Env().Undefined();
}

Napi::Value Remove(const Napi::CallbackInfo& info) {
  std::string path;
  if (!stringArg(info, 0, &path)) return throwTypeError(info.Env(), "cgroupRemove(path)");
  if (int err = cgroupRemove(path)) return throwSystemError(info.Env(), err, "rmdir", path, "cgroup");
  return info.Env().Undefined();
}

}  // namespace

void initCgroup(Napi::Env env, Napi::Object exports) {
  exports.Set("cgroupCreate", Napi::Function::New(env, Create, "cgroupCreate"));
  exports.Set("cgroupWrite", Napi::Function::New(env, Write, "cgroupWrite"));
  exports.Set("cgroupRemove", Napi::Function::New(env, Remove, "cgroupRemove"));
}

}  // namespace pocker
