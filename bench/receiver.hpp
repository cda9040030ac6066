// Receiver threads: each watches its share of the subscribers with epoll
// (ZeroMQ sockets through ZMQ_FD, TCP peers through their socket), drains
// the ones that became readable and records what arrived in each
// subscriber's sub_state, so a round costs what arrived, not how many
// subscribers there are. After each round a thread publishes its totals in
// atomics the publisher reads: how many subscribers are warm (heard a
// warm-up from every publisher), the slowest subscriber's count (closed
// loop), the sum, all traffic (warm-ups included), the last arrival time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "histogram.hpp"
#include "systems.hpp"

namespace bench {

class receiver_pool {
 public:
  // `publishers`: how many publishers the warm-up must be heard from.
  receiver_pool(std::vector<std::unique_ptr<sub_conn>> subs, std::uint32_t publishers,
                bool measure_latency, int threads);
  ~receiver_pool();
  receiver_pool(const receiver_pool&) = delete;
  receiver_pool& operator=(const receiver_pool&) = delete;

  [[nodiscard]] std::size_t subscribers() const { return subscribers_; }
  [[nodiscard]] std::size_t ready() const;
  [[nodiscard]] std::uint64_t min_received() const;
  [[nodiscard]] std::uint64_t total_received() const;
  // Every body received, warm-ups and strangers included.
  [[nodiscard]] std::uint64_t activity() const;
  [[nodiscard]] std::uint64_t last_receive_ns() const;
  // Blocks until every subscriber has `target` measured messages (true), or
  // nothing arrived for `stall_ns` (false: a message was lost). Receivers
  // wake the caller only when their own slowest count reached the target, or
  // every 10 ms when idle: a blocked publisher costs no wake-ups.
  bool wait_for_min(std::uint64_t target, std::uint64_t stall_ns) const;
  // Stops and joins the threads; then latency() and foreign() are final.
  void stop();
  [[nodiscard]] histogram latency() const;
  [[nodiscard]] std::uint64_t foreign() const;

 private:
  struct alignas(64) worker {
    std::vector<std::unique_ptr<sub_conn>> subs;
    std::vector<sub_state> states;
    histogram latency;
    std::atomic<std::uint64_t> min{0};
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> activity{0};
    std::atomic<std::uint64_t> ready{0};
    std::atomic<std::uint64_t> last_ns{0};
    std::thread thread;
  };
  void run(worker& w);
  void publish(worker& w, bool idle, std::uint64_t& last_total);

  static constexpr std::uint64_t never = ~std::uint64_t{0};
  std::vector<std::unique_ptr<worker>> workers_;
  std::size_t subscribers_ = 0;
  std::uint32_t publishers_ = 1;
  mutable std::atomic<std::uint64_t> tick_{0};
  mutable std::atomic<std::uint64_t> wake_target_{never};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace bench
