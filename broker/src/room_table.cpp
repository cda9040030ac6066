// Per-room and sys sequence counters.
#include "bcast/broker/room_table.hpp"

#include <algorithm>

namespace bcast::broker {

void room_table::restore(const std::vector<proto::event::room_seq>& rooms, std::uint64_t sys_seq) {
  for (const auto& r : rooms) {
    auto& state = rooms_[r.room];
    state.last_seq = std::max(state.last_seq, r.seq);
  }
  sys_seq_ = std::max(sys_seq_, sys_seq);
}

std::optional<std::uint64_t> room_table::next_seq(std::string_view room, std::uint64_t mono_now,
                                                  bool create) {
  auto found = rooms_.find(room);
  if (found == rooms_.end()) {
    if (!create || rooms_.size() >= max_rooms_) return std::nullopt;
    found = rooms_.emplace(std::string(room), room_state{}).first;
  }
  found->second.last_active_ms = mono_now;
  return ++found->second.last_seq;
}

std::uint64_t room_table::last_seq(std::string_view room) const {
  const auto found = rooms_.find(room);
  return found == rooms_.end() ? 0 : found->second.last_seq;
}

std::vector<proto::event::room_seq> room_table::active_since(std::uint64_t mono_since) const {
  std::vector<proto::event::room_seq> out;
  for (const auto& [name, state] : rooms_) {
    if (state.last_active_ms >= mono_since) out.push_back({name, state.last_seq});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.room < b.room; });
  return out;
}

std::vector<proto::event::room_seq> room_table::all() const { return active_since(0); }

}  // namespace bcast::broker
