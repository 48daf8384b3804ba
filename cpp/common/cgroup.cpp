#include "common/cgroup.h"

#include <csignal>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

namespace pocker {

int cgroupCreate(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return 0;
  if (errno == EEXIST) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return EEXIST;
  }
  return errno;
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
