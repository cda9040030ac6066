// The history directory a broker leaves behind, read as the fault tests
// check it: every message record with its room, seq, text, sender and
// request id (the format is in broker/src/log_format.md; records are read
// with the broker's own codec), and which acked messages it holds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace bcast::test {

struct stored_msg {
  std::string room;
  std::uint64_t seq = 0;
  std::string text;
  std::string sender;
  std::optional<std::uint64_t> req;
};

// Every message record in the directory's segments, by room and seq; a
// directory that cannot be listed leaves a sentence in `error`.
[[nodiscard]] std::vector<stored_msg> read_stored(const std::string& dir, std::string& error);

// Which acks a check is about: (sender, request id, ack).
using ack_filter = std::function<bool(const json_client&, std::uint64_t, const seen_ack&)>;

// How many of the acked messages that `wanted` selects the file holds at
// their acked seq, with the sender's name and request id; the first few
// missing ones in `missing`.
[[nodiscard]] std::size_t acked_in_store(const scenario& s, const std::vector<stored_msg>& stored,
                                         std::vector<std::string>& missing, const ack_filter& wanted);

}  // namespace bcast::test
