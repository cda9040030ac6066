// The client library against a real broker: chat between connections
// (everyone sees every message once, in order, their own included), gap
// repair for a subscriber that falls behind, and recovery when the broker
// shuts down and comes back on the same endpoints.
#include <gtest/gtest.h>

#include <zmq_addon.hpp>

#include "bcast/client/connection.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/topics.hpp"
#include "broker_fixture.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

using client::client_event;

client::options joining(const broker_fixture& broker, std::string name) {
  client::options opts;
  opts.in_endpoint = broker.in();
  opts.out_endpoint = broker.out();
  opts.name = std::move(name);
  return opts;
}

// Runs `conn` until `done(events so far)` holds or the patience runs out;
// returns every event seen.
std::vector<client_event> run_until(client::connection& conn,
                                    const std::function<bool(const std::vector<client_event>&)>& done,
                                    std::chrono::milliseconds limit = patience) {
  std::vector<client_event> events;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done(events) && std::chrono::steady_clock::now() < end) {
    conn.wait(std::chrono::milliseconds(50));
    while (auto e = conn.next_event()) events.push_back(std::move(*e));
  }
  return events;
}

std::vector<client::message_event> messages(const std::vector<client_event>& events) {
  std::vector<client::message_event> out;
  for (const auto& e : events) {
    if (const auto* m = std::get_if<client::message_event>(&e)) out.push_back(*m);
  }
  return out;
}

bool has_status(const std::vector<client_event>& events, client::status what) {
  return std::any_of(events.begin(), events.end(), [what](const client_event& e) {
    const auto* s = std::get_if<client::status_event>(&e);
    return s != nullptr && s->what == what;
  });
}

TEST(client, connections_chat_and_see_every_message_once_in_order) {
  broker_fixture broker;
  zmq::context_t context;
  std::vector<std::unique_ptr<client::connection>> conns;
  for (const char* name : {"alice", "bob", "carol"}) {
    conns.push_back(std::make_unique<client::connection>(context, joining(broker, name)));
    run_until(*conns.back(), [&](const auto&) { return conns.back()->joined(); });
    ASSERT_TRUE(conns.back()->joined());
  }
  for (int i = 0; i < 10; ++i) {
    for (auto& c : conns) c->send("line " + std::to_string(i));
  }
  for (auto& c : conns) {
    // Acks (DEALER) and publications (SUB) race: wait for both.
    const auto events = run_until(
        *c, [&c](const auto& seen) { return messages(seen).size() >= 30 && c->unacked() == 0; });
    const auto got = messages(events);
    ASSERT_EQ(got.size(), 30U);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(std::count_if(got.begin(), got.end(), [](const auto& m) { return m.from == "bob"; }), 10);
    EXPECT_EQ(c->unacked(), 0U);
    EXPECT_TRUE(c->caught_up());
  }
}

TEST(client, a_subscriber_that_falls_behind_recovers_every_message_from_history) {
  auto opts = test_options();
  opts.pub_hwm = 10;       // the broker drops for a slow subscriber early
  opts.history = 5000;     // and history keeps everything it dropped
  opts.max_text = 8000;
  opts.liveness = 1000;    // the stalled reader must not time out meanwhile
  broker_fixture broker(opts);
  zmq::context_t context;
  client::connection slow(context, joining(broker, "slow"));
  run_until(slow, [&](const auto&) { return slow.joined(); });
  ASSERT_TRUE(slow.joined());

  raw_peer sender(context, broker.in(), broker.out());
  sender.join("sender");
  constexpr std::uint64_t count = 3000;
  const std::string filler(6000, 'x');
  // In windows, so the sender's own replies never overflow its queue (the
  // broker drops replies to a peer that does not read, by design).
  constexpr std::uint64_t window = 200;
  for (std::uint64_t start = 1; start <= count; start += window) {
    for (std::uint64_t i = start; i < start + window; ++i) {
      sender.send(proto::request::msg{std::to_string(i) + " " + filler, "lobby", i});
    }
    for (std::uint64_t i = start; i < start + window; ++i) {
      ASSERT_EQ(sender.expect<proto::event::ack>().seq, i);
    }
  }

  const auto events = run_until(slow, [](const auto& seen) { return messages(seen).size() >= count; },
                                std::chrono::seconds(60));
  const auto got = messages(events);
  ASSERT_EQ(got.size(), count);
  for (std::uint64_t i = 0; i < count; ++i) {
    ASSERT_EQ(got[i].seq, i + 1);
    ASSERT_EQ(got[i].text.substr(0, got[i].text.find(' ')), std::to_string(i + 1));
  }
  EXPECT_FALSE(std::any_of(events.begin(), events.end(), [](const client_event& e) {
    return std::holds_alternative<client::lost_event>(e);
  }));
}

TEST(client, recovers_when_the_broker_restarts_on_the_same_endpoints) {
  auto first = std::make_unique<broker_fixture>();
  auto opts = test_options();
  opts.in_endpoint = first->in();
  opts.out_endpoint = first->out();
  zmq::context_t context;
  client::connection alice(context, joining(*first, "alice"));
  run_until(alice, [&](const auto&) { return alice.joined(); });
  ASSERT_TRUE(alice.joined());
  alice.send("before");
  run_until(alice, [](const auto& seen) { return messages(seen).size() == 1; });

  first.reset();  // publishes shutdown and unbinds
  const auto down = run_until(alice, [](const auto& seen) {
    return has_status(seen, client::status::server_shutdown);
  });
  EXPECT_TRUE(has_status(down, client::status::server_shutdown));
  alice.send("while away");  // kept until a broker acks it

  broker_fixture second(opts);
  // Acks (DEALER) and publications (SUB) race: wait for both.
  const auto back = run_until(alice, [&alice](const auto& seen) {
    return has_status(seen, client::status::reconnected) && !messages(seen).empty() &&
           alice.unacked() == 0;
  });
  EXPECT_TRUE(has_status(back, client::status::epoch_reset));  // a new in-memory history
  const auto got = messages(back);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].text, "while away");
  EXPECT_EQ(got[0].seq, 1U);
  EXPECT_EQ(alice.unacked(), 0U);
}

