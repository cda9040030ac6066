// pub_batcher: a turn's publications become PUB frames in their order; a run
// of one room's messages is one `pack` (bounded in messages and bytes), a
// lone message and every sys/ event go as their own stored bytes, shared
// with history rather than copied.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/msg_view.hpp"
#include "bcast/proto/pack.hpp"
#include "bcast/proto/topics.hpp"
#include "pub_batcher.hpp"

namespace bcast::broker {
namespace {

constexpr std::uint64_t epoch = 9;

publication room_msg(const std::string& room, std::uint64_t seq, std::size_t text_bytes = 5,
                     const std::string& from = "alice", std::uint64_t ts = 100) {
  const std::string text(text_bytes, 'x');
  return {proto::room_topic(room), shared_body(proto::encode_msg({epoch, seq, ts, room, from, text}))};
}

publication sys_event(std::uint64_t seq) {
  return {std::string(proto::sys_topic),
          shared_body(proto::encode(proto::any_event{proto::event::join{epoch, seq, 100, "bob"}}))};
}

// Each frame as (topic, the seqs it carries; one seq for a lone body).
std::vector<std::pair<std::string, std::vector<std::uint64_t>>> seqs_of(std::vector<pub_frame>& frames) {
  std::vector<std::pair<std::string, std::vector<std::uint64_t>>> out;
  for (auto& f : frames) {
    auto decoded = proto::decode_event(f.body.to_string_view());
    EXPECT_TRUE(std::holds_alternative<proto::any_event>(decoded));
    std::vector<std::uint64_t> seqs;
    std::visit(
        [&](const auto& e) {
          using type = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<type, proto::event::pack>) {
            EXPECT_EQ(e.epoch, epoch);
            for (const auto& m : proto::messages_of(e)) seqs.push_back(m.seq);
          } else if constexpr (std::is_same_v<type, proto::event::msg> ||
                               std::is_same_v<type, proto::event::join>) {
            seqs.push_back(e.seq);
          }
        },
        std::get<proto::any_event>(decoded));
    out.emplace_back(std::string(f.topic), seqs);
  }
  return out;
}

TEST(pub_batcher, a_lone_message_goes_as_the_stored_bytes_not_a_copy) {
  std::vector<publication> pubs{room_msg("dev", 1)};
  pub_batcher batcher;
  auto& frames = batcher.frames(pubs);
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(frames[0].topic, "room/dev/");
  EXPECT_EQ(frames[0].body.to_string_view(), pubs[0].body.view());
  EXPECT_EQ(frames[0].body.data(), pubs[0].body.view().data());  // the same bytes
}

TEST(pub_batcher, consecutive_messages_of_a_room_become_one_pack_of_the_stored_messages) {
  std::vector<publication> pubs{room_msg("dev", 1, 5, "alice", 107), room_msg("dev", 2, 70, "bob", 100),
                                room_msg("dev", 3, 300, "alice", 2000)};
  pub_batcher batcher;
  auto& frames = batcher.frames(pubs);
  ASSERT_EQ(frames.size(), 1U);
  auto decoded = proto::decode_event(frames[0].body.to_string_view());
  ASSERT_TRUE(std::holds_alternative<proto::any_event>(decoded));
  const auto& pack = std::get<proto::event::pack>(std::get<proto::any_event>(decoded));
  EXPECT_EQ(pack.names, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(pack.ts, 100U);  // the smallest, so every delta is >= 0
  const auto msgs = proto::messages_of(pack);
  ASSERT_EQ(msgs.size(), 3U);
  // Each message is the one history keeps, byte for byte.
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(proto::encode(proto::any_event{msgs[i]}), pubs[i].body.view());
}

TEST(pub_batcher, keeps_the_order_across_rooms_and_sys_events) {
  std::vector<publication> pubs{room_msg("a", 1), room_msg("a", 2), room_msg("b", 1), room_msg("a", 3),
                                sys_event(4), room_msg("a", 4), room_msg("a", 5), sys_event(5)};
  pub_batcher batcher;
  const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> expected{
      {"room/a/", {1, 2}}, {"room/b/", {1}}, {"room/a/", {3}}, {"sys/", {4}},
      {"room/a/", {4, 5}}, {"sys/", {5}}};
  EXPECT_EQ(seqs_of(batcher.frames(pubs)), expected);
}

TEST(pub_batcher, a_batch_holds_at_most_max_batch_msgs) {
  std::vector<publication> pubs;
  for (std::uint64_t seq = 1; seq <= 2 * proto::max_batch_msgs + 3; ++seq) pubs.push_back(room_msg("dev", seq));
  pub_batcher batcher;
  const auto frames = seqs_of(batcher.frames(pubs));
  ASSERT_EQ(frames.size(), 3U);
  EXPECT_EQ(frames[0].second.size(), proto::max_batch_msgs);
  EXPECT_EQ(frames[1].second.size(), proto::max_batch_msgs);
  EXPECT_EQ(frames[2].second, (std::vector<std::uint64_t>{2 * proto::max_batch_msgs + 1,
                                                          2 * proto::max_batch_msgs + 2,
                                                          2 * proto::max_batch_msgs + 3}));
}

TEST(pub_batcher, a_batch_holds_at_most_max_batch_bytes_of_bodies) {
  const std::size_t text = proto::max_batch_bytes / 3 - 100;  // three fit, four do not
  std::vector<publication> pubs;
  for (std::uint64_t seq = 1; seq <= 7; ++seq) pubs.push_back(room_msg("dev", seq, text));
  pub_batcher batcher;
  auto& frames = batcher.frames(pubs);
  std::vector<std::size_t> counts;
  for (auto& [topic, seqs] : seqs_of(frames)) counts.push_back(seqs.size());
  EXPECT_EQ(counts, (std::vector<std::size_t>{3, 3, 1}));
  for (auto& f : frames) EXPECT_LE(f.body.size(), proto::max_batch_bytes + 64);
}

TEST(pub_batcher, a_message_larger_than_the_byte_bound_travels_alone) {
  std::vector<publication> pubs{room_msg("dev", 1), room_msg("dev", 2, proto::max_batch_bytes + 1),
                                room_msg("dev", 3)};
  pub_batcher batcher;
  const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> expected{
      {"room/dev/", {1}}, {"room/dev/", {2}}, {"room/dev/", {3}}};
  EXPECT_EQ(seqs_of(batcher.frames(pubs)), expected);
}

}  // namespace
}  // namespace bcast::broker
