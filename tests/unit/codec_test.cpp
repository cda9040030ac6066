// The MessagePack codec (proto/codec.hpp): every request and every event
// survives encode -> decode with its optional fields present and absent, and
// re-encodes to the same bytes; `encode_history` over pre-encoded `msg` bodies
// reads back as `event::history`; and every malformed body a hostile or buggy
// peer can send is refused with a `decode_error` whose reason names the
// problem (and which carries the request's `id` when that was readable),
// including forged length headers that must be refused before any allocation.
// The broker's in-place reader of plain `msg` requests (proto/msg_view.hpp)
// agrees with decode_request wherever it accepts, and gives up on the rest.
#include <msgpack.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"
#include "bcast/proto/msg_view.hpp"
#include "decoded_as.hpp"

namespace {

using namespace bcast::proto;
using namespace std::string_literals;

// --- helpers -------------------------------------------------------------

// Raw MessagePack, for bodies the typed encoder can never produce.
class raw {
 public:
  raw& map(std::uint32_t n) {
    packer_.pack_map(n);
    return *this;
  }
  raw& array(std::uint32_t n) {
    packer_.pack_array(n);
    return *this;
  }
  raw& str(std::string_view s) {
    packer_.pack_str(static_cast<std::uint32_t>(s.size()));
    packer_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  raw& u64(std::uint64_t v) {
    packer_.pack_uint64(v);
    return *this;
  }
  raw& i64(std::int64_t v) {
    packer_.pack_int64(v);
    return *this;
  }
  // Written by hand: msgpack-c packs an integral double (7.0) as an integer.
  raw& f64(double v) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    char bytes[9] = {'\xcb'};
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    buffer_.write(bytes, sizeof bytes);
    return *this;
  }
  raw& nil() {
    packer_.pack_nil();
    return *this;
  }
  raw& boolean(bool v) {
    if (v) {
      packer_.pack_true();
    } else {
      packer_.pack_false();
    }
    return *this;
  }
  [[nodiscard]] std::string take() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_{buffer_};
};

// Encodes `message` (a request or an event: `Any` is its variant), decodes
// it with `decode`, checks it comes back as the same type and re-encodes to
// identical bytes (so no field was lost or misplaced), and returns the
// decoded copy for field-by-field checks.
template <typename Any, typename T, typename Decode>
T round_trip(const T& message, Decode decode, std::string_view kind) {
  const std::string bytes = encode(Any{message});
  std::string why;
  const auto decoded = bcast::test::decoded_as<T>(decode(bytes), why);
  if (!decoded) {
    ADD_FAILURE() << "not the " << kind << " encoded: " << why;
    return T{};
  }
  EXPECT_EQ(encode(Any{*decoded}), bytes) << "re-encoding changed the bytes";
  return *decoded;
}

template <typename T>
T round_trip_request(const T& message) {
  return round_trip<any_request>(message, [](std::string_view bytes) { return decode_request(bytes); }, "request");
}

template <typename T>
T round_trip_event(const T& message) {
  return round_trip<any_event>(message, [](std::string_view bytes) { return decode_event(bytes); }, "event");
}

// Decodes `bytes` as a request that must be refused; returns the error.
decode_error rejected(std::string_view bytes) {
  auto decoded = decode_request(bytes);
  if (!std::holds_alternative<decode_error>(decoded)) {
    ADD_FAILURE() << "accepted a malformed body";
    return decode_error{};
  }
  auto error = std::get<decode_error>(decoded);
  EXPECT_FALSE(error.reason.empty());
  return error;
}

// The reason must name the problem, so a user (or a log reader) can fix it.
#define EXPECT_REASON(error, fragment)                                         \
  EXPECT_NE((error).reason.find(fragment), std::string::npos)                  \
      << "reason '" << (error).reason << "' does not mention '" << (fragment) << "'"

// --- requests ------------------------------------------------------------

TEST(codec, round_trips_hello_with_every_field) {
  request::hello in;
  in.name = "alice";
  in.session = "0123456789abcdef";
  in.token = "s3cret";
  in.rooms = {"lobby", "dev"};
  const auto out = round_trip_request(in);
  EXPECT_EQ(out.v, protocol_version);
  EXPECT_EQ(out.name, "alice");
  EXPECT_EQ(out.session, in.session);
  EXPECT_EQ(out.token, in.token);
  EXPECT_EQ(out.rooms, in.rooms);
}

TEST(codec, round_trips_hello_without_optional_fields) {
  request::hello in;
  in.v = 7;  // the codec carries any version; the broker judges it
  in.name = "héloïse";
  const auto out = round_trip_request(in);
  EXPECT_EQ(out.v, 7U);
  EXPECT_EQ(out.name, "héloïse");
  EXPECT_FALSE(out.session);
  EXPECT_FALSE(out.token);
  EXPECT_TRUE(out.rooms.empty());
}

TEST(codec, round_trips_msg) {
  const auto out = round_trip_request(request::msg{"hello, world ✓", "dev", 42});
  EXPECT_EQ(out.text, "hello, world ✓");
  EXPECT_EQ(out.room, "dev");
  EXPECT_EQ(out.id, 42U);
}

TEST(codec, round_trips_msg_without_id) {
  const auto out = round_trip_request(request::msg{"hi", "lobby", std::nullopt});
  EXPECT_EQ(out.text, "hi");
  EXPECT_EQ(out.room, "lobby");
  EXPECT_FALSE(out.id);
}

TEST(codec, round_trips_msg_with_largest_id) {
  const auto out = round_trip_request(request::msg{"x", "lobby", UINT64_MAX});
  EXPECT_EQ(out.id, UINT64_MAX);
}

TEST(codec, decodes_msg_without_room_as_lobby) {
  auto decoded = decode_request(raw().map(2).str("t").str("msg").str("text").str("hi").take());
  ASSERT_TRUE(std::holds_alternative<any_request>(decoded));
  const auto& m = std::get<request::msg>(std::get<any_request>(decoded));
  EXPECT_EQ(m.room, default_room);
  EXPECT_EQ(m.text, "hi");
  EXPECT_FALSE(m.id);
}

TEST(codec, round_trips_dm) {
  const auto out = round_trip_request(request::dm{"bob", "psst", 3});
  EXPECT_EQ(out.to, "bob");
  EXPECT_EQ(out.text, "psst");
  EXPECT_EQ(out.id, 3U);
}

TEST(codec, round_trips_dm_without_id) {
  const auto out = round_trip_request(request::dm{"bob", "psst", std::nullopt});
  EXPECT_EQ(out.to, "bob");
  EXPECT_FALSE(out.id);
}

TEST(codec, round_trips_ping) {
  EXPECT_EQ(round_trip_request(request::ping{5}).id, 5U);
  EXPECT_FALSE(round_trip_request(request::ping{}).id);
}

TEST(codec, round_trips_who) {
  EXPECT_EQ(round_trip_request(request::who{9}).id, 9U);
  EXPECT_FALSE(round_trip_request(request::who{}).id);
}

TEST(codec, round_trips_history_with_every_field) {
  const auto out = round_trip_request(request::history{"dev", 10, 50, 4});
  EXPECT_EQ(out.room, "dev");
  EXPECT_EQ(out.after, 10U);
  EXPECT_EQ(out.limit, 50U);
  EXPECT_EQ(out.id, 4U);
}

TEST(codec, round_trips_history_without_optional_fields) {
  request::history in;
  const auto out = round_trip_request(in);
  EXPECT_EQ(out.room, default_room);
  EXPECT_FALSE(out.after);
  EXPECT_EQ(out.limit, max_history_limit);
  EXPECT_FALSE(out.id);
}

TEST(codec, decodes_bare_history_with_defaults) {
  auto decoded = decode_request(raw().map(1).str("t").str("history").take());
  ASSERT_TRUE(std::holds_alternative<any_request>(decoded));
  const auto& h = std::get<request::history>(std::get<any_request>(decoded));
  EXPECT_EQ(h.room, default_room);
  EXPECT_FALSE(h.after);
  EXPECT_EQ(h.limit, max_history_limit);
}

TEST(codec, round_trips_bye) { round_trip_request(request::bye{}); }

TEST(codec, ignores_unknown_keys) {
  auto decoded = decode_request(
      raw().map(3).str("t").str("ping").str("future").array(1).u64(1).str("id").u64(2).take());
  ASSERT_TRUE(std::holds_alternative<any_request>(decoded));
  EXPECT_EQ(std::get<request::ping>(std::get<any_request>(decoded)).id, 2U);
}

// --- events --------------------------------------------------------------

TEST(codec, round_trips_welcome) {
  event::welcome in;
  in.name = "alice";
  in.session = "token";
  in.epoch = 1700000000000;
  in.hb_ivl = 1000;
  in.liveness = 3;
  in.sys_seq = 12;
  in.rooms = {{"dev", 4}, {"lobby", 99}};
  in.max_text = 4096;
  const auto out = round_trip_event(in);
  EXPECT_EQ(out.v, protocol_version);
  EXPECT_EQ(out.name, "alice");
  EXPECT_EQ(out.session, "token");
  EXPECT_EQ(out.epoch, in.epoch);
  EXPECT_EQ(out.hb_ivl, 1000U);
  EXPECT_EQ(out.liveness, 3U);
  EXPECT_EQ(out.sys_seq, 12U);
  EXPECT_EQ(out.rooms, in.rooms);
  EXPECT_EQ(out.max_text, 4096U);
}

TEST(codec, round_trips_welcome_with_no_rooms) {
  event::welcome in;
  in.name = "a";
  in.session = "s";
  EXPECT_TRUE(round_trip_event(in).rooms.empty());
}

TEST(codec, round_trips_ack_of_msg) {
  const auto out = round_trip_event(event::ack{7, "lobby", 3});
  EXPECT_EQ(out.id, 7U);
  EXPECT_EQ(out.room, "lobby");
  EXPECT_EQ(out.seq, 3U);
}

TEST(codec, round_trips_ack_of_dm) {
  const auto out = round_trip_event(event::ack{8, std::nullopt, std::nullopt});
  EXPECT_EQ(out.id, 8U);
  EXPECT_FALSE(out.room);
  EXPECT_FALSE(out.seq);
}

TEST(codec, round_trips_error) {
  const auto out = round_trip_event(event::error{"name-taken", "the name is in use", 11});
  EXPECT_EQ(out.code, "name-taken");
  EXPECT_EQ(out.reason, "the name is in use");
  EXPECT_EQ(out.id, 11U);
  EXPECT_FALSE(round_trip_event(event::error{"version", "v=1 only", std::nullopt}).id);
}

TEST(codec, round_trips_pong) {
  EXPECT_EQ(round_trip_event(event::pong{6}).id, 6U);
  EXPECT_FALSE(round_trip_event(event::pong{}).id);
}

TEST(codec, round_trips_who_event) {
  const auto out = round_trip_event(event::who{{{"zed", 100}, {"amy", 200}}, 2});
  EXPECT_EQ(out.users, (std::vector<event::user>{{"zed", 100}, {"amy", 200}}));
  EXPECT_EQ(out.id, 2U);
  const auto empty = round_trip_event(event::who{});
  EXPECT_TRUE(empty.users.empty());
  EXPECT_FALSE(empty.id);
}

TEST(codec, round_trips_history_event) {
  event::history in;
  in.room = "dev";
  in.msgs = {{5, 1, 100, "dev", "alice", "one"}, {5, 2, 101, "dev", "bob", "two"}};
  in.first = 1;
  in.last = 2;
  in.epoch = 5;
  in.id = 13;
  const auto out = round_trip_event(in);
  EXPECT_EQ(out.room, "dev");
  EXPECT_EQ(out.msgs, in.msgs);
  EXPECT_EQ(out.first, 1U);
  EXPECT_EQ(out.last, 2U);
  EXPECT_EQ(out.epoch, 5U);
  EXPECT_EQ(out.id, 13U);
}

TEST(codec, round_trips_empty_history_without_id) {
  event::history in;
  in.room = "lobby";
  in.first = 8;
  in.last = 7;
  const auto out = round_trip_event(in);
  EXPECT_TRUE(out.msgs.empty());
  EXPECT_EQ(out.first, 8U);
  EXPECT_EQ(out.last, 7U);
  EXPECT_FALSE(out.id);
}

TEST(codec, round_trips_dm_event) {
  const auto out = round_trip_event(event::dm{"alice", "psst", 1234});
  EXPECT_EQ(out.from, "alice");
  EXPECT_EQ(out.text, "psst");
  EXPECT_EQ(out.ts, 1234U);
}

TEST(codec, round_trips_msg_event) {
  const event::msg in{9, 17, 1700000000123, "lobby", "alice", "hi 👋"};
  EXPECT_EQ(round_trip_event(in), in);
}

TEST(codec, round_trips_join) {
  const auto out = round_trip_event(event::join{9, 1, 55, "alice"});
  EXPECT_EQ(out.epoch, 9U);
  EXPECT_EQ(out.seq, 1U);
  EXPECT_EQ(out.ts, 55U);
  EXPECT_EQ(out.name, "alice");
}

TEST(codec, round_trips_leave) {
  const auto out = round_trip_event(event::leave{9, 2, 56, "alice", "timeout"});
  EXPECT_EQ(out.epoch, 9U);
  EXPECT_EQ(out.seq, 2U);
  EXPECT_EQ(out.ts, 56U);
  EXPECT_EQ(out.name, "alice");
  EXPECT_EQ(out.reason, "timeout");
}

TEST(codec, round_trips_hb) {
  const auto out = round_trip_event(event::hb{9, 57, 3, {{"dev", 2}, {"lobby", 40}}, 12});
  EXPECT_EQ(out.epoch, 9U);
  EXPECT_EQ(out.ts, 57U);
  EXPECT_EQ(out.sys_seq, 3U);
  EXPECT_EQ(out.rooms, (std::vector<event::room_seq>{{"dev", 2}, {"lobby", 40}}));
  EXPECT_EQ(out.clients, 12U);
  EXPECT_TRUE(round_trip_event(event::hb{}).rooms.empty());
}

TEST(codec, round_trips_shutdown) {
  const auto out = round_trip_event(event::shutdown{9, 4, 58, "shutdown"});
  EXPECT_EQ(out.epoch, 9U);
  EXPECT_EQ(out.seq, 4U);
  EXPECT_EQ(out.ts, 58U);
  EXPECT_EQ(out.reason, "shutdown");
}

TEST(codec, encode_history_of_encoded_bodies_decodes_as_history) {
  const event::msg one{3, 10, 100, "dev", "alice", "one"};
  const event::msg two{3, 11, 101, "dev", "bob", "two"};
  const std::string a = encode(any_event{one});
  const std::string b = encode(any_event{two});
  const std::vector<std::string_view> bodies{a, b};
  auto decoded = decode_event(encode_history("dev", bodies, 10, 11, 3, 21));
  ASSERT_TRUE(std::holds_alternative<any_event>(decoded))
      << std::get<decode_error>(decoded).reason;
  const auto& h = std::get<event::history>(std::get<any_event>(decoded));
  EXPECT_EQ(h.room, "dev");
  EXPECT_EQ(h.msgs, (std::vector<event::msg>{one, two}));
  EXPECT_EQ(h.first, 10U);
  EXPECT_EQ(h.last, 11U);
  EXPECT_EQ(h.epoch, 3U);
  EXPECT_EQ(h.id, 21U);
}

TEST(codec, encode_history_matches_typed_encoding) {
  event::history typed{"dev", {{3, 10, 100, "dev", "alice", "one"}}, 10, 10, 3, std::nullopt};
  const std::string body = encode(any_event{typed.msgs[0]});
  const std::vector<std::string_view> bodies{body};
  EXPECT_EQ(encode_history("dev", bodies, 10, 10, 3, std::nullopt), encode(any_event{typed}));
}

TEST(codec, encode_history_of_no_bodies_decodes_as_empty_history) {
  auto decoded = decode_event(encode_history("lobby", {}, 1, 0, 3, std::nullopt));
  ASSERT_TRUE(std::holds_alternative<any_event>(decoded));
  const auto& h = std::get<event::history>(std::get<any_event>(decoded));
  EXPECT_TRUE(h.msgs.empty());
  EXPECT_EQ(h.first, 1U);
  EXPECT_EQ(h.last, 0U);
  EXPECT_FALSE(h.id);
}

TEST(codec, rejects_request_type_as_event_and_event_type_as_request) {
  EXPECT_TRUE(std::holds_alternative<decode_error>(
      decode_event(encode(any_request{request::hello{1, "a", {}, {}, {}}}))));
  EXPECT_TRUE(std::holds_alternative<decode_error>(
      decode_request(encode(any_event{event::welcome{}}))));
}

TEST(codec, rejects_event_with_missing_required_key) {
  auto decoded = decode_event(raw().map(2).str("t").str("join").str("name").str("a").take());
  ASSERT_TRUE(std::holds_alternative<decode_error>(decoded));
  EXPECT_REASON(std::get<decode_error>(decoded), "is missing");
}

TEST(codec, rejects_history_event_with_malformed_msg_entry) {
  const std::string bad_entry = raw().map(1).str("t").str("msg").take();
  const std::vector<std::string_view> bodies{bad_entry};
  auto decoded = decode_event(encode_history("dev", bodies, 1, 1, 3, std::nullopt));
  ASSERT_TRUE(std::holds_alternative<decode_error>(decoded));
  EXPECT_REASON(std::get<decode_error>(decoded), "msgs entry");
}

// --- malformed bodies ----------------------------------------------------

TEST(codec, rejects_empty_bytes) {
  const auto error = rejected("");
  EXPECT_REASON(error, "MessagePack");
  EXPECT_FALSE(error.id);
}

TEST(codec, rejects_garbage_bytes) {
  for (const std::string& garbage : {"\xc1"s, "\xc1\xc1\xc1\xc1"s, "hello world"s, "\xff\xfe\x00\x01"s,
                                    "GET / HTTP/1.1\r\n\r\n"s}) {
    SCOPED_TRACE(garbage);
    rejected(garbage);
  }
}

TEST(codec, rejects_random_bytes_without_throwing) {
  std::mt19937 random(20240601);  // fixed seed: the same bytes every run
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(1, 64);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(length(random), '\0');
    for (auto& c : bytes) c = static_cast<char>(byte(random));
    SCOPED_TRACE(round);
    rejected(bytes);
  }
}

