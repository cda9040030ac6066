// The error codes of PROTOCOL.md section "Errors", and their wire spellings.
// Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace bcast::proto {

enum class error_code {
  bad_request,    // body does not decode, wrong type, unknown `t`, bad UTF-8
  version,        // `hello.v` is not a version this broker speaks
  no_session,     // request from a routing id without a session: say hello
  name_taken,     // another live session holds that name
  invalid_name,   // name breaks the naming rules
  invalid_room,   // room name breaks the rules, or the room limit is reached
  too_large,      // text over `max_text`, or a history limit over the maximum
  rate_limited,   // the session sends faster than the broker allows
  unknown_user,   // `dm` to a name that has no live session
  unauthorized,   // join token missing or wrong
  shutting_down,  // the broker is stopping; the request was not carried out
  session_moved,  // this connection's session was resumed on another one
  unavailable,    // the broker cannot store messages now (disk full or failing)
};

// How many codes there are, from the last enumerator: tables indexed by code
// (the broker's error counters, the spellings) are sized by it.
inline constexpr error_code last_error_code = error_code::unavailable;
inline constexpr std::size_t error_code_count = static_cast<std::size_t>(last_error_code) + 1;

// Returns the wire spelling, e.g. "name-taken".
[[nodiscard]] std::string_view to_string(error_code code);

// Returns the code for a wire spelling, or nullopt for an unknown one.
[[nodiscard]] std::optional<error_code> error_code_from_string(std::string_view text);

}  // namespace bcast::proto
