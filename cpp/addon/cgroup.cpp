// cgroups from N-API: layout detection, creation with the limits (cpp/common/cgroup.h, the one
// translation of OCI linux.resources into control files) and removal.
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

Napi::Value throwError(Napi::Env env, const Error& e) { return throwSystemError(env, e.err, e.syscall, e.path, e.step); }

// {version, unifiedMount?, v1Mounts?, v1Others?, hybridUnified?}: lib/cgroup's CgroupInfo.
Napi::Object layoutToJs(Napi::Env env, const CgroupLayout& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", l.version);
  if (l.version == 2) o.Set("unifiedMount", l.unifiedMount);
  if (l.version == 1) {
    Napi::Object m = Napi::Object::New(env);
    for (const auto& [c, mount] : l.v1Mounts) m.Set(c, mount);
    o.Set("v1Mounts", m);
    if (!l.v1Others.empty()) {
      Napi::Array others = Napi::Array::New(env, l.v1Others.size());
      for (uint32_t i = 0; i < l.v1Others.size(); i++) others.Set(i, l.v1Others[i]);
      o.Set("v1Others", others);
    }
    if (!l.hybridUnified.empty()) o.Set("hybridUnified", l.hybridUnified);
  }
  return o;
}

bool layoutFromJs(Napi::Value v, CgroupLayout* out) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value version = o.Get("version");
  if (!version.IsNumber()) return false;
  out->version = version.As<Napi::Number>().Int32Value();
  if (out->version == 2) {
    Napi::Value u = o.Get("unifiedMount");
    if (!u.IsString()) return false;
    out->unifiedMount = u.As<Napi::String>().Utf8Value();
    return true;
  }
  if (out->version != 1) return false;
  Napi::Value mv = o.Get("v1Mounts");
  if (!mv.IsObject()) return false;
  Napi::Object m = mv.As<Napi::Object>();
  Napi::Array keys = m.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    Napi::Value k = keys.Get(i), val = m.Get(k);
    if (!k.IsString() || !val.IsString()) return false;
    out->v1Mounts.emplace_back(k.As<Napi::String>().Utf8Value(), val.As<Napi::String>().Utf8Value());
  }
  Napi::Value ov = o.Get("v1Others");
  if (ov.IsArray()) {
    Napi::Array others = ov.As<Napi::Array>();
    for (uint32_t i = 0; i < others.Length(); i++) {
      Napi::Value x = others.Get(i);
      if (!x.IsString()) return false;
      out->v1Others.push_back(x.As<Napi::String>().Utf8Value());
    }
  } else if (!ov.IsUndefined()) {
    return false;
  }
  Napi::Value hu = o.Get("hybridUnified");
  if (hu.IsString()) out->hybridUnified = hu.As<Napi::String>().Utf8Value();
  else if (!hu.IsUndefined()) return false;
  return true;
}

// A CgroupFs whose operations are JS functions (tests: a recording double over a temp dir). A JS
// error becomes its errno (Node's negative `errno`), else EIO.
class JsFs final : public CgroupFs {
 public:
  JsFs(Napi::Env env, Napi::Object fs) : env_(env), fs_(fs) {}
  int mkdir(const std::string& path) override { return call("mkdir", {Napi::String::New(env_, path)}, nullptr); }
  int write(const std::string& path, const std::string& value) override {
    return call("write", {Napi::String::New(env_, path), Napi::String::New(env_, value)}, nullptr);
  }
  int read(const std::string& path, std::string* out) override {
    Napi::Value v;
    if (int err = call("read", {Napi::String::New(env_, path)}, &v)) return err;
    if (!v.IsString()) return ENOENT;
    *out = v.As<Napi::String>().Utf8Value();
    return 0;
  }
  bool exists(const std::string& path) override {
    Napi::Value v;
    return call("exists", {Napi::String::New(env_, path)}, &v) == 0 && v.ToBoolean().Value();
  }
  int remove(const std::string& path) override { return call("remove", {Napi::String::New(env_, path)}, nullptr); }

 private:
  int call(const char* name, std::initializer_list<napi_value> args, Napi::Value* result) {
    Napi::Value fn = fs_.Get(name);
    if (!fn.IsFunction()) return ENOSYS;
    Napi::Value r = fn.As<Napi::Function>().Call(fs_, args);
    if (env_.IsExceptionPending()) {
      Napi::Value e = env_.GetAndClearPendingException().Value();
      if (e.IsObject()) {
        Napi::Value no = e.As<Napi::Object>().Get("errno");
        if (no.IsNumber()) {
          int n = no.As<Napi::Number>().Int32Value();
          if (n != 0) return n < 0 ? -n : n;
        }
      }
      return EIO;
    }
    if (result) *result = r;
    return 0;
  }
  Napi::Env env_;
  Napi::Object fs_;
};

