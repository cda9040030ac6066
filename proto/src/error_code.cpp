// Wire spellings of the protocol's error codes.
#include "bcast/proto/error_code.hpp"

#include <array>

namespace bcast::proto {
namespace {

// One case per code and no default: a code added to the enum without a
// spelling is a -Wswitch warning, an error in CI builds.
constexpr std::string_view spelling_of(error_code code) {
  switch (code) {
    case error_code::bad_request: return "bad-request";
    case error_code::version: return "version";
    case error_code::no_session: return "no-session";
    case error_code::name_taken: return "name-taken";
    case error_code::invalid_name: return "invalid-name";
    case error_code::invalid_room: return "invalid-room";
    case error_code::too_large: return "too-large";
    case error_code::rate_limited: return "rate-limited";
    case error_code::unknown_user: return "unknown-user";
    case error_code::unauthorized: return "unauthorized";
    case error_code::shutting_down: return "shutting-down";
    case error_code::session_moved: return "session-moved";
    case error_code::unavailable: return "unavailable";
  }
  return {};
}

// error_code_count covers every code: the value past the last one is none.
static_assert(spelling_of(static_cast<error_code>(error_code_count)).empty(),
              "a code follows last_error_code: make it the last one");

constexpr std::array<std::string_view, error_code_count> spellings = [] {
  std::array<std::string_view, error_code_count> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = spelling_of(static_cast<error_code>(i));
  return out;
}();

}  // namespace

std::string_view to_string(error_code code) {
  const auto index = static_cast<std::size_t>(code);
  return index < spellings.size() ? spellings[index] : "bad-request";
}

std::optional<error_code> error_code_from_string(std::string_view text) {
  for (std::size_t i = 0; i < spellings.size(); ++i) {
    if (spellings[i] == text) return static_cast<error_code>(i);
  }
  return std::nullopt;
}

}  // namespace bcast::proto
