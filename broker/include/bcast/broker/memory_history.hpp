// History kept in memory: the last N messages of each room in a ring, no
// message older than a retention age, and at most a byte budget over all
// rooms together (past it, the oldest message of any room goes first), so
// no client can grow the broker's memory by spreading messages over many
// rooms. Alone, what it holds is gone when the broker stops; as the cache
// of `log_history` it is what history requests are served from.
#pragma once

#include <deque>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bcast/broker/history_store.hpp"
#include "bcast/broker/string_hash.hpp"

namespace bcast::broker {

class memory_history final : public history_store {
 public:
  // Keeps at most `per_room` messages of each room, `max_bytes` of message
  // bodies in all, and (when `max_age_ms` is not 0) none older than that;
  // `epoch` names this store.
  memory_history(std::size_t per_room, std::size_t max_bytes, std::uint64_t epoch,
                 std::uint64_t max_age_ms = 0);

  [[nodiscard]] std::uint64_t epoch() const override { return epoch_; }
  [[nodiscard]] const restored_state& restored() const override { return restored_; }
  void append(const new_message& message) override;
  void note_sys_seq(std::uint64_t) override {}
  [[nodiscard]] history_slice read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const override;
  void tick(std::uint64_t wall_now) override;
  // Bytes of message bodies held now.
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  // The oldest seq kept of `room`, or nullopt when none is kept.
  [[nodiscard]] std::optional<std::uint64_t> first_seq(std::string_view room) const;
  // Calls `visit(seq, ts, body)` for the kept messages of `room` with seqs
  // in [from, to], oldest first.
  void visit(std::string_view room, std::uint64_t from, std::uint64_t to,
             const std::function<void(std::uint64_t, std::uint64_t, std::string_view)>& visit) const;

 private:
  struct entry {
    std::uint64_t seq;
    std::uint64_t ts;
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
  // Drops the oldest message of all rooms if `too_old` holds for it; returns
  // whether one was dropped (or a stale heap key fixed).
  template <typename Predicate>
  bool drop_oldest_if(Predicate too_old);

  std::size_t per_room_;
  std::size_t max_bytes_;
  std::uint64_t epoch_;
  std::uint64_t max_age_ms_;
  std::size_t bytes_ = 0;
  std::uint64_t next_order_ = 0;
  std::unordered_map<std::string, ring, string_hash, std::equal_to<>> rooms_;
  oldest_first oldest_;
  restored_state restored_;
};

}  // namespace bcast::broker
