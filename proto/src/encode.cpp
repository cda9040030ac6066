// Encoding of every typed message into its MessagePack body. Key order follows
// PROTOCOL.md so bodies are byte-for-byte stable (the test vectors rely on it).
#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"
#include "body_writer.hpp"

namespace bcast::proto {
namespace {

using detail::body_writer;

void write_room_seqs(body_writer& w, std::string_view key,
                     const std::vector<event::room_seq>& rooms) {
  w.value(key);
  w.map(rooms.size());
  for (const auto& r : rooms) w.put(r.room, r.seq);
}

msg_event_view view_of(const event::msg& m) {
  return {m.epoch, m.seq, m.ts, m.room, m.from, m.text};
}

void write_msg(body_writer& w, const msg_event_view& m) {
  w.map(7);
  w.put("t", std::string_view("msg"));
  w.put("epoch", m.epoch);
  w.put("seq", m.seq);
  w.put("ts", m.ts);
  w.put("room", m.room);
  w.put("from", m.from);
  w.put("text", m.text);
}

void write(body_writer& w, const request::hello& m) {
  w.map(3 + body_writer::count(m.session, m.token) + (m.rooms.empty() ? 0 : 1));
  w.put("t", std::string_view("hello"));
  w.put("v", m.v);
  w.put("name", m.name);
  w.put_opt("session", m.session);
  w.put_opt("token", m.token);
  if (!m.rooms.empty()) {
    w.value(std::string_view("rooms"));
    w.array(m.rooms.size());
    for (const auto& r : m.rooms) w.value(r);
  }
}

void write(body_writer& w, const request::msg& m) {
  w.map(3 + body_writer::count(m.id));
  w.put("t", std::string_view("msg"));
  w.put("room", m.room);
  w.put("text", m.text);
  w.put_opt("id", m.id);
}

void write(body_writer& w, const request::dm& m) {
  w.map(3 + body_writer::count(m.id));
  w.put("t", std::string_view("dm"));
  w.put("to", m.to);
  w.put("text", m.text);
  w.put_opt("id", m.id);
}

template <typename Simple>
void write_simple(body_writer& w, std::string_view type, const Simple& m) {
  w.map(1 + body_writer::count(m.id));
  w.put("t", type);
  w.put_opt("id", m.id);
}

void write(body_writer& w, const request::ping& m) { write_simple(w, "ping", m); }
void write(body_writer& w, const request::who& m) { write_simple(w, "who", m); }

void write(body_writer& w, const request::history& m) {
  w.map(3 + body_writer::count(m.after, m.id));
  w.put("t", std::string_view("history"));
  w.put("room", m.room);
  w.put_opt("after", m.after);
  w.put("limit", m.limit);
  w.put_opt("id", m.id);
}

void write(body_writer& w, const request::bye& m) { write_simple(w, "bye", m); }

void write(body_writer& w, const event::welcome& m) {
  w.map(10);
  w.put("t", std::string_view("welcome"));
  w.put("v", m.v);
  w.put("name", m.name);
  w.put("session", m.session);
  w.put("epoch", m.epoch);
  w.put("hb_ivl", m.hb_ivl);
  w.put("liveness", m.liveness);
  w.put("sys_seq", m.sys_seq);
  write_room_seqs(w, "rooms", m.rooms);
  w.put("max_text", m.max_text);
}

void write(body_writer& w, const event::ack& m) {
  w.map(2 + body_writer::count(m.room, m.seq));
  w.put("t", std::string_view("ack"));
  w.put("id", m.id);
  w.put_opt("room", m.room);
  w.put_opt("seq", m.seq);
}

void write(body_writer& w, const event::error& m) {
  w.map(3 + body_writer::count(m.id));
  w.put("t", std::string_view("error"));
  w.put("code", m.code);
  w.put("reason", m.reason);
  w.put_opt("id", m.id);
}

void write(body_writer& w, const event::pong& m) { write_simple(w, "pong", m); }

void write(body_writer& w, const event::who& m) {
  w.map(2 + body_writer::count(m.id));
  w.put("t", std::string_view("who"));
  w.value(std::string_view("users"));
  w.array(m.users.size());
  for (const auto& u : m.users) {
    w.map(2);
    w.put("name", u.name);
    w.put("since", u.since);
  }
  w.put_opt("id", m.id);
}

void write(body_writer& w, const event::history& m) {
  w.map(6 + body_writer::count(m.id));
  w.put("t", std::string_view("history"));
  w.put("room", m.room);
  w.value(std::string_view("msgs"));
  w.array(m.msgs.size());
  for (const auto& msg : m.msgs) write_msg(w, view_of(msg));
  w.put("first", m.first);
  w.put("last", m.last);
  w.put("epoch", m.epoch);
  w.put_opt("id", m.id);
}

void write(body_writer& w, const event::dm& m) {
  w.map(4);
  w.put("t", std::string_view("dm"));
  w.put("from", m.from);
  w.put("text", m.text);
  w.put("ts", m.ts);
}

void write(body_writer& w, const event::msg& m) { write_msg(w, view_of(m)); }

void write_batch_header(body_writer& w, std::string_view room, std::uint64_t epoch,
                        std::size_t count) {
  w.map(4);
  w.put("t", std::string_view("batch"));
  w.put("epoch", epoch);
  w.put("room", room);
  w.value(std::string_view("msgs"));
  w.array(count);
}

void write(body_writer& w, const event::batch& m) {
  write_batch_header(w, m.room, m.epoch, m.msgs.size());
  for (const auto& msg : m.msgs) write_msg(w, view_of(msg));
}

void write(body_writer& w, const event::join& m) {
  w.map(5);
  w.put("t", std::string_view("join"));
  w.put("epoch", m.epoch);
  w.put("seq", m.seq);
  w.put("ts", m.ts);
  w.put("name", m.name);
}

void write(body_writer& w, const event::leave& m) {
  w.map(6);
  w.put("t", std::string_view("leave"));
  w.put("epoch", m.epoch);
  w.put("seq", m.seq);
  w.put("ts", m.ts);
  w.put("name", m.name);
  w.put("reason", m.reason);
}

void write(body_writer& w, const event::hb& m) {
  w.map(6);
  w.put("t", std::string_view("hb"));
  w.put("epoch", m.epoch);
  w.put("ts", m.ts);
  w.put("sys_seq", m.sys_seq);
  write_room_seqs(w, "rooms", m.rooms);
  w.put("clients", m.clients);
}

void write(body_writer& w, const event::shutdown& m) {
  w.map(5);
  w.put("t", std::string_view("shutdown"));
  w.put("epoch", m.epoch);
  w.put("seq", m.seq);
  w.put("ts", m.ts);
  w.put("reason", m.reason);
}

// Room for the keys and numbers of any body, plus its one long string.
template <typename Message>
std::size_t expected_bytes(const Message& m) {
  constexpr std::size_t fixed = 96;
  if constexpr (requires { m.text; }) {
    return fixed + m.text.size();
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
        write(w, m);
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

void encode_batch_header(std::string_view room, std::uint64_t epoch, std::size_t count,
                         std::string& out) {
  // Keys, headers and the epoch take at most 48 bytes.
  body_writer w(std::move(out), 48 + room.size());
  write_batch_header(w, room, epoch, count);
  out = w.take();
}

std::string encode_batch(std::string_view room, std::uint64_t epoch,
                         std::span<const std::string_view> msg_bodies) {
  std::size_t bytes = 48 + room.size();
  for (const auto body : msg_bodies) bytes += body.size();
  body_writer w(bytes);
  write_batch_header(w, room, epoch, msg_bodies.size());
  for (const auto body : msg_bodies) w.raw(body);
  return w.take();
}

}  // namespace bcast::proto
