// Turns one turn's publications into PUB frames. Consecutive `msg`s of one
// room travel as one `batch` body (PROTOCOL.md 6.3) of at most
// proto::max_batch_msgs messages and proto::max_batch_bytes of them; a
// message that is alone, and every `sys/` event, travels as its own body:
// the bytes history keeps, shared, not copied. Nothing waits for a batch to
// fill: a batch is only what the loop already had ready, so a quiet room
// sees single messages and a busy one costs ZeroMQ (and every subscriber)
// one frame per batch instead of one per message.
#pragma once

#include <zmq.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/broker/outbox.hpp"

namespace bcast::broker {

struct pub_frame {
  std::string_view topic;  // views the publication's topic
  zmq::message_t body;
};

class pub_batcher {
 public:
  // Returns the frames of `pubs`, in their order; `epoch` is the one every
  // body carries. The frames stay valid until the next call or until `pubs`
  // changes.
  [[nodiscard]] std::vector<pub_frame>& frames(std::span<const publication> pubs,
                                               std::uint64_t epoch);

 private:
  struct run {
    std::size_t msgs = 0;   // publications from the first on that travel in its frame
    std::size_t bytes = 0;  // their bodies' bytes
  };
  [[nodiscard]] static run run_from(std::span<const publication> pubs, std::size_t first);
  [[nodiscard]] zmq::message_t batch(std::span<const publication> msgs, std::size_t bytes,
                                     std::uint64_t epoch);

  std::vector<pub_frame> frames_;
  std::string header_;  // reused for each batch's header
};

}  // namespace bcast::broker
