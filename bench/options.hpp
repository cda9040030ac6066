// Every knob of broadcast-bench: filled from the command line by main.cpp,
// read by the scenarios. Defaults are the full matrix.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bench {

struct bench_options {
  std::string broker;  // the broadcast-server binary (system `ours`)
  std::vector<std::string> scenarios{"all"};
  std::vector<std::string> systems{"ours", "proxy", "direct"};
  std::vector<std::string> modes{"open", "closed"};
  std::vector<std::size_t> subs{1, 10, 100, 1000};
  std::vector<std::size_t> sizes{64, 1024};
  double duration_s = 2.0;
  std::size_t window = 9000;          // closed loop: messages ahead of the slowest subscriber (docs/performance.md: the window curve)
  int hwm = 10000;                    // every PUB/XPUB send and SUB receive high-water mark
  std::vector<std::size_t> clients{10, 100};
  double chat_rate = 100;             // msgs/s per chat client
  std::size_t chat_size = 64;
  std::vector<double> rates{1000, 10000, 50000};
  std::size_t latency_subs = 10;
  std::size_t latency_size = 64;
  double spin_us = 0;                 // paced sender: busy-wait this long before a send
  std::size_t idle_clients = 1000;
  int memory_hwm = 10000;             // the broker's default --pub-hwm
  double stall_s = 3.0;
  int recv_threads = 0;               // 0: one per 250 subscribers, 1 to 4
  int io_threads = 1;                 // per benchmark ZeroMQ context (publishers, subscribers)
  std::string nats;                   // host:port of a running nats-server
  int nats_pid = -1;
  std::string redis;                  // host:port of a running redis-server
  int redis_pid = -1;
  std::string tsv;                    // also write the raw results here
  bool markdown = false;
};

}  // namespace bench
