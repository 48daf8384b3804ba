// The container spec pocker-init is handed (a sealed memfd on fd 4): an OCI runtime-spec v1.2
// config.json plus a top-level `pocker` section (overlay layers, Docker's user string, image
// volumes, the monitor, exec mode, the cgroups the TypeScript side made). Types on the TS side:
// lib/spec/oci.ts and lib/spec/pocker.ts; built by lib/spec/build.ts.
//
// parseSpec() checks every field it reads (type, range, no NUL byte) and fills a flat Spec;
// unknown fields are ignored, an invalid one is an error naming its JSON path, e.g.
//   spec: mounts[3].options[1]: expected a string
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/netlink.h"
#include "common/util.h"

namespace pocker {

enum RestartPolicy : uint8_t { RestartNo = 0, RestartOnFailure = 1, RestartAlways = 2, RestartUnlessStopped = 3 };

// One OCI mount, its options parsed once (mount(8) words: flags, propagation, the rest is fs data).
struct MountSpec {
  std::string destination, type, source;
  unsigned long flags = 0;        // MS_* to set (MS_BIND / MS_REC for bind and rbind)
  unsigned long propagation = 0;  // MS_PRIVATE / MS_SLAVE / MS_SHARED / MS_UNBINDABLE (| MS_REC), 0 = unchanged
  std::string data;               // comma-joined options that are not flags (tmpfs size=, mode=, ...)
  // Recursive attributes (OCI's rro, rnosuid, rnodev, rnoexec and their r-clears): MOUNT_ATTR_*
  // set or cleared on the mount and every mount under it (mount_setattr with AT_RECURSIVE).
  uint64_t recursiveSet = 0, recursiveClear = 0;
  bool bind() const;
};

struct DeviceSpec {
  char type = 'c';  // c, b, u (= c), p
  std::string path;
  int64_t major = 0, minor = 0;
  uint32_t fileMode = 0666;
  uint32_t uid = 0, gid = 0;
};

struct NamespaceSpec {
  int flag = 0;      // CLONE_NEW*
  std::string path;  // join this one (setns) instead of creating one
};

// linux.uidMappings / gidMappings: container ids [containerId, containerId+size) are host ids
// [hostId, hostId+size) (user_namespaces(7)).
struct IdMapping {
  uint32_t containerId = 0, hostId = 0, size = 0;
};

struct RlimitSpec {
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

// linux.seccomp (OCI config-linux.md#seccomp): actions and operators parsed from their SCMP_* names;
// cpp/init/seccomp.cpp turns the profile into a BPF program with libseccomp.
enum class SeccompAction : uint8_t { Kill, KillProcess, KillThread, Trap, Errno, Trace, Allow, Log };
enum class SeccompOp : uint8_t { NotEqual, LessThan, LessEqual, Equal, GreaterEqual, GreaterThan, MaskedEqual };

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0, valueTwo = 0;
  SeccompOp op = SeccompOp::Equal;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::Allow;
  uint32_t ret = 0;  // errnoRet (ERRNO, default EPERM) or the TRACE/TRAP value
  std::vector<SeccompArg> args;
};

struct SeccompSpec {
  bool present = false;
  SeccompAction defaultAction = SeccompAction::Allow;
  uint32_t defaultRet = 0;
  std::vector<std::string> architectures;  // SCMP_ARCH_* names
  bool flagLog = false, flagSpecAllow = false;
  std::vector<SeccompRule> syscalls;
};

struct Spec {
  // process
  std::vector<std::string> args, env;
  std::string cwd = "/";
  bool tty = false;  // process.terminal
  uint16_t rows = 0, cols = 0;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additionalGids;
  uint32_t umask = 022;
  uint64_t capBounding = 0, capEffective = 0, capInheritable = 0, capPermitted = 0, capAmbient = 0;
  std::vector<RlimitSpec> rlimits;
  bool noNewPrivs = false;
  // root, hostname, mounts
  std::string rootfs;  // root.path
  bool readOnly = false;
  std::string hostname, domainname;
  bool hasHostname = false, hasDomainname = false;
  std::vector<MountSpec> mounts;
  // linux
  uint32_t namespaces = 0;  // CLONE_NEW* of the namespaces to create
  std::vector<NamespaceSpec> joins;  // namespaces to join (with a path)
  // A user namespace: new (CLONE_NEWUSER in `namespaces`, with these maps, which the monitor writes
  // after clone3) or joined (`joins`). Every other new namespace is then owned by it.
  std::vector<IdMapping> uidMappings, gidMappings;
  std::vector<DeviceSpec> devices;
  std::vector<std::string> masks, readonlyPaths;
  std::vector<std::pair<std::string, std::string>> sysctl;
  SeccompSpec seccomp;
  // The BPF program compiled from `seccomp` (struct sock_filter[]), made once before the container
  // is cloned (cpp/init/seccomp.h: compileSeccomp); empty = no filter.
  std::string seccompProgram;
  unsigned long rootfsPropagation = 0;  // 0 = rslave (the default)
  // pocker: overlay rootfs (absent: root.path is ready)
  bool overlay = false, scratchUpper = false;
  std::vector<std::string> lowers;
  std::string upper, work;
  // pocker: Docker's user[:group], resolved inside the rootfs (replaces process.user)
  bool hasUser = false;
  std::string user;
  std::vector<std::pair<std::string, std::string>> volumes;  // image volumes: source, destination
  bool init = false;
  // pocker.seccompCache: where the compiled program of this profile is cached (read if present,
  // written after a compile); empty = compile every time.
  std::string seccompCache;
  // pocker.monitor
  bool foreground = false, detach = false, removeOnExit = false, interactive = false, stdinOnce = false,
       attachFd = false;
  std::string stateDir, logPath, attachSocket;
  uint64_t logMaxSize = 0;
  uint32_t logMaxFiles = 1;
  uint8_t restartPolicy = RestartNo;
  // pocker.monitor.events: the root's events.log, the container id and the attributes of its events
  std::string eventsLog, eventsId;
  std::vector<std::pair<std::string, std::string>> eventsAttributes;
  uint32_t restartMax = 0;
  // pocker.exec
  uint32_t execPid = 0;
  // pocker.cgroups
  std::string cgroupV2, oomV1, oomV2;
  std::vector<std::string> cgroupV1Tasks, cgroupCleanup;
  // runc verbs (set by cpp/init/runc.cpp, never read from the document): the container waits on
  // its exec fifo (an O_PATH fd, opened through /proc/self/fd) instead of exec'ing at once, has no
  // monitor (no parent-death signal), and keeps fds 3..3+preserveFds-1 across exec.
  bool runc = false;
  int execFifo = -1;
  int preserveFds = 0;
  // A mount of type "cgroup": v2 mounts cgroup2; v1 a tmpfs with, per hierarchy (name = its mount
  // point's basename, e.g. "cpu,cpuacct"), the container's own leaf bound read-only.
  int cgroupVersion = 0;
  std::vector<std::pair<std::string, std::string>> cgroupBinds;
  // pocker.network (cpp/init/net.h): the interfaces the monitor plumbs into the container's new
  // network namespace on every (re)start, and the argv it runs at the container's last end when
  // its caller is gone.
  std::vector<NetInterface> netInterfaces;
  std::vector<std::string> netCleanup;
  // pocker.network.setup: an argv the monitor runs with the container's pid appended, before the
  // second go (a user-mode network stack such as pasta); a failure fails the start.
  std::vector<std::string> netSetup;
  // pocker.network.setupKind "slirp4netns": netSetup stays in the foreground as the monitor's child
  // (--ready-fd/--exit-fd), and each of netForwards (add_hostfwd JSON) goes to its API socket.
  bool netSetupForeground = false;
  std::vector<std::string> netForwards;
};

// Whether the container runs in a user namespace (a new one or one it joins).
bool inUserNamespace(const Spec& s);
// The host id of container id `id` under `maps`, or -1 when it is not mapped.
int64_t hostIdOf(const std::vector<IdMapping>& maps, uint32_t id);

// Parses a spec document. On error returns {EINVAL, "read-spec", "parse", "spec: <json path>: <why>"}.
Error parseSpec(const char* data, size_t len, Spec* out);

// pocker.network.interfaces of a spec document alone (checked as parseSpec checks them): what a
// restart policy's monitor reads again from config.json before each later run, so that interfaces
// `network connect` added (and `disconnect` removed) since the first run come back (or stay away).
// False, with `out` untouched, when the document or that part of it is not valid.
bool parseNetInterfaces(const char* data, size_t len, std::vector<NetInterface>* out);

// A capability name ("CAP_SYS_ADMIN") to its number, or -1.
int capabilityNumber(const std::string& name);

}  // namespace pocker
