// Fan-out: one publisher, N subscribers, a text of S bytes. Open loop: the
// publisher sends as fast as the system lets it (a DEALER blocks when the
// broker's queue is full; a PUB drops at its high-water mark) for the
// duration. Closed loop: it stays at most a window of messages ahead of the
// slowest subscriber (window_for). Reports published and delivered msgs/s, loss, and the
// broker's CPU (% and ns per delivery) from /proc over the measured phase.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "clock.hpp"
#include "proc_stats.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

// The closed loop's window: --window messages, but at most 200 000 deliveries
// in flight in all (so 200 at 1000 subscribers), at least 16.
std::uint64_t window_for(const bench_options& o, std::size_t subs) {
  return std::clamp<std::uint64_t>(200'000 / std::max<std::size_t>(subs, 1), 16, o.window);
}

void fanout_cell(bench_env& env, const std::string& mode, std::size_t size, std::size_t n,
                 const std::string& system) {
  const bench_options& o = env.opt;
  const std::string cell = mode + "|" + size_label(size) + "|" + std::to_string(n);
  auto sys = start_system(system, env.config(o.hwm));
  publishers pubs;
  pubs.push_back(sys->publisher(0, size));
  subscribers subs;
  for (std::size_t i = 0; i < n; ++i) subs.push_back(sys->subscriber());
  receiver_pool rx(std::move(subs), 1, false, env.receiver_threads(n));
  warm_up(pubs, rx, 1);

  const int pid = sys->pid();
  const auto cpu0 = cpu_ns(pid);
  const auto self0 = cpu_ns(getpid());
  const std::uint64_t t0 = now_ns();
  const std::uint64_t end = t0 + static_cast<std::uint64_t>(o.duration_s * 1e9);
  const sent_phase p = mode == "open" ? open_loop(*pubs[0], end) : closed_loop(*pubs[0], rx, window_for(o, n), end);
  const std::uint64_t expected = p.sent * n;
  const drained d = drain(rx, expected, pid);
  const auto self1 = cpu_ns(getpid());
  rx.stop();

  const double loss = expected > d.received ? static_cast<double>(expected - d.received) : 0.0;
  results& out = env.out;
  const auto add = [&](const char* metric, double v) { out.add("fanout", cell, system, metric, v); };
  add("published", per_second(static_cast<double>(p.sent), t0, p.t_end));
  add("delivered", per_second(static_cast<double>(d.received), t0, std::max(d.last_ns, t0 + 1)));
  add("loss", loss);
  add("loss_pct", expected > 0 ? 100.0 * loss / static_cast<double>(expected) : 0.0);
  if (cpu0 && d.cpu_ns) {
    const double cpu = static_cast<double>(*d.cpu_ns - *cpu0);
    add("cpu_pct", 100.0 * cpu / static_cast<double>(d.cpu_at_ns - t0));
    if (d.received > 0) add("ns_per_delivery", cpu / static_cast<double>(d.received));
  }
  // The benchmark's own CPU per delivery (publisher, receivers, their ZeroMQ
  // I/O threads): on a small machine it competes with the system measured.
  const double self_ns = d.received > 0 && self0 && self1
                             ? static_cast<double>(*self1 - *self0) / static_cast<double>(d.received)
                             : 0.0;
  char line[256];
  std::snprintf(line, sizeof line,
                "fanout %-6s %-6s %4zu subs %-6s: sent %llu, delivered %.0f/s, loss %.1f%%, bench %.0f ns/delivery%s",
                mode.c_str(), size_label(size).c_str(), n, system.c_str(),
                static_cast<unsigned long long>(p.sent),
                per_second(static_cast<double>(d.received), t0, std::max(d.last_ns, t0 + 1)),
                expected > 0 ? 100.0 * loss / static_cast<double>(expected) : 0.0, self_ns,
                p.stalled ? " (closed loop stalled: a message was lost)" : "");
  progress(line);
  if (const auto problem = pubs[0]->problem(); !problem.empty()) progress("  " + system + ": " + problem);
}

}  // namespace

void run_fanout(bench_env& env) {
  for (const auto& mode : env.opt.modes) {
    for (const auto size : env.opt.sizes) {
      for (const auto n : env.opt.subs) {
        for (const auto& system : env.opt.systems) {
          try {
            fanout_cell(env, mode, size, n, system);
          } catch (const std::exception& e) {
            progress("fanout " + mode + " " + size_label(size) + " " + std::to_string(n) + " subs " + system +
                     ": skipped: " + e.what());
          }
        }
      }
    }
  }
}

}  // namespace bench
