// Session bookkeeping: two indexes (name, routing id) over one map of
// sessions, kept consistent by open/rebind/close, and a bounded map of
// dormant sessions by name. Tokens come from getrandom(2).
#include "bcast/broker/session_table.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "bcast/proto/limits.hpp"

namespace bcast::broker {
namespace {

// Dormant sessions kept at most; past it the oldest is forgotten (its
// client then joins as new and a retried message may be published again).
constexpr std::size_t max_dormant = 4096;
// Resume tokens: 128 bits, as 32 hex digits.
constexpr std::size_t token_bytes = 16;

}  // namespace

bool secrets_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    differ = static_cast<unsigned char>(differ | (static_cast<unsigned char>(a[i]) ^
                                                  static_cast<unsigned char>(b[i])));
  }
  return differ == 0;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const auto n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * bytes);
  for (const char c : raw) {
    const auto b = static_cast<unsigned char>(c);
    text += digits[b >> 4];
    text += digits[b & 0xF];
  }
  return text;
}

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

void rate_limiter::refill(std::uint64_t now_ms) {
  if (last_ms_ != 0) {
    const double refill = static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0;
    tokens_ = std::min(burst_, tokens_ + refill);
  }
  last_ms_ = now_ms;
}

void rate_limiter::charge(std::uint64_t now_ms, double cost) {
  if (rate_ <= 0) return;
  refill(now_ms);
  tokens_ = std::max(-burst_, tokens_ - cost);
}

bool rate_limiter::allow(std::uint64_t now_ms, double cost) {
  if (rate_ <= 0) return true;
  refill(now_ms);
  if (tokens_ < std::min(cost, burst_)) return false;
  tokens_ = std::max(0.0, tokens_ - cost);
  return true;
}

bool rate_limiter::spent(std::uint64_t now_ms) const {
  if (rate_ <= 0) return false;
  const double since = last_ms_ == 0 ? 0.0 : static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0;
  return std::min(burst_, tokens_ + since) < 1.0;
}

bool rate_limiter::full(std::uint64_t now_ms) const {
  if (rate_ <= 0 || last_ms_ == 0) return true;
  return tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0 >= burst_;
}

session* session_table::by_name(std::string_view name) {
  const auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : &found->second;
}

session* session_table::by_route(std::string_view routing_id) {
  const auto found = by_route_.find(routing_id);
  return found == by_route_.end() ? nullptr : found->second;
}

session* session_table::by_name_and_token(std::string_view name, std::string_view token) {
  session* s = by_name(name);
  return s != nullptr && secrets_equal(s->token, token) ? s : nullptr;
}

std::optional<std::string> session_table::look_alike(std::string_view name,
                                                    std::uint64_t mono_now) const {
  const std::string key = skeleton(name);
  const auto live = live_skeletons_.find(key);
  if (live != live_skeletons_.end() && live->second != name) return live->second;
  const auto kept = dormant_skeletons_.find(key);
  if (kept != dormant_skeletons_.end() && kept->second != name && reserved_ms(kept->second, mono_now) > 0) {
    return kept->second;
  }
  return std::nullopt;
}

std::uint64_t session_table::reserved_ms(std::string_view name, std::uint64_t mono_now) const {
  const auto found = dormant_.find(name);
  if (found == dormant_.end() || found->second.reserved_until <= mono_now) return 0;
  return found->second.reserved_until - mono_now;
}

session session_table::make(std::string name, std::string token, std::string routing_id,
                           bool delimiter, std::uint64_t wall_now, std::uint64_t mono_now,
                           recent_ids acked) const {
  return {std::move(name), std::move(token), std::move(routing_id), delimiter, wall_now, mono_now,
          {}, std::move(acked), rate_limiter(rate_, burst_),
          rate_limiter(history_rate_, history_rate_), {},
          rate_limiter(dm_inbox_per_s, dm_inbox_per_s), rate_limiter(listings_per_s, listings_per_s),
          rate_limiter(dm_sent_per_s, dm_sent_per_s), -1};
}

session& session_table::open(std::string name, std::string routing_id, bool delimiter,
                             std::uint64_t wall_now, std::uint64_t mono_now) {
  return insert(make(std::move(name), random_hex(token_bytes), std::move(routing_id), delimiter,
                     wall_now, mono_now, recent_ids(proto::dedup_window)));
}

