// A forward reader over MessagePack bytes for the readers that work in place
// (read_plain_msg, read_pack): the few formats they take, and skip() to
// step over any one object. Every method returns nullopt (or false) at the
// first byte it cannot read; nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace bcast::proto::detail {

class cursor {
 public:
  explicit cursor(std::string_view bytes) : bytes_(bytes) {}

  [[nodiscard]] bool at_end() const { return pos_ == bytes_.size(); }

  [[nodiscard]] std::size_t position() const { return pos_; }

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

  // Steps over `encoded` when the bytes go on with exactly it: a key, or a
  // run of constant keys and values, in the one form a canonical writer
  // gives them.
  bool literal(std::string_view encoded) {
    if (!bytes_.substr(pos_).starts_with(encoded)) return false;
    pos_ += encoded.size();
    return true;
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

  // A map (fixmap, map 16, map 32) header: its entry count.
  std::optional<std::uint64_t> map_header() { return container(0x80, 0xDE); }
  // An array (fixarray, array 16, array 32) header: its entry count.
  std::optional<std::uint64_t> array_header() { return container(0x90, 0xDC); }

  // Steps over one whole object of any type, nested at most `depth` levels.
  bool skip(std::size_t depth);
  // Lets skip() step over at most `objects` objects in all (then it fails,
  // and objects_exhausted() says why), so counting costs no more than that.
  void limit_objects(std::size_t objects) { objects_left_ = objects; }
  [[nodiscard]] bool objects_exhausted() const { return objects_left_ == 0; }

  // A MessagePack positive fixint or uint 8, 16, 32 or 64.
  std::optional<std::uint64_t> uint() {
    const auto head = byte();
    if (!head) return std::nullopt;
    if (*head <= 0x7F) return *head;
    if (*head >= 0xCC && *head <= 0xCF) return number(std::size_t{1} << (*head - 0xCC));
    return std::nullopt;
  }

 private:
  bool skip_entries(std::uint64_t objects, std::size_t depth);
  std::optional<std::uint64_t> container(std::uint8_t fix, std::uint8_t wide16) {
    const auto head = byte();
    if (!head) return std::nullopt;
    if ((*head & 0xF0) == fix) return *head & 0x0F;
    if (*head == wide16) return number(2);
    if (*head == wide16 + 1) return number(4);
    return std::nullopt;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::size_t objects_left_ = std::numeric_limits<std::size_t>::max();
};

}  // namespace bcast::proto::detail
