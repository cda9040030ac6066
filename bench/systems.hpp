// The systems under test behind one interface: `ours` (the broadcast-server
// binary), `proxy` (zmq_proxy XSUB/XPUB in a child process), `direct` (PUB
// bound in the benchmark, SUBs connected to it), and the peers `nats` and
// `redis` (servers started by scripts/bench.sh). A system hands out
// publishers and subscribers; all bodies end in the benchmark tail.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "sub_state.hpp"

namespace zmq {
class context_t;
}

namespace bench {

// A connection that receives publications, watched by a receiver thread's
// epoll: a socket descriptor, or a ZeroMQ socket's ZMQ_FD (which signals
// when the socket may have become readable; draining until EAGAIN re-arms it).
class sub_conn {
 public:
  virtual ~sub_conn() = default;
  [[nodiscard]] virtual int fd() = 0;
  // Reads what is available now, without blocking, and records every body.
  // True when it stopped early (a batch limit) and may have more.
  virtual bool drain(sub_state& state) = 0;
};

// A connection that publishes to the room.
class pub_conn {
 public:
  virtual ~pub_conn() = default;
  // Sends one message; its body ends with the tail (marker, publisher, time).
  // Blocks while the system pushes back (ZeroMQ DEALER, TCP).
  virtual void send(char marker, std::uint64_t ts_ns) = 0;
  // Pushes out what is buffered (stream peers buffer up to 64 KiB).
  virtual void flush() {}
  // Reads and discards what came back; answers the server's pings.
  virtual void service() {}
  // Keeps a session alive while idle (ours: ping every half heartbeat).
  virtual void keepalive() {}
  // Errors the system answered, if any (shown as a warning).
  [[nodiscard]] virtual std::string problem() const { return {}; }
};

struct system_config {
  std::string broker_path;  // broadcast-server, for `ours`
  std::string self_path;    // this program, run as the proxy child
  int hwm = 10000;          // PUB/XPUB send and SUB receive high-water mark
  std::string nats;         // host:port of a running nats-server
  int nats_pid = -1;
  std::string redis;        // host:port of a running redis-server
  int redis_pid = -1;
  zmq::context_t* pub_ctx = nullptr;  // publishers' sockets
  zmq::context_t* sub_ctx = nullptr;  // subscribers' sockets
};

class system_under_test {
 public:
  virtual ~system_under_test() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // The process doing the fan-out, or -1 (direct).
  [[nodiscard]] virtual int pid() const { return -1; }
  // Publisher number `index` (its own hello for ours), `text_size` bytes of text.
  virtual std::unique_ptr<pub_conn> publisher(std::uint32_t index, std::size_t text_size) = 0;
  // A subscriber to the room; for direct, connected to every publisher made
  // so far. `rcvhwm` 0: the configured high-water mark.
  std::unique_ptr<sub_conn> subscriber(int rcvhwm = 0) { return make_subscriber(rcvhwm); }
  // The endpoints clients connect to (requests, publications), for peers
  // the benchmark drives itself (the flood scenario's attackers).
  [[nodiscard]] virtual std::pair<std::string, std::string> endpoints() const {
    throw std::logic_error(name() + " has no endpoints to attack");
  }

 protected:
  virtual std::unique_ptr<sub_conn> make_subscriber(int rcvhwm) = 0;
};

// A peer the benchmark only connects to (nats-server, redis-server, started
// by scripts/bench.sh): `Pub(address, index, text_size)` publishes,
// `Sub(address)` subscribes, `pid` is the server's.
template <typename Pub, typename Sub>
class external_system final : public system_under_test {
 public:
  external_system(std::string name, std::string address, int pid)
      : name_(std::move(name)), address_(std::move(address)), pid_(pid) {}
  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] int pid() const override { return pid_; }
  std::unique_ptr<pub_conn> publisher(std::uint32_t index, std::size_t text_size) override {
    return std::make_unique<Pub>(address_, index, text_size);
  }

 protected:
  std::unique_ptr<sub_conn> make_subscriber(int) override { return std::make_unique<Sub>(address_); }

 private:
  std::string name_;
  std::string address_;
  int pid_;
};

std::unique_ptr<system_under_test> start_system(const std::string& name, const system_config& config);

// The body a broker publishes for a `text_size`-byte text from `from`, so
// systems that just forward carry as many bytes as ours publishes.
std::string published_body(std::size_t text_size, const std::string& from);
// The room topic (ZeroMQ, Redis channel) every system uses.
inline constexpr const char* room_topic = "room/bench/";

// The peers (nats_client.cpp, redis_client.cpp).
std::unique_ptr<system_under_test> make_nats(const system_config& config);
std::unique_ptr<system_under_test> make_redis(const system_config& config);

}  // namespace bench

namespace bench {
// The proxy child's main (broadcast-bench --internal-proxy HWM): zmq_proxy
// between a bound XSUB and a bound XPUB until killed.
int run_proxy_child(int hwm);
}  // namespace bench
