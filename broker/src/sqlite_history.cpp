// The SQLite history store (see sqlite_history.hpp). Schema:
//   meta(key, value)      epoch, sys_seq, clean (1 after a clean close),
//                         durable (1 when the run published only committed
//                         messages), schema version
//   rooms(name, last_seq) every room ever published in, with its last seq
//   messages(id, room, seq, ts, body, token, sender, req)
//                         the retention window; body is the encoded `msg`
//                         event exactly as published
// The broker thread only appends to a queue; the writer thread owns the
// connection after the constructor and commits the queue in batches.
#include "bcast/broker/sqlite_history.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "bcast/broker/clock.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/validate.hpp"
#include "sqlite_db.hpp"

namespace bcast::broker {
namespace {

constexpr std::int64_t schema_version = 1;
// How often the writer wakes to drop messages past the retention age, and
// how many it drops per transaction (so no delete holds the file for long).
constexpr auto expire_every = std::chrono::seconds(1);
constexpr int expire_batch = 5000;
// After a failed commit the writer waits this long and retries the batch.
constexpr auto retry_after = std::chrono::milliseconds(100);
// How long a clean stop waits for the writer before giving up on it.
constexpr auto flush_patience = std::chrono::seconds(10);
// Acks restored per store: enough for every recent sender's retry window.
constexpr int restored_ack_rows = 65536;

constexpr const char* schema = R"sql(
  CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS messages(
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    body BLOB NOT NULL,
    token TEXT,
    sender TEXT,
    req INTEGER);
  CREATE UNIQUE INDEX IF NOT EXISTS messages_by_seq ON messages(room, seq);
  CREATE INDEX IF NOT EXISTS messages_by_ts ON messages(ts);
)sql";

std::int64_t as_int(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t as_uint(std::int64_t v) { return static_cast<std::uint64_t>(v); }

std::optional<std::int64_t> meta_value(sqlite::database& db, std::string_view key) {
  sqlite::statement get(db, "SELECT value FROM meta WHERE key = ?1");
  get.bind(1, key);
  if (!get.step()) return std::nullopt;
  return get.integer(0);
}

void set_meta(sqlite::database& db, std::string_view key, std::int64_t value) {
  sqlite::statement put(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
  put.bind(1, key).bind(2, value).run();
}

}  // namespace

sqlite_history::sqlite_history(const sqlite_history_options& opts) : opts_(opts) {
  db_ = std::make_unique<sqlite::database>(opts.path);
  // synchronous FULL syncs the WAL at every commit (survives power loss);
  // NORMAL syncs at checkpoints only (a commit survives a crash of the
  // broker process). One broker per file: an exclusive lock held from the
  // first write until close (this also keeps WAL's index in process memory).
  try {
    db_->exec(opts.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    db_->exec("PRAGMA locking_mode = EXCLUSIVE");
    db_->exec("PRAGMA journal_mode = WAL");
    db_->exec("BEGIN IMMEDIATE");
  } catch (const std::runtime_error&) {
    const int code = sqlite3_errcode(db_->handle());
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      throw std::runtime_error(opts.path + " is in use by another broker");
    }
    throw;
  }
  db_->exec(schema);
  const auto version = meta_value(*db_, "schema");
  if (version && *version != schema_version) {
    throw std::runtime_error(opts.path + " has history schema " + std::to_string(*version) +
                             "; this broker reads schema " + std::to_string(schema_version));
  }
  set_meta(*db_, "schema", schema_version);
  open_epoch(wall_ms());
  db_->exec("COMMIT");
  cache_ = std::make_unique<memory_history>(opts.per_room, opts.max_bytes, epoch_, opts.max_age_ms);
  load();
  commit_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (commit_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  writer_ = std::thread([this] { write_loop(); });
}

void sqlite_history::open_epoch(std::uint64_t wall_now) {
  const auto epoch = meta_value(*db_, "epoch");
  const bool clean = meta_value(*db_, "clean").value_or(1) == 1;
  const bool was_durable = meta_value(*db_, "durable").value_or(0) == 1;
  if (epoch && (clean || was_durable)) {
    epoch_ = as_uint(*epoch);
  } else {
    // The last run may have published seqs it never stored: nothing of its
    // epoch can be vouched for, so the new epoch starts empty.
    epoch_changed_ = epoch.has_value();
    epoch_ = std::max(wall_now, epoch ? as_uint(*epoch) + 1 : 1);
    db_->exec("DELETE FROM messages; DELETE FROM rooms;");
  }
  restored_.sys_seq = epoch_changed_ ? 0 : as_uint(meta_value(*db_, "sys_seq").value_or(0));
  set_meta(*db_, "epoch", as_int(epoch_));
  set_meta(*db_, "sys_seq", as_int(restored_.sys_seq));
  set_meta(*db_, "clean", 0);
  set_meta(*db_, "durable", opts_.durable ? 1 : 0);
}

void sqlite_history::load() {
  // Rows are checked as if they came from the wire: a file edited by hand
  // (or by an older version) cannot put a room name with ESC on the screens.
  sqlite::statement rooms(*db_, "SELECT name, last_seq FROM rooms ORDER BY name");
  std::size_t refused = 0;
  while (rooms.step()) {
    std::string name = rooms.text(0);
    if (proto::check_room(name)) {
      ++refused;
      continue;
    }
    restored_.rooms.push_back({std::move(name), as_uint(rooms.integer(1))});
  }

  // The retention window of every room, in the order it was appended.
  const std::uint64_t now = wall_ms();
  const std::uint64_t oldest =
      opts_.max_age_ms == 0 || now < opts_.max_age_ms ? 0 : now - opts_.max_age_ms;
  sqlite::statement messages(*db_, R"sql(
      SELECT m.room, m.seq, m.ts, m.body FROM messages m JOIN rooms r ON m.room = r.name
      WHERE m.seq > r.last_seq - ?1 AND m.ts >= ?2 ORDER BY m.id)sql");
  messages.bind(1, as_int(opts_.per_room)).bind(2, as_int(oldest));
  std::size_t loaded = 0;
  while (messages.step()) {
    const std::string room = messages.text(0);
    if (proto::check_room(room)) continue;
    cache_->append({room, as_uint(messages.integer(1)), as_uint(messages.integer(2)),
                    shared_body(messages.text(3)), std::nullopt});
    ++loaded;
  }
  if (refused != 0) spdlog::warn("history: {} stored room(s) with invalid names skipped", refused);

  // The acks of recent messages, so a sender's retry after the restart is
  // answered with the original ack instead of being published again.
  sqlite::statement acks(*db_, R"sql(
      SELECT token, sender, req, room, seq FROM
        (SELECT id, token, sender, req, room, seq FROM messages
         WHERE req IS NOT NULL ORDER BY id DESC LIMIT ?1)
      ORDER BY id)sql");
  acks.bind(1, restored_ack_rows);
  while (acks.step()) {
    restored_.acks.push_back({acks.text(0), acks.text(1),
                              proto::event::ack{as_uint(acks.integer(2)), acks.text(3),
                                                as_uint(acks.integer(4))}});
  }
  spdlog::info("history {}: epoch {}{}, {} rooms, {} messages loaded, sys seq {}", opts_.path,
               epoch_, epoch_changed_ ? " (new: the last run stopped uncleanly)" : "",
               restored_.rooms.size(), loaded, restored_.sys_seq);
}

sqlite_history::~sqlite_history() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  if (lost_writes_) return;
  try {
    db_->exec("BEGIN IMMEDIATE");
    set_meta(*db_, "clean", 1);
    db_->exec("COMMIT");
  } catch (const std::exception& e) {
    spdlog::error("history {}: could not mark a clean close: {}", opts_.path, e.what());
  }
  if (commit_fd_ >= 0) ::close(commit_fd_);
}

void sqlite_history::append(const new_message& m) {
  cache_->append(m);
  pending_write w{std::string(m.room), m.seq, m.ts, m.body, {}, {}, std::nullopt};
  if (m.origin) {
    w.token = m.origin->token;
    w.sender = m.origin->name;
    w.id = m.origin->id;
  }
  ++written_;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(w));
  }
  wake_.notify_one();
}

