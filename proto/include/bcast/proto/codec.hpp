// MessagePack encoding and decoding of every BCAST/1 body. Decoding never
// throws on wire input: it returns the message or a `decode_error` whose
// reason names what was wrong. Encoding cannot fail.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/messages.hpp"

namespace bcast::proto {

struct decode_error {
  std::string reason;
  std::optional<std::uint64_t> id;  // the request's `id`, when it could be read
};

// Returns the MessagePack bytes of one body.
[[nodiscard]] std::string encode(const any_request& request);
[[nodiscard]] std::string encode(const any_event& event);

// Encodes a `history` answer from already-encoded `msg` bodies, so the broker
// never re-encodes what it stored.
[[nodiscard]] std::string encode_history(std::string_view room,
                                         std::span<const std::string_view> msg_bodies,
                                         std::uint64_t first, std::uint64_t last,
                                         std::uint64_t epoch, std::optional<std::uint64_t> id);

// Decodes a body sent by a client. Fails on anything that is not one map with
// string keys, a known `t` and known keys of the right type in valid UTF-8.
[[nodiscard]] std::variant<any_request, decode_error> decode_request(std::string_view bytes);

// Decodes a body sent or published by the broker, with the same strictness.
[[nodiscard]] std::variant<any_event, decode_error> decode_event(std::string_view bytes);

}  // namespace bcast::proto
