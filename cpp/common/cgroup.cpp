#include "common/cgroup.h"

#include <csignal>
#include <ctime>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/cgroup_json.h"
#include "common/mountinfo.h"
#include "common/util.h"

namespace pocker {
namespace {

constexpr const char* kStep = "cgroup";
constexpr const char* kDefaultRoot = "/sys/fs/cgroup";

// Real v1 controller names (super options of a `cgroup` mount also hold rw, name=..., xattr, ...).
// Static strings: an Error's syscall may point at them.
constexpr const char* kV1Controllers[] = {"cpu",     "cpuacct",    "cpuset",  "memory", "devices",
                                          "freezer", "blkio",      "pids",    "net_cls", "net_prio",
                                          "perf_event", "hugetlb", "rdma",    "misc"};
constexpr const char* kV2Controllers[] = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
// v1 hierarchies a container joins, in this order (co-mounted controllers are joined once).
constexpr const char* kV1Joined[] = {"cpu", "cpuacct", "cpuset", "memory", "pids"};
// v2 controllers enabled for the container's subtree, when the kernel offers them.
constexpr const char* kV2Wanted[] = {"cpu", "cpuset", "memory", "pids"};

const char* staticName(std::string_view name) {
  for (const char* c : kV1Controllers)
    if (name == c) return c;
  for (const char* c : kV2Controllers)
    if (name == c) return c;
  return "controller";
}

Error invalidArg(const char* what, std::string path) { return Error{EINVAL, kStep, what, std::move(path)}; }

std::string join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

// "cpu +memory io" -> {cpu, memory, io}
std::vector<std::string> tokens(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) i++;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n' && text[j] != '\t') j++;
    if (j > i) {
      std::string t = text.substr(i, j - i);
      if (t[0] == '+') t.erase(0, 1);
      out.push_back(std::move(t));
    }
    i = j;
  }
  return out;
}

bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
  return s.substr(i);
}

// The segments of a cgroupsPath (empty ones skipped); EINVAL for "." / ".." or no segment.
Error segments(std::string_view path, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view s = path.substr(i, j - i);
    if (s == "." || s == "..") return invalidArg("cgroupsPath", std::string(path));
    if (!s.empty()) out->emplace_back(s);
    i = j + 1;
  }
  if (out->empty()) return invalidArg("cgroupsPath", std::string(path));
  return {};
}

std::string under(const std::string& mount, const std::vector<std::string>& segs, size_t n) {
  std::string out = mount;
  for (size_t i = 0; i < n; i++) out = join(out, segs[i]);
  return out;
}

struct Hierarchy {
  std::string mount;
  std::vector<const char*> controllers;
};

std::vector<Hierarchy> v1Hierarchies(const CgroupLayout& layout) {
  std::vector<Hierarchy> out;
  for (const char* c : kV1Joined) {
    const std::string* mount = layout.v1Mount(c);
    if (!mount) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const Hierarchy& h) { return h.mount == *mount; });
    if (it == out.end()) {
      out.push_back(Hierarchy{*mount, {}});
      it = out.end() - 1;
    }
    it->controllers.push_back(c);
  }
  return out;
}

// The controllers a set of resources needs (unified keys: checked separately, v2 only).
std::vector<const char*> needed(const LinuxResources& r) {
  std::vector<const char*> out;
  if (r.cpu.shares || r.cpu.quota || r.cpu.period) out.push_back("cpu");
  if (!r.cpu.cpus.empty() || !r.cpu.mems.empty()) out.push_back("cpuset");
  const auto& m = r.memory;
  if (m.limit || m.reservation || m.swap || m.swappiness || m.disableOOMKiller) out.push_back("memory");
  if (r.pidsLimit) out.push_back("pids");
  return out;
}

// The parent of a v1 mount ("/sys/fs/cgroup/memory" -> "/sys/fs/cgroup"): where errors point.
std::string v1Root(const CgroupLayout& layout) {
  if (layout.v1Mounts.empty()) return kDefaultRoot;
  const std::string& m = layout.v1Mounts.front().second;
  size_t slash = m.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : m.substr(0, slash);
}

