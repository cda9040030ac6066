// Latency at fixed rates: one publisher sends on a schedule to N subscribers;
// each message carries its scheduled send time and the receivers record
// now − scheduled in a log-bucket histogram (histogram.hpp), so a stalled
// system or a late sender counts as latency (no coordinated omission).
// Reports p50/p90/p99/p99.9, loss, the sender's own lag and the broker's CPU.
#include <cstdio>
#include <stdexcept>

#include "scenarios.hpp"

namespace bench {
namespace {

std::string rate_label(double rate) {
  char buf[32];
  if (rate >= 1000) std::snprintf(buf, sizeof buf, "%g k/s", rate / 1000);
  else std::snprintf(buf, sizeof buf, "%g /s", rate);
  return buf;
}

void latency_cell(bench_env& env, double rate, const std::string& system) {
  const bench_options& o = env.opt;
  const std::size_t n = o.latency_subs;
  const std::string cell = rate_label(rate) + "|" + std::to_string(n);
  auto room = start_measured_room(env, system, n, o.latency_size);
  auto& sys = room.sys;
  auto& pubs = room.pubs;
  auto& rx = *room.rx;

  const measured_phase m = run_measured(o, pubs, rx, n, sys->pid(), rate);
  const schedule_result& s = m.sent;
  const histogram& latency = m.latency;
  const double loss = m.loss;
  const auto add = [&](const char* metric, double v) { env.out.add("latency", cell, system, metric, v); };
  add("p50", latency.quantile(0.5));
  add("p90", latency.quantile(0.9));
  add("p99", latency.quantile(0.99));
  add("p999", latency.quantile(0.999));
  add("loss", loss);
  add("lag_p99", s.lag.quantile(0.99));
  if (m.cpu_pct) add("cpu_pct", *m.cpu_pct);
  char line[256];
  std::snprintf(line, sizeof line,
                "latency %-9s %-6s: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f µs, loss %.0f, sender lag p50 %.1f p99 %.1f µs",
                rate_label(rate).c_str(), system.c_str(), latency.quantile(0.5) / 1e3, latency.quantile(0.9) / 1e3,
                latency.quantile(0.99) / 1e3, latency.quantile(0.999) / 1e3, loss, s.lag.quantile(0.5) / 1e3,
                s.lag.quantile(0.99) / 1e3);
  progress(line);
}

}  // namespace

void run_latency(bench_env& env) {
  for (const auto rate : env.opt.rates) {
    for (const auto& system : env.opt.systems) {
      try {
        latency_cell(env, rate, system);
      } catch (const std::exception& e) {
        progress("latency " + rate_label(rate) + " " + system + ": skipped: " + e.what());
      }
    }
  }
}

}  // namespace bench
