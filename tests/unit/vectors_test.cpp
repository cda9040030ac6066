// The shared test vectors (proto/vectors/) against the C++ codec and broker
// core: every valid vector's bytes are exactly its logical message, decode
// to the right type and re-encode to the same bytes; every invalid vector
// gets its error code from the broker. Every client in scripts/clients/
// checks itself against the same files, so the spec, the vectors and the
// code cannot drift apart.
#include <gtest/gtest.h>
#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "bcast/broker/core.hpp"
#include "bcast/broker/memory_history.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/topics.hpp"

namespace bcast {
namespace {

using nlohmann::json;

json load(const std::string& file) {
  std::ifstream in(std::string(BCAST_VECTORS_DIR) + "/" + file);
  EXPECT_TRUE(in) << "cannot open " << file;
  return json::parse(in);
}

std::string unhex(const std::string& hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// A MessagePack object as JSON, independent of the project's codec.
json to_json(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
    case msgpack::type::STR: return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BOOLEAN: return o.via.boolean;
    case msgpack::type::ARRAY: {
      json a = json::array();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(to_json(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      json m = json::object();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        m[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = to_json(kv.val);
      }
      return m;
    }
    default: return nullptr;
  }
}

template <typename Variant>
std::optional<std::string> reencoded(const std::variant<Variant, proto::decode_error>& decoded) {
  if (const auto* error = std::get_if<proto::decode_error>(&decoded)) {
    ADD_FAILURE() << "does not decode: " << error->reason;
    return std::nullopt;
  }
  return proto::encode(std::get<Variant>(decoded));
}

std::string topic_of(const proto::any_event& e) {
  if (const auto* m = std::get_if<proto::event::msg>(&e)) return proto::room_topic(m->room);
  if (const auto* b = std::get_if<proto::event::batch>(&e)) return proto::room_topic(b->room);
  if (const auto* p = std::get_if<proto::event::pack>(&e)) return proto::room_topic(p->room);
  return std::string(proto::sys_topic);
}

TEST(vectors, every_valid_vector_round_trips_byte_for_byte) {
  const json vectors = load("messages.json");
  ASSERT_GE(vectors.size(), 20U);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const std::string bytes = unhex(v["msgpack"]);
    EXPECT_EQ(to_json(msgpack::unpack(bytes.data(), bytes.size()).get()), v["message"]);
    if (v["kind"] == "request") {
      EXPECT_EQ(reencoded(proto::decode_request(bytes)), bytes);
    } else {
      const auto decoded = proto::decode_event(bytes);
      EXPECT_EQ(reencoded(decoded), bytes);
      if (!v["topic"].is_null() && std::holds_alternative<proto::any_event>(decoded)) {
        EXPECT_EQ(topic_of(std::get<proto::any_event>(decoded)), v["topic"].get<std::string>());
      }
    }
  }
}

TEST(vectors, every_invalid_vector_gets_its_error_code_from_the_broker) {
  spdlog::set_level(spdlog::level::off);
  broker::options opts;
  broker::memory_history history(1000, broker::default_history_bytes, 1);
  broker::core core(opts, history);
  broker::outbox out;
  core.on_request("tester", false, proto::encode(proto::request::hello{1, "vector-tester", {}, {}, {}}), 1, out);
  const json vectors = load("invalid.json");
  ASSERT_GE(vectors.size(), 15U);
  int fresh = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["name"].get<std::string>());
    out.clear();
    const std::string sender = v["sender"] == "session" ? "tester" : "fresh-" + std::to_string(++fresh);
    core.on_request(sender, false, unhex(v["msgpack"]), 2, out);
    ASSERT_EQ(out.replies.size(), 1U);
    EXPECT_TRUE(out.publications.empty());
    auto decoded = proto::decode_event(out.replies[0].body);
    ASSERT_TRUE(std::holds_alternative<proto::any_event>(decoded));
    const auto* error = std::get_if<proto::event::error>(&std::get<proto::any_event>(decoded));
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->code, v["error"].get<std::string>()) << error->reason;
  }
}

}  // namespace
}  // namespace bcast
