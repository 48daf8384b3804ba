#include "init/logs.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace pocker {

std::string nowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

Error JsonLog::open(const std::string& path, uint64_t maxSize, uint32_t maxFiles) {
  path_ = path;
  maxSize_ = maxSize;
  maxFiles_ = maxFiles ? maxFiles : 1;
  if (!reopen(0)) return fail("logs", "open", path);
  return {};
}

bool JsonLog::reopen(int extraFlags) {
  // Read-write: the last byte of an existing file is read (pread) to know whether it ends a record.
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | extraFlags, 0640));
  size_ = 0;
  torn_ = false;
  if (!fd_) return false;
  struct stat st;
  if (fstat(fd_.get(), &st) == 0 && st.st_size > 0) {
    size_ = static_cast<uint64_t>(st.st_size);
    char last = '\n';
    if (pread(fd_.get(), &last, 1, st.st_size - 1) == 1) torn_ = last != '\n';
  }
  return true;
}

void JsonLog::rotate() {
  // <log>.<n-1> is dropped; <log>.<i> -> <log>.<i+1>; <log> -> <log>.1; a fresh <log>.
  for (uint32_t i = maxFiles_ - 1; i >= 1; i--) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    std::string to = path_ + "." + std::to_string(i);
    ::rename(from.c_str(), to.c_str());
  }
  reopen(O_TRUNC);
}

void JsonLog::entry(int streamIndex, const std::string& line) {
  // A log that could not be (re)opened (a full disk at rotation) is tried again at each record.
  if (!fd_ && !reopen(0)) return;
  std::string e = "{\"log\":" + jsonString(line) + ",\"stream\":\"" + (streamIndex == 0 ? "stdout" : "stderr") +
                  "\",\"time\":\"" + nowRfc3339() + "\"}\n";
  if (maxSize_ > 0 && size_ > 0 && size_ + e.size() > maxSize_) {
    rotate();
    if (!fd_) return;
  }
  if (torn_) {
    if (!writeAll(fd_.get(), "\n", 1)) return;
    size_ += 1;
    torn_ = false;
  }
  if (writeAll(fd_.get(), e.data(), e.size())) {
    size_ += e.size();
    return;
  }
  // The write failed (ENOSPC, EDQUOT, EIO) maybe part-way: the record is lost, not torn. Roll
  // the file back to where it started; if that fails, end it before the next record.
  struct stat st;
  if (fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > size_ && ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
    torn_ = true;
    size_ = static_cast<uint64_t>(st.st_size);
  }
}

void JsonLog::feed(int streamIndex, const char* data, size_t len) {
  std::string& buf = partial_[streamIndex];
  buf.append(data, len);
  size_t start = 0;
  for (;;) {
    size_t nl = buf.find('\n', start);
    if (nl == std::string::npos) break;
    entry(streamIndex, buf.substr(start, nl - start + 1));
    start = nl + 1;
  }
  buf.erase(0, start);
  while (buf.size() >= 16 * 1024) {
    entry(streamIndex, buf.substr(0, 16 * 1024));
    buf.erase(0, 16 * 1024);
  }
}

void JsonLog::flush(int streamIndex) {
  if (!partial_[streamIndex].empty()) entry(streamIndex, partial_[streamIndex]);
  partial_[streamIndex].clear();
}

int writeState(const std::string& dir, const std::string& json) {
  std::string tmp = dir + "/state.json.tmp", final = dir + "/state.json";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return errno;
  std::string text = json + "\n";
  if (!writeAll(fd.get(), text.data(), text.size()) || fsync(fd.get()) != 0) return errno;
  fd.reset();
  if (::rename(tmp.c_str(), final.c_str()) != 0) return errno;
  return 0;
}

static int removeEntry(const char* path, const struct stat* st, int type, struct FTW*) {
  // A directory of ours that cannot be read (a rootless overlay's work/work: the kernel makes it
  // mode 0 in the container's user namespace, and may leave a whiteout in it): opened, then removed.
  if (type == FTW_DNR && st && st->st_uid == geteuid() && ::chmod(path, 0700) == 0) {
    nftw(path, removeEntry, 8, FTW_PHYS | FTW_DEPTH | FTW_MOUNT);
    return 0;
  }
  if (type == FTW_DP || type == FTW_D) ::rmdir(path);
  else ::unlink(path);
  return 0;
}

int removeTree(const std::string& dir) {
  return nftw(dir.c_str(), removeEntry, 32, FTW_PHYS | FTW_DEPTH | FTW_MOUNT) == 0 ? 0 : errno;
}

}  // namespace pocker
