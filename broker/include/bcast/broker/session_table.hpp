// The live sessions: who is connected under which name, from which ZeroMQ
// routing id, since when, when last heard, and which request ids each has
// already had carried out. Knows nothing of sockets; the core drives it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bcast/proto/messages.hpp"

namespace bcast::broker {

// Answers already given to request ids, so a retried request is acked again
// with its original result instead of being carried out twice.
class recent_ids {
 public:
  explicit recent_ids(std::size_t capacity) : capacity_(capacity) {}

  // Returns the ack given to `id`, or nullptr if it is not remembered.
  [[nodiscard]] const proto::event::ack* find(std::uint64_t id) const;
  // Remembers `ack` under its id, forgetting the oldest past capacity.
  void remember(const proto::event::ack& ack);

 private:
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, proto::event::ack> acks_;
  std::deque<std::uint64_t> order_;
};

// Token bucket: `rate` requests a second on average, `burst` at once.
class rate_limiter {
 public:
  // A burst below one request would refuse everything: it then defaults to
  // one second's worth of requests.
  rate_limiter(double rate, double burst)
      : rate_(rate), burst_(burst >= 1 ? burst : std::max(rate, 1.0)), tokens_(burst_) {}
  // Returns true (and spends a token) when a request may pass at `now_ms`.
  [[nodiscard]] bool allow(std::uint64_t now_ms);

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::uint64_t last_ms_ = 0;
};

struct session {
  std::string name;
  std::string token;       // resume token handed out in `welcome`
  std::string routing_id;  // the peer's current ZeroMQ routing id
  bool delimiter = false;  // peer uses REQ-style envelopes (empty frame)
  std::uint64_t since_ms = 0;      // wall time of the join
  std::uint64_t last_seen_ms = 0;  // monotonic time of its last traffic
  std::vector<std::string> rooms;  // rooms named in its hello
  recent_ids acked;
  rate_limiter limiter;
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class session_table {
 public:
  session_table(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Lookups; each returns nullptr when no live session matches.
  [[nodiscard]] session* by_route(std::string_view routing_id);
  [[nodiscard]] session* by_name(std::string_view name);
  [[nodiscard]] session* by_token(std::string_view token);

  // Opens a session for a name no live session holds; returns it.
  session& open(std::string name, std::string routing_id, bool delimiter,
                std::uint64_t wall_now, std::uint64_t mono_now);
  // Moves a session to a new routing id (a client that reconnected).
  void rebind(session& s, std::string routing_id, bool delimiter);
  // Ends the session of `name`.
  void close(std::string_view name);

  // Returns the names of sessions silent for at least `max_silence_ms`.
  [[nodiscard]] std::vector<std::string> silent_since(std::uint64_t mono_now,
                                                      std::uint64_t max_silence_ms) const;

  [[nodiscard]] std::size_t size() const { return by_name_.size(); }
  // Every live session, oldest first.
  [[nodiscard]] std::vector<const session*> all() const;

 private:
  std::string new_token();

  double rate_;
  double burst_;
  std::unordered_map<std::string, session, string_hash, std::equal_to<>> by_name_;
  std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> name_by_route_;
  std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> name_by_token_;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace bcast::broker
