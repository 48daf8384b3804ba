/* The syscall battery of test/security/seccomp.test.ts: built by the test with `gcc -static`
 * and run inside a container. Each probe makes one system call that Docker's default seccomp
 * profile denies (or that issue 10 found reachable) and prints one line:
 *     <probe> ok            the call succeeded
 *     <probe> <ERRNO>       it failed with that errno (EPERM, ENOSYS, ...)
 * Modes:
 *     battery [probe...]            the probes (all when none is named)
 *     battery escape                finding 1: unshare a user + mount + cgroup namespace, mount
 *                                   cgroup v1 memory (the container's own cgroup as its root)
 *                                   and write memory.limit_in_bytes; prints the step it reached
 *     battery keyring NAME          looks for key NAME (type user) in the session keyring:
 *                                   "keyring <session id> found|ENOKEY|<ERRNO>"
 *     battery with-key NAME CMD...  (on the host) joins a new session keyring, adds key NAME to
 *                                   it, prints "key <session id>" and execs CMD
 * Every probe that could change the battery itself runs in a child process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SEARCH 10
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_PROCESS_KEYRING -2

static const char *errname(int e) {
  switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOKEY: return "ENOKEY";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOMEM: return "ENOMEM";
    case ESRCH: return "ESRCH";
    case EEXIST: return "EEXIST";
    case EDQUOT: return "EDQUOT";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "E%d", e);
      return buf;
    }
  }
}

/* The errno of `rc` (0 when it succeeded: rc >= 0). */
static int outcome(long rc) { return rc < 0 ? errno : 0; }

/* Runs fn in a child (its exit status carries the errno, 0 = ok). */
static int inChild(int (*fn)(void)) {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(fn());
  int st;
  if (waitpid(pid, &st, 0) < 0) return errno;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

static int pKeyctl(void) { return outcome(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)); }
static int pAddKey(void) {
  return outcome(syscall(SYS_add_key, "user", "pocker-battery", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}
static int pRequestKey(void) {
  long rc = syscall(SYS_request_key, "user", "pocker-battery-absent", NULL, 0);
  /* Reaching the kernel's lookup (ENOKEY) is what an unconfined container gets. */
  int e = outcome(rc);
  return e == ENOKEY ? 0 : e;
}
static int unshareUser(void) { return outcome(unshare(CLONE_NEWUSER)); }
static int pUnshareUser(void) { return inChild(unshareUser); }
static int unshareNet(void) { return outcome(unshare(CLONE_NEWNET)); }
static int pUnshareNet(void) { return inChild(unshareNet); }
static int cloneUser(void) {
  long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (rc == 0) _exit(0);
  if (rc > 0) waitpid((pid_t)rc, NULL, 0);
  return outcome(rc);
}
static int pCloneUser(void) { return inChild(cloneUser); }
static int pClone3(void) { return outcome(syscall(SYS_clone3, NULL, 0)) == ENOSYS ? ENOSYS : 0; }
static int pPerf(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_TASK_CLOCK;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
  int e = outcome(fd);
  if (fd >= 0) close((int)fd);
  return e;
}
static int pUserfaultfd(void) {
  long fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
  int e = outcome(fd);
  if (fd >= 0) close((int)fd);
  return e;
}
static int persona(void) { return outcome(personality(ADDR_NO_RANDOMIZE)); }
static int pPersonality(void) { return inChild(persona); }
static int pKcmp(void) { return outcome(syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0)); }
static int pPidfdGetfd(void) {
  long pidfd = syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0) return 100;
  long fd = syscall(SYS_pidfd_getfd, pidfd, 1, 0);
  int e = outcome(fd);
  if (fd >= 0) close((int)fd);
  close((int)pidfd);
  return e;
}
static int pSetMempolicy(void) { return outcome(syscall(SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0)); }
static int pMigratePages(void) {
  unsigned long mask = 1;
  return outcome(syscall(SYS_migrate_pages, 0, 8 * sizeof mask, &mask, &mask));
}
static int pSysfs(void) { return outcome(syscall(SYS_sysfs, 3)); }
static int pVsock(void) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int e = outcome(fd);
  if (fd >= 0) close(fd);
  /* No vsock in this kernel is still "not filtered". */
  return e == EAFNOSUPPORT ? 0 : e;
}
static int pInet(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int e = outcome(fd);
  if (fd >= 0) close(fd);
  return e;
}

