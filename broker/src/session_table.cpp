// Session bookkeeping: three indexes (name, routing id, resume token) over
// one map of sessions, kept consistent by open/rebind/close, and a bounded
// map of dormant sessions by token.
#include "bcast/broker/session_table.hpp"

#include <algorithm>
#include <cstdio>

#include "bcast/proto/limits.hpp"

namespace bcast::broker {
namespace {

// Dormant sessions kept at most; past it the oldest is forgotten (its
// client then joins as new and a retried message may be published again).
constexpr std::size_t max_dormant = 4096;

}  // namespace

const proto::event::ack* recent_ids::find(std::uint64_t id) const {
  const auto found = acks_.find(id);
  return found == acks_.end() ? nullptr : &found->second;
}

void recent_ids::remember(const proto::event::ack& ack) {
  if (!acks_.emplace(ack.id, ack).second) return;
  order_.push_back(ack.id);
  if (order_.size() > capacity_) {
    acks_.erase(order_.front());
    order_.pop_front();
  }
}

bool rate_limiter::allow(std::uint64_t now_ms, double cost) {
  if (rate_ <= 0) return true;
  if (last_ms_ != 0) {
    const double refill = static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0;
    tokens_ = std::min(burst_, tokens_ + refill);
  }
  last_ms_ = now_ms;
  if (tokens_ < std::min(cost, burst_)) return false;
  tokens_ = std::max(0.0, tokens_ - cost);
  return true;
}

session* session_table::by_name(std::string_view name) {
  const auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : &found->second;
}

session* session_table::by_route(std::string_view routing_id) {
  const auto found = by_route_.find(routing_id);
  return found == by_route_.end() ? nullptr : found->second;
}

session* session_table::by_token(std::string_view token) {
  const auto found = name_by_token_.find(token);
  return found == name_by_token_.end() ? nullptr : by_name(found->second);
}

std::string session_table::new_token() {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random_()),
                static_cast<unsigned long long>(random_()));
  return text;
}

session& session_table::open(std::string name, std::string routing_id, bool delimiter,
                             std::uint64_t wall_now, std::uint64_t mono_now) {
  return insert({std::move(name), new_token(), std::move(routing_id), delimiter, wall_now, mono_now,
                 {}, recent_ids(proto::dedup_window), rate_limiter(rate_, burst_),
                 rate_limiter(history_rate_, history_rate_)});
}

session* session_table::resume_dormant(std::string_view token, std::string_view name,
                                       std::string routing_id, bool delimiter,
                                       std::uint64_t wall_now, std::uint64_t mono_now) {
  const auto found = dormant_.find(token);
  if (found == dormant_.end() || found->second.name != name || by_name(name) != nullptr) {
    return nullptr;
  }
  session s{std::move(found->second.name), std::string(token), std::move(routing_id), delimiter,
            wall_now, mono_now, {}, std::move(found->second.acked), rate_limiter(rate_, burst_),
            rate_limiter(history_rate_, history_rate_)};
  dormant_order_.erase(found->second.age);
  dormant_.erase(found);
  return &insert(std::move(s));
}

session& session_table::insert(session s) {
  name_by_token_[s.token] = s.name;
  std::string name = s.name;
  session& stored = by_name_.emplace(std::move(name), std::move(s)).first->second;
  by_route_[stored.routing_id] = &stored;
  return stored;
}

session_table::dormant& session_table::keep(std::string token, std::string name,
                                            recent_ids acked) {
  const std::uint64_t age = next_dormant_age_++;
  auto [it, added] = dormant_.try_emplace(token, dormant{std::move(name), std::move(acked), age});
  if (!added) return it->second;
  dormant_order_.emplace(age, std::move(token));
  if (dormant_.size() > max_dormant) {
    dormant_.erase(dormant_order_.begin()->second);
    dormant_order_.erase(dormant_order_.begin());
  }
  return it->second;
}

void session_table::restore_ack(const std::string& token, const std::string& name,
                                const proto::event::ack& ack) {
  const auto found = dormant_.find(token);
  auto& d = found != dormant_.end() ? found->second : keep(token, name, recent_ids(proto::dedup_window));
  d.acked.remember(ack);
}

void session_table::rebind(session& s, std::string routing_id, bool delimiter) {
  by_route_.erase(s.routing_id);
  by_route_[routing_id] = &s;
  s.routing_id = std::move(routing_id);
  s.delimiter = delimiter;
}

void session_table::close(std::string_view name, bool keep_dormant) {
  const auto found = by_name_.find(name);
  if (found == by_name_.end()) return;
  session& s = found->second;
  by_route_.erase(s.routing_id);
  name_by_token_.erase(s.token);
  if (keep_dormant) keep(std::move(s.token), std::move(s.name), std::move(s.acked));
  by_name_.erase(found);
}

std::vector<std::string> session_table::silent_since(std::uint64_t mono_now,
                                                     std::uint64_t max_silence_ms) const {
  std::vector<std::string> names;
  for (const auto& [name, s] : by_name_) {
    if (mono_now >= s.last_seen_ms + max_silence_ms) names.push_back(name);
  }
  return names;
}

std::vector<const session*> session_table::all() const {
  std::vector<const session*> out;
  out.reserve(by_name_.size());
  for (const auto& [name, s] : by_name_) out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const session* a, const session* b) {
    return a->since_ms != b->since_ms ? a->since_ms < b->since_ms : a->name < b->name;
  });
  return out;
}

}  // namespace bcast::broker
