// Presence over real sockets: a silent session ends with `leave` reason
// timeout after `liveness` intervals (not sooner, at most one interval
// later), pings keep a session alive, and a session resumes from a new
// connection with its token without a leave/join pair.
#include <gtest/gtest.h>

#include "broker_fixture.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

namespace request = proto::request;
namespace event = proto::event;

TEST(presence, a_silent_session_times_out_within_liveness_plus_one_interval) {
  auto opts = test_options();
  opts.heartbeat_ms = 200;
  opts.liveness = 3;
  broker_fixture broker(opts);
  zmq::context_t context;
  raw_peer watcher(context, broker.in(), broker.out());
  ASSERT_TRUE(watcher.wait_subscribed());
  raw_peer quiet(context, broker.in(), broker.out());
  quiet.join("quiet");
  const auto join = watcher.expect_published<event::join>("sys/");
  const auto leave = watcher.expect_published<event::leave>("sys/");
  EXPECT_EQ(leave.name, "quiet");
  EXPECT_EQ(leave.reason, "timeout");
  // Both stamps come from the broker: join at the session's last traffic.
  // The join stamp is read a moment after the loop's clock (a few ms under
  // load). Expiry runs every quarter interval, so the upper bound, one full
  // interval, leaves 150 ms for a late-scheduled broker thread.
  constexpr std::uint64_t stamp_slack_ms = 10;
  const auto silence = leave.ts - join.ts;
  EXPECT_GE(silence + stamp_slack_ms, 3 * 200U);
  EXPECT_LE(silence, 4 * 200U);
}

TEST(presence, pings_keep_a_session_alive) {
  broker_fixture broker;  // 100 ms heartbeat, liveness 3: 300 ms of silence ends it
  zmq::context_t context;
  raw_peer watcher(context, broker.in(), broker.out());
  ASSERT_TRUE(watcher.wait_subscribed());
  raw_peer alive(context, broker.in(), broker.out());
  alive.join("alive");
  (void)watcher.expect_published<event::join>("sys/");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < until) {
    alive.send(request::ping{});
    (void)alive.expect<event::pong>();
    (void)watcher.publication(std::chrono::milliseconds(50));  // paces the pings
  }
  alive.send(request::who{});
  const auto who = alive.expect<event::who>();
  ASSERT_EQ(who.users.size(), 1U);
  EXPECT_EQ(who.users[0].name, "alive");
}

TEST(presence, a_session_resumes_from_a_new_connection_with_its_token) {
  auto opts = test_options();
  opts.liveness = 50;  // nothing times out during this test
  broker_fixture broker(opts);
  zmq::context_t context;
  raw_peer watcher(context, broker.in(), broker.out());
  ASSERT_TRUE(watcher.wait_subscribed());
  raw_peer first(context, broker.in(), broker.out());
  const auto welcome = first.join("alice");
  (void)watcher.expect_published<event::join>("sys/");

  raw_peer second(context, broker.in(), broker.out());
  second.send(request::hello{1, "alice", welcome.session, std::nullopt, {}});
  const auto resumed = second.expect<event::welcome>();
  EXPECT_EQ(resumed.session, welcome.session);
  EXPECT_EQ(resumed.sys_seq, welcome.sys_seq);  // no leave, no join
  second.send(request::msg{"back", "lobby", 1});
  EXPECT_EQ(second.expect<event::ack>().seq, 1U);
  const auto msg = watcher.expect_published<event::msg>("room/lobby/");
  EXPECT_EQ(msg.from, "alice");
  // The old connection is told (issue 15: a taken session is never silent)
  // and no longer speaks for alice.
  EXPECT_FALSE(first.expect_error("session-moved").id);
  first.send(request::ping{5});
  EXPECT_EQ(first.expect_error("no-session").id, 5U);
}

}  // namespace
}  // namespace bcast::test
