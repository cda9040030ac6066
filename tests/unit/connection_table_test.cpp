// connection_table: bounds in total and per address; a full table lets a
// host with fewer connections in by closing one of the busiest host's
// (fair share), and refused or evicted connections stop counting at once.
// Hosts are IPs, and an IPv6 /64 is one host.
#include <gtest/gtest.h>

#include "bcast/broker/connection_table.hpp"
#include "peer_text.hpp"

namespace bcast::broker {
namespace {

TEST(connection_table, the_per_address_bound_holds_at_its_edge) {
  connection_table table(100, 2);
  EXPECT_TRUE(table.accept(3, "10.0.0.1").admitted);
  EXPECT_TRUE(table.accept(4, "10.0.0.1").admitted);
  EXPECT_FALSE(table.accept(5, "10.0.0.1").admitted);
  EXPECT_EQ(table.from("10.0.0.1"), 2U) << "the refused one does not count";
  table.close(5);  // its close event: consumed
  EXPECT_EQ(table.open(), 2U);
  table.close(3);
  EXPECT_TRUE(table.accept(6, "10.0.0.1").admitted);
}

TEST(connection_table, a_full_table_makes_way_for_a_host_holding_fewer) {
  connection_table table(4, 100);
  for (int fd = 3; fd < 7; ++fd) EXPECT_TRUE(table.accept(fd, "6.6.6.6").admitted);
  const auto in = table.accept(7, "1.1.1.1");
  EXPECT_TRUE(in.admitted);
  EXPECT_GE(in.evict, 3);
  EXPECT_LE(in.evict, 6);
  EXPECT_EQ(table.from("6.6.6.6"), 3U);
  table.close(in.evict);  // its close event: already not counted
  EXPECT_EQ(table.open(), 4U);
  EXPECT_FALSE(table.accept(8, "1.1.1.1").admitted) << "3 is not more than 1 + 2";
  EXPECT_GE(table.accept(9, "2.2.2.2").evict, 3) << "3 is more than 0 + 2";
  EXPECT_FALSE(table.accept(10, "6.6.6.6").admitted) << "the busiest host cannot evict itself";
}

// Finding (attack session): "hosts of one connection each evicted an honest
// client's request connection, and kept it out": a host holding a client's
// pair is never made to give one up to a host holding none.
TEST(connection_table, a_client_with_its_two_connections_is_not_evicted_by_single_connections) {
  connection_table table(4, 100);
  EXPECT_TRUE(table.accept(3, "1.1.1.1").admitted);  // honest: requests
  EXPECT_TRUE(table.accept(4, "1.1.1.1").admitted);  //   and publications
  EXPECT_TRUE(table.accept(5, "6.6.6.1").admitted);
  EXPECT_TRUE(table.accept(6, "6.6.6.2").admitted);
  EXPECT_FALSE(table.accept(7, "6.6.6.3").admitted);
  EXPECT_EQ(table.from("1.1.1.1"), 2U);
  EXPECT_FALSE(table.accept(11, "").admitted) << "a local socket has no share to claim";
}

// Gap of the first fix: "an attacker with an IPv6 /64 gets many budgets".
TEST(connection_table, an_ipv6_slash_64_is_one_host) {
  EXPECT_EQ(host_of("[2001:db8:1:2:aaaa::1]:5555"), "2001:db8:1:2::/64");
  EXPECT_EQ(host_of("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(host_of("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(host_of("[::ffff:192.0.2.7]:40000"), "192.0.2.7") << "IPv4-mapped";
  EXPECT_EQ(host_of("192.0.2.7:40000"), "192.0.2.7");
  EXPECT_EQ(host_of("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(host_of(""), "");
  connection_table table(100, 1);
  EXPECT_TRUE(table.accept(3, host_of("[2001:db8::1]:1")).admitted);
  EXPECT_FALSE(table.accept(4, host_of("[2001:db8::2]:1")).admitted) << "same /64";
  EXPECT_TRUE(table.accept(5, host_of("[2001:db8:0:1::2]:1")).admitted) << "another /64";
}

}  // namespace
}  // namespace bcast::broker