TEST(codec, rejects_truncated_map) {
  const std::string whole = encode(any_request{request::msg{"hello there", "lobby", 7}});
  for (std::size_t keep = 1; keep < whole.size(); ++keep) {
    SCOPED_TRACE(keep);
    rejected(std::string_view(whole).substr(0, keep));
  }
  EXPECT_REASON(rejected(std::string_view(whole).substr(0, whole.size() - 1)), "insufficient");
}

TEST(codec, rejects_non_map_bodies) {
  EXPECT_REASON(rejected(raw().array(2).str("t").str("ping").take()), "not a MessagePack map");
  EXPECT_REASON(rejected(raw().u64(42).take()), "not a MessagePack map");
  EXPECT_REASON(rejected(raw().str("ping").take()), "not a MessagePack map");
  EXPECT_REASON(rejected(raw().nil().take()), "not a MessagePack map");
}

TEST(codec, rejects_trailing_bytes_after_map) {
  const std::string body = encode(any_request{request::ping{}});
  EXPECT_REASON(rejected(body + "\x01"), "after");
  EXPECT_REASON(rejected(body + body), "after");
}

TEST(codec, rejects_non_string_key) {
  EXPECT_REASON(rejected(raw().map(2).str("t").str("ping").u64(1).str("x").take()),
                "key is not a string");
}

