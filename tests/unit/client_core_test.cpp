// The client's protocol rules without sockets (PROTOCOL.md sections 9 and
// 10): the core is fed reply and publication bodies and a fake clock, and
// what it sends is read back from a fake DEALER that can refuse (no
// connection), as IMMEDIATE does.
#include <gtest/gtest.h>

#include <limits>

#include <string>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "client_core.hpp"

namespace bcast::client::detail {
namespace {

namespace event = proto::event;
namespace request = proto::request;

constexpr std::uint64_t hb = 1000;  // the welcome's heartbeat interval
constexpr std::uint64_t epoch1 = 111;
constexpr std::uint64_t epoch2 = 222;

// The DEALER: records what leaves; `up` false refuses every send.
struct fake_dealer {
  bool up = true;
  std::vector<proto::any_request> sent;

  client_core::sender sender() {
    return [this](std::string_view body) {
      if (!up) return false;
      sent.push_back(std::get<proto::any_request>(proto::decode_request(body)));
      return true;
    };
  }
  // The requests of type T sent since the last take(), oldest first; forgets all sent.
  template <class T>
  std::vector<T> take() {
    std::vector<T> out;
    for (auto& r : sent) {
      if (auto* t = std::get_if<T>(&r)) out.push_back(*t);
    }
    sent.clear();
    return out;
  }
};

options named(std::string name = "alice") {
  options o;
  o.in_endpoint = "tcp://127.0.0.1:1";
  o.out_endpoint = "tcp://127.0.0.1:2";
  o.name = std::move(name);
  return o;
}

event::welcome welcome(std::uint64_t epoch = epoch1, std::uint64_t lobby_seq = 0,
                       std::uint64_t ts = 5000, std::uint64_t sys_seq = 1) {
  return {1, "alice", "token-1", epoch, hb, 3, sys_seq, {{"lobby", lobby_seq}}, 4096, ts};
}

event::hb heartbeat(std::uint64_t ts, std::uint64_t sys_seq = 1) { return {epoch1, ts, sys_seq, {}, 1}; }

event::msg msg(std::uint64_t seq, std::string text = "x", std::string from = "bob",
               std::uint64_t epoch = epoch1) {
  return {epoch, seq, 0, "lobby", std::move(from), std::move(text)};
}

event::error error(std::string code, std::optional<std::uint64_t> id) {
  return {std::move(code), "because", id};
}

// A core with its DEALER and clock; `now` moves only when a test says so.
struct client {
  fake_dealer dealer;
  std::uint64_t now = 1'000'000;
  client_core core;

  explicit client(options o = named()) : core(std::move(o), dealer.sender(), now) { core.start(now); }

