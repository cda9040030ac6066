// What every scenario shares: the environment (options, the benchmark's two
// ZeroMQ contexts), warming up until every subscriber hears every publisher
// (no fixed sleeps), sending on a schedule, waiting for what is in flight,
// the broker's CPU over a phase, and the memory watchdog.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "histogram.hpp"
#include "options.hpp"
#include "receiver.hpp"
#include "report.hpp"
#include "systems.hpp"

namespace bench {

struct bench_env {
  explicit bench_env(const bench_options& options);
  const bench_options& opt;
  zmq::context_t pub_ctx;
  zmq::context_t sub_ctx;
  results out;
  [[nodiscard]] system_config config(int hwm);
  [[nodiscard]] int receiver_threads(std::size_t subs) const;
  [[nodiscard]] bool wants(const std::string& system) const;
};

using publishers = std::vector<std::unique_ptr<pub_conn>>;
using subscribers = std::vector<std::unique_ptr<sub_conn>>;

// The room the latency and flood scenarios measure: `system` started, one
// publisher of `text_size` bytes, `subs` subscribers recording latency,
// warmed up.
struct measured_room {
  std::unique_ptr<system_under_test> sys;
  publishers pubs;
  std::unique_ptr<receiver_pool> rx;
};
measured_room start_measured_room(bench_env& env, const std::string& system, std::size_t subs,
                                  std::size_t text_size);

// Set when the machine runs low on memory: every send loop ends early.
extern std::atomic<bool> low_memory;
void start_memory_watchdog();

// Sends a warm-up from each of pubs[0, warm_publishers), round after round,
// until every subscriber heard each of them (so every connection and
// subscription is in place). Throws after 60 s.
void warm_up(publishers& pubs, const receiver_pool& rx, std::size_t warm_publishers);

// Waits until `expected` measured messages arrived, or nothing arrived for
// 300 ms (at most 20 s). The broker's CPU time is read with the last arrival
// seen, so the quiet wait at the end does not dilute it.
struct drained {
  std::uint64_t received = 0;
  std::uint64_t last_ns = 0;  // the last arrival
  std::optional<std::uint64_t> cpu_ns;
  std::uint64_t cpu_at_ns = 0;
};
drained drain(const receiver_pool& rx, std::uint64_t expected, int pid);

// Sends `rate` msgs/s for `duration_s`, round robin over `pubs`; each message
// carries the time the schedule gave it (not when it left), so a late sender
// shows up as latency instead of hiding it (no coordinated omission).
struct schedule_result {
  std::uint64_t sent = 0;
  std::uint64_t t0 = 0;
  std::uint64_t t_end = 0;
  histogram lag;  // actual − scheduled send time: the benchmark's own lateness
};
schedule_result run_schedule(publishers& pubs, double rate, double duration_s, double spin_us);

// One measured phase of the chat, latency and flood scenarios: run_schedule
// at `rate` over `pubs`, drain until each of `subs` subscribers heard every
// message, stop `rx`; what arrived, its latency and loss, and the broker's
// CPU (process `pid`) from the start to the last arrival.
struct measured_phase {
  schedule_result sent;
  drained arrived;
  histogram latency;
  double loss = 0;                // messages × subscribers that never arrived
  std::optional<double> cpu_ns;   // absent when the broker's CPU cannot be read
  std::optional<double> cpu_pct;  // the same, per wall time
};
measured_phase run_measured(const bench_options& o, publishers& pubs, receiver_pool& rx,
                            std::size_t subs, int pid, double rate);

// The fan-out send loops. Open: as fast as the publisher's socket takes
// messages, until end_ns. Closed: at most `window` messages ahead of the
// slowest subscriber; `stalled` if the window stays shut for a second (a
// message was lost, so the slowest count never catches up).
struct sent_phase {
  std::uint64_t sent = 0;
  std::uint64_t t_end = 0;
  bool stalled = false;
};
sent_phase open_loop(pub_conn& pub, std::uint64_t end_ns);
sent_phase closed_loop(pub_conn& pub, const receiver_pool& rx, std::uint64_t window, std::uint64_t end_ns);

double per_second(double count, std::uint64_t from_ns, std::uint64_t to_ns);
std::string size_label(std::size_t bytes);
void progress(const std::string& text);

}  // namespace bench
