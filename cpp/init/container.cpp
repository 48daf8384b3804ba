// The container's first process, between clone3 and exec: rootfs, mounts, identity, privileges,
// all as the OCI document says (cpp/common/spec.h). Every path inside the rootfs is resolved with
// openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd, so a symlink planted in an image can
// never redirect a mount onto the host.
#include <dirent.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/mountinfo.h"
#include "common/wire.h"
#include "common/resolve.h"
#include "init/init.h"
#include "init/net.h"
#include "init/seccomp.h"

namespace pocker {
namespace {

// ---------- paths inside the rootfs ----------

std::string fdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// In a user namespace the container's root is a mapped id that may not search the host's
// directories on the way to its own (the store's are 0700, root's): the host paths it needs (the
// rootfs, bind sources) are opened once, O_PATH, while this process still has the host's root ids,
// and later reached through /proc/self/fd (a magic link checks no directory on the way).
std::vector<std::pair<std::string, int>> gPreopened;

std::string hostPath(const std::string& path) {
  for (const auto& [p, fd] : gPreopened)
    if (p == path) return fdPath(fd);
  return path;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// mkdir -p inside the root, then open the target (a dir, or a file when `file`) as O_PATH.
// Symlinks are followed but never leave the root (RESOLVE_IN_ROOT); magic links are refused. A
// dangling symlink on the way is followed by hand and its target created, inside the root, as
// Docker does for a volume destination such as /data -> /srv/data.
int ensureInRoot(int root, const std::string& path, bool file, Error* err, const char* step) {
  auto parts = splitPath(path);
  std::string cur;
  int hops = 0;
  size_t i = 0;
  while (i < parts.size()) {
    bool last = i + 1 == parts.size();
    std::string next = cur + "/" + parts[i];
    Fd probe(openInRoot(root, next, O_PATH));
    if (probe) {
      cur = next;
      i++;
      continue;
    }
    if (errno != ENOENT) {
      *err = fail(step, "openat2", path);
      return -1;
    }
    Fd parent(openInRoot(root, cur, O_PATH | O_DIRECTORY));
    if (!parent) {
      *err = fail(step, "openat2", path);
      return -1;
    }
    char target[PATH_MAX];
    ssize_t n = readlinkat(parent.get(), parts[i].c_str(), target, sizeof target - 1);
    if (n >= 0) {
      if (++hops > 40) {
        *err = Error{ELOOP, step, "readlinkat", path};
        return -1;
      }
      target[n] = 0;
      // Restart from the root on the link's target (absolute targets are read inside the root).
      std::vector<std::string> resolved = splitPath(target[0] == '/' ? std::string(target) : cur + "/" + target);
      resolved.insert(resolved.end(), parts.begin() + static_cast<long>(i) + 1, parts.end());
      parts = std::move(resolved);
      cur.clear();
      i = 0;
      continue;
    }
    int rc;
    if (last && file) {
      Fd f(openInRoot(parent.get(), parts[i], O_CREAT | O_WRONLY | O_NOFOLLOW, RESOLVE_BENEATH, 0644));
      rc = f ? 0 : -1;
    } else {
      rc = mkdirat(parent.get(), parts[i].c_str(), 0755);
    }
    if (rc != 0 && errno != EEXIST) {
      *err = fail(step, last && file ? "open" : "mkdirat", path);
      return -1;
    }
    cur = next;
    i++;
  }
  int fd = openInRoot(root, cur.empty() ? "/" : cur, O_PATH);
  if (fd < 0) *err = fail(step, "openat2", path);
  return fd;
}

// A mount point that must be a real directory at exactly this place: refused if it is a symlink.
int mountpointNoSymlink(int root, const std::string& path, Error* err, const char* step) {
  const uint64_t noSymlinks = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
  Fd fd(openInRoot(root, path, O_PATH | O_DIRECTORY, noSymlinks));
  if (!fd && errno == ENOENT) {
    // Parents may be created (they are resolved in the root); the last component must be new.
    Fd parent(ensureInRoot(root, path.substr(0, path.rfind('/')), false, err, step));
    if (!parent) return -1;
    std::string leaf = path.substr(path.rfind('/') + 1);
    if (mkdirat(parent.get(), leaf.c_str(), 0755) != 0 && errno != EEXIST) {
      *err = fail(step, "mkdirat", path);
      return -1;
    }
    fd.reset(openInRoot(root, path, O_PATH | O_DIRECTORY, noSymlinks));
  }
  if (!fd) {
    *err = fail(step, errno == ELOOP ? "openat2 (symlink refused)" : "openat2", path);
    return -1;
  }
  return fd.release();
}

Error mountAt(const char* src, int targetFd, const char* fstype, unsigned long flags, const char* data,
              const char* step, const std::string& path) {
  if (::mount(src, fdPath(targetFd).c_str(), fstype, flags, data) != 0) return fail(step, "mount", path);
  return {};
}

// Re-open a mount point after mounting (the old fd names the covered directory) and remount it
// with `flags`, keeping the nosuid/nodev/noexec it already has (a remount may not clear them).
Error remount(int root, const std::string& path, unsigned long flags, const char* step) {
  Fd fd(openInRoot(root, path, O_PATH));
  if (!fd) return fail(step, "openat2", path);
  struct statvfs sv;
  if (fstatvfs(fd.get(), &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    // The atime flags too: in a user namespace a mount from the host has them locked, and a
    // remount that would change them is refused (EPERM).
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  return mountAt(nullptr, fd.get(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr, step, path);
}

// The path `fd` names inside the root ("/proc/sys/kernel"), read back from /proc/self/fd: where a
// destination really is once the image's symlinks are followed. False if it is not under the root.
bool pathInRoot(int root, int fd, std::string* out) {
  char r[PATH_MAX], p[PATH_MAX];
  ssize_t n = readlink(fdPath(root).c_str(), r, sizeof r - 1);
  ssize_t m = readlink(fdPath(fd).c_str(), p, sizeof p - 1);
  if (n <= 0 || m <= 0) return false;
  r[n] = 0;
  p[m] = 0;
  std::string rs(r), ps(p);
  if (rs == "/") {
    *out = ps;
    return true;
  }
  if (ps == rs) {
    *out = "/";
    return true;
  }
  if (ps.compare(0, rs.size(), rs) != 0 || ps[rs.size()] != '/') return false;
  *out = ps.substr(rs.size());
  return true;
}

unsigned long msFlagsOf(uint64_t attr) {
  unsigned long f = 0;
  if (attr & MOUNT_ATTR_RDONLY) f |= MS_RDONLY;
  if (attr & MOUNT_ATTR_NOSUID) f |= MS_NOSUID;
  if (attr & MOUNT_ATTR_NODEV) f |= MS_NODEV;
  if (attr & MOUNT_ATTR_NOEXEC) f |= MS_NOEXEC;
  return f;
}

// Kernels before 5.12 have no mount_setattr: every mount at or under `fd`'s mount point (from
// /proc/self/mountinfo) is remounted on its own with its flags plus `set` minus `clear`, as runc
// did before mount_setattr. Weaker than AT_RECURSIVE: not atomic (nothing else mounts in this
// namespace meanwhile, so nothing is missed here).
Error remountTree(int fd, uint64_t set, uint64_t clear, const char* step, const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(fdPath(fd).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return fail(step, "readlink", path);
  buf[n] = 0;
  const std::string top(buf);
  std::vector<MountInfo> mounts;
  if (int e = readMountinfo(&mounts)) return fail(step, "read /proc/self/mountinfo", path, e);
  for (const auto& mi : visibleMounts(std::move(mounts))) {
    const std::string& mp = mi.mountPoint;
    if (!(mp == top || (mp.size() > top.size() && mp.compare(0, top.size(), top) == 0 && (top == "/" || mp[top.size()] == '/'))))
      continue;
    Fd sub(::open(mp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) continue;  // hidden or gone
    unsigned long flags = 0;
    struct statvfs sv;
    if (fstatvfs(sub.get(), &sv) == 0) {
      if (sv.f_flag & ST_RDONLY) flags |= MS_RDONLY;
      if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
      if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
      if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
      if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
      if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
      if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    }
    flags = (flags | msFlagsOf(set)) & ~msFlagsOf(clear);
    if (Error err = mountAt(nullptr, sub.get(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr, step, path)) return err;
  }
  return {};
}

// OCI's recursive options (rro, rnosuid, rnodev, rnoexec; pocker's volumes use them, so `:ro` on
// a volume holding other mounts, such as -v /:/host:ro, is read-only all the way down):
// mount_setattr(AT_RECURSIVE) on the mount at `path` (re-opened: a fd from before the mount names
// the covered directory) and every mount under it, in one step. Kernels < 5.12: remountTree.
Error setRecursive(int root, const std::string& path, uint64_t set, uint64_t clear, const char* step) {
  if (!set && !clear) return {};
  Fd fd(openInRoot(root, path, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
  if (!fd && (errno == ENOTDIR || errno == ELOOP)) fd.reset(openInRoot(root, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
  if (!fd) return fail(step, "openat2", path);
  struct mount_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.attr_set = set;
  attr.attr_clr = clear;
  if (syscall(SYS_mount_setattr, fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0) return {};
  if (errno != ENOSYS) return fail(step, "mount_setattr", path);
  return remountTree(fd.get(), set, clear, step, path);
}

// ---------- the root filesystem ----------

std::string escapeOverlay(const std::string& p) {
  // Overlay option values: ',' separates options and ':' lower dirs; both are escaped with '\'.
  std::string out;
  for (char c : p) {
    if (c == ',' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// *rootfsMount: in a user namespace, the rootfs's mount (its root), afterwards reached through it.
Error mountRootfs(const Spec& s, Fd* rootfsMount) {
  // Rootless: the monitor sends no overlay; it is mounted below, in the container's user namespace.
  const bool ownOverlay = inUserNamespace(s) && s.overlay && !*rootfsMount;
  if (inUserNamespace(s) && !ownOverlay) {
    // The monitor made the overlay (of idmapped layers: init/userns.h) and sent it as a detached
    // mount; a bundle's ready rootfs is cloned (recursively) here. Either is attached over root.path
    // in this mount namespace only.
    // (The pre-opened fd itself, not its /proc/self/fd path: move_mount refuses a target reached
    // through that magic link.)
    int at = AT_FDCWD;
    for (const auto& [p, fd] : gPreopened)
      if (p == s.rootfs) at = fd;
    const char* path = at == AT_FDCWD ? s.rootfs.c_str() : "";
    const unsigned empty = at == AT_FDCWD ? 0 : AT_EMPTY_PATH;
    if (!*rootfsMount) {
      if (s.overlay) return Error{EPROTO, "mount-rootfs", "recvmsg", "the monitor sent no rootfs"};
      rootfsMount->reset(static_cast<int>(
          syscall(SYS_open_tree, at, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | empty)));
      if (!*rootfsMount) return fail("mount-rootfs", "open_tree", s.rootfs);
    }
    if (syscall(SYS_move_mount, rootfsMount->get(), "", at, path,
                MOVE_MOUNT_F_EMPTY_PATH | (empty ? MOVE_MOUNT_T_EMPTY_PATH : 0)) != 0)
      return fail("mount-rootfs", "move_mount", s.rootfs);
    return {};
  }
  if (!s.overlay) {
    // An OCI bundle's ready rootfs: a bind onto itself makes it a mount point for pivot_root.
    if (::mount(s.rootfs.c_str(), s.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return fail("mount-rootfs", "mount", s.rootfs);
    return {};
  }
  if (ownOverlay && s.lowers.size() == 1 && s.lowers[0] == "/") {
    // Rootless `host` image: overlayfs refuses a lower with locked submounts (every mount this user
    // namespace inherited is locked), and / has them. The host's / is bound recursively instead,
    // read-only: a rootless host container has no writable layer.
    if (::mount("/", s.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return fail("mount-rootfs", "mount", "/");
    if (::mount(nullptr, s.rootfs.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
      return fail("mount-rootfs", "mount", s.rootfs);
    return {};
  }
  std::string upper = s.upper, work = s.work;
  if (s.scratchUpper) {
    // The writable layer lives on a tmpfs private to this mount namespace: used when the lower
    // contains the store itself (the host image), where overlayfs refuses an upper inside a lower.
    if (::mount("tmpfs", s.upper.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
      return fail("mount-rootfs", "mount", s.upper);
    upper = s.upper + "/upper";
    work = s.upper + "/work";
    if (mkdir(upper.c_str(), 0755) != 0 || mkdir(work.c_str(), 0700) != 0)
      return fail("mount-rootfs", "mkdir", upper);
  }
  // mount(2) takes at most a page of options: a store's layer paths (~90 bytes each) fit 44 layers
  // of the 125 Docker allows. The lower layers are named by fd numbers instead, relative to
  // /proc/self/fd made the working directory for the mount ("12:11:10": overlay resolves relative
  // names against the mounter's cwd), as the idmapped rootfs does (userns.cpp); the upper and work
  // dirs keep their paths, which `system df` reads back from mountinfo to find a running container.
  std::vector<Fd> lowerFds;
  std::string data = "lowerdir=";
  for (size_t i = 0; i < s.lowers.size(); i++) {
    Fd fd(::open(s.lowers[i].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail("mount-rootfs", "open", s.lowers[i]);
    if (i) data += ':';
    data += std::to_string(fd.get());
    lowerFds.push_back(std::move(fd));
  }
  data += ",upperdir=" + escapeOverlay(upper) + ",workdir=" + escapeOverlay(work);
  // In a user namespace overlay keeps its whiteouts and opaque markers in user.overlay.* (Linux 5.11).
  if (ownOverlay) data += ",userxattr";
  if (data.size() >= 4096)
    return Error{E2BIG, "mount-rootfs", "mount", s.rootfs + " (" + std::to_string(s.lowers.size()) + " layers: more than overlay's options can name)"};
  Fd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cwd) return fail("mount-rootfs", "open", ".");
  if (chdir("/proc/self/fd") != 0) return fail("mount-rootfs", "chdir", "/proc/self/fd");
  // nodev everywhere: with no device cgroup, a node made with CAP_MKNOD must stay unusable.
  int rc = ::mount("overlay", s.rootfs.c_str(), "overlay", MS_NODEV, data.c_str());
  int e = errno;
  if (fchdir(cwd.get()) != 0) return fail("mount-rootfs", "fchdir", ".");
  if (rc != 0) return fail("mount-rootfs", "mount", s.rootfs, e);
  return {};
}
// Copies a directory tree (never following a symlink: entries come from readdir, each opened
// with O_NOFOLLOW relative to its parent) with owners, modes and times. Devices are skipped
// (they would be unusable on a nodev mount anyway); whiteouts are not visible in a merged view.
// Only what is on `dev` (the image's rootfs) is copied: a directory that is another mount is skipped.
Error copyTree(int from, int to, const std::string& where, dev_t dev) {
  Fd dupd(fcntl(from, F_DUPFD_CLOEXEC, 0));
  DIR* dir = fdopendir(dupd.release());
  if (!dir) return fail("volume-copy", "fdopendir", where);
  Error err;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string path = where + "/" + name;
    if (S_ISDIR(st.st_mode) && st.st_dev != dev) continue;
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(to, name.c_str(), 0700) != 0) { err = fail("volume-copy", "mkdirat", path); break; }
      Fd sub(openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      Fd dsub(openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub || !dsub) { err = fail("volume-copy", "openat", path); break; }
      if ((err = copyTree(sub.get(), dsub.get(), path, dev))) break;
      fchown(dsub.get(), st.st_uid, st.st_gid);
      fchmod(dsub.get(), st.st_mode & 07777);
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      futimens(dsub.get(), ts);
    } else if (S_ISREG(st.st_mode)) {
      Fd in(openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      Fd out(openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!in || !out) { err = fail("volume-copy", "openat", path); break; }
      if ((err = copyData(in.get(), out.get(), "volume-copy", path))) break;
      fchown(out.get(), st.st_uid, st.st_gid);
      fchmod(out.get(), st.st_mode & 07777);
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      futimens(out.get(), ts);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(from, name.c_str(), target, sizeof target - 1);
      if (n < 0) continue;
      target[n] = 0;
      if (symlinkat(target, to, name.c_str()) != 0) { err = fail("volume-copy", "symlinkat", path); break; }
      fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISFIFO(st.st_mode)) {
      mknodat(to, name.c_str(), st.st_mode, 0);
      fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    }
  }
  closedir(dir);
  return err;
}


bool under(const std::string& path, const char* dir) {
  size_t n = std::strlen(dir);
  return path.compare(0, n, dir) == 0 && (path.size() == n || path[n] == '/');
}

// Does the directory `fd` have no entries (. and .. aside)? An unreadable one counts as not empty.
bool dirIsEmpty(int fd) {
  Fd dupd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  DIR* dir = fdopendir(dupd.release());
  if (!dir) return false;
  bool empty = true;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  return empty;
}

// An image VOLUME's anonymous volume starts as a copy of the image's content at that path, and
// only of that: the path is resolved inside the root, and a result in /proc, /sys or /dev, or on
// another filesystem than the rootfs's (a mount reached through a symlink), is refused: pocker-init
// is still fully privileged here and would copy kernel files into the host's volume directory.
Error fillVolume(int root, const std::string& source, const std::string& destination) {
  const std::string at = hostPath(source);
  Fd dst(::open(at.c_str(), O_RDONLY | O_DIRECTORY | (at == source ? O_NOFOLLOW : 0) | O_CLOEXEC));
  if (!dst) return fail("mount-volume", "open", source);
  // Only an empty volume is filled (Docker's copy-up): a named volume keeps what it holds, and a
  // container started again keeps what its volumes hold. Two containers starting on one new volume
  // take turns (an flock on the directory, dropped when the fd closes): the second finds it full.
  while (flock(dst.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail("mount-volume", "flock", source);
  if (!dirIsEmpty(dst.get())) return {};
  Fd srcDir(openInRoot(root, destination, O_RDONLY | O_DIRECTORY));
  if (!srcDir) return {};  // nothing at that path in the image: the volume starts empty
  struct stat st, rootSt;
  std::string resolved;
  if (fstat(srcDir.get(), &st) != 0 || fstat(root, &rootSt) != 0) return fail("mount-volume", "fstat", destination);
  if (!pathInRoot(root, srcDir.get(), &resolved) || under(resolved, "/proc") || under(resolved, "/sys") ||
      under(resolved, "/dev") || st.st_dev != rootSt.st_dev)
    return Error{EPERM, "mount-volume", "open",
                 destination + " (resolved to " + (resolved.empty() ? "?" : resolved) + "): an image volume is filled only from the image's own files"};
  fchown(dst.get(), st.st_uid, st.st_gid);
  fchmod(dst.get(), st.st_mode & 07777);
  return copyTree(srcDir.get(), dst.get(), destination, rootSt.st_dev);
}


// The step a mount's failure is reported as (what callers and tests match on).
const char* mountStep(const MountSpec& m) {
  if (m.bind()) return "mount-volume";
  if (under(m.destination, "/proc")) return "mount-proc";
  if (under(m.destination, "/sys")) return "mount-sys";
  if (m.destination == "/dev" || m.type == "devpts" || m.type == "mqueue") return "mount-dev";
  if (m.type == "tmpfs") return "mount-tmpfs";
  return "mount";
}

// Kernel filesystems and /dev itself go on a real directory at exactly that place (a symlink
// there is refused); other destinations follow symlinks, inside the root.
bool needsRealDir(const MountSpec& m) {
  return m.type == "proc" || m.type == "sysfs" || m.type == "devpts" || m.type == "mqueue" || m.type == "cgroup" ||
         m.type == "cgroup2" || m.destination == "/dev";
}

// runc's checkProcMount list: the /proc files lxcfs and the like emulate, the only places inside
// /proc anything but procfs may be mounted.
const char* const kProcMountAllowed[] = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",
                                         "/proc/stat",    "/proc/swaps",     "/proc/uptime",
                                         "/proc/loadavg", "/proc/slabinfo",  "/proc/sys/kernel/ns_last_pid",
                                         "/proc/sys/crypto/fips_enabled"};

// A mount is judged by where it really lands, once the image's symlinks are followed (`target`,
// resolved inside the root), never by the destination's name alone: inside /proc only procfs
// itself (or a bind of a procfs) at /proc and runc's list above; for pocker's own containers (not
// runc bundles, which may bind into /sys as runc allows) nothing but sysfs and cgroup inside /sys,
// and nothing onto /dev or / through a symlink. lib/runtime/options.ts checks the names too.
Error checkDestination(const Spec& s, const MountSpec& m, int root, int target, int srcFd) {
  const char* step = mountStep(m);
  std::string resolved;
  if (!pathInRoot(root, target, &resolved)) return Error{EXDEV, step, "readlink", m.destination + ": not inside the root"};
  auto refuse = [&](const char* what) {
    return Error{EPERM, step, "mount",
                 m.destination + (resolved != m.destination ? " (resolved to " + resolved + ")" : std::string()) + ": " + what};
  };
  if (under(resolved, "/proc")) {
    if (resolved == "/proc") {
      struct statfs sf;
      if (m.type == "proc" || (srcFd >= 0 && fstatfs(srcFd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC)) return {};
      return refuse("cannot mount over /proc");
    }
    for (const char* p : kProcMountAllowed)
      if (resolved == p) return {};
    return refuse("cannot mount inside /proc");
  }
  if (s.runc) return {};
  if (under(resolved, "/sys") && m.type != "sysfs" && m.type != "cgroup" && m.type != "cgroup2")
    return refuse("cannot mount inside /sys");
  if (resolved != m.destination && (resolved == "/dev" || resolved == "/")) return refuse("cannot mount over /dev or / through a symlink");
  return {};
}

// runc's `cgroup` mount type on a cgroup v1 host: a tmpfs holding, per hierarchy, the container's
// own cgroup (bound from the host), plus a link per co-mounted controller ("cpu" -> "cpu,cpuacct").
// Only the hierarchies the container has a leaf in: no other host cgroup is visible (no binds at
// all, as when the spec names no cgroups: an empty tmpfs).
Error mountCgroupV1(int root, const Spec& s, const MountSpec& m, int target) {
  const char* step = "mount-sys";
  Error err;
  if ((err = mountAt("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755", step, m.destination)))
    return err;
  Fd dir(openInRoot(root, m.destination, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
  if (!dir) return fail(step, "openat2", m.destination);
  for (const auto& [name, host] : s.cgroupBinds) {
    if (mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) return fail(step, "mkdirat", m.destination + "/" + name);
    Fd sub(openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return fail(step, "openat", m.destination + "/" + name);
    if ((err = mountAt(host.c_str(), sub.get(), nullptr, MS_BIND | MS_REC, nullptr, step, m.destination + "/" + name)))
      return err;
    if ((err = remount(root, m.destination + "/" + name, (m.flags & MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC, step)))
      return err;
    if (name.find(',') != std::string::npos) {
      size_t a = 0;
      while (a <= name.size()) {
        size_t b = name.find(',', a);
        if (b == std::string::npos) b = name.size();
        symlinkat(name.c_str(), dir.get(), name.substr(a, b - a).c_str());
        a = b + 1;
      }
    }
  }
  if (m.flags & MS_RDONLY) return remount(root, m.destination, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, step);
  return {};
}

// One entry of `mounts`.
Error applyMount(int root, const Spec& s, const MountSpec& m) {
  const char* step = mountStep(m);
  Error err;
  // Docker's /sys/fs/cgroup: pocker's own containers (pocker.cgroups.views) and runc bundles alike.
  if (m.type == "cgroup") {
    Fd target(mountpointNoSymlink(root, m.destination, &err, step));
    if (!target) return err;
    if (s.cgroupVersion == 1) return mountCgroupV1(root, s, m, target.get());
    err = mountAt("cgroup2", target.get(), "cgroup2", m.flags & ~static_cast<unsigned long>(MS_REMOUNT), nullptr, step,
                  m.destination);
    if (err && err.err == EBUSY && inUserNamespace(s)) {
      // The host's /sys bound in a user namespace (see sysfs below) brings the host's cgroup2 here,
      // and the kernel refuses the same superblock on its own mount point: the container's view goes
      // on a tmpfs over it (that bound mount is locked: it cannot be unmounted).
      if ((err = mountAt("tmpfs", target.get(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755", step, m.destination)))
        return err;
      Fd over(openInRoot(root, m.destination, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
      if (!over) return fail(step, "openat2", m.destination);
      err = mountAt("cgroup2", over.get(), "cgroup2", m.flags & ~static_cast<unsigned long>(MS_REMOUNT), nullptr, step,
                    m.destination);
    }
    return err;
  }
  if (m.bind()) {
    for (const auto& v : s.volumes)
      if (v.first == m.source && v.second == m.destination && (err = fillVolume(root, v.first, v.second))) return err;
    Fd src(::open(hostPath(m.source).c_str(), O_PATH | O_CLOEXEC));
    if (!src) return fail(step, "open", m.source);
    struct stat st;
    if (fstat(src.get(), &st) != 0) return fail(step, "fstat", m.source);
    Fd target(ensureInRoot(root, m.destination, !S_ISDIR(st.st_mode), &err, step));
    if (!target) return err;
    std::string resolved;
    if ((err = checkDestination(s, m, root, target.get(), src.get()))) return err;
    if (!pathInRoot(root, target.get(), &resolved)) return Error{EXDEV, step, "readlink", m.destination};
    if ((err = mountAt(fdPath(src.get()).c_str(), target.get(), nullptr, MS_BIND | (m.flags & MS_REC), nullptr, step,
                       m.destination)))
      return err;
    // ro, nosuid, nodev, noexec... of a bind apply through a remount (to its top mount only, as
    // runc does for `ro`); the recursive forms (rro, rnodev...) to every mount under it as well.
    unsigned long extra = m.flags & ~static_cast<unsigned long>(MS_BIND | MS_REC | MS_REMOUNT);
    uint64_t rset = m.recursiveSet;
    // A device node the caller passes in stays usable (nodev would make the bind pointless).
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      extra &= ~static_cast<unsigned long>(MS_NODEV);
      rset &= ~static_cast<uint64_t>(MOUNT_ATTR_NODEV);
    }
    // The mount is re-found at the path it was resolved to (no symlink to follow a second time).
    if (extra && (err = remount(root, resolved, extra, step))) return err;
    if ((err = setRecursive(root, resolved, rset, m.recursiveClear, step))) return err;
  } else {
    Fd target(needsRealDir(m) ? mountpointNoSymlink(root, m.destination, &err, step)
                              : ensureInRoot(root, m.destination, false, &err, step));
    if (!target) return err;
    if ((err = checkDestination(s, m, root, target.get(), -1))) return err;
    const std::string& source = m.source.empty() ? m.type : m.source;
    err = mountAt(source.c_str(), target.get(), m.type.c_str(), m.flags & ~static_cast<unsigned long>(MS_REMOUNT),
                  m.data.empty() ? nullptr : m.data.c_str(), step, m.destination);
    if (err && err.err == EPERM && m.type == "sysfs" && inUserNamespace(s)) {
      // A fresh sysfs needs a network namespace owned by the container's user namespace (a joined
      // or the host's network has none): the host's /sys then, bound read-only, as runc does.
      if ((err = mountAt("/sys", target.get(), nullptr, MS_BIND | MS_REC, nullptr, step, m.destination))) return err;
      return setRecursive(root, m.destination, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, step);
    }
    if (err) return err;
    if (m.recursiveSet || m.recursiveClear) {
      std::string resolved;
      if (!pathInRoot(root, target.get(), &resolved)) return Error{EXDEV, step, "readlink", m.destination};
      if ((err = setRecursive(root, resolved, m.recursiveSet, m.recursiveClear, step))) return err;
    }
  }
  if (m.propagation) {
    Fd fd(openInRoot(root, m.destination, O_PATH));
    if (!fd) return fail(step, "openat2", m.destination);
    if ((err = mountAt(nullptr, fd.get(), nullptr, m.propagation, nullptr, step, m.destination))) return err;
  }
  return {};
}

// linux.devices: the host's node bind-mounted when it is the same device (each its own mount, so
// /dev may stay nodev: there is no device cgroup); a node is made only where there is none to bind.
Error setupDevices(int root, const Spec& s) {
  Error err;
  for (const auto& d : s.devices) {
    size_t slash = d.path.rfind('/');
    std::string dir = d.path.substr(0, slash), leaf = d.path.substr(slash + 1);
    if (leaf.empty() || leaf == "." || leaf == "..") return Error{EINVAL, "mount-dev", "mknodat", d.path};
    Fd parent(ensureInRoot(root, dir.empty() ? "/" : dir, false, &err, "mount-dev"));
    if (!parent) return err;
    Fd parentDir(openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parentDir) return fail("mount-dev", "openat", dir);
    struct stat host;
    const bool block = d.type == 'b';
    bool bindable = d.type != 'p' && ::stat(d.path.c_str(), &host) == 0 &&
                    (block ? S_ISBLK(host.st_mode) : S_ISCHR(host.st_mode)) &&
                    major(host.st_rdev) == static_cast<unsigned>(d.major) && minor(host.st_rdev) == static_cast<unsigned>(d.minor);
    if (bindable) {
      Fd f(openat(parentDir.get(), leaf.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666));
      if (!f) return fail("mount-dev", "openat", d.path);
      Fd target(openat(parentDir.get(), leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!target) return fail("mount-dev", "openat", d.path);
      if ((err = mountAt(d.path.c_str(), target.get(), nullptr, MS_BIND, nullptr, "mount-dev", d.path))) return err;
      continue;
    }
    if (d.type != 'p' && inUserNamespace(s))
      return Error{EPERM, "mount-dev", "mknodat",
                   d.path + ": a device node cannot be made in a user namespace and the host has none to bind (" +
                       std::to_string(d.major) + ":" + std::to_string(d.minor) + ")"};
    mode_t type = d.type == 'p' ? S_IFIFO : block ? S_IFBLK : S_IFCHR;
    dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    if (mknodat(parentDir.get(), leaf.c_str(), type | (d.fileMode & 07777), dev) != 0 && errno != EEXIST)
      return fail("mount-dev", "mknodat", d.path);
    // The mode exactly as listed (mknod applies the umask).
    if (fchmodat(parentDir.get(), leaf.c_str(), d.fileMode & 07777, 0) != 0) return fail("mount-dev", "fchmodat", d.path);
    if (fchownat(parentDir.get(), leaf.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return fail("mount-dev", "fchownat", d.path);
  }
  return {};
}

// The /dev links every container has (the runtime's, not the document's: runtime-spec's
// "Default Devices" and runc's defaultSymlinks); lib/spec/defaults.ts's DEV_SYMLINKS lists them.
Error setupDevLinks(int root, const Spec& s) {
  static const char* const links[][2] = {{"ptmx", "pts/ptmx"},        {"fd", "/proc/self/fd"},
                                         {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
                                         {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"}};
  Error err;
  Fd devPath(mountpointNoSymlink(root, "/dev", &err, "mount-dev"));
  if (!devPath) return err;
  Fd dev(openat(devPath.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dev) return fail("mount-dev", "openat", "/dev");
  for (const auto& l : links)
    if (symlinkat(l[1], dev.get(), l[0]) != 0 && errno != EEXIST)
      return fail("mount-dev", "symlinkat", std::string("/dev/") + l[0]);
  if (s.tty) {
    Fd f(openat(dev.get(), "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) return fail("mount-dev", "openat", "/dev/console");
  }
  return {};
}

bool hasNamespace(const Spec& s, int flag) {
  if (s.namespaces & static_cast<uint32_t>(flag)) return true;
  for (const auto& j : s.joins)
    if (j.flag == flag) return true;
  return false;
}

// linux.sysctl: only keys of a namespace the container has its own of (never the host's).
Error applySysctl(int root, const Spec& s) {
  static const char* const ipcKeys[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  for (const auto& [key, value] : s.sysctl) {
    bool ok = false;
    for (const char* k : ipcKeys) ok = ok || key == k;
    if (ok || key.rfind("fs.mqueue.", 0) == 0) ok = hasNamespace(s, CLONE_NEWIPC);
    else if (key == "kernel.hostname" || key == "kernel.domainname") ok = hasNamespace(s, CLONE_NEWUTS);
    else if (key.rfind("net.", 0) == 0) ok = hasNamespace(s, CLONE_NEWNET);
    if (!ok) return Error{EINVAL, "sysctl", "write", key + " is not in a namespace of the container"};
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); i++)
      if (path[i] == '.') path[i] = '/';
    Fd fd(openInRoot(root, path, O_WRONLY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
    if (!fd) return fail("sysctl", "open", path);
    if (!writeAll(fd.get(), value.data(), value.size())) return fail("sysctl", "write", path);
  }
  return {};
}

// Masked paths: a read-only empty tmpfs over directories, /dev/null over files. Read-only paths:
// bound onto themselves, then remounted read-only.
Error maskAndProtect(int root, const Spec& s) {
  Error err;
  for (const auto& p : s.masks) {
    Fd fd(openInRoot(root, p, O_PATH));
    if (!fd) {
      if (errno == ENOENT) continue;
      return fail("mask-paths", "openat2", p);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return fail("mask-paths", "fstat", p);
    if (S_ISDIR(st.st_mode)) {
      if ((err = mountAt("tmpfs", fd.get(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555",
                         "mask-paths", p)))
        return err;
    } else {
      Fd null(openInRoot(root, "/dev/null", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
      if (!null) return fail("mask-paths", "openat2", "/dev/null");
      if ((err = mountAt(fdPath(null.get()).c_str(), fd.get(), nullptr, MS_BIND, nullptr, "mask-paths", p))) return err;
    }
  }
  for (const auto& p : s.readonlyPaths) {
    Fd fd(openInRoot(root, p, O_PATH));
    if (!fd) {
      if (errno == ENOENT) continue;
      return fail("readonly-paths", "openat2", p);
    }
    if ((err = mountAt(fdPath(fd.get()).c_str(), fd.get(), nullptr, MS_BIND | MS_REC, nullptr, "readonly-paths", p)))
      return err;
    if ((err = remount(root, p, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "readonly-paths"))) return err;
  }
  return {};
}

// The whole of the document's filesystem setup, in order: mounts, devices and their links,
// sysctl, masked and read-only paths.
Error setupMounts(int root, const Spec& s) {
  Error err;
  for (const auto& m : s.mounts)
    if ((err = applyMount(root, s, m))) return err;
  if ((err = setupDevices(root, s)) || (err = setupDevLinks(root, s)) || (err = applySysctl(root, s)) ||
      (err = maskAndProtect(root, s)))
    return err;
  return {};
}

Error pivotRoot(const Spec& s, const std::string& rootPath) {
  Fd newRoot(::open(rootPath.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!newRoot) return fail("pivot_root", "open", s.rootfs);
  if (fchdir(newRoot.get()) != 0) return fail("pivot_root", "fchdir", s.rootfs);
  if (syscall(SYS_pivot_root, ".", ".") != 0) return fail("pivot_root", "pivot_root", s.rootfs);
  // The old root is stacked under the new one: make it a slave so the detach can't propagate, then drop it.
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) return fail("pivot_root", "mount", "/");
  if (umount2(".", MNT_DETACH) != 0) return fail("pivot_root", "umount2", "/");
  if (chdir("/") != 0) return fail("pivot_root", "chdir", "/");
  return {};
}

// ---------- identity ----------

// In a user namespace just made or joined: uid and gid 0 of the namespace (until then this process
// keeps the host ids it had, unmapped there: it could not make a file). Supplementary groups are
// left to the workload's identity (dropPrivileges).
Error becomeNamespaceRoot() {
  if (setresgid(0, 0, 0) != 0) return fail("userns", "setresgid", "0 (is gid 0 mapped?)");
  if (setresuid(0, 0, 0) != 0) return fail("userns", "setresuid", "0 (is uid 0 mapped?)");
  return {};
}

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home = "/";
  std::vector<gid_t> groups;
};

bool isNumber(const std::string& s) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// /etc/passwd and /etc/group of the container's image: opened non-blocking (a FIFO there would
// hang the lookup, and `pocker exec` with it, forever) without following magic links, and read only
// when a regular file. Missing: no rows (numeric ids need no entry).
Error readColonFile(const char* path, std::vector<std::vector<std::string>>* out) {
  auto& rows = *out;
  std::string text;
  {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail("user", "open", "/");
    Fd fd(openInRoot(root.get(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (!fd) return errno == ENOENT || errno == ENOTDIR ? Error{} : fail("user", "open", path);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return fail("user", "fstat", path);
    // (Messages are the caller's to word, from step/syscall/errno: `path` names the file, as for every error.)
    if (!S_ISREG(st.st_mode)) return Error{EINVAL, "user", "open", path};
    // Nor a kernel file reached through a symlink (/proc/kmsg reads are destructive, and this
    // process is still fully privileged).
    struct statfs sf;
    if (fstatfs(fd.get(), &sf) != 0) return fail("user", "fstatfs", path);
    if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
      return Error{EINVAL, "user", "fstatfs", path};
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("user", "read", path);
      if (n == 0) break;
      if (text.size() + static_cast<size_t>(n) > (64u << 20)) return Error{EFBIG, "user", "read", path};
      text.append(buf, static_cast<size_t>(n));
    }
  }
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string::npos) j = text.size();
    std::string line = text.substr(i, j - i);
    i = j + 1;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t a = 0;
    for (;;) {
      size_t b = line.find(':', a);
      f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    rows.push_back(std::move(f));
  }
  return {};
}

// Docker's rules: "" is root; a name must be in /etc/passwd; a number needs no entry.
Error resolveUser(const std::string& spec, Identity* id) {
  std::string user = spec, group;
  size_t colon = spec.find(':');
  if (colon != std::string::npos) {
    user = spec.substr(0, colon);
    group = spec.substr(colon + 1);
  }
  if (user.empty()) user = "0";
  std::vector<std::vector<std::string>> passwd, groupRows;
  if (Error err = readColonFile("/etc/passwd", &passwd)) return err;
  std::string name;
  bool found = false;
  for (const auto& f : passwd) {
    if (f.size() < 7) continue;
    if ((isNumber(user) && f[2] == user) || (!isNumber(user) && f[0] == user)) {
      name = f[0];
      id->uid = static_cast<uid_t>(std::strtoul(f[2].c_str(), nullptr, 10));
      id->gid = static_cast<gid_t>(std::strtoul(f[3].c_str(), nullptr, 10));
      id->home = f[5].empty() ? "/" : f[5];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!isNumber(user)) return Error{ENOENT, "user", "getpwnam", "/etc/passwd"};
    id->uid = static_cast<uid_t>(std::strtoul(user.c_str(), nullptr, 10));
    id->gid = 0;
  }
  if (Error err = readColonFile("/etc/group", &groupRows)) return err;
  if (!group.empty()) {
    if (isNumber(group)) {
      id->gid = static_cast<gid_t>(std::strtoul(group.c_str(), nullptr, 10));
    } else {
      bool g = false;
      for (const auto& f : groupRows)
        if (f.size() >= 3 && f[0] == group) {
          id->gid = static_cast<gid_t>(std::strtoul(f[2].c_str(), nullptr, 10));
          g = true;
          break;
        }
      if (!g) return Error{ENOENT, "user", "getgrnam", "/etc/group"};
    }
  } else if (!name.empty()) {
    // Supplementary groups: every group that lists the user as a member.
    for (const auto& f : groupRows) {
      if (f.size() < 4) continue;
      size_t a = 0;
      while (a <= f[3].size()) {
        size_t b = f[3].find(',', a);
        if (b == std::string::npos) b = f[3].size();
        if (f[3].compare(a, b - a, name) == 0 && b > a) {
          gid_t g = static_cast<gid_t>(std::strtoul(f[2].c_str(), nullptr, 10));
          if (g != id->gid) id->groups.push_back(g);
        }
        a = b + 1;
      }
    }
  }
  return {};
}


// ---------- privileges ----------

// process.user (or pocker.user, Docker's user string), resolved inside the container's root.
Error resolveIdentity(const Spec& s, Identity* id) {
  Error err;
  if (s.hasUser) err = resolveUser(s.user, id);
  else err = resolveUser(std::to_string(s.uid) + ":" + std::to_string(s.gid), id);  // HOME from passwd
  if (err) return err;
  for (uint32_t g : s.additionalGids) id->groups.push_back(static_cast<gid_t>(g));
  return {};
}

Error applyRlimits(const Spec& s) {
  for (const auto& r : s.rlimits) {
    struct rlimit lim = {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (setrlimit(r.resource, &lim) != 0) return fail("rlimits", "setrlimit");
  }
  return {};
}

// process.capabilities, the identity, no_new_privs.
Error dropPrivileges(const Spec& s, const Identity& id) {
  uint64_t eff = s.capEffective, perm = s.capPermitted, inh = s.capInheritable, amb = s.capAmbient;
  // Docker's rule for its user string: a non-root user starts with no capabilities (only the
  // bounding set stays), as setuid(2) without keepcaps would leave it.
  if (s.hasUser && id.uid != 0) eff = perm = inh = amb = 0;
  // Bounding set first (needs CAP_SETPCAP, which we still have).
  for (int cap = 0; cap <= 63; cap++) {
    if (s.capBounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return fail("capabilities", "prctl(PR_CAPBSET_DROP)");
    }
  }
  // A non-root uid keeps its permitted set across setresuid only with keepcaps.
  const bool keep = id.uid != 0 && perm != 0;
  if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail("capabilities", "prctl(PR_SET_KEEPCAPS)");
  if (setgroups(id.groups.size(), id.groups.data()) != 0) {
    // A user namespace whose gid_map was written without privilege has setgroups "deny": with no
    // supplementary group to set there is nothing lost.
    std::string denied;
    if (!(errno == EPERM && id.groups.empty() && readFile("/proc/self/setgroups", &denied) == 0 && denied.rfind("deny", 0) == 0))
      return fail("user", "setgroups");
  }
  if (setresgid(id.gid, id.gid, id.gid) != 0) return fail("user", "setresgid");
  if (setresuid(id.uid, id.uid, id.uid) != 0) return fail("user", "setresuid");
  if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail("capabilities", "prctl(PR_SET_KEEPCAPS)");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  data[0].effective = static_cast<uint32_t>(eff);
  data[1].effective = static_cast<uint32_t>(eff >> 32);
  data[0].permitted = static_cast<uint32_t>(perm);
  data[1].permitted = static_cast<uint32_t>(perm >> 32);
  data[0].inheritable = static_cast<uint32_t>(inh);
  data[1].inheritable = static_cast<uint32_t>(inh >> 32);
  if (syscall(SYS_capset, &hdr, data) != 0) return fail("capabilities", "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return fail("capabilities", "prctl(PR_CAP_AMBIENT)");
  for (int cap = 0; cap <= 63; cap++)
    if ((amb & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      // runc's behaviour for a bundle: an ambient capability the kernel refuses (not in the
      // permitted and inheritable sets) is left out, not an error.
      if (s.runc && errno == EPERM) continue;
      return fail("capabilities", "prctl(PR_CAP_AMBIENT_RAISE)");
    }
  if (s.noNewPrivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no-new-privileges", "prctl");
  return {};
}

// Capabilities, identity, no_new_privs, then the seccomp filter, as late as possible. Loading a
// filter needs no_new_privs or CAP_SYS_ADMIN: with no_new_privs it comes after everything (the
// workload's exec is next); without it (Docker's default) it is loaded while pocker-init still
// holds CAP_SYS_ADMIN, before the capability drop, as runc does — the drop's own syscalls
// (prctl, capset, setgroups, setres[ug]id) are then filtered too (Docker's profile allows them).
Error finishPrivileges(const Spec& s, const Identity& id) {
  Error err;
  if (!s.noNewPrivs && (err = applySeccomp(s))) return err;
  if ((err = dropPrivileges(s, id))) return err;
  if (s.noNewPrivs && (err = applySeccomp(s))) return err;
  return {};
}

// ---------- exec ----------

const char* envGet(const std::vector<std::string>& env, const char* key) {
  size_t n = std::strlen(key);
  for (const auto& e : env)
    if (e.compare(0, n, key) == 0 && e.size() > n && e[n] == '=') return e.c_str() + n + 1;
  return nullptr;
}

// execvpe over the container's own PATH. Returns the errno that best describes the failure:
// ENOENT only when no candidate existed at all (exit 127), otherwise e.g. EACCES (exit 126).
int execWorkload(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string& cmd = args[0];
  if (cmd.find('/') != std::string::npos) {
    execve(cmd.c_str(), argv.data(), envp.data());
    return errno;
  }
  const char* path = envGet(env, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int best = ENOENT;
  std::string p = path;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find(':', i);
    if (j == std::string::npos) j = p.size();
    std::string dir = p.substr(i, j - i);
    i = j + 1;
    std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
    execve(full.c_str(), argv.data(), envp.data());
    if (errno != ENOENT && errno != ENOTDIR) best = errno;
  }
  return best;
}

// Whether execWorkload would find something to exec (runc's create checks before waiting).
bool canExec(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  const std::string& cmd = args[0];
  if (cmd.find('/') != std::string::npos) return ::access(cmd.c_str(), X_OK) == 0;
  const char* path = envGet(env, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::string p = path;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find(':', i);
    if (j == std::string::npos) j = p.size();
    std::string dir = p.substr(i, j - i);
    i = j + 1;
    if (::access(((dir.empty() ? "." : dir) + "/" + cmd).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void resetSignals() {
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// PR_SET_PDEATHSIG(SIGKILL), then a check that the monitor did not die before it was set (the
// signal would never come). getppid() says nothing in a new pid namespace (0), so the check is the
// monitor's end of the start-up socket, open for as long as the monitor lives. Set after the last
// credential change (which clears it).
void dieWithMonitor(int sock) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct pollfd p = {sock, 0, 0};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) _exit(137);
}

// --init (and exec's parent in the container): PID 1 holds nothing of the monitor's, only what it
// needs to reap and forward signals (no fd at all: stdio becomes the container's /dev/null).
void dropInheritedFds() {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++) {
    if (null >= 0) dup2(null, i);
    else ::close(i);
  }
  closeFrom(3U);
}

// --init: PID 1 reaps every orphan and forwards signals to the workload; exits with its status.
[[noreturn]] void runInit(pid_t workload) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      int st;
      pid_t r;
      while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
        if (r == workload) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      }
    } else if (sig != SIGTTOU && sig != SIGTTIN && sig != SIGTSTP) {
      ::kill(workload, sig);
    }
  }
}

Error setupTty(int sock, const Spec& s, const Identity& id, bool console) {
  Fd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return fail("tty", "open", "/dev/ptmx");
  int unlock = 0;
  if (ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return fail("tty", "ioctl(TIOCSPTLCK)");
  Fd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return fail("tty", "ioctl(TIOCGPTPEER)");
  if (s.rows && s.cols) {
    struct winsize ws = {s.rows, s.cols, 0, 0};
    ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  if (fchown(slave.get(), id.uid, static_cast<gid_t>(-1)) != 0) return fail("tty", "fchown");
  if (console && ::mount(fdPath(slave.get()).c_str(), "/dev/console", nullptr, MS_BIND, nullptr) != 0)
    return fail("tty", "mount", "/dev/console");
  if (!sendMsg(sock, wire::encodeKind(wire::Sync::Pty), master.get())) return fail("tty", "sendmsg");
  for (int i = 0; i < 3; i++)
    if (dup2(slave.get(), i) < 0) return fail("tty", "dup2");
  if (ioctl(0, TIOCSCTTY, 0) != 0) return fail("tty", "ioctl(TIOCSCTTY)");
  return {};
}

Error prepare(const Spec& s, int sock, int rootfsMount, Identity* id, std::vector<std::string>* env) {
  Error err;
  if (setsid() < 0) return fail("setsid", "setsid");
  if ((err = joinSessionKeyring())) return err;
  // linux.rootfsPropagation of "/" in the new mount namespace (default rslave: nothing mounted in
  // the container propagates back to the host).
  // shared and unbindable apply to the new root after pivot_root (pivot_root refuses a shared
  // parent; an unbindable one can't be bound): until then the mounts are rslave.
  unsigned long propagation = s.rootfsPropagation ? s.rootfsPropagation : MS_REC | MS_SLAVE;
  const bool late = (propagation & (MS_SHARED | MS_UNBINDABLE)) != 0;
  if (::mount(nullptr, "/", nullptr, late ? MS_REC | MS_SLAVE : propagation, nullptr) != 0)
    return fail("mount-propagation", "mount", "/");
  Fd mounted(rootfsMount);
  if ((err = mountRootfs(s, &mounted))) return err;
  // The rootfs from here on: its mount's root in a user namespace, else root.path.
  const std::string rootPath = mounted ? fdPath(mounted.get()) : s.rootfs;
  {
    Fd root(::open(rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail("mount-rootfs", "open", s.rootfs);
    if ((err = setupMounts(root.get(), s))) return err;
  }
  if (s.hasHostname && !s.hostname.empty() && sethostname(s.hostname.data(), s.hostname.size()) != 0)
    return fail("hostname", "sethostname", s.hostname);
  if (s.hasDomainname && !s.domainname.empty() && setdomainname(s.domainname.data(), s.domainname.size()) != 0)
    return fail("hostname", "setdomainname", s.domainname);
  if ((err = pivotRoot(s, rootPath))) return err;
  if (late && ::mount(nullptr, "/", nullptr, propagation, nullptr) != 0) return fail("mount-propagation", "mount", "/");
  if ((err = resolveIdentity(s, id))) return err;
  *env = s.env;
  if (!envGet(*env, "HOME")) env->push_back("HOME=" + id->home);
  // The working directory: created when missing (as Docker does), then checked to be inside the
  // root (no fd or cwd inherited from the host may leave a way out: runc CVE-2024-21626).
  {
    Error e2;
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd cwd(ensureInRoot(root.get(), s.cwd, false, &e2, "workdir"));
    if (!cwd) return e2;
  }
  if (chdir(s.cwd.c_str()) != 0) return fail("workdir", "chdir", s.cwd);
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf) || buf[0] != '/') return Error{EPERM, "workdir", "getcwd", s.cwd};
  if (s.tty && (err = setupTty(sock, s, *id, true))) return err;
  if (s.readOnly && ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, nullptr) != 0)
    return fail("read-only", "mount", "/");
  umask(s.umask);
  if (ownLoopback(s) && (err = loopbackUp())) return err;
  // The monitor has plumbed the network meanwhile (its second go; before the privileges drop and the
  // seccomp filter, which might not allow recvmsg). If it fails, it kills us.
  if (monitorPlumbsNetwork(s)) {
    char go[8];
    int stray = -1;
    ssize_t n = recvMsg(sock, go, sizeof go, &stray);
    if (stray >= 0) ::close(stray);
    if (n <= 0) return Error{EPIPE, "network", "recvmsg", "the monitor's go"};
  }
  if ((err = applyRlimits(s)) || (err = finishPrivileges(s, *id))) return err;
  return {};
}

}  // namespace

// exec: join every namespace of the running container that differs from ours (a container on the
// host network shares ours), through a pidfd, all at once. The mount namespace brings the
// container's root and a cwd at it; the pid namespace applies to our children (hence the fork).
//
// The target is the container's PID 1 unless its namespaces are closed to us: a rootless caller
// cannot reach those of --init's PID 1 (it stays not dumpable, and its memory belongs to the initial
// user namespace, where the caller has no CAP_SYS_PTRACE: /proc/<pid>/ns and setns(pidfd) are
// EACCES/EPERM). Then the exec joins through PID 1's first child that it can reach (the workload,
// which exec made dumpable in the container's user namespace): the same namespaces.
static pid_t execTarget(pid_t pid) {
  struct stat st;
  const std::string p = "/proc/" + std::to_string(pid);
  if (stat((p + "/ns/user").c_str(), &st) == 0 || (errno != EACCES && errno != EPERM)) return pid;
  std::string children;
  if (readFile((p + "/task/" + std::to_string(pid) + "/children").c_str(), &children) != 0) return pid;
  for (size_t at = 0; at < children.size();) {
    size_t end = children.find(' ', at);
    if (end == std::string::npos) end = children.size();
    const std::string child = children.substr(at, end - at);
    at = end + 1;
    if (child.empty() || child.find_first_not_of("0123456789") != std::string::npos) continue;
    if (stat(("/proc/" + child + "/ns/user").c_str(), &st) == 0) return static_cast<pid_t>(std::strtol(child.c_str(), nullptr, 10));
  }
  return pid;
}

Error prepareExec(const Spec& s, int sock, Identity* id, std::vector<std::string>* env) {
  if (setsid() < 0) return fail("setsid", "setsid");
  const pid_t target = execTarget(s.execPid);
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, target, 0)));
  if (!pidfd) return fail("exec-join", "pidfd_open", "/proc/" + std::to_string(target));
  static const struct {
    const char* name;
    int flag;
  } kinds[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},   {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC},
               {"net", CLONE_NEWNET},  {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}};
  int flags = 0;
  for (const auto& k : kinds) {
    struct stat mine, theirs;
    std::string p = "/proc/" + std::to_string(target) + "/ns/" + k.name;
    if (stat(p.c_str(), &theirs) != 0) return fail("exec-join", "stat", p);
    if (stat((std::string("/proc/self/ns/") + k.name).c_str(), &mine) != 0) return fail("exec-join", "stat", k.name);
    if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) flags |= k.flag;
  }
  // setns(pidfd) with several namespaces enters the user namespace first (as nsenter and runc
  // order it), so the others are joined with the privileges it gives.
  if (setns(pidfd.get(), flags) != 0) return fail("exec-join", "setns", "/proc/" + std::to_string(target));
  Error err;
  if ((flags & CLONE_NEWUSER) && (err = becomeNamespaceRoot())) return err;
  if ((err = joinSessionKeyring())) return err;
  if ((err = resolveIdentity(s, id))) return err;
  *env = s.env;
  if (!envGet(*env, "HOME")) env->push_back("HOME=" + id->home);
  if (chdir(s.cwd.c_str()) != 0) return fail("workdir", "chdir", s.cwd);
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf) || buf[0] != '/') return Error{EPERM, "workdir", "getcwd", s.cwd};
  if (s.tty && (err = setupTty(sock, s, *id, false))) return err;
  umask(s.umask);
  if ((err = applyRlimits(s))) return err;
  return finishPrivileges(s, *id);
}

int runContainer(const Spec& spec, int sock, const std::vector<int>& joinFds) {
  // Until the workload's exec, nothing of this process (its image: the shared pocker-init, its
  // fds, its memory) may be reached through /proc/<pid> by the container's other processes (a
  // joined pid namespace, exec's children): not dumpable, as runc's init. exec makes the
  // workload dumpable again; --init's PID 1 stays as it is.
  // In a new user namespace it stays dumpable until its maps are written (the go): newuidmap
  // checks that the caller owns /proc/<pid>, and a non-dumpable process's is root's.
  const bool newUserns = (spec.namespaces & CLONE_NEWUSER) != 0;
  if (!newUserns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // exec: dies with its monitor while it sets up too (a hung setup must not outlive it); set
  // again after the credential change, which clears it.
  const pid_t monitor = getppid();
  if (spec.execPid && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != monitor)) return 1;
  // Wait for the monitor's go (it has told the caller our pid).
  char go[8];
  int stray = -1;
  if (recvMsg(sock, go, sizeof go, &stray) <= 0) return 1;
  Fd rootfsMount;  // a new user namespace's overlay rootfs, made by the monitor
  if (newUserns) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    rootfsMount.reset(stray);
    // Host paths this process may no longer reach as the namespace's root (see gPreopened).
    if (!spec.execPid) {
      std::vector<std::string> paths = {spec.rootfs};
      for (const auto& m : spec.mounts)
        if (m.bind()) paths.push_back(m.source);
      for (const auto& p : paths) {
        int fd = ::open(p.c_str(), O_PATH | O_CLOEXEC);
        if (fd < 0) {
          reportError(sock, fail(p == spec.rootfs ? "mount-rootfs" : "mount-volume", "open", p));
          return 1;
        }
        gPreopened.emplace_back(p, fd);
      }
    }
    // Root of the namespace: from now on files are made as the mapped root, not the host's.
    if (Error err = becomeNamespaceRoot()) {
      reportError(sock, err);
      return 1;
    }
  } else if (stray >= 0) {
    ::close(stray);
  }

  // cgroup v1: join every hierarchy before anything else (before setns too: exec's host paths),
  // by writing 0 (this thread; pocker-init is single-threaded) into its `tasks` file. Moving
  // oneself skips the kernel's global threadgroup lock, whose RCU grace period costs 5-13 ms a
  // container when another process writes our pid into cgroup.procs.
  for (const auto& tasks : spec.cgroupV1Tasks) {
    if (newUserns) break;  // the monitor moved us (our root cannot write the host's cgroup files)
    if (int err = writeFile(tasks.c_str(), "0")) {
      reportError(sock, fail("cgroup", "write", tasks, err));
      return 1;
    }
  }
  // A private cgroup namespace on v1 (the monitor left it out of clone3: see clone3Container) is
  // made now, rooted at the cgroups just joined, as on v2 (CLONE_INTO_CGROUP) at clone time.
  if (!spec.execPid && !spec.cgroupV1Tasks.empty() && (spec.namespaces & CLONE_NEWCGROUP) &&
      unshare(CLONE_NEWCGROUP) != 0) {
    reportError(sock, fail("namespaces", "unshare", "cgroup"));
    return 1;
  }

  // linux.namespaces with a path: join them (the monitor opened them; a pid namespace it joined
  // itself, as that applies to its children). A user namespace first (the others are joined with
  // its privileges), the mount namespace last: the paths above are the host's.
  for (int pass = 0; pass < 3; pass++) {
    for (size_t i = 0; i < spec.joins.size(); i++) {
      int flag = spec.joins[i].flag;
      int want = flag == CLONE_NEWUSER ? 0 : flag == CLONE_NEWNS ? 2 : 1;
      if (flag == CLONE_NEWPID || want != pass) continue;
      if (setns(joinFds[i], flag) != 0) {
        reportError(sock, fail("namespaces", "setns", spec.joins[i].path));
        return 1;
      }
      if (flag == CLONE_NEWUSER) {
        if (Error err = becomeNamespaceRoot()) {
          reportError(sock, err);
          return 1;
        }
      }
    }
  }

  Identity id;
  std::vector<std::string> env;
  if (Error err = spec.execPid ? prepareExec(spec, sock, &id, &env) : prepare(spec, sock, rootfsMount.release(), &id, &env)) {
    reportError(sock, err);
    return 1;
  }
  // Everything but stdio (and runc's --preserve-fds) and the (close-on-exec) sync socket is closed at exec.
  closeFrom(3U + static_cast<unsigned>(spec.preserveFds), true);

  if (spec.runc) {
    // runc's create: set up, tell the creator (EOF on the socket), then wait on the exec fifo
    // until `start` reads it. A workload that cannot be found is reported now, while create waits.
    if (!canExec(spec.args, env)) {
      reportError(sock, Error{ENOENT, "exec", "execve", spec.args[0]});
      return 1;
    }
    ::close(sock);
    Fd fifo(::open(fdPath(spec.execFifo).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fifo || write(fifo.get(), "0", 1) != 1) return 1;
    // The fifo stays open (close-on-exec): `start` sees EOF once the workload is exec'd.
    (void)fifo.release();
    resetSignals();
    int e = execWorkload(spec.args, env);
    char msg[256];
    int n = std::snprintf(msg, sizeof msg, "exec %s: %s\n", spec.args[0].c_str(), std::strerror(e));
    if (n > 0) (void)!write(2, msg, static_cast<size_t>(n) < sizeof msg ? static_cast<size_t>(n) : sizeof msg - 1);
    return e == ENOENT ? 127 : 126;
  }

  // With --init, and always for exec (a joined pid namespace only applies to children), the
  // workload is a child of this process, which reaps and forwards signals.
  if (spec.init || spec.execPid) {
    pid_t workload = fork();
    if (workload < 0) {
      reportError(sock, fail("init", "fork"));
      return 1;
    }
    if (workload == 0) {
      // Own process group, in the foreground of the terminal, so Ctrl-C reaches it alone.
      setpgid(0, 0);
      if (spec.tty) {
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(0, getpid());
      }
      resetSignals();
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int e = execWorkload(spec.args, env);
      reportError(sock, Error{e, "exec", "execve", spec.args[0]});
      _exit(e == ENOENT ? 127 : 126);
    }
    dieWithMonitor(sock);
    ::close(sock);
    dropInheritedFds();
    runInit(workload);
  }
  resetSignals();
  // Dies with the monitor (set last: a credential change clears it).
  dieWithMonitor(sock);
  int e = execWorkload(spec.args, env);
  reportError(sock, Error{e, "exec", "execve", spec.args[0]});
  return 1;
}

}  // namespace pocker
