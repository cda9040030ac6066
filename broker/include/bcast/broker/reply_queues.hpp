// What the broker's replies hold in ZeroMQ's queues, in bytes, per peer and
// in total. Each reply leaves as a ZeroMQ message whose bytes are counted
// against its peer until ZeroMQ has written them to the kernel (or dropped
// them with the connection): the free callback, run on an I/O thread, gives
// the count back. A peer over its share is a slow consumer (NATS's rule):
// the broker cuts its connection and drops what it would have been sent
// until its queue drains, so one peer that never reads cannot take the
// broker's memory, and no peer can take more than its fair part of the total.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bcast/broker/string_hash.hpp"

namespace bcast::broker {

class reply_queues {
 public:
  enum class verdict {
    send,  // within bounds
    drop,  // this reply only: the total is full, or the peer is being cut
    cut,   // the peer is a slow consumer: cut it, drop this reply
  };

  // `per_peer`: bytes one peer may have queued; `total`: all peers together.
  reply_queues(std::size_t per_peer, std::size_t total);

  // Decides whether `bytes` more may be queued for `routing_id`. Over the
  // total, a peer holding more than the total's share per peer is cut; the
  // others only lose this reply.
  [[nodiscard]] verdict admit(std::string_view routing_id, std::size_t bytes);
  // The message carrying `body` to `routing_id`, counted until ZeroMQ frees it.
  [[nodiscard]] zmq::message_t message(std::string_view routing_id, std::string&& body);

  // Bytes queued for one peer, and for all.
  [[nodiscard]] std::size_t queued(std::string_view routing_id) const;
  [[nodiscard]] std::size_t total() const { return counters_->total.load(); }
  // Forgets peers with nothing queued, cut or not (run now and then: the
  // table stays as small as the set of peers with replies in flight).
  void sweep();
  [[nodiscard]] std::size_t peers() const { return accounts_.size(); }

 private:
  struct counters {
    std::atomic<std::size_t> total{0};
  };
  struct account {
    std::atomic<std::size_t> queued{0};
    std::shared_ptr<counters> all;
    bool cut = false;  // replies are dropped until `queued` is back to 0
  };
  // The account of `routing_id`, opened if it has none.
  const std::shared_ptr<account>& of(std::string_view routing_id);

  std::size_t per_peer_;
  std::size_t total_limit_;
  // Shared with every message in flight: they may be freed after we are.
  std::shared_ptr<counters> counters_ = std::make_shared<counters>();
  std::unordered_map<std::string, std::shared_ptr<account>, string_hash, std::equal_to<>> accounts_;
};

}  // namespace bcast::broker
