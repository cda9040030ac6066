// A TCP forwarder that a test can cut: it listens on 127.0.0.1 and relays
// every accepted connection to a target port, byte for byte, on a thread of
// its own. stop() is the cut (every relayed connection is reset, the
// listener closed, so peers see their connection die and reconnects are
// refused); start() listens again on the same port. It owns sockets and its
// thread only; what travels through it is not its business.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace bcast::test {

class tcp_forwarder {
 public:
  // Relays to 127.0.0.1:`target_port`; listens on a free port at once.
  // Throws std::system_error when it cannot listen.
  explicit tcp_forwarder(std::uint16_t target_port);
  ~tcp_forwarder();
  tcp_forwarder(const tcp_forwarder&) = delete;
  tcp_forwarder& operator=(const tcp_forwarder&) = delete;

  // The port clients connect to; the same across stop() and start().
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // "tcp://127.0.0.1:PORT", for ZeroMQ's connect().
  [[nodiscard]] std::string endpoint() const;

  // Resets every relayed connection and closes the listener; returns when
  // all are closed. Does nothing when stopped already.
  void stop();
  // Listens again on port(); throws std::system_error when it cannot.
  void start();

  // Connections accepted since construction (over every start()).
  [[nodiscard]] std::uint64_t accepted() const { return accepted_; }

 private:
  void relay(int listener);

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe: a byte in it tells the relay thread to stop
  std::thread thread_;
  std::atomic<std::uint64_t> accepted_{0};
};

// The port of a "tcp://host:PORT" endpoint; 0 when there is none.
[[nodiscard]] std::uint16_t port_of(const std::string& endpoint);

}  // namespace bcast::test
