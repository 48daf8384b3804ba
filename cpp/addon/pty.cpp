// Terminal size of a container's pty (the master lives in Node; the pty itself is created
// inside the container's own devpts by pocker-init).
#include <sys/ioctl.h>
#include <termios.h>

#include "addon/addon.h"

namespace pocker {
namespace {

Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    return throwTypeError(info.Env(), "setWinsize(fd, rows, cols)");
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(info[1].As<Napi::Number>().Uint32Value());
  ws.ws_col = static_cast<unsigned short>(info[2].As<Napi::Number>().Uint32Value());
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws) != 0)
    return throwSystemError(info.Env(), errno, "ioctl", "", "tty");
  return info.Env().Undefined();
}

}  // namespace

void initPty(Napi::Env env, Napi::Object exports) {
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize, "setWinsize"));
}

}  // namespace pocker
