// CURVE against a real broker (issue 15): both sockets encrypt; with an
// allow directory only admitted keys get in, each under its own name; keys
// added or removed take effect without a restart. Refused peers are shown
// to get nothing on either socket within a bounded wait.
#include <gtest/gtest.h>
#include <zmq.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bcast/client/connection.hpp"
#include "broker_fixture.hpp"
#include "deadline.hpp"
#include "raw_peer.hpp"
#include "test_dir.hpp"

namespace bcast::test {
namespace {

namespace request = proto::request;
namespace event = proto::event;
namespace fs = std::filesystem;

// How long a refused peer is watched for anything at all.
constexpr std::chrono::milliseconds refused_wait{1500};

proto::curve_cert new_pair() {
  char pub[41] = {};
  char sec[41] = {};
  EXPECT_EQ(zmq_curve_keypair(pub, sec), 0);
  return {pub, sec};
}

class curve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_dir("bcast-allow");
    fs::create_directories(dir_);
    admit("alice", alice_);
    admit("watcher", watcher_);
    auto opts = test_options();
    opts.liveness = 50;
    opts.curve = server_;
    opts.allow_dir = dir_.string();
    broker_.emplace(opts);
  }
  void TearDown() override {
    broker_.reset();
    fs::remove_all(dir_);
  }
  void admit(const std::string& name, const proto::curve_cert& key) {
    std::ofstream(dir_ / (name + ".key")) << proto::curve_cert_text({key.public_key, ""}, name);
  }
  std::unique_ptr<raw_peer> peer(const proto::curve_cert& own) {
    return std::make_unique<raw_peer>(context_, broker_->in(), broker_->out(), curve_keys{server_, own});
  }

  fs::path dir_;
  proto::curve_cert server_ = new_pair();
  proto::curve_cert alice_ = new_pair();
  proto::curve_cert watcher_ = new_pair();
  std::optional<broker_fixture> broker_;
  zmq::context_t context_;
};

TEST_F(curve, an_admitted_key_chats_under_its_name) {
  auto watcher = peer(watcher_);
  ASSERT_TRUE(watcher->wait_subscribed());
  watcher->join("watcher");
  (void)watcher->expect_published<event::join>("sys/");
  auto alice = peer(alice_);
  alice->join("alice");
  alice->send(request::msg{"encrypted hello", "lobby", 1});
  EXPECT_EQ(alice->expect<event::ack>().seq, 1U);
  (void)watcher->expect_published<event::join>("sys/");
  EXPECT_EQ(watcher->expect_published<event::msg>("room/lobby/").from, "alice");
}

TEST_F(curve, the_client_library_speaks_curve) {
  client::options opts;
  opts.in_endpoint = broker_->in();
  opts.out_endpoint = broker_->out();
  opts.name = "alice";
  opts.server_key = server_;
  opts.key = alice_;
  client::connection alice(context_, opts);
  EXPECT_TRUE(eventually([&] {
    alice.wait(std::chrono::milliseconds(20), {});
    while (auto e = alice.next_event()) {
      if (const auto* s = std::get_if<client::status_event>(&*e); s && s->what == client::status::joined) {
        return true;
      }
    }
    return false;
  }));
}

// An unknown key, a plaintext peer and a peer that expects another server
// key: none gets a heartbeat on PUB or an answer on ROUTER.
TEST_F(curve, unknown_keys_plaintext_and_a_wrong_server_key_get_nothing) {
  auto stranger = peer(new_pair());
  raw_peer plain(context_, broker_->in(), broker_->out());
  raw_peer wrong_server(context_, broker_->in(), broker_->out(), curve_keys{new_pair(), alice_});
  for (raw_peer* p : {stranger.get(), &plain, &wrong_server}) {
    p->send(request::hello{1, "alice", std::nullopt, std::nullopt, {}});
  }
  // One wait covers all: they were all connected at the same time.
  auto limit = refused_wait;
  for (raw_peer* p : {stranger.get(), &plain, &wrong_server}) {
    EXPECT_FALSE(p->reply(limit)) << "an answer on ROUTER";
    EXPECT_FALSE(p->wait_subscribed_within(limit)) << "a heartbeat on PUB";
    limit = std::chrono::milliseconds(50);
  }
  // Meanwhile the admitted key is in.
  auto alice = peer(alice_);
  EXPECT_EQ(alice->join("alice").name, "alice");
}

TEST_F(curve, a_key_joins_only_under_the_name_it_is_bound_to) {
  auto alice = peer(alice_);
  alice->send(request::hello{1, "watcher", std::nullopt, std::nullopt, {}});
  const auto e = alice->expect_error("invalid-name");
  EXPECT_NE(e.reason.find("'alice'"), std::string::npos) << e.reason;
  auto watcher = peer(watcher_);
  watcher->send(request::hello{1, "alice", std::nullopt, std::nullopt, {}});
  (void)watcher->expect_error("invalid-name");
}

TEST_F(curve, keys_added_and_removed_take_effect_without_a_restart) {
  auto watcher = peer(watcher_);
  ASSERT_TRUE(watcher->wait_subscribed());
  watcher->join("watcher");
  (void)watcher->expect_published<event::join>("sys/");

  const proto::curve_cert bob_key = new_pair();
  admit("bob", bob_key);
  auto bob = peer(bob_key);
  EXPECT_EQ(bob->join("bob").name, "bob") << "a key added while running is admitted";
  (void)watcher->expect_published<event::join>("sys/");

  fs::remove(dir_ / "bob.key");
  const auto leave = watcher->expect_published<event::leave>("sys/");
  EXPECT_EQ(leave.name, "bob");
  EXPECT_EQ(leave.reason, "revoked");
  // Its request connection is closed at once; a request that still gets
  // through is refused, and then it gets nothing at all (with no connection
  // left, its sends would wait: they give up instead).
  bob->dealer().set(zmq::sockopt::sndtimeo, 300);
  bob->send(request::hello{1, "bob", std::nullopt, std::nullopt, {}});
  const auto answer = bob->reply(refused_wait);
  if (answer) {
    const auto* e = std::get_if<event::error>(&*answer);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, "unauthorized");
  }
  EXPECT_TRUE(eventually([&] {
    bob->send(request::hello{1, "bob", std::nullopt, std::nullopt, {}});
    return !bob->reply(std::chrono::milliseconds(300));
  })) << "a removed key's connection is closed and refused";
  // Only bob's request connection was closed: the watcher's session goes on
  // on its own, without a new hello.
  watcher->send(request::msg{"still here", "lobby", 7});
  EXPECT_EQ(watcher->expect<event::ack>().id, 7U);
}

}  // namespace
}  // namespace bcast::test