  void reply(const proto::any_event& e) { core.on_reply(proto::encode(e), now); }
  void publish(const proto::any_event& e) { core.on_publication(proto::encode(e), now); }
  void advance(std::uint64_t ms) {
    now += ms;
    core.on_tick(now);
  }
  // Says hello and takes the welcome, forgetting what was sent and shown.
  void join(const event::welcome& w = welcome()) {
    reply(w);
    dealer.sent.clear();
    events();
  }
  // Sends message "1" and has the broker refuse it as rate-limited,
  // forgetting what was sent; returns its id.
  std::uint64_t send_one_rate_limited() {
    const auto id = core.send("1", "", now);
    dealer.sent.clear();
    reply(error("rate-limited", id));
    return id;
  }
  std::vector<client_event> events() {
    std::vector<client_event> out;
    while (auto e = core.next_event()) out.push_back(std::move(*e));
    return out;
  }
  std::vector<status> statuses() {
    std::vector<status> out;
    for (auto& e : events()) {
      if (auto* s = std::get_if<status_event>(&e)) out.push_back(s->what);
    }
    return out;
  }
};

std::vector<std::uint64_t> ids(const std::vector<request::msg>& sent) {
  std::vector<std::uint64_t> out;
  for (const auto& m : sent) out.push_back(m.id.value_or(0));
  return out;
}

TEST(client_core, says_hello_until_welcomed_then_joins) {
  client c;
  auto hellos = c.dealer.take<request::hello>();
  ASSERT_EQ(hellos.size(), 1U);
  EXPECT_EQ(hellos[0].name, "alice");
  EXPECT_EQ(hellos[0].rooms, std::vector<std::string>{"lobby"});
  EXPECT_EQ(c.core.state(), link_state::connecting);
  c.advance(hb);
  EXPECT_EQ(c.dealer.take<request::hello>().size(), 1U) << "hello repeated every interval";
  c.reply(welcome());
  EXPECT_EQ(c.core.state(), link_state::joined);
  EXPECT_EQ(c.statuses(), std::vector<status>{status::joined});
}

TEST(client_core, a_refused_hello_is_said_when_the_dealer_can_write) {
  client_core::sender refuse = [](std::string_view) { return false; };
  client_core core(named(), refuse, 0);
  core.start(0);
  EXPECT_TRUE(core.wants_write());
}

TEST(client_core, pings_when_idle_and_reports_a_silent_broker_as_lost) {
  client c;
  c.core.on_link(socket_side::out, link_event::handshake_succeeded, c.now);  // the SUB works
  c.join();
  c.advance(hb);
  EXPECT_EQ(c.dealer.take<request::ping>().size(), 1U);
  c.advance(hb);
  c.advance(hb - 1);
  EXPECT_EQ(c.core.state(), link_state::joined);
  c.advance(1);  // liveness × hb_ivl without a word
  EXPECT_EQ(c.core.state(), link_state::lost);
  EXPECT_EQ(c.statuses(), std::vector<status>{status::connection_lost});
  c.dealer.sent.clear();
  c.advance(hb);
  auto hellos = c.dealer.take<request::hello>();
  ASSERT_EQ(hellos.size(), 1U) << "hello again until the broker answers";
  EXPECT_EQ(hellos[0].session, "token-1");
}

TEST(client_core, reconnect_resumes_the_session_and_resends_unacked_messages_with_their_ids) {
  client c;
  c.join();
  const std::uint64_t id = c.core.send("hello", "", c.now);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{id});
  for (int i = 0; i < 3; ++i) c.advance(hb);  // the broker went silent
  EXPECT_EQ(c.core.state(), link_state::lost);
  c.dealer.sent.clear();
  c.advance(hb);
  EXPECT_EQ(c.dealer.take<request::hello>().at(0).session, "token-1");
  c.events();
  c.reply(welcome());
  EXPECT_EQ(c.core.state(), link_state::joined);
  EXPECT_EQ(c.statuses(), std::vector<status>{status::reconnected});
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{id}) << "same id: de-duplicated";
  c.reply(event::ack{id, "lobby", 1});
  EXPECT_EQ(c.core.unacked(), 0U);
}

// Publications that arrive while no welcome is in sight are kept for it, but
// only up to 64 MiB of texts: a broker that publishes and never welcomes
// cannot take the client's memory. What did not fit is filled from history.
TEST(client_core, publications_kept_until_the_welcome_are_bounded_in_bytes_and_the_rest_filled) {
  client c;
  c.join(welcome(epoch1, 0, 5000));
  for (int i = 0; i < 3; ++i) c.advance(hb);  // the broker went silent
  ASSERT_EQ(c.core.state(), link_state::lost);
  const std::string text(proto::largest_max_text, 'x');  // 1200 of them: 72 MB
  for (std::uint64_t seq = 1; seq <= 1200; ++seq) c.publish(msg(seq, text));
  c.dealer.sent.clear();
  c.events();
  c.reply(welcome(epoch1, 1200, 9000));
  c.publish(heartbeat(9000));  // the SUB has caught up with the welcome
  std::uint64_t shown = 0;
  for (const auto& e : c.events()) shown += std::holds_alternative<message_event>(e) ? 1 : 0;
  EXPECT_GT(shown, 1000U);
  EXPECT_LE(shown, (std::size_t{64} << 20) / proto::largest_max_text) << "more than 64 MiB of texts kept";
  const auto asked = c.dealer.take<request::history>();
  ASSERT_EQ(asked.size(), 1U);
  EXPECT_EQ(asked[0].after, shown) << "the rest is asked for from history";
}

