// User namespaces, the monitor's side (OCI linux.namespaces `user`, linux.uidMappings/gidMappings):
// the id maps of a new container, and its root filesystem built from idmapped layers.
//
// Who writes the maps (as runc does): the monitor itself when it is root in the initial user
// namespace (any map), or when the map is only the caller's own id (a non-root caller may write
// that one line; gid_map then needs setgroups "deny" first). Any other map of a non-root caller
// goes through newuidmap/newgidmap (Debian's `uidmap`, setuid root), which check it against
// /etc/subuid and /etc/subgid.
#pragma once
#include <sys/types.h>

#include "common/spec.h"
#include "common/util.h"

namespace pocker {

// Writes /proc/<pid>/uid_map and gid_map of the container `pid` (cloned with CLONE_NEWUSER, waiting
// for its go). Step `userns`.
Error writeIdMaps(const Spec& spec, pid_t pid);

// pocker's overlay rootfs for a container in a new user namespace, made by the (root) monitor:
// a helper process in a throwaway mount namespace mounts each read-only layer idmapped to the
// container's user namespace (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP)), the
// overlay over them (with the initial namespace's privileges: trusted.* xattrs, whiteouts), chowns
// the upper dir to the container's root, and hands back the overlay as a detached mount (*out),
// which the container attaches at root.path in its own mount namespace. Nothing is ever mounted in
// the host's namespace: the helper's namespace dies with it, the overlay keeps its own references
// to the layers. Step `idmap` (a layer whose filesystem cannot be idmapped says so).
Error idmappedRootfs(const Spec& spec, pid_t pid, Fd* out);

// Whether this process is root in the initial user namespace (and may write any id map).
bool rootInInitialUserns();

}  // namespace pocker
