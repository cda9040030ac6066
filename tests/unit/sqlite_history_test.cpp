// The SQLite history store on a real file in a temporary directory: what a
// reopened store restores after a clean close, after a crash of a default
// run (a new, empty epoch) and after a crash
// of a durable run (same epoch); retention by count and age on disk; the
// one-broker lock; commits catching up and signalling; and the protocol
// core over a reopened store continuing seqs and answering a retried
// request with its original ack. Crashes are a forked child that stores
// and then _exits without closing the store.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "bcast/broker/clock.hpp"
#include "bcast/broker/core.hpp"
#include "bcast/broker/sqlite_history.hpp"
#include "bcast/proto/codec.hpp"

namespace {

using bcast::broker::new_message;
using bcast::broker::shared_body;
using bcast::broker::sqlite_history;
using bcast::broker::sqlite_history_options;
namespace proto = bcast::proto;

class sqlite_store : public ::testing::Test {
 protected:
  sqlite_store() {
    spdlog::set_level(spdlog::level::off);
    char pattern[] = "/tmp/bcast-history-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    opts_.path = dir_ + "/history.db";
    opts_.per_room = 100;
    opts_.max_bytes = 1 << 20;
  }
  ~sqlite_store() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<sqlite_history> open() { return std::make_unique<sqlite_history>(opts_); }

  // Runs `work` on a store in a child process that then dies without
  // closing it, as a killed broker would.
  void crash_after(const std::function<void(sqlite_history&)>& work) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto* store = new sqlite_history(opts_);  // never destroyed: no clean close
      work(*store);
      store->flush();
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  static void append(sqlite_history& store, std::string_view room, std::uint64_t seq,
                     std::uint64_t ts = 1000) {
    store.append({room, seq, ts,
                  shared_body(std::string(room) + "#" + std::to_string(seq)),
                  std::nullopt});
  }

  std::string dir_;
  sqlite_history_options opts_;
};

TEST_F(sqlite_store, a_fresh_file_starts_an_epoch_with_nothing_restored) {
  auto store = open();
  EXPECT_GT(store->epoch(), 0U);
  EXPECT_TRUE(store->restored().rooms.empty());
  EXPECT_EQ(store->restored().sys_seq, 0U);
  EXPECT_FALSE(store->epoch_changed());
}

TEST_F(sqlite_store, a_clean_close_keeps_epoch_seqs_and_messages) {
  std::uint64_t epoch = 0;
  {
    auto store = open();
    epoch = store->epoch();
    for (std::uint64_t seq = 1; seq <= 5; ++seq) append(*store, "lobby", seq);
    append(*store, "dev", 1);
    store->note_sys_seq(9);
  }
  auto store = open();
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_FALSE(store->epoch_changed());
  EXPECT_EQ(store->restored().rooms,
            (std::vector<proto::event::room_seq>{{"dev", 1}, {"lobby", 5}}));
  EXPECT_EQ(store->restored().sys_seq, 9U);
  const auto slice = store->read("lobby", 2, 100);
  EXPECT_EQ(slice.first, 1U);
  ASSERT_EQ(slice.bodies.size(), 3U);
  EXPECT_EQ(*slice.bodies[0], "lobby#3");
  EXPECT_EQ(*slice.bodies[2], "lobby#5");
}

// Issue 15 (restored history rows were trusted): a stored room whose name
// breaks the room rule (here with ESC) is not restored, nor its messages.
TEST_F(sqlite_store, stored_rooms_with_invalid_names_are_not_restored) {
  {
    auto store = open();
    append(*store, "lobby", 1);
    append(*store, "evil\x1b[2J", 1);
  }
  auto store = open();
  EXPECT_EQ(store->restored().rooms, (std::vector<proto::event::room_seq>{{"lobby", 1}}));
  EXPECT_TRUE(store->read("evil\x1b[2J", 0, 100).bodies.empty());
}

TEST_F(sqlite_store, a_crash_of_a_default_run_starts_a_new_empty_epoch) {
  std::uint64_t epoch = 0;
  {
    auto store = open();
    epoch = store->epoch();
  }
  crash_after([](sqlite_history& store) {
    for (std::uint64_t seq = 1; seq <= 3; ++seq) append(store, "lobby", seq);
    store.note_sys_seq(5);
  });
  auto store = open();
  EXPECT_TRUE(store->epoch_changed());
  EXPECT_GT(store->epoch(), epoch);
  EXPECT_TRUE(store->restored().rooms.empty()) << "seqs restart in the new epoch";
  EXPECT_EQ(store->restored().sys_seq, 0U);
  EXPECT_TRUE(store->restored().acks.empty());
  EXPECT_TRUE(store->read("lobby", std::nullopt, 10).bodies.empty())
      << "nothing of an abandoned epoch is served under the new one";
}

TEST_F(sqlite_store, a_crash_of_a_durable_run_keeps_the_epoch) {
  opts_.durable = true;
  std::uint64_t epoch = 0;
  crash_after([&epoch](sqlite_history& store) {
    epoch = store.epoch();  // (the child's copy; compared below through the file)
    append(store, "lobby", 1);
    store.note_sys_seq(4);
  });
  auto first = open();
  epoch = first->epoch();
  EXPECT_FALSE(first->epoch_changed()) << "a durable run published only what it committed";
  EXPECT_EQ(first->restored().sys_seq, 4U);
  EXPECT_EQ(first->restored().rooms, (std::vector<proto::event::room_seq>{{"lobby", 1}}));
  first.reset();
  EXPECT_EQ(open()->epoch(), epoch);
}

TEST_F(sqlite_store, the_file_keeps_only_the_last_n_of_each_room) {
  opts_.per_room = 3;
  {
    auto store = open();
    for (std::uint64_t seq = 1; seq <= 10; ++seq) append(*store, "lobby", seq);
  }
  auto store = open();
  EXPECT_EQ(store->restored().rooms, (std::vector<proto::event::room_seq>{{"lobby", 10}}));
  const auto slice = store->read("lobby", std::nullopt, 100);
  EXPECT_EQ(slice.first, 8U);
  EXPECT_EQ(slice.bodies.size(), 3U);
}

TEST_F(sqlite_store, messages_past_the_retention_age_are_not_loaded_or_served) {
  opts_.max_age_ms = 60'000;
  const std::uint64_t now = bcast::broker::wall_ms();
  {
    auto store = open();
    append(*store, "lobby", 1, now - 120'000);
    append(*store, "lobby", 2, now);
    store->expire(now);
    EXPECT_EQ(store->read("lobby", std::nullopt, 10).first, 2U) << "memory drops it at once";
  }
  auto store = open();
  const auto slice = store->read("lobby", std::nullopt, 10);
  EXPECT_EQ(slice.first, 2U);
  EXPECT_EQ(slice.bodies.size(), 1U);
}

TEST_F(sqlite_store, a_second_broker_on_the_same_file_is_refused) {
  auto store = open();
  try {
    open();
    FAIL() << "a second store opened the same file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another broker"), std::string::npos) << e.what();
  }
}