// Every kind of publication kept for the welcome is counted, not only
// messages: heartbeats with large room maps are bounded too, and what the
// client would ignore (a `who` on the SUB) is not kept at all.
TEST(client_core, publications_kept_until_the_welcome_count_every_kind_and_keep_nothing_ignored) {
  client c;
  c.join(welcome(epoch1, 0, 5000));
  for (int i = 0; i < 3; ++i) c.advance(hb);  // the broker went silent
  ASSERT_EQ(c.core.state(), link_state::lost);
  c.publish(event::who{{{"x", 1}}, std::nullopt});
  EXPECT_EQ(c.core.kept_for_welcome_bytes(), 0U) << "a who is never published: not kept";
  event::hb big{epoch1, 6000, 1, {}, 1};
  for (int r = 0; r < 2000; ++r) big.rooms.push_back({"room-" + std::to_string(r) + std::string(24, 'r'), 1});
  for (int i = 0; i < 600; ++i) c.publish(big);  // 2000 rooms × 62 bytes each: 74 MB in all
  EXPECT_GT(c.core.kept_for_welcome_bytes(), std::size_t{60} << 20);
  EXPECT_LE(c.core.kept_for_welcome_bytes(), std::size_t{64} << 20);
  c.reply(welcome(epoch1, 0, 9000));
  EXPECT_EQ(c.core.kept_for_welcome_bytes(), 0U);
  EXPECT_EQ(c.core.state(), link_state::joined);
}

// Joins, shows seq 1 and holds a forged seq 2^64 - 1 that history will never
// bring; returns the one fill that opens (after 1).
request::history fill_for_a_seq_history_never_brings(client& c) {
  c.join();
  c.publish(msg(1));
  c.publish(msg(std::numeric_limits<std::uint64_t>::max()));
  auto asked = c.dealer.take<request::history>();
  EXPECT_EQ(asked.size(), 1U);
  EXPECT_EQ(asked.at(0).after, 1U);
  return asked.at(0);
}

// A pause for an answer that moved nothing belongs to its epoch: the new
// epoch's first gap is asked for at once.
TEST(client_core, a_new_epoch_ends_a_fill_pause) {
  client c;
  const auto fill = fill_for_a_seq_history_never_brings(c);
  c.reply(event::history{"lobby", {}, 1, 1, epoch1, fill.id});  // moves nothing: paused
  c.publish(msg(1, "new", "bob", epoch2));  // the broker restarted with a new epoch
  c.reply(welcome(epoch2, 0));
  c.dealer.sent.clear();
  c.publish(msg(3, "x", "bob", epoch2));  // 2 is missing
  const auto asked = c.dealer.take<request::history>();
  ASSERT_EQ(asked.size(), 1U) << "the old epoch's pause held the new epoch's fill back";
  EXPECT_EQ(asked[0].after, 1U);
}

// PROTOCOL 10.2: an answer that moves nothing (a seq announced that history
// does not keep, such as a hostile publication at 2^64 - 1) is asked again
// once per heartbeat interval, not at once and without end.
TEST(client_core, a_fill_answer_that_moves_nothing_is_asked_again_after_a_heartbeat_interval) {
  client c;
  std::vector<request::history> asked{fill_for_a_seq_history_never_brings(c)};
  for (int answer = 0; answer < 3; ++answer) {
    c.reply(event::history{"lobby", {}, 1, 1, epoch1, asked[0].id});
    EXPECT_TRUE(c.dealer.take<request::history>().empty()) << "asked again at once, answer " << answer;
    c.advance(hb - 1);
    EXPECT_TRUE(c.dealer.take<request::history>().empty()) << "asked again too soon, answer " << answer;
    c.advance(1);
    asked = c.dealer.take<request::history>();
    ASSERT_EQ(asked.size(), 1U) << "not asked again after the pause, answer " << answer;
  }
  c.reply(event::history{"lobby", {msg(2)}, 2, 2, epoch1, asked[0].id});  // an answer that moves on
  EXPECT_EQ(c.dealer.take<request::history>().size(), 1U) << "asked again at once";
}

