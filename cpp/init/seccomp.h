// linux.seccomp: the profile (cpp/common/spec.h SeccompSpec) compiled into a classic BPF program
// with libseccomp (linked statically), once per pocker-init start and cached by the caller's key
// (pocker.seccompCache), then loaded in the container process with seccomp(2).
#pragma once
#include "common/spec.h"
#include "common/util.h"

namespace pocker {

// Fills spec->seccompProgram from spec->seccomp (nothing when absent): read from
// spec->seccompCache when that holds a valid program, else compiled and written there.
// Runs in pocker-init before the container is cloned (the cache path is the host's).
Error compileSeccomp(Spec* spec);

// Loads spec.seccompProgram into the calling process (no-op when empty). Needs no_new_privs or
// CAP_SYS_ADMIN: see the ordering in container.cpp.
Error applySeccomp(const Spec& spec);

// A fresh, anonymous session keyring for the calling process (the caller's session keyring and
// its keys stay outside the container), as runc does. ENOSYS (no keys in this kernel) is fine.
Error joinSessionKeyring();

}  // namespace pocker
