// File-descriptor primitives Node has no JS API for. The root-relative primitives of layer
// extraction (fsOpenRoot, fsMkdir, ...) live in extract.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "addon/addon.h"
#include "common/resolve.h"
#include "common/util.h"

// Node-API's external latin1 strings (Node >= 20.4; experimental until Node 22.14, so the header
// declares it only under NAPI_EXPERIMENTAL, which would also change how this module registers).
// Declared here, weak: on a runtime without it the address is null and readFileLatin1 copies.
extern "C" __attribute__((weak)) napi_status node_api_create_external_string_latin1(
    napi_env env, char* str, size_t length, void (*finalize)(napi_env, void*, void*), void* hint, napi_value* result,
    bool* copied);

namespace pocker {

void initRootFs(Napi::Env env, Napi::Object exports);  // extract.cpp

namespace {

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return throwSystemError(info.Env(), errno, "pipe2", "", "stdio");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, p[0]);
  a.Set(1u, p[1]);
  return a;
}

// A connected pair of unix stream sockets (close-on-exec): `start -a` keeps one end and hands the
// other to the container's monitor as its first attach client. Node cannot make socketpairs.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
    return throwSystemError(info.Env(), errno, "socketpair", "", "attach");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, p[0]);
  a.Set(1u, p[1]);
  return a;
}

Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean())
    return throwTypeError(info.Env(), "setCloexec(fd, on)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return throwSystemError(info.Env(), errno, "fcntl", "", "stdio");
  flags = info[1].As<Napi::Boolean>().Value() ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, flags) != 0) return throwSystemError(info.Env(), errno, "fcntl", "", "stdio");
  return info.Env().Undefined();
}

// flock(fd, exclusive, wait): true once the lock is held; with wait=false, false when another
// open file description holds a conflicting lock. (wait=true blocks the calling thread.)
Napi::Value Flock(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBoolean() || !info[2].IsBoolean())
    return throwTypeError(info.Env(), "flock(fd, exclusive, wait)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool exclusive = info[1].As<Napi::Boolean>().Value(), wait = info[2].As<Napi::Boolean>().Value();
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  for (;;) {
    if (flock(fd, op) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == EINTR) continue;
    if (!wait && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    return throwSystemError(info.Env(), errno, "flock", "", "lock");
  }
}

// fsOpenInRoot(rootFd, path, flags, mode): openat2(rootFd, path, {flags | O_CLOEXEC, mode,
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS}). Every component, symlinks and ".." included, is
// resolved as if rootFd were "/" (a container's root from /proc/<pid>/root): nothing can escape it.
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber())
    return throwTypeError(info.Env(), "fsOpenInRoot(rootFd, path, flags, mode)");
  int root = info[0].As<Napi::Number>().Int32Value();
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) return throwSystemError(info.Env(), EINVAL, "openat2", path, "copy");
  int fd = openInRoot(root, path, info[2].As<Napi::Number>().Int32Value(), kInRoot, info[3].As<Napi::Number>().Uint32Value());
  if (fd < 0) return throwSystemError(info.Env(), errno, "openat2", path, "copy");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// A whole file in anonymous memory of its own, mapped with MAP_POPULATE: the kernel makes every page
// in the one mmap call instead of one page fault per page as read() fills a malloc'd buffer. Page
// faults are what a fresh process pays most for memory on a virtual machine with shadow paging (~10 µs
// each on the CI VMs here: reading the 485 KB `run` bundle into a Buffer took 1.4 ms, into populated
// memory 0.7). The file is read, not mapped: a mapping of the file itself would fault only ~1 page in
// 16, but a truncation of the file while it is mapped (a `cp` over the package, a rebuild) kills the
// process with SIGBUS at its next read of the text, which V8 does lazily for as long as it runs.
class FileMemory {
 public:
  FileMemory() = default;
  FileMemory(const FileMemory&) = delete;
  FileMemory& operator=(const FileMemory&) = delete;
  ~FileMemory() {
    if (data_) munmap(data_, mapped_);
  }
  // 0 on success, else an errno (syscall says which call failed).
  int read(const std::string& path, const char*& syscall) {
    syscall = "open";
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return errno;
    struct stat st {};
    syscall = "fstat";
    if (fstat(fd.get(), &st) != 0) return errno;
    if (st.st_size <= 0) return 0;
    mapped_ = static_cast<size_t>(st.st_size);
    syscall = "mmap";
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return errno;
    data_ = static_cast<char*>(p);
    syscall = "read";
    // The size fstat gave, or less when the file shrank meanwhile (a file that grew is read as it was).
    while (size_ < mapped_) {
      ssize_t n = ::read(fd.get(), data_ + size_, mapped_ - size_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) break;
      size_ += static_cast<size_t>(n);
    }
    return 0;
  }
  char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t mapped() const { return mapped_; }
  // Hands the mapping to a finalizer, which unmaps it.
  char* release() { return std::exchange(data_, nullptr); }

