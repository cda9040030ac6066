// In-memory history rings. Seqs within a room are consecutive, so a seq's
// position in the ring is plain arithmetic from the oldest one kept.
#include "bcast/broker/memory_history.hpp"

#include <algorithm>

namespace bcast::broker {

memory_history::memory_history(std::size_t per_room, std::uint64_t epoch)
    : per_room_(per_room), epoch_(epoch) {}

void memory_history::append(std::string_view room, std::uint64_t seq, shared_body body) {
  if (per_room_ == 0) return;
  auto found = rooms_.find(room);
  if (found == rooms_.end()) found = rooms_.emplace(std::string(room), std::deque<entry>{}).first;
  auto& ring = found->second;
  ring.push_back({seq, std::move(body)});
  if (ring.size() > per_room_) ring.pop_front();
}

history_slice memory_history::read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const {
  history_slice slice;
  const auto found = rooms_.find(room);
  if (found == rooms_.end() || found->second.empty()) return slice;
  const auto& ring = found->second;
  slice.first = ring.front().seq;
  std::size_t begin = 0;
  if (after) {
    begin = *after < slice.first ? 0 : static_cast<std::size_t>(*after - slice.first + 1);
  } else if (ring.size() > limit) {
    begin = ring.size() - limit;
  }
  const std::size_t end = std::min(ring.size(), begin + limit);
  for (std::size_t i = begin; i < end; ++i) slice.bodies.push_back(ring[i].body);
  return slice;
}

}  // namespace bcast::broker