TEST(codec, rejects_duplicate_key) {
  EXPECT_REASON(rejected(raw().map(2).str("t").str("ping").str("t").str("ping").take()),
                "twice");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("msg").str("text").str("a").str("text").str("b").take()),
                "twice");
}

TEST(codec, rejects_missing_type) {
  EXPECT_REASON(rejected(raw().map(1).str("text").str("hi").take()), "'t'");
  EXPECT_REASON(rejected(raw().map(0).take()), "'t' is missing");
}

TEST(codec, rejects_type_that_is_not_a_string) {
  EXPECT_REASON(rejected(raw().map(1).str("t").u64(1).take()), "'t'");
  EXPECT_REASON(rejected(raw().map(1).str("t").nil().take()), "'t'");
}

TEST(codec, rejects_unknown_type) {
  EXPECT_REASON(rejected(raw().map(1).str("t").str("launch").take()), "launch");
  EXPECT_REASON(rejected(raw().map(1).str("t").str("").take()), "unknown");
  EXPECT_REASON(rejected(raw().map(1).str("t").str("MSG").take()), "unknown");
}

TEST(codec, rejects_missing_required_key) {
  EXPECT_REASON(rejected(raw().map(2).str("t").str("msg").str("room").str("lobby").take()),
                "'text' is missing");
  EXPECT_REASON(rejected(raw().map(2).str("t").str("hello").str("v").u64(1).take()),
                "'name' is missing");
  EXPECT_REASON(rejected(raw().map(2).str("t").str("hello").str("name").str("a").take()),
                "'v' is missing");
  EXPECT_REASON(rejected(raw().map(2).str("t").str("dm").str("text").str("x").take()),
                "'to' is missing");
}