// PROTOCOL 10.1 step 5: after a stall the SUB holds what was published
// before the resume's welcome; a fill opened at once would find a history
// past it and report real messages as lost.
TEST(client_core, a_resume_waits_for_the_sub_to_catch_up_before_filling_from_its_welcome) {
  client c;
  c.join(welcome(epoch1, 0, 5000));
  c.publish(msg(1));
  for (int i = 0; i < 3; ++i) c.advance(hb);  // stalled: the broker seems silent
  ASSERT_EQ(c.core.state(), link_state::lost);
  c.reply(welcome(epoch1, 1300, 9000));
  c.dealer.sent.clear();
  c.events();
  c.publish(heartbeat(8000));  // queued before the welcome
  EXPECT_TRUE(c.dealer.take<request::history>().empty()) << "no fill while the queue is read";
  for (std::uint64_t seq = 2; seq <= 1300; ++seq) c.publish(msg(seq));
  c.publish(heartbeat(9000));  // the SUB has caught up
  EXPECT_TRUE(c.dealer.take<request::history>().empty()) << "nothing is missing";
  std::size_t shown = 0;
  for (const auto& e : c.events()) {
    EXPECT_FALSE(std::holds_alternative<lost_event>(e)) << "a queued message reported as lost";
    shown += std::holds_alternative<message_event>(e) ? 1 : 0;
  }
  EXPECT_EQ(shown, 1299U);
}

TEST(client_core, a_resume_fills_from_its_welcome_once_the_sub_catches_up_or_after_the_silence_limit) {
  client c;
  c.join(welcome(epoch1, 0, 5000));
  for (int i = 0; i < 3; ++i) c.advance(hb);
  c.reply(welcome(epoch1, 7, 9000));
  c.dealer.sent.clear();
  c.publish(heartbeat(9001));
  auto fills = c.dealer.take<request::history>();
  ASSERT_EQ(fills.size(), 1U) << "the welcome's 7 messages were not on the SUB: fill them";
  EXPECT_EQ(fills[0].after, 0U);

  client d;
  d.join(welcome(epoch1, 0, 5000));
  for (int i = 0; i < 3; ++i) d.advance(hb);
  d.reply(welcome(epoch1, 7, 9000));
  d.dealer.sent.clear();
  for (int i = 0; i < 2; ++i) {
    d.advance(hb);
    d.publish(heartbeat(4000));  // the broker's clock stepped back
  }
  EXPECT_TRUE(d.dealer.take<request::history>().empty());
  d.advance(hb);  // liveness × hb_ivl after the welcome
  EXPECT_EQ(d.dealer.take<request::history>().size(), 1U);
}

TEST(client_core, its_own_leave_after_the_welcome_means_the_session_ended_and_it_rejoins) {
  client c;
  c.join(welcome(epoch1, 0, 5000, 10));
  c.publish(event::leave{epoch1, 9, 0, "alice", "timeout"});  // from before the welcome
  EXPECT_TRUE(c.dealer.take<request::hello>().empty());
  c.publish(event::leave{epoch1, 11, 0, "alice", "timeout"});
  const auto hellos = c.dealer.take<request::hello>();
  ASSERT_EQ(hellos.size(), 1U);
  EXPECT_EQ(hellos[0].session, "token-1");
  EXPECT_EQ(c.core.state(), link_state::rejoining);
}

TEST(client_core, its_own_bye_is_not_taken_for_a_lost_session) {
  client c;
  c.join(welcome(epoch1, 0, 5000, 10));
  c.core.leave(c.now);
  c.publish(event::leave{epoch1, 11, 0, "alice", "bye"});
  EXPECT_TRUE(c.dealer.take<request::hello>().empty());
}

TEST(client_core, a_resumed_crash_session_says_its_token_in_the_first_hello) {
  options o = named();
  o.resume_session = "saved";
  o.first_id = 2048;
  client c(o);
  EXPECT_EQ(c.dealer.take<request::hello>().at(0).session, "saved");
  c.join();
  EXPECT_EQ(c.core.send("x", "", c.now), 2048U);
}

