// The typed messages of BCAST/1: what clients send the broker (`request`) and
// what the broker sends back or publishes (`event`). Field names are the wire
// keys of PROTOCOL.md; the codec turns these into MessagePack and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bcast/proto/limits.hpp"

namespace bcast::proto {

// Client -> broker, over DEALER -> ROUTER.
namespace request {

struct hello {
  std::uint64_t v = protocol_version;
  std::string name;
  std::optional<std::string> session;  // resume token from an earlier welcome
  std::optional<std::string> token;    // join token, when the broker wants one
  std::vector<std::string> rooms;      // rooms followed; empty = tell me all
};

struct msg {
  std::string text;
  std::string room{default_room};
  std::optional<std::uint64_t> id;
};

struct dm {
  std::string to;
  std::string text;
  std::optional<std::uint64_t> id;
};

struct ping {
  std::optional<std::uint64_t> id;
};

struct who {
  std::optional<std::uint64_t> id;
};

struct history {
  std::string room{default_room};
  std::optional<std::uint64_t> after;  // absent: the newest `limit` messages
  std::uint64_t limit = max_history_limit;
  std::optional<std::uint64_t> id;
};

struct bye {
  std::optional<std::uint64_t> id;  // echoed in a no-session error
};

}  // namespace request

using any_request = std::variant<request::hello, request::msg, request::dm, request::ping,
                                 request::who, request::history, request::bye>;

// Broker -> client: answers over ROUTER -> DEALER, publications over PUB -> SUB.
namespace event {

struct room_seq {
  std::string room;
  std::uint64_t seq = 0;
  bool operator==(const room_seq&) const = default;
};

struct welcome {
  std::uint64_t v = protocol_version;
  std::string name;
  std::string session;
  std::uint64_t epoch = 0;
  std::uint64_t hb_ivl = 0;
  std::uint64_t liveness = 0;
  std::uint64_t sys_seq = 0;
  std::vector<room_seq> rooms;
  std::uint64_t max_text = 0;
};

struct ack {
  std::uint64_t id = 0;
  std::optional<std::string> room;  // for `msg`: where it was published
  std::optional<std::uint64_t> seq;
};

struct error {
  std::string code;  // wire spelling; see error_code.hpp
  std::string reason;
  std::optional<std::uint64_t> id;
};

struct pong {
  std::optional<std::uint64_t> id;
};

struct user {
  std::string name;
  std::uint64_t since = 0;
  bool operator==(const user&) const = default;
};

struct who {
  std::vector<user> users;
  std::optional<std::uint64_t> id;
};

// Published on `room/<room>/`; also the element type of `history.msgs`.
struct msg {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string room;
  std::string from;
  std::string text;
  bool operator==(const msg&) const = default;
};

struct history {
  std::string room;
  std::vector<msg> msgs;  // seq ascending
  std::uint64_t first = 0;  // oldest seq kept (last + 1 when none is kept)
  std::uint64_t last = 0;   // newest seq published in the room
  std::uint64_t epoch = 0;  // the epoch these seqs belong to
  std::optional<std::uint64_t> id;
};

// Several consecutive `msg` events of one room in one publication (PROTOCOL
// 6.3): the broker sends one when it has more than one ready at once.
struct batch {
  std::uint64_t epoch = 0;
  std::string room;
  std::vector<msg> msgs;  // seq ascending, consecutive, each of `room` and `epoch`
};

// A private message, sent over ROUTER to the one recipient.
struct dm {
  std::string from;
  std::string text;
  std::uint64_t ts = 0;
};

struct join {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string name;
};

struct leave {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string name;
  std::string reason;  // bye, timeout, kicked
};

struct hb {
  std::uint64_t epoch = 0;
  std::uint64_t ts = 0;
  std::uint64_t sys_seq = 0;
  std::vector<room_seq> rooms;  // rooms active recently -> their last seq
  std::uint64_t clients = 0;
};

struct shutdown {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::string reason;
};

}  // namespace event

using any_event =
    std::variant<event::welcome, event::ack, event::error, event::pong, event::who, event::history,
                 event::dm, event::msg, event::batch, event::join, event::leave, event::hb,
                 event::shutdown>;

}  // namespace bcast::proto
