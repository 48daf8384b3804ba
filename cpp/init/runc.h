// pocker-init's runc-compatible CLI: `pocker-init [--root DIR] [--log FILE] [--log-format text|json]
// VERB ...` with create, start, state, kill, delete, run and features on an OCI bundle.
#pragma once

namespace pocker {

// argv[1..] are the global options and a verb. Returns the process's exit status.
int runcMain(int argc, char** argv);

}  // namespace pocker