Napi::Value pathsToJs(Napi::Env env, const CgroupPaths& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", p.version);
  auto list = [&](const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  };
  o.Set("dirs", list(p.dirs));
  o.Set("v1Tasks", list(p.v1Tasks));
  if (!p.v2Leaf.empty()) o.Set("v2Leaf", p.v2Leaf);
  if (!p.oomFile.empty()) o.Set("oomFile", p.oomFile);
  return o;
}

// cgroupDetect(): this host's layout. cgroupDetect(mountinfo, statfsType): decided from those.
Napi::Value Detect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CgroupLayout layout;
  Error e;
  if (info.Length() == 0 || info[0].IsUndefined()) {
    e = cgroupDetect(&layout);
  } else {
    std::string text;
    if (!stringArg(info, 0, &text) || (info.Length() > 1 && !info[1].IsNumber() && !info[1].IsUndefined()))
      return throwTypeError(env, "cgroupDetect([mountinfo, statfsType])");
    long type = info.Length() > 1 && info[1].IsNumber() ? static_cast<long>(info[1].As<Napi::Number>().Int64Value()) : 0;
    e = cgroupLayoutFrom(text, type, &layout);
  }
  if (e) return throwError(env, e);
  return layoutToJs(env, layout);
}

// cgroupApply(cgroupsPath, resources (object | JSON string), options?: {layout?, fs?, update?, delegated?})
Napi::Value Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "cgroupApply(cgroupsPath, resources, { layout?, fs?, update?, delegated? })";
  std::string cgroupsPath, json;
  if (!stringArg(info, 0, &cgroupsPath) || info.Length() < 2) return throwTypeError(env, usage);
  if (info[1].IsString()) {
    json = info[1].As<Napi::String>().Utf8Value();
  } else if (info[1].IsObject()) {
    // One parser: the object goes through JSON, as a config.json does.
    Napi::Object JSON = env.Global().Get("JSON").As<Napi::Object>();
    Napi::Value s = JSON.Get("stringify").As<Napi::Function>().Call(JSON, {info[1]});
    if (env.IsExceptionPending() || !s.IsString()) return env.Undefined();
    json = s.As<Napi::String>().Utf8Value();
  } else {
    return throwTypeError(env, usage);
  }
  CgroupLayout layout;
  Napi::Object opts;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsObject()) return throwTypeError(env, usage);
    opts = info[2].As<Napi::Object>();
  }
  Napi::Value layoutArg = opts.IsEmpty() ? env.Undefined() : opts.Get("layout");
  if (!layoutArg.IsUndefined()) {
    if (!layoutFromJs(layoutArg, &layout)) return throwTypeError(env, "cgroupApply: invalid layout");
  } else if (Error e = cgroupDetect(&layout)) {
    return throwError(env, e);
  }
  LinuxResources res;
  if (Error e = parseResources(json, &res)) return throwError(env, e);
  CgroupPaths out;
  Napi::Value fsArg = opts.IsEmpty() ? env.Undefined() : opts.Get("fs");
  Napi::Value updateArg = opts.IsEmpty() ? env.Undefined() : opts.Get("update");
  const bool update = updateArg.IsBoolean() && updateArg.As<Napi::Boolean>().Value();
  // delegated: how many leading segments of cgroupsPath are the caller's delegated subtree (rootless).
  Napi::Value delegatedArg = opts.IsEmpty() ? env.Undefined() : opts.Get("delegated");
  size_t delegated = 0;
  if (!delegatedArg.IsUndefined()) {
    if (!delegatedArg.IsNumber()) return throwTypeError(env, usage);
    const double d = delegatedArg.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 64) || d != static_cast<double>(static_cast<size_t>(d))) return throwTypeError(env, usage);
    delegated = static_cast<size_t>(d);
  }
  Error e;
  if (fsArg.IsObject()) {
    JsFs fs(env, fsArg.As<Napi::Object>());
    e = cgroupApply(layout, cgroupsPath, res, &out, fs, update, delegated);
  } else {
    e = cgroupApply(layout, cgroupsPath, res, &out, realCgroupFs(), update, delegated);
  }
  if (e) return throwError(env, e);
  return pathsToJs(env, out);
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
  exports.Set("cgroupDetect", Napi::Function::New(env, Detect, "cgroupDetect"));
  exports.Set("cgroupApply", Napi::Function::New(env, Apply, "cgroupApply"));
  exports.Set("cgroupWrite", Napi::Function::New(env, Write, "cgroupWrite"));
  exports.Set("cgroupRemove", Napi::Function::New(env, Remove, "cgroupRemove"));
}

}  // namespace pocker