TEST(codec, rejects_known_key_of_wrong_type) {
  EXPECT_REASON(rejected(raw().map(2).str("t").str("msg").str("text").u64(5).take()),
                "'text' must be a string");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("msg").str("text").str("a").str("room").boolean(true).take()),
                "'room' must be a string");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("history").str("limit").str("10").str("id").u64(1).take()),
                "'limit'");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("hello").str("v").str("1").str("name").str("a").take()),
                "'v'");
}

TEST(codec, rejects_id_of_wrong_type) {
  const auto body = [](auto&& write_id) {
    raw r;
    r.map(3).str("t").str("msg").str("text").str("hi").str("id");
    write_id(r);
    return r.take();
  };
  const auto as_string = rejected(body([](raw& r) { r.str("7"); }));
  EXPECT_REASON(as_string, "'id' must be an unsigned integer");
  EXPECT_FALSE(as_string.id);
  const auto negative = rejected(body([](raw& r) { r.i64(-1); }));
  EXPECT_REASON(negative, "'id' must be an unsigned integer");
  EXPECT_FALSE(negative.id);
  const auto as_float = rejected(body([](raw& r) { r.f64(7.0); }));
  EXPECT_REASON(as_float, "'id' must be an unsigned integer");
  EXPECT_FALSE(as_float.id);
  EXPECT_REASON(rejected(body([](raw& r) { r.f64(7.5); })), "'id'");
  EXPECT_REASON(rejected(body([](raw& r) { r.nil(); })), "'id'");
}

