// Wire spellings of the protocol's error codes: the table is generated with
// the enum from proto/schema/bcast1.json, so each code has its spelling.
#include "bcast/proto/error_code.hpp"

#include "schema_tables.hpp"

namespace bcast::proto {

using detail::error_code_spellings;

std::string_view to_string(error_code code) {
  const auto index = static_cast<std::size_t>(code);
  return index < error_code_spellings.size() ? error_code_spellings[index] : "bad-request";
}

std::optional<error_code> error_code_from_string(std::string_view text) {
  for (std::size_t i = 0; i < error_code_spellings.size(); ++i) {
    if (error_code_spellings[i] == text) return static_cast<error_code>(i);
  }
  return std::nullopt;
}

}  // namespace bcast::proto