TEST_F(sqlite_store, commits_catch_up_with_writes_and_signal_their_fd) {
  auto store = open();
  ASSERT_GE(store->commit_fd(), 0);
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) append(*store, "lobby", seq);
  EXPECT_EQ(store->written(), 1000U);
  pollfd p{store->commit_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "no commit signalled within 10 s";
  store->flush();
  EXPECT_EQ(store->committed(), 1000U);
}

// --- the core over a reopened store -----------------------------------------

TEST_F(sqlite_store, a_restarted_core_continues_seqs_and_acks_a_retry_from_before) {
  bcast::broker::options o;
  std::string token;
  proto::event::ack first_ack;
  {
    auto store = open();
    bcast::broker::core before(o, *store);
    bcast::broker::outbox out;
    proto::request::hello h;
    h.name = "alice";
    before.on_request("r1", false, proto::encode(h), 1000, out);
    token = std::get<proto::event::welcome>(
                std::get<proto::any_event>(proto::decode_event(out.replies.at(0).body)))
                .session;
    out.clear();
    before.on_request("r1", false, proto::encode(proto::request::msg{"hello", "lobby", 41}), 1000,
                      out);
    first_ack = std::get<proto::event::ack>(
        std::get<proto::any_event>(proto::decode_event(out.replies.at(0).body)));
  }
  auto store = open();
  bcast::broker::core after(o, *store);
  bcast::broker::outbox out;
  proto::request::hello h;
  h.name = "alice";
  h.session = token;
  after.on_request("r2", false, proto::encode(h), 1000, out);
  const auto w = std::get<proto::event::welcome>(
      std::get<proto::any_event>(proto::decode_event(out.replies.at(0).body)));
  EXPECT_EQ(w.session, token);
  EXPECT_EQ(w.rooms, (std::vector<proto::event::room_seq>{{"lobby", 1}}));

  out.clear();
  after.on_request("r2", false, proto::encode(proto::request::msg{"hello", "lobby", 41}), 1000, out);
  EXPECT_TRUE(out.publications.empty()) << "the retry was published again";
  const auto again = std::get<proto::event::ack>(
      std::get<proto::any_event>(proto::decode_event(out.replies.at(0).body)));
  EXPECT_EQ(again.id, first_ack.id);
  EXPECT_EQ(again.room, first_ack.room);
  EXPECT_EQ(again.seq, first_ack.seq);

  out.clear();
  after.on_request("r2", false, proto::encode(proto::request::msg{"next", "lobby", 42}), 1000, out);
  EXPECT_EQ(std::get<proto::event::ack>(
                std::get<proto::any_event>(proto::decode_event(out.replies.at(0).body)))
                .seq,
            2U);
}

}  // namespace
