// Wire spellings of the protocol's error codes.
#include "bcast/proto/error_code.hpp"

#include <array>
#include <utility>

namespace bcast::proto {
namespace {

constexpr std::array<std::pair<error_code, std::string_view>, 11> spellings{{
    {error_code::bad_request, "bad-request"},
    {error_code::version, "version"},
    {error_code::no_session, "no-session"},
    {error_code::name_taken, "name-taken"},
    {error_code::invalid_name, "invalid-name"},
    {error_code::invalid_room, "invalid-room"},
    {error_code::too_large, "too-large"},
    {error_code::rate_limited, "rate-limited"},
    {error_code::unknown_user, "unknown-user"},
    {error_code::unauthorized, "unauthorized"},
    {error_code::shutting_down, "shutting-down"},
}};

}  // namespace

std::string_view to_string(error_code code) {
  for (const auto& [c, text] : spellings) {
    if (c == code) return text;
  }
  return "bad-request";
}

std::optional<error_code> error_code_from_string(std::string_view text) {
  for (const auto& [c, spelled] : spellings) {
    if (spelled == text) return c;
  }
  return std::nullopt;
}

}  // namespace bcast::proto
