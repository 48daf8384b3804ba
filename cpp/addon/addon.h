// N-API surface of the addon. No C++ exception crosses into Node: errors are thrown as JS
// values with Node's SystemError shape (code, errno, syscall, path) plus `step`.
#pragma once
#include <napi.h>

#include <string>

namespace pocker {

// Throws a SystemError-shaped JS error and returns undefined.
Napi::Value throwSystemError(Napi::Env env, int err, const char* syscall, const std::string& path,
                             const char* step);
Napi::Object makeSystemError(Napi::Env env, int err, const char* syscall, const std::string& path, const char* step);
Napi::Value throwTypeError(Napi::Env env, const char* message);

void initSpawn(Napi::Env env, Napi::Object exports);
void initCgroup(Napi::Env env, Napi::Object exports);
void initFs(Napi::Env env, Napi::Object exports);
void initPty(Napi::Env env, Napi::Object exports);
void initProcess(Napi::Env env, Napi::Object exports);
void initNet(Napi::Env env, Napi::Object exports);
void initNft(Napi::Env env, Napi::Object exports);
void initRandom(Napi::Env env, Napi::Object exports);

}  // namespace pocker
