// A real broker for a test: bound to ephemeral loopback ports
// (tcp://127.0.0.1:*), running its event loop on a thread, stopped and
// joined when the fixture goes away. Heartbeats are fast so presence tests
// finish in a fraction of a second.
#pragma once

#include <zmq.hpp>

#include <memory>
#include <string>
#include <thread>

#include "bcast/broker/broker.hpp"
#include "bcast/broker/memory_history.hpp"

namespace bcast::test {

// 100 ms heartbeats: timeouts happen within ~0.4 s, yet stay far above the
// scheduling noise of a loaded 2-core machine.
inline constexpr std::uint64_t test_heartbeat_ms = 100;

[[nodiscard]] broker::options test_options();

class broker_fixture {
 public:
  explicit broker_fixture(broker::options opts = test_options());
  ~broker_fixture();
  broker_fixture(const broker_fixture&) = delete;
  broker_fixture& operator=(const broker_fixture&) = delete;

  [[nodiscard]] const std::string& in() const { return in_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] const broker::options& options() const { return opts_; }
  // Stops the loop (publishing `shutdown`) and waits for it to end.
  void stop();
  [[nodiscard]] const broker::core_stats& stats() const { return broker_->stats(); }
  [[nodiscard]] std::size_t queued_reply_bytes() const { return broker_->queued_reply_bytes(); }
  [[nodiscard]] std::uint64_t slow_peers_cut() const { return broker_->sends().slow_peers_cut; }
  [[nodiscard]] std::size_t held_publication_bytes() const { return broker_->held_publication_bytes(); }
  [[nodiscard]] std::uint64_t subscription_floods_cut() const {
    return broker_->sends().subscription_floods_cut;
  }
  [[nodiscard]] std::uint64_t slow_subscribers_cut() const {
    return broker_->sends().slow_subscribers_cut;
  }
  [[nodiscard]] std::size_t open_connections() const { return broker_->open_connections(); }
  [[nodiscard]] std::uint64_t refused_connections() const { return broker_->refused_connections(); }
  [[nodiscard]] std::uint64_t evicted_connections() const { return broker_->evicted_connections(); }

 private:
  broker::options opts_;
  zmq::context_t context_;
  broker::memory_history history_;
  std::unique_ptr<broker::broker> broker_;
  std::string in_;
  std::string out_;
  std::thread loop_;
};

}  // namespace bcast::test
