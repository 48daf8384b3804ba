// User namespaces, the monitor's side: id maps and the idmapped overlay rootfs (init/userns.h).
#include "init/userns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/wire.h"
#include "init/init.h"
#include "init/logs.h"

namespace pocker {
namespace {

std::string mapText(const std::vector<IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps)
    out += std::to_string(m.containerId) + " " + std::to_string(m.hostId) + " " + std::to_string(m.size) + "\n";
  return out;
}

// The one line a process may write into its child's map without privilege: its own id, once.
bool ownIdOnly(const std::vector<IdMapping>& maps, uint32_t id) {
  return maps.size() == 1 && maps[0].size == 1 && maps[0].hostId == id;
}

// newuidmap/newgidmap: the first found in /usr/bin, /bin, /usr/local/bin (fixed places, not the
// caller's PATH: a setuid helper is taken only from where the system installs it).
std::string findHelper(const char* name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// Runs newuidmap/newgidmap <pid> <container host size>...; its stderr becomes the error's text.
Error runMapHelper(const char* name, pid_t pid, const std::vector<IdMapping>& maps) {
  std::string bin = findHelper(name);
  if (bin.empty())
    return Error{ENOENT, "userns", name,
                 std::string(name) + " not found (install Debian's uidmap package): a map other than your own id needs it"};
  std::vector<std::string> args = {bin, std::to_string(pid)};
  for (const auto& m : maps) {
    args.push_back(std::to_string(m.containerId));
    args.push_back(std::to_string(m.hostId));
    args.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) return fail("userns", "pipe2");
  Fd rd(errPipe[0]), wr(errPipe[1]);
  // pocker-init is single-threaded: a plain fork is safe here.
  pid_t child = fork();
  if (child < 0) return fail("userns", "fork");
  if (child == 0) {
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
    }
    dup2(wr.get(), 2);
    char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    execve(bin.c_str(), argv.data(), envp);
    _exit(127);
  }
  wr.reset();
  std::string text;
  char buf[512];
  for (;;) {
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (text.size() < 2048) text.append(buf, static_cast<size_t>(n));
  }
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return {};
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) text = std::string(name) + " exited with status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  return Error{EPERM, "userns", name, text};
}

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

// ---------- the fallback: a chowned copy of each layer ----------
//
// Where a layer's filesystem cannot be mounted idmapped (mount_setattr refuses MOUNT_ATTR_IDMAP:
// ramfs, some network filesystems; kernels before 5.12), each layer is copied once into the
// container's own directory (idmap-lowers/<n>, removed with it) with every owner shifted through
// the maps, as podman does without idmapped mounts. Hand-written (like container.cpp's volume
// copy): the copy must keep whiteouts (0:0 devices), overlay's xattrs and hard links exactly.

struct ShiftedCopy {
  const Spec& spec;
  int toRoot;
  std::map<std::pair<dev_t, ino_t>, std::string> links;  // first copy of a multiply-linked inode

  uid_t uid(uid_t id) const {
    int64_t h = hostIdOf(spec.uidMappings, id);
    return h < 0 ? id : static_cast<uid_t>(h);  // unmapped: kept (it is nobody inside either way)
  }
  gid_t gid(gid_t id) const {
    int64_t h = hostIdOf(spec.gidMappings, id);
    return h < 0 ? id : static_cast<gid_t>(h);
  }

