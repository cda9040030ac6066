// read_plain_msg(): the `msg` request read in place, without building a
// MessagePack object tree. It accepts only the plain form (see msg_view.hpp)
// and gives up at the first byte it does not expect, so it never decides
// anything the full decoder would decide differently.
#include <cstring>
#include <optional>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/msg_view.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::proto {
namespace {

class cursor {
 public:
  explicit cursor(std::string_view bytes) : bytes_(bytes) {}

  [[nodiscard]] bool at_end() const { return pos_ == bytes_.size(); }

  std::optional<std::uint8_t> byte() {
    if (pos_ >= bytes_.size()) return std::nullopt;
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }

  // A big-endian unsigned number of `width` bytes.
  std::optional<std::uint64_t> number(std::size_t width) {
    if (bytes_.size() - pos_ < width) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value = (value << 8) | static_cast<std::uint8_t>(bytes_[pos_++]);
    }
    return value;
  }

  std::optional<std::string_view> take(std::uint64_t size) {
    if (bytes_.size() - pos_ < size) return std::nullopt;
    const std::string_view out = bytes_.substr(pos_, static_cast<std::size_t>(size));
    pos_ += static_cast<std::size_t>(size);
    return out;
  }

  // A MessagePack str (fixstr, str 8, 16 or 32).
  std::optional<std::string_view> str() {
    const auto head = byte();
    if (!head) return std::nullopt;
    std::optional<std::uint64_t> size;
    if ((*head & 0xE0) == 0xA0) {
      size = *head & 0x1F;
    } else if (*head >= 0xD9 && *head <= 0xDB) {
      size = number(std::size_t{1} << (*head - 0xD9));
    }
    if (!size) return std::nullopt;
    return take(*size);
  }

  // A MessagePack positive fixint or uint 8, 16, 32 or 64.
  std::optional<std::uint64_t> uint() {
    const auto head = byte();
    if (!head) return std::nullopt;
    if (*head <= 0x7F) return *head;
    if (*head >= 0xCC && *head <= 0xCF) return number(std::size_t{1} << (*head - 0xCC));
    return std::nullopt;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

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

}  // namespace bcast::proto