TEST(client_core, an_epoch_change_reports_what_the_old_epoch_owed_and_refills_from_zero) {
  client c;
  c.join();
  c.publish(msg(1));
  c.publish(msg(2));
  c.publish(event::hb{epoch1, 0, 1, {{"lobby", 5}}, 1});  // 3..5 announced, never delivered
  c.events();
  c.dealer.sent.clear();
  c.publish(msg(1, "new", "bob", epoch2));  // the broker restarted with a new epoch
  EXPECT_EQ(c.core.state(), link_state::rejoining);
  EXPECT_EQ(c.dealer.take<request::hello>().size(), 1U);
  c.reply(welcome(epoch2, 1));
  auto shown = c.events();
  ASSERT_GE(shown.size(), 4U);
  const auto* lost = std::get_if<lost_event>(&shown[0]);
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->first_seq, 3U);
  EXPECT_EQ(lost->count, 3U);
  EXPECT_EQ(std::get<status_event>(shown[1]).what, status::epoch_reset);
  EXPECT_EQ(std::get<status_event>(shown[2]).what, status::reconnected);
  EXPECT_EQ(std::get<message_event>(shown[3]).text, "new") << "the stash is replayed in the new epoch";
  EXPECT_EQ(c.core.epoch(), epoch2);
}

TEST(client_core, a_history_answer_of_another_epoch_is_asked_again) {
  client c;
  c.join();
  c.publish(msg(2));  // 1 is missing: a fill from 0
  auto fills = c.dealer.take<request::history>();
  ASSERT_EQ(fills.size(), 1U);
  EXPECT_EQ(fills[0].after, 0U);
  c.reply(event::history{"lobby", {}, 1, 2, epoch2, fills[0].id});
  EXPECT_EQ(c.dealer.take<request::history>().size(), 1U);
  c.events();
  c.reply(event::history{"lobby", {msg(1)}, 1, 2, epoch1, std::nullopt});  // not ours: dropped
  EXPECT_TRUE(c.events().empty());
}

TEST(client_core, our_own_publication_acks_the_one_pending_message_it_can_be) {
  client c;
  c.join();
  const std::uint64_t id = c.core.send("hi", "", c.now);
  c.publish(msg(1, "hi", "alice"));
  auto shown = c.events();
  ASSERT_EQ(shown.size(), 2U);
  EXPECT_EQ(std::get<ack_event>(shown[0]).id, id);
  EXPECT_EQ(std::get<ack_event>(shown[0]).seq, 1U);
  EXPECT_EQ(std::get<message_event>(shown[1]).text, "hi");
  EXPECT_EQ(c.core.unacked(), 0U);
  c.reply(event::ack{id, "lobby", 1});  // the broker's own ack, later: a duplicate
  EXPECT_TRUE(c.events().empty());
}

TEST(client_core, two_pending_messages_alike_wait_for_the_brokers_ack) {
  client c;
  c.join();
  c.core.send("same", "", c.now);
  c.core.send("same", "", c.now);
  c.publish(msg(1, "same", "alice"));
  EXPECT_EQ(c.core.unacked(), 2U);
  c.publish(msg(2, "other", "alice"));  // no pending message is this one
  EXPECT_EQ(c.core.unacked(), 2U);
}

// Found by attack: ack 1 came before its publication, and message 2 (same
// text) was refused as rate-limited; the late publication of 1 must not
// count as 2's ack, or 2 is never retried and silently lost.
TEST(client_core, a_late_publication_of_an_acked_message_is_not_the_ack_of_a_later_one) {
  client c;
  c.join();
  const std::uint64_t first = c.core.send("ok", "", c.now);
  c.reply(event::ack{first, "lobby", 1});
  const std::uint64_t second = c.core.send("ok", "", c.now);
  c.reply(error("rate-limited", second));
  c.publish(msg(1, "ok", "alice"));
  EXPECT_EQ(c.core.unacked(), 1U) << "message 2 is still to be carried out";
  c.dealer.sent.clear();
  c.advance(hb);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{second}) << "and is retried";
}

TEST(client_core, no_session_rejoins_but_a_stale_one_from_before_the_welcome_does_not) {
  client c;
  c.join();
  c.advance(hb);
  const auto old_ping = c.dealer.take<request::ping>().at(0).id;
  c.reply(error("no-session", old_ping));
  EXPECT_EQ(c.core.state(), link_state::rejoining);
  EXPECT_EQ(c.dealer.take<request::hello>().at(0).session, "token-1");
  c.reply(welcome());
  EXPECT_EQ(c.core.state(), link_state::joined);
  EXPECT_TRUE(c.statuses().empty()) << "a rejoin in the same epoch is not a reconnect";
  c.dealer.sent.clear();
  c.reply(error("no-session", old_ping));  // a late answer to the old session's ping
  EXPECT_EQ(c.core.state(), link_state::joined);
  EXPECT_TRUE(c.dealer.take<request::hello>().empty());
  c.advance(hb);
  const auto new_ping = c.dealer.take<request::ping>().at(0).id;
  c.reply(error("no-session", new_ping));
  EXPECT_EQ(c.core.state(), link_state::rejoining);
}

