// What a detached container's monitor keeps in its state dir (containers/<id>/): state.json, which
// must never lose an exit status (not even on a full disk), and the stop requests of `pocker stop`
// and `rm -f`, which the monitor carries out itself (so they complete without the CLI).
//
// state.json is written through spare files whose blocks were reserved in advance
// (state.json.spare0 and .spare1, 4 KiB each): a write is pwrite into a spare + ftruncate + fsync +
// rename over state.json, and needs no new space. The rename frees the old state.json's blocks,
// which then refill the spare. Why spares and not a fixed-size record rewritten in place: a
// rename keeps every write atomic for readers (they never see half a record) and for a crash,
// which an in-place rewrite does not. Why two: on ext4 freed blocks come back only after the
// journal commits (seconds), so an immediate refill may fail; the second spare carries the next
// write meanwhile. When a spare cannot be refilled the truth stays in memory and the write is
// retried on a timer (and the monitor does not exit before it has recorded the end); a failed
// refill never leaves a 0-byte file behind.
//
// The stop request is `stop-requested`: a symlink whose target is "<signal> <timeout>" (created in
// one atomic call, and stored in the inode: it needs no data block on a full disk), or, from an
// older pocker, an empty file (SIGTERM, 10 s). The monitor is told of it by inotify, whose events
// (and the timer's) arrive as a real-time signal on the signalfd it already polls.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/util.h"

namespace pocker {

struct Spec;

// Appends a container event (Docker's shape, one JSON line, one O_APPEND write) to the root's
// events.log named in pocker.monitor.events, with the spec's attributes and `extra` ones. Only the
// monitor sees `die` and `oom`; lib/state/events.ts records the others and reads them all. Never
// fails the caller (an event that cannot be written is lost, not the container).
void recordEvent(const Spec& spec, const char* action, const char* extraKey = nullptr, const std::string& extraValue = "");

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or 0. With the pid it names
// one process for good: readers check both before they signal a pid from state.json.
uint64_t processStartTime(pid_t pid);

// The names of the spare files (TypeScript reserves them too when it creates a container).
constexpr const char* kStateSpares[2] = {"state.json.spare0", "state.json.spare1"};
constexpr size_t kStateSpareSize = 4096;

class StateKeeper {
 public:
  // The signal the keeper's wakeups arrive as (a real-time one: queued, never forwarded).
  static int wakeSignal();

  // Opens the state dir and reserves the spares (step `state`: ENOSPC when not even one can be
  // had: a container whose start cannot be recorded is not started). Sets up the inotify watch
  // and the timer (signals to this process: call after the monitor's last fork).
  Error open(const std::string& dir);
  bool enabled() const { return static_cast<bool>(dir_); }

  // Records `json` as the container's state: kept in memory, written now when possible, else
  // retried on the timer. Returns true when it is on disk.
  bool write(const std::string& json);
  bool pending() const { return dirty_; }

  // A new run of the container began (its first process `pid`): a stop request applies to it.
  void beginRun(pid_t pid);
  // The run ended.
  void endRun() {
    pid_ = 0;
    killAt_ = -1;
  }

  // Handles `signo` when it is a keeper signal (returns false otherwise): inotify events (a stop
  // request is carried out: the stop signal now, SIGKILL after the timeout), the timer (the
  // SIGKILL; a pending state write and spare refills retried).
  bool onSignal(int signo);
  // Whether a stop was asked for (the marker exists): a stopped container is not restarted.
  bool stopRequested() const;
  // A stop asked for while no run was going on (between two runs): checked by the back-off wait.
  bool takeStopWhileIdle();

  // The last write is on disk, or the state dir is gone (rm -f), or a stop request while waiting
  // gave up on a disk that stays full. Waits on `sfd` (the monitor's signalfd) between tries.
  void flushBeforeExit(int sfd);

 private:
  bool reserve(int i);
  bool flush();
  void arm();
  void checkStop();

  Fd dir_;
  Fd spare_[2];
  Fd inotify_;
  bool timer_ = false;
  bool armed_ = true;       // the timer may be set (false: known disarmed)
  timer_t timerId_{};
  bool notify_ = false;     // dnotify raises the wake signal on new entries
  std::string json_;
  bool dirty_ = false;
  pid_t pid_ = 0;
  bool stopSeen_ = false;   // the stop request of this run was carried out
  bool idleStop_ = false;   // a stop request came while no run was going on
  int64_t killAt_ = -1;     // CLOCK_MONOTONIC ms of the SIGKILL, -1 none
};

}  // namespace pocker
