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

// `bytes` published in frames too large for the per-frame cost to matter.
slow_subscribers::position at(std::uint64_t bytes) { return {bytes, 0}; }

// The samples each test hands out, by fd.
struct queues {
  std::map<int, sample> now;
  sample operator()(int fd) const { return now.at(fd); }
};

TEST(slow_subscribers, one_that_stops_reading_is_cut_past_its_bound_only) {
  slow_subscribers subs(1000, 1 << 30, 10000);
  queues q;
  subs.watch(3, at(0));
  q.now[3] = {true, 10};
  EXPECT_TRUE(subs.judge(at(500), 0, std::cref(q)).empty());   // it read (10 acked)
  EXPECT_TRUE(subs.judge(at(1500), 0, std::cref(q)).empty());  // 1000 since: at the bound
  EXPECT_EQ(subs.behind(3, at(1500)), 1000U);
  EXPECT_EQ(subs.judge(at(1501), 0, std::cref(q)), std::vector<int>{3});  // one past it
  EXPECT_TRUE(subs.judge(at(9000), 0, std::cref(q)).empty()) << "cut once";
}

TEST(slow_subscribers, readers_and_idle_subscribers_are_never_cut) {
  slow_subscribers subs(1000, 1 << 30, 10000);
  queues q;
  subs.watch(4, at(0));  // reads: its mark moves every time
  subs.watch(5, at(0));  // idle: nothing waits for it
  for (std::uint64_t i = 1; i <= 20; ++i) {
    q.now[4] = {true, i * 7};
    q.now[5] = {false, 0};
    EXPECT_TRUE(subs.judge(at(i * 10000), 0, std::cref(q)).empty());
  }
  EXPECT_EQ(subs.behind(4, at(200000)), 0U);
}

TEST(slow_subscribers, over_the_total_the_one_stopped_longest_ago_is_cut_first) {
  slow_subscribers subs(1 << 30, 100, 10000);
  queues q;
  for (int fd : {6, 7, 8}) subs.watch(fd, at(0));
  q.now = {{6, {true, 1}}, {7, {true, 1}}, {8, {true, 1}}};
  (void)subs.judge(at(10), 0, std::cref(q));
  q.now[6] = {true, 2};  // 6 and 8 still read at 20, 7 stopped at 10
  q.now[8] = {true, 2};
  EXPECT_TRUE(subs.judge(at(20), 100, std::cref(q)).empty()) << "within the total";
  EXPECT_EQ(subs.judge(at(30), 101, std::cref(q)), std::vector<int>{7});
  // Still over: of the two that progressed together, the one reading least.
  q.now[6] = {true, 50};
  q.now[8] = {true, 3};
  EXPECT_EQ(subs.judge(at(40), 500, std::cref(q)), std::vector<int>{8});
  EXPECT_EQ(subs.judge(at(50), 500, std::cref(q)), std::vector<int>{6});
  EXPECT_TRUE(subs.judge(at(60), 500, std::cref(q)).empty()) << "nobody left to cut";
}

TEST(slow_subscribers, a_forgotten_fd_watched_again_starts_afresh) {
  slow_subscribers subs(1000, 1 << 30, 10000);
  queues q;
  subs.watch(9, at(0));
  q.now[9] = {true, 1};
  EXPECT_EQ(subs.judge(at(5000), 0, std::cref(q)).size(), 0U);  // its first sample is progress
  EXPECT_EQ(subs.judge(at(7000), 0, std::cref(q)).size(), 1U);
  subs.forget(9);
  EXPECT_EQ(subs.watched(), 0U);
  subs.watch(9, at(7000));
  EXPECT_TRUE(subs.judge(at(7500), 0, std::cref(q)).empty());
}

// Finding (attack session): "1000 stalled subscribers of one-byte messages
// took 937 MB and none was cut": each queued frame costs a subscriber ~128
// bytes whatever its size. Now that cost counts toward the total, and the
// subscribers that stopped first are cut until the estimate fits.
TEST(slow_subscribers, many_queues_of_tiny_frames_count_toward_the_total) {
  const std::uint64_t hwm = 10000;
  slow_subscribers subs(64 << 20, 4 * hwm * slow_subscribers::frame_overhead, hwm);
  queues q;
  for (int fd = 10; fd < 20; ++fd) {
    subs.watch(fd, {std::uint64_t(fd), std::uint64_t(fd)});  // each stopped a frame later
    q.now[fd] = {true, 0};
  }
  // 20000 one-byte frames later each queue is full: 10 x 800 KB, 4 fit.
  const auto cut = subs.judge({20000, 20000}, 20000, std::cref(q));
  EXPECT_EQ(cut, (std::vector<int>{10, 11, 12, 13, 14, 15, 16}))
      << "the seven that stopped first; three queues and the held bytes fit";
  EXPECT_EQ(subs.stopped(), 10U);
  EXPECT_TRUE(subs.judge({20000, 20000}, 20000, std::cref(q)).empty());
}

}  // namespace
}  // namespace bcast::broker