TEST(codec, rejects_rooms_that_are_not_an_array) {
  EXPECT_REASON(rejected(raw().map(4).str("t").str("hello").str("v").u64(1).str("name").str("a")
                             .str("rooms").str("lobby").take()),
                "'rooms' must be an array");
  EXPECT_REASON(rejected(raw().map(4).str("t").str("hello").str("v").u64(1).str("name").str("a")
                             .str("rooms").array(1).u64(3).take()),
                "rooms entry");
}

TEST(codec, rejects_hello_with_too_many_rooms) {
  raw r;
  r.map(4).str("t").str("hello").str("v").u64(1).str("name").str("a").str("rooms");
  r.array(static_cast<std::uint32_t>(max_hello_rooms + 1));
  for (std::size_t i = 0; i <= max_hello_rooms; ++i) r.str("r" + std::to_string(i));
  EXPECT_REASON(rejected(r.take()), "too many");
}

TEST(codec, rejects_invalid_utf8_in_text) {
  EXPECT_REASON(rejected(raw().map(3).str("t").str("msg").str("text").str("ab\xff").str("id").u64(4).take()),
                "UTF-8");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("hello").str("v").u64(1).str("name").str("\xc0\x80").take()),
                "UTF-8");
  EXPECT_REASON(rejected(raw().map(1).str("t").str("pi\xed\xa0\x80").take()), "UTF-8");
}