void sqlite_history::note_sys_seq(std::uint64_t seq) {
  ++written_;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({{}, seq, 0, shared_body{}, {}, {}, std::nullopt});
  }
  wake_.notify_one();
}

history_slice sqlite_history::read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const {
  return cache_->read(room, after, limit);
}

void sqlite_history::flush() {
  std::unique_lock lock(mutex_);
  if (!flushed_.wait_for(lock, flush_patience, [this] { return committed_.load() >= written_; })) {
    spdlog::error("history {}: {} writes still not committed after {} s", opts_.path,
                  written_ - committed_.load(), flush_patience.count());
  }
}

bool sqlite_history::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void sqlite_history::write_loop() {
  std::vector<pending_write> batch;
  auto next_expire = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_expire, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    while (!batch.empty()) {
      try {
        commit(batch);
      } catch (const std::exception& e) {
        db_->try_exec("ROLLBACK");
        if (stopping()) {
          // Stopping with a file that takes no writes: give up, and leave
          // the file marked unclean so the next start begins a new epoch.
          spdlog::error("history {}: {} entries could not be written ({})", opts_.path,
                        batch.size(), e.what());
          lost_writes_ = true;
          batch.clear();
          break;
        }
        spdlog::error("history {}: writing {} entries failed ({}); retrying", opts_.path,
                      batch.size(), e.what());
        std::this_thread::sleep_for(retry_after);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        committed_ += batch.size();
      }
      batch.clear();
      flushed_.notify_all();
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto w = ::write(commit_fd_, &one, sizeof one);
    }
    if (std::chrono::steady_clock::now() >= next_expire) {
      if (opts_.max_age_ms != 0) expire_stored(wall_ms());
      next_expire = std::chrono::steady_clock::now() + expire_every;
    }
  }
}

