// In-memory history rings with a global byte budget and a retention age.
// Seqs within a room are consecutive, so a seq's position in its ring is
// plain arithmetic from the oldest one kept.
#include "bcast/broker/memory_history.hpp"

#include <algorithm>

namespace bcast::broker {

memory_history::memory_history(std::size_t per_room, std::size_t max_bytes, std::uint64_t epoch,
                               std::uint64_t max_age_ms)
    : per_room_(per_room), max_bytes_(max_bytes), epoch_(epoch), max_age_ms_(max_age_ms) {}

void memory_history::append(const new_message& m) {
  if (per_room_ == 0) return;
  auto found = rooms_.find(m.room);
  if (found == rooms_.end()) found = rooms_.emplace(std::string(m.room), ring{}).first;
  ring& r = found->second;
  bytes_ += m.body->size();
  r.push_back({m.seq, m.ts, next_order_++, m.body});
  if (r.size() == 1) oldest_.push({r.front().order, &r});
  if (r.size() > per_room_) drop_front(r);
  while (bytes_ > max_bytes_ && drop_oldest_if([](const entry&) { return true; })) {
  }
}

void memory_history::tick(std::uint64_t wall_now) {
  if (max_age_ms_ == 0 || wall_now < max_age_ms_) return;
  const std::uint64_t cutoff = wall_now - max_age_ms_;
  while (drop_oldest_if([cutoff](const entry& e) { return e.ts < cutoff; })) {
  }
}

void memory_history::drop_front(ring& r) {
  bytes_ -= r.front().body->size();
  r.pop_front();
}

template <typename Predicate>
bool memory_history::drop_oldest_if(Predicate too_old) {
  if (oldest_.empty()) return false;
  const auto [order, r] = oldest_.top();
  if (r->empty()) {
    oldest_.pop();
    return true;
  }
  if (r->front().order == order) {
    if (!too_old(r->front())) return false;
    drop_front(*r);
  }
  oldest_.pop();
  if (!r->empty()) oldest_.push({r->front().order, r});
  return true;
}

std::optional<std::uint64_t> memory_history::first_seq(std::string_view room) const {
  const auto found = rooms_.find(room);
  if (found == rooms_.end() || found->second.empty()) return std::nullopt;
  return found->second.front().seq;
}

void memory_history::visit(
    std::string_view room, std::uint64_t from, std::uint64_t to,
    const std::function<void(std::uint64_t, std::uint64_t, std::string_view)>& visit) const {
  const auto found = rooms_.find(room);
  if (found == rooms_.end() || found->second.empty()) return;
  const ring& r = found->second;
  const std::uint64_t first = r.front().seq;
  for (std::uint64_t seq = std::max(from, first); seq <= to && seq - first < r.size(); ++seq) {
    const entry& e = r[static_cast<std::size_t>(seq - first)];
    visit(e.seq, e.ts, e.body.view());
  }
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
