// History kept in memory: the last N messages of each room in a ring, and
// at most a byte budget over all rooms together (past it, the oldest
// message of any room goes first), so no client can grow the broker's
// memory by spreading messages over many rooms. What it holds is gone when
// the broker stops; its epoch is the time it was created.
#pragma once

#include <deque>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bcast/broker/history_store.hpp"
#include "bcast/broker/session_table.hpp"

namespace bcast::broker {

class memory_history final : public history_store {
 public:
  // Keeps at most `per_room` messages of each room and `max_bytes` of
  // message bodies in all; `epoch` names this store.
  memory_history(std::size_t per_room, std::size_t max_bytes, std::uint64_t epoch);

  [[nodiscard]] std::uint64_t epoch() const override { return epoch_; }
  void append(std::string_view room, std::uint64_t seq, shared_body body) override;
  [[nodiscard]] history_slice read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const override;
  // Bytes of message bodies held now.
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  struct entry {
    std::uint64_t seq;
    std::uint64_t order;  // position in the store's global append order
    shared_body body;
  };
  using ring = std::deque<entry>;
  // Rooms by the append order of their oldest message, oldest on top. A key
  // may be stale (that message left through the per-room cap): it is fixed
  // when it reaches the top.
  using oldest_first = std::priority_queue<std::pair<std::uint64_t, ring*>,
                                           std::vector<std::pair<std::uint64_t, ring*>>,
                                           std::greater<>>;

  void drop_front(ring& r);
  void evict_oldest();

  std::size_t per_room_;
  std::size_t max_bytes_;
  std::uint64_t epoch_;
  std::size_t bytes_ = 0;
  std::uint64_t next_order_ = 0;
  std::unordered_map<std::string, ring, string_hash, std::equal_to<>> rooms_;
  oldest_first oldest_;
};

}  // namespace bcast::broker
