// Graceful shutdown over real sockets: one `shutdown` on sys/, then the
// loop ends (the CLI test checks the process exits 0).
#include <gtest/gtest.h>

#include "broker_fixture.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

TEST(shutdown, publishes_one_shutdown_notice_and_stops) {
  broker_fixture broker;
  zmq::context_t context;
  raw_peer watcher(context, broker.in(), broker.out());
  ASSERT_TRUE(watcher.wait_subscribed());
  raw_peer alice(context, broker.in(), broker.out());
  const auto welcome = alice.join("alice");
  (void)watcher.expect_published<proto::event::join>("sys/");
  broker.stop();
  const auto notice = watcher.expect_published<proto::event::shutdown>("sys/");
  EXPECT_EQ(notice.seq, welcome.sys_seq + 1);
  EXPECT_EQ(notice.reason, "shutdown");
  EXPECT_FALSE(watcher.publication(std::chrono::milliseconds(200)));
}

}  // namespace
}  // namespace bcast::test
