// pocker-init's runc-compatible CLI: the lifecycle verbs containerd, Podman and the OCI
// runtime-tools validation drive on a bundle (create, start, state, kill, delete, run, features).
//
// There is no monitor in this mode: `create` clones the container process as its own child and
// exits, so the container is reparented to the caller's subreaper (containerd's shim), which reaps
// it. The container sets itself up completely, then blocks opening ROOT/<id>/exec.fifo for writing;
// `start` opens it for reading, which lets the container write one byte and exec the workload.
// ROOT/<id>/state.json (written atomically) records what the other verbs need; a container whose
// pid is gone, a zombie, or a different process (its start time in /proc/<pid>/stat differs) is
// stopped.
#include "init/runc.h"
#include "init/userns.h"
#include "init/seccomp.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cgroup.h"
#include "common/cgroup_json.h"
#include "common/wire.h"
#include "init/init.h"
#include "init/logs.h"

#ifndef POCKER_VERSION
#define POCKER_VERSION "unknown"  // set by CMakeLists.txt and binding.gyp from package.json
#endif

namespace pocker {
namespace {

// Every function here is [[gnu::cold]] (optimized for size, placed in .text.unlikely, away from the
// code a detached monitor runs; see trimResident in monitor.cpp for the monitor's resident size).
using json = nlohmann::json;

// Global options (plain pointers into argv: no static constructor runs in a monitor).
struct Globals {
  std::string root, log, logFormat;
  bool debug = false;
};
Globals* gp = nullptr;
#define g (*gp)

// An error for the caller: the message on stderr and, with --log, a line in the log file.
[[gnu::cold]] int die(const std::string& msg) {
  std::string line = "pocker-init: " + msg + "\n";
  (void)!write(2, line.data(), line.size());
  if (!g.log.empty()) {
    Fd fd(::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (fd) {
      std::string entry = g.logFormat == "json"
                              ? "{\"level\":\"error\",\"msg\":" + jsonString(msg) + ",\"time\":\"" + nowRfc3339() + "\"}\n"
                              : "time=\"" + nowRfc3339() + "\" level=error msg=" + jsonString(msg) + "\n";
      writeAll(fd.get(), entry.data(), entry.size());
    }
  }
  return 1;
}

// A warning: on stderr and in the log; the verb goes on.
[[gnu::cold]] void warn(const std::string& msg) {
  std::string line = "pocker-init: warning: " + msg + "\n";
  (void)!write(2, line.data(), line.size());
  if (g.log.empty()) return;
  Fd fd(::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return;
  std::string entry = g.logFormat == "json"
                          ? "{\"level\":\"warning\",\"msg\":" + jsonString(msg) + ",\"time\":\"" + nowRfc3339() + "\"}\n"
                          : "time=\"" + nowRfc3339() + "\" level=warning msg=" + jsonString(msg) + "\n";
  writeAll(fd.get(), entry.data(), entry.size());
}

[[gnu::cold]] std::string describe(const Error& e) {
  std::string m = e.step;
  if (e.syscall[0] && std::strcmp(e.syscall, "parse") != 0) m += std::string(": ") + e.syscall;
  if (!e.path.empty()) m += " " + e.path;
  if (std::strcmp(e.syscall, "parse") != 0) m += ": " + std::string(std::strerror(e.err));
  return m;
}

[[gnu::cold]] bool validId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 1024) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+')) return false;
  return true;
}

std::string containerDir(const std::string& id) { return g.root + "/" + id; }

// Field 22 of /proc/<pid>/stat (start time in clock ticks) and the state letter; 0 when gone.
[[gnu::cold]] uint64_t procStart(pid_t pid, char* stateOut = nullptr) {
  std::string text;
  if (pid <= 0 || readFile(("/proc/" + std::to_string(pid) + "/stat").c_str(), &text) != 0) return 0;
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  // After ") ": field 3 (state) onwards.
  size_t at = close + 2;
  int field = 3;
  if (stateOut && at < text.size()) *stateOut = text[at];
  while (field < 22 && at < text.size()) {
    at = text.find(' ', at);
    if (at == std::string::npos) return 0;
    at++;
    field++;
  }
  return std::strtoull(text.c_str() + at, nullptr, 10);
}

struct State {
  std::string id, bundle, rootfs, created, ociVersion = "1.2.0";
  pid_t pid = 0;
  uint64_t startTime = 0;
  std::vector<std::pair<std::string, std::string>> annotations;  // string values, in key order
  std::vector<std::string> cgroups;  // the container's leaves (cgroupRemove each)
  std::string status;                // computed: created, running, stopped
  // hooks.poststart and hooks.poststop, kept from create (the bundle may change afterwards).
  std::string hooksJson = "{}";
};

// One OCI hook: path, args, env, timeout (seconds, 0 = none).
struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  int timeout = 0;
};

// hooks.<kind> of a parsed document (or of the state file's copy).
[[gnu::cold]] bool parseHooks(const json& hooks, const char* kind, std::vector<Hook>* out, std::string* error) {
  if (!hooks.is_object() || !hooks.contains(kind) || hooks[kind].is_null()) return true;
  const json& list = hooks[kind];
  const std::string where = std::string("spec: hooks.") + kind;
  if (!list.is_array()) return *error = where + ": expected an array", false;
  for (size_t i = 0; i < list.size(); i++) {
    const json& h = list[i];
    const std::string hp = where + "[" + std::to_string(i) + "]";
    if (!h.is_object() || !h.contains("path") || !h["path"].is_string()) return *error = hp + ".path: expected a string", false;
    Hook hook;
    hook.path = h["path"].get<std::string>();
    for (const char* field : {"args", "env"}) {
      if (!h.contains(field) || h[field].is_null()) continue;
      if (!h[field].is_array()) return *error = hp + "." + field + ": expected an array", false;
      for (const auto& a : h[field]) {
        if (!a.is_string()) return *error = hp + "." + field + ": expected strings", false;
        (field[0] == 'a' ? hook.args : hook.env).push_back(a.get<std::string>());
      }
    }
    if (h.contains("timeout") && !h["timeout"].is_null()) {
      if (!h["timeout"].is_number_integer() || h["timeout"].get<int64_t>() <= 0)
        return *error = hp + ".timeout: expected a positive integer", false;
      hook.timeout = static_cast<int>(h["timeout"].get<int64_t>());
    }
    if (hook.args.empty()) hook.args.push_back(hook.path);
    out->push_back(std::move(hook));
  }
  return true;
}

[[gnu::cold]] std::string hooksToJson(const std::vector<Hook>& hooks) {
  std::string out = "[";
  for (size_t i = 0; i < hooks.size(); i++) {
    const Hook& h = hooks[i];
    out += std::string(i ? "," : "") + "{\"path\":" + jsonString(h.path) + ",\"args\":[";
    for (size_t k = 0; k < h.args.size(); k++) out += (k ? "," : "") + jsonString(h.args[k]);
    out += "],\"env\":[";
    for (size_t k = 0; k < h.env.size(); k++) out += (k ? "," : "") + jsonString(h.env[k]);
    out += "]" + (h.timeout ? ",\"timeout\":" + std::to_string(h.timeout) : std::string()) + "}";
  }
  return out + "]";
}

// Runs one hook with the state document on its stdin; kills it at its timeout. Returns "" or why
// it failed.
[[gnu::cold]] std::string runHook(const Hook& h, const std::string& stateDoc) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return std::string("pipe2: ") + std::strerror(errno);
  Fd r(in[0]), w(in[1]);
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    dup2(r.get(), 0);
    std::vector<char*> argv, envp;
    for (const auto& a : h.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    execve(h.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  r.reset();
  ::signal(SIGPIPE, SIG_IGN);
  writeAll(w.get(), stateDoc.data(), stateDoc.size());
  w.reset();
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (h.timeout > 0 && pidfd) {
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    if (poll(&p, 1, h.timeout * 1000) == 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return h.path + ": timed out after " + std::to_string(h.timeout) + " s";
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return h.path + ": " + (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                              : "killed by signal " + std::to_string(WTERMSIG(status)));
}

std::string stateDocument(const struct State& st);

// Runs the hooks of `kind` kept in the state file. Failures are warnings (poststart, poststop).
void runStoredHooks(const State& st, const char* kind);

[[gnu::cold]] int readState(const std::string& id, State* st) {
  std::string text;
  if (!validId(id)) return ENOENT;
  if (int e = readFile((containerDir(id) + "/state.json").c_str(), &text)) return e;
  json j = json::parse(text.data(), text.data() + text.size(), nullptr, false);
  if (!j.is_object()) return EINVAL;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  st->id = id;
  st->bundle = str("bundle");
  st->rootfs = str("rootfs");
  st->created = str("created");
  if (!str("ociVersion").empty()) st->ociVersion = str("ociVersion");
  if (j.contains("pid") && j["pid"].is_number_integer()) st->pid = j["pid"].get<pid_t>();
  if (j.contains("startTime") && j["startTime"].is_number_unsigned()) st->startTime = j["startTime"].get<uint64_t>();
  if (j.contains("annotations") && j["annotations"].is_object())
    for (auto it = j["annotations"].begin(); it != j["annotations"].end(); ++it)
      if (it.value().is_string()) st->annotations.emplace_back(it.key(), it.value().get<std::string>());
  if (j.contains("hooks") && j["hooks"].is_object()) {
    std::vector<Hook> post, stop;
    std::string e;
    parseHooks(j["hooks"], "poststart", &post, &e);
    parseHooks(j["hooks"], "poststop", &stop, &e);
    st->hooksJson = "{\"poststart\":" + hooksToJson(post) + ",\"poststop\":" + hooksToJson(stop) + "}";
  }
  if (j.contains("cgroups") && j["cgroups"].is_array())
    for (const auto& c : j["cgroups"])
      if (c.is_string()) st->cgroups.push_back(c.get<std::string>());
  char pstate = 0;
  uint64_t start = procStart(st->pid, &pstate);
  if (start == 0 || start != st->startTime || pstate == 'Z' || pstate == 'X') st->status = "stopped";
  else if (::access((containerDir(id) + "/exec.fifo").c_str(), F_OK) == 0) st->status = "created";
  else st->status = "running";
  return 0;
}

[[gnu::cold]] std::string annotationsJson(const State& st, const char* indent) {
  std::string out = "{";
  for (size_t i = 0; i < st.annotations.size(); i++)
    out += std::string(i ? "," : "") + (indent[0] ? "\n" : "") + indent + jsonString(st.annotations[i].first) + ": " +
           jsonString(st.annotations[i].second);
  return out + (indent[0] ? "\n  }" : "}");
}

[[gnu::cold]] int writeStateFile(const std::string& dir, const State& st) {
  std::string cgroups = "[";
  for (size_t i = 0; i < st.cgroups.size(); i++) cgroups += (i ? "," : "") + jsonString(st.cgroups[i]);
  cgroups += "]";
  return writeState(dir, "{\"version\":1,\"id\":" + jsonString(st.id) + ",\"pid\":" + std::to_string(st.pid) +
                             ",\"startTime\":" + std::to_string(st.startTime) + ",\"bundle\":" + jsonString(st.bundle) +
                             ",\"rootfs\":" + jsonString(st.rootfs) + ",\"created\":" + jsonString(st.created) +
                             ",\"ociVersion\":" + jsonString(st.ociVersion) + ",\"annotations\":" + annotationsJson(st, "") +
                             ",\"cgroups\":" + cgroups + ",\"hooks\":" + st.hooksJson + "}");
}

// The runtime-spec state document (runc's field order; annotations in key order, as Go's
// encoding/json writes a map).
[[gnu::cold]] std::string stateDocument(const State& st) {
  std::string out = "{\n  \"ociVersion\": " + jsonString(st.ociVersion) + ",\n  \"id\": " + jsonString(st.id) +
                    ",\n  \"pid\": " + std::to_string(st.status == "stopped" ? 0 : st.pid) +
                    ",\n  \"status\": " + jsonString(st.status) + ",\n  \"bundle\": " + jsonString(st.bundle) +
                    ",\n  \"rootfs\": " + jsonString(st.rootfs) + ",\n  \"created\": " + jsonString(st.created) + ",\n";
  if (!st.annotations.empty()) out += "  \"annotations\": " + annotationsJson(st, "    ") + ",\n";
  return out + "  \"owner\": \"\"\n}";
}

[[gnu::cold]] void runStoredHooks(const State& st, const char* kind) {
  json hooks = json::parse(st.hooksJson.data(), st.hooksJson.data() + st.hooksJson.size(), nullptr, false);
  std::vector<Hook> list;
  std::string e;
  if (!parseHooks(hooks, kind, &list, &e)) return;
  for (const auto& h : list)
    if (std::string why = runHook(h, stateDocument(st)); !why.empty()) warn(std::string(kind) + " hook " + why);
}

// Atomic pid file: temp + rename, decimal pid, no newline.
[[gnu::cold]] int writePidFile(const std::string& path, pid_t pid) {
  size_t slash = path.rfind('/');
  std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." +
                    (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errno;
  std::string text = std::to_string(pid);
  if (!writeAll(fd.get(), text.data(), text.size())) {
    int e = errno;
    ::unlink(tmp.c_str());
    return e;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return e;
  }
  return 0;
}

// The runtime-spec's default devices, added when the document does not list them (as runc does).
[[gnu::cold]] void addDefaultDevices(Spec* spec) {
  static const struct {
    const char* path;
    int major, minor;
  } defaults[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                  {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  for (const auto& d : defaults) {
    bool listed = false;
    for (const auto& e : spec->devices) listed = listed || e.path == d.path;
    if (listed) continue;
    DeviceSpec dev;
    dev.type = 'c';
    dev.path = d.path;
    dev.major = d.major;
    dev.minor = d.minor;
    dev.fileMode = 0666;
    spec->devices.push_back(dev);
  }
}

[[gnu::cold]] std::string absolutePath(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  if (!p.empty() && p[0] == '/') return p;
  if (!getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

struct CreateOpts {
  std::string id, bundle, pidFile, consoleSocket;
  bool noPivot = false, noNewKeyring = false;
  int preserveFds = 0;
};

// Everything create made, undone on failure.
struct Undo {
  std::string dir;
  std::vector<std::string> cgroups;
  pid_t pid = -1;
  bool armed = true;
  ~Undo() {
    if (!armed) return;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
      }
    }
    for (const auto& c : cgroups) cgroupRemove(c);
    if (!dir.empty()) removeTree(dir);
  }
};

// create (and the first half of run). On success *pidOut is the container's pid; it waits on
// its exec fifo.
[[gnu::cold]] int doCreate(const CreateOpts& o, pid_t* pidOut) {
  if (!validId(o.id)) return die("invalid container id " + jsonString(o.id));
  ::mkdir(g.root.c_str(), 0711);
  std::string dir = containerDir(o.id);
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) return die("container with given ID already exists");
    return die("mkdir " + dir + ": " + std::strerror(errno));
  }
  Undo undo;
  undo.dir = dir;

  std::string bundle = absolutePath(o.bundle.empty() ? "." : o.bundle);
  std::string raw;
  if (int e = readFile((bundle + "/config.json").c_str(), &raw))
    return die("open " + bundle + "/config.json: " + std::strerror(e));
  Spec spec;
  if (Error err = parseSpec(raw.data(), raw.size(), &spec)) return die(describe(err));
  json doc = json::parse(raw.data(), raw.data() + raw.size(), nullptr, false);
  if (!spec.rootfs.empty() && spec.rootfs[0] != '/') spec.rootfs = bundle + "/" + spec.rootfs;
  spec.rootfs = absolutePath(spec.rootfs);
  struct stat rst;
  if (::stat(spec.rootfs.c_str(), &rst) != 0 || !S_ISDIR(rst.st_mode))
    return die("rootfs " + spec.rootfs + ": not a directory");
  if (spec.overlay || spec.detach || spec.execPid) return die("the pocker section is not accepted by the runc verbs");
  if (Error err = compileSeccomp(&spec)) return die(describe(err));
  if (spec.tty && o.consoleSocket.empty())
    return die("cannot allocate tty if runc will detach without setting console socket");
  if (!spec.tty && !o.consoleSocket.empty()) return die("cannot use console socket if runc will not detach or allocate tty");
  bool mountNs = (spec.namespaces & CLONE_NEWNS) != 0;
  for (const auto& j : spec.joins) mountNs = mountNs || j.flag == CLONE_NEWNS;
  // Never set up a rootfs in the host's mount namespace.
  if (!mountNs) return die("linux.namespaces: a mount namespace is required");
  spec.runc = true;
  spec.preserveFds = o.preserveFds;
  addDefaultDevices(&spec);

  // Values the shared parser does not keep: cgroups, annotations, oomScoreAdj.
  std::string cgroupsPath = "/pocker/" + o.id;
  LinuxResources resources;
  State st;
  st.id = o.id;
  st.bundle = bundle;
  st.rootfs = spec.rootfs;
  if (doc.contains("ociVersion") && doc["ociVersion"].is_string()) st.ociVersion = doc["ociVersion"].get<std::string>();
  if (doc.contains("annotations") && doc["annotations"].is_object())
    for (auto it = doc["annotations"].begin(); it != doc["annotations"].end(); ++it)
      if (it.value().is_string()) st.annotations.emplace_back(it.key(), it.value().get<std::string>());
  if (doc.contains("linux") && doc["linux"].is_object()) {
    const json& l = doc["linux"];
    if (l.contains("cgroupsPath") && l["cgroupsPath"].is_string() && !l["cgroupsPath"].get<std::string>().empty())
      cgroupsPath = l["cgroupsPath"].get<std::string>();
    if (l.contains("resources") && l["resources"].is_object())
      if (Error err = parseResources(l["resources"], &resources)) return die(describe(err));
  }
  std::vector<Hook> createRuntime, prestart, poststart, poststop;
  if (doc.contains("hooks")) {
    std::string e;
    if (!parseHooks(doc["hooks"], "createRuntime", &createRuntime, &e) || !parseHooks(doc["hooks"], "prestart", &prestart, &e) ||
        !parseHooks(doc["hooks"], "poststart", &poststart, &e) || !parseHooks(doc["hooks"], "poststop", &poststop, &e))
      return die(e);
  }
  st.hooksJson = "{\"poststart\":" + hooksToJson(poststart) + ",\"poststop\":" + hooksToJson(poststop) + "}";
  int oomScoreAdj = INT_MIN;
  if (doc.contains("process") && doc["process"].is_object() && doc["process"].contains("oomScoreAdj")) {
    const json& v = doc["process"]["oomScoreAdj"];
    if (!v.is_number_integer()) return die("spec: process.oomScoreAdj: expected an integer");
    oomScoreAdj = v.get<int>();
  }

  Fd console;
  if (!o.consoleSocket.empty()) {
    console.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (o.consoleSocket.size() >= sizeof addr.sun_path) return die("console socket path too long");
    std::memcpy(addr.sun_path, o.consoleSocket.data(), o.consoleSocket.size());
    if (!console || connect(console.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0)
      return die("connect " + o.consoleSocket + ": " + std::strerror(errno));
  }

  CgroupLayout layout;
  CgroupPaths paths;
  if (Error err = cgroupDetect(&layout)) return die(describe(err));
  if (Error err = cgroupApply(layout, cgroupsPath, resources, &paths)) return die(describe(err));
  undo.cgroups = paths.dirs;
  // cgroup v1 devices: deny everything but linux.resources.devices and the default nodes (without
  // it a container with CAP_MKNOD could make and open any host device). v2 would need an eBPF
  // program: not done yet (see README).
  if (const std::string* devMount = layout.version == 1 ? layout.v1Mount("devices") : nullptr) {
    std::string dev = *devMount;
    std::vector<std::string> parts;
    for (size_t a = 0; a <= cgroupsPath.size();) {
      size_t b = cgroupsPath.find('/', a);
      if (b == std::string::npos) b = cgroupsPath.size();
      if (b > a) parts.push_back(cgroupsPath.substr(a, b - a));
      a = b + 1;
    }
    std::string leaf = dev;
    for (const auto& p : parts) leaf += "/" + p;
    // cgroupApply made (and the container joins) the leaf of every hierarchy, devices included.
    const bool made = std::find(paths.dirs.begin(), paths.dirs.end(), leaf) != paths.dirs.end();
    for (size_t k = 0; k < parts.size() && !made; k++) {
      dev += "/" + parts[k];
      if (::mkdir(dev.c_str(), 0755) != 0 && (errno != EEXIST || k + 1 == parts.size()))
        return die("cgroup: mkdir " + dev + ": " + std::strerror(errno));
    }
    dev = leaf;
    if (!made) undo.cgroups.push_back(dev);
    std::vector<std::pair<bool, std::string>> rules = {{false, "a"}};
    const json* rd = nullptr;
    if (doc.contains("linux") && doc["linux"].is_object() && doc["linux"].contains("resources") &&
        doc["linux"]["resources"].is_object() && doc["linux"]["resources"].contains("devices"))
      rd = &doc["linux"]["resources"]["devices"];
    if (rd && rd->is_array())
      for (size_t k = 0; k < rd->size(); k++) {
        const json& r = (*rd)[k];
        const std::string where = "spec: linux.resources.devices[" + std::to_string(k) + "]";
        if (!r.is_object() || !r.contains("allow") || !r["allow"].is_boolean()) return die(where + ": expected allow");
        std::string type = r.contains("type") && r["type"].is_string() ? r["type"].get<std::string>() : "a";
        std::string access = r.contains("access") && r["access"].is_string() ? r["access"].get<std::string>() : "rwm";
        auto num = [&](const char* k2) {
          return r.contains(k2) && r[k2].is_number_integer() && r[k2].get<int64_t>() >= 0 ? std::to_string(r[k2].get<int64_t>())
                                                                                           : std::string("*");
        };
        if (type != "a" && type != "c" && type != "b") return die(where + ".type: expected a, b or c");
        if (access.empty() || access.find_first_not_of("rwm") != std::string::npos) return die(where + ".access: expected r, w, m");
        rules.emplace_back(r["allow"].get<bool>(), type == "a" ? "a" : type + " " + num("major") + ":" + num("minor") + " " + access);
      }
    for (const auto& d : spec.devices)
      if (d.type != 'p')
        rules.emplace_back(true, std::string(1, d.type) + " " + std::to_string(d.major) + ":" + std::to_string(d.minor) + " rwm");
    for (const char* r : {"c *:* m", "b *:* m", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"}) rules.emplace_back(true, r);
    for (const auto& [allow, rule] : rules) {
      std::string file = dev + (allow ? "/devices.allow" : "/devices.deny");
      if (int e = writeFile(file.c_str(), rule)) return die("cgroup: write " + file + " " + jsonString(rule) + ": " + std::strerror(e));
    }
    if (!made) {
      paths.v1Tasks.push_back(dev + "/tasks");
      paths.dirs.push_back(dev);
    }
  }
  spec.cgroupV1Tasks = paths.v1Tasks;
  spec.cgroupV2 = paths.v2Leaf;
  spec.cgroupVersion = layout.version;
  std::vector<std::string> hierarchies;
  for (const auto& [controller, mount] : layout.v1Mounts) hierarchies.push_back(mount);
  hierarchies.insert(hierarchies.end(), layout.v1Others.begin(), layout.v1Others.end());
  if (!layout.hybridUnified.empty()) hierarchies.push_back(layout.hybridUnified);
  for (const auto& mount : hierarchies) {
    std::string name = mount.substr(mount.rfind('/') + 1);
    bool seen = false;
    for (const auto& b : spec.cgroupBinds) seen = seen || b.first == name;
    if (seen || name.empty()) continue;
    // Only the hierarchies the container has a leaf in (never the host's tree).
    for (const auto& d : paths.dirs)
      if (d.compare(0, mount.size() + 1, mount + "/") == 0) {
        spec.cgroupBinds.emplace_back(name, d);
        break;
      }
  }

  std::string fifoPath = dir + "/exec.fifo";
  if (::mkfifo(fifoPath.c_str(), 0622) != 0) return die("mkfifo " + fifoPath + ": " + std::strerror(errno));
  ::chmod(fifoPath.c_str(), 0622);
  Fd fifo(::open(fifoPath.c_str(), O_PATH | O_CLOEXEC));
  if (!fifo) return die("open " + fifoPath + ": " + std::strerror(errno));
  spec.execFifo = fifo.get();

  if (oomScoreAdj != INT_MIN && writeFile("/proc/self/oom_score_adj", std::to_string(oomScoreAdj)) != 0)
    return die("write /proc/self/oom_score_adj: " + std::string(std::strerror(errno)));

  std::vector<Fd> joins;
  std::vector<int> joinFds;
  if (Error err = openNamespaceJoins(spec, &joins, &joinFds)) return die(describe(err));

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return die("socketpair: " + std::string(std::strerror(errno)));
  Fd child(pair[0]), childEnd(pair[1]);
  Fd cgroupFd;
  if (!spec.cgroupV2.empty()) {
    cgroupFd.reset(::open(spec.cgroupV2.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cgroupFd) return die("open " + spec.cgroupV2 + ": " + std::strerror(errno));
  }
  st.created = nowRfc3339();
  pid_t pid = clone3Container(spec, cgroupFd.get());
  if (pid < 0) return die("clone3: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    child.reset();
    console.reset();
    _exit(runContainer(spec, childEnd.get(), joinFds));
  }
  undo.pid = pid;
  childEnd.reset();
  cgroupFd.reset();
  // A new user namespace: its maps, and its cgroup v1 hierarchies joined from here (init/userns.h;
  // a bundle's rootfs is ready: no idmapped overlay to make).
  if (spec.namespaces & CLONE_NEWUSER) {
    if (Error err = writeIdMaps(spec, pid)) return die(describe(err));
    for (const auto& tasks : spec.cgroupV1Tasks)
      if (int e = writeFile(tasks.c_str(), std::to_string(pid))) return die(describe(fail("cgroup", "write", tasks, e)));
  }
  if (!sendMsg(child.get(), wire::encodeKind(wire::Sync::Go))) return die("start: sendmsg: " + std::string(std::strerror(errno)));
  // Start-up: the pty master (passed on to the console socket), an error, or EOF (ready).
  for (;;) {
    char buf[4096];
    int fd = -1;
    ssize_t n = recvMsg(child.get(), buf, sizeof buf - 1, &fd);
    if (n < 0) return die("start: recvmsg: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    Fd passed(fd);
    wire::SyncMsg m;
    if (!wire::decode(buf, static_cast<size_t>(n), &m)) continue;
    if (m.kind == wire::Sync::Pty && passed) {
      static const char name[] = "/dev/ptmx";
      struct iovec iov = {const_cast<char*>(name), sizeof name - 1};
      char cbuf[CMSG_SPACE(sizeof(int))];
      std::memset(cbuf, 0, sizeof cbuf);
      struct msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = cbuf;
      msg.msg_controllen = sizeof cbuf;
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int pfd = passed.get();
      std::memcpy(CMSG_DATA(c), &pfd, sizeof pfd);
      if (sendmsg(console.get(), &msg, MSG_NOSIGNAL) < 0) return die("console socket: sendmsg: " + std::string(std::strerror(errno)));
    } else if (m.kind == wire::Sync::Error) {
      Error e{m.err, "", "", m.path};
      std::string text = m.step + (m.syscall.empty() ? "" : ": " + m.syscall) + (m.path.empty() ? "" : " " + m.path) +
                         (m.syscall == "parse" ? "" : ": " + std::string(std::strerror(m.err)));
      if (m.step == "exec") text = "exec: " + jsonString(m.path) + ": executable file not found in $PATH";
      return die(text);
    }
  }
  int status;
  if (waitpid(pid, &status, WNOHANG | __WALL) == pid) {
    undo.pid = -1;
    return die("the container process exited during set-up");
  }
  st.pid = pid;
  st.startTime = procStart(pid);
  st.cgroups = paths.dirs;
  if (int e = writeStateFile(dir, st)) return die("write state: " + std::string(std::strerror(e)));
  // prestart (deprecated) and createRuntime: in the runtime's namespaces, the container created
  // and waiting; a failure fails create (and undoes it).
  st.status = "created";
  for (const auto* list : {&prestart, &createRuntime})
    for (const auto& h : *list)
      if (std::string why = runHook(h, stateDocument(st)); !why.empty())
        return die(std::string(list == &prestart ? "prestart" : "createRuntime") + " hook " + why);
  if (!o.pidFile.empty())
    if (int e = writePidFile(o.pidFile, pid)) return die("write pid file " + o.pidFile + ": " + std::strerror(e));
  undo.armed = false;
  *pidOut = pid;
  return 0;
}

[[gnu::cold]] bool flag(const char* a, const char* shortName, const char* longName) {
  return (shortName && std::strcmp(a, shortName) == 0) || std::strcmp(a, longName) == 0 ||
         (longName[0] == '-' && longName[1] == '-' && a[0] == '-' && a[1] != '-' && std::strcmp(a + 1, longName + 2) == 0);
}

// "--name=value" or "--name value"; advances *i. True when a[*i] is this option.
[[gnu::cold]] bool option(int argc, char** argv, int* i, const char* shortName, const char* longName, std::string* out, bool* missing) {
  const char* a = argv[*i];
  size_t n = std::strlen(longName);
  if (std::strncmp(a, longName, n) == 0 && a[n] == '=') {
    *out = a + n + 1;
    return true;
  }
  if (std::strncmp(a, "-", 1) == 0 && a[1] != '-' && std::strncmp(a + 1, longName + 2, n - 2) == 0 && a[n - 1] == '=') {
    *out = a + n;
    return true;
  }
  if (!flag(a, shortName, longName)) return false;
  if (*i + 1 >= argc) {
    *missing = true;
    return true;
  }
  *out = argv[++*i];
  return true;
}

[[gnu::cold]] int cmdCreate(int argc, char** argv, bool run) {
  CreateOpts o;
  bool detach = false;
  std::vector<std::string> pos;
  for (int i = 0; i < argc; i++) {
    const char* a = argv[i];
    bool missing = false;
    std::string v;
    if (option(argc, argv, &i, "-b", "--bundle", &o.bundle, &missing) ||
        option(argc, argv, &i, nullptr, "--pid-file", &o.pidFile, &missing) ||
        option(argc, argv, &i, nullptr, "--console-socket", &o.consoleSocket, &missing)) {
      if (missing) return die(std::string("option ") + a + " needs a value");
    } else if (option(argc, argv, &i, nullptr, "--preserve-fds", &v, &missing)) {
      if (missing) return die("option --preserve-fds needs a value");
      o.preserveFds = std::atoi(v.c_str());
      if (o.preserveFds < 0) return die("--preserve-fds: expected a number");
    } else if (flag(a, nullptr, "--no-pivot")) {
      o.noPivot = true;
    } else if (flag(a, nullptr, "--no-new-keyring")) {
      o.noNewKeyring = true;
    } else if (run && flag(a, "-d", "--detach")) {
      detach = true;
    } else if (flag(a, nullptr, "--keep") || flag(a, nullptr, "--no-subreaper")) {
    } else if (a[0] == '-' && a[1]) {
      return die(std::string("unknown option ") + a);
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 1) return die(std::string(run ? "run" : "create") + ": expected exactly one argument, the container id");
  o.id = pos[0];
  pid_t pid = 0;
  if (int rc = doCreate(o, &pid)) return rc;
  if (!run) return 0;
  // run: start now; without --detach wait for the container (our child) and delete it.
  std::string fifoPath = containerDir(o.id) + "/exec.fifo";
  Fd fifo(::open(fifoPath.c_str(), O_RDONLY | O_CLOEXEC));
  char c;
  if (!fifo || read(fifo.get(), &c, 1) != 1) return die("start: the container did not start");
  while (read(fifo.get(), &c, 1) > 0) {  // EOF: the workload is exec'd
  }
  ::unlink(fifoPath.c_str());
  State st;
  bool haveState = readState(o.id, &st) == 0;
  if (haveState) runStoredHooks(st, "poststart");
  if (detach) return 0;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (haveState) {
    for (const auto& d : st.cgroups) cgroupRemove(d);
  }
  removeTree(containerDir(o.id));
  if (haveState) {
    st.status = "stopped";
    runStoredHooks(st, "poststop");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

[[gnu::cold]] int oneId(int argc, char** argv, const char* verb, std::string* id) {
  std::vector<std::string> pos;
  for (int i = 0; i < argc; i++) pos.push_back(argv[i]);
  if (pos.size() != 1) return die(std::string(verb) + ": expected exactly one argument, the container id");
  *id = pos[0];
  return 0;
}

[[gnu::cold]] int cmdStart(int argc, char** argv) {
  std::string id;
  if (int rc = oneId(argc, argv, "start", &id)) return rc;
  State st;
  if (readState(id, &st) != 0) return die("container does not exist");
  if (st.status == "stopped") return die("cannot start a container that has stopped");
  if (st.status == "running") return die("cannot start an already running container");
  std::string fifoPath = containerDir(id) + "/exec.fifo";
  // Non-blocking open (the container is blocked opening the other end), then wait for its byte,
  // checking that it is still alive.
  Fd fifo(::open(fifoPath.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return die("open " + fifoPath + ": " + std::strerror(errno));
  bool gotByte = false;
  for (;;) {
    char c;
    ssize_t n = read(fifo.get(), &c, 1);
    if (n == 1) {
      gotByte = true;
      continue;
    }
    // EOF after the byte: the container closed its end by exec'ing (or exiting).
    if (n == 0 && gotByte) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return die("read exec fifo: " + std::string(std::strerror(errno)));
    char pstate = 0;
    uint64_t start = procStart(st.pid, &pstate);
    if (start != st.startTime || pstate == 'Z') return die("cannot start a container that has stopped");
    struct pollfd p = {fifo.get(), POLLIN, 0};
    poll(&p, 1, 50);
  }
  ::unlink(fifoPath.c_str());
  st.status = "running";
  runStoredHooks(st, "poststart");
  return 0;
}

[[gnu::cold]] int cmdState(int argc, char** argv) {
  std::string id;
  if (int rc = oneId(argc, argv, "state", &id)) return rc;
  State st;
  if (readState(id, &st) != 0) return die("container does not exist");
  std::string out = stateDocument(st) + "\n";
  return writeAll(1, out.data(), out.size()) ? 0 : 1;
}

[[gnu::cold]] int parseSignal(const std::string& s) {
  static const struct {
    const char* name;
    int sig;
  } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
               {"ABRT", SIGABRT}, {"IOT", SIGIOT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL},
               {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
               {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
               {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU},
               {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
               {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  if (s.empty()) return -1;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    char* end;
    long v = std::strtol(s.c_str(), &end, 10);
    return *end == 0 && v > 0 && v < NSIG ? static_cast<int>(v) : -1;
  }
  std::string n = s;
  for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  for (const auto& e : names)
    if (n == e.name) return e.sig;
  return -1;
}

// A pidfd of the container's process, only if it is still the recorded one.
[[gnu::cold]] int containerPidfd(const State& st) {
  if (st.pid <= 0) return -1;
  int fd = static_cast<int>(syscall(SYS_pidfd_open, st.pid, 0));
  if (fd < 0) return -1;
  char pstate = 0;
  if (procStart(st.pid, &pstate) != st.startTime || pstate == 'Z') {
    ::close(fd);
    return -1;
  }
  return fd;
}

[[gnu::cold]] void killCgroup(const State& st, int sig) {
  for (const auto& d : st.cgroups) {
    std::string text;
    if (readFile((d + "/cgroup.procs").c_str(), &text) != 0) continue;
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string::npos) j = text.size();
      pid_t p = static_cast<pid_t>(std::strtol(text.substr(i, j - i).c_str(), nullptr, 10));
      if (p > 0) ::kill(p, sig);
      i = j + 1;
    }
    return;  // one hierarchy holds them all
  }
}

[[gnu::cold]] int cmdKill(int argc, char** argv) {
  bool all = false;
  std::vector<std::string> pos;
  for (int i = 0; i < argc; i++) {
    if (flag(argv[i], "-a", "--all")) all = true;
    else pos.push_back(argv[i]);
  }
  if (pos.empty() || pos.size() > 2) return die("kill: expected the container id and an optional signal");
  int sig = pos.size() == 2 ? parseSignal(pos[1]) : SIGTERM;
  if (sig < 0) return die("invalid signal " + jsonString(pos[1]));
  State st;
  if (readState(pos[0], &st) != 0) return die("container does not exist");
  if (st.status == "stopped") return die("container not running");
  if (all) {
    killCgroup(st, sig);
    return 0;
  }
  Fd pidfd(containerPidfd(st));
  if (!pidfd) return die("container not running");
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0) return die("kill: " + std::string(std::strerror(errno)));
  return 0;
}

[[gnu::cold]] void destroy(const State& st) {
  for (const auto& d : st.cgroups) cgroupRemove(d);
  removeTree(containerDir(st.id));
}

[[gnu::cold]] int cmdDelete(int argc, char** argv) {
  bool force = false;
  std::vector<std::string> pos;
  for (int i = 0; i < argc; i++) {
    if (flag(argv[i], "-f", "--force")) force = true;
    else pos.push_back(argv[i]);
  }
  if (pos.size() != 1) return die("delete: expected exactly one argument, the container id");
  State st;
  if (readState(pos[0], &st) != 0) {
    if (force) return 0;
    return die("container does not exist");
  }
  if (st.status != "stopped") {
    if (!force) return die("cannot delete container " + st.id + " that is not stopped: " + st.status);
    Fd pidfd(containerPidfd(st));
    if (pidfd) {
      syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      struct pollfd p = {pidfd.get(), POLLIN, 0};
      for (int i = 0; i < 100 && poll(&p, 1, 100) == 0; i++) {
      }
    }
  }
  destroy(st);
  st.status = "stopped";
  runStoredHooks(st, "poststop");
  return 0;
}

[[gnu::cold]] int cmdFeatures() {
  static const char features[] = R"({
  "ociVersionMin": "1.0.0",
  "ociVersionMax": "1.2.0",
  "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
  "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime",
    "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "rdev",
    "relatime", "remount", "rexec", "rnodev", "rnoexec", "rnosuid", "ro", "rprivate", "rro", "rrw", "rshared", "rslave",
    "rsuid", "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"],
  "linux": {
    "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
    "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
    "seccomp": {"enabled": true,
      "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
      "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
      "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
      "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
      "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]},
    "apparmor": {"enabled": false},
    "selinux": {"enabled": false}
  }
}
)";
  return writeAll(1, features, sizeof features - 1) ? 0 : 1;
}

}  // namespace

int runcMain(int argc, char** argv) {
  Globals globals;
  globals.root = "/run/pocker/runc";
  globals.logFormat = "text";
  gp = &globals;
  int i = 1;
  for (; i < argc; i++) {
    const char* a = argv[i];
    bool missing = false;
    std::string v;
    if (a[0] != '-') break;
    if (option(argc, argv, &i, nullptr, "--root", &g.root, &missing) ||
        option(argc, argv, &i, nullptr, "--log", &g.log, &missing) ||
        option(argc, argv, &i, nullptr, "--log-format", &g.logFormat, &missing) ||
        option(argc, argv, &i, nullptr, "--criu", &v, &missing) ||
        option(argc, argv, &i, nullptr, "--rootless", &v, &missing)) {
      if (missing) return die(std::string("option ") + a + " needs a value");
    } else if (flag(a, nullptr, "--debug")) {
      g.debug = true;
    } else if (flag(a, nullptr, "--systemd-cgroup")) {
      return die("--systemd-cgroup is not supported");
    } else if (flag(a, "-v", "--version")) {
      // runc's lines: version, spec, libseccomp (POCKER_VERSION: package.json's, set by CMakeLists.txt).
      const scmp_version* sv = seccomp_version();
      char text[160];
      int len = std::snprintf(text, sizeof text, "pocker-init version %s (runc-compatible CLI)\nspec: 1.2.0\nlibseccomp: %u.%u.%u\n",
                              POCKER_VERSION, sv ? sv->major : 0, sv ? sv->minor : 0, sv ? sv->micro : 0);
      return len > 0 && writeAll(1, text, static_cast<size_t>(len)) ? 0 : 1;
    } else {
      return die(std::string("unknown global option ") + a);
    }
  }
  if (i >= argc) return die("usage: pocker-init [--root DIR] [--log FILE] [--log-format text|json] VERB ...");
  std::string verb = argv[i];
  int n = argc - i - 1;
  char** rest = argv + i + 1;
  if (verb == "create") return cmdCreate(n, rest, false);
  if (verb == "run") return cmdCreate(n, rest, true);
  if (verb == "start") return cmdStart(n, rest);
  if (verb == "state") return cmdState(n, rest);
  if (verb == "kill") return cmdKill(n, rest);
  if (verb == "delete") return cmdDelete(n, rest);
  if (verb == "features") return cmdFeatures();
  return die("unknown command " + jsonString(verb));
}

}  // namespace pocker
