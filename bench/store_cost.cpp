// store-cost: what the history store costs the broker's loop thread per
// message, measured on that thread alone (its user + system CPU time), so a
// busy machine blurs it far less than the fan-out's msgs/s. It drives the
// store as the broker does: each message encoded and appended with its
// origin, the turn written every 32 messages (a turn of one publisher at one
// subscriber: 32 messages and their 32 acks make a flush), a tick every
// 100 000. `memory` is `--db :memory:`; `log` the default history directory
// (under $TMPDIR). The difference of the two is the store's own cost.
//
//   store-cost memory|log SIZE COUNT
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "bcast/broker/log_history.hpp"
#include "bcast/broker/memory_history.hpp"
#include "bcast/broker/options.hpp"
#include "bcast/proto/msg_view.hpp"

namespace {

constexpr std::uint64_t turn_messages = 32;
constexpr std::uint64_t tick_every = 100000;

double thread_cpu_s() {
  rusage r{};
  ::getrusage(RUSAGE_THREAD, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bcast::broker;
  if (argc != 4) {
    std::fprintf(stderr, "usage: store-cost memory|log SIZE COUNT\n");
    return 2;
  }
  const std::string mode = argv[1];
  const auto size = static_cast<std::size_t>(std::strtoul(argv[2], nullptr, 10));
  const auto count = std::strtoull(argv[3], nullptr, 10);
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/store-cost-" +
                          std::to_string(::getpid());
  std::unique_ptr<history_store> store;
  if (mode == "memory") {
    store = std::make_unique<memory_history>(default_history, default_history_bytes, 1);
  } else {
    log_history_options o;
    o.dir = dir;
    o.per_room = default_history;
    o.max_bytes = default_history_bytes;
    store = std::make_unique<log_history>(o);
  }
  const std::string text(size, 'x');
  const std::string token = "0123456789abcdef0123456789abcdef";
  const double start = thread_cpu_s();
  for (std::uint64_t seq = 1; seq <= count; ++seq) {
    const std::uint64_t ts = 1700000000000 + seq;
    shared_body body(bcast::proto::encode_msg({store->epoch(), seq, ts, "bench", "publisher-0", text}));
    store->append({"bench", seq, ts, body, message_origin{token, "publisher-0", seq}});
    if (seq % turn_messages == 0) store->write_pending();
    if (seq % tick_every == 0) store->tick(0);
  }
  store->write_pending();
  const double spent = thread_cpu_s() - start;
  store.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  std::printf("%s %zu B: %.0f ns/msg\n", mode.c_str(), size, spent * 1e9 / static_cast<double>(count));
  return 0;
}
