// History kept in a directory of append-only segment files (the format and
// its recovery rules: broker/src/log_format.md), behind the in-memory cache
// that serves every read. Its cost on the publish path is one write(2) per
// loop turn: the broker appends a turn's messages here as it handles them,
// and hands them to the kernel with `write_pending()` before it publishes or
// acknowledges any of them. So a crash, `kill -9` or OOM kill of the broker
// loses nothing it published, and the next start continues the same epoch.
// A thread of its own calls fdatasync: every `fsync_interval` (power loss or
// a kernel crash costs at most that much, and then a new epoch begins,
// because the boot changed), or, `durable`, as soon as there is something to
// sync (one sync serves every turn written meanwhile: group commit).
// Disk space for the next turns is reserved ahead (fallocate, 1 MiB); when
// none can be had, `accepting()` turns false until space returns, so the
// broker refuses new messages instead of acknowledging what it cannot store.
// Segments whose messages left the retention window are deleted; the few
// messages still live in the oldest segment are copied forward first.
// One broker per directory: it is locked while open.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bcast/broker/memory_history.hpp"
#include "bcast/broker/string_hash.hpp"

namespace bcast::broker {

namespace log {
class syncer;
}

struct log_history_options {
  std::string dir;
  std::size_t per_room = 0;       // messages kept per room
  std::size_t max_bytes = 0;      // bytes of bodies kept over all rooms
  std::uint64_t max_age_ms = 0;   // 0: no age limit
  bool durable = false;           // publish only what is on disk
  bool new_epoch = false;         // begin a new epoch, keeping the stored messages
  std::uint64_t fsync_interval_ms = 1000;
  std::size_t segment_bytes = std::size_t{64} << 20;
};

// The version of the segment format this store writes and reads
// (log_format.md), for `--version`.
[[nodiscard]] std::uint32_t log_format_version();

// How the store found its directory.
enum class log_opening {
  fresh,        // nothing was there: a new epoch
  continued,    // the epoch and every seq go on
  new_epoch,    // asked for (--new-epoch): a new epoch with the stored messages
  reset,        // the last run's tail may be gone (a reboot after an unclean
                // stop of the default mode, or damage): a new epoch with
                // the messages that were readable
};

class log_history final : public history_store {
 public:
  // Opens (creating, private to the user) or recovers the directory and
  // starts the sync thread. Throws std::runtime_error with a sentence that
  // names the path (in use by another broker, not a history directory, no
  // permission).
  explicit log_history(const log_history_options& opts);
  // Writes what is pending, syncs it and marks the directory cleanly closed;
  // gives up on a disk that does not answer within 5 s (and says so).
  ~log_history() override;
  log_history(const log_history&) = delete;
  log_history& operator=(const log_history&) = delete;

  [[nodiscard]] std::uint64_t epoch() const override { return epoch_; }
  [[nodiscard]] const restored_state& restored() const override { return restored_; }
  void append(const new_message& message) override;
  void note_sys_seq(std::uint64_t seq) override;
  [[nodiscard]] history_slice read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const override;
  void tick(std::uint64_t wall_now) override;

  bool write_pending() override;
  [[nodiscard]] bool accepting() const override { return accepting_; }
  [[nodiscard]] std::uint64_t appended() const override {
    return written_ + pending_.size() + pending_body_bytes_;
  }
  [[nodiscard]] std::uint64_t written() const override { return written_; }
  [[nodiscard]] std::uint64_t committed() const override;
  [[nodiscard]] int commit_fd() const override;
  void flush() override;

  [[nodiscard]] log_opening opening() const { return opening_; }
  // Segment files on disk now, and their bytes.
  [[nodiscard]] std::size_t segments() const;
  [[nodiscard]] std::uint64_t disk_bytes() const;

 private:
  struct segment;
  struct room_state;
  struct recovery;

  [[nodiscard]] std::vector<std::uint64_t> list_segments() const;
  void lock_dir();
  void recover(const std::vector<std::uint64_t>& numbers);
  void load(recovery& found);
  void start_segment(std::uint64_t number);
  // Gives the spare file the segment's `path` with `head` written at its
  // start; returns its descriptor and sets `got` to the bytes it holds past
  // `head`, or -1 when there is no spare (or it failed, and is gone).
  int reuse_spare(const std::string& path, std::string_view head, std::uint64_t& got);
  // Deletes the oldest segment, keeping its file as the spare when there is
  // none.
  void retire_oldest();
  void open_new_epoch(recovery& found);
  void roll_if_full();
  // Reserves what it can of 4 MiB, else 1 MiB, from `from` in `fd`;
  // returns the bytes reserved (0: none).
  std::uint64_t reserve_at(int fd, std::uint64_t from);
  bool reserve_ahead();
  void drop_dead_segments();
  void compact_oldest();
  [[nodiscard]] bool segment_live(const segment& s) const;
  room_state& room_of(std::string_view name);
  bool write_all_pending();
  void note_range(room_state& room, std::uint64_t seq);

  log_history_options opts_;
  std::unique_ptr<memory_history> cache_;
  std::uint64_t epoch_ = 0;
  log_opening opening_ = log_opening::fresh;
  restored_state restored_;
  int lock_fd_ = -1;

  std::unordered_map<std::string, room_state, string_hash, std::equal_to<>> rooms_;
  room_state* last_room_ = nullptr;  // the room of the last append (nodes never move)
  std::string last_room_name_;
  std::uint64_t sys_seq_ = 0;
  bool sys_pending_ = false;
  std::vector<iovec> iov_;         // write_all_pending's, kept for its capacity
  std::vector<segment> segments_;  // oldest first; the last is being written
  int fd_ = -1;                    // the last segment
  std::uint32_t seed_ = 0;         // its records' CRC seed (log::seed_of)
  bool reused_ = false;            // it was the spare: older bytes lie past size_
  bool spare_ = false;             // the directory holds a spare file
  std::uint64_t size_ = 0;         // its bytes written
  std::uint64_t reserved_ = 0;     // its bytes reserved (fallocate), >= size_
  bool reserve_supported_ = true;
  // Records appended, not yet written: their bytes but for message bodies,
  // which are written from where they are, each after pending_[0, at).
  struct pending_body {
    std::size_t at;
    shared_body body;
  };
  std::string pending_;
  std::vector<pending_body> pending_bodies_;
  std::size_t pending_body_bytes_ = 0;
  std::uint64_t written_ = 0;      // bytes written over all segments
  bool accepting_ = true;
  bool failing_ = false;           // the last write failed
  bool gone_ = false;              // the directory was deleted under us
  std::uint64_t drop_ticket_ = 0;  // the oldest segment goes once this is on disk
  std::uint64_t next_complaint_ms_ = 0;
  std::unique_ptr<log::syncer> syncer_;
};

}  // namespace bcast::broker