  // Every xattr of `src` (trusted.overlay.* included: this runs as the host's root) onto `dst`.
  static Error copyXattrs(int src, int dst, const std::string& where) {
    char names[65536];
    ssize_t n = flistxattr(src, names, sizeof names);
    if (n < 0) return errno == ENOTSUP ? Error{} : fail("idmap", "flistxattr", where);
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
      char value[65536];
      ssize_t v = fgetxattr(src, names + i, value, sizeof value);
      if (v < 0) continue;
      if (fsetxattr(dst, names + i, value, static_cast<size_t>(v), 0) != 0) return fail("idmap", "fsetxattr", where + " " + (names + i));
    }
    return {};
  }

  Error copyDir(int from, int to, const std::string& rel) {
    Fd dupd(fcntl(from, F_DUPFD_CLOEXEC, 0));
    DIR* dir = fdopendir(dupd.release());
    if (!dir) return fail("idmap", "fdopendir", rel);
    Error err;
    while (struct dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = rel.empty() ? name : rel + "/" + name;
      struct stat st;
      if (fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) { err = fail("idmap", "fstatat", path); break; }
      if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        auto it = links.find({st.st_dev, st.st_ino});
        if (it != links.end()) {
          if (linkat(toRoot, it->second.c_str(), to, name.c_str(), 0) != 0) { err = fail("idmap", "linkat", path); break; }
          continue;
        }
        links[{st.st_dev, st.st_ino}] = path;
      }
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      if (S_ISDIR(st.st_mode)) {
        if (mkdirat(to, name.c_str(), 0700) != 0) { err = fail("idmap", "mkdirat", path); break; }
        Fd sub(openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        Fd dsub(openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub || !dsub) { err = fail("idmap", "openat", path); break; }
        if ((err = copyDir(sub.get(), dsub.get(), path)) || (err = copyXattrs(sub.get(), dsub.get(), path))) break;
        if (fchown(dsub.get(), uid(st.st_uid), gid(st.st_gid)) != 0 || fchmod(dsub.get(), st.st_mode & 07777) != 0) {
          err = fail("idmap", "fchown", path);
          break;
        }
        futimens(dsub.get(), ts);
      } else if (S_ISREG(st.st_mode)) {
        Fd in(openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        Fd out(openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!in || !out) { err = fail("idmap", "openat", path); break; }
        if ((err = copyData(in.get(), out.get(), "idmap", path))) break;
        if ((err = copyXattrs(in.get(), out.get(), path))) break;
        // chown before chmod: chown clears the set-id bits.
        if (fchown(out.get(), uid(st.st_uid), gid(st.st_gid)) != 0 || fchmod(out.get(), st.st_mode & 07777) != 0) {
          err = fail("idmap", "fchown", path);
          break;
        }
        futimens(out.get(), ts);
      } else if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(from, name.c_str(), target, sizeof target - 1);
        if (n < 0) { err = fail("idmap", "readlinkat", path); break; }
        target[n] = 0;
        if (symlinkat(target, to, name.c_str()) != 0 ||
            fchownat(to, name.c_str(), uid(st.st_uid), gid(st.st_gid), AT_SYMLINK_NOFOLLOW) != 0) {
          err = fail("idmap", "symlinkat", path);
          break;
        }
        utimensat(to, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        // Whiteouts are 0:0 character devices: kept as they are.
        if (mknodat(to, name.c_str(), st.st_mode, st.st_rdev) != 0 ||
            fchownat(to, name.c_str(), uid(st.st_uid), gid(st.st_gid), AT_SYMLINK_NOFOLLOW) != 0) {
          err = fail("idmap", "mknodat", path);
          break;
        }
        utimensat(to, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      }
    }
    closedir(dir);
    return err;
  }
};

// The container's chowned copies of its layers (made once, reused by its later starts): *lowers
// gets their paths. `dir` is the container's directory.
Error copiedLayers(const Spec& s, const std::string& dir, std::vector<std::string>* lowers) {
  const std::string base = dir + "/idmap-lowers";
  std::string mapsText;
  for (const auto* maps : {&s.uidMappings, &s.gidMappings}) {
    for (const auto& m : *maps)
      mapsText += std::to_string(m.containerId) + ":" + std::to_string(m.hostId) + ":" + std::to_string(m.size) + ",";
    mapsText += ";";
  }
  for (size_t i = 0; i < s.lowers.size(); i++) lowers->push_back(base + "/" + std::to_string(i));
  std::string done;
  if (readFile((base + "/.complete").c_str(), &done) == 0 && done == mapsText) return {};
  removeTree(base);  // a copy a killed start left half-made
  if (mkdir(base.c_str(), 0700) != 0) return fail("idmap", "mkdir", base);
  for (size_t i = 0; i < s.lowers.size(); i++) {
    const std::string& to = (*lowers)[i];
    Fd from(::open(s.lowers[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!from) return fail("idmap", "open", s.lowers[i]);
    struct stat st;
    if (fstat(from.get(), &st) != 0) return fail("idmap", "fstat", s.lowers[i]);
    if (mkdir(to.c_str(), 0700) != 0) return fail("idmap", "mkdir", to);
    Fd dst(::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst) return fail("idmap", "open", to);
    ShiftedCopy c{s, dst.get(), {}};
    if (Error err = c.copyDir(from.get(), dst.get(), "")) {
      err.path = s.lowers[i] + "/" + err.path + " (copying the layer: its filesystem cannot be mounted idmapped)";
      return err;
    }
    if (Error err = ShiftedCopy::copyXattrs(from.get(), dst.get(), to)) return err;
    if (fchown(dst.get(), c.uid(st.st_uid), c.gid(st.st_gid)) != 0 || fchmod(dst.get(), st.st_mode & 07777) != 0)
      return fail("idmap", "fchown", to);
  }
  Fd marker(::open((base + "/.complete").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!marker || !writeAll(marker.get(), mapsText.data(), mapsText.size())) return fail("idmap", "write", base + "/.complete");
  return {};
}

// Whether mount_setattr's refusal means "this filesystem (or kernel) has no idmapped mounts".
bool noIdmapSupport(int e) { return e == EINVAL || e == EOPNOTSUPP || e == ENOSYS || e == EPERM; }

// The helper's work, in its own mount namespace (it exits after): see idmappedRootfs.
Error buildRootfs(const Spec& s, int usernsFd, uid_t rootUid, gid_t rootGid, Fd* out) {
  if (unshare(CLONE_NEWNS) != 0) return fail("idmap", "unshare", "mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("idmap", "mount", "/");
  // Each idmapped layer is attached over its own path (overlay takes only mounts of the caller's
  // namespace before Linux 6.15) and named to overlay by its fd: a path would not reach a mount
  // stacked on "/" (the host image), lookups start below it. The names are relative to
  // /proc/self/fd, made this helper's working directory: "7" instead of "/proc/self/fd/7". Before
  // Linux 6.8 overlay takes its layers as one "lowerdir" string, and fsconfig takes strings of at
  // most 256 bytes: 14 layers by absolute fd paths, about 60 by these (overlay resolves relative
  // names against the mounter's working directory, at fsconfig time since 6.5, at
  // FSCONFIG_CMD_CREATE before; the chdir comes below, once every path here is opened).
  std::vector<Fd> trees;
  std::string lowers;
  const std::string dir = s.upper.substr(0, s.upper.rfind('/'));
  std::vector<std::string> copies;
  for (const auto& lower : s.lowers) {
    Fd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, lower.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
    if (!tree && errno != ENOSYS) return fail("idmap", "open_tree", lower);
    MountAttr attr = {MOUNT_ATTR_IDMAP, 0, 0, static_cast<uint64_t>(usernsFd)};
    if (!tree || syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      int e = errno;
      if (!trees.empty() || !noIdmapSupport(e))
        return Error{e, "idmap", "mount_setattr(MOUNT_ATTR_IDMAP)", lower + ": its filesystem cannot be mounted idmapped"};
      // The fallback: the container's own chowned copies of its layers (never of the host image:
      // that is the whole host).
      if (s.scratchUpper)
        return Error{e, "idmap", "mount_setattr(MOUNT_ATTR_IDMAP)", lower + ": its filesystem cannot be mounted idmapped (and the host is not copied)"};
      if (Error err = copiedLayers(s, dir, &copies)) return err;
      break;
    }
    if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, lower.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
      return fail("idmap", "move_mount", lower);
    if (!lowers.empty()) lowers += ':';
    lowers += std::to_string(tree.get());
    trees.push_back(std::move(tree));
  }
  // Every directory is named to overlay by an fd as well: fsconfig takes strings of at most 256
  // bytes, which a store's paths may pass.
  auto byFd = [&](const std::string& path, std::string* out) -> Error {
    Fd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail("idmap", "open", path);
    *out = std::to_string(fd.get());
    trees.push_back(std::move(fd));
    return {};
  };
  for (const auto& c : copies) {
    std::string p;
    if (Error err = byFd(c, &p)) return err;
    if (!lowers.empty()) lowers += ':';
    lowers += p;
  }
  std::string upper = s.upper, work = s.work;
  if (s.scratchUpper) {
    const std::string opts = "mode=0755,uid=" + std::to_string(rootUid) + ",gid=" + std::to_string(rootGid);
    if (::mount("tmpfs", s.upper.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) return fail("idmap", "mount", s.upper);
    upper = s.upper + "/upper";
    work = s.upper + "/work";
    if ((mkdir(upper.c_str(), 0755) != 0 && errno != EEXIST) || (mkdir(work.c_str(), 0700) != 0 && errno != EEXIST))
      return fail("idmap", "mkdir", upper);
  }
  // The container's root owns its writable layer's top (the merged "/" takes its owner from it).
  if (::chown(upper.c_str(), rootUid, rootGid) != 0) return fail("idmap", "chown", upper);
  // The overlay is made with the new mount API (fsopen/fsmount): a detached mount that belongs to
  // no namespace, so the container may attach it in its own (a detached copy of a mount, from
  // open_tree, may only be attached in the namespace it came from: Linux 6.15).
  std::vector<std::string> each;
  for (size_t a = 0; a <= lowers.size();) {
    size_t b = lowers.find(':', a);
    if (b == std::string::npos) b = lowers.size();
    each.push_back(lowers.substr(a, b - a));
    a = b + 1;
  }
  std::string upperFd, workFd;
  if (Error err = byFd(upper, &upperFd)) return err;
  if (Error err = byFd(work, &workFd)) return err;
  // Two tries: one layer at a time ("lowerdir+", Linux 6.8: no limit on the number of layers),
  // then the whole list at once (at most 256 bytes: about 60 layers by fd number). A kernel whose overlay still
  // parses its options the legacy way takes any key at fsconfig time and refuses "lowerdir+" only
  // at FSCONFIG_CMD_CREATE, hence a fresh context for the second try.
  if (chdir("/proc/self/fd") != 0) return fail("idmap", "chdir", "/proc/self/fd");
  Fd fs;
  for (int attempt = 0; attempt < 2; attempt++) {
    const bool plus = attempt == 0;
    fs.reset(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
    if (!fs) return fail("idmap", "fsopen", "overlay");
    auto set = [&](const char* key, const std::string& value) {
      return syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0;
    };
    // A refusal carries the kernel's own words: the fs context's message log ("e overlay: ...").
    auto refuse = [&](const char* syscallName, const std::string& what) {
      std::string detail = what;
      int e = errno;
      char buf[512];
      ssize_t n;
      while ((n = read(fs.get(), buf, sizeof buf - 1)) > 0) {
        while (n > 0 && buf[n - 1] == '\n') n--;
        detail += " (" + std::string(buf, static_cast<size_t>(n)) + ")";
      }
      return Error{e ? e : EIO, "idmap", syscallName, detail};
    };
    bool ok = true;
    if (plus) {
      for (size_t i = 0; ok && i < each.size(); i++) ok = set("lowerdir+", each[i]);
      if (!ok) continue;
    } else if (!set("lowerdir", lowers)) {
      return refuse("fsconfig", "lowerdir=" + lowers);
    }
    if (!set("upperdir", upperFd)) return refuse("fsconfig", "upperdir=" + upper);
    if (!set("workdir", workFd)) return refuse("fsconfig", "workdir=" + work);
    if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0) break;
    if (plus && errno == EINVAL) continue;
    return refuse("fsconfig(FSCONFIG_CMD_CREATE)", s.rootfs + " (overlay over idmapped layers: Linux 5.19 or later)");
  }
  // nodev everywhere, as for root's containers (container.cpp: mountRootfs).
  out->reset(static_cast<int>(syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV)));
  if (!*out) return fail("idmap", "fsmount", s.rootfs);
  return {};
}

}  // namespace

bool rootInInitialUserns() {
  if (geteuid() != 0) return false;
  std::string map;
  if (readFile("/proc/self/uid_map", &map) != 0) return false;
  // The initial namespace's map is the identity over every id: "0 0 4294967295".
  char* end = nullptr;
  unsigned long a = std::strtoul(map.c_str(), &end, 10), b = std::strtoul(end, &end, 10), n = std::strtoul(end, &end, 10);
  return a == 0 && b == 0 && n == 4294967295UL;
}

Error writeIdMaps(const Spec& spec, pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  const bool root = rootInInitialUserns();
  // uid first (as runc: gid_map through newgidmap needs nothing of uid_map, but a direct write of
  // gid_map by a non-root caller needs setgroups "deny", written before it).
  if (root || ownIdOnly(spec.uidMappings, geteuid())) {
    if (int e = writeFile((proc + "/uid_map").c_str(), mapText(spec.uidMappings)))
      return fail("userns", "write", proc + "/uid_map", e);
  } else if (Error err = runMapHelper("newuidmap", pid, spec.uidMappings)) {
    return err;
  }
  if (root) {
    if (int e = writeFile((proc + "/gid_map").c_str(), mapText(spec.gidMappings)))
      return fail("userns", "write", proc + "/gid_map", e);
  } else if (ownIdOnly(spec.gidMappings, getegid()) && findHelper("newgidmap").empty()) {
    // Only here is setgroups denied: the container can then never call setgroups(2) (its
    // supplementary groups stay empty), which is what the kernel demands of an unprivileged map.
    if (int e = writeFile((proc + "/setgroups").c_str(), "deny"))
      return fail("userns", "write", proc + "/setgroups", e);
    if (int e = writeFile((proc + "/gid_map").c_str(), mapText(spec.gidMappings)))
      return fail("userns", "write", proc + "/gid_map", e);
  } else if (Error err = runMapHelper("newgidmap", pid, spec.gidMappings)) {
    return err;
  }
  return {};
}

Error idmappedRootfs(const Spec& spec, pid_t pid, Fd* out) {
  const std::string nsPath = "/proc/" + std::to_string(pid) + "/ns/user";
  Fd userns(::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns) return fail("idmap", "open", nsPath);
  const int64_t rootUid = hostIdOf(spec.uidMappings, 0), rootGid = hostIdOf(spec.gidMappings, 0);
  if (rootUid < 0 || rootGid < 0)
    return Error{EINVAL, "idmap", "chown", "the container's root (id 0) is not mapped: an overlay rootfs needs it"};
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return fail("idmap", "socketpair");
  Fd mine(sp[0]), theirs(sp[1]);
  // pocker-init is single-threaded: the helper may do anything after fork.
  pid_t helper = fork();
  if (helper < 0) return fail("idmap", "fork");
  if (helper == 0) {
    mine.reset();
    Fd tree;
    Error err = buildRootfs(spec, userns.get(), static_cast<uid_t>(rootUid), static_cast<gid_t>(rootGid), &tree);
    if (err) reportError(theirs.get(), err);
    else sendMsg(theirs.get(), wire::encodeKind(wire::Sync::Go), tree.get());
    _exit(0);
  }
  theirs.reset();
  char buf[4096];
  int fd = -1;
  ssize_t n;
  while ((n = recvMsg(mine.get(), buf, sizeof buf, &fd)) < 0 && errno == EINTR) {
  }
  Fd tree(fd);
  while (waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
  }
  wire::SyncMsg m;
  if (n <= 0 || !wire::decode(buf, static_cast<size_t>(n), &m)) return Error{EPIPE, "idmap", "recvmsg", "the idmap helper"};
  if (m.kind == wire::Sync::Error) {
    // The helper's error, its strings kept alive here (Error holds const char* step/syscall).
    static std::string syscallName;
    syscallName = m.syscall;
    return Error{m.err ? m.err : EIO, "idmap", syscallName.c_str(), m.path};
  }
  if (!tree) return Error{EPIPE, "idmap", "recvmsg", "the idmap helper sent no mount"};
  *out = std::move(tree);
  return {};
}

}  // namespace pocker
