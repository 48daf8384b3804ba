// The monitor's networking (pocker.network of the spec): a container's interfaces plumbed into its
// new network namespace between clone3 and the Go message (every start of a restart policy: each
// run has a new namespace), and the cleanup argv run at its last end.
#pragma once
#include <sched.h>
#include <sys/types.h>

#include <vector>

#include "common/netlink.h"
#include "common/spec.h"
#include "common/util.h"

namespace pocker {

// For a container with a network namespace of its own (CLONE_NEWNET in spec.namespaces): `lo` up
// (for --network none too, as Docker does), then each of spec.netInterfaces (netAttach, with the
// fault points POCKER_FAULT=net-veth|net-addr|net-route). The monitor never leaves its own
// namespace for more than opening one netlink socket in the container's. On error, whatever host
// ends it made are deleted; the Error has step `network`.
// netNs/userNs: the container's namespaces, opened by the monitor before the go (afterwards a
// container in a new user namespace is not dumpable and its /proc/PID/ns is closed to its owner):
// spec.netSetup gets them as --userns/--netns /proc/self/fd/N (-1: its pid instead).
Error setupNetwork(const Spec& spec, const std::vector<NetInterface>& interfaces, pid_t pid, int userNs = -1, int netNs = -1);

// The interfaces of a restart policy's next run: pocker.network.interfaces of the container's
// config.json (spec.stateDir) as `network connect` / `disconnect` left it, or `current` when it
// cannot be read (the first run's list stays).
std::vector<NetInterface> reloadInterfaces(const Spec& spec, const std::vector<NetInterface>& current);

// Whether the monitor plumbs this container's network (a new network namespace of a container it
// runs): it does so while the container sets up its filesystem, and sends a second go when done;
// the container waits for it before it drops its privileges and execs (container.cpp: prepare).
// In a user namespace with no interface to plumb (--network none, or a user-mode network a helper
// joins later) the container brings its `lo` up itself (ownLoopback): a rootless monitor cannot
// enter a network namespace its user namespace owns.
inline bool ownLoopback(const Spec& s) {
  return !s.runc && !s.execPid && (s.namespaces & CLONE_NEWNET) != 0 && (s.namespaces & CLONE_NEWUSER) != 0 &&
         s.netInterfaces.empty();
}
inline bool monitorPlumbsNetwork(const Spec& s) {
  return !s.runc && !s.execPid && (s.namespaces & CLONE_NEWNET) != 0 && (!ownLoopback(s) || !s.netSetup.empty());
}

// Ends what spec.netSetup left running (pasta forks into the background and outlives the
// container's namespace): its pid, which it wrote to a pipe, through a pidfd. At each end of a run.
void endNetworkSetup();

// `lo` up in this process's own network namespace (the container's side of ownLoopback).
Error loopbackUp();

// Deletes the host ends of these interfaces (absent ones are fine): on a failed start, so that
// nothing is left when the caller hears of it. Not at a container's normal end: its namespace dies
// with it and the kernel removes the pairs in its own batched teardown, while an RTM_DELLINK of a
// veth waits for RCU grace periods (20-30 ms here) that a `run --rm` would wait for too. A later
// run of a restart policy replaces a pair the teardown has not removed yet (netAttach replaceStale).
void removeHostEnds(const std::vector<NetInterface>& interfaces);

// spec.netCleanup, when set: fork + exec (no shell; PATH set, nothing else in its environment),
// waited for at most 10 s, then SIGKILLed. Called at the container's last end when no caller is
// there to release its network resources itself.
void runNetworkCleanup(const Spec& spec);

}  // namespace pocker
