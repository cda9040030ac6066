// Checks on the strings the protocol carries: UTF-8 well-formedness, the
// naming rule for people and the naming rule for rooms. Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace bcast::proto {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text);

// Number of code points in well-formed UTF-8 `text`.
[[nodiscard]] std::size_t utf8_length(std::string_view text);

// Decodes the code point at `pos` of well-formed UTF-8 and advances `pos`.
[[nodiscard]] char32_t next_code_point(std::string_view text, std::size_t& pos);

// Returns nullopt when `name` is a valid user name (1-32 code points of UTF-8,
// no whitespace, control, invisible or direction-changing characters, so no
// one can pose as someone else by look-alike spacing); otherwise the reason.
[[nodiscard]] std::optional<std::string_view> check_name(std::string_view name);

// Returns nullopt when `room` is a valid room name (1-32 of [a-z0-9_-]);
// otherwise the reason.
[[nodiscard]] std::optional<std::string_view> check_room(std::string_view room);

}  // namespace bcast::proto
