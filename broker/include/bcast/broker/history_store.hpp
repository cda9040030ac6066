// The interface between the broker and wherever room history lives. The
// broker hands over each published `msg` body once, already encoded; stores
// keep shared references to those bytes and serve them back in seq order.
// The in-memory ring is one implementation; a persistent store is another.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bcast::broker {

using shared_body = std::shared_ptr<const std::string>;

struct history_slice {
  std::vector<shared_body> bodies;  // encoded `msg` bodies, seq ascending
  std::uint64_t first = 0;          // oldest seq kept (0 when none is kept)
};

class history_store {
 public:
  virtual ~history_store() = default;

  // The epoch the store was created under (PROTOCOL.md "Sequence").
  [[nodiscard]] virtual std::uint64_t epoch() const = 0;

  // Keeps `body`, published in `room` at `seq` (one above the last appended).
  virtual void append(std::string_view room, std::uint64_t seq, shared_body body) = 0;

  // Returns up to `limit` messages of `room`: those after seq `after`, oldest
  // first, or the newest `limit` when `after` is nullopt.
  [[nodiscard]] virtual history_slice read(std::string_view room,
                                           std::optional<std::uint64_t> after,
                                           std::size_t limit) const = 0;
};

}  // namespace bcast::broker