TEST(client_core, keeps_at_most_the_window_in_flight_and_the_rest_waits_in_order) {
  client c;
  c.join();
  for (std::size_t i = 0; i < max_in_flight + 10; ++i) c.core.send("m" + std::to_string(i), "", c.now);
  auto sent = c.dealer.take<request::msg>();
  ASSERT_EQ(sent.size(), max_in_flight);
  EXPECT_EQ(sent.back().id, max_in_flight);
  EXPECT_FALSE(c.core.wants_write()) << "the window is full";
  c.reply(event::ack{1, "lobby", 1});
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{max_in_flight + 1});
  c.advance(2 * hb);  // unacked for two intervals: the window is sent again, no more
  EXPECT_EQ(c.dealer.take<request::msg>().size(), max_in_flight);
}

TEST(client_core, messages_wait_while_the_dealer_cannot_send) {
  client c;
  c.join();
  c.dealer.up = false;
  c.core.send("a", "", c.now);
  c.core.send("b", "", c.now);
  EXPECT_TRUE(c.core.wants_write());
  c.dealer.up = true;
  c.core.on_writable(c.now);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_FALSE(c.core.wants_write());
}

TEST(client_core, a_room_backlog_is_asked_for_after_the_welcome) {
  options o = named();
  o.backlog = 5;
  client c(o);
  c.reply(welcome(epoch1, 9));
  auto asks = c.dealer.take<request::history>();
  ASSERT_EQ(asks.size(), 1U);
  EXPECT_EQ(asks[0].limit, 5U);
  EXPECT_FALSE(asks[0].after);
  c.events();
  c.reply(event::history{"lobby", {msg(8), msg(9)}, 1, 9, epoch1, asks[0].id});
  auto shown = c.events();
  ASSERT_EQ(shown.size(), 2U);
  EXPECT_EQ(std::get<message_event>(shown[1]).seq, 9U);
}

TEST(client_core, a_rate_limited_message_keeps_the_later_ones_behind_it) {
  client c;
  c.join();
  const auto first = c.send_one_rate_limited();
  EXPECT_EQ(c.statuses(), std::vector<status>{status::rate_limited});
  c.core.send("2", "", c.now);
  c.core.send("3", "", c.now);
  EXPECT_TRUE(c.dealer.take<request::msg>().empty()) << "held behind the refused one";
  EXPECT_FALSE(c.core.wants_write());
  c.advance(hb / 2);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{first}) << "retried alone";
  c.reply(error("rate-limited", first));  // still too fast: said once per burst
  EXPECT_TRUE(c.statuses().empty());
  c.advance(hb / 2);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{first});
  c.reply(event::ack{first, "lobby", 1});
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), (std::vector<std::uint64_t>{2, 3})) << "in order, after it";
  c.reply(event::ack{2, "lobby", 2});
  EXPECT_EQ(c.statuses(), std::vector<status>{});
  c.reply(event::ack{3, "lobby", 3});
  EXPECT_EQ(c.statuses(), std::vector<status>{status::sending_again});
}

// The recheck: a fixed half-heartbeat pause held --rate 100 --burst 1 to
// 2 msgs/s. The pause starts at 10 ms, doubles while refused, and an ack
// starts it over; the core wakes for it.
TEST(client_core, a_rate_limited_retry_waits_10_ms_then_twice_as_long_each_time) {
  client c;
  c.join();
  const auto first = c.send_one_rate_limited();
  EXPECT_EQ(c.core.tick_ms(), 10U);
  c.advance(9);
  EXPECT_TRUE(c.dealer.take<request::msg>().empty());
  c.advance(1);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{first});
  c.reply(error("rate-limited", first));
  c.advance(19);
  EXPECT_TRUE(c.dealer.take<request::msg>().empty()) << "20 ms after a second refusal";
  c.advance(1);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{first});
  for (int i = 0; i < 10; ++i) {  // at most half a heartbeat apart
    c.reply(error("rate-limited", first));
    c.advance(hb / 2);
    EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{first});
  }
  c.reply(event::ack{first, "lobby", 1});
  const auto second = c.core.send("2", "", c.now);
  c.dealer.sent.clear();
  c.reply(error("rate-limited", second));
  c.advance(10);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{second}) << "10 ms again";
}

