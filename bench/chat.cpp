// Chat room: N clients, each sending `chat_rate` msgs/s on a shared schedule
// (client i % N sends message i) and receiving everything, itself included.
// For ours a client is a DEALER (its own hello) plus a SUB; for proxy a PUB
// plus a SUB; for direct every client binds a PUB and every SUB connects to
// all of them (N² connections, so only small N). Reports sent and delivered
// msgs/s, loss, latency from the scheduled send time, broker CPU.
#include <cstdio>
#include <stdexcept>

#include "scenarios.hpp"

namespace bench {
namespace {

void chat_cell(bench_env& env, std::size_t n, const std::string& system) {
  const bench_options& o = env.opt;
  if (system == "direct" && n * n > 2500) {
    throw std::runtime_error("a direct mesh of " + std::to_string(n) + " clients needs " +
                             std::to_string(n * n) + " connections");
  }
  const std::string cell = std::to_string(n);
  auto sys = start_system(system, env.config(o.hwm));
  publishers pubs;
  for (std::size_t i = 0; i < n; ++i) pubs.push_back(sys->publisher(static_cast<std::uint32_t>(i), o.chat_size));
  subscribers subs;
  for (std::size_t i = 0; i < n; ++i) subs.push_back(sys->subscriber());
  receiver_pool rx(std::move(subs), static_cast<std::uint32_t>(n), true, env.receiver_threads(n));
  warm_up(pubs, rx, n);

  const measured_phase m = run_measured(o, pubs, rx, n, sys->pid(), o.chat_rate * static_cast<double>(n));
  const schedule_result& s = m.sent;
  const drained& d = m.arrived;
  const histogram& latency = m.latency;
  const double loss = m.loss;
  const auto add = [&](const char* metric, double v) { env.out.add("chat", cell, system, metric, v); };
  add("sent", per_second(static_cast<double>(s.sent), s.t0, s.t_end));
  add("delivered", per_second(static_cast<double>(d.received), s.t0, std::max(d.last_ns, s.t0 + 1)));
  add("loss", loss);
  add("p50", latency.quantile(0.5));
  add("p99", latency.quantile(0.99));
  if (m.cpu_ns) {
    add("cpu_pct", *m.cpu_pct);
    if (d.received > 0) add("ns_per_delivery", *m.cpu_ns / static_cast<double>(d.received));
  }
  char line[256];
  std::snprintf(line, sizeof line, "chat %4zu clients %-6s: sent %llu, loss %.0f, p50 %.1f µs, p99 %.1f µs",
                n, system.c_str(), static_cast<unsigned long long>(s.sent), loss, latency.quantile(0.5) / 1e3,
                latency.quantile(0.99) / 1e3);
  progress(line);
  for (const auto& p : pubs) {
    if (const auto problem = p->problem(); !problem.empty()) {
      progress("  " + system + ": " + problem);
      break;
    }
  }
}

}  // namespace

void run_chat(bench_env& env) {
  for (const auto n : env.opt.clients) {
    for (const auto& system : env.opt.systems) {
      if (system != "ours" && system != "proxy" && system != "direct") continue;
      try {
        chat_cell(env, n, system);
      } catch (const std::exception& e) {
        progress("chat " + std::to_string(n) + " clients " + system + ": skipped: " + e.what());
      }
    }
  }
}

}  // namespace bench
