// Decoding of untrusted bodies into typed messages. Each type's decoder is
// the list of its keys; body_reader records the first problem, and any
// problem turns into one decode_error carrying the request id if it had one.
#include <functional>
#include <map>
#include <string>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"
#include "body_reader.hpp"
#include "msgpack_cursor.hpp"

namespace bcast::proto {
namespace {

using detail::body_reader;

template <typename Message>
using decoder = std::function<Message(body_reader&)>;

std::vector<std::string> read_string_array(body_reader& r, std::string_view key,
                                           std::size_t max_entries) {
  std::vector<std::string> out;
  const msgpack::object* array = r.opt_array(key);
  if (array == nullptr) return out;
  if (array->via.array.size > max_entries) {
    r.fail("key '" + std::string(key) + "' has too many entries");
    return out;
  }
  for (std::uint32_t i = 0; i < array->via.array.size; ++i) {
    out.push_back(r.as_str(array->via.array.ptr[i], std::string(key) + " entry").value_or(""));
  }
  return out;
}

std::vector<event::room_seq> read_room_seqs(body_reader& r, std::string_view key) {
  std::vector<event::room_seq> out;
  const msgpack::object* map = r.opt_map(key);
  if (map == nullptr) {
    r.fail("key '" + std::string(key) + "' is missing");
    return out;
  }
  for (std::uint32_t i = 0; i < map->via.map.size; ++i) {
    const auto& kv = map->via.map.ptr[i];
    auto room = r.as_str(kv.key, std::string(key) + " key");
    auto seq = r.as_u64(kv.val, std::string(key) + " value");
    out.push_back({room.value_or(""), seq.value_or(0)});
  }
  return out;
}

event::msg read_msg(body_reader& r) {
  event::msg m;
  m.epoch = r.u64("epoch");
  m.seq = r.u64("seq");
  m.ts = r.u64("ts");
  m.room = r.str("room");
  m.from = r.str("from");
  m.text = r.str("text");
  return m;
}

// The `msgs` array of a `history` or `batch` body.
std::vector<event::msg> read_msgs(body_reader& r) {
  std::vector<event::msg> out;
  const msgpack::object* msgs = r.opt_array("msgs");
  if (msgs == nullptr) r.fail("key 'msgs' is missing");
  for (std::uint32_t i = 0; msgs != nullptr && i < msgs->via.array.size; ++i) {
    body_reader entry(msgs->via.array.ptr[i]);
    if (entry.str("t") != "msg") entry.fail("its 't' is not \"msg\"");
    out.push_back(read_msg(entry));
    if (entry.failed()) r.fail("msgs entry: " + entry.error());
  }
  return out;
}

const std::map<std::string, decoder<any_request>, std::less<>>& request_decoders() {
  static const std::map<std::string, decoder<any_request>, std::less<>> table{
      {"hello",
       [](body_reader& r) -> any_request {
         request::hello m;
         m.v = r.u64("v");
         m.name = r.str("name");
         m.session = r.opt_str("session");
         m.token = r.opt_str("token");
         m.rooms = read_string_array(r, "rooms", max_hello_rooms);
         return m;
       }},
      {"msg",
       [](body_reader& r) -> any_request {
         request::msg m;
         m.text = r.str("text");
         m.room = r.opt_str("room").value_or(std::string(default_room));
         m.id = r.opt_u64("id");
         return m;
       }},
      {"dm",
       [](body_reader& r) -> any_request {
         return request::dm{r.str("to"), r.str("text"), r.opt_u64("id")};
       }},
      {"ping", [](body_reader& r) -> any_request { return request::ping{r.opt_u64("id")}; }},
      {"who", [](body_reader& r) -> any_request { return request::who{r.opt_u64("id")}; }},
      {"history",
       [](body_reader& r) -> any_request {
         request::history m;
         m.room = r.opt_str("room").value_or(std::string(default_room));
         m.after = r.opt_u64("after");
         m.limit = r.opt_u64("limit").value_or(max_history_limit);
         m.id = r.opt_u64("id");
         return m;
       }},
      {"bye", [](body_reader& r) -> any_request { return request::bye{r.opt_u64("id")}; }},
  };
  return table;
}

const std::map<std::string, decoder<any_event>, std::less<>>& event_decoders() {
  static const std::map<std::string, decoder<any_event>, std::less<>> table{
      {"welcome",
       [](body_reader& r) -> any_event {
         event::welcome m;
         m.v = r.u64("v");
         m.name = r.str("name");
         m.session = r.str("session");
         m.epoch = r.u64("epoch");
         m.hb_ivl = r.u64("hb_ivl");
         m.liveness = r.u64("liveness");
         m.sys_seq = r.u64("sys_seq");
         m.rooms = read_room_seqs(r, "rooms");
         m.max_text = r.u64("max_text");
         return m;
       }},
      {"ack",
       [](body_reader& r) -> any_event {
         return event::ack{r.u64("id"), r.opt_str("room"), r.opt_u64("seq")};
       }},
      {"error",
       [](body_reader& r) -> any_event {
         return event::error{r.str("code"), r.str("reason"), r.opt_u64("id")};
       }},
      {"pong", [](body_reader& r) -> any_event { return event::pong{r.opt_u64("id")}; }},
      {"who",
       [](body_reader& r) -> any_event {
         event::who m;
         m.id = r.opt_u64("id");
         const msgpack::object* users = r.opt_array("users");
         if (users == nullptr) r.fail("key 'users' is missing");
         for (std::uint32_t i = 0; users != nullptr && i < users->via.array.size; ++i) {
           body_reader entry(users->via.array.ptr[i]);
           m.users.push_back({entry.str("name"), entry.u64("since")});
           if (entry.failed()) r.fail("users entry: " + entry.error());
         }
         return m;
       }},
      {"history",
       [](body_reader& r) -> any_event {
         event::history m;
         m.room = r.str("room");
         m.first = r.u64("first");
         m.last = r.u64("last");
         m.epoch = r.u64("epoch");
         m.id = r.opt_u64("id");
         m.msgs = read_msgs(r);
         return m;
       }},
      {"dm",
       [](body_reader& r) -> any_event {
         return event::dm{r.str("from"), r.str("text"), r.u64("ts")};
       }},
      {"msg", [](body_reader& r) -> any_event { return read_msg(r); }},
      {"batch",
       [](body_reader& r) -> any_event {
         event::batch m;
         m.epoch = r.u64("epoch");
         m.room = r.str("room");
         m.msgs = read_msgs(r);
         return m;
       }},
      {"join",
       [](body_reader& r) -> any_event {
         return event::join{r.u64("epoch"), r.u64("seq"), r.u64("ts"), r.str("name")};
       }},
      {"leave",
       [](body_reader& r) -> any_event {
         return event::leave{r.u64("epoch"), r.u64("seq"), r.u64("ts"), r.str("name"),
                             r.str("reason")};
       }},
      {"hb",
       [](body_reader& r) -> any_event {
         event::hb m;
         m.epoch = r.u64("epoch");
         m.ts = r.u64("ts");
         m.sys_seq = r.u64("sys_seq");
         m.rooms = read_room_seqs(r, "rooms");
         m.clients = r.u64("clients");
         return m;
       }},
      {"shutdown",
       [](body_reader& r) -> any_event {
         return event::shutdown{r.u64("epoch"), r.u64("seq"), r.u64("ts"), r.str("reason")};
       }},
  };
  return table;
}

template <typename Message>
std::variant<Message, decode_error> decode_with(
    std::string_view bytes, const std::map<std::string, decoder<Message>, std::less<>>& table) {
  body_reader r(bytes);
  if (r.failed()) return decode_error{r.error(), std::nullopt};
  const auto id = r.opt_u64("id");
  const std::string type = r.str("t");
  if (r.failed()) return decode_error{r.error(), id};
  const auto found = table.find(type);
  if (found == table.end()) return decode_error{"unknown message type '" + type + "'", id};
  Message message = found->second(r);
  if (r.failed()) return decode_error{type + ": " + r.error(), id};
  return message;
}

}  // namespace

std::variant<any_request, decode_error> decode_request(std::string_view bytes) {
  detail::cursor count(bytes);
  count.limit_objects(max_request_objects);
  if (!count.skip(max_decode_depth + 1) && count.objects_exhausted()) {
    return decode_error{"more than " + std::to_string(max_request_objects) +
                            " MessagePack objects in one request",
                        std::nullopt};
  }
  return decode_with(bytes, request_decoders());
}

std::variant<any_event, decode_error> decode_event(std::string_view bytes) {
  return decode_with(bytes, event_decoders());
}

}  // namespace bcast::proto
