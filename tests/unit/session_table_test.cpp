// The broker's session bookkeeping (broker/session_table.hpp): the table's
// three indexes (name, routing id, resume token) stay consistent through
// open, rebind and close; silence is measured to the millisecond; sessions
// list oldest first. Also the two per-session helpers declared beside it:
// `recent_ids`, the bounded memory of acked request ids, and `rate_limiter`,
// the token bucket. Times are passed in, so nothing here waits.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "bcast/broker/log_limiter.hpp"
#include "bcast/broker/session_table.hpp"

namespace {

using bcast::broker::rate_limiter;
using bcast::broker::recent_ids;
using bcast::broker::session;
using bcast::broker::session_table;
using bcast::proto::event::ack;

// --- session_table -------------------------------------------------------

TEST(session_table, open_is_found_by_name_route_and_token) {
  session_table table(0, 0, 0);
  session& s = table.open("alice", "route-a", true, 1000, 50);
  EXPECT_EQ(s.name, "alice");
  EXPECT_EQ(s.routing_id, "route-a");
  EXPECT_TRUE(s.delimiter);
  EXPECT_EQ(s.since_ms, 1000U);
  EXPECT_EQ(s.last_seen_ms, 50U);
  EXPECT_FALSE(s.token.empty());
  EXPECT_EQ(table.size(), 1U);
  EXPECT_EQ(table.by_name("alice"), &s);
  EXPECT_EQ(table.by_route("route-a"), &s);
  EXPECT_EQ(table.by_token(s.token), &s);
}

TEST(session_table, lookups_of_unknown_keys_find_nothing) {
  session_table table(0, 0, 0);
  EXPECT_EQ(table.by_name("alice"), nullptr);
  EXPECT_EQ(table.by_route("route-a"), nullptr);
  EXPECT_EQ(table.by_token(""), nullptr);
  const session& s = table.open("alice", "route-a", false, 1, 1);
  EXPECT_EQ(table.by_name("Alice"), nullptr);
  EXPECT_EQ(table.by_route("route-b"), nullptr);
  EXPECT_EQ(table.by_token(s.token + "x"), nullptr);
  EXPECT_EQ(table.by_route("alice"), nullptr) << "names and routes are separate indexes";
}

TEST(session_table, tokens_are_unique) {
  session_table table(0, 0, 0);
  std::set<std::string> tokens;
  for (int i = 0; i < 200; ++i) {
    const std::string n = std::to_string(i);
    tokens.insert(table.open("user" + n, "route" + n, false, 1, 1).token);
  }
  EXPECT_EQ(tokens.size(), 200U);
  for (const auto& token : tokens) EXPECT_GE(token.size(), 16U) << "a resume token must be hard to guess";
}

TEST(session_table, rebind_moves_the_route_index) {
  session_table table(0, 0, 0);
  session& s = table.open("alice", "old", false, 1, 1);
  const std::string token = s.token;
  table.rebind(s, "new", true);
  EXPECT_EQ(table.by_route("old"), nullptr);
  EXPECT_EQ(table.by_route("new"), &s);
  EXPECT_EQ(s.routing_id, "new");
  EXPECT_TRUE(s.delimiter);
  EXPECT_EQ(table.by_name("alice"), &s);
  EXPECT_EQ(table.by_token(token), &s);
  EXPECT_EQ(table.size(), 1U);
}

TEST(session_table, close_removes_all_three_indexes) {
  session_table table(0, 0, 0);
  const std::string token = table.open("alice", "route-a", false, 1, 1).token;
  session& bob = table.open("bob", "route-b", false, 2, 2);
  table.close("alice", false);
  EXPECT_EQ(table.by_name("alice"), nullptr);
  EXPECT_EQ(table.by_route("route-a"), nullptr);
  EXPECT_EQ(table.by_token(token), nullptr);
  EXPECT_EQ(table.size(), 1U);
  EXPECT_EQ(table.by_name("bob"), &bob);
  EXPECT_EQ(table.by_route("route-b"), &bob);
  table.close("nobody", false);  // closing an unknown name is harmless
  EXPECT_EQ(table.size(), 1U);
}

TEST(session_table, close_after_rebind_frees_the_new_route) {
  session_table table(0, 0, 0);
  session& s = table.open("alice", "old", false, 1, 1);
  table.rebind(s, "new", false);
  table.close("alice", false);
  EXPECT_EQ(table.by_route("new"), nullptr);
  EXPECT_EQ(table.by_route("old"), nullptr);
  EXPECT_EQ(table.size(), 0U);
}

TEST(session_table, name_can_be_reused_after_close) {
  session_table table(0, 0, 0);
  const std::string first = table.open("alice", "route-a", false, 1, 1).token;
  table.close("alice", false);
  session& again = table.open("alice", "route-b", false, 5, 5);
  EXPECT_NE(again.token, first);
  EXPECT_EQ(table.by_token(first), nullptr);
  EXPECT_EQ(table.by_route("route-b"), &again);
}

TEST(session_table, silent_since_includes_exactly_max_silence) {
  session_table table(0, 0, 0);
  table.open("alice", "a", false, 1, 1000);
  EXPECT_TRUE(table.silent_since(3999, 3000).empty());
  EXPECT_EQ(table.silent_since(4000, 3000), std::vector<std::string>{"alice"});
  EXPECT_EQ(table.silent_since(9000, 3000), std::vector<std::string>{"alice"});
}

TEST(session_table, silent_since_follows_last_seen) {
  session_table table(0, 0, 0);
  session& alice = table.open("alice", "a", false, 1, 1000);
  table.open("bob", "b", false, 1, 1000);
  alice.last_seen_ms = 2500;
  EXPECT_EQ(table.silent_since(4000, 3000), std::vector<std::string>{"bob"});
  EXPECT_EQ(table.silent_since(5499, 3000), std::vector<std::string>{"bob"});
  auto both = table.silent_since(5500, 3000);
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, (std::vector<std::string>{"alice", "bob"}));
}

