// Encoding of every typed message into its MessagePack body. Key order follows
// PROTOCOL.md so bodies are byte-for-byte stable (the test vectors rely on it):
// every message is written from its schema's field list (schema_tables.hpp),
// except the broker's hot path: a published `msg` written from views
// (write_msg, encode_msg) and the `history` bodies it assembles from
// already-encoded `msg` bodies (packs: pack.cpp).
#include <tuple>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"
#include "body_writer.hpp"
#include "msg_layout.hpp"
#include "schema_tables.hpp"

namespace bcast::proto {
namespace {

using detail::body_writer;
using detail::field;
using detail::presence;
using detail::schema;

msg_event_view view_of(const event::msg& m) {
  return {m.epoch, m.seq, m.ts, m.room, m.from, m.text};
}

void write_msg(body_writer& w, const msg_event_view& m) {
  namespace key = detail::msg_layout;
  w.raw(key::head);
  w.value(m.epoch);
  w.raw(key::seq);
  w.value(m.seq);
  w.raw(key::ts);
  w.value(m.ts);
  w.raw(key::room);
  w.value(m.room);
  w.raw(key::from);
  w.value(m.from);
  w.raw(key::text);
  w.value(m.text);
}

// The values of the schema's key types.
void write_value(body_writer& w, std::uint64_t v) { w.value(v); }
void write_value(body_writer& w, std::string_view v) { w.value(v); }

void write_value(body_writer& w, const std::vector<std::string>& strings) {
  w.array(strings.size());
  for (const auto& s : strings) w.value(s);
}

void write_value(body_writer& w, const std::vector<event::room_seq>& rooms) {
  w.map(rooms.size());
  for (const auto& r : rooms) w.put(r.room, r.seq);
}

void write_value(body_writer& w, const std::vector<event::msg>& msgs) {
  w.array(msgs.size());
  for (const auto& m : msgs) write_msg(w, view_of(m));
}

template <typename Message>
void write_map(body_writer& w, const Message& m);

// An array of one of the schema's structs (`who.users`, `rooms.list`).
template <typename Entry>
  requires requires { schema<Entry>::fields; }
void write_value(body_writer& w, const std::vector<Entry>& entries) {
  w.array(entries.size());
  for (const auto& e : entries) write_map(w, e);
}

template <typename T>
constexpr bool is_optional = false;
template <typename T>
constexpr bool is_optional<std::optional<T>> = true;

template <typename Message, typename Member>
bool is_written(const field<Message, Member>& f, const Message& m) {
  const auto& value = m.*f.member;
  if constexpr (is_optional<Member>) {
    return value.has_value();
  } else if constexpr (requires { value.empty(); }) {
    return f.how != presence::omit_empty || !value.empty();
  } else {
    return true;
  }
}

template <typename Message, typename Member>
void write_field(body_writer& w, const field<Message, Member>& f, const Message& m) {
  if (!is_written(f, m)) return;
  w.value(f.key);
  if constexpr (is_optional<Member>) {
    write_value(w, *(m.*f.member));
  } else {
    write_value(w, m.*f.member);
  }
}

// A message's map (`t` first, for a message type), its keys as the schema
// lists them; a positional struct's values alone, as an array.
template <typename Message>
void write_map(body_writer& w, const Message& m) {
  if constexpr (requires { schema<Message>::positional; }) {
    std::apply(
        [&](const auto&... fields) {
          w.array(sizeof...(fields));
          (write_value(w, m.*fields.member), ...);
        },
        schema<Message>::fields);
  } else {
    std::apply(
        [&](const auto&... fields) {
          constexpr bool typed = requires { schema<Message>::type; };
          w.map((typed ? 1U : 0U) + (std::size_t{0} + ... + (is_written(fields, m) ? 1U : 0U)));
          if constexpr (typed) w.put("t", schema<Message>::type);
          (write_field(w, fields, m), ...);
        },
        schema<Message>::fields);
  }
}

// Room for the keys and numbers of any body, plus its one long string.
template <typename Message>
std::size_t expected_bytes(const Message& m) {
  constexpr std::size_t fixed = 96;
  if constexpr (requires { m.text; }) {
    return fixed + m.text.size();
  } else if constexpr (requires { m.entries; }) {
    std::size_t bytes = fixed;
    for (const auto& e : m.entries) bytes += 16 + e.text.size();
    return bytes;
  } else if constexpr (requires { m.msgs; }) {
    std::size_t bytes = fixed;
    for (const auto& msg : m.msgs) bytes += fixed + msg.room.size() + msg.from.size() + msg.text.size();
    return bytes;
  } else {
    return fixed;
  }
}

template <typename Variant>
std::string encode_variant(const Variant& message) {
  return std::visit(
      [](const auto& m) {
        body_writer w(expected_bytes(m));
        write_map(w, m);
        return w.take();
      },
      message);
}

}  // namespace

std::string encode(const any_request& request) { return encode_variant(request); }
std::string encode(const any_event& event) { return encode_variant(event); }

void encode_msg(const msg_event_view& m, std::string& out) {
  // Keys, headers and three numbers take at most 80 bytes.
  body_writer w(std::move(out), 80 + m.room.size() + m.from.size() + m.text.size());
  write_msg(w, m);
  out = w.take();
}

std::string encode_msg(const msg_event_view& m) {
  std::string out;
  encode_msg(m, out);
  return out;
}

std::string encode_history(std::string_view room, std::span<const std::string_view> msg_bodies,
                           std::uint64_t first, std::uint64_t last, std::uint64_t epoch,
                           std::optional<std::uint64_t> id) {
  std::size_t bytes = 128 + room.size();
  for (const auto body : msg_bodies) bytes += body.size();
  body_writer w(bytes);
  w.map(6 + body_writer::count(id));
  w.put("t", std::string_view("history"));
  w.put("room", room);
  w.value(std::string_view("msgs"));
  w.array(msg_bodies.size());
  for (const auto body : msg_bodies) w.raw(body);
  w.put("first", first);
  w.put("last", last);
  w.put("epoch", epoch);
  w.put_opt("id", id);
  return w.take();
}

}  // namespace bcast::proto
