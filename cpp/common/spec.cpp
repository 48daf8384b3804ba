// The OCI spec parser of pocker-init.
//
// JSON library: nlohmann/json (Debian's nlohmann-json3-dev, found by CMake's
// find_package(nlohmann_json 3)). Header-only, so there is no runtime library to link into the
// static pocker-init, it is packaged by Debian (and most distributions), and it works without C++
// exceptions: pocker-init is built -fno-exceptions, the document is parsed with
// json::parse(text, nullptr, false) (a parse error gives a "discarded" value instead of throwing),
// and every value's type is checked here before it is read, so no accessor can reach the
// library's throw (which, without exceptions, would abort).
#include "common/spec.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace pocker {
namespace {

using json = nlohmann::json;

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// Reads typed values out of the document, recording the first error with its JSON path.
class Reader {
 public:
  std::string error;

  bool fail(const std::string& path, const std::string& why) {
    if (error.empty()) error = "spec: " + path + ": " + why;
    return false;
  }

  // A member of an object, or nullptr (absent or null: null is "not set" in the spec).
  static const json* member(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  static std::string at(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
  static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

  bool object(const json& v, const std::string& path) { return v.is_object() || fail(path, "expected an object"); }

  bool string(const json& v, const std::string& path, std::string* out) {
    if (!v.is_string()) return fail(path, "expected a string");
    const auto& s = v.get_ref<const std::string&>();
    if (s.find('\0') != std::string::npos) return fail(path, "NUL byte in a string");
    *out = s;
    return true;
  }
  bool boolean(const json& v, const std::string& path, bool* out) {
    if (!v.is_boolean()) return fail(path, "expected a boolean");
    *out = v.get<bool>();
    return true;
  }
  // An integer in [min, max].
  bool integer(const json& v, const std::string& path, int64_t min, uint64_t max, int64_t* out) {
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > max) return fail(path, "out of range");
      *out = static_cast<int64_t>(u);
      return true;
    }
    if (!v.is_number_integer()) return fail(path, "expected an integer");
    int64_t i = v.get<int64_t>();
    if (i < min || (i >= 0 && static_cast<uint64_t>(i) > max)) return fail(path, "out of range");
    *out = i;
    return true;
  }
  bool u32(const json& v, const std::string& path, uint32_t* out) {
    int64_t i;
    if (!integer(v, path, 0, UINT32_MAX, &i)) return false;
    *out = static_cast<uint32_t>(i);
    return true;
  }
  bool u64(const json& v, const std::string& path, uint64_t* out) {
    if (v.is_number_unsigned()) {
      *out = v.get<uint64_t>();
      return true;
    }
    int64_t i;
    if (!integer(v, path, 0, INT64_MAX, &i)) return false;
    *out = static_cast<uint64_t>(i);
    return true;
  }
  bool strings(const json& v, const std::string& path, std::vector<std::string>* out) {
    if (!v.is_array()) return fail(path, "expected an array of strings");
    out->clear();
    out->reserve(v.size());
    for (size_t i = 0; i < v.size(); i++) {
      std::string s;
      if (!string(v[i], index(path, i), &s)) return false;
      out->push_back(std::move(s));
    }
    return true;
  }

