// The addon's glibc baseline: 2.28, the oldest glibc Node 20's own Linux binaries load on (Debian 10,
// RHEL 8 and its rebuilds; Ubuntu 20.04 has 2.31). The build machine's glibc is newer, and a plain link
// binds a few symbols to the versions it has: glibc 2.33 made stat/fstat/fstatat/mknodat real exported
// functions (before they were inline wrappers around __fxstat & co.), and 2.32 gave pthread_sigmask a
// new version when libpthread moved into libc and added __libc_single_threaded (which GCC 12's static
// libstdc++ reads). A library that needs one of those versions does not load on an older glibc
// ("version `GLIBC_2.33' not found"), and the prebuilt addon would fall back to a compiler build.
//
// CMakeLists.txt links the addon with `-Wl,--wrap=NAME` for each symbol below: every reference to NAME
// (ours, and those of the static libstdc++) goes to __wrap_NAME instead, defined here with what every
// glibc since 2.17 (aarch64's first) exports at its base version: syscall(2) for the stat family (the
// kernel's struct stat is glibc's on x86_64 and aarch64, and a direct syscall is all glibc >= 2.33 does
// there as well) and sigprocmask for pthread_sigmask (the same per-thread call in glibc, which keeps its
// own internal signals unblocked too). test/integration/binaries.test.ts reads the symbol versions of the
// built and packaged binaries and fails on anything newer than the baseline.
// (pocker-init is static: it has no dynamic symbols at all and needs none of this.)
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

extern "C" {

#define POCKER_WRAP __attribute__((visibility("hidden")))

POCKER_WRAP int __wrap_fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(syscall(SYS_newfstatat, dirfd, path, st, flags));
}
POCKER_WRAP int __wrap_fstat(int fd, struct stat* st) { return static_cast<int>(syscall(SYS_fstat, fd, st)); }
POCKER_WRAP int __wrap_stat(const char* path, struct stat* st) { return __wrap_fstatat(AT_FDCWD, path, st, 0); }
POCKER_WRAP int __wrap_lstat(const char* path, struct stat* st) {
  return __wrap_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
POCKER_WRAP int __wrap_mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  return static_cast<int>(syscall(SYS_mknodat, dirfd, path, mode, dev));
}
POCKER_WRAP int __wrap_mknod(const char* path, mode_t mode, dev_t dev) { return __wrap_mknodat(AT_FDCWD, path, mode, dev); }
POCKER_WRAP int __wrap_pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  return sigprocmask(how, set, old) == 0 ? 0 : errno;
}

// glibc >= 2.32 sets it to 1 while the process has one thread, letting libstdc++ skip atomic reference
// counts; 0 (what an older glibc, which lacks it, amounts to) keeps them atomic: always correct.
POCKER_WRAP char __wrap___libc_single_threaded = 0;

// pthread_create/pthread_join (the addon's netns thread, cpp/addon/net.cpp): glibc 2.34 moved them
// from libpthread into libc with a new version; libc keeps the old one (the base version, which
// glibc < 2.34 exports from libpthread, loaded by Node), so the wrappers bind to that.
#if defined(__x86_64__)
#define POCKER_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define POCKER_GLIBC_BASE "GLIBC_2.17"
#else
#error "the addon's glibc baseline is defined for x86_64 and aarch64"
#endif
int pocker_pthread_create_base(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int pocker_pthread_join_base(pthread_t, void**);
__asm__(".symver pocker_pthread_create_base, pthread_create@" POCKER_GLIBC_BASE);
__asm__(".symver pocker_pthread_join_base, pthread_join@" POCKER_GLIBC_BASE);
POCKER_WRAP int __wrap_pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  return pocker_pthread_create_base(t, attr, fn, arg);
}
POCKER_WRAP int __wrap_pthread_join(pthread_t t, void** ret) { return pocker_pthread_join_base(t, ret); }

}  // extern "C"
