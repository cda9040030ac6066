// Sequencing: the last seq of every room and of the `sys` stream, and when
// each room last saw a message (heartbeats announce recently active rooms so
// clients can notice a lost last message). No sockets, no history bytes.
//
// At most `room_limit` rooms are live (listed in `welcome`, announced in
// `hb`). When the table is full, a new room takes the place of a room idle
// for `idle_ms`, else of the least active room of the address that holds
// the most (if the asker holds fewer): one host cannot keep everyone else
// from opening rooms. A room that gives its place is retired, not
// forgotten: its last seq is kept (up to `retired_limit` rooms), so a room
// used again continues its numbering and never reuses a seq a client may
// hold. Past that many, the oldest retirement is dropped into a Bloom
// filter with the highest seq ever dropped: a room the filter may hold
// starts above that seq (a new room that looks like one in the filter
// starts there too: it never reuses a seq, at the price of a gap at its
// start).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bcast/broker/string_hash.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::broker {

class room_table {
 public:
  struct limits {
    std::size_t live;          // rooms in the table
    std::uint64_t idle_ms;     // a room quiet this long may give its place
    std::size_t retired;       // retired rooms whose last seq is kept
  };
  explicit room_table(limits l) : limits_(l) {}

  // Continues from what an earlier run published (never below it). Rooms
  // past the live limit are retired.
  void restore(const std::vector<proto::event::room_seq>& rooms, std::uint64_t sys_seq);

  // Returns the next seq for `room` and records it as published at
  // `mono_now`, or nullopt when `room` is not live and either `create` is
  // false or no place can be made for it. `owner` (an address) is who
  // creates it.
  [[nodiscard]] std::optional<std::uint64_t> next_seq(std::string_view room, std::uint64_t mono_now,
                                                      bool create = true, std::string_view owner = {});
  // Returns the next `sys` seq.
  std::uint64_t next_sys_seq() { return ++sys_seq_; }

  // The last seq published in `room`, live or retired (0 when none was).
  [[nodiscard]] std::uint64_t last_seq(std::string_view room) const;
  [[nodiscard]] std::uint64_t sys_seq() const { return sys_seq_; }

  // Every live room with its last seq, sorted by name.
  [[nodiscard]] std::vector<proto::event::room_seq> all() const;
  // Every live room, sorted by name: its last seq and, when it saw a message
  // since the start, the ms since its last one (a `rooms` answer's list).
  [[nodiscard]] std::vector<proto::event::room_info> listing(std::uint64_t mono_now) const;
  // Live rooms that saw a message at or after `mono_since`, sorted by name.
  [[nodiscard]] std::vector<proto::event::room_seq> active_since(std::uint64_t mono_since) const;
  [[nodiscard]] std::size_t live() const { return rooms_.size(); }
  [[nodiscard]] std::size_t retired() const { return retired_.size(); }

 private:
  struct room_state {
    std::uint64_t last_seq = 0;
    std::uint64_t last_active_ms = 0;
    std::string owner;
    bool spoke = false;  // saw a message since the start (last_active_ms is its time)
  };
  using room_map = std::unordered_map<std::string, room_state, string_hash, std::equal_to<>>;
  // Retires a room to make a place for one of `owner`; false if none may go.
  bool make_place(std::string_view owner, std::uint64_t mono_now);
  void retire(room_map::iterator room);
  void remember_retired(const std::string& room, std::uint64_t last_seq);

  limits limits_;
  std::uint64_t sys_seq_ = 0;
  room_map rooms_;
  std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> owned_;
  struct retired_room {
    std::uint64_t last_seq = 0;
    std::uint64_t when = 0;  // retirement number, to match retired_order_
  };
  std::unordered_map<std::string, retired_room, string_hash, std::equal_to<>> retired_;
  // Oldest retirement first; an entry whose number no longer matches (the
  // room was used again since) is stale and skipped.
  std::deque<std::pair<std::string, std::uint64_t>> retired_order_;
  std::uint64_t retirements_ = 0;
  // Retired rooms dropped from retired_: maybe-members, and a seq above
  // all of theirs.
  void drop_retired(const std::string& room, std::uint64_t last_seq);
  [[nodiscard]] bool maybe_dropped(std::string_view room) const;
  static constexpr std::size_t dropped_bits = std::size_t{1} << 20;  // 128 KiB
  std::vector<std::uint64_t> dropped_ = std::vector<std::uint64_t>(dropped_bits / 64);
  std::uint64_t dropped_floor_ = 0;
};

}  // namespace bcast::broker
