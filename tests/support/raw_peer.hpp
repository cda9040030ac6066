// A protocol peer with no client library in between: a DEALER to send any
// bytes and read the answers, and a SUB to read publications. Integration
// tests read like transcripts: send(...), then expect<type>(...).
#pragma once

#include <gtest/gtest.h>
#include <zmq.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "bcast/proto/curve_cert.hpp"
#include "deadline.hpp"

namespace bcast::test {

struct published {
  std::string topic;
  proto::any_event event;
};

// Keys for a peer of a CURVE broker: the broker's public key, our pair.
struct curve_keys {
  proto::curve_cert server;
  proto::curve_cert own;
};

class raw_peer {
 public:
  raw_peer(zmq::context_t& context, const std::string& in, const std::string& out,
           const std::optional<curve_keys>& curve = std::nullopt);

  void send(const proto::any_request& request);
  // Sends `frames` as one multipart message, exactly as given.
  void send_frames(const std::vector<std::string>& frames);
  // The next answer on the DEALER, decoded; nullopt if none within `limit`.
  std::optional<proto::any_event> reply(std::chrono::milliseconds limit = patience);
  // The next publication that is not a heartbeat; nullopt if none in time.
  // A `pack` is taken apart: its messages come one by one, in order.
  std::optional<published> publication(std::chrono::milliseconds limit = patience);
  // Reads and drops every publication already queued; returns how many
  // frames that was (a peer that keeps reading is never a slow consumer).
  std::size_t drain_publications();
  // Waits until a heartbeat arrives: from then on our subscriptions are live.
  [[nodiscard]] bool wait_subscribed();
  [[nodiscard]] bool wait_subscribed_within(std::chrono::milliseconds limit);
  // Sends hello as `name` and returns the welcome (fails the test if none).
  proto::event::welcome join(const std::string& name);
  zmq::socket_t& dealer() { return dealer_; }
  // How many `pack` publications publication() has taken apart.
  [[nodiscard]] std::size_t packs_seen() const { return packs_; }

  // The next answer, which must be of type T.
  template <typename T>
  T expect() {
    auto r = reply();
    if (!r) {
      ADD_FAILURE() << "no answer within " << patience.count() << " ms";
      return T{};
    }
    if (!std::holds_alternative<T>(*r)) {
      ADD_FAILURE() << "unexpected answer type (index " << r->index() << ")";
      return T{};
    }
    return std::get<T>(*r);
  }

  // The next answer, which must be an error with `code`; returns it.
  proto::event::error expect_error(std::string_view code);

  // The next non-heartbeat publication, which must be of type T on `topic`.
  template <typename T>
  T expect_published(std::string_view topic) {
    auto p = publication();
    if (!p) {
      ADD_FAILURE() << "nothing published within " << patience.count() << " ms";
      return T{};
    }
    EXPECT_EQ(p->topic, topic);
    if (!std::holds_alternative<T>(p->event)) {
      ADD_FAILURE() << "unexpected publication type (index " << p->event.index() << ")";
      return T{};
    }
    return std::get<T>(p->event);
  }

 private:
  zmq::socket_t dealer_;
  zmq::socket_t sub_;
  std::deque<published> unpacked_;  // received, not yet returned (the rest of a pack)
  std::size_t packs_ = 0;
};

}  // namespace bcast::test
