// The typed messages of BCAST/1: what clients send the broker (`request`) and
// what the broker sends back or publishes (`event`). Field names are the wire
// keys of PROTOCOL.md; the codec turns these into MessagePack and back.
// Generated from proto/schema/bcast1.json by proto/schema/generate.py: do not edit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bcast/proto/limits.hpp"

namespace bcast::proto {

// Client -> broker, over DEALER -> ROUTER.
namespace request {

// `hello`: join, resume, or retry a join. Answer: welcome or error.
struct hello {
  static constexpr std::string_view type = "hello";
  std::uint64_t v = protocol_version;  // protocol version; MUST be 1
  std::string name;                    // the name to be known by (section 7.3)
  std::optional<std::string> session;  // resume token from an earlier welcome
  std::optional<std::string> token;    // join token, when the broker wants one
  std::vector<std::string> rooms;      // rooms followed; empty = tell me all
};

// `msg`: say something in a room. Answer: ack if id given, else none; error on failure.
struct msg {
  static constexpr std::string_view type = "msg";
  std::string text;                 // 1 to max_text bytes of UTF-8
  std::string room{default_room};   // target room
  std::optional<std::uint64_t> id;  // request id, for ack and de-duplication
};

// `dm`: a private message to one user. Answer: as for msg.
struct dm {
  static constexpr std::string_view type = "dm";
  std::string to;                   // the recipient's name
  std::string text;                 // 1 to max_text bytes
  std::optional<std::uint64_t> id;  // request id (shares the de-duplication memory with msg)
};

// `ping`: keep the session alive. Answer: pong.
struct ping {
  static constexpr std::string_view type = "ping";
  std::optional<std::uint64_t> id;  // echoed in the answer
};

// `who`: list live sessions. Answer: who.
struct who {
  static constexpr std::string_view type = "who";
  std::optional<std::uint64_t> id;  // echoed in the answer
};

// `rooms`: list the live rooms. Answer: rooms.
struct rooms {
  static constexpr std::string_view type = "rooms";
  std::optional<std::uint64_t> id;  // echoed in the answer
};

// `history`: read a room's kept messages; allowed without a session. Answer: history.
struct history {
  static constexpr std::string_view type = "history";
  std::string room{default_room};           // the room to read
  std::optional<std::uint64_t> after;       // absent: the newest `limit` messages
  std::uint64_t limit = max_history_limit;  // at most this many (default and maximum 1000)
  std::optional<std::uint64_t> id;          // echoed in the answer
};

// `bye`: end the session. Answer: none (leave, reason bye, is published).
struct bye {
  static constexpr std::string_view type = "bye";
  std::optional<std::uint64_t> id;  // echoed in a no-session error
};

}  // namespace request

using any_request = std::variant<request::hello, request::msg, request::dm, request::ping,
                                 request::who, request::rooms, request::history, request::bye>;

// Broker -> client: answers over ROUTER -> DEALER, publications over PUB -> SUB.
namespace event {

// One entry of a `seq_map` (`welcome.rooms`, `hb.rooms`): a room and its last seq.
struct room_seq {
  std::string room;
  std::uint64_t seq = 0;
  bool operator==(const room_seq&) const = default;
};

// One live session in a `who` answer.
struct user {
  std::string name;         // the session's name
  std::uint64_t since = 0;  // join time
  bool operator==(const user&) const = default;
};

// One live room in a `rooms` answer.
struct room_info {
  std::string room;                   // the room's name
  std::uint64_t last = 0;             // newest seq published in it
  std::optional<std::uint64_t> idle;  // ms since its last message; absent when none was published since the broker started
  bool operator==(const room_info&) const = default;
};

// One message of a `pack`: an array of its values in key order, without keys.
struct pack_entry {
  std::uint64_t dts = 0;     // its ts minus the pack's ts
  std::uint64_t sender = 0;  // its sender, an index into the pack's names
  std::string text;          // the text
  bool operator==(const pack_entry&) const = default;
};

// `msg`: a room's message; also the element type of history.msgs and batch.msgs. Published on
// `room/<room>/`.
struct msg {
  static constexpr std::string_view type = "msg";
  std::uint64_t epoch = 0;  // the broker's epoch
  std::uint64_t seq = 0;    // its seq in room
  std::uint64_t ts = 0;     // when the broker published it
  std::string room;         // the room
  std::string from;         // stamped by the broker
  std::string text;         // the text
  bool operator==(const msg&) const = default;
};

// `welcome`: the answer to a successful hello. Sent to the requester.
struct welcome {
  static constexpr std::string_view type = "welcome";
  std::uint64_t v = protocol_version;  // protocol version, 1
  std::string name;                    // the name as registered
  std::string session;                 // opaque resume token, a secret
  std::uint64_t epoch = 0;             // the broker's current epoch
  std::uint64_t hb_ivl = 0;            // heartbeat interval in ms
  std::uint64_t liveness = 0;          // silent intervals before a session ends
  std::uint64_t sys_seq = 0;           // last seq of the sys stream
  std::vector<room_seq> rooms;         // room -> last seq published in it
  std::uint64_t max_text = 0;          // largest accepted text, in bytes
  std::uint64_t ts = 0;                // the broker's clock when it answered: an hb with ts at or past it came after (10.1)
};

// `ack`: a request with an id was carried out. Sent to the requester.
struct ack {
  static constexpr std::string_view type = "ack";
  std::uint64_t id = 0;              // the request's id
  std::optional<std::string> room;   // for `msg`: where it was published
  std::optional<std::uint64_t> seq;  // for `msg`: its seq in that room
};

// `error`: a request failed. Sent to the requester.
struct error {
  static constexpr std::string_view type = "error";
  std::string code;                 // wire spelling; see error_code.hpp
  std::string reason;               // human-readable detail; not for parsing
  std::optional<std::uint64_t> id;  // the failed request's id, when readable
};

// `pong`: the answer to ping. Sent to the requester.
struct pong {
  static constexpr std::string_view type = "pong";
  std::optional<std::uint64_t> id;  // echoed from the ping
};

// `who`: the live sessions, oldest first. Sent to the requester.
struct who {
  static constexpr std::string_view type = "who";
  std::vector<user> users;          // oldest session first
  std::optional<std::uint64_t> id;  // echoed from the request
};

// `rooms`: the live rooms, by name. Sent to the requester.
struct rooms {
  static constexpr std::string_view type = "rooms";
  std::vector<room_info> list;      // every live room, by name
  std::optional<std::uint64_t> id;  // echoed from the request
};

// `history`: a room's kept messages. Sent to the requester.
struct history {
  static constexpr std::string_view type = "history";
  std::string room;                 // the room asked for
  std::vector<msg> msgs;            // seq ascending
  std::uint64_t first = 0;          // oldest seq kept (last + 1 when none is kept)
  std::uint64_t last = 0;           // newest seq published in the room
  std::uint64_t epoch = 0;          // the epoch these seqs belong to
  std::optional<std::uint64_t> id;  // echoed from the request
};

// `dm`: a private message, never published nor stored. Sent to one recipient.
struct dm {
  static constexpr std::string_view type = "dm";
  std::string from;      // sender's name, stamped by the broker
  std::string text;      // the text
  std::uint64_t ts = 0;  // when the broker handled it
};

// `batch`: several consecutive msg events of one room in one publication (6.3). Published on
// `room/<room>/`.
struct batch {
  static constexpr std::string_view type = "batch";
  std::uint64_t epoch = 0;  // the broker's epoch
  std::string room;         // the room
  std::vector<msg> msgs;    // seq ascending, consecutive, each of room and epoch
};

// `pack`: consecutive msg events of one room in one publication, what they share written once
// (6.3). Published on `room/<room>/`.
struct pack {
  static constexpr std::string_view type = "pack";
  std::uint64_t epoch = 0;          // the broker's epoch
  std::string room;                 // the room
  std::uint64_t seq = 0;            // the first message's seq; entry i has seq + i
  std::uint64_t ts = 0;             // the smallest ts of its messages
  std::vector<std::string> names;   // each sender once, in order of first appearance
  std::vector<pack_entry> entries;  // one [dts, sender, text] per message, in seq order
};

// `join`: a session opened. Published on `sys/`.
struct join {
  static constexpr std::string_view type = "join";
  std::uint64_t epoch = 0;  // the broker's epoch
  std::uint64_t seq = 0;    // the sys stream's seq
  std::uint64_t ts = 0;     // the broker's wall clock, ms
  std::string name;         // who joined
};

// `leave`: a session ended. Published on `sys/`.
struct leave {
  static constexpr std::string_view type = "leave";
  std::uint64_t epoch = 0;  // the broker's epoch
  std::uint64_t seq = 0;    // the sys stream's seq
  std::uint64_t ts = 0;     // the broker's wall clock, ms
  std::string name;         // who left
  std::string reason;       // bye, timeout, revoked (kicked reserved)
};

// `hb`: the broker's heartbeat (not sequenced). Published on `sys/`.
struct hb {
  static constexpr std::string_view type = "hb";
  std::uint64_t epoch = 0;      // the broker's epoch
  std::uint64_t ts = 0;         // the broker's wall clock, ms
  std::uint64_t sys_seq = 0;    // the last sys seq
  std::vector<room_seq> rooms;  // rooms active recently -> their last seq
  std::uint64_t clients = 0;    // live sessions
};

// `shutdown`: the broker is stopping. Published on `sys/`.
struct shutdown {
  static constexpr std::string_view type = "shutdown";
  std::uint64_t epoch = 0;  // the broker's epoch
  std::uint64_t seq = 0;    // the sys stream's seq
  std::uint64_t ts = 0;     // the broker's wall clock, ms
  std::string reason;       // "shutdown"
};

}  // namespace event

using any_event = std::variant<event::welcome, event::ack, event::error, event::pong, event::who,
                               event::rooms, event::history, event::dm, event::msg, event::batch,
                               event::pack, event::join, event::leave, event::hb, event::shutdown>;

}  // namespace bcast::proto
