#include "common/wire.h"

#include <cstdlib>
#include <cstring>

namespace pocker::wire {
namespace {

// Parses a decimal int that must span exactly [p, p+n).
bool parseInt(const char* p, size_t n, int* out) {
  if (n == 0 || n > 11) return false;
  char tmp[12];
  std::memcpy(tmp, p, n);
  tmp[n] = 0;
  char* end = nullptr;
  long v = std::strtol(tmp, &end, 10);
  if (end != tmp + n) return false;
  *out = static_cast<int>(v);
  return true;
}

// Splits off the next '\n'-terminated field of [*p, end); the last field runs to the end.
std::string nextField(const char** p, const char* end, bool last) {
  const char* nl = last ? end : static_cast<const char*>(std::memchr(*p, '\n', static_cast<size_t>(end - *p)));
  if (!nl) nl = end;
  std::string f(*p, static_cast<size_t>(nl - *p));
  *p = nl < end ? nl + 1 : end;
  return f;
}

}  // namespace

// (Built with append, not `"X" + std::string`: GCC 12's -Wrestrict misfires on the latter.)
static std::string tagged(char tag, const std::string& rest) {
  std::string s(1, tag);
  s += rest;
  return s;
}

std::string encodePid(pid_t pid) { return tagged('P', std::to_string(pid)); }

std::string encodeError(const Error& e) {
  std::string s = tagged('E', std::to_string(e.err));
  s += '\n';
  s += e.step;
  s += '\n';
  s += e.syscall;
  s += '\n';
  s += e.path;
  return s;
}

std::string encodeExit(int exitCode, int signal, bool oomKilled) {
  return tagged('X', exitPayload(exitCode, signal, oomKilled));
}

std::string encodeKill(int signal) { return tagged('K', std::to_string(signal)); }

bool decode(const char* buf, size_t n, SyncMsg* out) {
  if (n == 0) return false;
  *out = SyncMsg{};
  const char* p = buf + 1;
  const char* end = buf + n;
  size_t rest = n - 1;
  switch (buf[0]) {
    case 'P':
      out->kind = Sync::Pid;
      return parseInt(p, rest, &out->pid);
    case 'K':
      out->kind = Sync::Kill;
      return parseInt(p, rest, &out->killSignal);
    case 'X':
      out->kind = Sync::Exit;
      return parseExitPayload(p, rest, &out->exitCode, &out->signal, &out->oomKilled);
    case 'E': {
      out->kind = Sync::Error;
      std::string err = nextField(&p, end, false);
      if (!parseInt(err.data(), err.size(), &out->err)) return false;
      out->step = nextField(&p, end, false);
      out->syscall = nextField(&p, end, false);
      out->path = nextField(&p, end, true);
      return true;
    }
    case 'T':
    case 'S':
    case 'G':
      out->kind = static_cast<Sync>(buf[0]);
      return rest == 0;
    default:
      return false;
  }
}

void frameHeader(uint8_t kind, size_t len, char out[kFrameHeader]) {
  out[0] = static_cast<char>(kind);
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<char>(len >> 24);
  out[5] = static_cast<char>(len >> 16);
  out[6] = static_cast<char>(len >> 8);
  out[7] = static_cast<char>(len);
}

bool parseFrameHeader(const char* p, size_t n, uint8_t* kind, size_t* len) {
  if (n < kFrameHeader) return false;
  auto u = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(p[i])); };
  *kind = static_cast<uint8_t>(p[0]);
  *len = (u(4) << 24) | (u(5) << 16) | (u(6) << 8) | u(7);
  return true;
}

std::string exitPayload(int exitCode, int signal, bool oomKilled) {
  std::string s = std::to_string(exitCode);
  s += ' ';
  s += std::to_string(signal);
  s += oomKilled ? " 1" : " 0";
  return s;
}

bool parseExitPayload(const char* p, size_t n, int* exitCode, int* signal, bool* oomKilled) {
  const char* end = p + n;
  const char* a = static_cast<const char*>(std::memchr(p, ' ', n));
  if (!a) return false;
  const char* b = static_cast<const char*>(std::memchr(a + 1, ' ', static_cast<size_t>(end - a - 1)));
  if (!b) return false;
  int oom = 0;
  if (!parseInt(p, static_cast<size_t>(a - p), exitCode) || !parseInt(a + 1, static_cast<size_t>(b - a - 1), signal) ||
      !parseInt(b + 1, static_cast<size_t>(end - b - 1), &oom))
    return false;
  *oomKilled = oom != 0;
  return true;
}

std::string resizePayload(unsigned rows, unsigned cols) {
  char b[4] = {static_cast<char>(rows >> 8), static_cast<char>(rows), static_cast<char>(cols >> 8), static_cast<char>(cols)};
  return std::string(b, 4);
}

bool parseResizePayload(const char* p, size_t n, unsigned* rows, unsigned* cols) {
  if (n != 4) return false;
  auto u = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(p[i])); };
  *rows = (u(0) << 8) | u(1);
  *cols = (u(2) << 8) | u(3);
  return true;
}

}  // namespace pocker::wire
