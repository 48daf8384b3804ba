// pocker-init: the container's creator and monitor. Static, single-threaded: after clone3 the
// child may call anything (no other threads hold libc locks), unlike a child of Node.
#pragma once
#include <vector>

#include "common/spec.h"
#include "common/util.h"

namespace pocker {

// File descriptors pocker-init is started with (set up by the addon's spawn).
constexpr int kSyncFd = 3;  // SOCK_SEQPACKET to the caller
constexpr int kSpecFd = 4;  // sealed memfd holding the spec
constexpr int kAttachFd = 5;  // an attach client (Spec::attachFd: `start -a`)

// Reports an error to the caller (common/wire.h: a Sync::Error message).
void reportError(int sock, const Error& e);

// Runs in the clone3 child (the container's first process). Waits for the monitor's go, joins the
// namespaces of spec.joins (`joinFds`, opened by the monitor, same order), sets up the rootfs and
// the process, execs the workload. Returns only on failure (after reporting it on `sock`); the
// caller _exits.
int runContainer(const Spec& spec, int sock, const std::vector<int>& joinFds);

// The parent side: creates the container, relays its start-up, then forwards signals, reaps it,
// records the outcome and cleans its cgroups. Returns pocker-init's exit status.
int runMonitor(const Spec& spec, int sync);

// clone3 of the container process with spec.namespaces (CLONE_INTO_CGROUP when cgroupFd >= 0).
pid_t clone3Container(const Spec& spec, int cgroupFd);

// linux.namespaces with a path: opened once (owned by *fds; *joinFds the same fds, for
// runContainer). A pid namespace is joined here: it applies to the children made after it.
Error openNamespaceJoins(const Spec& spec, std::vector<Fd>* fds, std::vector<int>* joinFds);

}  // namespace pocker