// Runs the writes, remembering the leaves it made; removes them again unless committed.
class Creator {
 public:
  // update: the cgroups exist (a running container's): nothing is created, only files written.
  Creator(CgroupFs& fs, bool update) : fs_(fs), update_(update) {}
  Creator(const Creator&) = delete;
  Creator& operator=(const Creator&) = delete;
  ~Creator() {
    if (committed_) return;
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) fs_.remove(*it);
  }
  void commit() { committed_ = true; }

  // A parent level: created when missing (an existing one is fine), never removed.
  Error parent(const std::string& dir, bool* fresh) {
    if (update_) {
      *fresh = false;
      return {};
    }
    *fresh = !fs_.exists(dir);
    if (!*fresh) return {};
    int err = fs_.mkdir(dir);
    if (err == EEXIST) {
      *fresh = false;
      return {};
    }
    return err ? fail(kStep, "mkdir", dir, err) : Error{};
  }
  Error leaf(const std::string& dir) {
    if (update_) return fs_.exists(dir) ? Error{} : Error{ENOENT, kStep, "open", dir};
    if (int err = fs_.mkdir(dir)) return fail(kStep, "mkdir", dir, err);
    created_.push_back(dir);
    return {};
  }
  Error write(const std::string& path, const std::string& value, bool optional = false) {
    int err = fs_.write(path, value);
    if (err == ENOENT && optional) return {};
    return err ? fail(kStep, "write", path, err) : Error{};
  }
  // Contents (trimmed); "" when the file does not exist.
  Error read(const std::string& path, std::string* out) {
    int err = fs_.read(path, out);
    if (err == ENOENT) {
      out->clear();
      return {};
    }
    if (err) return fail(kStep, "read", path, err);
    *out = trim(*out);
    return {};
  }
  bool exists(const std::string& path) { return fs_.exists(path); }
  bool updating() const { return update_; }

 private:
  CgroupFs& fs_;
  bool update_ = false;
  std::vector<std::string> created_;
  bool committed_ = false;
};

#define CG_TRY(expr)         \
  do {                       \
    if (Error e_ = (expr)) { \
      return e_;             \
    }                        \
  } while (0)

// runc's conversion of cpu.shares (2..262144) to cpu.weight (1..10000).
uint64_t sharesToWeight(uint64_t shares) {
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::string limitValue(int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); }

// Checks of the resources that do not depend on the files (before anything is created).
Error checkResources(const CgroupLayout& layout, const LinuxResources& r) {
  const auto& m = r.memory;
  if (layout.version == 2) {
    // runc's ConvertMemorySwapToCgroupV2Value: swap is memory+swap, memory.swap.max is swap alone.
    if (m.swap && *m.swap > 0) {
      if (!m.limit || *m.limit == 0) return invalidArg("memory.swap", "linux.resources.memory.swap");
      if (*m.limit > 0 && *m.swap < *m.limit) return invalidArg("memory.swap", "linux.resources.memory.swap");
    }
  } else if (!r.unified.empty()) {
    return invalidArg("unified", r.unified.front().first);
  }
  for (const auto& [key, value] : r.unified) {
    (void)value;
    if (key.empty() || key.find('/') != std::string::npos || key == "." || key == ".." ||
        key.find('.') == std::string::npos)
      return invalidArg("unified", key);
  }
  return {};
}

