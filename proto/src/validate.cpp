// UTF-8 and naming rules (PROTOCOL.md "Names and rooms").
#include "bcast/proto/validate.hpp"

#include <cstdint>
#include <cstring>

#include "bcast/proto/limits.hpp"

namespace bcast::proto {
namespace {

// Length of the sequence a lead byte starts, or 0 for a byte that cannot lead.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Whether the `Words` eight-byte words at `at` are all ASCII (no high bit).
template <std::size_t Words>
bool is_ascii_words(const char* at) {
  std::uint64_t any = 0;
  for (std::size_t w = 0; w < Words; ++w) {
    std::uint64_t word = 0;
    std::memcpy(&word, at + w * sizeof word, sizeof word);
    any |= word;
  }
  return (any & 0x8080808080808080U) == 0;
}

// Characters a name may not hold: whitespace, controls, and the invisible or
// bidirectional formatting characters that make two names look alike.
bool is_forbidden_in_name(char32_t c) {
  if (c <= 0x20 || (c >= 0x7F && c <= 0xA0)) return true;
  if (c == 0xAD || c == 0x1680 || c == 0x180E) return true;
  if (c >= 0x2000 && c <= 0x200F) return true;   // spaces, zero-width, marks
  if (c >= 0x2028 && c <= 0x202F) return true;   // separators, embeddings
  if (c >= 0x205F && c <= 0x206F) return true;   // math space, isolates
  return c == 0x3000 || c == 0xFEFF;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // Most text is ASCII: 32 bytes, then 8, at a time while no high bit is
    // set (the four words are or-ed, one test per 32 bytes).
    if (text.size() - i >= 32 && is_ascii_words<4>(text.data() + i)) {
      i += 32;
      continue;
    }
    if (text.size() - i >= 8 && is_ascii_words<1>(text.data() + i)) {
      i += 8;
      continue;
    }
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t len = sequence_length(lead);
    if (len == 0 || i + len > text.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if (!is_continuation(static_cast<unsigned char>(text[i + k]))) return false;
    }
    if (len >= 3) {
      const auto second = static_cast<unsigned char>(text[i + 1]);
      if (lead == 0xE0 && second < 0xA0) return false;  // overlong
      if (lead == 0xED && second > 0x9F) return false;  // surrogate
      if (lead == 0xF0 && second < 0x90) return false;  // overlong
      if (lead == 0xF4 && second > 0x8F) return false;  // above U+10FFFF
    }
    i += len;
  }
  return true;
}

char32_t next_code_point(std::string_view text, std::size_t& pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const std::size_t len = sequence_length(lead);
  if (len <= 1) {
    ++pos;
    return lead;
  }
  char32_t c = lead & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    c = (c << 6) | (static_cast<unsigned char>(text[pos + k]) & 0x3F);
  }
  pos += len;
  return c;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (const char ch : text) {
    if (!is_continuation(static_cast<unsigned char>(ch))) ++count;
  }
  return count;
}

std::optional<std::string_view> check_name(std::string_view name) {
  if (name.empty()) return "name is empty";
  if (!is_valid_utf8(name)) return "name is not valid UTF-8";
  if (utf8_length(name) > max_name_chars) return "name is longer than 32 characters";
  for (std::size_t pos = 0; pos < name.size();) {
    if (is_forbidden_in_name(next_code_point(name, pos))) {
      return "name contains whitespace, control or invisible characters";
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> check_room(std::string_view room) {
  if (room.empty()) return "room name is empty";
  if (room.size() > max_room_chars) return "room name is longer than 32 characters";
  for (const char c : room) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return "room names use only a-z, 0-9, '_' and '-'";
  }
  return std::nullopt;
}

}  // namespace bcast::proto
