#include "addon/addon.h"

namespace pocker {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  initSpawn(env, exports);
  initCgroup(env, exports);
  initFs(env, exports);
  initPty(env, exports);
  initProcess(env, exports);
  initNet(env, exports);
  initNft(env, exports);
  initRandom(env, exports);
  return exports;
}

}  // namespace pocker

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pocker::Init(env, exports); }

NODE_API_MODULE(pocker, InitModule)