Error applyV2(const CgroupLayout& layout, const std::vector<std::string>& segs, const LinuxResources& r,
              const CgroupPaths& paths, Creator& c, size_t delegated) {
  const std::string& mount = layout.unifiedMount;
  // A delegated subtree (a rootless caller's): the levels above it are not the caller's to write,
  // so what counts is what its root offers (its cgroup.controllers), and controllers are enabled
  // from there down only (as runc and crun do for a systemd-delegated user@UID.service).
  const std::string top = under(mount, segs, delegated);
  std::string text;
  CG_TRY(c.read(join(top, "cgroup.controllers"), &text));
  const std::vector<std::string> available = tokens(text);
  std::vector<const char*> want = needed(r);
  for (const auto& [key, value] : r.unified) {
    (void)value;
    std::string ctrl = key.substr(0, key.find('.'));
    if (ctrl == "cgroup") continue;
    const char* name = staticName(ctrl);
    if (!has(available, ctrl)) return Error{EOPNOTSUPP, kStep, name, top};
    if (std::find_if(want.begin(), want.end(), [&](const char* w) { return ctrl == w; }) == want.end())
      want.push_back(name);
  }
  for (const char* ctrl : want)
    if (!has(available, ctrl)) return Error{EOPNOTSUPP, kStep, ctrl, top};
  if (!c.updating() && c.exists(paths.v2Leaf)) return Error{EEXIST, kStep, "mkdir", paths.v2Leaf};

  std::vector<std::string> enable;
  for (const char* ctrl : kV2Wanted)
    if (has(available, ctrl)) enable.emplace_back(ctrl);
  for (const char* ctrl : want)
    if (!has(enable, ctrl)) enable.emplace_back(ctrl);

  // Enables the controllers from the mount down to the parent, writing only the missing entries.
  auto enableIn = [&](const std::string& dir, bool fresh) -> Error {
    std::vector<std::string> enabled;
    if (!fresh) {
      std::string cur;
      CG_TRY(c.read(join(dir, "cgroup.subtree_control"), &cur));
      enabled = tokens(cur);
    }
    std::string line;
    for (const auto& ctrl : enable) {
      if (has(enabled, ctrl)) continue;
      if (!line.empty()) line += ' ';
      line += '+' + ctrl;
    }
    return line.empty() ? Error{} : c.write(join(dir, "cgroup.subtree_control"), line);
  };
  std::string dir = top;
  CG_TRY(enableIn(dir, false));
  for (size_t i = delegated; i + 1 < segs.size(); i++) {
    dir = join(dir, segs[i]);
    bool fresh = false;
    CG_TRY(c.parent(dir, &fresh));
    CG_TRY(enableIn(dir, fresh));
  }
  const std::string& leaf = paths.v2Leaf;
  CG_TRY(c.leaf(leaf));

  const auto& m = r.memory;
  if (m.limit) CG_TRY(c.write(join(leaf, "memory.max"), limitValue(*m.limit)));
  if (m.swap && *m.swap != 0) {
    // -1: unlimited; else memory+swap minus memory (an unlimited memory leaves swap as given).
    std::string v = *m.swap < 0 ? "max" : std::to_string(m.limit && *m.limit > 0 ? *m.swap - *m.limit : *m.swap);
    CG_TRY(c.write(join(leaf, "memory.swap.max"), v, /*optional: no swap accounting*/ true));
  }
  if (m.reservation) CG_TRY(c.write(join(leaf, "memory.low"), limitValue(*m.reservation)));
  const auto& cpu = r.cpu;
  if (cpu.quota || cpu.period) {
    std::string v = cpu.quota && *cpu.quota > 0 ? std::to_string(*cpu.quota) : "max";
    if (cpu.period && *cpu.period != 0) v += ' ' + std::to_string(*cpu.period);
    CG_TRY(c.write(join(leaf, "cpu.max"), v));
  }
  if (cpu.shares && *cpu.shares != 0) CG_TRY(c.write(join(leaf, "cpu.weight"), std::to_string(sharesToWeight(*cpu.shares))));
  if (!cpu.cpus.empty()) CG_TRY(c.write(join(leaf, "cpuset.cpus"), cpu.cpus));
  if (!cpu.mems.empty()) CG_TRY(c.write(join(leaf, "cpuset.mems"), cpu.mems));
  if (r.pidsLimit) CG_TRY(c.write(join(leaf, "pids.max"), limitValue(*r.pidsLimit > 0 ? *r.pidsLimit : -1)));
  for (const auto& [key, value] : r.unified) CG_TRY(c.write(join(leaf, key), value));
  return {};
}

