# CMake toolchain file of `npm run prebuild:arm64` (scripts/prebuild.cjs --arch arm64): the linux-arm64
# binaries built on an x86_64 Debian machine with Debian's cross toolchain and multiarch libraries
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install g++-aarch64-linux-gnu libseccomp-dev:arm64 nlohmann-json3-dev
# (scripts/prebuild.cjs installs them when missing and running as root). The compiler's own sysroot is
# /usr/aarch64-linux-gnu (libc6-dev-arm64-cross: the same glibc as the build machine's); libseccomp.a
# comes from the multiarch directory /usr/lib/aarch64-linux-gnu; nlohmann/json and Node's headers are
# architecture-independent.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries only from the target's directories (never the build machine's x86_64 libseccomp.a).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