// PROTOCOL: a body "carrying invalid UTF-8 in a string" is bad-request; map
// keys are strings too.
TEST(codec, rejects_invalid_utf8_in_key) {
  EXPECT_REASON(rejected(raw().map(2).str("t").str("ping").str("\xff").u64(1).take()), "UTF-8");
  EXPECT_REASON(rejected(raw().map(3).str("t").str("msg").str("text").str("hi").str("x\xc3").u64(1).take()),
                "UTF-8");
}

// A ping whose extra key holds `arrays` nested arrays: the root map is one
// more level.
std::string ping_nested(std::size_t arrays) {
  raw r;
  r.map(2).str("t").str("ping").str("x");
  for (std::size_t i = 0; i < arrays; ++i) r.array(1);
  r.u64(0);
  return r.take();
}

TEST(codec, accepts_nesting_up_to_max_decode_depth) {
  auto decoded = decode_request(ping_nested(max_decode_depth - 1));
  EXPECT_TRUE(std::holds_alternative<any_request>(decoded))
      << std::get<decode_error>(decoded).reason;
}

TEST(codec, rejects_nesting_deeper_than_max_decode_depth) {
  EXPECT_REASON(rejected(ping_nested(max_decode_depth)), "depth");
  EXPECT_REASON(rejected(ping_nested(10000)), "depth");
  EXPECT_REASON(rejected(std::string(100000, '\x91')), "depth");  // [[[[…
}

// Issue 15 (an anonymous frame of 16.7 million objects took 1 GB): a request
// holds at most max_request_objects objects, counted before decoding.
// A ping whose extra key holds an array of `n` fixints is 5 + n objects.
std::string ping_with_objects(std::size_t objects) {
  raw r;
  r.map(2).str("t").str("ping").str("x").array(static_cast<std::uint32_t>(objects - 5));
  for (std::size_t i = 0; i < objects - 5; ++i) r.u64(1);
  return r.take();
}

TEST(codec, a_request_of_max_request_objects_decodes_and_one_more_is_refused) {
  auto at_limit = decode_request(ping_with_objects(max_request_objects));
  EXPECT_TRUE(std::holds_alternative<any_request>(at_limit)) << std::get<decode_error>(at_limit).reason;
  EXPECT_REASON(rejected(ping_with_objects(max_request_objects + 1)), "MessagePack objects");
  EXPECT_REASON(rejected(ping_with_objects(60000)), "MessagePack objects");
}

// A header that claims 2^32-1 entries or bytes must be refused from the limit
// check, before the decoder reserves room for them: the reason then names the
// size overflow, not a failed allocation or the missing bytes after it.
TEST(codec, rejects_forged_huge_length_headers_before_allocating) {
  const std::string huge = "\xff\xff\xff\xff"s;
  EXPECT_REASON(rejected("\xdd"s + huge), "array size overflow");
  EXPECT_REASON(rejected("\xdf"s + huge), "map size overflow");
  // Inside a well-formed start: {"t": "ping", "x": <forged>}
  const std::string prefix = raw().map(2).str("t").str("ping").str("x").take();
  EXPECT_REASON(rejected(prefix + "\xdd"s + huge), "array size overflow");
  EXPECT_REASON(rejected(prefix + "\xdf"s + huge), "map size overflow");
  // Strings and bins are only materialised once their bytes are there.
  rejected("\xdb"s + huge);
  rejected(prefix + "\xdb"s + huge);
  rejected(prefix + "\xc6"s + huge);
  // Just past the frame limit is refused as well.
  rejected("\xdd\x00\x01\x00\x01"s);
}

