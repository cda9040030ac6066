// Warm-up, drain, the paced sender, a measured phase of both, the memory
// watchdog and small helpers.
#include "harness.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "clock.hpp"
#include "proc_stats.hpp"

namespace bench {

std::atomic<bool> low_memory{false};

bench_env::bench_env(const bench_options& options) : opt(options) {
  for (auto* ctx : {&pub_ctx, &sub_ctx}) {
    ctx->set(zmq::ctxopt::io_threads, options.io_threads);
    ctx->set(zmq::ctxopt::max_sockets, 16384);
  }
}

system_config bench_env::config(int hwm) {
  system_config c;
  c.broker_path = opt.broker;
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  c.self_path = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : "/proc/self/exe";
  c.hwm = hwm;
  c.nats = opt.nats;
  c.nats_pid = opt.nats_pid;
  c.redis = opt.redis;
  c.redis_pid = opt.redis_pid;
  c.pub_ctx = &pub_ctx;
  c.sub_ctx = &sub_ctx;
  return c;
}

int bench_env::receiver_threads(std::size_t subs) const {
  if (opt.recv_threads > 0) return opt.recv_threads;
  return static_cast<int>(std::clamp<std::size_t>((subs + 249) / 250, 1, 4));
}

bool bench_env::wants(const std::string& system) const {
  return std::find(opt.systems.begin(), opt.systems.end(), system) != opt.systems.end();
}

void start_memory_watchdog() {
  std::thread([] {
    constexpr std::uint64_t floor = 2ull << 30;
    while (true) {
      const bool low = mem_available_bytes() < floor;
      if (low && !low_memory) std::fprintf(stderr, "warning: less than 2 GiB available: ending the phase early\n");
      low_memory = low;
      sleep_ms(50);
    }
  }).detach();
}

void warm_up(publishers& pubs, const receiver_pool& rx, std::size_t warm_publishers) {
  const std::uint64_t deadline = now_ns() + 60 * ns_per_s;
  while (rx.ready() < rx.subscribers()) {
    if (now_ns() > deadline) {
      throw std::runtime_error("warm-up: only " + std::to_string(rx.ready()) + " of " +
                               std::to_string(rx.subscribers()) + " subscribers heard every publisher in 60 s");
    }
    for (std::size_t i = 0; i < warm_publishers; ++i) {
      pubs[i]->send(warm_marker, now_ns());
      pubs[i]->flush();
      pubs[i]->service();
    }
    // One round at a time: wait until its deliveries stop (3 ms without an
    // arrival, at most 200 ms), so warm-ups never queue up in front of the
    // measured messages, whatever the number of subscribers.
    std::uint64_t seen = rx.activity();
    std::uint64_t quiet_since = now_ns();
    const std::uint64_t round_end = quiet_since + 200'000'000;
    while (true) {
      sleep_ms(1);
      const std::uint64_t now = now_ns();
      if (const std::uint64_t a = rx.activity(); a != seen) {
        seen = a;
        quiet_since = now;
      } else if (now - quiet_since >= 3'000'000 || now > round_end) {
        break;
      }
    }
  }
}

drained drain(const receiver_pool& rx, std::uint64_t expected, int pid) {
  drained d;
  std::uint64_t last_change = now_ns();
  d.cpu_ns = cpu_ns(pid);
  d.cpu_at_ns = last_change;
  const std::uint64_t give_up = last_change + 20 * ns_per_s;
  std::uint64_t activity = rx.activity();
  while (rx.total_received() < expected) {
    sleep_ms(5);
    const std::uint64_t now = now_ns();
    const std::uint64_t a = rx.activity();
    if (a != activity) {
      activity = a;
      last_change = now;
      d.cpu_ns = cpu_ns(pid);
      d.cpu_at_ns = now;
    } else if (now - last_change > 300'000'000 || now > give_up) {
      break;
    }
  }
  d.received = rx.total_received();
  d.last_ns = rx.last_receive_ns();
  return d;
}

schedule_result run_schedule(publishers& pubs, double rate, double duration_s, double spin_us) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the asked time, not up to 50 µs later
  schedule_result r;
  const std::uint64_t count = static_cast<std::uint64_t>(rate * duration_s);
  const auto spin_ns = static_cast<std::uint64_t>(spin_us * 1e3);
  const double period = 1e9 / rate;
  r.t0 = now_ns() + 1'000'000;
  const std::size_t n = pubs.size();
  for (std::uint64_t i = 0; i < count && !low_memory; ++i) {
    const std::uint64_t scheduled = r.t0 + static_cast<std::uint64_t>(static_cast<double>(i) * period);
    std::uint64_t now = now_ns();
    if (now < scheduled) {
      if (scheduled - now > spin_ns) sleep_until_ns(scheduled - spin_ns);
      while (now_ns() < scheduled) {
      }
    }
    pub_conn& pub = *pubs[i % n];
    pub.send(measured_marker, scheduled);
    pub.flush();
    now = now_ns();
    r.lag.record(now - scheduled);
    if ((i / n) % 64 == 0) pub.service();
    ++r.sent;
  }
  r.t_end = now_ns();
  return r;
}