// A broker that publishes but never acks: what a client sees when its acks
// are lost (ZeroMQ drops the unread replies of a DEALER whose connection
// ends). It tells its XPUB subscriptions apart, so it publishes only once
// the client listens.
class ackless_broker {
 public:
  explicit ackless_broker(zmq::context_t& context)
      : router_(context, zmq::socket_type::router), xpub_(context, zmq::socket_type::xpub) {
    router_.bind("tcp://127.0.0.1:*");
    xpub_.bind("tcp://127.0.0.1:*");
  }
  [[nodiscard]] client::options joining(std::string name) {
    client::options opts;
    opts.in_endpoint = router_.get(zmq::sockopt::last_endpoint);
    opts.out_endpoint = xpub_.get(zmq::sockopt::last_endpoint);
    opts.name = std::move(name);
    return opts;
  }
  // Serves `conn` until it has subscribed to "room/lobby/" and had its welcome.
  void welcome(client::connection& conn) {
    bool subscribed = false;
    std::optional<std::string> peer;
    const auto end = std::chrono::steady_clock::now() + patience;
    while ((!subscribed || !peer) && std::chrono::steady_clock::now() < end) {
      conn.wait(std::chrono::milliseconds(10));
      zmq::message_t sub;
      while (xpub_.recv(sub, zmq::recv_flags::dontwait)) {
        subscribed = subscribed || sub.to_string_view() == std::string("\1") + proto::room_topic("lobby");
      }
      std::vector<zmq::message_t> frames;
      if (!peer && zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        peer = frames[0].to_string();
      }
    }
    ASSERT_TRUE(subscribed && peer);
    proto::event::welcome w{.name = "alice", .session = "s", .epoch = 7, .hb_ivl = 1000, .liveness = 3,
                            .sys_seq = 0, .rooms = {}, .max_text = 1000};
    router_.send(zmq::buffer(*peer), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(proto::encode(proto::any_event{w})));
  }
  // Takes the next msg request (skipping pings) and publishes it as `seq`.
  void publish_next(client::connection& conn, std::uint64_t seq) {
    const auto end = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < end) {
      conn.wait(std::chrono::milliseconds(10));
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
      auto decoded = proto::decode_request(frames.back().to_string_view());
      const auto* request = std::get_if<proto::any_request>(&decoded);
      const auto* m = request != nullptr ? std::get_if<proto::request::msg>(request) : nullptr;
      if (m == nullptr) continue;
      const proto::event::msg published{7, seq, 1, m->room, "alice", m->text};
      xpub_.send(zmq::buffer(proto::room_topic(m->room)), zmq::send_flags::sndmore);
      xpub_.send(zmq::buffer(proto::encode(proto::any_event{published})));
      return;
    }
    FAIL() << "no msg request arrived";
  }

 private:
  zmq::socket_t router_;
  zmq::socket_t xpub_;
};

TEST(client, its_own_message_published_counts_as_acked_when_the_ack_is_lost) {
  zmq::context_t context;
  ackless_broker broker(context);
  client::connection alice(context, broker.joining("alice"));
  ASSERT_NO_FATAL_FAILURE(broker.welcome(alice));
  const auto id = alice.send("hello");
  ASSERT_NO_FATAL_FAILURE(broker.publish_next(alice, 1));
  const auto events = run_until(alice, [](const auto& seen) { return !messages(seen).empty(); });
  ASSERT_EQ(messages(events).size(), 1U);
  const auto ack = std::find_if(events.begin(), events.end(), [](const client_event& e) {
    return std::holds_alternative<client::ack_event>(e);
  });
  ASSERT_NE(ack, events.end());
  EXPECT_EQ(std::get<client::ack_event>(*ack).id, id);
  EXPECT_EQ(std::get<client::ack_event>(*ack).seq, std::optional<std::uint64_t>(1));
  EXPECT_EQ(alice.unacked(), 0U);  // never re-sent to a broker that lost its memory
}

TEST(client, two_pending_messages_with_the_same_text_wait_for_the_brokers_ack) {
  zmq::context_t context;
  ackless_broker broker(context);
  client::connection alice(context, broker.joining("alice"));
  ASSERT_NO_FATAL_FAILURE(broker.welcome(alice));
  alice.send("same");
  alice.send("same");
  alice.send("other");
  // Which of the two "same" was carried out cannot be told (the first may
  // have been refused for a while): only "other" is certain.
  ASSERT_NO_FATAL_FAILURE(broker.publish_next(alice, 1));
  ASSERT_NO_FATAL_FAILURE(broker.publish_next(alice, 2));
  const auto events = run_until(alice, [](const auto& seen) { return messages(seen).size() == 2; });
  ASSERT_EQ(messages(events).size(), 2U);
  EXPECT_EQ(alice.unacked(), 3U);
  ASSERT_NO_FATAL_FAILURE(broker.publish_next(alice, 3));
  const auto more = run_until(alice, [](const auto& seen) { return messages(seen).size() == 1; });
  ASSERT_EQ(messages(more).size(), 1U);
  EXPECT_EQ(alice.unacked(), 2U);
}

}  // namespace
}  // namespace bcast::test
