#include "common/mountinfo.h"

#include "common/util.h"

namespace pocker {
namespace {

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

std::vector<MountInfo> parseMountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  for (std::string_view line : split(text, '\n')) {
    std::vector<std::string_view> f;
    for (std::string_view w : split(line, ' '))
      if (!w.empty()) f.push_back(w);
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") sep++;
    if (sep + 3 >= f.size()) continue;
    MountInfo m;
    m.root = unescape(f[3]);
    m.mountPoint = unescape(f[4]);
    m.fsType = std::string(f[sep + 1]);
    m.source = unescape(f[sep + 2]);
    for (std::string_view o : split(f[sep + 3], ',')) m.superOptions.emplace_back(o);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<MountInfo> visibleMounts(std::vector<MountInfo> all) {
  std::vector<MountInfo> out;
  for (auto& m : all) {
    for (auto it = out.begin(); it != out.end(); ++it) {
      if (it->mountPoint == m.mountPoint) {
        out.erase(it);
        break;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

int readMountinfo(std::vector<MountInfo>* out) {
  std::string text;
  if (int err = readFile("/proc/self/mountinfo", &text)) return err;
  *out = parseMountinfo(text);
  return 0;
}

}  // namespace pocker
