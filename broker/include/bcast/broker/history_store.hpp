// The interface between the broker and wherever room history lives. The
// broker hands over each published `msg` body once, already encoded; stores
// keep shared references to those bytes and serve them back in seq order.
// A store also says what it remembered when it was opened (so seqs, the
// epoch and de-duplication of retried requests survive a restart) and, if
// it writes in the background, how far its writes have been committed.
// `memory_history` keeps everything in memory; `log_history` adds a
// directory of append-only segment files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/broker/shared_body.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::broker {

// Who sent a message and under which request id: kept with the message so
// the sender's retry after a restart gets the original ack.
struct message_origin {
  std::string_view token;  // the sender's session token
  std::string_view name;
  std::uint64_t id = 0;
};

struct new_message {
  std::string_view room;
  std::uint64_t seq = 0;  // one above the room's last appended seq
  std::uint64_t ts = 0;   // wall time in ms, as in the body
  shared_body body;       // the encoded `msg` event
  std::optional<message_origin> origin;
};

struct history_slice {
  std::vector<shared_body> bodies;  // encoded `msg` bodies, seq ascending
  std::uint64_t first = 0;          // oldest seq kept (0 when none is kept)
};

// An ack a stored message answered, with the session it belongs to.
struct restored_ack {
  std::string token;
  std::string name;
  proto::event::ack ack;
};

// What a store remembered from earlier runs when it was opened.
struct restored_state {
  std::vector<proto::event::room_seq> rooms;  // last seq of every room
  std::uint64_t sys_seq = 0;
  std::vector<restored_ack> acks;  // oldest first
};

class history_store {
 public:
  virtual ~history_store() = default;

  // The epoch seqs belong to (PROTOCOL.md "Sequence").
  [[nodiscard]] virtual std::uint64_t epoch() const = 0;
  // What the store knew when it was opened (empty for a fresh store).
  [[nodiscard]] virtual const restored_state& restored() const = 0;

  // Keeps a message; seqs of a room arrive consecutively.
  virtual void append(const new_message& message) = 0;
  // Records the latest `sys` seq, so a restart continues above it.
  virtual void note_sys_seq(std::uint64_t seq) = 0;

  // Returns up to `limit` messages of `room`: those after seq `after`, oldest
  // first, or the newest `limit` when `after` is nullopt.
  [[nodiscard]] virtual history_slice read(std::string_view room,
                                           std::optional<std::uint64_t> after,
                                           std::size_t limit) const = 0;

  // The store's periodic work at `wall_now` (ms), once a heartbeat: drops
  // messages older than the retention age, retries what failed.
  virtual void tick(std::uint64_t wall_now) = 0;

  // Hands everything appended since the last call to the operating system
  // (a store with a file: one write(2)). Returns false when that failed: it
  // is kept and tried again, and nothing that depends on it may be sent.
  virtual bool write_pending() { return true; }
  // False while the store cannot take new messages (its disk is full or
  // failing): `msg` requests are then refused, not acknowledged.
  [[nodiscard]] virtual bool accepting() const { return true; }
  // Positions in the store's writes, in bytes: `appended()` after the last
  // append/note_sys_seq, `written()` handed to the OS, `committed()` as
  // far as an acknowledgement may go (on disk with `--durable`, else
  // written). Whatever depends on a message waits for `committed()` to
  // reach the `appended()` of its turn. Memory keeps all three at 0.
  [[nodiscard]] virtual std::uint64_t appended() const { return 0; }
  [[nodiscard]] virtual std::uint64_t written() const { return 0; }
  [[nodiscard]] virtual std::uint64_t committed() const { return 0; }
  // Readable when `committed()` moves on its own (a background sync), or -1.
  [[nodiscard]] virtual int commit_fd() const { return -1; }
  // Writes and commits everything appended (a clean shutdown), or gives up
  // after a while when the store cannot (and says so).
  virtual void flush() {}
};

}  // namespace bcast::broker