void sqlite_history::commit(std::vector<pending_write>& batch) {
  sqlite::statement insert(*db_, R"sql(
      INSERT OR REPLACE INTO messages(room, seq, ts, body, token, sender, req)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql");
  sqlite::statement set_room(*db_, R"sql(
      INSERT INTO rooms(name, last_seq) VALUES (?1, ?2)
      ON CONFLICT(name) DO UPDATE SET last_seq = excluded.last_seq)sql");
  sqlite::statement trim(*db_, "DELETE FROM messages WHERE room = ?1 AND seq <= ?2");
  std::map<std::string_view, std::uint64_t> last_seqs;
  std::optional<std::uint64_t> sys_seq;
  db_->exec("BEGIN IMMEDIATE");
  for (const auto& w : batch) {
    if (w.room.empty()) {
      sys_seq = w.seq;
      continue;
    }
    last_seqs[w.room] = w.seq;
    if (opts_.per_room == 0) continue;
    insert.bind(1, w.room).bind(2, as_int(w.seq)).bind(3, as_int(w.ts)).bind_blob(4, w.body.view());
    if (w.id) {
      insert.bind(5, w.token).bind(6, w.sender).bind(7, as_int(*w.id));
    }
    insert.run();
  }
  for (const auto& [room, last] : last_seqs) {
    set_room.bind(1, room).bind(2, as_int(last)).run();
    if (last > opts_.per_room) trim.bind(1, room).bind(2, as_int(last - opts_.per_room)).run();
  }
  if (sys_seq) set_meta(*db_, "sys_seq", as_int(*sys_seq));
  db_->exec("COMMIT");
}

void sqlite_history::expire_stored(std::uint64_t wall_now) {
  if (wall_now < opts_.max_age_ms) return;
  sqlite::statement drop(*db_, R"sql(
      DELETE FROM messages WHERE id IN
        (SELECT id FROM messages WHERE ts < ?1 ORDER BY ts LIMIT ?2))sql");
  try {
    do {
      drop.bind(1, as_int(wall_now - opts_.max_age_ms)).bind(2, expire_batch).run();
    } while (db_->changes() == expire_batch);
  } catch (const std::exception& e) {
    spdlog::error("history {}: dropping expired messages failed: {}", opts_.path, e.what());
  }
}

}  // namespace bcast::broker
