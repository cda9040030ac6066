// The byte accounting of replies in flight (broker/reply_queues.hpp): a
// message counts against its peer and the total until ZeroMQ frees it; a
// peer past its bound is cut once, then loses replies until it drained; over
// the total, only a peer over its share is cut. Messages are freed here by
// destroying them, as ZeroMQ does once it has written them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bcast/broker/reply_queues.hpp"

namespace {

using bcast::broker::reply_queues;
using verdict = reply_queues::verdict;

TEST(reply_queues, a_message_counts_until_it_is_freed) {
  reply_queues q(1000, 10000);
  {
    zmq::message_t m = q.message("a", std::string(300, 'x'));
    EXPECT_EQ(m.size(), 300U);
    EXPECT_EQ(std::string(m.data<char>(), 3), "xxx");
    EXPECT_EQ(q.queued("a"), 300U);
    EXPECT_EQ(q.total(), 300U);
    EXPECT_EQ(q.queued("b"), 0U);
  }
  EXPECT_EQ(q.queued("a"), 0U);
  EXPECT_EQ(q.total(), 0U);
}

TEST(reply_queues, a_peer_at_its_bound_passes_and_one_byte_past_it_is_cut_once) {
  reply_queues q(1000, 1000000);
  ASSERT_EQ(q.admit("a", 600), verdict::send);
  zmq::message_t first = q.message("a", std::string(600, 'x'));
  EXPECT_EQ(q.admit("a", 400), verdict::send) << "exactly at the bound";
  EXPECT_EQ(q.admit("a", 401), verdict::cut);
  EXPECT_EQ(q.admit("a", 1), verdict::drop) << "cut once, then dropped until drained";
  EXPECT_EQ(q.admit("b", 1000), verdict::send) << "another peer is not affected";
  first = zmq::message_t();  // ZeroMQ wrote it (or the connection closed)
  EXPECT_EQ(q.admit("a", 1), verdict::send) << "drained: served again";
}

TEST(reply_queues, over_the_total_only_a_peer_over_its_share_is_cut) {
  reply_queues q(2000, 1500);
  std::vector<zmq::message_t> held;
  held.push_back(q.message("hog", std::string(1000, 'x')));
  held.push_back(q.message("fair", std::string(100, 'x')));
  held.push_back(q.message("other", std::string(100, 'x')));
  // Total 1200 of 1500; three peers: a share is 500.
  EXPECT_EQ(q.admit("fair", 200), verdict::send);
  EXPECT_EQ(q.admit("fair", 400), verdict::drop) << "over the total, within its share";
  EXPECT_EQ(q.admit("hog", 1), verdict::send) << "within its own bound and the total";
  held.push_back(q.message("hog", std::string(250, 'x')));  // total 1450
  EXPECT_EQ(q.admit("hog", 100), verdict::cut) << "over the total and over its share (not its bound)";
}

TEST(reply_queues, sweep_forgets_only_peers_with_nothing_queued) {
  reply_queues q(1000, 10000);
  zmq::message_t kept = q.message("a", std::string(10, 'x'));
  { zmq::message_t gone = q.message("b", std::string(10, 'x')); }
  EXPECT_EQ(q.peers(), 2U);
  q.sweep();
  EXPECT_EQ(q.peers(), 1U);
  EXPECT_EQ(q.queued("a"), 10U);
}

TEST(reply_queues, a_message_may_outlive_the_table) {
  zmq::message_t survivor;
  {
    reply_queues q(1000, 10000);
    survivor = q.message("a", std::string(10, 'y'));
  }
  EXPECT_EQ(std::string(survivor.data<char>(), survivor.size()), std::string(10, 'y'));
}

}  // namespace
