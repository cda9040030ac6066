// Per-address token buckets in a bounded table.
#include "bcast/broker/address_limits.hpp"

#include <iterator>

namespace bcast::broker {
namespace {

// The key newcomers share while the table is full of busy addresses.
constexpr std::string_view overflow = "(overflow)";

}  // namespace

address_limits::address_limits(const address_rates& rates, std::size_t max_addresses)
    : rates_(rates), max_addresses_(max_addresses) {}

address_limits::buckets& address_limits::of(std::string_view address, std::uint64_t now_ms) {
  if (const auto found = by_address_.find(address); found != by_address_.end()) return found->second;
  if (by_address_.size() >= max_addresses_) {
    std::erase_if(by_address_, [&](auto& entry) {
      return entry.second.hellos.full(now_ms) && entry.second.rooms.full(now_ms) &&
             entry.second.history.full(now_ms) && entry.second.listed.full(now_ms);
    });
  }
  const std::string_view key = by_address_.size() < max_addresses_ ? address : overflow;
  return by_address_
      .try_emplace(std::string(key),
                   buckets{rate_limiter(rates_.hellos_per_s, rates_.hello_burst),
                           rate_limiter(rates_.rooms_per_s, rates_.room_burst),
                           rate_limiter(rates_.history_bytes_per_s, rates_.history_bytes_per_s),
                           rate_limiter(rates_.listed_per_s, rates_.listed_per_s)})
      .first->second;
}

bool address_limits::allow_hello(std::string_view address, std::uint64_t now_ms, double cost) {
  return of(address, now_ms).hellos.allow(now_ms, cost);
}

void address_limits::charge_hello(std::string_view address, std::uint64_t now_ms, double cost) {
  of(address, now_ms).hellos.charge(now_ms, cost);
}

bool address_limits::allow_new_room(std::string_view address, std::uint64_t now_ms) {
  return of(address, now_ms).rooms.allow(now_ms);
}

bool address_limits::may_read_history(std::string_view address, std::uint64_t now_ms) {
  return !of(address, now_ms).history.spent(now_ms);
}

void address_limits::charge_history(std::string_view address, std::uint64_t now_ms, double bytes) {
  of(address, now_ms).history.charge(now_ms, bytes);
}

bool address_limits::allow_listing(std::string_view address, std::uint64_t now_ms, double entries) {
  return of(address, now_ms).listed.allow(now_ms, entries);
}

}  // namespace bcast::broker
