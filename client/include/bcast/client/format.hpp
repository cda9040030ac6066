// How events look to people (text lines, optionally coloured) and to
// programs (one JSON object per line). Received text is sanitised for the
// terminal here, so no message can move the cursor, change colours or
// retitle a window.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/client/events.hpp"

namespace bcast::client {

struct line_style {
  bool show_room = false;  // prefix "[room] " (several rooms followed)
  bool colour = false;     // ANSI colours: names, dimmed system lines
  std::string self;        // our own name: our messages are marked "(you)"
  // Messages older than this (ms since the Unix epoch; the terminal chat
  // gives today's local midnight) show their date: "2026-12-06 23:59:01".
  std::uint64_t dated_before_ms = 0;
};

// Returns `text` with every control character (C0, DEL, C1) and every
// invisible or bidirectional formatting character shown as a visible escape
// (^[ for ESC, ^J for newline, \u009b for CSI, \u202e for RLO) instead.
[[nodiscard]] std::string sanitize(std::string_view text);

// "HH:MM:SS" in local time for a `ts` in ms since the Unix epoch.
[[nodiscard]] std::string clock_time(std::uint64_t ts_ms);

// "YYYY-MM-DD HH:MM:SS" in local time for a `ts` in ms since the Unix epoch.
[[nodiscard]] std::string date_time(std::uint64_t ts_ms);

// The 256-colour palette index for `name`: stable, spread by a hash.
[[nodiscard]] int name_colour(std::string_view name);

// The lines a person sees for `e`; none for acks and errors (the program
// reports those itself). A message whose text starts with "/me " is an
// action: "HH:MM:SS * alice waves".
[[nodiscard]] std::vector<std::string> text_lines(const client_event& e, const line_style& style);

// The line for a private message we sent to `to` (it is not published, so
// the sender shows it once the broker acknowledged it).
[[nodiscard]] std::string sent_private_line(std::string_view to, std::string_view text,
                                            std::uint64_t ts_ms, const line_style& style);

// One JSON object for `e` (every event type, acks and errors included).
[[nodiscard]] std::string json_line(const client_event& e);

// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

// The wire-style name of a connection status, e.g. "connection-lost".
[[nodiscard]] std::string_view status_name(status s);

}  // namespace bcast::client
