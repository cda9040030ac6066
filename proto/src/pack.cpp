// The `pack` publication: written from stored `msg` bodies read in place,
// expanded back into its messages, and read in place by receivers that
// count every cycle. The in-place readers take only what they expect and give
// up at the first other byte, so they never accept what the full decoder
// would read differently.
#include "bcast/proto/pack.hpp"

#include <algorithm>
#include <array>

#include "bcast/proto/validate.hpp"
#include "body_writer.hpp"
#include "msg_layout.hpp"
#include "msgpack_cursor.hpp"
#include "pack_rules.hpp"

namespace bcast::proto {
namespace {

using detail::body_writer;
using detail::cursor;

// A str holding valid UTF-8.
std::optional<std::string_view> text_of(cursor& in) {
  const auto s = in.str();
  if (!s || !is_valid_utf8(*s)) return std::nullopt;
  return s;
}

bool read_names(cursor& in, std::vector<std::string_view>& names) {
  const auto count = in.array_header();
  if (!count) return false;
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto name = text_of(in);
    if (!name) return false;
    names.push_back(*name);
  }
  return true;
}

bool read_entries(cursor& in, std::vector<pack_view::entry>& entries) {
  const auto count = in.array_header();
  if (!count || *count == 0) return false;
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto values = in.array_header();
    const auto dts = values == std::optional<std::uint64_t>(3) ? in.uint() : std::nullopt;
    const auto sender = dts ? in.uint() : std::nullopt;
    const auto text = sender ? text_of(in) : std::nullopt;
    if (!text) return false;
    entries.push_back({*dts, *sender, *text});
  }
  return true;
}

// The keys of a pack, in canonical order.
constexpr std::array<std::string_view, 7> pack_keys{"t", "epoch", "room", "seq", "ts", "names", "entries"};

// The value of pack_keys[key].
bool read_pack_value(cursor& in, std::size_t key, pack_view& out) {
  const auto number = [&](std::uint64_t& into) {
    const auto v = in.uint();
    into = v.value_or(0);
    return v.has_value();
  };
  switch (key) {
    case 0: return in.str() == std::optional<std::string_view>("pack");
    case 1: return number(out.epoch);
    case 2: {
      const auto room = text_of(in);
      out.room = room.value_or("");
      return room.has_value();
    }
    case 3: return number(out.seq);
    case 4: return number(out.ts);
    case 5: return read_names(in, out.names);
    default: return read_entries(in, out.entries);
  }
}

}  // namespace

std::optional<msg_event_view> read_stored_msg(std::string_view bytes) {
  namespace key = detail::msg_layout;
  cursor in(bytes);
  msg_event_view m;
  const auto number = [&](std::string_view key, std::uint64_t& into) {
    const auto v = in.literal(key) ? in.uint() : std::nullopt;
    into = v.value_or(0);
    return v.has_value();
  };
  const auto str = [&](std::string_view key, std::string_view& into) {
    const auto v = in.literal(key) ? in.str() : std::nullopt;
    into = v.value_or(std::string_view());
    return v.has_value();
  };
  if (!number(key::head, m.epoch) || !number(key::seq, m.seq) || !number(key::ts, m.ts) ||
      !str(key::room, m.room) || !str(key::from, m.from) || !str(key::text, m.text) || !in.at_end()) {
    return std::nullopt;
  }
  return m;
}

void encode_pack(std::span<const msg_event_view> msgs, std::string& out) {
  std::vector<std::string_view> names;  // at most a pack's 64 senders: a linear search is fine
  std::uint64_t ts = msgs.front().ts;
  std::size_t bytes = 96 + msgs.front().room.size();
  for (const auto& m : msgs) {
    if (std::find(names.begin(), names.end(), m.from) == names.end()) {
      names.push_back(m.from);
      bytes += m.from.size() + 5;
    }
    ts = std::min(ts, m.ts);
    bytes += m.text.size() + 16;
  }
  body_writer w(std::move(out), bytes);
  w.map(7);
  w.put("t", std::string_view("pack"));
  w.put("epoch", msgs.front().epoch);
  w.put("room", msgs.front().room);
  w.put("seq", msgs.front().seq);
  w.put("ts", ts);
  w.value(std::string_view("names"));
  w.array(names.size());
  for (const auto name : names) w.value(name);
  w.value(std::string_view("entries"));
  w.array(msgs.size());
  for (const auto& m : msgs) {
    w.array(3);
    w.value(m.ts - ts);
    w.value(static_cast<std::uint64_t>(std::find(names.begin(), names.end(), m.from) - names.begin()));
    w.value(m.text);
  }
  out = w.take();
}

std::vector<event::msg> messages_of(const event::pack& pack) {
  std::vector<event::msg> out;
  out.reserve(pack.entries.size());
  std::uint64_t seq = pack.seq;
  for (const auto& e : pack.entries) {
    out.push_back({pack.epoch, seq++, pack.ts + e.dts, pack.room, pack.names[e.sender], e.text});
  }
  return out;
}

bool read_pack(std::string_view bytes, pack_view& out) {
  out.names.clear();
  out.entries.clear();
  cursor in(bytes);
  const auto keys = in.map_header();
  if (!keys) return false;
  unsigned seen = 0;  // a bit per key of pack_keys: each once, all of them
  for (std::uint64_t i = 0; i < *keys; ++i) {
    const auto key = in.str();
    if (!key) return false;
    const auto at = static_cast<std::size_t>(std::find(pack_keys.begin(), pack_keys.end(), *key) - pack_keys.begin());
    if (at == pack_keys.size() || (seen & (1U << at)) != 0) return false;  // unknown, or twice
    seen |= 1U << at;
    if (!read_pack_value(in, at, out)) return false;
  }
  return seen == (1U << pack_keys.size()) - 1 && in.at_end() &&
         !detail::pack_problem(out.seq, out.ts, out.names.size(), out.entries);
}

}  // namespace bcast::proto
