// Sequencing: the last seq of every room and of the `sys` stream, and when
// each room last saw a message (heartbeats announce recently active rooms so
// clients can notice a lost last message). No sockets, no history bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bcast/broker/session_table.hpp"
#include "bcast/proto/messages.hpp"

namespace bcast::broker {

class room_table {
 public:
  explicit room_table(std::size_t room_limit) : max_rooms_(room_limit) {}

  // Continues from what an earlier run published (never below it).
  void restore(const std::vector<proto::event::room_seq>& rooms, std::uint64_t sys_seq);

  // Returns the next seq for `room` and records it as published at `mono_now`,
  // or nullopt when `room` is new and either `create` is false or the room
  // limit is reached.
  [[nodiscard]] std::optional<std::uint64_t> next_seq(std::string_view room, std::uint64_t mono_now,
                                                      bool create = true);
  // Returns the next `sys` seq.
  std::uint64_t next_sys_seq() { return ++sys_seq_; }

  // The last seq published in `room` (0 when none was).
  [[nodiscard]] std::uint64_t last_seq(std::string_view room) const;
  [[nodiscard]] std::uint64_t sys_seq() const { return sys_seq_; }

  // Every room with its last seq, sorted by name.
  [[nodiscard]] std::vector<proto::event::room_seq> all() const;
  // Rooms that saw a message at or after `mono_since`, sorted by name.
  [[nodiscard]] std::vector<proto::event::room_seq> active_since(std::uint64_t mono_since) const;

 private:
  struct room_state {
    std::uint64_t last_seq = 0;
    std::uint64_t last_active_ms = 0;
  };
  std::size_t max_rooms_;
  std::uint64_t sys_seq_ = 0;
  std::unordered_map<std::string, room_state, string_hash, std::equal_to<>> rooms_;
};

}  // namespace bcast::broker
