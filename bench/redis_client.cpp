// The Redis peer: a redis-server started by scripts/bench.sh, through
// hiredis. Subscribers SUBSCRIBE to "room/bench/" and then feed what they
// read into the hiredis reader, recording the payload of every ["message",
// channel, payload] push. Publishers send PUBLISH commands formatted once by
// hiredis (only the tail changes), pipelined up to 64 KiB, and read the
// integer replies back from time to time. Built without hiredis, `redis` is
// reported as unavailable.
#include "systems.hpp"

#ifdef BCAST_BENCH_HIREDIS
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <stdexcept>

#include "tcp.hpp"

namespace bench {
namespace {

redisContext* redis_connect(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected host:port, got " + address);
  redisContext* c = redisConnect(address.substr(0, colon).c_str(), std::stoi(address.substr(colon + 1)));
  if (c == nullptr || c->err != 0) {
    const std::string why = c != nullptr ? c->errstr : "out of memory";
    if (c != nullptr) redisFree(c);
    throw std::runtime_error("redis: cannot connect to " + address + ": " + why);
  }
  return c;
}

// Feeds what `in` holds to `c`'s reply reader and hands every complete reply
// to `each`, freeing it after.
template <typename F>
void read_replies(redisContext* c, read_buffer& in, F&& each) {
  const std::string_view data = in.pending();
  redisReaderFeed(c->reader, data.data(), data.size());
  in.consume(data.size());
  void* reply = nullptr;
  while (redisReaderGetReply(c->reader, &reply) == REDIS_OK && reply != nullptr) {
    auto* r = static_cast<redisReply*>(reply);
    each(*r);
    freeReplyObject(r);
  }
}

class redis_pub final : public pub_conn {
 public:
  redis_pub(const std::string& address, std::uint32_t index, std::size_t text_size)
      : c_(redis_connect(address)), index_(index) {
    const std::string payload = published_body(text_size, "bench-" + std::to_string(index));
    char* command = nullptr;
    const int n = redisFormatCommand(&command, "PUBLISH %s %b", room_topic, payload.data(), payload.size());
    if (n <= 0) throw std::runtime_error("redis: cannot format PUBLISH");
    command_.assign(command, static_cast<std::size_t>(n));
    redisFreeCommand(command);
  }
  ~redis_pub() override { redisFree(c_); }
  void send(char marker, std::uint64_t ts_ns) override {
    write_tail(command_.data() + command_.size() - 2, marker, index_, ts_ns);  // payload, then "\r\n"
    out_ += command_;
    if (out_.size() >= 65536) {
      flush();
      service();
    }
  }
  void flush() override {
    write_all(c_->fd, out_);
    out_.clear();
  }
  void service() override {
    while (in_.fill(c_->fd)) {
      read_replies(c_, in_, [this](const redisReply& r) {
        if (r.type == REDIS_REPLY_ERROR && error_.empty()) error_ = std::string(r.str, r.len);
      });
    }
  }
  [[nodiscard]] std::string problem() const override { return error_; }

 private:
  redisContext* c_;
  std::uint32_t index_;
  std::string command_;
  std::string out_;
  read_buffer in_{65536};
  std::string error_;
};

class redis_sub final : public sub_conn {
 public:
  explicit redis_sub(const std::string& address) : c_(redis_connect(address)) {
    auto* reply = static_cast<redisReply*>(redisCommand(c_, "SUBSCRIBE %s", room_topic));
    if (reply == nullptr) throw std::runtime_error("redis: SUBSCRIBE failed");
    freeReplyObject(reply);
  }
  ~redis_sub() override { redisFree(c_); }
  int fd() override { return c_->fd; }
  bool drain(sub_state& state) override {
    for (int i = 0; i < 16; ++i) {
      if (!in_.fill(c_->fd)) {
        if (in_.closed()) throw std::runtime_error("redis: the server closed a subscriber (output buffer limit?)");
        return false;
      }
      read_replies(c_, in_, [&state](const redisReply& r) {
        if (r.type == REDIS_REPLY_ARRAY && r.elements == 3 && r.element[2]->type == REDIS_REPLY_STRING) {
          state.record({r.element[2]->str, r.element[2]->len});
        } else {
          ++state.foreign;
        }
      });
    }
    return true;
  }

 private:
  redisContext* c_;
  read_buffer in_{65536};
};

}  // namespace

std::unique_ptr<system_under_test> make_redis(const system_config& config) {
  if (config.redis.empty()) throw std::runtime_error("no redis-server (--redis HOST:PORT)");
  return std::make_unique<external_system<redis_pub, redis_sub>>("redis", config.redis, config.redis_pid);
}

}  // namespace bench

#else

#include <stdexcept>

namespace bench {
std::unique_ptr<system_under_test> make_redis(const system_config&) {
  throw std::runtime_error("built without hiredis (apt-get install libhiredis-dev, then configure again)");
}
}  // namespace bench

#endif
