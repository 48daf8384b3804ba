// Attach: a detached container's monitor serves its stdio to clients (`pocker attach`,
// `pocker start -a`) over a unix socket in the state dir, so no Node process has to live beside it.
//
// Framing, both ways: Docker's stdcopy header, defined in common/wire.h.
// A slow client never holds the container up: past kMaxPending bytes of unread output it is dropped.
#pragma once
#include <poll.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/util.h"
#include "common/wire.h"

namespace pocker {

class AttachHub {
 public:
  // Listens on `path` (mode 0600; any stale socket there is replaced). Paths longer than a
  // sockaddr_un allows are reached through /proc/self/fd of their directory. Step `attach` on failure.
  Error listen(const std::string& path);
  // Takes a connected client (e.g. `start -a`'s, passed at spawn so it misses no output).
  void addClient(int fd);
  // Where clients' input goes for this run of the container: the write end of its stdin pipe
  // (owned; closed on end of input when `stdinOnce`) or its pty master (not owned; resized, and
  // written to when `ptyInput`, i.e. the container was started with -i).
  void setInput(int stdinPipe, int ptyMaster, bool ptyInput, bool stdinOnce);
  // Output of the container, copied to every client.
  void broadcast(uint8_t kind, const char* data, size_t n);
  // Appends this hub's descriptors to `fds`; handle() takes the same slice back after poll().
  void pollfds(std::vector<struct pollfd>* fds) const;
  void handle(const struct pollfd* fds, size_t n);
  // The container ended: tells every client how, flushes (briefly), closes them and the input.
  void finish(int exitCode, int sig, bool oom);
  // Removes the socket (the monitor is about to exit).
  void close();
  // No new clients (the socket is removed); those already connected, accepted or not yet, are
  // kept, so finish() tells them how the container ended (`--rm`: the last word before removal).
  void stopListening();

 private:
  struct Client {
    Fd fd;
    std::string in, out;
    bool dead = false;
  };
  static constexpr size_t kMaxPending = 4 << 20;  // unread output per client
  static constexpr size_t kMaxInput = 64 << 10;   // input not yet taken by the container

  void frame(Client& c, uint8_t kind, const char* data, size_t n);
  void parse(Client& c);
  void flushInput();
  void flushClient(Client& c);

  Fd listen_;
  std::string path_;
  std::vector<Client> clients_;
  Fd stdinPipe_;
  int pty_ = -1;
  bool ptyInput_ = false;
  bool stdinOnce_ = false;
  bool closeWhenDrained_ = false;  // end of input came: close stdin once input_ is written
  std::string input_;
};

}  // namespace pocker
