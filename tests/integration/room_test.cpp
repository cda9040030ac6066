// A room through real sockets: a broker on ephemeral loopback ports and raw
// protocol peers. Messages reach everyone in order with broker-stamped
// `from` and gapless seqs; presence, who, dm, retries, history, names.
#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <zmq_addon.hpp>

#include "broker_fixture.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

namespace request = proto::request;
namespace event = proto::event;

class room : public ::testing::Test {
 protected:
  raw_peer peer() { return raw_peer(context_, broker_.in(), broker_.out()); }

  broker_fixture broker_;
  zmq::context_t context_;
};

TEST_F(room, three_clients_see_each_others_messages_in_order) {
  std::vector<raw_peer> peers;
  const std::vector<std::string> names{"alice", "bob", "carol"};
  for (const auto& name : names) {
    peers.push_back(peer());
    ASSERT_TRUE(peers.back().wait_subscribed());
    peers.back().join(name);
  }
  // Peer i subscribed before its own join: it sees joins i, i+1, ...
  for (std::size_t i = 0; i < peers.size(); ++i) {
    for (std::size_t j = i; j < peers.size(); ++j) {
      EXPECT_EQ(peers[i].expect_published<event::join>("sys/").name, names[j]);
    }
  }
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < peers.size(); ++i) {
      peers[i].send(request::msg{names[i] + " " + std::to_string(round), "lobby", std::nullopt});
    }
  }
  // Each client sends in order; across clients the broker's order holds
  // for every receiver alike.
  std::vector<std::vector<event::msg>> seen(peers.size());
  for (std::size_t r = 0; r < peers.size(); ++r) {
    for (int n = 0; n < 15; ++n) seen[r].push_back(peers[r].expect_published<event::msg>("room/lobby/"));
  }
  for (std::size_t r = 0; r < peers.size(); ++r) {
    for (std::size_t n = 0; n < 15; ++n) {
      EXPECT_EQ(seen[r][n].seq, n + 1);
      EXPECT_EQ(seen[r][n], seen[0][n]);
      EXPECT_EQ(seen[r][n].text.substr(0, seen[r][n].from.size()), seen[r][n].from);
    }
  }
}

TEST_F(room, a_burst_travels_in_packs_and_arrives_once_each_in_order) {
  auto alice = peer();
  auto watcher = peer();
  ASSERT_TRUE(alice.wait_subscribed());
  ASSERT_TRUE(watcher.wait_subscribed());
  alice.join("alice");
  constexpr std::uint64_t burst = 3000;
  // Sent back to back: the broker reads many per wake-up and packs them.
  for (std::uint64_t i = 1; i <= burst; ++i) {
    alice.send(request::msg{"m" + std::to_string(i), "lobby", std::nullopt});
  }
  std::uint64_t next = 1;
  while (next <= burst) {
    auto p = watcher.publication();
    ASSERT_TRUE(p) << "nothing after seq " << next - 1;
    const auto* m = std::get_if<event::msg>(&p->event);
    if (m == nullptr) continue;  // alice's join
    ASSERT_EQ(p->topic, "room/lobby/");
    ASSERT_EQ(m->seq, next);
    ASSERT_EQ(m->text, "m" + std::to_string(next));
    ASSERT_EQ(m->from, "alice");
    ++next;
  }
  EXPECT_GT(watcher.packs_seen(), 0U) << "3000 messages sent at once, none packed";
  EXPECT_LT(watcher.packs_seen(), burst / 2) << "packs of one or two messages";
}

TEST_F(room, join_and_leave_are_published_on_sys) {
  auto watcher = peer();
  ASSERT_TRUE(watcher.wait_subscribed());
  auto bob = peer();
  const auto welcome = bob.join("bob");
  const auto join = watcher.expect_published<event::join>("sys/");
  EXPECT_EQ(join.name, "bob");
  EXPECT_EQ(join.seq, welcome.sys_seq);
  bob.send(request::bye{});
  const auto leave = watcher.expect_published<event::leave>("sys/");
  EXPECT_EQ(leave.name, "bob");
  EXPECT_EQ(leave.reason, "bye");
  EXPECT_EQ(leave.seq, join.seq + 1);
}

TEST_F(room, from_is_stamped_by_the_broker) {
  auto alice = peer();
  ASSERT_TRUE(alice.wait_subscribed());
  alice.join("alice");
  (void)alice.expect_published<event::join>("sys/");
  // A client-supplied `from` key is not part of `msg` and is ignored.
  msgpack::sbuffer body;
  msgpack::packer<msgpack::sbuffer> pk(body);
  pk.pack_map(4);
  for (const char* field : {"t", "msg", "text", "hi", "from", "eve", "id"}) pk.pack(std::string(field));
  pk.pack(1);
  alice.send_frames({std::string(body.data(), body.size())});
  EXPECT_EQ(alice.expect<event::ack>().id, 1U);
  EXPECT_EQ(alice.expect_published<event::msg>("room/lobby/").from, "alice");
}

TEST_F(room, who_lists_everyone_online) {
  auto alice = peer();
  auto bob = peer();
  alice.join("alice");
  bob.join("bob");
  bob.send(request::who{7});
  const auto who = bob.expect<event::who>();
  ASSERT_EQ(who.users.size(), 2U);
  EXPECT_EQ(who.users[0].name, "alice");
  EXPECT_EQ(who.users[1].name, "bob");
  EXPECT_EQ(who.id, 7U);
}

