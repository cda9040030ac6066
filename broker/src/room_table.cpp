// Per-room and sys sequence counters; live rooms, their owners, retirement.
#include "bcast/broker/room_table.hpp"

#include <algorithm>
#include <array>
#include <functional>

namespace bcast::broker {

void room_table::restore(const std::vector<proto::event::room_seq>& rooms, std::uint64_t sys_seq) {
  for (const auto& r : rooms) {
    auto live = rooms_.find(r.room);
    if (live != rooms_.end()) {
      live->second.last_seq = std::max(live->second.last_seq, r.seq);
    } else if (rooms_.size() < limits_.live) {
      // Quiet since the restart, owned by nobody: the first to give way.
      rooms_.emplace(r.room, room_state{r.seq, 0, {}, false});
      ++owned_[""];
    } else {
      remember_retired(r.room, r.seq);
    }
  }
  sys_seq_ = std::max(sys_seq_, sys_seq);
}

std::optional<std::uint64_t> room_table::next_seq(std::string_view room, std::uint64_t mono_now,
                                                  bool create, std::string_view owner) {
  auto found = rooms_.find(room);
  if (found == rooms_.end()) {
    if (!create) return std::nullopt;
    if (rooms_.size() >= limits_.live && !make_place(owner, mono_now)) return std::nullopt;
    room_state state{0, mono_now, std::string(owner), true};
    if (const auto old = retired_.find(room); old != retired_.end()) {
      state.last_seq = old->second.last_seq;  // used again: its numbering goes on
      retired_.erase(old);
    } else if (maybe_dropped(room)) {
      state.last_seq = dropped_floor_;  // above any seq it can have had
    }
    ++owned_[state.owner];
    found = rooms_.emplace(std::string(room), std::move(state)).first;
  }
  found->second.last_active_ms = mono_now;
  found->second.spoke = true;
  return ++found->second.last_seq;
}

bool room_table::make_place(std::string_view owner, std::uint64_t mono_now) {
  const auto quietest = [this](std::string_view of, bool any) {
    auto best = rooms_.end();
    for (auto it = rooms_.begin(); it != rooms_.end(); ++it) {
      if (!any && it->second.owner != of) continue;
      if (best == rooms_.end() || it->second.last_active_ms < best->second.last_active_ms) best = it;
    }
    return best;
  };
  const auto idle = quietest({}, true);
  if (idle != rooms_.end() && mono_now - idle->second.last_active_ms >= limits_.idle_ms) {
    retire(idle);
    return true;
  }
  const auto busiest = std::max_element(owned_.begin(), owned_.end(), [](const auto& a, const auto& b) {
    return a.second < b.second;
  });
  const auto mine = owned_.find(owner);
  const std::size_t held = mine == owned_.end() ? 0 : mine->second;
  if (busiest == owned_.end() || held + 1 >= busiest->second) return false;
  retire(quietest(busiest->first, false));
  return true;
}

void room_table::retire(room_map::iterator room) {
  const auto owner = owned_.find(room->second.owner);
  if (owner != owned_.end() && --owner->second == 0) owned_.erase(owner);
  remember_retired(room->first, room->second.last_seq);
  rooms_.erase(room);
}

void room_table::remember_retired(const std::string& room, std::uint64_t last_seq) {
  retired_room& r = retired_[room];
  r.last_seq = std::max(r.last_seq, last_seq);
  r.when = ++retirements_;
  retired_order_.emplace_back(room, r.when);
  const auto current = [this](const auto& entry) {
    const auto found = retired_.find(entry.first);
    return found != retired_.end() && found->second.when == entry.second;
  };
  while (retired_.size() > limits_.retired) {
    const auto& oldest = retired_order_.front();
    if (current(oldest)) {
      const auto found = retired_.find(oldest.first);
      drop_retired(found->first, found->second.last_seq);
      retired_.erase(found);
    }
    retired_order_.pop_front();
  }
  // Stale entries (rooms used again, retired again) are dropped in bulk.
  if (retired_order_.size() > 2 * limits_.retired + 16) {
    std::erase_if(retired_order_, [&](const auto& entry) { return !current(entry); });
  }
}

namespace {

// The filter's three bit positions for `room`.
std::array<std::size_t, 3> dropped_positions(std::string_view room, std::size_t bits) {
  const std::size_t h = std::hash<std::string_view>{}(room);
  const std::size_t g = (h >> 17) | (h << 47) | 1;
  return {h % bits, (h + g) % bits, (h + 2 * g) % bits};
}

}  // namespace

void room_table::drop_retired(const std::string& room, std::uint64_t last_seq) {
  for (const std::size_t bit : dropped_positions(room, dropped_bits)) dropped_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  dropped_floor_ = std::max(dropped_floor_, last_seq);
}

bool room_table::maybe_dropped(std::string_view room) const {
  for (const std::size_t bit : dropped_positions(room, dropped_bits)) {
    if ((dropped_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

std::uint64_t room_table::last_seq(std::string_view room) const {
  if (const auto live = rooms_.find(room); live != rooms_.end()) return live->second.last_seq;
  if (const auto old = retired_.find(room); old != retired_.end()) return old->second.last_seq;
  return maybe_dropped(room) ? dropped_floor_ : 0;
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

std::vector<proto::event::room_info> room_table::listing(std::uint64_t mono_now) const {
  std::vector<proto::event::room_info> out;
  out.reserve(rooms_.size());
  for (const auto& [name, state] : rooms_) {
    std::optional<std::uint64_t> idle;
    if (state.spoke) idle = mono_now - std::min(mono_now, state.last_active_ms);
    out.push_back({name, state.last_seq, idle});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.room < b.room; });
  return out;
}

}  // namespace bcast::broker