  // Optional members: absent is fine, present must have the right type.
  bool optString(const json& obj, const char* key, const std::string& path, std::string* out, bool* had = nullptr) {
    const json* v = member(obj, key);
    if (had) *had = v != nullptr;
    return !v || string(*v, at(path, key), out);
  }
  bool optBool(const json& obj, const char* key, const std::string& path, bool* out) {
    const json* v = member(obj, key);
    return !v || boolean(*v, at(path, key), out);
  }
  bool optU32(const json& obj, const char* key, const std::string& path, uint32_t* out) {
    const json* v = member(obj, key);
    return !v || u32(*v, at(path, key), out);
  }
  bool optStrings(const json& obj, const char* key, const std::string& path, std::vector<std::string>* out) {
    const json* v = member(obj, key);
    return !v || strings(*v, at(path, key), out);
  }
  // An optional object member: *out is null when absent.
  bool optObject(const json& obj, const char* key, const std::string& path, const json** out) {
    *out = member(obj, key);
    return !*out || object(**out, at(path, key));
  }
  bool optArray(const json& obj, const char* key, const std::string& path, const json** out) {
    *out = member(obj, key);
    return !*out || (*out)->is_array() || fail(at(path, key), "expected an array");
  }
};

const char* const kCapNames[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",          "CAP_FSETID",
    "CAP_KILL",            "CAP_SETGID",         "CAP_SETUID",          "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",       "CAP_NET_RAW",         "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",        "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",           "CAP_LEASE",           "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",
    "CAP_WAKE_ALARM",      "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",      "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

struct Named {
  const char* name;
  int value;
};

const Named kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

const Named kNamespaces[] = {
    {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},        {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},   {"user", CLONE_NEWUSER},   {"cgroup", CLONE_NEWCGROUP},   {"time", CLONE_NEWTIME},
};

// mount(8) option words: the flags they set or clear (runc's and crun's table).
struct MountFlag {
  const char* name;
  bool clear;
  unsigned long flag;
};
const MountFlag kMountFlags[] = {
    {"async", true, MS_SYNCHRONOUS},   {"atime", true, MS_NOATIME},        {"bind", false, MS_BIND},
    {"defaults", false, 0},            {"dev", true, MS_NODEV},            {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},    {"exec", true, MS_NOEXEC},          {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},    {"nodev", false, MS_NODEV},         {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},      {"nomand", true, MS_MANDLOCK},      {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"nosuid", false, MS_NOSUID}, {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},  {"remount", false, MS_REMOUNT},     {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},           {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};
// The recursive forms (runc's and crun's `rro`, `rnosuid`...): MOUNT_ATTR_* for mount_setattr.
struct RecursiveFlag {
  const char* name;
  bool clear;
  uint64_t attr;
};
const RecursiveFlag kRecursiveFlags[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},    {"rrw", true, MOUNT_ATTR_RDONLY},   {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},   {"rnodev", false, MOUNT_ATTR_NODEV}, {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC}, {"rexec", true, MOUNT_ATTR_NOEXEC},
};
const Named kPropagation[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},   {"runbindable", MS_UNBINDABLE | MS_REC},
};

template <size_t N>
const Named* lookup(const Named (&table)[N], const std::string& name) {
  for (const auto& e : table)
    if (name == e.name) return &e;
  return nullptr;
}

bool parseMountOptions(Reader& r, const std::vector<std::string>& options, const std::string& path, MountSpec* m) {
  for (size_t i = 0; i < options.size(); i++) {
    const std::string& o = options[i];
    if (o == "tmpcopyup") return r.fail(Reader::index(path, i), "tmpcopyup is not supported");
    bool known = false;
    for (const auto& f : kMountFlags) {
      if (o != f.name) continue;
      if (f.clear) m->flags &= ~f.flag;
      else m->flags |= f.flag;
      known = true;
      break;
    }
    if (known) continue;
    for (const auto& f : kRecursiveFlags) {
      if (o != f.name) continue;
      (f.clear ? m->recursiveClear : m->recursiveSet) |= f.attr;
      (f.clear ? m->recursiveSet : m->recursiveClear) &= ~f.attr;
      known = true;
      break;
    }
    if (known) continue;
    if (const Named* p = lookup(kPropagation, o)) {
      m->propagation = static_cast<unsigned long>(p->value);
      continue;
    }
    // Anything else is the filesystem's own (size=, mode=, newinstance, ...), as runc passes it.
    if (!o.empty()) m->data += (m->data.empty() ? "" : ",") + o;
  }
  return true;
}

// An absolute path (the spec's destinations and masked paths are absolute).
bool absolute(Reader& r, const std::string& s, const std::string& path) {
  return (!s.empty() && s[0] == '/') || r.fail(path, "expected an absolute path");
}

bool parseCaps(Reader& r, const json& caps, const char* key, const std::string& path, uint64_t* out) {
  const json* v = Reader::member(caps, key);
  if (!v) return true;
  std::vector<std::string> names;
  std::string p = Reader::at(path, key);
  if (!r.strings(*v, p, &names)) return false;
  for (size_t i = 0; i < names.size(); i++) {
    int n = capabilityNumber(names[i]);
    // An unknown name (a newer kernel's) is skipped, as runc does; an impossible one is refused.
    if (n < 0) {
      if (names[i].rfind("CAP_", 0) != 0) return r.fail(Reader::index(p, i), "not a capability name: " + names[i]);
      continue;
    }
    *out |= 1ULL << n;
  }
  return true;
}

bool parseProcess(Reader& r, const json& p, Spec* s, bool requireUser) {
  const std::string path = "process";
  if (!r.object(p, path)) return false;
  const json* args = Reader::member(p, "args");
  if (!args) return r.fail("process.args", "missing");
  if (!r.strings(*args, "process.args", &s->args)) return false;
  if (s->args.empty() || s->args[0].empty()) return r.fail("process.args", "expected a non-empty command");
  if (!r.optStrings(p, "env", path, &s->env) || !r.optString(p, "cwd", path, &s->cwd) ||
      !r.optBool(p, "terminal", path, &s->tty) || !r.optBool(p, "noNewPrivileges", path, &s->noNewPrivs))
    return false;
  if (s->cwd.empty() || s->cwd[0] != '/') return r.fail("process.cwd", "expected an absolute path");
  const json* size;
  if (!r.optObject(p, "consoleSize", path, &size)) return false;
  if (size) {
    uint32_t h = 0, w = 0;
    if (!r.optU32(*size, "height", "process.consoleSize", &h) || !r.optU32(*size, "width", "process.consoleSize", &w))
      return false;
    if (h > 0xffff || w > 0xffff) return r.fail("process.consoleSize", "out of range");
    s->rows = static_cast<uint16_t>(h);
    s->cols = static_cast<uint16_t>(w);
  }
  const json* user;
  if (!r.optObject(p, "user", path, &user)) return false;
  if (!user && requireUser) return r.fail("process.user", "missing");
  if (user) {
    const std::string up = "process.user";
    if (!r.optU32(*user, "uid", up, &s->uid) || !r.optU32(*user, "gid", up, &s->gid) ||
        !r.optU32(*user, "umask", up, &s->umask))
      return false;
    if (s->umask > 0777) return r.fail("process.user.umask", "out of range");
    const json* gids;
    if (!r.optArray(*user, "additionalGids", up, &gids)) return false;
    if (gids)
      for (size_t i = 0; i < gids->size(); i++) {
        uint32_t g;
        if (!r.u32((*gids)[i], Reader::index("process.user.additionalGids", i), &g)) return false;
        s->additionalGids.push_back(g);
      }
  }
  const json* caps;
  if (!r.optObject(p, "capabilities", path, &caps)) return false;
  if (caps) {
    const std::string cp = "process.capabilities";
    if (!parseCaps(r, *caps, "bounding", cp, &s->capBounding) || !parseCaps(r, *caps, "effective", cp, &s->capEffective) ||
        !parseCaps(r, *caps, "inheritable", cp, &s->capInheritable) ||
        !parseCaps(r, *caps, "permitted", cp, &s->capPermitted) || !parseCaps(r, *caps, "ambient", cp, &s->capAmbient))
      return false;
  }
  const json* rl;
  if (!r.optArray(p, "rlimits", path, &rl)) return false;
  if (rl)
    for (size_t i = 0; i < rl->size(); i++) {
      std::string ip = Reader::index("process.rlimits", i), type;
      const json& e = (*rl)[i];
      if (!r.object(e, ip)) return false;
      const json* t = Reader::member(e, "type");
      if (!t) return r.fail(Reader::at(ip, "type"), "missing");
      if (!r.string(*t, Reader::at(ip, "type"), &type)) return false;
      const Named* n = lookup(kRlimits, type);
      if (!n) return r.fail(Reader::at(ip, "type"), "unknown rlimit " + type);
      RlimitSpec lim{n->value, 0, 0};
      const json *soft = Reader::member(e, "soft"), *hard = Reader::member(e, "hard");
      if (!soft || !hard) return r.fail(ip, "expected soft and hard");
      // -1 is RLIM_INFINITY (Docker's "unlimited": a JSON number from JavaScript cannot carry 2^64-1).
      auto limit = [&](const json& v, const std::string& at, uint64_t* out) {
        if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() == -1) {
          *out = RLIM_INFINITY;
          return true;
        }
        return r.u64(v, at, out);
      };
      if (!limit(*soft, Reader::at(ip, "soft"), &lim.soft) || !limit(*hard, Reader::at(ip, "hard"), &lim.hard)) return false;
      s->rlimits.push_back(lim);
    }
  return true;
}

