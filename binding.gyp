{
  "targets": [
    {
      "target_name": "pocker",
      "sources": [
        "cpp/addon/module.cpp", "cpp/addon/spawn.cpp", "cpp/addon/cgroup.cpp", "cpp/addon/fs.cpp", "cpp/addon/extract.cpp",
        "cpp/addon/pty.cpp", "cpp/addon/errors.cpp", "cpp/addon/process.cpp", "cpp/addon/net.cpp", "cpp/addon/nft.cpp", "cpp/addon/random.cpp",
        "cpp/common/cgroup.cpp", "cpp/common/mountinfo.cpp", "cpp/common/util.cpp", "cpp/common/resolve.cpp", "cpp/common/wire.cpp", "cpp/common/netlink.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "cpp"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fvisibility=hidden"]
    },
    {
      "target_name": "pocker-init",
      "type": "executable",
      "sources": [
        "cpp/init/main.cpp", "cpp/init/container.cpp", "cpp/init/seccomp.cpp", "cpp/init/monitor.cpp", "cpp/init/attach.cpp", "cpp/init/relay.cpp", "cpp/init/logs.cpp", "cpp/init/state.cpp", "cpp/init/runc.cpp", "cpp/init/net.cpp", "cpp/init/userns.cpp",
        "cpp/common/spec.cpp", "cpp/common/cgroup.cpp", "cpp/common/mountinfo.cpp", "cpp/common/util.cpp", "cpp/common/resolve.cpp", "cpp/common/wire.cpp", "cpp/common/netlink.cpp"
      ],
      "include_dirs": ["cpp", "/usr/include/nlohmann/.."],
      "defines": ["POCKER_VERSION=\"<!(node -p \"require('./package.json').version\")\""],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fno-exceptions", "-fno-rtti", "-Os", "-ffunction-sections", "-fdata-sections"],
      "ldflags": ["-static", "-Wl,--gc-sections"],
      "libraries": ["-l:libseccomp.a"]
    }
  ]
}
