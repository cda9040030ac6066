// cursor::skip(): stepping over one MessagePack object of any format without
// building it, bounded in depth and by the bytes that are really there.
#include "msgpack_cursor.hpp"

namespace bcast::proto::detail {
namespace {

// The byte width of a size or value that follows a format byte, by the low
// bits of the four-width families (8, 16, 32, 64).
std::size_t width_of(std::uint8_t low2) { return std::size_t{1} << low2; }

}  // namespace

bool cursor::skip_entries(std::uint64_t objects, std::size_t depth) {
  // Every object takes at least one byte: a count past the rest is forged.
  if (depth == 0 || objects > bytes_.size() - pos_) return false;
  for (std::uint64_t i = 0; i < objects; ++i) {
    if (!skip(depth - 1)) return false;
  }
  return true;
}

bool cursor::skip(std::size_t depth) {
  if (objects_left_ == 0) return false;
  --objects_left_;
  const auto head = byte();
  if (!head) return false;
  const std::uint8_t h = *head;
  if (h <= 0x7F || h >= 0xE0 || h == 0xC0 || h == 0xC2 || h == 0xC3) return true;
  if ((h & 0xE0) == 0xA0) return take(h & 0x1F).has_value();       // fixstr
  if ((h & 0xF0) == 0x80) return skip_entries(2 * (h & 0x0F), depth);  // fixmap
  if ((h & 0xF0) == 0x90) return skip_entries(h & 0x0F, depth);      // fixarray
  std::optional<std::uint64_t> n;
  switch (h) {
    case 0xC4: case 0xC5: case 0xC6:  // bin 8, 16, 32
      n = number(width_of(h - 0xC4));
      return n && take(*n);
    case 0xD9: case 0xDA: case 0xDB:  // str 8, 16, 32
      n = number(width_of(h - 0xD9));
      return n && take(*n);
    case 0xC7: case 0xC8: case 0xC9:  // ext 8, 16, 32: size, type, data
      n = number(width_of(h - 0xC7));
      return n && take(*n + 1);
    case 0xCA: return take(4).has_value();  // float 32
    case 0xCB: return take(8).has_value();  // float 64
    case 0xCC: case 0xCD: case 0xCE: case 0xCF: return take(width_of(h - 0xCC)).has_value();
    case 0xD0: case 0xD1: case 0xD2: case 0xD3: return take(width_of(h - 0xD0)).has_value();
    case 0xD4: case 0xD5: case 0xD6: case 0xD7: case 0xD8:  // fixext 1..16: type, data
      return take(1 + width_of(h - 0xD4)).has_value();
    case 0xDC: case 0xDD:  // array 16, 32
      n = number(h == 0xDC ? 2 : 4);
      return n && skip_entries(*n, depth);
    case 0xDE: case 0xDF:  // map 16, 32
      n = number(h == 0xDE ? 2 : 4);
      return n && skip_entries(2 * *n, depth);
    default:
      return false;  // 0xC1 is never used
  }
}

}  // namespace bcast::proto::detail
