// is_batch() and split_batch(): the `msg` bodies of a `batch` publication found in place, so
// a receiver can hand each to the code that already handles one `msg` (or, in
// the benchmark, read each one's tail) without decoding the batch twice.
#include "bcast/proto/codec.hpp"
#include "bcast/proto/limits.hpp"
#include "msgpack_cursor.hpp"

namespace bcast::proto {
namespace {

using detail::cursor;

// Reads the `msgs` array: each element must be a map; its bytes are the body.
bool read_bodies(cursor& in, std::string_view bytes, std::vector<std::string_view>& out) {
  const auto count = in.array_header();
  if (!count || *count > bytes.size()) return false;
  out.reserve(static_cast<std::size_t>(*count));
  for (std::uint64_t i = 0; i < *count; ++i) {
    const std::size_t start = in.position();
    if (start >= bytes.size()) return false;
    const auto head = static_cast<std::uint8_t>(bytes[start]);
    if ((head & 0xF0) != 0x80 && head != 0xDE && head != 0xDF) return false;
    if (!in.skip(max_decode_depth - 1)) return false;
    out.push_back(bytes.substr(start, in.position() - start));
  }
  return true;
}

}  // namespace

std::optional<std::vector<std::string_view>> split_batch(std::string_view bytes) {
  cursor in(bytes);
  const auto entries = in.map_header();
  if (!entries) return std::nullopt;
  std::optional<bool> is_batch;
  std::optional<std::vector<std::string_view>> bodies;
  for (std::uint64_t i = 0; i < *entries; ++i) {
    const auto key = in.str();
    if (!key) return std::nullopt;
    if (*key == "t") {
      const auto type = in.str();
      if (!type || is_batch) return std::nullopt;  // not a str, or twice
      is_batch = *type == "batch";
    } else if (*key == "msgs") {
      if (bodies) return std::nullopt;  // twice
      bodies.emplace();
      if (!read_bodies(in, bytes, *bodies)) return std::nullopt;
    } else if (!in.skip(max_decode_depth)) {
      return std::nullopt;
    }
  }
  if (!in.at_end() || is_batch != true) return std::nullopt;
  return bodies;
}

bool is_batch(std::string_view bytes) {
  cursor in(bytes);
  const auto entries = in.map_header();
  if (!entries) return false;
  for (std::uint64_t i = 0; i < *entries; ++i) {
    const auto key = in.str();
    if (!key) return false;
    if (*key == "t") return in.str() == std::optional<std::string_view>("batch");
    if (!in.skip(max_decode_depth)) return false;
  }
  return false;
}

}  // namespace bcast::proto
