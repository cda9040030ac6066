// The client's per-room ordering and gap repair, without sockets: each seq
// shown once and in order, gaps asked for from history, and only what
// history no longer keeps counted as lost.
#include <gtest/gtest.h>

#include <initializer_list>

#include "bcast/client/room_stream.hpp"

namespace bcast::client {
namespace {

proto::event::msg m(std::uint64_t seq) { return {1, seq, 0, "lobby", "a", std::to_string(seq)}; }

std::vector<std::uint64_t> seqs(const std::vector<delivery>& out) {
  std::vector<std::uint64_t> s;
  for (const auto& d : out) {
    if (const auto* msg = std::get_if<proto::event::msg>(&d)) s.push_back(msg->seq);
  }
  return s;
}

// A stream started at `start`, then fed the live messages `live` in order;
// `out` holds what it delivered.
struct fed_stream {
  fed_stream(std::uint64_t start, std::initializer_list<std::uint64_t> live) {
    r.start_at(start);
    for (const auto seq : live) r.on_live(m(seq), out);
  }
  room_stream r;
  std::vector<delivery> out;
};

TEST(room_stream, shows_consecutive_messages_at_once_and_drops_duplicates) {
  fed_stream s(4, {3, 5, 6, 6});  // 3 is from before we joined
  EXPECT_EQ(seqs(s.out), (std::vector<std::uint64_t>{5, 6}));
  EXPECT_FALSE(s.r.take_fill_request());
}

TEST(room_stream, holds_messages_after_a_gap_and_fills_it_from_history) {
  fed_stream s(0, {1, 4, 5});
  EXPECT_EQ(seqs(s.out), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(s.r.take_fill_request(), 1U);
  EXPECT_FALSE(s.r.take_fill_request());  // one request in flight at a time
  proto::event::history h{"lobby", {m(2), m(3), m(4)}, 1, 5, 1, std::nullopt};
  s.r.on_history(h, s.out);
  EXPECT_EQ(seqs(s.out), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.r.last(), 5U);
}

TEST(room_stream, an_announced_later_seq_opens_a_fill_with_no_message_in_sight) {
  room_stream r;
  r.start_at(7);
  r.on_announced(9);
  EXPECT_EQ(r.take_fill_request(), 7U);
}

TEST(room_stream, counts_as_lost_only_what_history_no_longer_keeps) {
  fed_stream s(2, {20});
  ASSERT_EQ(s.r.take_fill_request(), 2U);
  proto::event::history h{"lobby", {m(15), m(16), m(17), m(18), m(19)}, 15, 20, 1, std::nullopt};
  s.r.on_history(h, s.out);
  ASSERT_FALSE(s.out.empty());
  const auto* lost = std::get_if<lost_run>(&s.out.front());
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->first_seq, 3U);
  EXPECT_EQ(lost->count, 12U);
  EXPECT_EQ(seqs(s.out), (std::vector<std::uint64_t>{15, 16, 17, 18, 19, 20}));
}

TEST(room_stream, asks_again_when_one_history_answer_was_not_enough) {
  fed_stream s(0, {5});
  ASSERT_EQ(s.r.take_fill_request(), 0U);
  s.r.on_history({"lobby", {m(1), m(2)}, 1, 5, 1, std::nullopt}, s.out);  // limited answer
  EXPECT_EQ(seqs(s.out), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(s.r.take_fill_request(), 2U);
}

TEST(room_stream, holds_at_most_64_mib_after_a_gap_and_fills_the_rest_from_history) {
  room_stream r;
  r.start_at(0);
  std::vector<delivery> out;
  const std::string text(60000, 'x');  // 1500 of them after the gap at 1: 90 MB
  for (std::uint64_t seq = 2; seq <= 1501; ++seq) r.on_live({1, seq, 0, "lobby", "a", text}, out);
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(r.take_fill_request(), 0U);
  r.on_history({"lobby", {m(1)}, 1, 1501, 1, std::nullopt}, out);
  const auto shown = seqs(out);
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown.back(), shown.size()) << "in order, from 1";
  EXPECT_LE(shown.size(), 1 + max_held_bytes / 60000) << "more than 64 MiB held";
  EXPECT_GT(shown.size(), 1000U);
  ASSERT_EQ(r.take_fill_request(), shown.size()) << "the rest is asked for from history";
  // What was released is no longer counted: a new message is held again
  // and follows the rest once history brings it.
  r.on_live({1, 1502, 0, "lobby", "a", text}, out);
  proto::event::history rest{"lobby", {}, 1, 1502, 1, std::nullopt};
  for (std::uint64_t seq = shown.size() + 1; seq <= 1501; ++seq) rest.msgs.push_back({1, seq, 0, "lobby", "a", "x"});
  out.clear();
  r.on_history(rest, out);
  const auto after = seqs(out);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back(), 1502U) << "1502 was not held";
}

TEST(room_stream, a_timed_out_fill_is_asked_again) {
  room_stream r;
  r.start_at(0);
  r.on_announced(3);
  ASSERT_TRUE(r.take_fill_request());
  EXPECT_FALSE(r.take_fill_request());
  r.fill_timed_out();
  EXPECT_EQ(r.take_fill_request(), 0U);
}

TEST(room_stream, a_listener_starts_at_the_first_message_it_sees) {
  room_stream r;
  std::vector<delivery> out;
  r.on_live(m(41), out);
  EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{41}));
  EXPECT_FALSE(r.take_fill_request());
}

TEST(room_stream, reset_starts_over_at_seq_one) {
  room_stream r;
  r.start_at(100);
  std::vector<delivery> owed;
  r.reset(owed);
  EXPECT_TRUE(owed.empty()) << "nothing was missing";
  std::vector<delivery> out;
  r.on_live(m(1), out);
  EXPECT_EQ(seqs(out), (std::vector<std::uint64_t>{1}));
}

TEST(room_stream, reset_delivers_what_it_held_and_counts_the_rest_of_the_old_epoch_lost) {
  room_stream r;
  r.start_at(10);
  std::vector<delivery> out;
  r.on_live(m(13), out);  // 11 and 12 missing: held, a fill would be asked
  r.on_announced(15);     // the old epoch had 15 messages
  ASSERT_TRUE(out.empty());
  std::vector<delivery> owed;
  r.reset(owed);
  ASSERT_EQ(owed.size(), 3U);
  const auto* gap = std::get_if<lost_run>(&owed[0]);
  ASSERT_NE(gap, nullptr);
  EXPECT_EQ(gap->first_seq, 11U);
  EXPECT_EQ(gap->count, 2U);
  EXPECT_EQ(seqs(owed), (std::vector<std::uint64_t>{13}));
  const auto* tail = std::get_if<lost_run>(&owed[2]);
  ASSERT_NE(tail, nullptr);
  EXPECT_EQ(tail->first_seq, 14U);
  EXPECT_EQ(tail->count, 2U);
}

}  // namespace
}  // namespace bcast::client
