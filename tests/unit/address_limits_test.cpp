// Per-address rates (broker/address_limits.hpp): each address has its own
// buckets; a full table forgets idle addresses first, and while every
// address is busy newcomers share one overflow bucket.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>

#include "bcast/broker/address_limits.hpp"

namespace {

using bcast::broker::address_limits;

constexpr bcast::broker::address_rates rates{1, 2, 1, 1, 1000, 100};

// One hello asked for in a sequence: from `address` at `now`, and whether
// it must be allowed (`why` says why when that is not obvious).
struct hello_step {
  const char* address;
  std::uint64_t now;
  bool allowed;
  const char* why = "";
};

void expect_hellos(address_limits& limits, std::initializer_list<hello_step> steps) {
  for (const auto& step : steps) {
    EXPECT_EQ(limits.allow_hello(step.address, step.now), step.allowed)
        << step.address << " at " << step.now << ": " << step.why;
  }
}

TEST(address_limits, each_address_has_its_own_buckets) {
  address_limits limits(rates, 100);
  expect_hellos(limits, {{"a", 1000, true}, {"a", 1000, true}, {"a", 1000, false}, {"b", 1000, true},
                         {"a", 2000, true, "refilled at 1 a second"}});
  EXPECT_TRUE(limits.allow_new_room("a", 2000)) << "rooms are a separate bucket";
  EXPECT_FALSE(limits.allow_new_room("a", 2000));
}

// Found by attack: 250 sessions of one host asking `rooms` of 4096 rooms
// evenly took the whole shared pool from everyone else.
TEST(address_limits, listed_entries_are_counted_per_address) {
  address_limits limits(rates, 100);
  EXPECT_TRUE(limits.allow_listing("a", 1000, 60));
  EXPECT_FALSE(limits.allow_listing("a", 1000, 60)) << "a has 40 of its 100 a second left";
  EXPECT_TRUE(limits.allow_listing("b", 1000, 100)) << "b has its own";
  EXPECT_TRUE(limits.allow_listing("a", 1600, 100)) << "refilled";
}

TEST(address_limits, a_cost_spends_several) {
  address_limits limits(rates, 100);
  EXPECT_TRUE(limits.allow_hello("a", 1000, 2));
  EXPECT_FALSE(limits.allow_hello("a", 1000));
}

TEST(address_limits, a_charge_runs_into_debt_that_must_be_waited_out) {
  address_limits limits(rates, 100);
  limits.charge_hello("a", 1000, 5);  // burst 2: -2 at most
  EXPECT_FALSE(limits.allow_hello("a", 3000));
  EXPECT_TRUE(limits.allow_hello("a", 4000));
}

TEST(address_limits, a_full_table_forgets_idle_addresses_then_shares_an_overflow_bucket) {
  address_limits limits(rates, 2);
  // Both busy: c and d share the overflow bucket (burst 2).
  expect_hellos(limits, {{"a", 1000, true}, {"b", 1000, true}, {"c", 1000, true}, {"d", 1000, true},
                         {"e", 1000, false, "newcomers share one bucket while all are busy"}});
  EXPECT_LE(limits.size(), 3U);
  // Seconds later everyone is idle again: forgotten, and e has its own.
  expect_hellos(limits, {{"e", 10000, true}, {"e", 10000, true}});
  EXPECT_LE(limits.size(), 3U);
}

}  // namespace
