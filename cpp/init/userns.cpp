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

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/wire.h"
#include "init/init.h"

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

// The helper's work, in its own mount namespace (it exits after): see idmappedRootfs.
Error buildRootfs(const Spec& s, int usernsFd, uid_t rootUid, gid_t rootGid, Fd* out) {
  if (unshare(CLONE_NEWNS) != 0) return fail("idmap", "unshare", "mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("idmap", "mount", "/");
  // Each idmapped layer is attached over its own path (overlay takes only mounts of the caller's
  // namespace before Linux 6.15) and named to overlay by its fd (/proc/self/fd/N): a path would not
  // reach a mount stacked on "/" (the host image), lookups start below it.
  std::vector<Fd> trees;
  std::string lowers;
  for (const auto& lower : s.lowers) {
    Fd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, lower.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
    if (!tree) return fail("idmap", "open_tree", lower);
    MountAttr attr = {MOUNT_ATTR_IDMAP, 0, 0, static_cast<uint64_t>(usernsFd)};
    if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      int e = errno;
      std::string why = lower + ": its filesystem cannot be mounted idmapped here";
      if (e == ENOSYS) why = lower + ": this kernel has no idmapped mounts (5.12 or later needed)";
      return Error{e, "idmap", "mount_setattr(MOUNT_ATTR_IDMAP)", why};
    }
    if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, lower.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
      return fail("idmap", "move_mount", lower);
    if (!lowers.empty()) lowers += ':';
    lowers += "/proc/self/fd/" + std::to_string(tree.get());
    trees.push_back(std::move(tree));
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
  Fd fs(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return fail("idmap", "fsopen", "overlay");
  auto set = [&](const char* key, const std::string& value) {
    return syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0;
  };
  if (!set("lowerdir", lowers)) return fail("idmap", "fsconfig", "lowerdir=" + lowers);
  if (!set("upperdir", upper)) return fail("idmap", "fsconfig", "upperdir=" + upper);
  if (!set("workdir", work)) return fail("idmap", "fsconfig", "workdir=" + work);
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    int e = errno;
    return Error{e, "idmap", "fsconfig(FSCONFIG_CMD_CREATE)", s.rootfs + " (overlay over idmapped layers: Linux 5.19 or later)"};
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