bool parseMounts(Reader& r, const json& mounts, Spec* s) {
  if (!mounts.is_array()) return r.fail("mounts", "expected an array");
  for (size_t i = 0; i < mounts.size(); i++) {
    const std::string mp = Reader::index("mounts", i);
    const json& e = mounts[i];
    if (!r.object(e, mp)) return false;
    MountSpec m;
    std::vector<std::string> options;
    const json* dst = Reader::member(e, "destination");
    if (!dst) return r.fail(Reader::at(mp, "destination"), "missing");
    if (!r.string(*dst, Reader::at(mp, "destination"), &m.destination) ||
        !absolute(r, m.destination, Reader::at(mp, "destination")) || !r.optString(e, "type", mp, &m.type) ||
        !r.optString(e, "source", mp, &m.source) || !r.optStrings(e, "options", mp, &options) ||
        !parseMountOptions(r, options, Reader::at(mp, "options"), &m))
      return false;
    if (m.type == "bind") m.flags |= MS_BIND;
    if (m.bind() && m.source.empty()) return r.fail(Reader::at(mp, "source"), "a bind mount needs a source");
    s->mounts.push_back(std::move(m));
  }
  return true;
}

const struct {
  const char* name;
  SeccompAction action;
} kSeccompActions[] = {
    {"SCMP_ACT_KILL", SeccompAction::Kill},          {"SCMP_ACT_KILL_PROCESS", SeccompAction::KillProcess},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::KillThread}, {"SCMP_ACT_TRAP", SeccompAction::Trap},
    {"SCMP_ACT_ERRNO", SeccompAction::Errno},        {"SCMP_ACT_TRACE", SeccompAction::Trace},
    {"SCMP_ACT_ALLOW", SeccompAction::Allow},        {"SCMP_ACT_LOG", SeccompAction::Log},
};
const struct {
  const char* name;
  SeccompOp op;
} kSeccompOps[] = {
    {"SCMP_CMP_NE", SeccompOp::NotEqual},     {"SCMP_CMP_LT", SeccompOp::LessThan},
    {"SCMP_CMP_LE", SeccompOp::LessEqual},    {"SCMP_CMP_EQ", SeccompOp::Equal},
    {"SCMP_CMP_GE", SeccompOp::GreaterEqual}, {"SCMP_CMP_GT", SeccompOp::GreaterThan},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::MaskedEqual},
};

// An action name and its errnoRet: ERRNO defaults to EPERM (runc's rule), only ERRNO and TRACE take one.
bool seccompAction(Reader& r, const std::string& name, const json* errnoRet, const std::string& path,
                   const std::string& retPath, SeccompAction* action, uint32_t* ret) {
  bool found = false;
  for (const auto& a : kSeccompActions)
    if (name == a.name) {
      *action = a.action;
      found = true;
    }
  if (!found) {
    if (name == "SCMP_ACT_NOTIFY") return r.fail(path, "SCMP_ACT_NOTIFY is not supported");
    return r.fail(path, "unknown seccomp action " + name);
  }
  *ret = *action == SeccompAction::Errno ? EPERM : 0;
  if (errnoRet) {
    if (*action != SeccompAction::Errno && *action != SeccompAction::Trace)
      return r.fail(retPath, "errnoRet applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE only");
    int64_t v;
    if (!r.integer(*errnoRet, retPath, 0, 0xffff, &v)) return false;
    *ret = static_cast<uint32_t>(v);
  }
  return true;
}