session* session_table::resume_dormant(std::string_view token, std::string_view name,
                                       std::string routing_id, bool delimiter,
                                       std::uint64_t wall_now, std::uint64_t mono_now) {
  const auto found = dormant_.find(name);
  if (found == dormant_.end() || !secrets_equal(found->second.token, token) ||
      by_name(name) != nullptr) {
    return nullptr;
  }
  session s = make(found->first, std::move(found->second.token), std::move(routing_id), delimiter,
                   wall_now, mono_now, std::move(found->second.acked));
  forget_dormant(s.name);
  return &insert(std::move(s));
}

session& session_table::insert(session s) {
  live_skeletons_[skeleton(s.name)] = s.name;
  std::string name = s.name;
  session& stored = by_name_.emplace(std::move(name), std::move(s)).first->second;
  by_route_[stored.routing_id] = &stored;
  return stored;
}

void session_table::forget_dormant(const std::string& name) {
  const auto found = dormant_.find(name);
  if (found == dormant_.end()) return;
  const auto skeleton_entry = dormant_skeletons_.find(skeleton(name));
  if (skeleton_entry != dormant_skeletons_.end() && skeleton_entry->second == name) {
    dormant_skeletons_.erase(skeleton_entry);
  }
  const auto count = dormant_per_address_.find(found->second.address);
  if (count != dormant_per_address_.end() && --count->second == 0) dormant_per_address_.erase(count);
  dormant_order_.erase(found->second.age);
  dormant_.erase(found);
}

std::string session_table::eviction_victim(std::uint64_t mono_now) const {
  for (const auto& [age, name] : dormant_order_) {
    if (dormant_.at(name).reserved_until <= mono_now) return name;
  }
  const auto busiest = std::max_element(dormant_per_address_.begin(), dormant_per_address_.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [age, name] : dormant_order_) {
    if (dormant_.at(name).address == busiest->first) return name;
  }
  return dormant_order_.begin()->second;
}

session_table::dormant& session_table::keep(std::string name, std::string token,
                                            recent_ids acked, std::uint64_t mono_now,
                                            std::uint64_t reserved_until, std::string address) {
  forget_dormant(name);
  if (dormant_.size() >= max_dormant) forget_dormant(eviction_victim(mono_now));
  const std::uint64_t age = next_dormant_age_++;
  dormant_order_.emplace(age, name);
  dormant_skeletons_[skeleton(name)] = name;
  ++dormant_per_address_[address];
  return dormant_
      .try_emplace(std::move(name), dormant{std::move(token), std::move(acked), reserved_until, age,
                                            std::move(address)})
      .first->second;
}

void session_table::restore_ack(const std::string& token, const std::string& name,
                                const proto::event::ack& ack, std::uint64_t mono_now) {
  const auto found = dormant_.find(name);
  const bool same = found != dormant_.end() && secrets_equal(found->second.token, token);
  // Restored: kept, its name not reserved (see the header).
  auto& d = same ? found->second : keep(name, token, recent_ids(proto::dedup_window), mono_now, 0, "");
  d.acked.remember(ack);
}

void session_table::rebind(session& s, std::string routing_id, bool delimiter) {
  by_route_.erase(s.routing_id);
  by_route_[routing_id] = &s;
  s.routing_id = std::move(routing_id);
  s.delimiter = delimiter;
}

void session_table::unroute(session& s) {
  by_route_.erase(s.routing_id);
  s.routing_id.clear();
}

void session_table::close(std::string_view name, bool keep_dormant, std::uint64_t mono_now) {
  const auto found = by_name_.find(name);
  if (found == by_name_.end()) return;
  session& s = found->second;
  by_route_.erase(s.routing_id);
  const auto skeleton_entry = live_skeletons_.find(skeleton(s.name));
  if (skeleton_entry != live_skeletons_.end() && skeleton_entry->second == s.name) {
    live_skeletons_.erase(skeleton_entry);
  }
  if (keep_dormant) {
    keep(std::move(s.name), std::move(s.token), std::move(s.acked), mono_now,
         mono_now + name_grace_ms_, std::move(s.address));
  }
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

std::vector<std::string> session_table::closed_and_silent(std::uint64_t mono_now,
                                                          std::uint64_t max_silence_ms) const {
  std::vector<std::string> names;
  for (const auto& [name, s] : by_name_) {
    if (s.connection_closed && mono_now >= s.last_seen_ms + max_silence_ms) names.push_back(name);
  }
  return names;
}

session* session_table::by_connection(int connection) {
  for (auto& [name, s] : by_name_) {
    if (s.connection == connection) return &s;
  }
  return nullptr;
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