measured_phase run_measured(const bench_options& o, publishers& pubs, receiver_pool& rx,
                            std::size_t subs, int pid, double rate) {
  measured_phase m;
  const auto cpu0 = cpu_ns(pid);
  const std::uint64_t t0 = now_ns();
  m.sent = run_schedule(pubs, rate, o.duration_s, o.spin_us);
  const std::uint64_t expected = m.sent.sent * subs;
  m.arrived = drain(rx, expected, pid);
  rx.stop();
  m.latency = rx.latency();
  m.loss = expected > m.arrived.received ? static_cast<double>(expected - m.arrived.received) : 0.0;
  if (cpu0 && m.arrived.cpu_ns) {
    m.cpu_ns = static_cast<double>(*m.arrived.cpu_ns - *cpu0);
    m.cpu_pct = 100.0 * *m.cpu_ns / static_cast<double>(m.arrived.cpu_at_ns - t0);
  }
  return m;
}

sent_phase open_loop(pub_conn& pub, std::uint64_t end_ns) {
  sent_phase p;
  while (!low_memory) {
    const std::uint64_t now = now_ns();
    if (now >= end_ns) break;
    for (int i = 0; i < 64; ++i) pub.send(measured_marker, now);
    p.sent += 64;
    if (p.sent % 4096 == 0) pub.service();
  }
  pub.flush();
  p.t_end = now_ns();
  return p;
}

sent_phase closed_loop(pub_conn& pub, const receiver_pool& rx, std::uint64_t window, std::uint64_t end_ns) {
  sent_phase p;
  std::uint64_t slowest = rx.min_received();
  while (!low_memory) {
    const std::uint64_t now = now_ns();
    if (now >= end_ns) break;
    for (int i = 0; i < 64; ++i) {
      if (p.sent - slowest >= window) {
        // Blocked: resume when half the window is free, so every wake-up
        // sends a batch instead of ping-ponging one message at a time.
        pub.flush();
        if (!rx.wait_for_min(p.sent - window / 2, ns_per_s)) {
          p.stalled = true;
          p.t_end = now_ns();
          return p;
        }
        slowest = rx.min_received();
      }
      pub.send(measured_marker, now);
      ++p.sent;
    }
    if (p.sent % 4096 == 0) pub.service();
  }
  pub.flush();
  p.t_end = now_ns();
  return p;
}

double per_second(double count, std::uint64_t from_ns, std::uint64_t to_ns) {
  if (to_ns <= from_ns) return 0;
  return count * 1e9 / static_cast<double>(to_ns - from_ns);
}

std::string size_label(std::size_t bytes) {
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " B";
}

void progress(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

measured_room start_measured_room(bench_env& env, const std::string& system, std::size_t subs,
                                  std::size_t text_size) {
  measured_room room;
  room.sys = start_system(system, env.config(env.opt.hwm));
  room.pubs.push_back(room.sys->publisher(0, text_size));
  subscribers all;
  for (std::size_t i = 0; i < subs; ++i) all.push_back(room.sys->subscriber());
  room.rx = std::make_unique<receiver_pool>(std::move(all), 1, true, env.receiver_threads(subs));
  warm_up(room.pubs, *room.rx, 1);
  return room;
}

}  // namespace bench