Error applyV1(const CgroupLayout& layout, const std::vector<std::string>& segs, const LinuxResources& r,
              const CgroupPaths& paths, Creator& c) {
  const std::vector<Hierarchy> hierarchies = v1Hierarchies(layout);
  for (const char* ctrl : needed(r)) {
    bool joined = false;
    for (const auto& h : hierarchies)
      for (const char* hc : h.controllers) joined = joined || std::string_view(hc) == ctrl;
    if (!joined) return Error{EOPNOTSUPP, kStep, ctrl, v1Root(layout)};
  }
  for (const auto& leaf : paths.dirs)
    if (!c.updating() && c.exists(leaf)) return Error{EEXIST, kStep, "mkdir", leaf};

  for (size_t hi = 0; hi < hierarchies.size(); hi++) {
    const Hierarchy& h = hierarchies[hi];
    const std::string& leaf = paths.dirs[hi];
    const bool cpuset = std::find_if(h.controllers.begin(), h.controllers.end(),
                                     [](const char* x) { return std::string_view(x) == "cpuset"; }) != h.controllers.end();
    // A new cpuset cgroup has empty cpus/mems and takes no tasks until they are set: each level gets
    // its parent's values (an existing level that is still empty, left by a killed run, too).
    std::string cpus, mems;
    if (cpuset) {
      CG_TRY(c.read(join(h.mount, "cpuset.cpus"), &cpus));
      CG_TRY(c.read(join(h.mount, "cpuset.mems"), &mems));
    }
    std::string dir = h.mount;
    for (size_t i = 0; i + 1 < segs.size(); i++) {
      dir = join(dir, segs[i]);
      bool fresh = false;
      CG_TRY(c.parent(dir, &fresh));
      if (!cpuset) continue;
      std::string ownCpus, ownMems;
      if (!fresh) {
        CG_TRY(c.read(join(dir, "cpuset.cpus"), &ownCpus));
        CG_TRY(c.read(join(dir, "cpuset.mems"), &ownMems));
      }
      if (!ownCpus.empty()) cpus = ownCpus;
      else CG_TRY(c.write(join(dir, "cpuset.cpus"), cpus));
      if (!ownMems.empty()) mems = ownMems;
      else CG_TRY(c.write(join(dir, "cpuset.mems"), mems));
    }
    CG_TRY(c.leaf(leaf));
    for (const char* ctrlName : h.controllers) {
      const std::string_view ctrl = ctrlName;
      if (ctrl == "cpu") {
        const auto& cpu = r.cpu;
        if (cpu.period && *cpu.period != 0) CG_TRY(c.write(join(leaf, "cpu.cfs_period_us"), std::to_string(*cpu.period)));
        if (cpu.quota && *cpu.quota != 0) CG_TRY(c.write(join(leaf, "cpu.cfs_quota_us"), std::to_string(*cpu.quota > 0 ? *cpu.quota : -1)));
        if (cpu.shares && *cpu.shares != 0) CG_TRY(c.write(join(leaf, "cpu.shares"), std::to_string(*cpu.shares)));
      } else if (ctrl == "cpuset") {
        // (An update writes only what it is given.)
        if (!c.updating() || !r.cpu.cpus.empty()) CG_TRY(c.write(join(leaf, "cpuset.cpus"), r.cpu.cpus.empty() ? cpus : r.cpu.cpus));
        if (!c.updating() || !r.cpu.mems.empty()) CG_TRY(c.write(join(leaf, "cpuset.mems"), r.cpu.mems.empty() ? mems : r.cpu.mems));
      } else if (ctrl == "memory") {
        const auto& m = r.memory;
        // A fresh cgroup starts unlimited, so the limit goes first and memsw (>= limit) after it. The
        // kernel keeps limit <= memsw at every step: an update that raises the limit above the
        // current memsw writes memsw first (runc's order too).
        const bool memsw = m.swap && *m.swap != 0 && c.exists(join(h.mount, "memory.memsw.limit_in_bytes"));
        const std::string swapValue = memsw ? std::to_string(*m.swap < 0 ? -1 : *m.swap) : "";
        bool swapFirst = false;
        if (memsw && m.limit && c.updating()) {
          std::string cur;
          CG_TRY(c.read(join(leaf, "memory.memsw.limit_in_bytes"), &cur));
          const uint64_t current = std::strtoull(cur.c_str(), nullptr, 10);
          swapFirst = *m.limit < 0 || static_cast<uint64_t>(*m.limit) > current;
        }
        if (swapFirst) CG_TRY(c.write(join(leaf, "memory.memsw.limit_in_bytes"), swapValue));
        if (m.limit) CG_TRY(c.write(join(leaf, "memory.limit_in_bytes"), std::to_string(*m.limit < 0 ? -1 : *m.limit)));
        if (memsw && !swapFirst) CG_TRY(c.write(join(leaf, "memory.memsw.limit_in_bytes"), swapValue));
        if (m.reservation)
          CG_TRY(c.write(join(leaf, "memory.soft_limit_in_bytes"), std::to_string(*m.reservation < 0 ? -1 : *m.reservation)));
        if (m.swappiness) CG_TRY(c.write(join(leaf, "memory.swappiness"), std::to_string(*m.swappiness)));
        if (m.disableOOMKiller && *m.disableOOMKiller) CG_TRY(c.write(join(leaf, "memory.oom_control"), "1"));
      } else if (ctrl == "pids") {
        if (r.pidsLimit) CG_TRY(c.write(join(leaf, "pids.max"), limitValue(*r.pidsLimit > 0 ? *r.pidsLimit : -1)));
      }
    }
  }
  // The other hierarchies (and a hybrid's cgroup2): the leaf alone, joined with no limit.
  std::vector<std::string> others = layout.v1Others;
  if (!layout.hybridUnified.empty()) others.push_back(layout.hybridUnified);
  for (size_t k = 0; k < others.size(); k++) {
    std::string dir = others[k];
    for (size_t i = 0; i + 1 < segs.size(); i++) {
      dir = join(dir, segs[i]);
      bool fresh = false;
      CG_TRY(c.parent(dir, &fresh));
    }
    CG_TRY(c.leaf(paths.dirs[hierarchies.size() + k]));
  }
  return {};
}

