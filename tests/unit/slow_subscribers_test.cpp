// slow_subscribers: a subscriber that stops reading is cut once what was
// published since exceeds its bound; past the total, the one that stopped
// longest ago (then the one reading least) is cut; readers and idle
// subscribers are never cut, and each cut is reported once.
#include <gtest/gtest.h>

#include <map>

#include "bcast/broker/slow_subscribers.hpp"

namespace bcast::broker {
namespace {

using sample = slow_subscribers::sample;

// The samples each test hands out, by fd.
struct queues {
  std::map<int, sample> now;
  sample operator()(int fd) const { return now.at(fd); }
};

TEST(slow_subscribers, one_that_stops_reading_is_cut_past_its_bound_only) {
  slow_subscribers subs(1000, 1 << 30);
  queues q;
  subs.watch(3, 0);
  q.now[3] = {true, 10};
  EXPECT_TRUE(subs.judge(500, 0, std::cref(q)).empty());   // it read (10 acked)
  EXPECT_TRUE(subs.judge(1500, 0, std::cref(q)).empty());  // 1000 since: at the bound
  EXPECT_EQ(subs.behind(3, 1500), 1000U);
  EXPECT_EQ(subs.judge(1501, 0, std::cref(q)), std::vector<int>{3});  // one past it
  EXPECT_TRUE(subs.judge(9000, 0, std::cref(q)).empty()) << "cut once";
}

TEST(slow_subscribers, readers_and_idle_subscribers_are_never_cut) {
  slow_subscribers subs(1000, 1 << 30);
  queues q;
  subs.watch(4, 0);  // reads: its mark moves every time
  subs.watch(5, 0);  // idle: nothing waits for it
  for (std::uint64_t i = 1; i <= 20; ++i) {
    q.now[4] = {true, i * 7};
    q.now[5] = {false, 0};
    EXPECT_TRUE(subs.judge(i * 10000, 0, std::cref(q)).empty());
  }
  EXPECT_EQ(subs.behind(4, 200000), 0U);
}

TEST(slow_subscribers, over_the_total_the_one_stopped_longest_ago_is_cut_first) {
  slow_subscribers subs(1 << 30, 100);
  queues q;
  for (int fd : {6, 7, 8}) subs.watch(fd, 0);
  q.now = {{6, {true, 1}}, {7, {true, 1}}, {8, {true, 1}}};
  (void)subs.judge(10, 0, std::cref(q));
  q.now[6] = {true, 2};  // 6 and 8 still read at 20, 7 stopped at 10
  q.now[8] = {true, 2};
  EXPECT_TRUE(subs.judge(20, 100, std::cref(q)).empty()) << "within the total";
  EXPECT_EQ(subs.judge(30, 101, std::cref(q)), std::vector<int>{7});
  // Still over: of the two that progressed together, the one reading least.
  q.now[6] = {true, 50};
  q.now[8] = {true, 3};
  EXPECT_EQ(subs.judge(40, 500, std::cref(q)), std::vector<int>{8});
  EXPECT_EQ(subs.judge(50, 500, std::cref(q)), std::vector<int>{6});
  EXPECT_TRUE(subs.judge(60, 500, std::cref(q)).empty()) << "nobody left to cut";
}

TEST(slow_subscribers, a_forgotten_fd_watched_again_starts_afresh) {
  slow_subscribers subs(1000, 1 << 30);
  queues q;
  subs.watch(9, 0);
  q.now[9] = {true, 1};
  EXPECT_EQ(subs.judge(5000, 0, std::cref(q)).size(), 0U);  // its first sample is progress
  EXPECT_EQ(subs.judge(7000, 0, std::cref(q)).size(), 1U);
  subs.forget(9);
  EXPECT_EQ(subs.watched(), 0U);
  subs.watch(9, 7000);
  EXPECT_TRUE(subs.judge(7500, 0, std::cref(q)).empty());
}

}  // namespace
}  // namespace bcast::broker
