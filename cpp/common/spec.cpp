#include "common/spec.h"

#include <cstring>

namespace pocker {
namespace {

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool u8(uint8_t* v) {
    if (end - p < 1) return false;
    *v = *p++;
    return true;
  }
  bool u16(uint16_t* v) {
    if (end - p < 2) return false;
    *v = static_cast<uint16_t>(p[0] | (p[1] << 8));
    p += 2;
    return true;
  }
  bool u32(uint32_t* v) {
    if (end - p < 4) return false;
    *v = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
    p += 4;
    return true;
  }
  bool str(std::string* s, size_t n) {
    if (static_cast<size_t>(end - p) < n) return false;
    s->assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
  bool lstr(std::string* s) {
    uint32_t n;
    return u32(&n) && str(s, n);
  }
};

bool noNul(const std::string& s) { return s.find('\0') == std::string::npos; }

}  // namespace

bool parseSpec(const uint8_t* data, size_t len, Spec* out, const char** why) {
  *why = "truncated record";
  if (len < 4 || std::memcmp(data, "PKS1", 4) != 0) {
    *why = "bad magic";
    return false;
  }
  Reader r{data + 4, data + len};
  while (r.p < r.end) {
    uint16_t tag;
    uint32_t n;
    if (!r.u16(&tag) || !r.u32(&n) || static_cast<size_t>(r.end - r.p) < n) return false;
    Reader f{r.p, r.p + n};
    r.p += n;
    std::string s;
    f.str(&s, n);
    const bool binary = tag == static_cast<uint16_t>(Tag::Mount) || tag == static_cast<uint16_t>(Tag::Caps) ||
                        tag == static_cast<uint16_t>(Tag::Namespaces) || tag == static_cast<uint16_t>(Tag::TtySize) ||
                        tag == static_cast<uint16_t>(Tag::LogMaxSize) || tag == static_cast<uint16_t>(Tag::LogMaxFiles) ||
                        tag == static_cast<uint16_t>(Tag::ExecPid) || tag == static_cast<uint16_t>(Tag::Restart);
    if (!noNul(s) && !binary) {
      *why = "NUL byte in a string";
      return false;
    }
    f.p = f.end - n;  // rewind for binary fields
    switch (static_cast<Tag>(tag)) {
      case Tag::Arg: out->args.push_back(s); break;
      case Tag::Env: out->env.push_back(s); break;
      case Tag::Cwd: out->cwd = s; break;
      case Tag::Hostname: out->hostname = s; break;
      case Tag::User: out->user = s; break;
      case Tag::Lower: out->lowers.push_back(s); break;
      case Tag::ScratchUpper: out->scratchUpper = true; break;
      case Tag::Upper: out->upper = s; break;
      case Tag::Work: out->work = s; break;
      case Tag::Rootfs: out->rootfs = s; break;
      case Tag::ReadOnly: out->readOnly = true; break;
      case Tag::Caps: {
        uint32_t lo, hi;
        if (!f.u32(&lo) || !f.u32(&hi)) return false;
        out->caps = (static_cast<uint64_t>(hi) << 32) | lo;
        break;
      }
      case Tag::NoNewPrivs: out->noNewPrivs = true; break;
      case Tag::Namespaces:
        if (!f.u32(&out->namespaces)) return false;
        break;
      case Tag::Mount: {
        MountSpec m;
        uint8_t ro;
        if (!f.u8(&m.kind) || !f.u8(&ro) || !f.lstr(&m.src) || !f.lstr(&m.dst) || !f.lstr(&m.data)) return false;
        if (!noNul(m.src) || !noNul(m.dst) || !noNul(m.data)) {
          *why = "NUL byte in a mount";
          return false;
        }
        m.readonly = ro != 0;
        out->mounts.push_back(std::move(m));
        break;
      }
      case Tag::Mask: out->masks.push_back(s); break;
      case Tag::ReadOnlyPath: out->readonlyPaths.push_back(s); break;
      case Tag::CgroupV2: out->cgroupV2 = s; break;
      case Tag::CgroupV1Tasks: out->cgroupV1Tasks.push_back(s); break;
      case Tag::OomV1: out->oomV1 = s; break;
      case Tag::OomV2: out->oomV2 = s; break;
      case Tag::CgroupCleanup: out->cgroupCleanup.push_back(s); break;
      case Tag::Init: out->init = true; break;
      case Tag::Tty: out->tty = true; break;
      case Tag::TtySize:
        if (!f.u16(&out->rows) || !f.u16(&out->cols)) return false;
        break;
      case Tag::Foreground: out->foreground = true; break;
      case Tag::Detach: out->detach = true; break;
      case Tag::StateDir: out->stateDir = s; break;
      case Tag::LogPath: out->logPath = s; break;
      case Tag::LogMaxSize: {
        uint32_t lo, hi;
        if (!f.u32(&lo) || !f.u32(&hi)) return false;
        out->logMaxSize = (static_cast<uint64_t>(hi) << 32) | lo;
        break;
      }
      case Tag::LogMaxFiles:
        if (!f.u32(&out->logMaxFiles) || out->logMaxFiles == 0) return false;
        break;
      case Tag::RemoveOnExit: out->removeOnExit = true; break;
      case Tag::Interactive: out->interactive = true; break;
      case Tag::StdinOnce: out->stdinOnce = true; break;
      case Tag::AttachSocket: out->attachSocket = s; break;
      case Tag::AttachFd: out->attachFd = true; break;
      case Tag::Restart:
        if (!f.u8(&out->restartPolicy) || !f.u32(&out->restartMax) || out->restartPolicy > 3) return false;
        break;
      case Tag::ExecPid:
        if (!f.u32(&out->execPid) || out->execPid == 0) return false;
        break;
      default:
        *why = "unknown tag";
        return false;
    }
  }
  if (out->args.empty()) {
    *why = "no command";
    return false;
  }
  return true;
}

}  // namespace pocker