class RealFs final : public CgroupFs {
 public:
  int mkdir(const std::string& path) override { return ::mkdir(path.c_str(), 0755) == 0 ? 0 : errno; }
  int write(const std::string& path, const std::string& value) override { return writeFile(path.c_str(), value); }
  int read(const std::string& path, std::string* out) override { return readFile(path.c_str(), out); }
  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  int remove(const std::string& path) override { return cgroupRemove(path); }
};

// ---- JSON ----

using nlohmann::json;

Error badJson(const std::string& path) { return Error{EINVAL, kStep, "json", path}; }

Error getInt(const json& obj, const char* key, const std::string& where, std::optional<int64_t>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    *out = it->get<int64_t>();
    return {};
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(it->get<uint64_t>());
    return {};
  }
  return badJson(where + "." + key);
}

Error getUint(const json& obj, const char* key, const std::string& where, std::optional<uint64_t>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_number_unsigned()) {
    *out = it->get<uint64_t>();
    return {};
  }
  return badJson(where + "." + key);
}

Error getString(const json& obj, const char* key, const std::string& where, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) return badJson(where + "." + key);
  *out = it->get<std::string>();
  return {};
}

Error getObject(const json& obj, const char* key, const std::string& where, const json** out) {
  *out = nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_object()) return badJson(where + "." + key);
  *out = &*it;
  return {};
}

}  // namespace

const std::string* CgroupLayout::v1Mount(std::string_view controller) const {
  for (const auto& [c, m] : v1Mounts)
    if (c == controller) return &m;
  return nullptr;
}

