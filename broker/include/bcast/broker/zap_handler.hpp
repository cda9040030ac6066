// The ZAP handler (ZeroMQ RFC 27) of a CURVE broker: ZeroMQ asks it about
// every new connection on either socket, with the client's public key. With
// a key ring only admitted keys pass, and each connection carries its
// key's name as its User-Id; without one every key passes (encryption only).
// Runs on its own thread, bound before the broker's sockets accept anyone.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <thread>

#include "bcast/broker/key_ring.hpp"

namespace bcast::broker {

class zap_handler {
 public:
  zap_handler(zmq::context_t& context, key_ring* keys);
  ~zap_handler();
  zap_handler(const zap_handler&) = delete;
  zap_handler& operator=(const zap_handler&) = delete;

  [[nodiscard]] std::uint64_t refused() const { return refused_; }

 private:
  void run();
  void answer(std::vector<zmq::message_t>& request);

  zmq::socket_t socket_;
  key_ring* keys_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace bcast::broker
