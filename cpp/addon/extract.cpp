// Root-relative filesystem primitives for layer extraction (and for anything else that must write
// into a directory tree it does not trust: a container's upper dir, an image store).
//
// Every path is relative to a root directory fd. The path is split into components (empty and "."
// components are dropped, a leading "/" is ignored, ".." is refused with EXDEV); the PARENT is
// opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) (or, on kernels
// without openat2, walked one component at a time with O_NOFOLLOW), so no symlink anywhere in the
// parent chain is ever followed, even one the caller created itself: a symlink in the chain fails
// with ELOOP. The last component is acted on with *at() calls and O_NOFOLLOW / AT_SYMLINK_NOFOLLOW
// (or through an O_PATH fd of that exact inode), so it is never followed either. Entries that are
// replaced (create over an existing name) are unlinked first, never truncated or written through.
//
// Errors are thrown as SystemError-shaped JS errors with step 'extract' and the root-relative path.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "addon/addon.h"
#include "common/resolve.h"
#include "common/util.h"

namespace pocker {

void initRootFs(Napi::Env env, Napi::Object exports);

namespace {

constexpr const char* kStep = "extract";

// A failed syscall, as pocker's one error value (common/util.h); the path is added at the N-API boundary.
Error failed(const char* syscall, int err = errno) { return fail(kStep, syscall, {}, err); }

// The parent directory of a root-relative path, and its last component.
struct Target {
  int root = -1;
  Fd parent;         // O_PATH directory fd; unset when the path names the root itself
  std::string name;  // last component; empty for the root itself
  bool isRoot() const { return name.empty(); }
};

// Splits `path` into components. "" and "." are dropped, ".." is refused (EXDEV, as openat2's
// RESOLVE_BENEATH reports an escape), an embedded NUL is refused (EINVAL).
int splitPath(const std::string& path, std::vector<std::string>* parts) {
  if (path.find('\0') != std::string::npos) return EINVAL;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string c = path.substr(i, j - i);
    if (c == "..") return EXDEV;
    if (!c.empty() && c != ".") {
      if (c.size() > NAME_MAX) return ENAMETOOLONG;
      parts->push_back(std::move(c));
    }
    i = j + 1;
  }
  return 0;
}

// 1: openat2 works, 0: not available (ENOSYS), -1: not probed yet.
int haveOpenat2 = -1;

// Opens the directory `rel` ("." or components joined by "/") beneath `root` without following
// any symlink. Returns an O_PATH fd or -errno.
int openDirBeneath(int root, const std::vector<std::string>& parts, size_t count) {
  std::string rel;
  for (size_t i = 0; i < count; i++) {
    if (i) rel += '/';
    rel += parts[i];
  }
  if (rel.empty()) rel.push_back('.');
  // Tests exercise the fallback walk (kernels before 5.6) with POCKER_TEST_NO_OPENAT2=1.
  if (haveOpenat2 == -1 && getenv("POCKER_TEST_NO_OPENAT2")) haveOpenat2 = 0;
  if (haveOpenat2 != 0) {
    int fd = openInRoot(root, rel, O_PATH | O_DIRECTORY, kBeneathNoSymlinks);  // retries EAGAIN (a concurrent rename)
    if (fd >= 0) {
      haveOpenat2 = 1;
      return fd;
    }
    // ENOSYS: a kernel before 5.6; EPERM: a seccomp profile that predates openat2 (older
    // container runtimes answer unknown syscalls with EPERM). Only trusted on the first call.
    if (!((errno == ENOSYS || errno == EPERM) && haveOpenat2 == -1)) return -errno;
    haveOpenat2 = 0;
  }
  // Fallback: one component at a time, never following a symlink.
  Fd cur(openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return -errno;
  for (size_t i = 0; i < count; i++) {
    int fd = openat(cur.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      struct stat st;
      if ((err == ENOTDIR || err == ELOOP) && fstatat(cur.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        err = ELOOP;
      return -err;
    }
    cur.reset(fd);
  }
  return cur.release();
}

Error resolve(int root, const std::string& path, Target* t) {
  std::vector<std::string> parts;
  if (int err = splitPath(path, &parts)) return failed("openat2", err);
  t->root = root;
  if (parts.empty()) return {};
  int fd = openDirBeneath(root, parts, parts.size() - 1);
  if (fd < 0) return failed("openat2", -fd);
  t->parent.reset(fd);
  t->name = std::move(parts.back());
  return {};
}

// "/proc/self/fd/<fd>" (optionally "/<name>"): reaches exactly the inode an fd pins.
std::string procFd(int fd, const std::string& name = {}) {
  std::string p = "/proc/self/fd/" + std::to_string(fd);
  if (!name.empty()) p += "/" + name;
  return p;
}

// Removes `name` in `dir`: a non-directory is unlinked, a directory removed with everything in it
// (fd-relative, never following a symlink). *removed tells whether anything was there.
Error removeAt(int dir, const char* name, bool* removed, int depth = 0) {
  if (removed) *removed = false;
  if (unlinkat(dir, name, 0) == 0) {
    if (removed) *removed = true;
    return {};
  }
  if (errno == ENOENT) return {};
  if (errno == EPERM) {  // POSIX's answer for a directory; Linux says EISDIR, but check
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) return failed("unlinkat", EPERM);
  } else if (errno != EISDIR) {
    return failed("unlinkat");
  }
  if (depth > 4096) return failed("unlinkat", ELOOP);
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return failed("openat");
  DIR* d = fdopendir(fd);
  if (!d) {
    int err = errno;
    close(fd);
    return failed("fdopendir", err);
  }
  Error st;
  for (int pass = 0; pass < 16; pass++) {
    bool any = false;
    rewinddir(d);
    errno = 0;
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
      any = true;
      if ((st = removeAt(dirfd(d), e->d_name, nullptr, depth + 1))) break;
    }
    if (st || !any) break;
  }
  closedir(d);
  if (st) return st;
  if (unlinkat(dir, name, AT_REMOVEDIR) != 0) return failed("rmdir");
  if (removed) *removed = true;
  return {};
}

// mkdir; an existing directory is fine (returns false), an existing symlink is ELOOP, anything
// else EEXIST.
Error doMkdir(const Target& t, mode_t mode, bool* created) {
  *created = false;
  if (t.isRoot()) return {};
  if (mkdirat(t.parent.get(), t.name.c_str(), mode) == 0) {
    *created = true;
    return {};
  }
  if (errno != EEXIST) return failed("mkdirat");
  struct stat st;
  if (fstatat(t.parent.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return failed("fstatat");
  if (S_ISDIR(st.st_mode)) return {};
  return failed("mkdirat", S_ISLNK(st.st_mode) ? ELOOP : EEXIST);
}

Error doLchown(const Target& t, uid_t uid, gid_t gid) {
  if (t.isRoot()) return fchown(t.root, uid, gid) == 0 ? Error{} : failed("fchown");
  if (fchownat(t.parent.get(), t.name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return failed("fchownat");
  return {};
}

// chmod of the inode itself; a symlink is refused (ELOOP): its mode means nothing and chmod(2)
// would follow it.
Error doChmod(const Target& t, mode_t mode) {
  if (t.isRoot()) {
    if (fchmod(t.root, mode) == 0) return {};
    if (errno != EBADF) return failed("fchmod");
    return chmod(procFd(t.root).c_str(), mode) == 0 ? Error{} : failed("fchmod");
  }
  Fd fd(openat(t.parent.get(), t.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return failed("openat");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return failed("fstat");
  if (S_ISLNK(st.st_mode)) return failed("fchmodat", ELOOP);
  if (chmod(procFd(fd.get()).c_str(), mode) != 0) return failed("fchmodat");
  return {};
}

bool toTimespec(Napi::Value v, struct timespec* ts) {
  if (v.IsUndefined() || v.IsNull()) {
    ts->tv_sec = 0;
    ts->tv_nsec = UTIME_OMIT;
    return true;
  }
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  int64_t ns = v.As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) return false;
  int64_t sec = ns / 1000000000, rem = ns % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    sec -= 1;
  }
  ts->tv_sec = sec;
  ts->tv_nsec = rem;
  return true;
}

Error doUtimes(const Target& t, const struct timespec ts[2]) {
  if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT) return {};
  if (t.isRoot()) return futimens(t.root, ts) == 0 ? Error{} : failed("futimens");
  if (utimensat(t.parent.get(), t.name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return failed("utimensat");
  return {};
}

Error doSetxattr(const Target& t, const std::string& name, const void* value, size_t len) {
  if (t.isRoot()) {
    if (fsetxattr(t.root, name.c_str(), value, len, 0) == 0) return {};
    if (errno != EBADF) return failed("fsetxattr");
    return setxattr(procFd(t.root).c_str(), name.c_str(), value, len, 0) == 0 ? Error{} : failed("fsetxattr");
  }
  // The parent is pinned by its fd; the last component is not followed (l-variant).
  if (lsetxattr(procFd(t.parent.get(), t.name).c_str(), name.c_str(), value, len, 0) != 0) return failed("lsetxattr");
  return {};
}

// ------------------------------------------------------------------------------------------
// Argument helpers

bool intArg(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

bool strArg(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) return false;
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

// (rootFd, path, ...) → root fd, path, resolved target.
bool rootArgs(const Napi::CallbackInfo& info, int* root, std::string* path) {
  int64_t r;
  if (!intArg(info, 0, &r) || !strArg(info, 1, path)) return false;
  *root = static_cast<int>(r);
  return true;
}

Napi::Value sysErr(const Napi::CallbackInfo& info, const Error& st, const std::string& path) {
  return throwSystemError(info.Env(), st.err, st.syscall, path, kStep);
}

// ------------------------------------------------------------------------------------------
// Exports

Napi::Value OpenRoot(const Napi::CallbackInfo& info) {
  std::string dir;
  if (!strArg(info, 0, &dir)) return throwTypeError(info.Env(), "fsOpenRoot(dir)");
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return throwSystemError(info.Env(), errno, "open", dir, kStep);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Mkdir(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  int64_t mode;
  if (!rootArgs(info, &root, &path) || !intArg(info, 2, &mode)) return throwTypeError(info.Env(), "fsMkdir(rootFd, path, mode)");
  Target t;
  bool created = false;
  Error st = resolve(root, path, &t);
  if (!st) st = doMkdir(t, static_cast<mode_t>(mode & 07777), &created);
  if (st) return sysErr(info, st, path);
  return Napi::Boolean::New(info.Env(), created);
}

Napi::Value CreateFile(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  int64_t mode;
  if (!rootArgs(info, &root, &path) || !intArg(info, 2, &mode))
    return throwTypeError(info.Env(), "fsCreateFile(rootFd, path, mode)");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st && t.isRoot()) st = failed("openat", EISDIR);
  if (st) return sysErr(info, st, path);
  for (int attempt = 0;; attempt++) {
    int fd = openat(t.parent.get(), t.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    static_cast<mode_t>(mode & 0777));
    if (fd >= 0) return Napi::Number::New(info.Env(), fd);
    if (errno != EEXIST || attempt > 0) return sysErr(info, failed("openat"), path);
    if ((st = removeAt(t.parent.get(), t.name.c_str(), nullptr))) return sysErr(info, st, path);
  }
}

Napi::Value Symlink(const Napi::CallbackInfo& info) {
  int root;
  std::string path, target;
  if (!rootArgs(info, &root, &path) || !strArg(info, 2, &target))
    return throwTypeError(info.Env(), "fsSymlink(rootFd, path, target)");
  if (target.find('\0') != std::string::npos) return sysErr(info, failed("symlinkat", EINVAL), path);
  Target t;
  Error st = resolve(root, path, &t);
  if (!st && t.isRoot()) st = failed("symlinkat", EEXIST);
  if (st) return sysErr(info, st, path);
  for (int attempt = 0;; attempt++) {
    if (symlinkat(target.c_str(), t.parent.get(), t.name.c_str()) == 0) return info.Env().Undefined();
    if (errno != EEXIST || attempt > 0) return sysErr(info, failed("symlinkat"), path);
    if ((st = removeAt(t.parent.get(), t.name.c_str(), nullptr))) return sysErr(info, st, path);
  }
}

Napi::Value Link(const Napi::CallbackInfo& info) {
  int root;
  std::string path, target;
  if (!rootArgs(info, &root, &path) || !strArg(info, 2, &target))
    return throwTypeError(info.Env(), "fsLink(rootFd, path, target)");
  Target t, src;
  Error st = resolve(root, target, &src);
  if (st) return sysErr(info, st, target);
  if (src.isRoot()) return sysErr(info, failed("linkat", EPERM), target);
  if ((st = resolve(root, path, &t))) return sysErr(info, st, path);
  if (t.isRoot()) return sysErr(info, failed("linkat", EEXIST), path);
  for (int attempt = 0;; attempt++) {
    // flags 0: a symlink target is linked itself, never followed.
    if (linkat(src.parent.get(), src.name.c_str(), t.parent.get(), t.name.c_str(), 0) == 0) return info.Env().Undefined();
    if (errno != EEXIST || attempt > 0) return sysErr(info, failed("linkat"), path);
    struct stat a, b;
    if (fstatat(src.parent.get(), src.name.c_str(), &a, AT_SYMLINK_NOFOLLOW) == 0 &&
        fstatat(t.parent.get(), t.name.c_str(), &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
      return info.Env().Undefined();  // already that file
    if ((st = removeAt(t.parent.get(), t.name.c_str(), nullptr))) return sysErr(info, st, path);
  }
}

Napi::Value Mknod(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  int64_t mode, major, minor;
  if (!rootArgs(info, &root, &path) || !intArg(info, 2, &mode) || !intArg(info, 3, &major) || !intArg(info, 4, &minor))
    return throwTypeError(info.Env(), "fsMknod(rootFd, path, mode, major, minor)");
  mode_t type = static_cast<mode_t>(mode) & S_IFMT;
  if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO) return sysErr(info, failed("mknodat", EINVAL), path);
  Target t;
  Error st = resolve(root, path, &t);
  if (!st && t.isRoot()) st = failed("mknodat", EEXIST);
  if (st) return sysErr(info, st, path);
  dev_t dev = type == S_IFIFO ? 0 : makedev(static_cast<unsigned>(major), static_cast<unsigned>(minor));
  for (int attempt = 0;; attempt++) {
    if (mknodat(t.parent.get(), t.name.c_str(), type | (static_cast<mode_t>(mode) & 07777), dev) == 0)
      return info.Env().Undefined();
    if (errno != EEXIST || attempt > 0) return sysErr(info, failed("mknodat"), path);
    if ((st = removeAt(t.parent.get(), t.name.c_str(), nullptr))) return sysErr(info, st, path);
  }
}

Napi::Value Lchown(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  int64_t uid, gid;
  if (!rootArgs(info, &root, &path) || !intArg(info, 2, &uid) || !intArg(info, 3, &gid))
    return throwTypeError(info.Env(), "fsLchown(rootFd, path, uid, gid)");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st) st = doLchown(t, static_cast<uid_t>(uid), static_cast<gid_t>(gid));
  if (st) return sysErr(info, st, path);
  return info.Env().Undefined();
}

Napi::Value Chmod(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  int64_t mode;
  if (!rootArgs(info, &root, &path) || !intArg(info, 2, &mode)) return throwTypeError(info.Env(), "fsChmod(rootFd, path, mode)");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st) st = doChmod(t, static_cast<mode_t>(mode & 07777));
  if (st) return sysErr(info, st, path);
  return info.Env().Undefined();
}

Napi::Value Utimes(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  struct timespec ts[2];
  if (!rootArgs(info, &root, &path) || info.Length() < 4 || !toTimespec(info[2], &ts[0]) || !toTimespec(info[3], &ts[1]))
    return throwTypeError(info.Env(), "fsUtimes(rootFd, path, atimeNs: bigint | null, mtimeNs: bigint | null)");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st) st = doUtimes(t, ts);
  if (st) return sysErr(info, st, path);
  return info.Env().Undefined();
}

Napi::Value Lsetxattr(const Napi::CallbackInfo& info) {
  int root;
  std::string path, name;
  if (!rootArgs(info, &root, &path) || !strArg(info, 2, &name) || info.Length() < 4 || !info[3].IsTypedArray())
    return throwTypeError(info.Env(), "fsLsetxattr(rootFd, path, name, value: Uint8Array)");
  Napi::Uint8Array value = info[3].As<Napi::Uint8Array>();
  Target t;
  Error st = resolve(root, path, &t);
  if (!st) st = doSetxattr(t, name, value.Data(), value.ByteLength());
  if (st) return sysErr(info, st, path);
  return info.Env().Undefined();
}

Napi::Value Lgetxattr(const Napi::CallbackInfo& info) {
  int root;
  std::string path, name;
  if (!rootArgs(info, &root, &path) || !strArg(info, 2, &name))
    return throwTypeError(info.Env(), "fsLgetxattr(rootFd, path, name)");
  Target t;
  Error st = resolve(root, path, &t);
  if (st) return sysErr(info, st, path);
  std::string file = t.isRoot() ? procFd(root) : procFd(t.parent.get(), t.name);
  std::vector<char> buf(256);
  for (int tries = 0; tries < 8; tries++) {
    ssize_t n = t.isRoot() ? fgetxattr(root, name.c_str(), buf.data(), buf.size())
                           : lgetxattr(file.c_str(), name.c_str(), buf.data(), buf.size());
    if (n >= 0) return Napi::Buffer<char>::Copy(info.Env(), buf.data(), static_cast<size_t>(n));
    if (errno == ENODATA) return info.Env().Null();
    if (errno != ERANGE) return sysErr(info, failed("lgetxattr"), path);
    ssize_t need = t.isRoot() ? fgetxattr(root, name.c_str(), nullptr, 0) : lgetxattr(file.c_str(), name.c_str(), nullptr, 0);
    if (need < 0) return sysErr(info, failed("lgetxattr"), path);
    buf.resize(static_cast<size_t>(need) + 1);
  }
  return sysErr(info, failed("lgetxattr", ERANGE), path);
}

Napi::Value Remove(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  if (!rootArgs(info, &root, &path)) return throwTypeError(info.Env(), "fsRemove(rootFd, path)");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st && t.isRoot()) st = failed("unlinkat", EBUSY);
  bool removed = false;
  if (!st) st = removeAt(t.parent.get(), t.name.c_str(), &removed);
  if (st) return sysErr(info, st, path);
  return Napi::Boolean::New(info.Env(), removed);
}

// The metadata object of fsSetMeta / fsSetMetaFd.
struct Meta {
  bool chown = false;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool chmod = false;
  mode_t mode = 0;
  struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  std::vector<std::pair<std::string, std::string>> xattrs;
};

bool parseMeta(Napi::Value v, Meta* m) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value uid = o.Get("uid"), gid = o.Get("gid"), mode = o.Get("mode"), xattrs = o.Get("xattrs");
  if (!uid.IsUndefined() || !gid.IsUndefined()) {
    if ((!uid.IsUndefined() && !uid.IsNumber()) || (!gid.IsUndefined() && !gid.IsNumber())) return false;
    m->chown = true;
    if (uid.IsNumber()) m->uid = static_cast<uid_t>(uid.As<Napi::Number>().Int64Value());
    if (gid.IsNumber()) m->gid = static_cast<gid_t>(gid.As<Napi::Number>().Int64Value());
  }
  if (!mode.IsUndefined()) {
    if (!mode.IsNumber()) return false;
    m->chmod = true;
    m->mode = static_cast<mode_t>(mode.As<Napi::Number>().Int64Value() & 07777);
  }
  if (!toTimespec(o.Get("atimeNs"), &m->ts[0]) || !toTimespec(o.Get("mtimeNs"), &m->ts[1])) return false;
  if (!xattrs.IsUndefined() && !xattrs.IsNull()) {
    if (!xattrs.IsObject()) return false;
    Napi::Object x = xattrs.As<Napi::Object>();
    Napi::Array names = x.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      Napi::Value k = names.Get(i), val = x.Get(k);
      if (!k.IsString() || !val.IsTypedArray()) return false;
      Napi::Uint8Array u = val.As<Napi::Uint8Array>();
      m->xattrs.emplace_back(k.As<Napi::String>().Utf8Value(),
                             std::string(reinterpret_cast<const char*>(u.Data()), u.ByteLength()));
    }
  }
  return true;
}

// xattrs a filesystem or the kernel refuses (EOPNOTSUPP; EPERM e.g. user.* on a symlink) are
// skipped and reported, as Docker does; any other error fails.
bool tolerable(int err) { return err == EOPNOTSUPP || err == EPERM; }

Napi::Value SetMeta(const Napi::CallbackInfo& info) {
  int root;
  std::string path;
  Meta m;
  if (!rootArgs(info, &root, &path) || info.Length() < 3 || !parseMeta(info[2], &m))
    return throwTypeError(info.Env(), "fsSetMeta(rootFd, path, { uid, gid, mode, xattrs, atimeNs, mtimeNs })");
  Target t;
  Error st = resolve(root, path, &t);
  if (!st && m.chown) st = doLchown(t, m.uid, m.gid);
  if (!st && m.chmod) st = doChmod(t, m.mode);
  Napi::Array skipped = Napi::Array::New(info.Env());
  for (size_t i = 0; !st && i < m.xattrs.size(); i++) {
    Error x = doSetxattr(t, m.xattrs[i].first, m.xattrs[i].second.data(), m.xattrs[i].second.size());
    if (x && tolerable(x.err)) skipped.Set(skipped.Length(), m.xattrs[i].first);
    else st = x;
  }
  if (!st) st = doUtimes(t, m.ts);
  if (st) return sysErr(info, st, path);
  return skipped;
}

Napi::Value SetMetaFd(const Napi::CallbackInfo& info) {
  int64_t fd64;
  Meta m;
  if (!intArg(info, 0, &fd64) || info.Length() < 2 || !parseMeta(info[1], &m))
    return throwTypeError(info.Env(), "fsSetMetaFd(fd, { uid, gid, mode, xattrs, atimeNs, mtimeNs })");
  int fd = static_cast<int>(fd64);
  Error st;
  if (m.chown && fchown(fd, m.uid, m.gid) != 0) st = failed("fchown");
  if (!st && m.chmod && fchmod(fd, m.mode) != 0) st = failed("fchmod");
  Napi::Array skipped = Napi::Array::New(info.Env());
  for (size_t i = 0; !st && i < m.xattrs.size(); i++) {
    const auto& [name, value] = m.xattrs[i];
    if (fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) == 0) continue;
    if (tolerable(errno)) skipped.Set(skipped.Length(), name);
    else st = failed("fsetxattr");
  }
  if (!st && (m.ts[0].tv_nsec != UTIME_OMIT || m.ts[1].tv_nsec != UTIME_OMIT) && futimens(fd, m.ts) != 0)
    st = failed("futimens");
  if (st) return throwSystemError(info.Env(), st.err, st.syscall, "", kStep);
  return skipped;
}

}  // namespace

void initRootFs(Napi::Env env, Napi::Object exports) {
  exports.Set("fsOpenRoot", Napi::Function::New(env, OpenRoot, "fsOpenRoot"));
  exports.Set("fsMkdir", Napi::Function::New(env, Mkdir, "fsMkdir"));
  exports.Set("fsCreateFile", Napi::Function::New(env, CreateFile, "fsCreateFile"));
  exports.Set("fsSymlink", Napi::Function::New(env, Symlink, "fsSymlink"));
  exports.Set("fsLink", Napi::Function::New(env, Link, "fsLink"));
  exports.Set("fsMknod", Napi::Function::New(env, Mknod, "fsMknod"));
  exports.Set("fsLchown", Napi::Function::New(env, Lchown, "fsLchown"));
  exports.Set("fsChmod", Napi::Function::New(env, Chmod, "fsChmod"));
  exports.Set("fsUtimes", Napi::Function::New(env, Utimes, "fsUtimes"));
  exports.Set("fsLsetxattr", Napi::Function::New(env, Lsetxattr, "fsLsetxattr"));
  exports.Set("fsLgetxattr", Napi::Function::New(env, Lgetxattr, "fsLgetxattr"));
  exports.Set("fsRemove", Napi::Function::New(env, Remove, "fsRemove"));
  exports.Set("fsSetMeta", Napi::Function::New(env, SetMeta, "fsSetMeta"));
  exports.Set("fsSetMetaFd", Napi::Function::New(env, SetMetaFd, "fsSetMetaFd"));
}

}  // namespace pocker
