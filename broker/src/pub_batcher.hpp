// Turns one turn's publications into PUB frames. Consecutive `msg`s of one
// room travel as one `pack` body (PROTOCOL.md 6.3) of at most
// proto::max_batch_msgs messages and proto::max_batch_bytes of their bodies;
// a message that is alone, and every `sys/` event, travels as its own body:
// the bytes history keeps, shared, not copied. Nothing waits for a batch to
// fill: a batch is only what the loop already had ready, so a quiet room
// sees single messages and a busy one costs ZeroMQ (and every subscriber)
// one frame per batch instead of one per message. Every frame is counted
// until ZeroMQ frees it (every subscriber's queue has written or dropped
// it): the bytes publications hold in the broker, which a subscriber that
// stops reading makes grow (slow_subscribers). Private to bcast_broker: the
// broker holds one behind a pointer, so broker.hpp needs only its name.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bcast/broker/outbox.hpp"
#include "bcast/proto/msg_view.hpp"

namespace bcast::broker {

struct pub_frame {
  std::string_view topic;  // views the publication's topic
  zmq::message_t body;
};

class pub_batcher {
 public:
  // Returns the frames of `pubs`, in their order. The frames stay valid
  // until the next call or until `pubs` changes.
  [[nodiscard]] std::vector<pub_frame>& frames(std::span<const publication> pubs);

  // Bytes of the frames made so far, and of those ZeroMQ still holds (any
  // thread may ask).
  [[nodiscard]] std::uint64_t made() const { return made_; }
  [[nodiscard]] std::uint64_t frames_made() const { return frames_made_; }
  [[nodiscard]] std::size_t held() const { return held_->load(std::memory_order_relaxed); }

 private:
  // How many publications from `first` on travel in its frame; when more
  // than one, run_ holds their messages.
  [[nodiscard]] std::size_t run_from(std::span<const publication> pubs, std::size_t first);
  [[nodiscard]] shared_body pack();
  // A frame of `body`'s bytes (not copied), counted in held() until freed.
  [[nodiscard]] zmq::message_t counted(shared_body body);

  std::vector<pub_frame> frames_;
  std::uint64_t made_ = 0;
  std::uint64_t frames_made_ = 0;
  // Shared with every frame in flight: ZeroMQ may free one after we are gone.
  std::shared_ptr<std::atomic<std::size_t>> held_ = std::make_shared<std::atomic<std::size_t>>(0);
  std::vector<proto::msg_event_view> run_;  // the messages of the pack being made
  std::string packed_;                      // reused for each pack's bytes
};

}  // namespace bcast::broker
