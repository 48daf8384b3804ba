// The monitor's networking (pocker.network of the spec): a container's interfaces plumbed into its
// new network namespace between clone3 and the Go message (every start of a restart policy: each
// run has a new namespace), and the cleanup argv run at its last end.
#pragma once
#include <sys/types.h>

#include "common/spec.h"
#include "common/util.h"

namespace pocker {

// For a container with a network namespace of its own (CLONE_NEWNET in spec.namespaces): `lo` up
// (for --network none too, as Docker does), then each of spec.netInterfaces (netAttach, with the
// fault points POCKER_FAULT=net-veth|net-addr|net-route). The monitor never leaves its own
// namespace for more than opening one netlink socket in the container's. On error, whatever host
// ends it made are deleted; the Error has step `network`.
Error setupNetwork(const Spec& spec, pid_t pid);

// Deletes the host ends of spec.netInterfaces after a run (the kernel tears a dead namespace's
// veths down asynchronously: the next run of a restart policy must not find the old pair under the
// same name). Absent ones are fine.
void removeHostEnds(const Spec& spec);

// spec.netCleanup, when set: fork + exec (no shell; PATH set, nothing else in its environment),
// waited for at most 10 s, then SIGKILLed. Called at the container's last end when no caller is
// there to release its network resources itself.
void runNetworkCleanup(const Spec& spec);

}  // namespace pocker
