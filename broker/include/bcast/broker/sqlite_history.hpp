// History stored in a SQLite file (WAL mode) behind an in-memory cache.
// Reads are served from the cache (a `memory_history` holding the same
// retention window); writes go to a queue that one writer thread commits
// in batches (group commit), so the publish path never waits for the disk.
// The file also keeps each room's last seq, the `sys` seq, the epoch and
// who sent each message under which request id, so a restart continues
// where the last run stopped:
//  - after a clean stop, and after any stop of a run that published only
//    committed messages (`durable`), the epoch and every seq continue;
//  - after an unclean stop of a run that published before committing, the
//    store cannot know every seq that was published: a new epoch starts,
//    empty (PROTOCOL.md 8.2).
// One broker at a time: the file is locked while open.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bcast/broker/memory_history.hpp"

namespace bcast::broker {

namespace sqlite {
class database;
}

struct sqlite_history_options {
  std::string path;
  std::size_t per_room = 0;        // messages kept per room
  std::size_t max_bytes = 0;       // bytes kept in memory over all rooms
  std::uint64_t max_age_ms = 0;    // 0: no age limit
  bool durable = false;            // this run publishes only committed messages
};

class sqlite_history final : public history_store {
 public:
  // Opens or creates the file, loads what it holds and starts the writer.
  // Throws std::runtime_error (e.g. the file is in use by another broker).
  explicit sqlite_history(const sqlite_history_options& opts);
  // Commits everything written, marks the file as cleanly closed.
  ~sqlite_history() override;
  sqlite_history(const sqlite_history&) = delete;
  sqlite_history& operator=(const sqlite_history&) = delete;

  [[nodiscard]] std::uint64_t epoch() const override { return epoch_; }
  [[nodiscard]] const restored_state& restored() const override { return restored_; }
  void append(const new_message& message) override;
  void note_sys_seq(std::uint64_t seq) override;
  [[nodiscard]] history_slice read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const override;
  void expire(std::uint64_t wall_now) override { cache_->expire(wall_now); }

  [[nodiscard]] std::uint64_t written() const override { return written_; }
  [[nodiscard]] std::uint64_t committed() const override { return committed_.load(); }
  [[nodiscard]] int commit_fd() const override { return commit_fd_; }
  void flush() override;

  // Whether the previous run stopped uncleanly and a new epoch began.
  [[nodiscard]] bool epoch_changed() const { return epoch_changed_; }

 private:
  // One queued write: a message row, or (room empty) a new sys seq.
  struct pending_write {
    std::string room;
    std::uint64_t seq = 0;
    std::uint64_t ts = 0;
    shared_body body;
    std::string token;
    std::string sender;
    std::optional<std::uint64_t> id;
  };

  void open_epoch(std::uint64_t wall_now);
  void load();
  void write_loop();
  void commit(std::vector<pending_write>& batch);
  void expire_stored(std::uint64_t wall_now);
  bool stopping();

  sqlite_history_options opts_;
  std::unique_ptr<sqlite::database> db_;
  std::unique_ptr<memory_history> cache_;
  std::uint64_t epoch_ = 0;
  bool epoch_changed_ = false;
  restored_state restored_;

  // Broker thread only.
  std::uint64_t written_ = 0;
  // Shared with the writer thread.
  std::mutex mutex_;
  std::condition_variable wake_;      // writer: work or stop
  std::condition_variable flushed_;  // flush(): a commit happened
  std::vector<pending_write> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> committed_{0};
  int commit_fd_ = -1;
  bool lost_writes_ = false;  // writer thread only, read after join
  std::thread writer_;
};

}  // namespace bcast::broker
