// The wire between pocker's processes, defined once: the sync socket between the caller (the
// addon) and pocker-init, and the attach frames between a monitor and its clients. Encoded and
// decoded only here on the C++ side (addon and pocker-init), and only in lib/runtime/wire.ts on
// the TypeScript side; test/native/wire.test.ts checks that both agree through the real binary
// (`pocker-init wire-echo`).
//
// Hand-written on purpose: the messages are a few bytes each, and no library frames
// SOCK_SEQPACKET packets (with SCM_RIGHTS) or Docker's 8-byte stdcopy header for a static binary.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/util.h"

namespace pocker::wire {

// ---------- sync socket: SOCK_SEQPACKET, one message per packet ----------
//
// pocker-init -> caller
//   'P' pid             the container process exists (host pid), held before exec
//   'T' + SCM_RIGHTS    the container's pty master (only with a terminal)
//   'E' error           setup failed (errno, step, syscall, path); pocker-init exits after it
//   'S'                 the workload was exec'd
//   'X' exit            the container ended (exit code, signal, OOM kill); pocker-init exits after it
// caller -> pocker-init
//   'K' signal          send a signal to the container process
// monitor -> container process (internal)
//   'G'                 go: the caller knows the pid, set up and exec
//
// Text fields are separated by '\n'; the path comes last and may hold any byte but NUL.
enum class Sync : char { Pid = 'P', Pty = 'T', Error = 'E', Started = 'S', Exit = 'X', Kill = 'K', Go = 'G' };

struct SyncMsg {
  Sync kind = Sync::Go;
  int pid = 0;                 // Pid
  int err = 0;                 // Error
  std::string step, syscall, path;  // Error
  int exitCode = 0, signal = 0;     // Exit (signal 0 = exited normally)
  bool oomKilled = false;           // Exit
  int killSignal = 0;               // Kill
};

std::string encodePid(pid_t pid);
std::string encodeError(const Error& e);
std::string encodeExit(int exitCode, int signal, bool oomKilled);
std::string encodeKill(int signal);
inline std::string encodeKind(Sync k) { return std::string(1, static_cast<char>(k)); }
// Decodes one packet; false for an unknown or malformed message.
bool decode(const char* buf, size_t n, SyncMsg* out);

// ---------- attach frames: Docker's stdcopy header, both ways ----------
//   u8 kind | 3 zero bytes | u32 big-endian payload length | payload
//   monitor -> client  Stdout, Stderr (with a tty everything is Stdout), Exit "<code> <signal> <oom>"
//   client -> monitor  Stdin bytes, Resize (u16 rows, u16 cols, big-endian), CloseStdin (end of input)
enum Frame : uint8_t { Stdin = 0, Stdout = 1, Stderr = 2, Exit = 3, Resize = 4, CloseStdin = 5 };
constexpr size_t kFrameHeader = 8;
constexpr size_t kMaxFrame = 1 << 20;  // a longer frame is a broken peer

void frameHeader(uint8_t kind, size_t len, char out[kFrameHeader]);
// Reads a header; false if `n` < kFrameHeader.
bool parseFrameHeader(const char* p, size_t n, uint8_t* kind, size_t* len);
std::string exitPayload(int exitCode, int signal, bool oomKilled);
bool parseExitPayload(const char* p, size_t n, int* exitCode, int* signal, bool* oomKilled);
std::string resizePayload(unsigned rows, unsigned cols);
bool parseResizePayload(const char* p, size_t n, unsigned* rows, unsigned* cols);

}  // namespace pocker::wire
