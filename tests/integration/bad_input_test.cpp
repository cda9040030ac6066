// Hostile and broken input over real sockets: every malformed body gets the
// right error to its sender only, the sender's session carries on, an
// oversized frame costs only its sender the connection, and the other
// clients notice nothing at all.
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <random>

#include "broker_fixture.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

namespace request = proto::request;
namespace event = proto::event;

std::string packed(const auto&... parts) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  (pk.pack(parts), ...);
  return {buffer.data(), buffer.size()};
}

// A map body from alternating keys and values (any msgpack-packable types).
template <typename... Parts>
std::string map_of(const Parts&... parts) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(sizeof...(parts) / 2);
  (pk.pack(parts), ...);
  return {buffer.data(), buffer.size()};
}

class bad_input : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(watcher_.wait_subscribed());
    bystander_.join("bystander");
    (void)watcher_.expect_published<event::join>("sys/");
    culprit_.join("culprit");
    (void)watcher_.expect_published<event::join>("sys/");
  }

  // The culprit can still talk, and the bystander saw nothing but this.
  void expect_everyone_fine() {
    culprit_.send(request::msg{"still here", "lobby", 1000});
    EXPECT_EQ(culprit_.expect<event::ack>().id, 1000U);
    const auto next = watcher_.expect_published<event::msg>("room/lobby/");
    EXPECT_EQ(next.text, "still here");
    bystander_.send(request::ping{1});
    EXPECT_EQ(bystander_.expect<event::pong>().id, 1U);
  }

  broker_fixture broker_{[] {
    auto opts = test_options();
    opts.liveness = 50;  // sessions outlive the test: only errors end them
    return opts;
  }()};
  zmq::context_t context_;
  raw_peer watcher_{context_, broker_.in(), broker_.out()};
  raw_peer bystander_{context_, broker_.in(), broker_.out()};
  raw_peer culprit_{context_, broker_.in(), broker_.out()};
};

TEST_F(bad_input, random_bytes_are_a_bad_request) {
  std::mt19937 random(812);
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + random() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(random());
    junk[0] = '\xc1';  // never a valid MessagePack lead byte
    culprit_.send_frames({junk});
    culprit_.expect_error("bad-request");
  }
  expect_everyone_fine();
}

TEST_F(bad_input, a_body_that_is_not_a_map_is_a_bad_request) {
  culprit_.send_frames({packed(std::vector<int>{1, 2, 3})});
  culprit_.expect_error("bad-request");
  culprit_.send_frames({packed(std::string("msg"))});
  culprit_.expect_error("bad-request");
  culprit_.send_frames({packed(42)});
  culprit_.expect_error("bad-request");
  expect_everyone_fine();
}

TEST_F(bad_input, wrong_key_types_are_a_bad_request_carrying_the_id) {
  culprit_.send_frames({map_of(std::string("t"), std::string("msg"), std::string("text"), 5,
                               std::string("id"), 7)});
  EXPECT_EQ(culprit_.expect_error("bad-request").id, 7U);
  culprit_.send_frames({map_of(std::string("t"), 1)});
  culprit_.expect_error("bad-request");
  culprit_.send_frames({map_of(std::string("t"), std::string("launch"), std::string("id"), 8)});
  EXPECT_EQ(culprit_.expect_error("bad-request").id, 8U);
  expect_everyone_fine();
}

TEST_F(bad_input, text_one_byte_over_max_text_is_too_large) {
  const std::size_t max = broker_.options().max_text;
  culprit_.send(request::msg{std::string(max + 1, 'x'), "lobby", 9});
  EXPECT_EQ(culprit_.expect_error("too-large").id, 9U);
  culprit_.send(request::msg{std::string(max, 'x'), "lobby", 10});
  EXPECT_EQ(culprit_.expect<event::ack>().id, 10U);
  EXPECT_EQ(watcher_.expect_published<event::msg>("room/lobby/").text.size(), max);
  expect_everyone_fine();
}

TEST_F(bad_input, invalid_utf8_is_a_bad_request) {
  culprit_.send_frames({map_of(std::string("t"), std::string("msg"), std::string("text"),
                               std::string("caf\xc3"), std::string("id"), 11)});
  EXPECT_EQ(culprit_.expect_error("bad-request").id, 11U);
  culprit_.send_frames({map_of(std::string("t"), std::string("msg"), std::string("text"),
                               std::string("\xed\xa0\x80"), std::string("id"), 12)});
  EXPECT_EQ(culprit_.expect_error("bad-request").id, 12U);
  expect_everyone_fine();
}

TEST_F(bad_input, bad_rooms_names_and_envelopes_get_their_codes) {
  culprit_.send(request::msg{"hi", "Not A Room", 13});
  EXPECT_EQ(culprit_.expect_error("invalid-room").id, 13U);
  culprit_.send(request::history{"lobby", std::nullopt, 5000, 14});
  EXPECT_EQ(culprit_.expect_error("too-large").id, 14U);
  culprit_.send(request::msg{"", "lobby", 15});
  EXPECT_EQ(culprit_.expect_error("bad-request").id, 15U);
  culprit_.send_frames({"one", "two", "three"});
  culprit_.expect_error("bad-request");
  raw_peer stranger(context_, broker_.in(), broker_.out());
  stranger.send(request::msg{"who am i", "lobby", 16});
  EXPECT_EQ(stranger.expect_error("no-session").id, 16U);
  expect_everyone_fine();
}

TEST_F(bad_input, a_frame_over_max_frame_is_answered_too_large_and_the_connection_kept) {
  culprit_.send_frames({std::string(broker_.options().max_frame + 1, 'x')});
  EXPECT_EQ(culprit_.expect_error("too-large").id, std::nullopt);
  culprit_.send(request::msg{std::string(broker_.options().max_frame, 'x'), "lobby", 78});
  EXPECT_EQ(culprit_.expect_error("too-large").id, 78U);
  culprit_.send(request::ping{79});
  EXPECT_EQ(culprit_.expect<event::pong>().id, 79U);
  expect_everyone_fine();
}

TEST_F(bad_input, a_frame_past_the_read_slack_costs_only_its_sender_the_connection) {
  culprit_.send_frames({std::string(broker_.options().max_frame + broker::oversize_read_bytes + 1, 'x')});
  // ZeroMQ drops the connection; the culprit's DEALER reconnects under a new
  // routing id, which has no session.
  EXPECT_TRUE(eventually([&] {
    culprit_.send(request::ping{77});
    auto answer = culprit_.reply(std::chrono::milliseconds(200));
    return answer && std::holds_alternative<event::error>(*answer) &&
           std::get<event::error>(*answer).code == "no-session";
  }));
  bystander_.send(request::msg{"unaffected", "lobby", 1});
  EXPECT_EQ(bystander_.expect<event::ack>().id, 1U);
  // The watcher's next publication is the bystander's message: no junk,
  // nothing else but, at most, the culprit's leave (its connection closed
  // and it did not resume its session: PROTOCOL 7.4).
  auto next = watcher_.publication();
  ASSERT_TRUE(next);
  if (const auto* leave = std::get_if<event::leave>(&next->event)) {
    EXPECT_EQ(leave->name, "culprit");
    EXPECT_EQ(leave->reason, "timeout");
    next = watcher_.publication();
    ASSERT_TRUE(next);
  }
  ASSERT_TRUE(std::holds_alternative<event::msg>(next->event));
  EXPECT_EQ(std::get<event::msg>(next->event).text, "unaffected");
}

}  // namespace
}  // namespace bcast::test
