// The CLI's --json lines as the end-to-end tests read them: flat objects in
// a fixed key order. A value is read by its key; only the tests' own texts
// (no quotes, no escapes) are ever parsed, so this is no JSON parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::test {

// The raw value of `key` (a string without its quotes); nullopt when absent.
[[nodiscard]] std::optional<std::string> json_raw(const std::string& line, std::string_view key);
// The value of `key` as a string; "" when absent.
[[nodiscard]] std::string json_str(const std::string& line, std::string_view key);
// The value of `key` as a number; 0 when absent or empty.
[[nodiscard]] std::uint64_t json_uint(const std::string& line, std::string_view key);

}  // namespace bcast::test
