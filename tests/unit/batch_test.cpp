// The `batch` publication (PROTOCOL.md 6.3) in the codec: encode_batch over
// pre-encoded `msg` bodies is the typed encoding and decodes back to its
// messages; is_batch tells a batch by its `t` in any key order; split_batch
// finds the same bodies in place, steps over unknown keys of every
// MessagePack format, and refuses anything that is not one well-formed batch
// map (truncated, trailing bytes, forged counts, an element
// that is not a map, a key twice).
#include <msgpack.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/codec.hpp"

namespace {

using namespace bcast::proto;

const std::vector<event::msg> three{{7, 10, 100, "dev", "alice", "one"},
                                    {7, 11, 101, "dev", "bob", "two"},
                                    {7, 12, 102, "dev", "alice", std::string(300, 'x')}};

std::vector<std::string> bodies_of(const std::vector<event::msg>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(encode(any_event{m}));
  return out;
}

std::string batch_of(const std::vector<std::string>& bodies) {
  const std::vector<std::string_view> views(bodies.begin(), bodies.end());
  return encode_batch("dev", 7, views);
}

template <typename... Fields>
std::string packed_map(Fields&&... pack_entries) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(sizeof...(Fields));
  (pack_entries(p), ...);
  return {buffer.data(), buffer.size()};
}

TEST(batch, encode_batch_of_bodies_is_the_typed_encoding) {
  const auto bodies = bodies_of(three);
  EXPECT_EQ(batch_of(bodies), encode(any_event{event::batch{7, "dev", three}}));
}

TEST(batch, decodes_to_its_messages_in_order) {
  auto decoded = decode_event(batch_of(bodies_of(three)));
  ASSERT_TRUE(std::holds_alternative<any_event>(decoded)) << std::get<decode_error>(decoded).reason;
  const auto& b = std::get<event::batch>(std::get<any_event>(decoded));
  EXPECT_EQ(b.epoch, 7U);
  EXPECT_EQ(b.room, "dev");
  EXPECT_EQ(b.msgs, three);
}

TEST(batch, header_is_what_precedes_the_bodies) {
  const auto bodies = bodies_of(three);
  std::string header;
  encode_batch_header("dev", 7, bodies.size(), header);
  EXPECT_EQ(batch_of(bodies), header + bodies[0] + bodies[1] + bodies[2]);
}

TEST(batch, decode_rejects_a_malformed_entry) {
  const std::vector<std::string> bad{packed_map([](auto& p) { p.pack("t"); p.pack("msg"); })};
  auto decoded = decode_event(batch_of(bad));
  ASSERT_TRUE(std::holds_alternative<decode_error>(decoded));
  EXPECT_NE(std::get<decode_error>(decoded).reason.find("msgs entry"), std::string::npos);
}

TEST(batch, decode_rejects_an_entry_that_is_not_a_msg) {
  auto bodies = bodies_of(three);
  bodies[2][bodies[2].find("msg") + 2] = 'e';  // t = "mse" (found by fuzz_codec)
  auto decoded = decode_event(batch_of(bodies));
  ASSERT_TRUE(std::holds_alternative<decode_error>(decoded));
  EXPECT_NE(std::get<decode_error>(decoded).reason.find("msgs entry"), std::string::npos);
}

