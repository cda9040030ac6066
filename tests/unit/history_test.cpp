// Room history and sequencing, without sockets: `memory_history` keeps the
// last N encoded bodies of each room and serves them newest-`limit` or
// after-a-seq, oldest first, naming the oldest seq it still keeps; and
// `room_table` hands out gap-free seqs per room and for `sys`, enforces the
// room limit for new rooms only, and reports which rooms were active
// recently. Bodies here are plain strings: the store never looks inside.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "bcast/broker/memory_history.hpp"
#include "bcast/broker/room_table.hpp"

namespace {

using bcast::broker::history_slice;
using bcast::broker::memory_history;
using bcast::broker::room_table;
using bcast::broker::shared_body;
using bcast::proto::event::room_seq;

std::string body_of(std::string_view room, std::uint64_t seq) {
  return std::string(room) + "#" + std::to_string(seq);
}

// Appends seqs 1..count to `room`, each body naming its room and seq.
void fill(memory_history& h, std::string_view room, std::uint64_t count) {
  for (std::uint64_t seq = 1; seq <= count; ++seq) {
    h.append({room, seq, 0, shared_body(body_of(room, seq)), std::nullopt});
  }
}

// The seqs a slice holds, read back from the bodies fill() wrote.
std::vector<std::uint64_t> seqs(const history_slice& slice) {
  std::vector<std::uint64_t> out;
  for (const auto& body : slice.bodies) {
    out.push_back(std::stoull(std::string(body->substr(body->find('#') + 1))));
  }
  return out;
}

using seq_list = std::vector<std::uint64_t>;

constexpr std::size_t no_budget = std::size_t{1} << 40;

// --- memory_history ------------------------------------------------------

TEST(memory_history, keeps_the_last_n_per_room) {
  memory_history h(5, no_budget, 1);
  fill(h, "lobby", 12);
  const auto slice = h.read("lobby", std::nullopt, 100);
  EXPECT_EQ(seqs(slice), (seq_list{8, 9, 10, 11, 12}));
  EXPECT_EQ(slice.first, 8U);
}

TEST(memory_history, reports_its_epoch) { EXPECT_EQ(memory_history(5, no_budget, 77).epoch(), 77U); }

TEST(memory_history, read_without_after_returns_the_newest_limit) {
  memory_history h(100, no_budget, 1);
  fill(h, "lobby", 10);
  EXPECT_EQ(seqs(h.read("lobby", std::nullopt, 3)), (seq_list{8, 9, 10}));
  EXPECT_EQ(seqs(h.read("lobby", std::nullopt, 1)), (seq_list{10}));
  EXPECT_EQ(seqs(h.read("lobby", std::nullopt, 10)).size(), 10U);
  EXPECT_EQ(h.read("lobby", std::nullopt, 3).first, 1U) << "first is the oldest kept, not returned";
  EXPECT_TRUE(h.read("lobby", std::nullopt, 0).bodies.empty());
}

TEST(memory_history, read_after_returns_the_following_oldest_first) {
  memory_history h(100, no_budget, 1);
  fill(h, "lobby", 10);
  EXPECT_EQ(seqs(h.read("lobby", 4, 100)), (seq_list{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(seqs(h.read("lobby", 4, 2)), (seq_list{5, 6}));
  EXPECT_EQ(seqs(h.read("lobby", 0, 3)), (seq_list{1, 2, 3}));
  EXPECT_EQ(seqs(h.read("lobby", 9, 5)), (seq_list{10}));
}

TEST(memory_history, read_after_an_evicted_seq_starts_at_the_oldest_kept) {
  memory_history h(4, no_budget, 1);
  fill(h, "lobby", 10);  // keeps 7..10
  const auto slice = h.read("lobby", 2, 100);
  EXPECT_EQ(seqs(slice), (seq_list{7, 8, 9, 10}));
  EXPECT_EQ(slice.first, 7U);
  EXPECT_EQ(seqs(h.read("lobby", 6, 2)), (seq_list{7, 8}));
}

TEST(memory_history, read_after_the_newest_returns_none) {
  memory_history h(4, no_budget, 1);
  fill(h, "lobby", 10);
  const auto at_newest = h.read("lobby", 10, 100);
  EXPECT_TRUE(at_newest.bodies.empty());
  EXPECT_EQ(at_newest.first, 7U);
  EXPECT_TRUE(h.read("lobby", 11, 100).bodies.empty());
  EXPECT_TRUE(h.read("lobby", UINT64_MAX, 100).bodies.empty());
  EXPECT_TRUE(h.read("lobby", UINT64_MAX - 1, 1000).bodies.empty());
}

TEST(memory_history, unknown_room_has_nothing) {
  memory_history h(4, no_budget, 1);
  const auto slice = h.read("nowhere", std::nullopt, 10);
  EXPECT_TRUE(slice.bodies.empty());
  EXPECT_EQ(slice.first, 0U);
}

TEST(memory_history, rooms_are_independent) {
  memory_history h(3, no_budget, 1);
  fill(h, "lobby", 5);
  fill(h, "dev", 2);
  const auto lobby = h.read("lobby", std::nullopt, 10);
  const auto dev = h.read("dev", std::nullopt, 10);
  EXPECT_EQ(seqs(lobby), (seq_list{3, 4, 5}));
  EXPECT_EQ(seqs(dev), (seq_list{1, 2}));
  EXPECT_EQ(*dev.bodies.front(), "dev#1");
  EXPECT_EQ(dev.first, 1U);
  EXPECT_EQ(lobby.first, 3U);
}

TEST(memory_history, shares_the_bodies_it_was_given) {
  memory_history h(3, no_budget, 1);
  const shared_body body(std::string(100, 'b'));  // above ZeroMQ's inline size
  h.append({"lobby", 1, 0, body, std::nullopt});
  EXPECT_EQ(h.read("lobby", std::nullopt, 1).bodies.front()->data(), body->data()) << "no copy of the bytes";
}

TEST(memory_history, per_room_zero_keeps_nothing) {
  memory_history h(0, no_budget, 1);
  fill(h, "lobby", 5);
  const auto slice = h.read("lobby", std::nullopt, 10);
  EXPECT_TRUE(slice.bodies.empty());
  EXPECT_EQ(slice.first, 0U);
  EXPECT_TRUE(h.read("lobby", 0, 10).bodies.empty());
}

// --- room_table ----------------------------------------------------------

// A table of `live` rooms whose rooms never count as idle.
room_table table(std::size_t live, std::size_t retired = 100) {
  return room_table({live, 1'000'000'000, retired});
}

TEST(history_room_table, counts_seq_per_room_independently) {
  auto rooms = table(10);
  EXPECT_EQ(rooms.next_seq("lobby", 1), 1U);
  EXPECT_EQ(rooms.next_seq("lobby", 2), 2U);
  EXPECT_EQ(rooms.next_seq("dev", 3), 1U);
  EXPECT_EQ(rooms.next_seq("lobby", 4), 3U);
  EXPECT_EQ(rooms.next_seq("dev", 5), 2U);
  EXPECT_EQ(rooms.last_seq("lobby"), 3U);
  EXPECT_EQ(rooms.last_seq("dev"), 2U);
  EXPECT_EQ(rooms.last_seq("never"), 0U);
}

TEST(history_room_table, sys_seq_is_separate) {
  auto rooms = table(10);
  EXPECT_EQ(rooms.sys_seq(), 0U);
  EXPECT_EQ(rooms.next_sys_seq(), 1U);
  EXPECT_EQ(rooms.next_seq("lobby", 1), 1U);
  EXPECT_EQ(rooms.next_sys_seq(), 2U);
  EXPECT_EQ(rooms.sys_seq(), 2U);
  EXPECT_EQ(rooms.last_seq("lobby"), 1U);
  EXPECT_EQ(rooms.last_seq("sys"), 0U) << "a room called sys is not the sys stream";
}

TEST(history_room_table, room_limit_refuses_only_new_rooms) {
  auto rooms = table(2);
  EXPECT_EQ(rooms.next_seq("a", 1), 1U);
  EXPECT_EQ(rooms.next_seq("b", 1), 1U);
  EXPECT_EQ(rooms.next_seq("c", 1), std::nullopt);
  EXPECT_EQ(rooms.last_seq("c"), 0U);
  EXPECT_EQ(rooms.next_seq("a", 2), 2U);
  EXPECT_EQ(rooms.next_seq("b", 2), 2U);
  EXPECT_EQ(rooms.all().size(), 2U);
}

// Issue 15: "one session created 4096 rooms; from then on nobody can create
// a room, even after a restart". A full table makes a place: an idle room
// gives way first, else the quietest room of the address holding the most.
TEST(history_room_table, a_full_table_retires_an_idle_room_for_a_new_one) {
  room_table rooms({2, 1000, 100});
  EXPECT_EQ(rooms.next_seq("old", 0, true, "10.0.0.1"), 1U);
  EXPECT_EQ(rooms.next_seq("old", 10, true, "10.0.0.1"), 2U);
  EXPECT_EQ(rooms.next_seq("busy", 500, true, "10.0.0.2"), 1U);
  EXPECT_EQ(rooms.next_seq("new", 1009, true, "10.0.0.2"), std::nullopt) << "999 ms idle: not yet";
  EXPECT_EQ(rooms.next_seq("new", 1010, true, "10.0.0.2"), 1U) << "1000 ms idle: it gives way";
  EXPECT_EQ(rooms.all(), (std::vector<room_seq>{{"busy", 1}, {"new", 1}}));
  EXPECT_EQ(rooms.last_seq("old"), 2U) << "retired, its numbering kept";
  EXPECT_EQ(rooms.retired(), 1U);
}

TEST(history_room_table, a_retired_room_used_again_continues_its_numbering) {
  room_table rooms({1, 0, 100});
  EXPECT_EQ(rooms.next_seq("a", 1, true, "x"), 1U);
  EXPECT_EQ(rooms.next_seq("a", 2, true, "x"), 2U);
  EXPECT_EQ(rooms.next_seq("b", 3, true, "x"), 1U);  // a is retired
  EXPECT_EQ(rooms.next_seq("a", 4, true, "x"), 3U) << "never seq 1 again";
  EXPECT_EQ(rooms.last_seq("b"), 1U);
  EXPECT_EQ(rooms.live(), 1U);
}

// Finding (attack session): "after 65536 retired rooms a room used again
// started at seq 1 again (and the history file's writer stopped for good on
// the duplicate)". A retirement dropped from the bounded list leaves the
// room in a Bloom filter with the highest seq dropped: used again, it starts
// above it; a room never seen still starts at 1.
TEST(history_room_table, a_room_whose_retirement_was_dropped_never_reuses_a_seq) {
  room_table rooms({1, 0, 1});
  for (int i = 0; i < 50; ++i) (void)rooms.next_seq("a", 1, true, "x");  // a: 50
  (void)rooms.next_seq("b", 2, true, "x");                                // a retired
  (void)rooms.next_seq("b", 2, true, "x");                                // b: 2
  (void)rooms.next_seq("c", 3, true, "x");  // b retired; a's retirement dropped
  EXPECT_EQ(rooms.retired(), 1U);
  EXPECT_GE(rooms.last_seq("a"), 50U) << "a seq no lower than a's last";
  EXPECT_EQ(rooms.next_seq("a", 4, true, "x"), 51U) << "above every dropped seq";
  EXPECT_EQ(rooms.next_seq("never-seen", 5, true, "x"), 1U);
}

TEST(history_room_table, a_full_table_takes_from_the_address_holding_the_most) {
  auto rooms = table(4);
  for (int i = 0; i < 3; ++i) (void)rooms.next_seq("spam" + std::to_string(i), 10 + i, true, "6.6.6.6");
  (void)rooms.next_seq("lobby", 20, true, "1.1.1.1");
  // 6.6.6.6 holds 3 of 4: a host with none gets its quietest room's place.
  EXPECT_EQ(rooms.next_seq("dev", 30, true, "2.2.2.2"), 1U);
  EXPECT_EQ(rooms.last_seq("spam0"), 1U);
  EXPECT_EQ(rooms.all(), (std::vector<room_seq>{{"dev", 1}, {"lobby", 1}, {"spam1", 1}, {"spam2", 1}}));
  // Now 2/1/1: 1.1.1.1 would hold as many as 6.6.6.6 after taking: refused,
  // and so is 6.6.6.6, which holds the most.
  EXPECT_EQ(rooms.next_seq("more", 40, true, "6.6.6.6"), std::nullopt);
  EXPECT_EQ(rooms.next_seq("ops", 40, true, "1.1.1.1"), std::nullopt);
  EXPECT_EQ(rooms.next_seq("ops", 40, true, "3.3.3.3"), 1U) << "2 > 0 + 1: one more place";
}

TEST(history_room_table, restore_past_the_limit_retires_and_the_retired_count_is_bounded) {
  room_table rooms({2, 1'000'000'000, 2});
  rooms.restore({{"a", 5}, {"b", 6}, {"c", 7}, {"d", 8}, {"e", 9}}, 0);
  EXPECT_EQ(rooms.live(), 2U);
  EXPECT_EQ(rooms.retired(), 2U) << "the oldest retirement is dropped";
  EXPECT_EQ(rooms.last_seq("c"), 7U) << "dropped: the highest seq dropped stands for it";
  EXPECT_EQ(rooms.last_seq("e"), 9U);
  // Restored rooms belong to nobody: a new host's room takes one's place.
  EXPECT_EQ(rooms.next_seq("new", 1, true, "1.1.1.1"), 1U);
  EXPECT_EQ(rooms.next_seq("e", 2, true, "2.2.2.2"), std::nullopt) << "1 + 1 >= 1 left to nobody";
}

TEST(history_room_table, all_lists_rooms_by_name) {
  auto rooms = table(10);
  (void)rooms.next_seq("lobby", 1);
  (void)rooms.next_seq("dev", 1);
  (void)rooms.next_seq("dev", 1);
  EXPECT_EQ(rooms.all(), (std::vector<room_seq>{{"dev", 2}, {"lobby", 1}}));
  EXPECT_TRUE(table(10).all().empty());
}

TEST(history_room_table, active_since_filters_by_time) {
  auto rooms = table(10);
  (void)rooms.next_seq("old", 1000);
  (void)rooms.next_seq("mid", 5000);
  (void)rooms.next_seq("new", 9000);
  (void)rooms.next_seq("old", 2000);
  EXPECT_EQ(rooms.active_since(5000), (std::vector<room_seq>{{"mid", 1}, {"new", 1}}));
  EXPECT_EQ(rooms.active_since(5001), (std::vector<room_seq>{{"new", 1}}));
  EXPECT_EQ(rooms.active_since(2000),
            (std::vector<room_seq>{{"mid", 1}, {"new", 1}, {"old", 2}}));
  EXPECT_TRUE(rooms.active_since(9001).empty());
}

}  // namespace

TEST(memory_history, a_byte_budget_evicts_the_oldest_message_of_any_room) {
  // Bodies are "a#1" … (3 bytes) and "b#1" … (3 bytes): 12 bytes hold four.
  memory_history h(100, 12, 1);
  fill(h, "a", 3);
  h.append({"b", 1, 0, shared_body(body_of("b", 1)), std::nullopt});
  EXPECT_EQ(h.bytes(), 12U);
  h.append({"b", 2, 0, shared_body(body_of("b", 2)), std::nullopt});
  EXPECT_EQ(seqs(h.read("a", std::nullopt, 10)), (seq_list{2, 3}));
  EXPECT_EQ(h.read("a", std::nullopt, 10).first, 2U);
  h.append({"b", 3, 0, shared_body(body_of("b", 3)), std::nullopt});
  h.append({"b", 4, 0, shared_body(body_of("b", 4)), std::nullopt});
  EXPECT_TRUE(h.read("a", std::nullopt, 10).bodies.empty());
  EXPECT_EQ(seqs(h.read("b", std::nullopt, 10)), (seq_list{1, 2, 3, 4}));
  EXPECT_LE(h.bytes(), 12U);
}

TEST(memory_history, the_budget_and_the_per_room_cap_work_together) {
  memory_history h(2, 9, 1);
  fill(h, "a", 5);  // the cap keeps a#4, a#5 (6 bytes)
  fill(h, "b", 3);  // b#2 goes over the budget: a#4 leaves; b#3 pushes out b#1
  EXPECT_EQ(seqs(h.read("a", std::nullopt, 10)), (seq_list{5}));
  EXPECT_EQ(seqs(h.read("b", std::nullopt, 10)), (seq_list{2, 3}));
  EXPECT_EQ(h.bytes(), 9U);
}