bool parseSeccomp(Reader& r, const json& sc, SeccompSpec* out) {
  const std::string path = "linux.seccomp";
  if (!r.object(sc, path)) return false;
  out->present = true;
  std::string def;
  const json* d = Reader::member(sc, "defaultAction");
  if (!d) return r.fail(path + ".defaultAction", "missing");
  if (!r.string(*d, path + ".defaultAction", &def) ||
      !seccompAction(r, def, Reader::member(sc, "defaultErrnoRet"), path + ".defaultAction", path + ".defaultErrnoRet",
                     &out->defaultAction, &out->defaultRet) ||
      !r.optStrings(sc, "architectures", path, &out->architectures))
    return false;
  for (size_t i = 0; i < out->architectures.size(); i++)
    if (out->architectures[i].rfind("SCMP_ARCH_", 0) != 0)
      return r.fail(Reader::index(path + ".architectures", i), "expected an SCMP_ARCH_ name");
  std::vector<std::string> flags;
  if (!r.optStrings(sc, "flags", path, &flags)) return false;
  for (size_t i = 0; i < flags.size(); i++) {
    if (flags[i] == "SECCOMP_FILTER_FLAG_LOG") out->flagLog = true;
    else if (flags[i] == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") out->flagSpecAllow = true;
    else if (flags[i] != "SECCOMP_FILTER_FLAG_TSYNC")  // pocker-init is single-threaded: nothing to sync
      return r.fail(Reader::index(path + ".flags", i), "unsupported flag " + flags[i]);
  }
  if (Reader::member(sc, "listenerPath")) return r.fail(path + ".listenerPath", "seccomp notify is not supported");
  const json* calls;
  if (!r.optArray(sc, "syscalls", path, &calls)) return false;
  if (calls)
    for (size_t i = 0; i < calls->size(); i++) {
      const std::string cp = Reader::index(path + ".syscalls", i);
      const json& e = (*calls)[i];
      if (!r.object(e, cp)) return false;
      SeccompRule rule;
      const json* names = Reader::member(e, "names");
      if (!names) return r.fail(Reader::at(cp, "names"), "missing");
      if (!r.strings(*names, Reader::at(cp, "names"), &rule.names)) return false;
      for (size_t k = 0; k < rule.names.size(); k++)
        if (rule.names[k].empty()) return r.fail(Reader::index(Reader::at(cp, "names"), k), "empty syscall name");
      std::string action;
      const json* a = Reader::member(e, "action");
      if (!a) return r.fail(Reader::at(cp, "action"), "missing");
      if (!r.string(*a, Reader::at(cp, "action"), &action) ||
          !seccompAction(r, action, Reader::member(e, "errnoRet"), Reader::at(cp, "action"), Reader::at(cp, "errnoRet"),
                         &rule.action, &rule.ret))
        return false;
      const json* args;
      if (!r.optArray(e, "args", cp, &args)) return false;
      if (args) {
        if (args->size() > 6) return r.fail(Reader::at(cp, "args"), "at most 6 arguments");
        for (size_t k = 0; k < args->size(); k++) {
          const std::string ap = Reader::index(Reader::at(cp, "args"), k);
          const json& x = (*args)[k];
          if (!r.object(x, ap)) return false;
          SeccompArg arg;
          const json *index = Reader::member(x, "index"), *value = Reader::member(x, "value"), *op = Reader::member(x, "op");
          if (!index || !value || !op) return r.fail(ap, "expected index, value and op");
          int64_t idx;
          std::string opName;
          if (!r.integer(*index, Reader::at(ap, "index"), 0, 5, &idx) || !r.u64(*value, Reader::at(ap, "value"), &arg.value) ||
              !r.string(*op, Reader::at(ap, "op"), &opName))
            return false;
          if (const json* two = Reader::member(x, "valueTwo"); two && !r.u64(*two, Reader::at(ap, "valueTwo"), &arg.valueTwo))
            return false;
          arg.index = static_cast<uint32_t>(idx);
          bool found = false;
          for (const auto& o : kSeccompOps)
            if (opName == o.name) {
              arg.op = o.op;
              found = true;
            }
          if (!found) return r.fail(Reader::at(ap, "op"), "unknown operator " + opName);
          rule.args.push_back(arg);
        }
      }
      out->syscalls.push_back(std::move(rule));
    }
  return true;
}

// linux.uidMappings or gidMappings: at most 340 lines (the kernel's limit since 4.15), sizes >= 1,
// no range past 2^32 - 1, no two ranges overlapping on either side (the kernel refuses those too,
// with a bare EINVAL at map-writing time; here the error names the entry).
bool parseIdMappings(Reader& r, const json& l, const char* key, std::vector<IdMapping>* out) {
  const std::string path = std::string("linux.") + key;
  const json* maps;
  if (!r.optArray(l, key, "linux", &maps)) return false;
  if (!maps) return true;
  if (maps->size() > 340) return r.fail(path, "at most 340 mappings");
  for (size_t i = 0; i < maps->size(); i++) {
    const std::string mp = Reader::index(path, i);
    const json& e = (*maps)[i];
    if (!r.object(e, mp)) return false;
    IdMapping m;
    const json *c = Reader::member(e, "containerID"), *h = Reader::member(e, "hostID"), *z = Reader::member(e, "size");
    if (!c || !h || !z) return r.fail(mp, "expected containerID, hostID and size");
    if (!r.u32(*c, Reader::at(mp, "containerID"), &m.containerId) || !r.u32(*h, Reader::at(mp, "hostID"), &m.hostId) ||
        !r.u32(*z, Reader::at(mp, "size"), &m.size))
      return false;
    if (m.size == 0) return r.fail(Reader::at(mp, "size"), "expected at least 1");
    if (uint64_t{m.containerId} + m.size > (uint64_t{1} << 32) - 1 || uint64_t{m.hostId} + m.size > (uint64_t{1} << 32) - 1)
      return r.fail(mp, "range past 4294967294");
    for (const auto& o : *out) {
      auto overlap = [](uint32_t a, uint32_t b, uint32_t n, uint32_t k) { return uint64_t{a} < uint64_t{b} + k && uint64_t{b} < uint64_t{a} + n; };
      if (overlap(m.containerId, o.containerId, m.size, o.size)) return r.fail(mp, "container ids overlap an earlier mapping");
      if (overlap(m.hostId, o.hostId, m.size, o.size)) return r.fail(mp, "host ids overlap an earlier mapping");
    }
    out->push_back(m);
  }
  return true;
}

bool parseLinux(Reader& r, const json& l, Spec* s) {
  const std::string path = "linux";
  if (!r.object(l, path)) return false;
  const json* ns;
  if (!r.optArray(l, "namespaces", path, &ns)) return false;
  if (ns)
    for (size_t i = 0; i < ns->size(); i++) {
      const std::string np = Reader::index("linux.namespaces", i);
      const json& e = (*ns)[i];
      std::string type, nsPath;
      if (!r.object(e, np)) return false;
      const json* t = Reader::member(e, "type");
      if (!t) return r.fail(Reader::at(np, "type"), "missing");
      if (!r.string(*t, Reader::at(np, "type"), &type) || !r.optString(e, "path", np, &nsPath)) return false;
      const Named* n = lookup(kNamespaces, type);
      if (!n) return r.fail(Reader::at(np, "type"), "unknown namespace type " + type);
      // Joining a user namespace would need the other namespaces made after the join (owned by it),
      // which clone3 from the monitor cannot do.
      if (n->value == CLONE_NEWUSER && !nsPath.empty())
        return r.fail(Reader::at(np, "path"), "joining an existing user namespace is not supported yet");
      if (nsPath.empty()) s->namespaces |= static_cast<uint32_t>(n->value);
      else s->joins.push_back({n->value, nsPath});
    }
  const json* devices;
  if (!r.optArray(l, "devices", path, &devices)) return false;
  if (devices)
    for (size_t i = 0; i < devices->size(); i++) {
      const std::string dp = Reader::index("linux.devices", i);
      const json& e = (*devices)[i];
      DeviceSpec d;
      std::string type;
      if (!r.object(e, dp)) return false;
      const json* t = Reader::member(e, "type");
      const json* p = Reader::member(e, "path");
      if (!t || !p) return r.fail(dp, "expected type and path");
      if (!r.string(*t, Reader::at(dp, "type"), &type) || !r.string(*p, Reader::at(dp, "path"), &d.path) ||
          !absolute(r, d.path, Reader::at(dp, "path")))
        return false;
      if (type != "c" && type != "b" && type != "u" && type != "p") return r.fail(Reader::at(dp, "type"), "expected c, b, u or p");
      d.type = type == "u" ? 'c' : type[0];
      const json *maj = Reader::member(e, "major"), *min = Reader::member(e, "minor");
      if (d.type != 'p' && (!maj || !min)) return r.fail(dp, "expected major and minor");
      if ((maj && !r.integer(*maj, Reader::at(dp, "major"), 0, 0xfffff, &d.major)) ||
          (min && !r.integer(*min, Reader::at(dp, "minor"), 0, 0xfffff, &d.minor)) ||
          !r.optU32(e, "fileMode", dp, &d.fileMode) || !r.optU32(e, "uid", dp, &d.uid) || !r.optU32(e, "gid", dp, &d.gid))
        return false;
      s->devices.push_back(std::move(d));
    }
  if (!r.optStrings(l, "maskedPaths", path, &s->masks) || !r.optStrings(l, "readonlyPaths", path, &s->readonlyPaths))
    return false;
  for (size_t i = 0; i < s->masks.size(); i++)
    if (!absolute(r, s->masks[i], Reader::index("linux.maskedPaths", i))) return false;
  for (size_t i = 0; i < s->readonlyPaths.size(); i++)
    if (!absolute(r, s->readonlyPaths[i], Reader::index("linux.readonlyPaths", i))) return false;
  const json* sysctl;
  if (!r.optObject(l, "sysctl", path, &sysctl)) return false;
  if (sysctl)
    for (auto it = sysctl->begin(); it != sysctl->end(); ++it) {
      std::string v;
      if (!r.string(it.value(), "linux.sysctl." + it.key(), &v)) return false;
      if (it.key().empty() || it.key().find('/') != std::string::npos || it.key().find("..") != std::string::npos)
        return r.fail("linux.sysctl." + it.key(), "invalid key");
      s->sysctl.emplace_back(it.key(), std::move(v));
    }
  std::string prop;
  bool hadProp = false;
  if (!r.optString(l, "rootfsPropagation", path, &prop, &hadProp)) return false;
  if (hadProp) {
    const Named* n = lookup(kPropagation, prop);
    if (!n) return r.fail("linux.rootfsPropagation", "unknown propagation " + prop);
    s->rootfsPropagation = static_cast<unsigned long>(n->value);
  }
  const json* seccomp;
  if (!r.optObject(l, "seccomp", path, &seccomp)) return false;
  if (seccomp && !parseSeccomp(r, *seccomp, &s->seccomp)) return false;
  if (!parseIdMappings(r, l, "uidMappings", &s->uidMappings) || !parseIdMappings(r, l, "gidMappings", &s->gidMappings))
    return false;
  const bool newUser = (s->namespaces & CLONE_NEWUSER) != 0;
  if (newUser && (s->uidMappings.empty() || s->gidMappings.empty()))
    return r.fail(s->uidMappings.empty() ? "linux.uidMappings" : "linux.gidMappings",
                  "a new user namespace needs uid and gid mappings");
  if (!newUser && (!s->uidMappings.empty() || !s->gidMappings.empty()))
    return r.fail(!s->uidMappings.empty() ? "linux.uidMappings" : "linux.gidMappings",
                  "mappings need a new user namespace (linux.namespaces: user without a path)");
  // Accepted, not applied here: resources and cgroupsPath (the caller made the cgroups), mountLabel.
  return true;
}

// A network interface name as the kernel takes it (dev_valid_name): 1-15 bytes, not . or .., no
// '/', ':' or white space.
bool ifName(Reader& r, const std::string& name, const std::string& path) {
  if (name.empty() || name.size() > 15) return r.fail(path, "expected an interface name of 1 to 15 bytes");
  if (name == "." || name == "..") return r.fail(path, "invalid interface name");
  for (char c : name)
    if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) return r.fail(path, "invalid interface name");
  return true;
}