TEST(batch, split_finds_each_body_byte_for_byte) {
  const auto bodies = bodies_of(three);
  const std::string batch = batch_of(bodies);  // the views point into it
  const auto split = split_batch(batch);
  ASSERT_TRUE(split);
  ASSERT_EQ(split->size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ((*split)[i], bodies[i]);
}

TEST(batch, split_of_an_empty_batch_is_empty) {
  const auto split = split_batch(batch_of({}));
  ASSERT_TRUE(split);
  EXPECT_TRUE(split->empty());
}

TEST(batch, split_steps_over_unknown_keys_of_every_format_in_any_order) {
  const std::string body = encode(any_event{three[0]});
  const std::string batch = packed_map(
      [](auto& p) { p.pack("future"); p.pack_array(3); p.pack_nil(); p.pack_true(); p.pack(-5); },
      [&](auto& p) {
        p.pack("msgs");
        p.pack_array(1);
        p.pack_map(0);  // a placeholder entry, replaced below
      },
      [](auto& p) {
        p.pack("blob");
        p.pack_map(5);
        p.pack("bin"); p.pack_bin(3); p.pack_bin_body("\x01\x02\x03", 3);
        p.pack("ext"); p.pack_ext(2, 9); p.pack_ext_body("ab", 2);
        p.pack("f32"); p.pack_float(1.5F);
        p.pack("f64"); p.pack_double(2.25);
        p.pack("big"); p.pack(-5000000000LL);
      },
      [](auto& p) { p.pack("t"); p.pack("batch"); });
  // Put a real body where the placeholder map (0x80) is.
  const auto at = batch.find("\x91\x80");
  ASSERT_NE(at, std::string::npos);
  const std::string real = batch.substr(0, at + 1) + body + batch.substr(at + 2);
  const auto split = split_batch(real);
  ASSERT_TRUE(split);
  ASSERT_EQ(split->size(), 1U);
  EXPECT_EQ(split->front(), body);
}

TEST(batch, split_refuses_what_is_not_a_batch) {
  EXPECT_FALSE(split_batch(encode(any_event{three[0]})));  // a msg
  EXPECT_FALSE(split_batch(encode(any_event{event::history{"dev", three, 10, 12, 7, {}}})));
  EXPECT_FALSE(split_batch(""));
  EXPECT_FALSE(split_batch("\x93\x01\x02\x03"));  // an array
  EXPECT_FALSE(split_batch(packed_map([](auto& p) { p.pack("t"); p.pack("batch"); })));  // no msgs
}

TEST(batch, is_batch_reads_the_type_wherever_the_key_comes) {
  EXPECT_TRUE(is_batch(batch_of(bodies_of(three))));
  EXPECT_TRUE(is_batch(packed_map([](auto& p) { p.pack("msgs"); p.pack_array(0); },
                                  [](auto& p) { p.pack("t"); p.pack("batch"); })));
  EXPECT_FALSE(is_batch(encode(any_event{three[0]})));
  EXPECT_FALSE(is_batch(encode(any_event{event::history{"dev", three, 10, 12, 7, {}}})));
  EXPECT_FALSE(is_batch(""));
  EXPECT_FALSE(is_batch("\x93\x01\x02\x03"));  // an array
  EXPECT_FALSE(is_batch(packed_map([](auto& p) { p.pack("t"); p.pack(5); })));
  EXPECT_FALSE(is_batch(packed_map([](auto& p) { p.pack("room"); p.pack("dev"); })));  // no t
  const std::string whole = batch_of(bodies_of(three));
  EXPECT_FALSE(is_batch(std::string_view(whole).substr(0, 5)));  // cut inside "batch"
}

TEST(batch, split_refuses_every_truncation_and_trailing_bytes) {
  const std::string whole = batch_of(bodies_of(three));
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(split_batch(std::string_view(whole).substr(0, n))) << "cut at " << n;
  }
  EXPECT_FALSE(split_batch(whole + '\0'));
}

TEST(batch, split_refuses_forged_counts_entries_that_are_not_maps_and_keys_twice) {
  const std::string forged = packed_map([](auto& p) { p.pack("t"); p.pack("batch"); },
                                        [](auto& p) { p.pack("msgs"); p.pack_array(4000000000U); });
  EXPECT_FALSE(split_batch(forged));
  const std::string not_map = packed_map([](auto& p) { p.pack("t"); p.pack("batch"); },
                                         [](auto& p) { p.pack("msgs"); p.pack_array(1); p.pack("x"); });
  EXPECT_FALSE(split_batch(not_map));
  const std::string t_twice = packed_map([](auto& p) { p.pack("t"); p.pack("batch"); },
                                         [](auto& p) { p.pack("t"); p.pack("batch"); },
                                         [](auto& p) { p.pack("msgs"); p.pack_array(0); });
  EXPECT_FALSE(split_batch(t_twice));
  const std::string msgs_twice = packed_map([](auto& p) { p.pack("t"); p.pack("batch"); },
                                            [](auto& p) { p.pack("msgs"); p.pack_array(0); },
                                            [](auto& p) { p.pack("msgs"); p.pack_array(0); });
  EXPECT_FALSE(split_batch(msgs_twice));
}

TEST(batch, split_refuses_nesting_deeper_than_the_decoder_takes) {
  std::string deep = packed_map([](auto& p) { p.pack("t"); p.pack("batch"); },
                                [](auto& p) { p.pack("msgs"); p.pack_array(0); },
                                [](auto& p) {
                                  p.pack("deep");
                                  for (int i = 0; i < 20; ++i) p.pack_array(1);
                                  p.pack_nil();
                                });
  EXPECT_FALSE(split_batch(deep));
}

}  // namespace
