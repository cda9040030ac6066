// The broker process: binds ROUTER (IN) and PUB (OUT), and runs one event
// loop whose phases are drain inbound, log connection events, send what the
// core produced, end silent sessions and heartbeat, until asked to stop; then it publishes
// `shutdown`, refuses what is still queued and closes with a bounded linger.
#pragma once

#include <zmq.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "bcast/broker/core.hpp"
#include "bcast/broker/history_store.hpp"
#include "bcast/broker/options.hpp"
#include "bcast/broker/outbox.hpp"

namespace bcast::broker {

struct send_stats {
  std::uint64_t replies_dropped = 0;  // peer gone (EHOSTUNREACH) or full (EAGAIN)
};

class broker {
 public:
  // Binds both sockets; throws zmq::error_t when an endpoint cannot be bound.
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

 private:
  void drain_inbound(std::uint64_t now);
  void watch_connections();
  void refuse_inbound();
  void flush();
  void send_reply(const reply& r);

  options opts_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  zmq::socket_t monitor_;  // connection events of the ROUTER (accepted, closed)
  std::size_t open_connections_ = 0;
  int stop_fd_ = -1;
  core core_;
  outbox out_;
  send_stats sends_;
  std::vector<zmq::message_t> frames_;
};

}  // namespace bcast::broker
