// A foreground container's stdio relay: the container never holds one of the caller's fds.
//
// The addon starts pocker-init with the caller's fds as 0-2 (a terminal, a file, a pipe to `wc`, a
// Node socket...). Handed to the workload as they are, it could reopen them through
// /proc/self/fd/N with other modes (write a read-only stdin file, read an append-only log, walk
// up from a directory). So, as Docker and Podman do, the container gets pipes the monitor made and
// the monitor moves the bytes: splice(2) where both sides allow it (no copy through user space),
// read/write otherwise. Back-pressure is kept (a full side stops the other), end of input closes
// the container's stdin, and the container's output is drained before its exit is reported.
// /dev/null is passed as it is (there is nothing behind it to protect).
#pragma once
#include <poll.h>

#include <vector>

#include "common/util.h"

namespace pocker {

class StdioRelay {
 public:
  // Before the container is created: for each of fds 0-2 that is not /dev/null, moves it aside
  // (close-on-exec) and puts the container's end of a new pipe in its place. Step `stdio`.
  Error setup();
  // In the container's process right after clone: drops every fd of the relay.
  void closeAll();
  bool active() const;
  // Three entries (fd -1 for an idle stream); handle() takes the same three back.
  void pollfds(std::vector<struct pollfd>* fds) const;
  void handle(const struct pollfd* fds, size_t n);
  // The container ended: stops its input and moves what is left of its output to the caller,
  // until every writer of the container's pipes is gone (or the caller's side fails, or `sync`
  // — the caller's socket, if >= 0 — closes).
  void drain(int sync);

 private:
  struct Stream {
    Fd outer;  // the caller's side
    Fd inner;  // our end of the container's pipe (non-blocking)
    bool input = false;   // caller -> container (stdin)
    bool splice = true;   // splice(2) until the kernel refuses it for this pair
    bool socket = false;  // outer is a socket: recv/send with MSG_DONTWAIT
    bool waitDst = false; // last attempt stopped on a full destination
    std::vector<char> buf;  // read/write path: bytes read [off, len) not yet written
    size_t off = 0, len = 0;
    bool live() const { return static_cast<bool>(inner); }
  };
  void move(Stream& s);
  void finish(Stream& s);
  Stream streams_[3];
};

}  // namespace pocker