// pocker.network: the strings are checked here for type and shape; addresses, gateways and MACs
// are parsed by the network step itself (an invalid one fails with step `network`).
bool parseNetwork(Reader& r, const json& n, Spec* s) {
  const std::string path = "pocker.network";
  if (!r.object(n, path)) return false;
  const json* ifs;
  if (!r.optArray(n, "interfaces", path, &ifs)) return false;
  if (ifs)
    for (size_t i = 0; i < ifs->size(); i++) {
      const std::string ip = Reader::index(path + ".interfaces", i);
      const json& e = (*ifs)[i];
      if (!r.object(e, ip)) return false;
      NetInterface x;
      const json *name = Reader::member(e, "name"), *hostName = Reader::member(e, "hostName");
      if (!name) return r.fail(Reader::at(ip, "name"), "missing");
      if (!hostName) return r.fail(Reader::at(ip, "hostName"), "missing");
      if (!r.string(*name, Reader::at(ip, "name"), &x.name) || !ifName(r, x.name, Reader::at(ip, "name")) ||
          !r.string(*hostName, Reader::at(ip, "hostName"), &x.hostName) ||
          !ifName(r, x.hostName, Reader::at(ip, "hostName")) || !r.optString(e, "bridge", ip, &x.bridge) ||
          !r.optStrings(e, "addresses", ip, &x.addresses) || !r.optString(e, "gateway", ip, &x.gateway) ||
          !r.optString(e, "gateway6", ip, &x.gateway6) || !r.optString(e, "mac", ip, &x.mac) ||
          !r.optU32(e, "mtu", ip, &x.mtu))
        return false;
      if (!x.bridge.empty() && !ifName(r, x.bridge, Reader::at(ip, "bridge"))) return false;
      if (x.mtu != 0 && (x.mtu < 68 || x.mtu > 65535)) return r.fail(Reader::at(ip, "mtu"), "out of range (68 to 65535)");
      for (size_t k = 0; k < i; k++)
        if (s->netInterfaces[k].name == x.name || s->netInterfaces[k].hostName == x.hostName)
          return r.fail(ip, "duplicate interface name");
      s->netInterfaces.push_back(std::move(x));
    }
  if (!r.optStrings(n, "setup", path, &s->netSetup)) return false;
  if (!s->netSetup.empty() && (s->netSetup[0].empty() || s->netSetup[0][0] != '/'))
    return r.fail(path + ".setup[0]", "expected an absolute path");
  std::string kind;
  if (!r.optString(n, "setupKind", path, &kind)) return false;
  if (!kind.empty() && kind != "slirp4netns") return r.fail(path + ".setupKind", "expected \"slirp4netns\"");
  s->netSetupForeground = kind == "slirp4netns";
  if (!r.optStrings(n, "forwards", path, &s->netForwards)) return false;
  if (!s->netForwards.empty() && !s->netSetupForeground) return r.fail(path + ".forwards", "only with setupKind slirp4netns");
  if (!r.optStrings(n, "cleanup", path, &s->netCleanup)) return false;
  if (!s->netCleanup.empty() && (s->netCleanup[0].empty() || s->netCleanup[0][0] != '/'))
    return r.fail(path + ".cleanup[0]", "expected an absolute path");
  return true;
}