TEST(session_table, all_lists_oldest_first) {
  session_table table(0, 0, 0);
  table.open("mia", "1", false, 300, 1);
  table.open("zed", "2", false, 100, 1);
  table.open("amy", "3", false, 200, 1);
  table.open("bea", "4", false, 200, 1);  // same ms as amy: by name
  std::vector<std::string> names;
  for (const session* s : table.all()) names.push_back(s->name);
  EXPECT_EQ(names, (std::vector<std::string>{"zed", "amy", "bea", "mia"}));
}

TEST(session_table, a_closed_session_kept_dormant_resumes_with_its_token_and_acks) {
  session_table table(0, 0, 0);
  session& s = table.open("alice", "route-a", false, 1000, 50);
  const std::string token = s.token;
  s.acked.remember(ack{7, "lobby", 3});
  table.close("alice", true);
  EXPECT_EQ(table.size(), 0U);
  EXPECT_EQ(table.dormant_count(), 1U);
  EXPECT_EQ(table.resume_dormant(token, "mallory", "route-m", false, 2000, 60), nullptr);
  session* back = table.resume_dormant(token, "alice", "route-b", false, 2000, 60);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->token, token);
  ASSERT_NE(back->acked.find(7), nullptr);
  EXPECT_EQ(back->acked.find(7)->seq, 3U);
  EXPECT_EQ(table.by_route("route-b"), back);
  EXPECT_EQ(table.dormant_count(), 0U);
}

TEST(session_table, a_session_closed_for_good_is_not_kept) {
  session_table table(0, 0, 0);
  const std::string token = table.open("alice", "route-a", false, 1000, 50).token;
  table.close("alice", false);
  EXPECT_EQ(table.dormant_count(), 0U);
  EXPECT_EQ(table.resume_dormant(token, "alice", "route-b", false, 2000, 60), nullptr);
}

TEST(session_table, dormant_sessions_are_bounded_and_the_longest_dormant_goes_first) {
  session_table table(0, 0, 0);
  // alice goes dormant, comes back and goes dormant again many times: she is
  // then the most recent, not the oldest.
  std::string alice = table.open("alice", "route-a", false, 0, 0).token;
  for (int i = 0; i < 100; ++i) {
    table.close("alice", true);
    ASSERT_NE(table.resume_dormant(alice, "alice", "route-a", false, 0, 0), nullptr);
  }
  const std::string first = table.open("first", "route-f", false, 0, 0).token;
  table.close("first", true);
  table.close("alice", true);
  for (int i = 0; i < 4095; ++i) {
    const std::string name = "u" + std::to_string(i);
    table.open(name, "route-" + name, false, 0, 0);
    table.close(name, true);
  }
  EXPECT_EQ(table.dormant_count(), 4096U);
  EXPECT_EQ(table.resume_dormant(first, "first", "r1", false, 0, 0), nullptr)
      << "the longest dormant session was forgotten first";
  EXPECT_NE(table.resume_dormant(alice, "alice", "r2", false, 0, 0), nullptr)
      << "a session dormant more recently was forgotten before older ones";
}

