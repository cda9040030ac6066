// The flood of the stalled-subscriber test and what its subscribers saw:
// flood_senders client-library connections send flood_messages unique 1 KiB
// texts each to room "bulk" as fast as their send windows allow; a
// `listen` process, a library connection and a raw SUB follow "bulk", and
// each one's view of it (shown seqs and texts, lost runs) is kept for the
// test to check. The broker, and what it may spend, are the test's.
#pragma once

#include <zmq.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bcast/client/connection.hpp"
#include "broker_process.hpp"
#include "json_client.hpp"

namespace bcast::test {

inline constexpr int flood_senders = 3;
inline constexpr std::size_t flood_messages = 10000;  // per sender
inline constexpr std::size_t flood_text_bytes = 1024;

// The text of message `k` of flood sender `sender`: unique, exactly 1 KiB.
[[nodiscard]] std::string flood_text(int sender, std::size_t k);

// What one flood sender was told.
struct flood_sender {
  std::map<std::uint64_t, std::uint64_t> seq_of_id;  // acks
  std::string error;
};

// The flood of every sender, and the broker's memory sampled meanwhile.
struct flood_outcome {
  std::vector<flood_sender> senders = std::vector<flood_sender>(flood_senders);
  std::uint64_t peak_rss_kib = 0;
  std::uint64_t ms = 0;
  bool finished = false;  // every sender returned in time
};

// Runs the senders on threads of their own until all return, sampling the
// broker's RSS every 10 ms (and keeping its log drained).
[[nodiscard]] flood_outcome run_flood(zmq::context_t& context, broker_process& broker);

// The text acked at each seq of "bulk": the warm-up at 1, then every
// sender's flood. A sender's error fails the test.
[[nodiscard]] std::map<std::uint64_t, std::string> acked_texts(const flood_outcome& f);

// What a stalled client showed of room "bulk": stream items and texts by seq.
struct bulk_view {
  std::vector<stream_item> items;
  std::map<std::uint64_t, std::string> texts;
  [[nodiscard]] std::uint64_t last() const { return items.empty() ? 0 : items.back().last; }
  [[nodiscard]] std::uint64_t lost() const;
};

// A `listen` process's view of "bulk" in its first epoch, and the last seq
// it accounted for there.
[[nodiscard]] bulk_view bulk_view_of(const json_client& c);
[[nodiscard]] std::uint64_t last_in_bulk(const json_client& c);

// A client-library connection in this process that follows "bulk": its own
// I/O thread keeps reading into its SUB queue while the test stops polling it.
class library_listener {
 public:
  library_listener(zmq::context_t& context, const broker_process& broker);

  // Takes what arrived within 2 ms into view().
  void poll();
  [[nodiscard]] bool ever_connected() const { return conn_.ever_connected(); }
  [[nodiscard]] const bulk_view& view() const { return view_; }

 private:
  client::connection conn_;
  bulk_view view_;
};

// A raw SUB on the broker's OUT that will read nothing after the warm-up:
// a queue of one message.
[[nodiscard]] zmq::socket_t stalling_raw_sub(zmq::context_t& context, const std::string& out);

// Whether the next thing the raw SUB reads within 5 ms is a message of "bulk".
[[nodiscard]] bool raw_got_bulk_message(zmq::socket_t& raw);

// Reads what the raw SUB holds, adding the messages of "bulk" to `received`;
// true once a heartbeat stamped after `after_wall_ms` arrives (everything
// published before it has arrived too).
[[nodiscard]] bool raw_read_until_heartbeat_after(zmq::socket_t& raw, std::uint64_t after_wall_ms,
                                                  std::uint64_t& received);

// Wall-clock milliseconds, as heartbeats are stamped.
[[nodiscard]] std::uint64_t wall_ms();

}  // namespace bcast::test