 private:
  char* data_ = nullptr;
  size_t size_ = 0, mapped_ = 0;
};

void unmapFinalizer(napi_env, void* data, void* hint) { munmap(data, reinterpret_cast<size_t>(hint)); }

// The readers' argument: `path`, read whole into `file`. An empty Value when that is done, else the
// error thrown (a TypeError, or the SystemError of the failed call with step `cli`).
Napi::Value readPathArg(const Napi::CallbackInfo& info, const char* usage, FileMemory& file, std::string& path) {
  if (info.Length() < 1 || !info[0].IsString()) return throwTypeError(info.Env(), usage);
  path = info[0].As<Napi::String>().Utf8Value();
  const char* syscall = "";
  if (int err = file.read(path, syscall)) return throwSystemError(info.Env(), err, syscall, path, "cli");
  return Napi::Value();
}

// readFileLatin1(path): the file's bytes as a one-byte string (bin/pocker.cjs: the CLI bundle's
// ASCII text for vm.Script). An external string over the populated memory where Node supports them:
// no copy into V8's heap (fs.readFileSync(path, 'latin1') reads into a Buffer, then copies it into
// a new string: twice the pages, ~2 ms more for the `run` bundle here). V8 keeps the text for as
// long as the script lives (lazy compilation, Function.prototype.toString).
Napi::Value ReadFileLatin1(const Napi::CallbackInfo& info) {
  FileMemory file;
  std::string path;
  if (Napi::Value thrown = readPathArg(info, "readFileLatin1(path)", file, path); !thrown.IsEmpty()) return thrown;
  napi_value result;
  if (file.size() > 0 && node_api_create_external_string_latin1 != nullptr) {
    bool copied = false;
    size_t mapped = file.mapped();
    // Ownership passes to the string first: when V8 copies (it may), the finalizer has run already.
    char* data = file.release();
    if (node_api_create_external_string_latin1(info.Env(), data, file.size(), unmapFinalizer,
                                               reinterpret_cast<void*>(mapped), &result, &copied) == napi_ok)
      return Napi::Value(info.Env(), result);
    munmap(data, mapped);  // not created: nothing owns it
    return throwSystemError(info.Env(), ENOMEM, "node_api_create_external_string_latin1", path, "cli");
  }
  if (napi_create_string_latin1(info.Env(), file.data() ? file.data() : "", file.size(), &result) != napi_ok)
    return throwSystemError(info.Env(), ENOMEM, "napi_create_string_latin1", path, "cli");
  return Napi::Value(info.Env(), result);
}

// readFileBytes(path): the file as a Buffer over populated memory of its own (bin/pocker.cjs: the
// bundle's V8 code cache, which V8 reads once while it compiles the script).
Napi::Value ReadFileBytes(const Napi::CallbackInfo& info) {
  FileMemory file;
  std::string path;
  if (Napi::Value thrown = readPathArg(info, "readFileBytes(path)", file, path); !thrown.IsEmpty()) return thrown;
  if (file.size() == 0) return Napi::Buffer<char>::New(info.Env(), 0);
  size_t mapped = file.mapped(), size = file.size();
  char* data = file.release();
  napi_value result;
  if (napi_create_external_buffer(info.Env(), size, data, unmapFinalizer, reinterpret_cast<void*>(mapped), &result) !=
      napi_ok) {
    munmap(data, mapped);
    return throwSystemError(info.Env(), ENOMEM, "napi_create_external_buffer", path, "cli");
  }
  return Napi::Value(info.Env(), result);
}

}  // namespace

void initFs(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("fsOpenInRoot", Napi::Function::New(env, OpenInRoot, "fsOpenInRoot"));
  exports.Set("readFileLatin1", Napi::Function::New(env, ReadFileLatin1, "readFileLatin1"));
  exports.Set("readFileBytes", Napi::Function::New(env, ReadFileBytes, "readFileBytes"));
  initRootFs(env, exports);
}

}  // namespace pocker