bool parsePocker(Reader& r, const json& p, Spec* s) {
  const std::string path = "pocker";
  if (!r.object(p, path)) return false;
  const json* version = Reader::member(p, "version");
  if (!version) return r.fail("pocker.version", "missing");
  uint32_t v;
  if (!r.u32(*version, "pocker.version", &v)) return false;
  if (v != 2) return r.fail("pocker.version", "unsupported version " + std::to_string(v) + " (this pocker-init reads 2)");
  const json* rootfs;
  if (!r.optObject(p, "rootfs", path, &rootfs)) return false;
  if (rootfs) {
    s->overlay = true;
    const std::string rp = "pocker.rootfs";
    if (!r.optStrings(*rootfs, "lowers", rp, &s->lowers) || !r.optString(*rootfs, "upper", rp, &s->upper) ||
        !r.optString(*rootfs, "work", rp, &s->work) || !r.optBool(*rootfs, "scratchUpper", rp, &s->scratchUpper))
      return false;
    if (s->lowers.empty()) return r.fail("pocker.rootfs.lowers", "expected at least one lower dir");
    if (s->upper.empty() || (!s->scratchUpper && s->work.empty())) return r.fail(rp, "expected upper and work");
  }
  if (!r.optString(p, "user", path, &s->user, &s->hasUser) || !r.optBool(p, "init", path, &s->init) ||
      !r.optString(p, "seccompCache", path, &s->seccompCache))
    return false;
  if (!s->seccompCache.empty() && s->seccompCache[0] != '/') return r.fail("pocker.seccompCache", "expected an absolute path");
  const json* volumes;
  if (!r.optArray(p, "volumes", path, &volumes)) return false;
  if (volumes)
    for (size_t i = 0; i < volumes->size(); i++) {
      const std::string vp = Reader::index("pocker.volumes", i);
      std::string src, dst;
      if (!r.object((*volumes)[i], vp) || !r.optString((*volumes)[i], "source", vp, &src) ||
          !r.optString((*volumes)[i], "destination", vp, &dst))
        return false;
      if (src.empty() || dst.empty()) return r.fail(vp, "expected source and destination");
      s->volumes.emplace_back(std::move(src), std::move(dst));
    }
  const json* monitor;
  if (!r.optObject(p, "monitor", path, &monitor)) return false;
  if (monitor) {
    const std::string mp = "pocker.monitor";
    if (!r.optBool(*monitor, "foreground", mp, &s->foreground)) return false;
    const json* detach;
    if (!r.optObject(*monitor, "detach", mp, &detach)) return false;
    if (detach) {
      const std::string dp = "pocker.monitor.detach";
      s->detach = true;
      const json* maxSize = Reader::member(*detach, "logMaxSize");
      if (!r.optString(*detach, "stateDir", dp, &s->stateDir) || !r.optString(*detach, "logPath", dp, &s->logPath) ||
          (maxSize && !r.u64(*maxSize, dp + ".logMaxSize", &s->logMaxSize)) ||
          !r.optU32(*detach, "logMaxFiles", dp, &s->logMaxFiles) ||
          !r.optBool(*detach, "removeOnExit", dp, &s->removeOnExit) ||
          !r.optString(*detach, "attachSocket", dp, &s->attachSocket) ||
          !r.optBool(*detach, "interactive", dp, &s->interactive) || !r.optBool(*detach, "stdinOnce", dp, &s->stdinOnce) ||
          !r.optBool(*detach, "attachFd", dp, &s->attachFd))
        return false;
      if (s->logMaxFiles == 0) return r.fail(dp + ".logMaxFiles", "expected at least 1");
    }
    // pocker.monitor.events: where the monitor records the events only it sees (die, oom).
    const json* events;
    if (!r.optObject(*monitor, "events", mp, &events)) return false;
    if (events) {
      const std::string ep = "pocker.monitor.events";
      const json* attrs;
      if (!r.optString(*events, "log", ep, &s->eventsLog) || !r.optString(*events, "id", ep, &s->eventsId) ||
          !r.optObject(*events, "attributes", ep, &attrs))
        return false;
      if (attrs)
        for (auto it = attrs->begin(); it != attrs->end(); ++it) {
          if (!it.value().is_string()) return r.fail(ep + ".attributes." + it.key(), "expected a string");
          s->eventsAttributes.emplace_back(it.key(), it.value().get<std::string>());
        }
    }
    const json* restart;
    if (!r.optObject(*monitor, "restart", mp, &restart)) return false;
    if (restart) {
      std::string policy;
      if (!r.optString(*restart, "policy", "pocker.monitor.restart", &policy) ||
          !r.optU32(*restart, "max", "pocker.monitor.restart", &s->restartMax))
        return false;
      if (policy == "no" || policy.empty()) s->restartPolicy = RestartNo;
      else if (policy == "on-failure") s->restartPolicy = RestartOnFailure;
      else if (policy == "always") s->restartPolicy = RestartAlways;
      else if (policy == "unless-stopped") s->restartPolicy = RestartUnlessStopped;
      else return r.fail("pocker.monitor.restart.policy", "unknown policy " + policy);
    }
  }
  const json* exec;
  if (!r.optObject(p, "exec", path, &exec)) return false;
  if (exec) {
    const json* pid = Reader::member(*exec, "pid");
    if (!pid) return r.fail("pocker.exec.pid", "missing");
    if (!r.u32(*pid, "pocker.exec.pid", &s->execPid)) return false;
    if (s->execPid == 0 || s->execPid > INT32_MAX) return r.fail("pocker.exec.pid", "out of range");
  }
  if (const json* net = Reader::member(p, "network"); net && !parseNetwork(r, *net, s)) return false;
  const json* cg;
  if (!r.optObject(p, "cgroups", path, &cg)) return false;
  if (cg) {
    const std::string cp = "pocker.cgroups";
    if (!r.optString(*cg, "v2Leaf", cp, &s->cgroupV2) || !r.optStrings(*cg, "v1Tasks", cp, &s->cgroupV1Tasks) ||
        !r.optStrings(*cg, "cleanup", cp, &s->cgroupCleanup))
      return false;
    const json* oom;
    if (!r.optObject(*cg, "oom", cp, &oom)) return false;
    if (oom) {
      uint32_t version = 0;
      std::string file;
      if (!r.optU32(*oom, "version", cp + ".oom", &version) || !r.optString(*oom, "path", cp + ".oom", &file)) return false;
      if (version == 1) s->oomV1 = file;
      else if (version == 2) s->oomV2 = file;
      else return r.fail(cp + ".oom.version", "expected 1 or 2");
    }
    // The container's own view at a mount of type "cgroup": v1 binds its leaves, v2 mounts cgroup2.
    const json* views;
    if (!r.optArray(*cg, "views", cp, &views)) return false;
    if (views)
      for (size_t i = 0; i < views->size(); i++) {
        const std::string vp = Reader::index(cp + ".views", i);
        std::string name, source;
        if (!r.object((*views)[i], vp) || !r.optString((*views)[i], "name", vp, &name) ||
            !r.optString((*views)[i], "source", vp, &source))
          return false;
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
          return r.fail(vp + ".name", "expected a directory name");
        if (source.empty() || source[0] != '/') return r.fail(vp + ".source", "expected an absolute path");
        s->cgroupBinds.emplace_back(std::move(name), std::move(source));
      }
    // v1 whenever there are v1 hierarchies to join: a hybrid's cgroup2 leaf is v2Leaf too.
    s->cgroupVersion = !s->cgroupV1Tasks.empty() ? 1 : !s->cgroupV2.empty() ? 2 : 0;
  }
  return true;
}

}  // namespace