Error parseResources(const json& j, LinuxResources* out, const std::string& where) {
  *out = LinuxResources{};
  if (j.is_null()) return {};
  if (!j.is_object()) return badJson(where);
  const json* o = nullptr;
  CG_TRY(getObject(j, "memory", where, &o));
  if (o) {
    const std::string w = where + ".memory";
    auto& m = out->memory;
    CG_TRY(getInt(*o, "limit", w, &m.limit));
    CG_TRY(getInt(*o, "reservation", w, &m.reservation));
    CG_TRY(getInt(*o, "swap", w, &m.swap));
    CG_TRY(getUint(*o, "swappiness", w, &m.swappiness));
    auto it = o->find("disableOOMKiller");
    if (it != o->end() && !it->is_null()) {
      if (!it->is_boolean()) return badJson(w + ".disableOOMKiller");
      m.disableOOMKiller = it->get<bool>();
    }
  }
  CG_TRY(getObject(j, "cpu", where, &o));
  if (o) {
    const std::string w = where + ".cpu";
    auto& c = out->cpu;
    CG_TRY(getUint(*o, "shares", w, &c.shares));
    CG_TRY(getInt(*o, "quota", w, &c.quota));
    CG_TRY(getUint(*o, "period", w, &c.period));
    CG_TRY(getString(*o, "cpus", w, &c.cpus));
    CG_TRY(getString(*o, "mems", w, &c.mems));
  }
  CG_TRY(getObject(j, "pids", where, &o));
  if (o) CG_TRY(getInt(*o, "limit", where + ".pids", &out->pidsLimit));
  CG_TRY(getObject(j, "unified", where, &o));
  if (o) {
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (!it.value().is_string()) return badJson(where + ".unified." + it.key());
      out->unified.emplace_back(it.key(), it.value().get<std::string>());
    }
  }
  return {};
}

Error parseResources(std::string_view text, LinuxResources* out) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return badJson("linux.resources");
  return parseResources(j, out);
}

Error cgroupLayoutFrom(std::string_view mountinfo, long statfsType, CgroupLayout* out) {
  *out = CgroupLayout{};
  const std::vector<MountInfo> mounts = visibleMounts(parseMountinfo(mountinfo));
  const MountInfo* v2Root = nullptr;
  const MountInfo* v2First = nullptr;
  std::vector<std::string> names;  // name=... options of the named hierarchies seen
  for (const auto& m : mounts) {
    if (m.fsType == "cgroup2") {
      if (!v2First) v2First = &m;
      if (m.mountPoint == kDefaultRoot) v2Root = &m;
    } else if (m.fsType == "cgroup") {
      bool controllers = false, seen = false, joined = false;
      std::string name;
      for (const auto& opt : m.superOptions) {
        bool known = false;
        for (const char* c : kV1Controllers) known = known || opt == c;
        if (opt.compare(0, 5, "name=") == 0) name = opt;
        if (!known) continue;
        controllers = true;
        for (const char* c : kV1Joined) joined = joined || opt == c;
        if (const std::string* first = out->v1Mount(opt)) seen = seen || *first != m.mountPoint;
        else out->v1Mounts.emplace_back(opt, m.mountPoint);
      }
      // Another hierarchy (the first mount of it: later ones are binds of the same).
      if (controllers ? !seen && !joined : !name.empty() && !has(names, name)) {
        if (!name.empty()) names.push_back(name);
        if (!has(out->v1Others, m.mountPoint)) out->v1Others.push_back(m.mountPoint);
      }
    }
  }
  if (statfsType == kCgroup2SuperMagic || (statfsType == 0 && v2Root)) {
    out->version = 2;
    out->unifiedMount = v2Root ? v2Root->mountPoint : v2First ? v2First->mountPoint : kDefaultRoot;
    out->v1Mounts.clear();
    out->v1Others.clear();
    return {};
  }
  if (!out->v1Mounts.empty()) {
    out->version = 1;
    if (v2First) out->hybridUnified = v2First->mountPoint;
    return {};
  }
  out->v1Others.clear();
  if (v2First) {
    out->version = 2;
    out->unifiedMount = v2First->mountPoint;
    return {};
  }
  return Error{ENOENT, kStep, "mountinfo", kDefaultRoot};
}

Error cgroupDetect(CgroupLayout* out) {
  std::string text;
  if (int err = readFile("/proc/self/mountinfo", &text)) return fail(kStep, "read", "/proc/self/mountinfo", err);
  struct statfs sfs;
  long type = ::statfs(kDefaultRoot, &sfs) == 0 ? static_cast<long>(sfs.f_type) : 0;
  return cgroupLayoutFrom(text, type, out);
}

