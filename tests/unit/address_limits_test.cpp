// Per-address rates (broker/address_limits.hpp): each address has its own
// buckets; a full table forgets idle addresses first, and while every
// address is busy newcomers share one overflow bucket.
#include <gtest/gtest.h>

#include "bcast/broker/address_limits.hpp"

namespace {

using bcast::broker::address_limits;

constexpr bcast::broker::address_rates rates{1, 2, 1, 1, 1000};

TEST(address_limits, each_address_has_its_own_buckets) {
  address_limits limits(rates, 100);
  EXPECT_TRUE(limits.allow_hello("a", 1000));
  EXPECT_TRUE(limits.allow_hello("a", 1000));
  EXPECT_FALSE(limits.allow_hello("a", 1000));
  EXPECT_TRUE(limits.allow_hello("b", 1000));
  EXPECT_TRUE(limits.allow_hello("a", 2000)) << "refilled at 1 a second";
  EXPECT_TRUE(limits.allow_new_room("a", 2000)) << "rooms are a separate bucket";
  EXPECT_FALSE(limits.allow_new_room("a", 2000));
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
  EXPECT_TRUE(limits.allow_hello("a", 1000));
  EXPECT_TRUE(limits.allow_hello("b", 1000));
  // Both busy: c and d share the overflow bucket (burst 2).
  EXPECT_TRUE(limits.allow_hello("c", 1000));
  EXPECT_TRUE(limits.allow_hello("d", 1000));
  EXPECT_FALSE(limits.allow_hello("e", 1000)) << "newcomers share one bucket while all are busy";
  EXPECT_LE(limits.size(), 3U);
  // Seconds later everyone is idle again: forgotten, and e has its own.
  EXPECT_TRUE(limits.allow_hello("e", 10000));
  EXPECT_TRUE(limits.allow_hello("e", 10000));
  EXPECT_LE(limits.size(), 3U);
}

}  // namespace
