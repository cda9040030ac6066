// read_plain_msg(): the `msg` request read in place, without building a
// MessagePack object tree. It accepts only the plain form (see msg_view.hpp)
// and gives up at the first byte it does not expect, so it never decides
// anything the full decoder would decide differently. peek_request_id():
// the id of a request too large to decode, so its `too-large` answer can
// name it.
#include <cstring>
#include <optional>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/msg_view.hpp"
#include "bcast/proto/validate.hpp"
#include "msgpack_cursor.hpp"

namespace bcast::proto {
namespace {

using detail::cursor;

enum class key { t, room, text, id, other };

// Compares by length first: the four keys differ in length or first byte.
key key_of(std::string_view k) {
  switch (k.size()) {
    case 1:
      return k[0] == 't' ? key::t : key::other;
    case 2:
      return k[0] == 'i' && k[1] == 'd' ? key::id : key::other;
    case 4:
      if (std::memcmp(k.data(), "room", 4) == 0) return key::room;
      return std::memcmp(k.data(), "text", 4) == 0 ? key::text : key::other;
    default:
      return key::other;
  }
}

}  // namespace

std::optional<msg_request_view> read_plain_msg(std::string_view bytes) {
  if (bytes.size() > default_max_frame) return std::nullopt;  // the decoder's own limit
  cursor in(bytes);
  const auto head = in.byte();
  if (!head || (*head & 0xF0) != 0x80) return std::nullopt;  // a fixmap
  std::optional<std::string_view> type;
  std::optional<std::string_view> room;
  std::optional<std::string_view> text;
  msg_request_view out;
  bool have_id = false;
  for (unsigned entries = *head & 0x0F; entries > 0; --entries) {
    const auto name = in.str();
    if (!name) return std::nullopt;
    std::optional<std::string_view>* field = nullptr;
    switch (key_of(*name)) {
      case key::t:
        field = &type;
        break;
      case key::room:
        field = &room;
        break;
      case key::text:
        field = &text;
        break;
      case key::id:
        if (have_id) return std::nullopt;  // twice
        out.id = in.uint();
        if (!out.id) return std::nullopt;
        have_id = true;
        continue;
      case key::other:
        return std::nullopt;
    }
    if (field->has_value()) return std::nullopt;  // twice
    *field = in.str();
    if (!*field) return std::nullopt;
  }
  if (!in.at_end() || type != "msg" || !text) return std::nullopt;
  out.text = *text;
  out.room = room.value_or(default_room);
  if (!is_valid_utf8(out.text) || !is_valid_utf8(out.room)) return std::nullopt;
  return out;
}

std::optional<std::uint64_t> peek_request_id(std::string_view bytes) {
  cursor in(bytes);
  in.limit_objects(max_request_objects);
  const auto entries = in.map_header();
  if (!entries) return std::nullopt;
  for (std::uint64_t i = 0; i < *entries; ++i) {
    const auto name = in.str();
    if (!name) return std::nullopt;
    if (*name == "id") return in.uint();
    if (!in.skip(max_decode_depth)) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace bcast::proto
