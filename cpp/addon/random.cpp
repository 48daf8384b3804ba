// Random bytes and SHA-256 for the short CLI commands, without node:crypto: loading it evaluates
// ~20 of Node's internal modules (node:stream among them), 3 ms of CPU on an idle machine and 6-8 ms
// on a busy one, for a container id, a temp file's name and the seccomp cache's key (issue 12).
//  - randomBytes: getrandom(2), the kernel's CSPRNG, as node:crypto's randomBytes is seeded from.
//  - sha256Hex: OpenSSL's EVP_Digest, from the OpenSSL that Node itself carries. Node's addon docs
//    list OpenSSL among the libraries whose symbols "are purposefully re-exported by Node.js" for
//    addons; a distribution's node built against a shared libcrypto has it in the process too. The
//    two functions are declared weak: where neither provides them, they are null, sha256Hex returns
//    undefined and the caller (lib/random.ts) uses node:crypto. No hash of our own: OpenSSL's is the
//    one Node's own createHash('sha256') runs.
#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "addon/addon.h"

extern "C" {
struct evp_md_st;
struct engine_st;
const evp_md_st* EVP_sha256() __attribute__((weak));
int EVP_Digest(const void* data, size_t count, unsigned char* md, unsigned int* size, const evp_md_st* type,
               engine_st* impl) __attribute__((weak));
}

namespace pocker {
namespace {

constexpr size_t kMaxRandom = 65536;

Napi::Value RandomBytes(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return throwTypeError(info.Env(), "randomBytes(size)");
  const double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want >= 0 && want <= kMaxRandom) || want != static_cast<double>(static_cast<size_t>(want)))
    return throwTypeError(info.Env(), "randomBytes(size): size must be an integer from 0 to 65536");
  const auto size = static_cast<size_t>(want);
  auto buf = Napi::Buffer<uint8_t>::New(info.Env(), size);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = getrandom(buf.Data() + got, size - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return throwSystemError(info.Env(), errno, "getrandom", "", "validate");
    }
    got += static_cast<size_t>(n);
  }
  return buf;
}

Napi::Value Sha256Hex(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) return throwTypeError(info.Env(), "sha256Hex(text)");
  if (EVP_sha256 == nullptr || EVP_Digest == nullptr) return info.Env().Undefined();
  const std::string text = info[0].As<Napi::String>().Utf8Value();
  unsigned char md[32];
  unsigned int len = 0;
  const evp_md_st* type = EVP_sha256();
  if (type == nullptr || EVP_Digest(text.data(), text.size(), md, &len, type, nullptr) != 1 || len != sizeof md)
    return info.Env().Undefined();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * sizeof md, '0');
  for (size_t i = 0; i < sizeof md; i++) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return Napi::String::New(info.Env(), hex);
}

}  // namespace

void initRandom(Napi::Env env, Napi::Object exports) {
  exports.Set("randomBytes", Napi::Function::New(env, RandomBytes, "randomBytes"));
  exports.Set("sha256Hex", Napi::Function::New(env, Sha256Hex, "sha256Hex"));
}

}  // namespace pocker