TEST_F(room, rooms_lists_every_live_room) {
  auto alice = peer();
  alice.join("alice");
  alice.send(request::msg{"hi", "dev", 1});
  EXPECT_EQ(alice.expect<event::ack>().id, 1U);
  alice.send(request::rooms{9});
  const auto rooms = alice.expect<event::rooms>();
  EXPECT_EQ(rooms.id, 9U);
  ASSERT_EQ(rooms.list.size(), 1U);
  EXPECT_EQ(rooms.list[0].room, "dev");
  EXPECT_EQ(rooms.list[0].last, 1U);
  EXPECT_TRUE(rooms.list[0].idle);
}

TEST_F(room, dm_reaches_only_its_recipient) {
  auto alice = peer();
  auto bob = peer();
  auto carol = peer();
  alice.join("alice");
  bob.join("bob");
  carol.join("carol");
  alice.send(request::dm{"bob", "for bob", 1});
  alice.send(request::dm{"carol", "for carol", 2});
  EXPECT_EQ(alice.expect<event::ack>().id, 1U);
  EXPECT_EQ(alice.expect<event::ack>().id, 2U);
  const auto to_bob = bob.expect<event::dm>();
  EXPECT_EQ(to_bob.from, "alice");
  EXPECT_EQ(to_bob.text, "for bob");
  // Carol's first answer is her own dm: bob's, sent earlier, never reached her.
  EXPECT_EQ(carol.expect<event::dm>().text, "for carol");
  alice.send(request::dm{"dave", "anyone?", 3});
  EXPECT_EQ(alice.expect_error("unknown-user").id, 3U);
}

TEST_F(room, a_retried_id_is_published_once_and_acked_with_its_seq) {
  auto alice = peer();
  ASSERT_TRUE(alice.wait_subscribed());
  alice.join("alice");
  (void)alice.expect_published<event::join>("sys/");
  alice.send(request::msg{"once", "lobby", 42});
  alice.send(request::msg{"once", "lobby", 42});
  alice.send(request::msg{"next", "lobby", 43});
  const auto first = alice.expect<event::ack>();
  const auto again = alice.expect<event::ack>();
  EXPECT_EQ(first.seq, 1U);
  EXPECT_EQ(again.seq, 1U);
  EXPECT_EQ(again.room, "lobby");
  EXPECT_EQ(alice.expect<event::ack>().seq, 2U);
  EXPECT_EQ(alice.expect_published<event::msg>("room/lobby/").text, "once");
  EXPECT_EQ(alice.expect_published<event::msg>("room/lobby/").text, "next");
}

TEST_F(room, history_serves_what_was_published) {
  auto alice = peer();
  alice.join("alice");
  for (std::uint64_t i = 1; i <= 5; ++i) {
    alice.send(request::msg{"m" + std::to_string(i), "dev", i});
    EXPECT_EQ(alice.expect<event::ack>().seq, i);
  }
  alice.send(request::history{"dev", 2, 2, 9});
  const auto answer = alice.expect<event::history>();
  EXPECT_EQ(answer.room, "dev");
  EXPECT_EQ(answer.id, 9U);
  EXPECT_EQ(answer.first, 1U);
  EXPECT_EQ(answer.last, 5U);
  ASSERT_EQ(answer.msgs.size(), 2U);
  EXPECT_EQ(answer.msgs[0].seq, 3U);
  EXPECT_EQ(answer.msgs[0].text, "m3");
  EXPECT_EQ(answer.msgs[1].seq, 4U);
  // Listeners without a session may read history too.
  auto listener = peer();
  listener.send(request::history{"dev", std::nullopt, 1, std::nullopt});
  const auto newest = listener.expect<event::history>();
  ASSERT_EQ(newest.msgs.size(), 1U);
  EXPECT_EQ(newest.msgs[0].text, "m5");
}

TEST_F(room, a_taken_name_is_refused) {
  auto alice = peer();
  auto impostor = peer();
  alice.join("alice");
  impostor.send(request::hello{1, "alice", std::nullopt, std::nullopt, {}});
  impostor.expect_error("name-taken");
  impostor.send(request::hello{1, "bad name", std::nullopt, std::nullopt, {}});
  impostor.expect_error("invalid-name");
  impostor.send(request::hello{2, "alice2", std::nullopt, std::nullopt, {}});
  impostor.expect_error("version");
}

TEST_F(room, req_style_envelopes_are_answered_in_kind) {
  auto alice = peer();
  alice.send_frames({"", proto::encode(request::hello{1, "alice", std::nullopt, std::nullopt, {}})});
  std::vector<zmq::message_t> frames;
  std::vector<zmq::pollitem_t> items{{alice.dealer().handle(), 0, ZMQ_POLLIN, 0}};
  ASSERT_GT(zmq::poll(items, patience), 0);
  ASSERT_TRUE(zmq::recv_multipart(alice.dealer(), std::back_inserter(frames)));
  ASSERT_EQ(frames.size(), 2U);
  EXPECT_EQ(frames[0].size(), 0U);
  auto decoded = proto::decode_event(frames[1].to_string_view());
  ASSERT_TRUE(std::holds_alternative<proto::any_event>(decoded));
  EXPECT_TRUE(std::holds_alternative<event::welcome>(std::get<proto::any_event>(decoded)));
}

}  // namespace
}  // namespace bcast::test