/* A syscall newer than any Docker's profile names (open_tree_attr, Linux 6.15): ENOSYS from the
 * filter's stub, so that a program falls back as on an older kernel (unconfined: the kernel's answer). */
static int pNewer(void) { return outcome(syscall(467, -1, NULL, 0, NULL, 0)); }

static const struct {
  const char *name;
  int (*fn)(void);
} probes[] = {
    {"keyctl", pKeyctl},           {"add_key", pAddKey},
    {"request_key", pRequestKey},  {"unshare-user", pUnshareUser},
    {"unshare-net", pUnshareNet},  {"clone-newuser", pCloneUser},
    {"clone3", pClone3},           {"perf_event_open", pPerf},
    {"userfaultfd", pUserfaultfd}, {"personality", pPersonality},
    {"kcmp", pKcmp},               {"pidfd_getfd", pPidfdGetfd},
    {"set_mempolicy", pSetMempolicy}, {"migrate_pages", pMigratePages},
    {"sysfs", pSysfs},             {"socket-vsock", pVsock},
    {"socket-inet", pInet},        {"syscall-467", pNewer},
};

static int writeStr(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, s, strlen(s));
  int e = n < 0 ? errno : 0;
  close(fd);
  return e;
}

static int escape(void) {
  int e;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) != 0) {
    printf("escape unshare %s\n", errname(errno));
    return 0;
  }
  if ((e = writeStr("/proc/self/setgroups", "deny")) || (e = writeStr("/proc/self/uid_map", "0 0 1")) ||
      (e = writeStr("/proc/self/gid_map", "0 0 1"))) {
    printf("escape idmap %s\n", errname(e));
    return 0;
  }
  const char *dir = "/tmp/pocker-battery-cg";
  mkdir(dir, 0700);
  if (mount("cgroup", dir, "cgroup", 0, "memory") != 0) {
    printf("escape mount %s\n", errname(errno));
    return 0;
  }
  char path[256];
  /* memory+swap first: the memory limit may not exceed it. */
  snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", dir);
  if (access(path, F_OK) == 0 && (e = writeStr(path, "-1"))) {
    printf("escape write %s\n", errname(e));
    return 0;
  }
  snprintf(path, sizeof path, "%s/memory.limit_in_bytes", dir);
  if ((e = writeStr(path, "-1"))) {
    printf("escape write %s\n", errname(e));
    return 0;
  }
  printf("escape lifted\n");
  return 0;
}

static int keyring(const char *name) {
  long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  if (id < 0) {
    printf("keyring - %s\n", errname(errno));
    return 0;
  }
  long k = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", name, 0);
  printf("keyring %ld %s\n", id, k >= 0 ? "found" : errname(errno));
  return 0;
}

static int withKey(const char *name, char **cmd) {
  long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
  if (id < 0 || syscall(SYS_add_key, "user", name, "secret", 6, KEY_SPEC_SESSION_KEYRING) < 0) {
    perror("battery with-key");
    return 125;
  }
  printf("key %ld\n", id);
  fflush(stdout);
  execvp(cmd[0], cmd);
  perror("battery with-key: exec");
  return 127;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "escape") == 0) return escape();
  if (argc == 3 && strcmp(argv[1], "keyring") == 0) return keyring(argv[2]);
  if (argc >= 4 && strcmp(argv[1], "with-key") == 0) return withKey(argv[2], argv + 3);
  size_t n = sizeof probes / sizeof probes[0];
  for (size_t i = 0; i < n; i++) {
    int wanted = argc < 2;
    for (int k = 1; k < argc; k++)
      if (strcmp(argv[k], probes[i].name) == 0) wanted = 1;
    if (wanted) printf("%s %s\n", probes[i].name, errname(probes[i].fn()));
  }
  return 0;
}
