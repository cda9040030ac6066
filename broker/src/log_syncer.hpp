// The history log's sync thread: it calls fdatasync so the broker's loop
// never waits for the disk. Every interval (default mode), or as soon as
// anything was written (durable: one sync serves every turn written while
// the last one ran), it syncs the segments written since the last sync,
// moves `synced()`, signals `commit_fd()`, and at most once a second records
// in `meta` how far the newest segment is on disk. At a clean stop it syncs
// once more and marks `meta` clean; a disk that does not answer in time is
// given up on (and said so) rather than holding the stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "log_meta.hpp"

namespace bcast::broker::log {

// How far the log is written: bytes over all segments (the broker's ticket),
// and the newest segment with its size.
struct position {
  std::uint64_t written = 0;
  std::uint64_t segment = 0;
  std::uint64_t size = 0;
};

class syncer {
 public:
  // `meta` is this run's (epoch, mode, boot); its segment and size follow
  // the writes. Throws std::system_error when the eventfd cannot be made.
  syncer(std::string dir, store_meta meta, std::chrono::milliseconds interval);
  // Stops without marking the directory clean (as a crash would).
  ~syncer();
  syncer(const syncer&) = delete;
  syncer& operator=(const syncer&) = delete;

  // After each write(2) to the newest segment, whose descriptor is `fd`.
  void wrote(int fd, const position& at);
  // A segment's descriptor the log is done with (an older segment, or the
  // newest at a stop the thread may outlive): synced once more, then closed
  // here, by the thread or at the latest when it ends.
  void retire(int fd);
  // Bytes (over all segments) known to be on disk.
  [[nodiscard]] std::uint64_t synced() const;
  // Readable when `synced()` moved.
  [[nodiscard]] int commit_fd() const;
  // Records `at` in `meta` now (state running). The one way to write
  // `meta` while the thread runs. Throws std::system_error.
  void record(const position& at);
  // Waits until `written` bytes are on disk; false after `patience`.
  bool wait_synced(std::uint64_t written, std::chrono::milliseconds patience);
  // Syncs everything, marks `meta` clean at `at`, stops the thread. Returns
  // false when that did not finish within `patience` (the thread is left to
  // finish or hang on its own; the directory then reads as not clean).
  bool close(const position& at, std::chrono::milliseconds patience);

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace bcast::broker::log
