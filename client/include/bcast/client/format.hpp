// How events look to people (one text line each) and to programs (one JSON
// object per line). Received text is sanitised for the terminal here, so no
// message can move the cursor, change colours or retitle a window.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bcast/client/events.hpp"

namespace bcast::client {

// Returns `text` with every control character (C0, DEL, C1) shown as a
// visible escape (^[ for ESC, ^J for newline, \u009b for CSI) instead.
[[nodiscard]] std::string sanitize(std::string_view text);

// "HH:MM:SS" in local time for a `ts` in ms since the Unix epoch.
[[nodiscard]] std::string clock_time(std::uint64_t ts_ms);

// The line a person sees for `e`, or nullopt when it shows nothing (acks,
// errors: the program reports those itself). `show_room` prefixes messages
// with "[room] " when several rooms are followed.
[[nodiscard]] std::optional<std::string> text_line(const client_event& e, bool show_room);

// One JSON object for `e` (every event type, acks and errors included).
[[nodiscard]] std::string json_line(const client_event& e);

// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

// The wire-style name of a connection status, e.g. "connection-lost".
[[nodiscard]] std::string_view status_name(status s);

}  // namespace bcast::client
