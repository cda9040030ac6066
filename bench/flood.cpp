// Floods (issue 15): what an attacker costs the honest users of our broker.
// Each cell measures an honest room as the latency scenario does (one
// publisher at a fixed rate, subscribers recording latency from the
// scheduled send time) while an attacker runs beside it on its own
// connections, and reports the honest latency and loss with the broker's
// peak memory and CPU. The baselines run in the same script: `none` (no
// attacker) and `4 KiB feed` (the traffic the stalled-subscriber attack
// needs, without the stalled subscribers); the slowdown an attack causes is
// its row against those. Ours only: the attacks are on our protocol.
#include <atomic>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>

#include "bcast/proto/codec.hpp"
#include "clock.hpp"
#include "proc_stats.hpp"
#include "scenarios.hpp"

namespace bench {
namespace {

namespace request = bcast::proto::request;

constexpr std::size_t feed_text = 4096;
constexpr double feed_rate = 5000;        // msgs/s of the attacker's own room
constexpr std::size_t stalled_subs = 50;  // one more every 100 ms
constexpr std::size_t history_askers = 4;
constexpr std::size_t history_fill = 1000;  // 4 KiB messages in the attacked room

zmq::socket_t dealer(zmq::context_t& context, const std::string& in) {
  zmq::socket_t s(context, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndtimeo, 0);
  s.connect(in);
  return s;
}

void send(zmq::socket_t& s, const bcast::proto::any_request& r) {
  const std::string body = bcast::proto::encode(r);
  (void)s.send(zmq::buffer(body), zmq::send_flags::dontwait);
}

// A session of the attacker's in the room `flood`, sending `text_size`
// texts at `rate` until `stop` (and reading nothing back but dropping it).
void feed(zmq::context_t& context, const std::string& in, double rate, std::size_t count,
          const std::atomic<bool>& stop) {
  zmq::socket_t s = dealer(context, in);
  send(s, request::hello{bcast::proto::protocol_version, "flooder", {}, {}, {"flood"}});
  const request::msg msg{std::string(feed_text, 'f'), "flood", {}};
  const std::uint64_t t0 = now_ns();
  for (std::uint64_t sent = 0; !stop && (count == 0 || sent < count);) {
    const auto due = t0 + static_cast<std::uint64_t>(static_cast<double>(sent) * 1e9 / rate);
    if (now_ns() < due) {
      sleep_ms(1);
    } else {
      send(s, msg);
      ++sent;
    }
    zmq::message_t drop;
    while (s.recv(drop, zmq::recv_flags::dontwait)) {}
  }
}

using attack = std::function<void(zmq::context_t&, const std::string& in, const std::string& out,
                                  const std::atomic<bool>& stop)>;

struct flood_case {
  const char* name;
  attack run;  // empty: no attacker
};

void stalled_subscribers(zmq::context_t& context, const std::string& in, const std::string& out,
                         const std::atomic<bool>& stop) {
  std::thread feeder([&] { feed(context, in, feed_rate, 0, stop); });
  std::vector<zmq::socket_t> stalled;
  for (std::size_t i = 0; !stop; sleep_ms(100)) {
    if (i++ >= stalled_subs) continue;
    stalled.emplace_back(context, zmq::socket_type::sub);
    stalled.back().set(zmq::sockopt::rcvhwm, 1);
    stalled.back().set(zmq::sockopt::rcvbuf, 4096);
    stalled.back().set(zmq::sockopt::linger, 0);
    stalled.back().set(zmq::sockopt::subscribe, "");
    stalled.back().connect(out);
  }
  feeder.join();
}

void history_loop(zmq::context_t& context, const std::string& in, const std::string&,
                  const std::atomic<bool>& stop) {
  std::vector<zmq::socket_t> askers;
  for (std::size_t i = 0; i < history_askers; ++i) {
    askers.push_back(dealer(context, in));
    askers.back().set(zmq::sockopt::rcvhwm, 1);
    askers.back().set(zmq::sockopt::rcvbuf, 4096);
  }
  const request::history ask{"flood", 0, bcast::proto::max_history_limit, {}};
  while (!stop) {
    for (auto& a : askers) send(a, ask);  // never reads an answer
    sleep_ms(1);
  }
}

void hello_flood(zmq::context_t& context, const std::string& in, const std::string&,
                 const std::atomic<bool>& stop) {
  zmq::socket_t s = dealer(context, in);
  for (std::uint64_t i = 0; !stop; ++i) {
    // Session after session: each is a new name in the tables, and a
    // `join` for everyone, until the address's hello budget refuses them.
    send(s, request::hello{bcast::proto::protocol_version, "f" + std::to_string(i), {}, {}, {}});
    send(s, request::bye{});
    zmq::message_t drop;
    while (s.recv(drop, zmq::recv_flags::dontwait)) {}
    if (i % 64 == 0) sleep_ms(1);
  }
}

void flood_cell(bench_env& env, const flood_case& c) {
  const bench_options& o = env.opt;
  const std::size_t n = o.latency_subs;
  const double rate = o.rates.front();
  auto room = start_measured_room(env, "ours", n, o.latency_size);
  auto& sys = room.sys;
  auto& pubs = room.pubs;
  auto& rx = *room.rx;
  const auto [in, out] = sys->endpoints();
  zmq::context_t attacker_ctx(1);
  if (std::string(c.name) == "history loop") {
    const std::atomic<bool> never{false};
    feed(attacker_ctx, in, 1e9, history_fill, never);  // a room worth asking for
  }
  std::atomic<bool> stop{false};
  std::thread attacker;
  if (c.run) attacker = std::thread([&] { c.run(attacker_ctx, in, out, stop); });

  const int pid = sys->pid();
  const measured_phase m = run_measured(o, pubs, rx, n, pid, rate);
  stop = true;
  if (attacker.joinable()) attacker.join();
  const histogram& latency = m.latency;
  const double loss = m.loss;
  const auto peak = peak_rss_bytes(pid).value_or(0);
  const auto add = [&](const char* metric, double v) { env.out.add("flood", c.name, "ours", metric, v); };
  add("p50", latency.quantile(0.5));
  add("p99", latency.quantile(0.99));
  add("p999", latency.quantile(0.999));
  add("loss", loss);
  add("rss_after", static_cast<double>(peak));
  if (m.cpu_pct) add("cpu_pct", *m.cpu_pct);
  char line[256];
  std::snprintf(line, sizeof line, "flood %-20s: honest p50 %.1f p99 %.1f µs, loss %.0f, broker peak RSS %.1f MiB",
                c.name, latency.quantile(0.5) / 1e3, latency.quantile(0.99) / 1e3, loss,
                static_cast<double>(peak) / 1048576);
  progress(line);
}

}  // namespace

void run_flood(bench_env& env) {
  if (!env.wants("ours")) return;
  const std::vector<flood_case> cases{
      {"none", {}},
      {"4 KiB feed", [](zmq::context_t& ctx, const std::string& in, const std::string&,
                        const std::atomic<bool>& stop) { feed(ctx, in, feed_rate, 0, stop); }},
      {"stalled subscribers", stalled_subscribers},
      {"history loop", history_loop},
      {"hello flood", hello_flood},
  };
  for (const auto& c : cases) {
    try {
      flood_cell(env, c);
    } catch (const std::exception& e) {
      progress(std::string("flood ") + c.name + ": skipped: " + e.what());
    }
  }
}

}  // namespace bench
