// Rates per client address, which more sessions or connections from the
// same host cannot multiply: `hello`s (a wrong join token costs many, so
// guessing it is slow), rooms created, history bytes read, and the names and
// rooms `who` and `rooms` answers list. One token bucket pair per address,
// in a table bounded in entries: when it is full, addresses whose buckets
// are full again (idle ones) are forgotten, and while none is, a new
// address shares one overflow bucket pair with the other newcomers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bcast/broker/session_table.hpp"

namespace bcast::broker {

struct address_rates {
  double hellos_per_s;  // burst: `hello_burst`
  double hello_burst;
  double rooms_per_s;   // burst: `room_burst`
  double room_burst;
  double history_bytes_per_s;  // burst: one second's worth
  double listed_per_s;         // entries of `who`/`rooms` answers; burst: one second's worth
};

class address_limits {
 public:
  address_limits(const address_rates& rates, std::size_t max_addresses);

  // Spends `cost` hellos of `address` at `now_ms`; false when it has none.
  [[nodiscard]] bool allow_hello(std::string_view address, std::uint64_t now_ms, double cost = 1);
  // Charges `address` `cost` hellos as a penalty, into debt if need be.
  void charge_hello(std::string_view address, std::uint64_t now_ms, double cost);
  // Spends one room creation of `address`; false when it has none.
  [[nodiscard]] bool allow_new_room(std::string_view address, std::uint64_t now_ms);
  // History bytes: whether `address` has any left (asked before reading),
  // and spending what was served (into debt if need be).
  [[nodiscard]] bool may_read_history(std::string_view address, std::uint64_t now_ms);
  void charge_history(std::string_view address, std::uint64_t now_ms, double bytes);

  // Spends `entries` listed by a `who` or `rooms` answer to `address`;
  // false when it has not that many left.
  [[nodiscard]] bool allow_listing(std::string_view address, std::uint64_t now_ms, double entries);

  [[nodiscard]] std::size_t size() const { return by_address_.size(); }

 private:
  struct buckets {
    rate_limiter hellos;
    rate_limiter rooms;
    rate_limiter history;
    rate_limiter listed;
  };
  buckets& of(std::string_view address, std::uint64_t now_ms);

  address_rates rates_;
  std::size_t max_addresses_;
  std::unordered_map<std::string, buckets, string_hash, std::equal_to<>> by_address_;
};

}  // namespace bcast::broker
