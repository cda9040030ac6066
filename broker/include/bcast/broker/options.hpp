// What a broker run is configured with, and the defaults the CLI shows.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "bcast/proto/curve_cert.hpp"
#include "bcast/proto/limits.hpp"

namespace bcast::broker {

// --heartbeat and --liveness default to the protocol's values (proto/limits.hpp).
inline constexpr std::uint64_t default_heartbeat_ms = proto::default_hb_ivl_ms;
using proto::default_liveness;
inline constexpr std::size_t default_history = 1000;
// All rooms' history together: without a budget, one client spreading
// messages over max_rooms rooms could make the broker hold 16 GiB.
inline constexpr std::size_t default_history_bytes = std::size_t{256} << 20;
// Far more rooms than any chat needs, few enough that welcome/hb stay small.
inline constexpr std::size_t max_rooms = 4096;
// A room without a message this long may give its place in a full table to
// a new one (it is retired: its numbering is kept and goes on if it is used
// again).
inline constexpr std::uint64_t default_room_idle_ms = 3600 * 1000;
// Retired rooms whose last seq is kept: 64 Ki names, a few MiB.
inline constexpr std::size_t max_retired_rooms = 65536;
// Per-subscriber queue on PUB, in publications (a message or a pack of at
// most proto::max_batch_bytes): a stalled subscriber costs at most ~160 MiB,
// ~12 MiB at chat sizes and rates; past it ZeroMQ drops for that subscriber
// only and it recovers from history.
inline constexpr int default_pub_hwm = 10000;
// Bytes a session may read from history per second (one second's worth at
// once), each message counted as at least history_message_cost bytes (the
// work of serving it): 32 full answers of 256 KiB, or 32768 short
// messages, far more than any gap repair needs, yet a loop of `history`
// requests cannot keep the broker busy serialising.
inline constexpr double default_history_byte_rate = 8 << 20;
inline constexpr std::size_t history_message_cost = 256;
// The same for everything from one IP address together (its sessions and
// its listeners without one): more sessions do not multiply it.
inline constexpr double default_history_byte_rate_per_address = 16 << 20;
// How long the name of a session that timed out (or of one restored after a
// restart) stays kept for its resume token: a client back from a network
// cut or a broker restart finds its name, nobody else can take it meanwhile
// (and receive its direct messages).
inline constexpr std::uint64_t default_name_grace_ms = 30000;
// Bytes of replies (acks, answers) queued for one peer that does not read
// them: ~10 s of acks of a 50 000 msgs/s publisher, 64 full history
// answers. Past it the peer is cut as a slow consumer.
inline constexpr std::size_t default_reply_queue_bytes = std::size_t{16} << 20;
// The same for all peers together: past it, a peer over its share of it
// is cut, the others lose single replies.
inline constexpr std::size_t default_reply_total_bytes = std::size_t{256} << 20;
// Bytes published while one subscriber connection makes no progress
// reading (its kernel send queue full and not acked) before it is cut as a
// slow consumer: NATS's max_pending, 64 MiB. Its client reconnects and
// fills the gap from history.
inline constexpr std::size_t default_sub_queue_bytes = std::size_t{64} << 20;
// Bytes of publications ZeroMQ may hold for all subscribers together; past
// it, the subscriber that stopped reading longest ago is cut.
inline constexpr std::size_t default_sub_total_bytes = std::size_t{256} << 20;
// Subscriptions one subscriber connection may hold: `sys/` and `room/` (or
// everything) and a few dozen single rooms. ZeroMQ keeps every subscription
// in a trie without a bound; past this the connection is cut. A client
// that follows more rooms subscribes to `room/` and filters.
inline constexpr std::size_t max_subscriptions_per_connection = 32;
// Largest message a subscriber may send (ZeroMQ drops its connection past
// it, before keeping anything): a subscription is 1 flag byte and a topic of
// at most room/ + 32 + / (38 bytes); with CURVE the handshake's commands
// (HELLO 200 bytes, INITIATE about 300) and the encryption's 33 bytes a
// message need more. A subscription to anything but a topic of PROTOCOL.md
// 4 is cut when it is read.
inline constexpr std::int64_t max_subscriber_frame = 64;
inline constexpr std::int64_t max_subscriber_frame_curve = 512;
// Connections on both sockets together (a client has two): far more than a
// chat or a dashboard needs, far below the file descriptors the broker
// raises its limit to. From one address: a host with many people behind
// it (NAT) still fits; one host cannot take every slot.
inline constexpr std::size_t default_max_connections = 4096;
inline constexpr std::size_t default_max_connections_per_address = 256;
// Hellos per second from one IP address, and at once: a room of people
// behind one NAT joining together, a test suite's clients; not a stream of
// sessions opened to flush the dormant table or to guess the join token
// (a wrong token costs ten).
inline constexpr double default_hellos_per_address = 50;
inline constexpr double default_hello_burst_per_address = 500;
// New rooms one IP address may create: 256 at once, then one a minute, so
// one host cannot take the 4096-room table from everyone else.
inline constexpr double default_rooms_per_address = 1.0 / 60;
inline constexpr double default_room_burst_per_address = 256;
// Bytes the store may have appended but not committed (`--durable`: not yet
// on disk) before the broker stops reading requests (the senders then wait
// in ZeroMQ's queues): 64 MiB, some 60 000 messages of 1 KiB.
inline constexpr std::uint64_t max_uncommitted_bytes = std::uint64_t{64} << 20;
// Bytes past max_frame a request frame may have and still be read, to be
// answered `too-large` at once: a client that sends a long paste (1 MiB
// fits) learns why instead of being cut off. Past it ZeroMQ drops the
// connection before the broker holds the frame: what one peer can make it
// hold stays bounded.
inline constexpr std::size_t oversize_read_bytes = std::size_t{1} << 20;
// How long shutdown waits for the `shutdown` notice and replies to leave.
inline constexpr std::chrono::milliseconds shutdown_linger{500};

struct options {
  std::string in_endpoint;   // ROUTER bind endpoint
  std::string out_endpoint;  // PUB bind endpoint
  std::uint64_t heartbeat_ms = default_heartbeat_ms;
  std::uint64_t liveness = default_liveness;
  std::size_t history = default_history;
  std::size_t history_bytes = default_history_bytes;
  std::size_t max_text = proto::default_max_text;
  std::size_t max_frame = proto::default_max_frame;
  int pub_hwm = default_pub_hwm;
  std::size_t reply_queue_bytes = default_reply_queue_bytes;
  std::size_t reply_total_bytes = default_reply_total_bytes;
  std::size_t sub_queue_bytes = default_sub_queue_bytes;
  std::size_t sub_total_bytes = default_sub_total_bytes;
  double hellos_per_address = default_hellos_per_address;
  double hello_burst_per_address = default_hello_burst_per_address;
  double rooms_per_address = default_rooms_per_address;
  double room_burst_per_address = default_room_burst_per_address;
  std::size_t max_connections = default_max_connections;
  std::size_t max_connections_per_address = default_max_connections_per_address;
  // Messages per second per session (token bucket); 0 means no limit.
  double rate = 0;
  double burst = 0;
  double history_byte_rate = default_history_byte_rate;
  double history_byte_rate_per_address = default_history_byte_rate_per_address;
  std::uint64_t name_grace_ms = default_name_grace_ms;
  std::uint64_t room_idle_ms = default_room_idle_ms;
  // Publish and acknowledge a message only once the history store has it
  // on disk (needs a store with a file: `log_history`).
  bool durable = false;
  // When set, `hello` must carry this token (`unauthorized` otherwise).
  std::optional<std::string> join_token;
  // When set, both sockets speak CURVE with this key pair (encrypted, and
  // clients must know the public key); `allow_dir`, when set too, holds the
  // client keys admitted, each bound to a name (key_ring).
  std::optional<proto::curve_cert> curve;
  std::string allow_dir;
};

}  // namespace bcast::broker
