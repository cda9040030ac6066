// broadcast-bench: measures the broadcast-server broker beside raw libzmq
// (zmq_proxy XSUB/XPUB, PUB→SUB direct) and, when given, nats-server and
// redis-server, with the same client code for all (issue 5). This file owns
// the command line and the order of the scenarios; scripts/bench.sh runs it
// several times and prints the medians with --aggregate.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <netinet/in.h>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include "proc_stats.hpp"
#include "scenarios.hpp"

namespace {

// Prints a TCP port that was free a moment ago (for scripts/bench.sh's servers).
int print_free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 1;
  }
  std::printf("%d\n", ntohs(addr.sin_port));
  close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--internal-proxy") return bench::run_proxy_child(std::stoi(argv[2]));
  if (argc == 2 && std::string_view(argv[1]) == "--free-port") return print_free_port();

  bench::bench_options o;
  std::vector<std::string> aggregate;
  CLI::App app{"broadcast-bench: the broker beside zmq_proxy, direct PUB/SUB, NATS and Redis"};
  app.add_option("--broker", o.broker, "the broadcast-server binary (system 'ours')");
  app.add_option("--scenario", o.scenarios, "fanout, chat, latency, memory, flood or all")
      ->delimiter(',')
      ->check(CLI::IsMember({"fanout", "chat", "latency", "memory", "flood", "all"}))
      ->capture_default_str();
  app.add_option("--systems", o.systems,
                 "ours (the default store), ours-memory (--db :memory:), ours-durable, proxy (single frames "
                 "of the text's size), proxy-bytes (our bytes, two frames), "
                 "direct, nats, redis")
      ->delimiter(',')
      ->check(CLI::IsMember({"ours", "ours-memory", "ours-durable", "proxy", "proxy-bytes", "direct", "nats", "redis"}))
      ->capture_default_str();
  app.add_option("--subs", o.subs, "fan-out subscriber counts")->delimiter(',')->capture_default_str();
  app.add_option("--sizes", o.sizes, "fan-out text sizes, bytes")
      ->delimiter(',')
      ->check(CLI::Range(32, 4096))
      ->capture_default_str();
  app.add_option("--modes", o.modes, "fan-out loops: open, closed")
      ->delimiter(',')
      ->check(CLI::IsMember({"open", "closed"}))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds of each measured phase")->check(CLI::Range(0.1, 600.0))->capture_default_str();
  app.add_option("--window", o.window, "closed loop: messages ahead of the slowest subscriber")->capture_default_str();
  app.add_option("--hwm", o.hwm, "high-water mark of every PUB/XPUB and SUB (ours: --pub-hwm)")->capture_default_str();
  app.add_option("--clients", o.clients, "chat room sizes")->delimiter(',')->capture_default_str();
  app.add_option("--chat-rate", o.chat_rate, "msgs/s each chat client sends")->capture_default_str();
  app.add_option("--chat-size", o.chat_size, "chat text size, bytes")->check(CLI::Range(32, 4096))->capture_default_str();
  app.add_option("--rates", o.rates, "latency: msgs/s")->delimiter(',')->capture_default_str();
  app.add_option("--latency-subs", o.latency_subs, "latency: subscribers")->capture_default_str();
  app.add_option("--latency-size", o.latency_size, "latency: text size, bytes")->check(CLI::Range(32, 4096))->capture_default_str();
  app.add_option("--spin-us", o.spin_us, "paced sender: busy-wait this long before each send instead of sleeping")
      ->capture_default_str();
  app.add_option("--idle-clients", o.idle_clients, "memory: idle clients")->capture_default_str();
  app.add_option("--memory-hwm", o.memory_hwm, "memory: the high-water mark (the broker's default)")->capture_default_str();
  app.add_option("--stall-seconds", o.stall_s, "memory: seconds of full speed with a stalled subscriber")->capture_default_str();
  app.add_option("--recv-threads", o.recv_threads, "receiver threads (0: one per 250 subscribers, 1 to 4)")->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "ZeroMQ I/O threads of each benchmark context")->capture_default_str();
  app.add_option("--nats", o.nats, "host:port of a running nats-server (system 'nats')");
  app.add_option("--nats-pid", o.nats_pid, "its process id, for its CPU");
  app.add_option("--redis", o.redis, "host:port of a running redis-server (system 'redis')");
  app.add_option("--redis-pid", o.redis_pid, "its process id, for its CPU");
  app.add_option("--tsv", o.tsv, "also write the raw results to this file");
  app.add_option("--aggregate", aggregate, "print the tables of these --tsv files (one per run): median and spread")
      ->expected(1, -1);
  app.add_flag("--markdown", o.markdown, "print markdown tables");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!aggregate.empty()) {
      std::vector<std::vector<bench::record>> runs;
      for (const auto& path : aggregate) runs.push_back(bench::results::read_tsv(path));
      bench::print_tables(runs, o.markdown, std::cout);
      return 0;
    }
    const bool ours = std::find(o.systems.begin(), o.systems.end(), "ours") != o.systems.end();
    if (ours && (o.broker.empty() || access(o.broker.c_str(), X_OK) != 0)) {
      std::fprintf(stderr, "broadcast-bench: --broker must name the broadcast-server binary\n");
      return 2;
    }
    if (o.window >= static_cast<std::size_t>(o.hwm)) {
      std::fprintf(stderr, "broadcast-bench: --window must be below --hwm\n");
      return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    bench::raise_fd_limit();
    bench::start_memory_watchdog();
    bench::bench_env env(o);
    auto wants = [&](const char* s) {
      return std::find(o.scenarios.begin(), o.scenarios.end(), s) != o.scenarios.end() ||
             std::find(o.scenarios.begin(), o.scenarios.end(), "all") != o.scenarios.end();
    };
    if (wants("fanout")) bench::run_fanout(env);
    if (wants("chat")) bench::run_chat(env);
    if (wants("latency")) bench::run_latency(env);
    if (wants("memory")) bench::run_memory(env);
    if (wants("flood")) bench::run_flood(env);
    if (!o.tsv.empty()) env.out.write_tsv(o.tsv);
    bench::print_tables({env.out.all()}, o.markdown, std::cout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "broadcast-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
