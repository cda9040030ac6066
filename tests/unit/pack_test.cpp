// The `pack` publication (PROTOCOL.md 6.3) in the codec: encode_pack over
// stored `msg` bodies is the typed encoding, and messages_of gives back those
// very bodies; decode_event refuses what the keys alone do not forbid (no
// entries or more than 64, a sender past the names, an entry of the wrong
// shape, a seq or ts past 2^64 - 1); read_pack
// reads in place what decode_event reads and refuses every truncation,
// trailing byte, unknown or repeated key; read_stored_msg reads exactly what
// encode_msg writes. The older `batch` still decodes to its messages.
#include <msgpack.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/pack.hpp"

namespace {

using namespace bcast::proto;

const std::vector<event::msg> three{{7, 10, 105, "dev", "alice", "one"},
                                    {7, 11, 100, "dev", "bob", "two"},
                                    {7, 12, 400, "dev", "alice", std::string(300, 'x')}};

std::string pack_of(const std::vector<event::msg>& msgs) {
  std::vector<msg_event_view> views;
  for (const auto& m : msgs) views.push_back({m.epoch, m.seq, m.ts, m.room, m.from, m.text});
  std::string out = "reused";
  encode_pack(views, out);
  return out;
}

template <typename... Fields>
std::string packed_map(Fields&&... fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(sizeof...(Fields));
  (fields(p), ...);
  return {buffer.data(), buffer.size()};
}

// A pack of one entry, its keys as given (t and the scalars first).
template <typename Entries>
std::string pack_with(Entries&& entries, std::vector<std::string> names = {"alice"}) {
  return packed_map([](auto& p) { p.pack("t"); p.pack("pack"); }, [](auto& p) { p.pack("epoch"); p.pack(7); },
                    [](auto& p) { p.pack("room"); p.pack("dev"); }, [](auto& p) { p.pack("seq"); p.pack(3); },
                    [](auto& p) { p.pack("ts"); p.pack(100); }, [&](auto& p) { p.pack("names"); p.pack(names); },
                    [&](auto& p) { p.pack("entries"); entries(p); });
}

std::string decode_failure(const std::string& bytes) {
  const auto decoded = decode_event(bytes);
  const auto* error = std::get_if<decode_error>(&decoded);
  return error != nullptr ? error->reason : "decoded";
}

TEST(pack, encode_pack_is_the_typed_encoding_with_smallest_ts_and_names_in_first_order) {
  const event::pack typed{7, "dev", 10, 100, {"alice", "bob"}, {{5, 0, "one"}, {0, 1, "two"}, {300, 0, three[2].text}}};
  EXPECT_EQ(pack_of(three), encode(any_event{typed}));
}

TEST(pack, its_messages_are_the_stored_bodies_byte_for_byte) {
  auto decoded = decode_event(pack_of(three));
  ASSERT_TRUE(std::holds_alternative<any_event>(decoded)) << std::get<decode_error>(decoded).reason;
  const auto msgs = messages_of(std::get<event::pack>(std::get<any_event>(decoded)));
  ASSERT_EQ(msgs.size(), three.size());
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i], three[i]);
    EXPECT_EQ(encode(any_event{msgs[i]}), encode_msg({three[i].epoch, three[i].seq, three[i].ts, three[i].room,
                                                      three[i].from, three[i].text}));
  }
}

TEST(pack, decode_refuses_what_the_keys_alone_allow) {
  EXPECT_EQ(decode_failure(pack_with([](auto& p) { p.pack_array(0); })), "pack: a pack of 0 entries, not 1 to 64");
  const auto entries = [](std::size_t n, std::uint64_t dts) {
    return [n, dts](auto& p) {
      p.pack_array(static_cast<std::uint32_t>(n));
      for (std::size_t i = 0; i < n; ++i) {
        p.pack_array(3);
        p.pack(dts);
        p.pack(0);
        p.pack("hi");
      }
    };
  };
  EXPECT_EQ(decode_failure(pack_with(entries(64, 0))), "decoded");
  EXPECT_EQ(decode_failure(pack_with(entries(65, 0))), "pack: a pack of 65 entries, not 1 to 64");
  // ts 100 + dts past 2^64 - 1, and seqs from 2^64 - 1 on: a wrapped seq would overtake real ones.
  EXPECT_EQ(decode_failure(pack_with(entries(1, UINT64_MAX - 99))), "pack: an entry's ts passes 2^64 - 1");
  EXPECT_EQ(decode_failure(pack_with(entries(1, UINT64_MAX - 100))), "decoded");
  const std::string wrapping =
      packed_map([](auto& p) { p.pack("t"); p.pack("pack"); }, [](auto& p) { p.pack("epoch"); p.pack(7); },
                 [](auto& p) { p.pack("room"); p.pack("dev"); }, [](auto& p) { p.pack("seq"); p.pack(UINT64_MAX); },
                 [](auto& p) { p.pack("ts"); p.pack(100); },
                 [](auto& p) { p.pack("names"); p.pack(std::vector<std::string>{"mallory"}); },
                 [&](auto& p) { p.pack("entries"); entries(2, 0)(p); });
  EXPECT_EQ(decode_failure(wrapping), "pack: the seqs of its entries pass 2^64 - 1");
  EXPECT_EQ(decode_failure(pack_with([](auto& p) {
              p.pack_array(1);
              p.pack_array(3);
              p.pack(0);
              p.pack(1);
              p.pack("hi");
            })),
            "pack: entry sender 1 is past the 1 names");
  EXPECT_NE(decode_failure(pack_with([](auto& p) {
              p.pack_array(1);
              p.pack_array(2);
              p.pack(0);
              p.pack("hi");
            })),
            "decoded");  // two values, not three
  EXPECT_NE(decode_failure(pack_with([](auto& p) {
              p.pack_array(1);
              p.pack_array(3);
              p.pack("0");
              p.pack(0);
              p.pack("hi");
            })),
            "decoded");  // dts a str
  EXPECT_NE(decode_failure(pack_with([](auto& p) {
              p.pack_array(1);
              p.pack_map(0);
            })),
            "decoded");  // an entry that is a map
}

