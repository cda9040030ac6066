// An encoded body shared by the outbox, the history stores and the PUB
// socket without copies: a ZeroMQ message, whose content libzmq counts
// references to (atomically, so a copy may travel to the history writer's
// thread). Publishing hands the I/O thread the same bytes the history keeps;
// a message costs one allocation from encoding to the wire. Public because
// history_store's interface carries it (new_message, history_slice), and
// the programs that pick a store (start, store-cost) include that interface.
#pragma once

#include <zmq.hpp>

#include <string_view>

namespace bcast::broker {

class shared_body {
 public:
  shared_body() = default;
  // Copies `bytes` once, into a new ZeroMQ message.
  explicit shared_body(std::string_view bytes) : msg_(bytes.data(), bytes.size()) {}
  // Takes `msg`'s content as it is (built in place by the caller).
  explicit shared_body(zmq::message_t&& msg) : msg_(std::move(msg)) {}
  shared_body(const shared_body& other) { msg_.copy(other.msg_); }
  shared_body& operator=(const shared_body& other) {
    if (this != &other) msg_.copy(other.msg_);
    return *this;
  }
  shared_body(shared_body&&) noexcept = default;
  shared_body& operator=(shared_body&&) noexcept = default;

  [[nodiscard]] std::string_view view() const { return msg_.to_string_view(); }
  [[nodiscard]] std::string_view operator*() const { return view(); }
  // body->size() and the like, on the bytes.
  struct arrow {
    std::string_view bytes;
    const std::string_view* operator->() const { return &bytes; }
  };
  [[nodiscard]] arrow operator->() const { return {view()}; }

 private:
  // zmq_msg_copy marks its source shared, so copying from a const body
  // writes to it; each body is only ever touched by one thread at a time.
  mutable zmq::message_t msg_;
};

}  // namespace bcast::broker