// The recheck: a welcome with hb_ivl 2^63 made liveness × hb_ivl wrap, and
// the client never said hello again; 0 made it flap. Both are clamped.
TEST(client_core, a_welcome_with_absurd_heartbeats_is_held_to_the_protocols_range) {
  client c;
  auto w = welcome();
  w.hb_ivl = std::uint64_t{1} << 63;
  w.liveness = std::numeric_limits<std::uint64_t>::max();
  c.join(w);
  c.advance(60000);
  EXPECT_EQ(c.core.state(), link_state::joined);
  c.advance(60000ULL * 100);  // the longest silence the range allows
  EXPECT_EQ(c.core.state(), link_state::lost);
  c.events();
  c.dealer.sent.clear();
  c.advance(60000);
  EXPECT_EQ(c.dealer.take<request::hello>().size(), 1U) << "hello again";
  client quick;
  w.hb_ivl = 0;
  w.liveness = 0;
  quick.join(w);
  EXPECT_EQ(quick.core.tick_ms(), 10U);
  quick.advance(9);
  EXPECT_EQ(quick.core.state(), link_state::joined) << "liveness 1 × hb_ivl 10 ms, not 0";
}

TEST(client_core, refused_messages_already_on_the_wire_are_retried_one_after_another) {
  client c;
  c.join();
  for (int i = 1; i <= 3; ++i) c.core.send(std::to_string(i), "", c.now);
  c.dealer.sent.clear();
  for (std::uint64_t id = 1; id <= 3; ++id) c.reply(error("rate-limited", id));
  c.advance(hb / 2);
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{1});
  c.reply(event::ack{1, "lobby", 1});
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{2});
  c.reply(event::ack{2, "lobby", 2});
  EXPECT_EQ(ids(c.dealer.take<request::msg>()), std::vector<std::uint64_t>{3});
  c.reply(event::ack{3, "lobby", 3});
  EXPECT_EQ(c.statuses(), (std::vector<status>{status::rate_limited, status::sending_again}));
}

// The listing just asked (`Request`: who or rooms) is refused with `code`
// for now: it is not reported, and asked again with its id a heartbeat
// later. Returns that id.
template <class Request>
std::uint64_t refused_listing_is_asked_again(client& c, const std::string& code) {
  const auto id = c.dealer.take<Request>().at(0).id.value_or(0);
  c.reply(error(code, id));
  EXPECT_TRUE(c.events().empty()) << "not an error: it is retried";
  c.advance(hb);
  const auto again = c.dealer.take<Request>();
  EXPECT_EQ(again.size(), 1U);
  EXPECT_TRUE(!again.empty() && again[0].id == id);
  return id;
}

TEST(client_core, a_rate_limited_who_is_asked_again) {
  client c;
  c.join();
  ASSERT_TRUE(c.core.who(c.now));
  const auto id = refused_listing_is_asked_again<request::who>(c, "rate-limited");
  c.reply(event::who{{{"alice", 1}}, id});
  auto shown = c.events();
  ASSERT_EQ(shown.size(), 1U);
  EXPECT_EQ(std::get<who_event>(shown[0]).users.size(), 1U);
  c.advance(hb);
  EXPECT_TRUE(c.dealer.take<request::who>().empty()) << "answered: not asked again";
}

TEST(client_core, rooms_are_listed_and_a_refused_listing_is_asked_again) {
  client c;
  c.join();
  ASSERT_TRUE(c.core.list_rooms(c.now));
  const auto id = refused_listing_is_asked_again<request::rooms>(c, "shutting-down");
  c.reply(event::rooms{{{"dev", 4, 250}, {"lobby", 0, std::nullopt}}, id});
  auto shown = c.events();
  ASSERT_EQ(shown.size(), 1U);
  const auto& list = std::get<rooms_event>(shown[0]).rooms;
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0].room, "dev");
  EXPECT_FALSE(list[1].idle);
  c.advance(hb);
  EXPECT_TRUE(c.dealer.take<request::rooms>().empty()) << "answered: not asked again";
}

