// The broker process: binds ROUTER (IN) and PUB (OUT), and runs one event
// loop whose phases are drain inbound, log connection events, send what the
// core produced, end silent sessions and heartbeat, until asked to stop;
// then it publishes `shutdown`, refuses what is still queued, waits for the
// history store to commit and closes with a bounded linger. What the core
// produced in a turn leaves only once the store has written that turn's
// messages (one write(2)), and with `options::durable` once they are on
// disk, so nothing is published or acknowledged that a crash could take
// back.
#pragma once

#include <spdlog/common.h>
#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bcast/broker/connection_table.hpp"
#include "bcast/broker/core.hpp"
#include "bcast/broker/key_ring.hpp"
#include "bcast/broker/zap_handler.hpp"
#include "bcast/broker/log_limiter.hpp"
#include "bcast/broker/history_store.hpp"
#include "bcast/broker/options.hpp"
#include "bcast/broker/outbox.hpp"
#include "bcast/broker/reply_queues.hpp"
#include "bcast/broker/slow_subscribers.hpp"

namespace bcast::broker {

class pub_batcher;  // broker/src/pub_batcher.hpp: how publications become PUB frames

// Counted by the loop; any thread may read them.
struct send_stats {
  std::atomic<std::uint64_t> replies_dropped{0};  // peer gone, full, or over its byte bound
  std::atomic<std::uint64_t> slow_peers_cut{0};   // connections cut as slow consumers
  std::atomic<std::uint64_t> slow_subscribers_cut{0};  // the same, on PUB
  std::atomic<std::uint64_t> subscription_floods_cut{0};  // past max_subscriptions_per_connection
};

class broker {
 public:
  // Binds both sockets; throws bind_error when an endpoint cannot be bound
  // (or an ipc path is another running broker's).
  broker(zmq::context_t& context, const options& opts, history_store& history);
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // The endpoints actually bound (ZMQ_LAST_ENDPOINT), e.g. with port '*'.
  [[nodiscard]] std::string in_endpoint() const;
  [[nodiscard]] std::string out_endpoint() const;

  // Runs the event loop until request_stop(); then shuts down gracefully.
  void run();

  // Asks run() to stop. Async-signal-safe: call it from a signal handler.
  void request_stop() noexcept;

  [[nodiscard]] const core_stats& stats() const { return core_.stats(); }
  [[nodiscard]] const send_stats& sends() const { return sends_; }
  // Bytes of replies ZeroMQ still holds for all peers (any thread may ask).
  [[nodiscard]] std::size_t queued_reply_bytes() const { return replies_.total(); }
  // Bytes of publications ZeroMQ still holds for subscribers (any thread).
  [[nodiscard]] std::size_t held_publication_bytes() const;
  // Connections open on both sockets, and refused for being over a bound.
  [[nodiscard]] std::size_t open_connections() const { return open_connections_; }
  [[nodiscard]] std::uint64_t refused_connections() const { return refused_connections_; }
  // Connections closed to make way for a host holding fewer (fair share).
  [[nodiscard]] std::uint64_t evicted_connections() const { return evicted_connections_; }

 private:
  void drain_inbound(std::uint64_t now);
  // Answers a request frame over max_frame with `too-large`; logs it once
  // for the connection `fd`.
  void on_oversize(int fd, std::string_view routing_id, bool delimiter);
  // A monitor of `socket`'s connection events (accepted, disconnected).
  zmq::socket_t watch(zmq::context_t& context, zmq::socket_t& socket, const char* name);
  void watch_connections(zmq::socket_t& monitor, const char* side);
  // Counts a new connection; closes it when it is over a bound.
  void on_accepted(int fd, const char* side);
  void log_connection(spdlog::level::level_enum level, const std::string& line);
  // Makes both sockets CURVE servers with `server`'s key, behind the ZAP handler.
  void secure(zmq::context_t& context, const proto::curve_cert& server);
  // Ends the sessions of keys removed from the allow directory.
  void revoke_removed_keys(std::uint64_t now);
  void refuse_inbound();
  void hold_or_flush();
  void release_committed();
  void flush(outbox& out);
  void send_reply(reply& r);
  // Closes the connection of a peer whose replies pile up unread.
  void cut_slow_peer(const reply& r);
  // Reads the subscriptions ZeroMQ passes up (every one, with its
  // connection) and cuts a connection past max_subscriptions_per_connection.
  void read_subscriptions();
  // Samples the subscribers' send queues and cuts those slow_subscribers
  // names; skipped while nothing was published and nothing is held.
  void judge_subscribers();

  // Output waiting for the store to commit up to `ticket` (bytes appended).
  struct held_output {
    std::uint64_t ticket;
    outbox out;
  };

  options opts_;
  history_store& history_;
  std::unique_ptr<key_ring> keys_;      // with `allow_dir`
  std::unique_ptr<zap_handler> zap_;    // with `curve`
  std::uint64_t recheck_keys_at_ = 0;   // when to close every subscriber connection (0: no)
  // With `allow_dir`: the name bound to the key of each request connection.
  std::unordered_map<int, std::string> request_keys_;
  // Request connections whose oversized frame was logged (once each).
  std::unordered_set<int> oversize_logged_;
  std::deque<held_output> held_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  zmq::socket_t monitors_[2];  // connection events of the ROUTER and the PUB
  connection_table connections_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::uint64_t> refused_connections_{0};
  std::atomic<std::uint64_t> evicted_connections_{0};
  log_limiter connection_log_;
  log_limiter refusal_log_;
  int stop_fd_ = -1;
  core core_;
  outbox out_;
  std::unique_ptr<pub_batcher> batcher_;
  send_stats sends_;
  reply_queues replies_;
  slow_subscribers subscribers_;
  std::unordered_map<int, std::size_t> subscriptions_;  // per subscriber connection
  std::uint64_t judged_at_ = 0;  // batcher_->frames_made() at the last judgement
  bool trim_after_cuts_ = false;  // subscribers were cut: return freed memory at the next heartbeat
  std::vector<zmq::message_t> frames_;
  core::identity_source identity_;  // of the request in frames_
};

}  // namespace bcast::broker