bool MountSpec::bind() const { return (flags & MS_BIND) != 0; }

int capabilityNumber(const std::string& name) {
  for (size_t i = 0; i < sizeof kCapNames / sizeof kCapNames[0]; i++)
    if (name == kCapNames[i]) return static_cast<int>(i);
  return -1;
}

bool parseNetInterfaces(const char* data, size_t len, std::vector<NetInterface>* out) {
  json doc = json::parse(data, data + len, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  const json* pocker = Reader::member(doc, "pocker");
  const json* network = pocker && pocker->is_object() ? Reader::member(*pocker, "network") : nullptr;
  Reader r;
  Spec s;
  if (network && !parseNetwork(r, *network, &s)) return false;
  *out = std::move(s.netInterfaces);
  return true;
}

bool inUserNamespace(const Spec& s) {
  if (s.namespaces & CLONE_NEWUSER) return true;
  for (const auto& j : s.joins)
    if (j.flag == CLONE_NEWUSER) return true;
  return false;
}

int64_t hostIdOf(const std::vector<IdMapping>& maps, uint32_t id) {
  for (const auto& m : maps)
    if (id >= m.containerId && uint64_t{id} < uint64_t{m.containerId} + m.size) return int64_t{m.hostId} + (id - m.containerId);
  return -1;
}

Error parseSpec(const char* data, size_t len, Spec* out) {
  Reader r;
  auto bad = [&]() { return Error{EINVAL, "read-spec", "parse", r.error}; };
  json doc = json::parse(data, data + len, nullptr, false);
  if (doc.is_discarded()) {
    r.fail("(document)", "not valid JSON");
    return bad();
  }
  if (!r.object(doc, "(document)")) return bad();
  const json* pocker;
  if (!r.optObject(doc, "pocker", "", &pocker)) return bad();
  if (pocker && !parsePocker(r, *pocker, out)) return bad();
  const bool exec = out->execPid != 0;
  const json* process = Reader::member(doc, "process");
  if (!process) {
    r.fail("process", "missing");
    return bad();
  }
  // exec joins a running container: only `process` and the pocker section apply.
  if (!parseProcess(r, *process, out, !exec)) return bad();
  if (exec) {
    // An exec joins its container's network: it plumbs nothing and releases nothing.
    out->netInterfaces.clear();
    out->netCleanup.clear();
    out->netSetup.clear();
    out->netSetupForeground = false;
    out->netForwards.clear();
    // An exec gets its container's seccomp filter: linux.seccomp is the one part of `linux` it reads.
    const json* lx;
    if (!r.optObject(doc, "linux", "", &lx)) return bad();
    const json* seccomp = nullptr;
    if (lx && !r.optObject(*lx, "seccomp", "linux", &seccomp)) return bad();
    if (seccomp && !parseSeccomp(r, *seccomp, &out->seccomp)) return bad();
    return {};
  }
  const json* root;
  if (!r.optObject(doc, "root", "", &root)) return bad();
  if (!root) {
    r.fail("root", "missing");
    return bad();
  }
  const json* rootPath = Reader::member(*root, "path");
  if (!rootPath) {
    r.fail("root.path", "missing");
    return bad();
  }
  if (!r.string(*rootPath, "root.path", &out->rootfs) || !r.optBool(*root, "readonly", "root", &out->readOnly) ||
      !r.optString(doc, "hostname", "", &out->hostname, &out->hasHostname) ||
      !r.optString(doc, "domainname", "", &out->domainname, &out->hasDomainname))
    return bad();
  if (out->rootfs.empty()) {
    r.fail("root.path", "expected a path");
    return bad();
  }
  if (const json* mounts = Reader::member(doc, "mounts"); mounts && !parseMounts(r, *mounts, out)) return bad();
  if (const json* lx = Reader::member(doc, "linux"); lx && !parseLinux(r, *lx, out)) return bad();
  if (!out->netInterfaces.empty() && !(out->namespaces & CLONE_NEWNET)) {
    r.fail("pocker.network.interfaces", "needs a new network namespace (linux.namespaces: network without a path)");
    return bad();
  }
  return {};
}

}  // namespace pocker
