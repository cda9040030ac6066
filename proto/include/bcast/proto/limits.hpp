// Every number the protocol fixes, each with the reason for its value.
// Broker options may lower or raise the run-time ones (text, frame, history);
// these are the defaults and hard bounds both sides agree on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bcast::proto {

// BCAST/1: the only version this code speaks; `hello.v` must equal it.
inline constexpr std::uint64_t protocol_version = 1;

// The broker's ports when none are given (PROTOCOL 3): requests, broadcasts.
inline constexpr std::string_view default_in_port = "5555";
inline constexpr std::string_view default_out_port = "5556";

// The heartbeat interval and liveness a broker may announce in `welcome`
// (PROTOCOL 12): 10 ms keeps timers from spinning, a minute is the longest
// a person waits to see a dead peer go; a client clamps what it is told.
inline constexpr std::uint64_t min_hb_ivl_ms = 10;
inline constexpr std::uint64_t max_hb_ivl_ms = 60000;
inline constexpr std::uint64_t max_liveness = 100;
// What a broker announces unless told otherwise (PROTOCOL 12), and what a
// client assumes before its first `welcome`: one heartbeat a second makes
// presence feel live and costs an idle client one tiny ping a second; three
// missed intervals before a session ends, as in ZMTP/MDP practice, so one
// lost heartbeat never drops a person.
inline constexpr std::uint64_t default_hb_ivl_ms = 1000;
inline constexpr std::uint64_t default_liveness = 3;

// Names and rooms fit a terminal column and a log line.
inline constexpr std::size_t max_name_chars = 32;
inline constexpr std::size_t max_room_chars = 32;

// 4 KiB of text is a long chat message; it stays far below the frame limit so
// an over-long text is answered `too-large` instead of cut off by ZeroMQ.
inline constexpr std::size_t default_max_text = 4096;
// The most a broker's --max-text may be: a client never needs to read more
// text than this for one message.
inline constexpr std::size_t largest_max_text = 60000;

// ZMQ_MAXMSGSIZE on the broker's ROUTER: a larger frame drops that peer only.
inline constexpr std::size_t default_max_frame = 64 * 1024;

// One `history` answer carries at most this many messages, and at most
// this many bytes of them (always at least one message): a 31-byte request
// cannot make a 4 MiB reply, and the largest frame a broker sends is known
// (a client asks again from the last seq it got).
inline constexpr std::size_t max_history_limit = 1000;
inline constexpr std::size_t max_history_answer_bytes = 256 * 1024;

// The largest frame a broker sends (PROTOCOL 12: a `who` of 4096 sessions
// is ~600 KiB); a client reads no larger one (ZMQ_MAXMSGSIZE on its
// sockets), so a hostile broker cannot make it hold a 36 MB answer.
inline constexpr std::size_t max_broker_frame = 1024 * 1024;

// The broker remembers at least this many request ids per session, so a
// client retrying after a lost ack is answered, not carried out twice.
inline constexpr std::size_t dedup_window = 1024;

// A `hello` may list the rooms its client follows; more than this is abuse.
inline constexpr std::size_t max_hello_rooms = 64;

// Bodies are flat maps with at most one level of nested arrays/maps (who,
// history, welcome.rooms): a deeper nesting is hostile input, refused before
// it can exhaust the decoder's stack.
inline constexpr std::size_t max_decode_depth = 8;

// MessagePack objects in one request, counted before it is decoded: a hello
// with 64 rooms has about 80; a large --max-frame must not let a frame of
// millions of tiny objects make the decoder allocate for each.
inline constexpr std::size_t max_request_objects = 1024;

// A `pack` publication carries at most this many messages and, past its
// first, at most this many bytes of their `msg` bodies. The broker's PUB high-water mark
// counts publications, so a stalled subscriber's queue holds at most
// pub-hwm × max_batch_bytes (a single longer message travels alone).
inline constexpr std::size_t max_batch_msgs = 64;
inline constexpr std::size_t max_batch_bytes = 16 * 1024;

inline constexpr std::string_view default_room = "lobby";

}  // namespace bcast::proto