// A count the body has no bytes for is refused from the limit check too, not
// only one past the frame limit: otherwise a 5-byte body claiming 65535
// entries makes the decoder reserve 1-2 MiB (up to 8 such at once, one per
// nesting level) before it finds the bytes missing. Found by fuzz_codec.
TEST(codec, rejects_counts_larger_than_the_body_before_allocating) {
  EXPECT_REASON(rejected("\xdd\x00\x00\xff\xff"s), "array size overflow");
  EXPECT_REASON(rejected("\xdf\x00\x00\xff\xff"s), "map size overflow");
  EXPECT_REASON(rejected("\xdc\xff\xff"s), "array size overflow");
  EXPECT_REASON(rejected("\xde\xff\xff"s), "map size overflow");
  // {"t": "ping", "x": <array or map of 65535, with no bytes for them>}
  const std::string prefix = raw().map(2).str("t").str("ping").str("x").take();
  EXPECT_REASON(rejected(prefix + "\xdc\xff\xff"s), "array size overflow");
  EXPECT_REASON(rejected(prefix + "\xde\xff\xff"s), "map size overflow");
  // A container exactly as large as its bytes allow still decodes.
  const std::string wide = raw().map(2).str("t").str("ping").str("x").take() + "\x9f" +
                           std::string(15, '\x00');
  EXPECT_TRUE(std::holds_alternative<any_request>(decode_request(wide)));
}

TEST(codec, error_carries_the_id_when_readable) {
  const auto text_as_int =
      rejected(raw().map(3).str("t").str("msg").str("id").u64(7).str("text").u64(1).take());
  EXPECT_EQ(text_as_int.id, 7U);
  const auto unknown_type = rejected(raw().map(2).str("t").str("nope").str("id").u64(8).take());
  EXPECT_EQ(unknown_type.id, 8U);
  const auto missing_type = rejected(raw().map(1).str("id").u64(9).take());
  EXPECT_EQ(missing_type.id, 9U);
  const auto bad_utf8 =
      rejected(raw().map(3).str("t").str("dm").str("to").str("\xfe").str("id").u64(10).take());
  EXPECT_EQ(bad_utf8.id, 10U);
  EXPECT_FALSE(rejected(raw().map(2).str("id").u64(7).str("id").u64(7).take()).id)
      << "a map with a duplicate key is not read at all";
}

// The body writer writes MessagePack itself: byte for byte what msgpack-c's
// packer writes, at every width boundary of strings, integers and containers.
TEST(codec, bodies_are_written_as_msgpack_c_writes_them) {
  for (const std::size_t size : {1U, 31U, 32U, 255U, 256U, 65535U, 65536U}) {
    const std::string text(size, 'q');
    for (const std::uint64_t id : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128}, std::uint64_t{255},
                                   std::uint64_t{256}, std::uint64_t{65535}, std::uint64_t{65536},
                                   std::uint64_t{0xFFFFFFFF}, std::uint64_t{1} << 32, ~std::uint64_t{0}}) {
      EXPECT_EQ(encode(any_request{request::msg{text, "lobby", id}}),
                raw().map(4).str("t").str("msg").str("room").str("lobby").str("text").str(text).str("id").u64(id).take())
          << size << " " << id;
    }
  }
  for (const std::size_t rooms : {15U, 16U, 65536U}) {
    event::hb hb{1, 2, 3, {}, 4};
    raw expected;
    expected.map(6).str("t").str("hb").str("epoch").u64(1).str("ts").u64(2).str("sys_seq").u64(3).str("rooms").map(
        static_cast<std::uint32_t>(rooms));
    for (std::size_t i = 0; i < rooms; ++i) {
      hb.rooms.push_back({"r" + std::to_string(i), i});
      expected.str("r" + std::to_string(i)).u64(i);
    }
    expected.str("clients").u64(4);
    EXPECT_EQ(encode(any_event{hb}), expected.take()) << rooms;
  }
  request::hello hello;
  hello.name = "n";
  raw expected;
  expected.map(4).str("t").str("hello").str("v").u64(1).str("name").str("n").str("rooms").array(16);
  for (int i = 0; i < 16; ++i) {
    hello.rooms.push_back("r" + std::to_string(i));
    expected.str("r" + std::to_string(i));
  }
  EXPECT_EQ(encode(any_request{hello}), expected.take());
}