TEST(pack, read_pack_reads_what_decode_event_reads) {
  const std::string bytes = pack_of(three);
  pack_view view;
  view.names = {"stale"};
  ASSERT_TRUE(read_pack(bytes, view));
  const auto decoded = decode_event(bytes);
  const auto& typed = std::get<event::pack>(std::get<any_event>(decoded));
  EXPECT_EQ(view.epoch, typed.epoch);
  EXPECT_EQ(view.seq, typed.seq);
  EXPECT_EQ(view.ts, typed.ts);
  EXPECT_EQ(view.room, typed.room);
  EXPECT_EQ(std::vector<std::string>(view.names.begin(), view.names.end()), typed.names);
  ASSERT_EQ(view.entries.size(), typed.entries.size());
  for (std::size_t i = 0; i < typed.entries.size(); ++i) {
    EXPECT_EQ(view.entries[i].dts, typed.entries[i].dts);
    EXPECT_EQ(view.entries[i].sender, typed.entries[i].sender);
    EXPECT_EQ(view.entries[i].text, typed.entries[i].text);
  }
}

TEST(pack, read_pack_refuses_every_truncation_trailing_bytes_and_other_bodies) {
  const std::string whole = pack_of(three);
  pack_view view;
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(read_pack(std::string_view(whole).substr(0, n), view)) << "cut at " << n;
  }
  EXPECT_FALSE(read_pack(whole + '\0', view));
  EXPECT_FALSE(read_pack(encode(any_event{three[0]}), view));
  EXPECT_FALSE(read_pack(encode(any_event{event::batch{7, "dev", three}}), view));
}

TEST(pack, read_pack_refuses_unknown_or_repeated_keys_and_bad_senders) {
  pack_view view;
  const auto one = [](auto& p) {
    p.pack_array(1);
    p.pack_array(3);
    p.pack(0);
    p.pack(0);
    p.pack("hi");
  };
  EXPECT_TRUE(read_pack(pack_with(one), view));
  EXPECT_FALSE(read_pack(pack_with(one, {}), view));  // sender 0 of no names
  const auto many = [](auto& p) {
    p.pack_array(65);
    for (int i = 0; i < 65; ++i) {
      p.pack_array(3);
      p.pack(0);
      p.pack(0);
      p.pack("hi");
    }
  };
  EXPECT_FALSE(read_pack(pack_with(many), view));  // 65 entries
  const auto late = [](auto& p) {
    p.pack_array(1);
    p.pack_array(3);
    p.pack(UINT64_MAX);
    p.pack(0);
    p.pack("hi");
  };
  EXPECT_FALSE(read_pack(pack_with(late), view));  // ts 100 + dts past 2^64 - 1
  const std::string extra = packed_map([](auto& p) { p.pack("t"); p.pack("pack"); },
                                       [](auto& p) { p.pack("id"); p.pack("x"); });
  EXPECT_FALSE(read_pack(extra, view));
  const std::string twice = packed_map([](auto& p) { p.pack("t"); p.pack("pack"); },
                                       [](auto& p) { p.pack("t"); p.pack("pack"); });
  EXPECT_FALSE(read_pack(twice, view));
  const std::string forged = packed_map([](auto& p) { p.pack("t"); p.pack("pack"); },
                                        [](auto& p) { p.pack("entries"); p.pack_array(4000000000U); });
  EXPECT_FALSE(read_pack(forged, view));
}

TEST(pack, read_stored_msg_reads_exactly_what_encode_msg_writes) {
  const msg_event_view m{7, 10, 100, "dev", "alice", "hello"};
  const std::string stored = encode_msg(m);
  const auto read = read_stored_msg(stored);  // views into `stored`
  ASSERT_TRUE(read);
  EXPECT_EQ(encode_msg(*read), stored);
  EXPECT_FALSE(read_stored_msg(stored + '\0'));
  EXPECT_FALSE(read_stored_msg(encode(any_event{event::join{7, 1, 100, "bob"}})));
  EXPECT_FALSE(read_stored_msg(""));
}

TEST(pack, an_older_batch_still_decodes_to_its_messages) {
  auto decoded = decode_event(encode(any_event{event::batch{7, "dev", three}}));
  ASSERT_TRUE(std::holds_alternative<any_event>(decoded));
  EXPECT_EQ(std::get<event::batch>(std::get<any_event>(decoded)).msgs, three);
}

}  // namespace
