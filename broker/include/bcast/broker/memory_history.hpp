// History kept in memory: the last N messages of each room in a ring. What it
// holds is gone when the broker stops; its epoch is the time it was created.
#pragma once

#include <deque>
#include <functional>
#include <unordered_map>

#include "bcast/broker/history_store.hpp"
#include "bcast/broker/session_table.hpp"

namespace bcast::broker {

class memory_history final : public history_store {
 public:
  // Keeps at most `per_room` messages of each room; `epoch` names this store.
  memory_history(std::size_t per_room, std::uint64_t epoch);

  [[nodiscard]] std::uint64_t epoch() const override { return epoch_; }
  void append(std::string_view room, std::uint64_t seq, shared_body body) override;
  [[nodiscard]] history_slice read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const override;

 private:
  struct entry {
    std::uint64_t seq;
    shared_body body;
  };
  std::size_t per_room_;
  std::uint64_t epoch_;
  std::unordered_map<std::string, std::deque<entry>, string_hash, std::equal_to<>> rooms_;
};

}  // namespace bcast::broker
