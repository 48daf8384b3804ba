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

}  // namespace pocker
