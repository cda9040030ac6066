// What a client library user sees happen: messages in order, presence,
// private messages, acks and refusals, and the state of the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bcast/proto/messages.hpp"

namespace bcast::client {

// A room message, shown once and in seq order.
using message_event = proto::event::msg;

struct presence_event {
  bool joined = false;  // false: left
  std::string name;
  std::string reason;  // for a leave: bye, timeout, kicked
  std::uint64_t ts = 0;
};

using direct_event = proto::event::dm;

// Messages of `room` that could not be recovered (older than history keeps).
struct lost_event {
  std::string room;
  std::uint64_t first_seq = 0;
  std::uint64_t count = 0;
};

struct ack_event {
  std::uint64_t id = 0;
  std::optional<std::string> room;
  std::optional<std::uint64_t> seq;
};

// The broker refused a request; `id` names it when it had one.
struct error_event {
  std::string code;
  std::string reason;
  std::optional<std::uint64_t> id;
};

// An answer to request_history(): past messages, not part of the stream.
struct history_event {
  std::string room;
  std::vector<proto::event::msg> msgs;
};

struct who_event {
  std::vector<proto::event::user> users;
};

// An answer to list_rooms(): the broker's live rooms, by name.
struct rooms_event {
  std::vector<proto::event::room_info> rooms;
};

enum class status {
  joined,           // first welcome (listeners: first publication): we are in
  connection_lost,  // nothing heard from the broker for `liveness` intervals
  reconnected,      // welcome again after a loss; missed messages follow
  server_shutdown,  // the broker announced it is stopping
  epoch_reset,      // the broker started a new epoch: streams restart at 1
  store_refusing,   // the broker cannot store messages now: ours wait and are retried
  store_accepting,  // after store_refusing: a message was acknowledged again
  // The broker refused a message of ours as `rate-limited` (its --rate):
  // said once per burst; the message waits and is retried.
  rate_limited,
  // After rate_limited: every message it held back was acknowledged.
  sending_again,
  // Before any contact: the broker's endpoint refused the connection (--in
  // for a named client, --out for a listener); the client keeps trying.
  unreachable,
  // The broker answers on --in, but nothing arrives from --out (refused,
  // not a broker's PUB, or silent for 2 heartbeats): messages are delivered
  // and acked, yet this client sees none.
  no_broadcasts,
  // A listener hears the broker on --out, but --in refuses: history and the
  // repair of gaps cannot be asked for (a --history backlog never comes).
  no_requests,
};

struct status_event {
  status what = status::joined;
  std::string detail;  // for unreachable, no_broadcasts and no_requests: the whole sentence
};

using client_event = std::variant<message_event, presence_event, direct_event, lost_event,
                                  ack_event, error_event, who_event, rooms_event, history_event,
                                  status_event>;

}  // namespace bcast::client