Error cgroupPaths(const CgroupLayout& layout, std::string_view cgroupsPath, CgroupPaths* out) {
  *out = CgroupPaths{};
  std::vector<std::string> segs;
  CG_TRY(segments(cgroupsPath, &segs));
  out->version = layout.version;
  if (layout.version == 2) {
    if (layout.unifiedMount.empty()) return invalidArg("mountinfo", kDefaultRoot);
    out->v2Leaf = under(layout.unifiedMount, segs, segs.size());
    out->dirs.push_back(out->v2Leaf);
    out->oomFile = join(out->v2Leaf, "memory.events");
    return {};
  }
  if (layout.version != 1) return invalidArg("mountinfo", kDefaultRoot);
  for (const auto& h : v1Hierarchies(layout)) {
    std::string leaf = under(h.mount, segs, segs.size());
    out->v1Tasks.push_back(join(leaf, "tasks"));
    if (std::find_if(h.controllers.begin(), h.controllers.end(),
                     [](const char* c) { return std::string_view(c) == "memory"; }) != h.controllers.end())
      out->oomFile = join(leaf, "memory.oom_control");
    out->dirs.push_back(std::move(leaf));
  }
  if (out->dirs.empty()) return Error{ENOENT, kStep, "mountinfo", v1Root(layout)};
  for (const auto& mount : layout.v1Others) {
    std::string leaf = under(mount, segs, segs.size());
    out->v1Tasks.push_back(join(leaf, "tasks"));
    out->dirs.push_back(std::move(leaf));
  }
  // A hybrid's cgroup2 leaf: the container is born in it (CLONE_INTO_CGROUP), as on v2. Joining it
  // through cgroup.procs takes the kernel's global threadgroup lock even for a process moving
  // itself (cgroup2 has no per-thread `tasks`), and that lock's RCU grace period cost ~11 ms of
  // every run's wall time here.
  if (!layout.hybridUnified.empty()) {
    out->v2Leaf = under(layout.hybridUnified, segs, segs.size());
    out->dirs.push_back(out->v2Leaf);
  }
  return {};
}

CgroupFs& realCgroupFs() {
  static RealFs fs;
  return fs;
}

Error cgroupApply(const CgroupLayout& layout, std::string_view cgroupsPath, const LinuxResources& resources,
                  CgroupPaths* out, CgroupFs& fs, bool update, size_t delegated) {
  CgroupPaths paths;
  CG_TRY(cgroupPaths(layout, cgroupsPath, &paths));
  CG_TRY(checkResources(layout, resources));
  std::vector<std::string> segs;
  CG_TRY(segments(cgroupsPath, &segs));
  // The delegated subtree is a parent level: at least one segment (the leaf) lies below it.
  if (delegated >= segs.size() || (delegated > 0 && layout.version != 2)) return invalidArg("delegated", std::string(cgroupsPath));
  Creator c(fs, update);
  CG_TRY(layout.version == 2 ? applyV2(layout, segs, resources, paths, c, delegated) : applyV1(layout, segs, resources, paths, c));
  c.commit();
  *out = std::move(paths);
  return {};
}

static void killAll(const std::string& path) {
  if (writeFile((path + "/cgroup.kill").c_str(), "1") == 0) return;
  std::string procs;
  if (readFile((path + "/cgroup.procs").c_str(), &procs) != 0) return;
  size_t i = 0;
  while (i < procs.size()) {
    size_t j = procs.find('\n', i);
    if (j == std::string::npos) j = procs.size();
    long pid = 0;
    for (size_t k = i; k < j; k++) pid = pid * 10 + (procs[k] - '0');
    if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
    i = j + 1;
  }
}

int cgroupRemove(const std::string& path) {
  for (int attempt = 0; attempt < 400; attempt++) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return errno;
    killAll(path);
    struct timespec ts = {0, 5 * 1000 * 1000};
    ::nanosleep(&ts, nullptr);
  }
  return EBUSY;
}

}  // namespace pocker
