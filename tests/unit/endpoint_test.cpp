// Port-or-endpoint resolution (proto/endpoint.hpp), shared by the broker's
// binds and the clients' connects: a bare port becomes a tcp endpoint on the
// given host (port 0 becomes '*', an ephemeral port; an IPv6 host gets
// brackets), a full endpoint passes through unchanged, and anything else is
// refused with nullopt.
#include <gtest/gtest.h>

#include "bcast/proto/endpoint.hpp"

namespace {

using bcast::proto::resolve_endpoint;

TEST(endpoint, bare_port_becomes_tcp_on_host) {
  EXPECT_EQ(resolve_endpoint("5555", "127.0.0.1"), "tcp://127.0.0.1:5555");
  EXPECT_EQ(resolve_endpoint("1", "localhost"), "tcp://localhost:1");
  EXPECT_EQ(resolve_endpoint("65535", "*"), "tcp://*:65535");
}

TEST(endpoint, port_zero_becomes_wildcard_port) {
  EXPECT_EQ(resolve_endpoint("0", "127.0.0.1"), "tcp://127.0.0.1:*");
}

TEST(endpoint, full_endpoint_is_unchanged) {
  EXPECT_EQ(resolve_endpoint("ipc:///tmp/x", "127.0.0.1"), "ipc:///tmp/x");
  EXPECT_EQ(resolve_endpoint("tcp://h:1", "127.0.0.1"), "tcp://h:1");
  EXPECT_EQ(resolve_endpoint("inproc://bcast", "127.0.0.1"), "inproc://bcast");
  EXPECT_EQ(resolve_endpoint("tcp://[::1]:7000", "127.0.0.1"), "tcp://[::1]:7000");
}

TEST(endpoint, ipv6_host_is_bracketed) {
  EXPECT_EQ(resolve_endpoint("5555", "::1"), "tcp://[::1]:5555");
  EXPECT_EQ(resolve_endpoint("5555", "[::1]"), "tcp://[::1]:5555");
}

TEST(endpoint, refuses_what_is_neither_port_nor_endpoint) {
  EXPECT_EQ(resolve_endpoint("abc", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("70000", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("65536", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("-1", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("55x", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint(" 5555", "127.0.0.1"), std::nullopt);
  EXPECT_EQ(resolve_endpoint("99999999999999999999", "127.0.0.1"), std::nullopt);
}

}  // namespace