TEST(client_core, listings_lost_with_a_connection_are_asked_again_after_the_welcome) {
  client c;
  c.join();
  ASSERT_TRUE(c.core.list_rooms(c.now) && c.core.who(c.now));
  const auto listings = [&c] {
    std::vector<std::string> bodies;
    for (const auto& r : c.dealer.sent) {
      if (std::holds_alternative<request::rooms>(r) || std::holds_alternative<request::who>(r)) {
        bodies.push_back(proto::encode(r));
      }
    }
    c.dealer.sent.clear();
    return bodies;
  };
  const auto asked = listings();
  for (int i = 0; i < 3; ++i) c.advance(hb);  // the broker went silent
  listings();
  c.reply(welcome());
  EXPECT_EQ(listings(), asked) << "both, with their ids";
}

TEST(client_core, at_most_eight_listings_wait_for_an_answer) {
  client c;
  c.join();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(c.core.who(c.now));
  EXPECT_FALSE(c.core.list_rooms(c.now)) << "a broker that never answers holds eight";
  const auto asked = c.dealer.take<request::who>();
  c.reply(event::who{{}, asked.at(3).id});
  EXPECT_TRUE(c.core.list_rooms(c.now));
}

TEST(client_core, a_shutdown_is_reported_and_hello_is_said_until_the_broker_returns) {
  client c;
  c.join();
  c.publish(event::shutdown{epoch1, 2, 0, "shutdown"});
  EXPECT_EQ(c.core.state(), link_state::lost);
  EXPECT_EQ(c.statuses(), std::vector<status>{status::server_shutdown});
  c.advance(hb);
  EXPECT_EQ(c.dealer.take<request::hello>().size(), 1U);
  c.reply(welcome());
  EXPECT_EQ(c.statuses(), std::vector<status>{status::reconnected});
}

TEST(client_core, a_session_moved_elsewhere_is_never_taken_back) {
  client c;
  c.join();
  c.reply(error("session-moved", std::nullopt));
  EXPECT_EQ(c.core.state(), link_state::displaced);
  c.advance(hb);
  c.advance(hb);
  EXPECT_TRUE(c.dealer.take<request::hello>().empty());
  EXPECT_FALSE(c.core.wants_write());
}

TEST(client_core, a_listener_joins_on_its_first_publication_and_is_lost_when_silent) {
  options o = named("");
  client c(o);
  EXPECT_TRUE(c.dealer.sent.empty()) << "a listener never says hello";
  c.publish(msg(4));
  EXPECT_EQ(c.core.state(), link_state::joined);
  c.advance(3 * hb);
  EXPECT_EQ(c.core.state(), link_state::lost);
  c.publish(msg(5));
  auto s = c.statuses();
  EXPECT_EQ(s, (std::vector<status>{status::joined, status::connection_lost, status::reconnected}));
}

TEST(client_core, link_reports_say_an_unreachable_broker_and_missing_broadcasts) {
  client c;
  c.core.on_link(socket_side::in, link_event::connect_retried, c.now);
  c.advance(1);
  EXPECT_EQ(c.statuses(), std::vector<status>{status::unreachable});
  c.join();
  c.advance(2 * hb);  // welcomed, but nothing published to us for two intervals
  auto s = c.statuses();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), status::no_broadcasts);
  EXPECT_TRUE(c.core.broadcasts_missing());
}

TEST(client_core, a_refused_curve_key_is_an_unauthorized_error) {
  client c;
  c.core.on_link(socket_side::in, link_event::handshake_failed_auth, c.now);
  auto shown = c.events();
  ASSERT_EQ(shown.size(), 1U);
  EXPECT_EQ(std::get<error_event>(shown[0]).code, "unauthorized");
}

TEST(client_core, undecodable_bodies_are_counted_and_dropped) {
  client c;
  c.core.on_reply("\x01garbage", c.now);
  c.core.on_publication("\xc1", c.now);
  EXPECT_EQ(c.core.undecodable(), 2U);
  EXPECT_TRUE(c.events().empty());
}

}  // namespace
}  // namespace bcast::client::detail
