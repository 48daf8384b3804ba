// The spec wire format: how the TypeScript side hands a fully resolved container spec to
// pocker-init (through a sealed memfd on fd 4). Written by lib/runtime/spec.ts, read here.
//
// Hand-written on purpose: a flat tag-length-value stream needs no parser library inside a static
// binary, carries arbitrary bytes (paths, env values) without escaping, and both sides fit on a page.
//   header  "PKS1"
//   record  u16 tag (LE) | u32 length (LE) | payload
// Strings are raw bytes (no NUL); repeated tags form lists in order; flags have an empty payload.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pocker {

enum class Tag : uint16_t {
  Arg = 1,            // repeated: argv of the workload
  Env = 2,            // repeated: "KEY=VALUE"
  Cwd = 3,            // working directory inside the container
  Hostname = 4,
  User = 5,           // "user[:group]" names or numbers, resolved inside the rootfs
  Lower = 7,          // repeated: overlay lower dirs, top-most first
  ScratchUpper = 8,   // flag: upper/work live on a private tmpfs (host image, lower contains the store)
  Upper = 9,
  Work = 10,
  Rootfs = 11,        // mount point of the merged root (a directory on the host)
  ReadOnly = 12,      // flag
  Caps = 13,          // u64 bitmask kept in bounding/permitted/effective
  NoNewPrivs = 14,    // flag
  Namespaces = 15,    // u32 CLONE_NEW* bits
  Mount = 16,         // repeated: u8 kind (1 bind, 2 tmpfs), u8 readonly, str src, str dst, str data (u32 len each)
  Mask = 17,          // repeated: masked path
  ReadOnlyPath = 18,  // repeated: read-only path
  CgroupV2 = 19,      // v2 leaf cgroup dir (CLONE_INTO_CGROUP)
  CgroupV1Tasks = 20, // repeated: v1 `tasks` files the container's first process writes 0 (itself) into
  OomV1 = 21,         // v1 memory.oom_control
  OomV2 = 22,         // v2 memory.events
  CgroupCleanup = 23, // repeated: cgroup dirs removed (in order) after the container ends
  Init = 24,          // flag: run a reaping init as PID 1
  Tty = 25,           // flag
  TtySize = 26,       // u16 rows, u16 cols
  Foreground = 28,    // flag: kill the container when the controlling socket closes
  Detach = 30,        // flag: the monitor leaves the caller's session and outlives it, owning the container's output
  StateDir = 31,      // containers/<id>: state.json is kept here (detached containers)
  LogPath = 32,       // json-file log of the container's stdout/stderr (detached containers)
  LogMaxSize = 33,    // u64: rotate the log past this many bytes (0 = never)
  LogMaxFiles = 34,   // u32: log files kept, the current one included (>= 1)
  RemoveOnExit = 35,  // flag: remove StateDir when the container has ended (--rm)
  ExecPid = 36,       // u32: exec into the running container whose first process is this host pid
  Restart = 37,       // u8 policy (RestartPolicy) + u32 maximum restarts for on-failure (0 = no limit)
  Interactive = 38,   // flag (detached): the container's stdin is a pipe the monitor feeds from attached clients
  StdinOnce = 39,     // flag (detached): an attached client's end of input closes the container's stdin
  AttachSocket = 40,  // detached: unix socket the monitor serves attach clients on (cpp/init/attach.h)
  AttachFd = 41,      // flag: fd 5 is an attach client, connected before the container starts (start -a)
};

enum RestartPolicy : uint8_t { RestartNo = 0, RestartOnFailure = 1, RestartAlways = 2, RestartUnlessStopped = 3 };

// MountImageVolume: a bind mount of an anonymous volume for an image's VOLUME, filled from the
// image's content at that path when the volume is still empty (as Docker does).
enum MountKind : uint8_t { MountBind = 1, MountTmpfs = 2, MountImageVolume = 3 };

struct MountSpec {
  uint8_t kind = MountBind;
  bool readonly = false;
  std::string src, dst, data;
};

struct Spec {
  std::vector<std::string> args, env, lowers, masks, readonlyPaths, cgroupV1Tasks, cgroupCleanup;
  std::vector<MountSpec> mounts;
  std::string cwd = "/", hostname, user, upper, work, rootfs, cgroupV2, oomV1, oomV2, stateDir, logPath,
      attachSocket;
  bool scratchUpper = false, readOnly = false, noNewPrivs = false, init = false, tty = false,
       foreground = false, detach = false, removeOnExit = false, interactive = false, stdinOnce = false,
       attachFd = false;
  uint64_t logMaxSize = 0;
  uint32_t execPid = 0;
  uint8_t restartPolicy = 0;
  uint32_t restartMax = 0;
  uint32_t logMaxFiles = 1;
  uint64_t caps = 0;
  uint32_t namespaces = 0;
  uint16_t rows = 0, cols = 0;
};

// Parses a spec; returns false (and sets *why) on a malformed stream.
bool parseSpec(const uint8_t* data, size_t len, Spec* out, const char** why);

}  // namespace pocker
