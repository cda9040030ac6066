// What PROTOCOL.md 6.3 says of a `pack` beyond the types of its values, in
// one place for decode_event (which says why a pack is refused) and
// read_pack (which only refuses it): 1 to max_batch_msgs entries, each
// sender an index into the names, no seq or ts past 2^64 - 1.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "bcast/proto/limits.hpp"

namespace bcast::proto::detail {

// Why a pack of these values means no messages; nullopt when it is sound.
// `entries` holds values with `dts` and `sender` (decoded or read in place).
template <typename Entries>
std::optional<std::string> pack_problem(std::uint64_t seq, std::uint64_t ts, std::size_t names,
                                        const Entries& entries) {
  constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  if (entries.empty() || entries.size() > max_batch_msgs) {
    return "a pack of " + std::to_string(entries.size()) + " entries, not 1 to " + std::to_string(max_batch_msgs);
  }
  if (seq > top - (entries.size() - 1)) return "the seqs of its entries pass 2^64 - 1";
  for (const auto& e : entries) {
    if (e.sender >= names) {
      return "entry sender " + std::to_string(e.sender) + " is past the " + std::to_string(names) + " names";
    }
    if (e.dts > top - ts) return "an entry's ts passes 2^64 - 1";
  }
  return std::nullopt;
}

}  // namespace bcast::proto::detail
