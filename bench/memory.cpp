// Broker memory. Idle: RSS after start, then with K clients connected and
// idle (ours: DEALER + SUB pairs that said hello and ping every 300 ms, well
// within the heartbeat; proxy: PUB + SUB pairs), and the difference per
// client. Stalled subscriber: one SUB that never reads after its first
// message while a publisher sends the largest text to it and to 10 readers
// as fast as the readers take it (closed loop on the readers, so their
// queues stay within the window); the broker's peak RSS (VmHWM) shows what
// the stalled reader costs (at most the PUB high-water mark of messages).
#include <cstdio>
#include <stdexcept>

#include "clock.hpp"
#include "proc_stats.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

constexpr std::uint64_t keepalive_ns = 300'000'000;
// The stalled client's own queue: ZeroMQ's default, as in a real client, so
// the backlog lands in the broker soon instead of in the benchmark.
constexpr int stalled_rcvhwm = 1000;

void keepalive(publishers& pubs, std::uint64_t& last) {
  if (now_ns() - last < keepalive_ns) return;
  for (auto& p : pubs) p->keepalive();
  last = now_ns();
}

void idle_cell(bench_env& env, const std::string& system) {
  const std::size_t k = env.opt.idle_clients;
  auto sys = start_system(system, env.config(env.opt.memory_hwm));
  const int pid = sys->pid();
  if (pid <= 0) return;
  const std::string cell = std::to_string(k) + " idle clients";
  const auto before = rss_bytes(pid).value_or(0);
  publishers pubs;
  std::uint64_t last_keepalive = now_ns();
  for (std::size_t i = 0; i < k; ++i) {
    pubs.push_back(sys->publisher(static_cast<std::uint32_t>(i), 64));
    keepalive(pubs, last_keepalive);
  }
  subscribers subs;
  for (std::size_t i = 0; i < k; ++i) subs.push_back(sys->subscriber());
  receiver_pool rx(std::move(subs), 1, false, env.receiver_threads(k));
  const std::uint64_t deadline = now_ns() + 60 * ns_per_s;
  while (rx.ready() < k) {  // every SUB connected and subscribed
    if (now_ns() > deadline) throw std::runtime_error("idle clients: subscribers did not connect in 60 s");
    pubs[0]->send(warm_marker, now_ns());
    keepalive(pubs, last_keepalive);
    sleep_ms(5);
  }
  std::uint64_t after = 0;
  for (int i = 0; i < 4; ++i) {  // a second of idling, pinging like clients do
    sleep_ms(250);
    keepalive(pubs, last_keepalive);
    after = std::max(after, rss_bytes(pid).value_or(0));
  }
  rx.stop();
  const auto add = [&](const char* metric, double v) { env.out.add("memory", cell, system, metric, v); };
  add("rss_before", static_cast<double>(before));
  add("rss_after", static_cast<double>(after));
  add("per_client", (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(k));
  char line[200];
  std::snprintf(line, sizeof line, "memory %zu idle clients %-6s: RSS %.1f -> %.1f MiB, %.1f KiB per client", k,
                system.c_str(), static_cast<double>(before) / 1048576, static_cast<double>(after) / 1048576,
                (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(k) / 1024);
  progress(line);
  for (const auto& p : pubs) {
    if (const auto problem = p->problem(); !problem.empty()) {
      progress("  " + system + ": " + problem);
      break;
    }
  }
}

void stalled_cell(bench_env& env, const std::string& system) {
  const bench_options& o = env.opt;
  std::size_t size = 0;
  for (const auto s : o.sizes) size = std::max(size, s);
  constexpr std::size_t readers = 10;
  auto sys = start_system(system, env.config(o.memory_hwm));
  const int pid = sys->pid();
  if (pid <= 0) return;
  char cell[160];
  std::snprintf(cell, sizeof cell, "1 stalled + %zu readers, %s, %g s, hwm %d", readers,
                size_label(size).c_str(), o.stall_s, o.memory_hwm);
  const auto before = rss_bytes(pid).value_or(0);
  publishers pubs;
  pubs.push_back(sys->publisher(0, size));
  auto stalled = sys->subscriber(stalled_rcvhwm);
  subscribers subs;
  for (std::size_t i = 0; i < readers; ++i) subs.push_back(sys->subscriber());
  receiver_pool rx(std::move(subs), 1, false, 1);
  sub_state stalled_state;
  stalled_state.heard.assign(1, 0);
  const std::uint64_t deadline = now_ns() + 60 * ns_per_s;
  while (rx.ready() < readers || stalled_state.heard_count == 0) {
    if (now_ns() > deadline) throw std::runtime_error("stalled subscriber: no warm-up in 60 s");
    pubs[0]->send(warm_marker, now_ns());
    pubs[0]->flush();
    sleep_ms(2);
    if (stalled_state.heard_count == 0) (void)stalled->drain(stalled_state);  // the last read it ever does
  }
  const std::uint64_t t0 = now_ns();
  // At least stall_s, and until twice the high-water mark was sent (so the
  // stalled queue can reach its bound), at most 30 s.
  std::uint64_t sent = 0;
  for (std::uint64_t end = t0 + static_cast<std::uint64_t>(o.stall_s * 1e9);
       sent < 2 * static_cast<std::uint64_t>(o.memory_hwm) && now_ns() < t0 + 30 * ns_per_s && !low_memory;
       end = now_ns() + ns_per_s / 2) {
    sent += closed_loop(*pubs[0], rx, o.window, end).sent;
  }
  const drained d = drain(rx, sent * readers, pid);
  rx.stop();
  const auto peak = peak_rss_bytes(pid).value_or(0);
  const double loss = sent * readers > d.received ? static_cast<double>(sent * readers - d.received) : 0.0;
  const auto add = [&](const char* metric, double v) { env.out.add("memory", cell, system, metric, v); };
  add("rss_before", static_cast<double>(before));
  add("rss_after", static_cast<double>(peak));
  add("delivered", per_second(static_cast<double>(d.received), t0, std::max(d.last_ns, t0 + 1)));
  add("loss", loss);
  char line[200];
  std::snprintf(line, sizeof line, "memory stalled subscriber %-6s: RSS %.1f MiB, peak %.1f MiB, loss to readers %.0f",
                system.c_str(), static_cast<double>(before) / 1048576, static_cast<double>(peak) / 1048576, loss);
  progress(line);
}

}  // namespace

void run_memory(bench_env& env) {
  for (const auto& system : env.opt.systems) {
    if (system != "ours" && system != "proxy") continue;
    for (auto* cell : {&idle_cell, &stalled_cell}) {
      try {
        cell(env, system);
      } catch (const std::exception& e) {
        progress("memory " + system + ": skipped: " + e.what());
      }
    }
  }
}

}  // namespace bench
