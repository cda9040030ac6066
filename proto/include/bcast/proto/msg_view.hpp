// The broker's hot path: a `msg` request read in place and its publication
// written from views, so a message's text is copied once, from the request
// frame into the published body. Anything but the plain form of a `msg` is
// left to decode_request(), which reads (and explains) every body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::proto {

// A `msg` request's fields, viewing the bytes they were read from.
struct msg_request_view {
  std::string_view room;
  std::string_view text;
  std::optional<std::uint64_t> id;
};

// A `msg` event's fields, viewing strings the caller keeps alive.
struct msg_event_view {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string_view room;
  std::string_view from;
  std::string_view text;
};

// Reads a `msg` request in its plain form: a map of at most 15 entries whose
// keys are among "t" (= "msg"), "room", "text" and "id", each once, strings
// in valid UTF-8, `id` an unsigned integer, nothing after the map. For such a
// body the result equals what decode_request() returns; for any other body
// it is nullopt.
[[nodiscard]] std::optional<msg_request_view> read_plain_msg(std::string_view bytes);

// The `id` of a request too large to decode (over the broker's max_frame):
// the value of the top-level map's "id" key when it is an unsigned integer,
// read in place; nullopt when there is none or the bytes are not a map.
// Steps over at most max_request_objects objects.
[[nodiscard]] std::optional<std::uint64_t> peek_request_id(std::string_view bytes);

// The body of a `msg` event, byte for byte what encode() gives for the same
// fields.
[[nodiscard]] std::string encode_msg(const msg_event_view& m);
// The same, into `out` (replacing what it held, reusing its memory).
void encode_msg(const msg_event_view& m, std::string& out);

}  // namespace bcast::proto
