// What a detached container's monitor keeps on disk: Docker's json-file log (with rotation) and
// state.json (rewritten atomically).
#pragma once
#include <cstdint>
#include <string>

#include "common/util.h"

namespace pocker {

// RFC 3339 with nanoseconds, UTC: 2026-11-29T06:11:21.123456789Z (Docker's log and state times).
std::string nowRfc3339();

// Docker's json-file driver: one {"log":…,"stream":…,"time":…} object per line of output. A record
// is written whole or not at all: a write that fails part-way (ENOSPC) is rolled back to the
// record's start (ftruncate), or, when even that fails, ended by a newline before the next record.
class JsonLog {
 public:
  // Step `logs` on failure.
  Error open(const std::string& path, uint64_t maxSize, uint32_t maxFiles);
  // Feeds output of `stream` ("stdout"/"stderr"); complete lines are written, a partial one is
  // kept until its newline (or until 16 KiB, where Docker splits long lines too).
  void feed(int streamIndex, const char* data, size_t len);
  // Writes what is left of partial lines (at EOF).
  void flush(int streamIndex);

 private:
  void entry(int streamIndex, const std::string& line);
  void rotate();
  // (Re)opens path_ for appending; size_ from the file, torn_ when it does not end with a newline.
  bool reopen(int extraFlags);
  std::string path_;
  uint64_t maxSize_ = 0, size_ = 0;
  uint32_t maxFiles_ = 1;
  // The file ends inside a record (a failed write that could not be rolled back, or a previous
  // monitor's): the next record starts with a newline, so a torn one never swallows it.
  bool torn_ = false;
  Fd fd_;
  std::string partial_[2];
};

// Writes `json` to <dir>/state.json through a temp file, fsync and rename. Returns 0 or errno.
int writeState(const std::string& dir, const std::string& json);

// Removes a directory tree without following symlinks (nftw, FTW_PHYS|FTW_DEPTH|FTW_MOUNT).
int removeTree(const std::string& dir);

// A JSON string literal of arbitrary bytes (control characters escaped; bytes >= 0x80 as is).
std::string jsonString(const std::string& s);

}  // namespace pocker
