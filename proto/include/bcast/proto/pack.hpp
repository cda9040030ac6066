// The `pack` publication (PROTOCOL.md 6.3): consecutive messages of one room
// with what they share written once. The broker writes one from the `msg`
// bodies it stored (read_stored_msg, encode_pack); a receiver turns a decoded
// pack back into the messages it means (messages_of) or, where every cycle
// counts (the benchmark's receivers), reads it in place (read_pack).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/proto/messages.hpp"
#include "bcast/proto/msg_view.hpp"

namespace bcast::proto {

// A `msg` body exactly as encode_msg() writes it (its seven keys in canonical
// order, nothing else), read in place; nullopt for any other bytes.
[[nodiscard]] std::optional<msg_event_view> read_stored_msg(std::string_view bytes);

// Writes into `out` (replacing what it held, reusing its memory) the pack of
// `msgs`: at least one, all of one room and epoch, seqs consecutive and
// ascending. Byte for byte what encode() gives for the same event::pack.
void encode_pack(std::span<const msg_event_view> msgs, std::string& out);

// The `msg`s a decoded pack means, in order (decode_event() refuses a pack
// with no entries or a sender past its names, so every index here is valid).
[[nodiscard]] std::vector<event::msg> messages_of(const event::pack& pack);

// A pack read in place: views into the bytes it was read from.
struct pack_view {
  struct entry {
    std::uint64_t dts = 0;
    std::uint64_t sender = 0;
    std::string_view text;
  };
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string_view room;
  std::vector<std::string_view> names;
  std::vector<entry> entries;
};

// Reads `bytes` into `out` (reusing its vectors' memory): true when they are
// one map whose `t` is "pack" and which decode_event() reads as a pack with
// the same fields. Gives up at `t` when it comes first and is not "pack", so
// asking of every publication costs little.
[[nodiscard]] bool read_pack(std::string_view bytes, pack_view& out);

}  // namespace bcast::proto