// --- recent_ids ----------------------------------------------------------

TEST(session_recent_ids, remembers_acks) {
  recent_ids ids(4);
  EXPECT_EQ(ids.find(1), nullptr);
  ids.remember(ack{1, "lobby", 10});
  ids.remember(ack{2, std::nullopt, std::nullopt});
  ASSERT_NE(ids.find(1), nullptr);
  EXPECT_EQ(ids.find(1)->room, "lobby");
  EXPECT_EQ(ids.find(1)->seq, 10U);
  ASSERT_NE(ids.find(2), nullptr);
  EXPECT_FALSE(ids.find(2)->seq);
  EXPECT_EQ(ids.find(3), nullptr);
}

TEST(session_recent_ids, forgets_the_oldest_past_capacity) {
  recent_ids ids(3);
  for (std::uint64_t id = 1; id <= 3; ++id) ids.remember(ack{id, "lobby", id * 10});
  EXPECT_NE(ids.find(1), nullptr);
  ids.remember(ack{4, "lobby", 40});
  EXPECT_EQ(ids.find(1), nullptr);
  EXPECT_NE(ids.find(2), nullptr);
  EXPECT_NE(ids.find(3), nullptr);
  EXPECT_NE(ids.find(4), nullptr);
  ids.remember(ack{5, "lobby", 50});
  EXPECT_EQ(ids.find(2), nullptr);
  EXPECT_NE(ids.find(5), nullptr);
}

TEST(session_recent_ids, keeps_the_first_ack_for_an_id) {
  recent_ids ids(2);
  ids.remember(ack{1, "lobby", 10});
  ids.remember(ack{1, "lobby", 99});
  ASSERT_NE(ids.find(1), nullptr);
  EXPECT_EQ(ids.find(1)->seq, 10U);
  ids.remember(ack{2, "lobby", 20});  // the repeat took no slot
  EXPECT_NE(ids.find(1), nullptr);
  EXPECT_NE(ids.find(2), nullptr);
}

// --- rate_limiter --------------------------------------------------------

TEST(session_rate_limiter, rate_zero_always_allows) {
  rate_limiter limiter(0, 0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limiter.allow(1000));
}

TEST(session_rate_limiter, allows_the_burst_then_refuses) {
  rate_limiter limiter(10, 2);
  EXPECT_TRUE(limiter.allow(1000));
  EXPECT_TRUE(limiter.allow(1000));
  EXPECT_FALSE(limiter.allow(1000));
  EXPECT_FALSE(limiter.allow(1000));
}

TEST(session_rate_limiter, refills_as_time_passes) {
  rate_limiter limiter(10, 2);  // one token per 100 ms
  EXPECT_TRUE(limiter.allow(1000));
  EXPECT_TRUE(limiter.allow(1000));
  EXPECT_FALSE(limiter.allow(1050));
  EXPECT_TRUE(limiter.allow(1100));
  EXPECT_FALSE(limiter.allow(1100));
  // A long pause refills to the burst, never beyond it.
  EXPECT_TRUE(limiter.allow(60000));
  EXPECT_TRUE(limiter.allow(60000));
  EXPECT_FALSE(limiter.allow(60000));
}

}  // namespace

// --- log_limiter (broker/log_limiter.hpp) ---------------------------------

TEST(session_log_limiter, passes_a_few_lines_a_second_and_counts_the_rest) {
  bcast::broker::log_limiter limiter(2);
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(5000, suppressed));
  EXPECT_TRUE(limiter.allow(5100, suppressed));
  EXPECT_FALSE(limiter.allow(5200, suppressed));
  EXPECT_FALSE(limiter.allow(5900, suppressed));
  EXPECT_EQ(suppressed, 0U);
  EXPECT_TRUE(limiter.allow(6000, suppressed));
  EXPECT_EQ(suppressed, 2U);
}