// --- the in-place reader of plain `msg` requests ---------------------------

// read_plain_msg must accept `bytes` and agree with decode_request.
void expect_plain(const std::string& bytes, std::string_view room, std::string_view text,
                  std::optional<std::uint64_t> id) {
  const auto plain = read_plain_msg(bytes);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->room, room);
  EXPECT_EQ(plain->text, text);
  EXPECT_EQ(plain->id, id);
  const auto decoded = decode_request(bytes);
  ASSERT_TRUE(std::holds_alternative<any_request>(decoded));
  const auto* m = std::get_if<request::msg>(&std::get<any_request>(decoded));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->room, plain->room);
  EXPECT_EQ(m->text, plain->text);
  EXPECT_EQ(m->id, plain->id);
}

TEST(plain_msg, reads_what_every_client_sends) {
  expect_plain(encode(any_request{request::msg{"hi", "lobby", 7}}), "lobby", "hi", 7);
  expect_plain(encode(any_request{request::msg{"hi", "news", std::nullopt}}), "news", "hi", std::nullopt);
  // Keys in any order; room absent means the default room.
  expect_plain(raw().map(3).str("id").u64(1).str("text").str("x").str("t").str("msg").take(), "lobby",
               "x", 1);
}

TEST(plain_msg, reads_every_string_and_integer_width) {
  for (const std::size_t size : {1U, 31U, 32U, 255U, 256U, 65000U}) {
    const std::string text(size, 'a');
    expect_plain(encode(any_request{request::msg{text, "lobby", 1}}), "lobby", text, 1);
  }
  // str 32 and uint 64 for small values: legal, if never what msgpack-c writes.
  expect_plain(raw().map(3).str("t").str("msg").take() + "\xa4text\xdb\x00\x00\x00\x02hi"s +
                   "\xa2id\xcf\x00\x00\x00\x00\x00\x00\x00\x05"s,
               "lobby", "hi", 5);
  for (const std::uint64_t id : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128},
                                 std::uint64_t{65536}, std::uint64_t{1} << 32, ~std::uint64_t{0}}) {
    expect_plain(encode(any_request{request::msg{"t", "lobby", id}}), "lobby", "t", id);
  }
}

TEST(plain_msg, leaves_every_other_body_to_the_decoder) {
  const auto plain = [](const std::string& bytes) { return read_plain_msg(bytes).has_value(); };
  const std::string good = raw().map(3).str("t").str("msg").str("text").str("hi").str("id").u64(1).take();
  ASSERT_TRUE(plain(good));
  EXPECT_FALSE(plain(good + "\x00"s));                                                  // bytes after
  EXPECT_FALSE(plain(raw().map(2).str("t").str("ping").str("text").str("hi").take()));  // not a msg
  EXPECT_FALSE(plain(raw().map(1).str("t").str("msg").take()));                          // no text
  EXPECT_FALSE(plain(raw().map(3).str("t").str("msg").str("text").str("a").str("text").str("b").take()));
  EXPECT_FALSE(plain(raw().map(3).str("t").str("msg").str("text").str("a").str("x").u64(1).take()));
  EXPECT_FALSE(plain(raw().map(3).str("t").str("msg").str("text").str("a").str("id").i64(-1).take()));
  EXPECT_FALSE(plain(raw().map(3).str("t").str("msg").str("text").str("a").str("id").str("1").take()));
  EXPECT_FALSE(plain(raw().map(2).str("t").str("msg").str("text").u64(5).take()));
  EXPECT_FALSE(plain(raw().map(2).str("t").str("msg").str("text").str("\xff").take()));  // not UTF-8
  EXPECT_FALSE(plain(raw().map(3).str("t").str("msg").str("text").str("a").str("room").str("\xc0\x80").take()));
  EXPECT_FALSE(plain(raw().array(1).str("msg").take()));
  // Past the largest frame the decoder reads, it refuses; so does this.
  EXPECT_FALSE(plain(encode(any_request{request::msg{std::string(default_max_frame, 'a'), "lobby", 1}})));
  EXPECT_FALSE(plain(""));
  // Every truncation of a plain body is given up, never read past its end.
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(plain(good.substr(0, n))) << n;
  EXPECT_FALSE(plain(raw().map(1).str("t").take() + "\xdb\xff\xff\xff\xffmsg"s));  // forged length
}

TEST(plain_msg, encode_msg_writes_what_encode_writes) {
  const event::msg m{3, 42, 1700000000000, "lobby", "alice", std::string(300, 'z')};
  EXPECT_EQ(encode_msg({m.epoch, m.seq, m.ts, m.room, m.from, m.text}), encode(any_event{m}));
}


}  // namespace

