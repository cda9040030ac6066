// In-memory history rings with a global byte budget. Seqs within a room are
// consecutive, so a seq's position in its ring is plain arithmetic from the
// oldest one kept.
#include "bcast/broker/memory_history.hpp"

#include <algorithm>

namespace bcast::broker {

memory_history::memory_history(std::size_t per_room, std::size_t max_bytes, std::uint64_t epoch)
    : per_room_(per_room), max_bytes_(max_bytes), epoch_(epoch) {}

void memory_history::append(std::string_view room, std::uint64_t seq, shared_body body) {
  if (per_room_ == 0) return;
  auto found = rooms_.find(room);
  if (found == rooms_.end()) found = rooms_.emplace(std::string(room), ring{}).first;
  ring& r = found->second;
  bytes_ += body->size();
  r.push_back({seq, next_order_++, std::move(body)});
  if (r.size() == 1) oldest_.push({r.front().order, &r});
  if (r.size() > per_room_) drop_front(r);
  while (bytes_ > max_bytes_ && !oldest_.empty()) evict_oldest();
}

void memory_history::drop_front(ring& r) {
  bytes_ -= r.front().body->size();
  r.pop_front();
}

void memory_history::evict_oldest() {
  const auto [order, r] = oldest_.top();
  oldest_.pop();
  if (r->empty()) return;
  if (r->front().order == order) {
    drop_front(*r);
    if (r->empty()) return;
  }
  oldest_.push({r->front().order, r});
}

history_slice memory_history::read(std::string_view room, std::optional<std::uint64_t> after,
                                   std::size_t limit) const {
  history_slice slice;
  const auto found = rooms_.find(room);
  if (found == rooms_.end() || found->second.empty()) return slice;
  const ring& r = found->second;
  slice.first = r.front().seq;
  std::size_t begin = 0;
  if (after) {
    begin = *after < slice.first ? 0 : static_cast<std::size_t>(*after - slice.first + 1);
  } else if (r.size() > limit) {
    begin = r.size() - limit;
  }
  const std::size_t end = std::min(r.size(), begin + limit);
  for (std::size_t i = begin; i < end; ++i) slice.bodies.push_back(r[i].body);
  return slice;
}

}  // namespace bcast::broker
