// The broker's session bookkeeping (broker/session_table.hpp): the table's
// indexes (name, routing id) stay consistent through
// open, rebind and close; silence is measured to the millisecond; sessions
// list oldest first. Also the two per-session helpers declared beside it:
// `recent_ids`, the bounded memory of acked request ids, and `rate_limiter`,
// the token bucket. Times are passed in, so nothing here waits.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
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
  EXPECT_EQ(table.by_name_and_token("alice", s.token), &s);
}

TEST(session_table, lookups_of_unknown_keys_find_nothing) {
  session_table table(0, 0, 0);
  EXPECT_EQ(table.by_name("alice"), nullptr);
  EXPECT_EQ(table.by_route("route-a"), nullptr);
  EXPECT_EQ(table.by_name_and_token("alice", ""), nullptr);
  const session& s = table.open("alice", "route-a", false, 1, 1);
  EXPECT_EQ(table.by_name("Alice"), nullptr);
  EXPECT_EQ(table.by_route("route-b"), nullptr);
  EXPECT_EQ(table.by_name_and_token("alice", s.token + "x"), nullptr);
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

// Issue 15 (token prediction): tokens were 2 x 64 bits of an mt19937_64
// seeded with 32 bits. They are 128 bits from getrandom(2), as 32 hex
// digits, and must look random: every bit position is set in about half of
// 4000 tokens (a bias of 10 % at any position fails), overall ones within
// 1 % of half, and no token repeats or shares its first 64 bits.
TEST(session_table, tokens_are_128_random_bits) {
  session_table table(0, 0, 0);
  constexpr int count = 4000;
  std::array<int, 128> ones{};
  std::set<std::string> seen;
  std::set<std::string> prefixes;
  for (int i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    const std::string token = table.open("u" + n, "r" + n, false, 1, 1).token;
    ASSERT_EQ(token.size(), 32U);
    ASSERT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
    seen.insert(token);
    prefixes.insert(token.substr(0, 16));
    for (std::size_t d = 0; d < 32; ++d) {
      const int digit = std::stoi(token.substr(d, 1), nullptr, 16);
      for (int b = 0; b < 4; ++b) ones[4 * d + b] += (digit >> b) & 1;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(count));
  EXPECT_EQ(prefixes.size(), static_cast<std::size_t>(count));
  long total = 0;
  for (std::size_t bit = 0; bit < ones.size(); ++bit) {
    total += ones[bit];
    EXPECT_GT(ones[bit], count * 4 / 10) << "bit " << bit;
    EXPECT_LT(ones[bit], count * 6 / 10) << "bit " << bit;
  }
  EXPECT_NEAR(static_cast<double>(total) / (128.0 * count), 0.5, 0.01);
}

TEST(session_table, secrets_equal_compares_whole_strings) {
  using bcast::broker::secrets_equal;
  EXPECT_TRUE(secrets_equal("", ""));
  EXPECT_TRUE(secrets_equal("abc", "abc"));
  EXPECT_FALSE(secrets_equal("abc", "abd"));
  EXPECT_FALSE(secrets_equal("abc", "xbc"));
  EXPECT_FALSE(secrets_equal("abc", "abcd"));
  EXPECT_FALSE(secrets_equal("abc", ""));
}

TEST(session_table, a_token_resumes_only_its_own_name) {
  session_table table(0, 0, 0);
  const std::string alice = table.open("alice", "ra", false, 1, 1).token;
  const std::string bob = table.open("bob", "rb", false, 1, 1).token;
  EXPECT_EQ(table.by_name_and_token("alice", bob), nullptr);
  EXPECT_EQ(table.by_name_and_token("bob", alice), nullptr);
  EXPECT_NE(table.by_name_and_token("bob", bob), nullptr);
}

// Issue 15 (name taken after a cut): a session that timed out keeps its name
// for the grace period, for its token only; then the name is free.
TEST(session_table, a_dormant_name_is_reserved_for_the_grace_period) {
  session_table table(0, 0, 0, 30000);
  const std::string token = table.open("alice", "ra", false, 1, 1000).token;
  EXPECT_EQ(table.reserved_ms("alice", 2000), 0U) << "a live name is not 'reserved', it is taken";
  table.close("alice", true, 5000);
  EXPECT_EQ(table.reserved_ms("alice", 5000), 30000U);
  EXPECT_EQ(table.reserved_ms("alice", 34999), 1U);
  EXPECT_EQ(table.reserved_ms("alice", 35000), 0U);
  EXPECT_EQ(table.reserved_ms("bob", 5000), 0U);
  ASSERT_NE(table.resume_dormant(token, "alice", "rb", false, 2, 6000), nullptr);
  EXPECT_EQ(table.reserved_ms("alice", 6000), 0U) << "resumed: live again";
  table.close("alice", false, 7000);
  EXPECT_EQ(table.reserved_ms("alice", 7000), 0U) << "bye frees the name at once";
}

// Issue 15 (the attack session: 4200 throwaway sessions pushed a victim's
// kept name out of the full dormant table within its grace period): a full
// table forgets a session whose name is no longer kept first, else the
// oldest of the address that holds the most.
TEST(session_table, a_full_dormant_table_evicts_the_busiest_address_first) {
  session_table table(0, 0, 0, 30000);
  session& victim = table.open("victim", "rv", false, 0, 0);
  victim.address = "10.0.0.1";
  const std::string token = victim.token;
  table.close("victim", true, 1000);
  for (int i = 0; i < 5000; ++i) {
    const std::string n = "t" + std::to_string(i);
    table.open(n, "r" + n, false, 0, 0).address = "10.6.6.6";
    table.close(n, true, 2000);
  }
  EXPECT_EQ(table.dormant_count(), 4096U);
  EXPECT_GT(table.reserved_ms("victim", 5000), 0U) << "the victim's name is still kept";
  EXPECT_NE(table.resume_dormant(token, "victim", "rv2", false, 0, 5000), nullptr);
}

TEST(session_table, a_full_dormant_table_evicts_names_no_longer_kept_first) {
  session_table table(0, 0, 0, 30000);
  table.open("old", "ro", false, 0, 0).address = "10.0.0.9";
  table.close("old", true, 0);  // kept until 30000
  for (int i = 0; i < 4095; ++i) {
    const std::string n = "t" + std::to_string(i);
    table.open(n, "r" + n, false, 0, 0).address = "10.0.0.9";
    table.close(n, true, 40000);
  }
  table.open("new", "rn", false, 0, 0).address = "10.0.0.9";
  table.close("new", true, 40000);
  EXPECT_EQ(table.dormant_count(), 4096U);
  EXPECT_EQ(table.reserved_ms("t0", 40000), 30000U) << "a kept name stayed";
}

// Found by the newcomer session: every name that ever sent a message was
// reserved for 30 s after each restart, even after its bye, and a client
// whose newer session had sent nothing could not resume. Restored sessions
// keep their acks and token, not their names.
TEST(session_table, restored_sessions_keep_their_acks_not_their_names_and_the_latest_token_wins) {
  session_table table(0, 0, 0, 30000);
  table.restore_ack("old-token", "alice", ack{1, "lobby", 1}, 100);
  table.restore_ack("new-token", "alice", ack{2, "lobby", 2}, 100);
  EXPECT_EQ(table.dormant_count(), 1U);
  EXPECT_EQ(table.reserved_ms("alice", 100), 0U);
  EXPECT_EQ(table.resume_dormant("old-token", "alice", "r1", false, 1, 200), nullptr);
  session* back = table.resume_dormant("new-token", "alice", "r1", false, 1, 200);
  ASSERT_NE(back, nullptr);
  EXPECT_NE(back->acked.find(2), nullptr);
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
  EXPECT_EQ(table.by_name_and_token("alice", token), &s);
  EXPECT_EQ(table.size(), 1U);
}

TEST(session_table, close_removes_all_three_indexes) {
  session_table table(0, 0, 0);
  const std::string token = table.open("alice", "route-a", false, 1, 1).token;
  session& bob = table.open("bob", "route-b", false, 2, 2);
  table.close("alice", false);
  EXPECT_EQ(table.by_name("alice"), nullptr);
  EXPECT_EQ(table.by_route("route-a"), nullptr);
  EXPECT_EQ(table.by_name_and_token("alice", token), nullptr);
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
  EXPECT_EQ(table.by_name_and_token("alice", first), nullptr);
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
