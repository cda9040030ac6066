// The NATS peer: a nats-server started by scripts/bench.sh, spoken to in the
// NATS text protocol over plain TCP: read INFO, send CONNECT
// {"verbose":false,"pedantic":false}, then `SUB bench.room 1` (subscribers)
// or `PUB bench.room <n>\r\n<payload>` (publishers, buffered up to 64 KiB);
// receivers parse `MSG <subject> <sid> [reply] <n>\r\n<payload>\r\n` and
// answer PING with PONG. The payload is the body ours publishes.
#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <stdexcept>

#include "systems.hpp"
#include "tcp.hpp"

namespace bench {
namespace {

constexpr std::string_view subject = "bench.room";
constexpr std::string_view connect_line = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

int nats_connect(const std::string& address) {
  const int fd = tcp_connect(address);
  const std::string info = read_line(fd);
  if (!info.starts_with("INFO ")) {
    close(fd);
    throw std::runtime_error("nats: expected INFO, got " + info);
  }
  write_all(fd, connect_line);
  return fd;
}

class nats_pub final : public pub_conn {
 public:
  nats_pub(const std::string& address, std::uint32_t index, std::size_t text_size)
      : fd_(nats_connect(address)), index_(index) {
    const std::string payload = published_body(text_size, "bench-" + std::to_string(index));
    frame_ = "PUB " + std::string(subject) + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  }
  ~nats_pub() override { close(fd_); }
  void send(char marker, std::uint64_t ts_ns) override {
    write_tail(frame_.data() + frame_.size() - 2, marker, index_, ts_ns);
    out_ += frame_;
    if (out_.size() >= 65536) flush();
  }
  void flush() override {
    write_all(fd_, out_);
    out_.clear();
  }
  void service() override {
    while (in_.fill(fd_)) {
    }
    const std::string_view seen = in_.pending();
    if (seen.find("PING\r\n") != std::string_view::npos) out_ += "PONG\r\n";
    if (const auto err = seen.find("-ERR"); err != std::string_view::npos && errors_.empty()) {
      errors_ = std::string(seen.substr(err, seen.find("\r\n", err) - err));
    }
    in_.consume(seen.size());
  }
  [[nodiscard]] std::string problem() const override { return errors_; }

 private:
  int fd_;
  std::uint32_t index_;
  std::string frame_;
  std::string out_;
  read_buffer in_{65536};
  std::string errors_;
};

class nats_sub final : public sub_conn {
 public:
  explicit nats_sub(const std::string& address) : fd_(nats_connect(address)) {
    write_all(fd_, "SUB " + std::string(subject) + " 1\r\n");
  }
  ~nats_sub() override { close(fd_); }
  int fd() override { return fd_; }
  bool drain(sub_state& state) override {
    for (int i = 0; i < 16; ++i) {
      if (!in_.fill(fd_)) {
        if (in_.closed()) throw std::runtime_error("nats: the server closed a subscriber (slow consumer?)");
        return false;
      }
      parse(state);
    }
    return true;
  }

 private:
  void parse(sub_state& state) {
    while (true) {
      const std::string_view data = in_.pending();
      const auto eol = data.find("\r\n");
      if (eol == std::string_view::npos) return;
      const std::string_view line = data.substr(0, eol);
      if (line.starts_with("MSG ")) {
        const auto space = line.rfind(' ');
        std::size_t size = 0;
        std::from_chars(line.data() + space + 1, line.data() + line.size(), size);
        if (data.size() < eol + 2 + size + 2) return;  // the payload is not all here yet
        state.record(data.substr(eol + 2, size));
        in_.consume(eol + 2 + size + 2);
        continue;
      }
      if (line == "PING") write_all(fd_, "PONG\r\n");
      if (line.starts_with("-ERR")) throw std::runtime_error("nats: " + std::string(line));
      in_.consume(eol + 2);  // INFO, PONG, +OK
    }
  }

  int fd_;
  read_buffer in_;
};

}  // namespace

std::unique_ptr<system_under_test> make_nats(const system_config& config) {
  if (config.nats.empty()) throw std::runtime_error("no nats-server (--nats HOST:PORT)");
  return std::make_unique<external_system<nats_pub, nats_sub>>("nats", config.nats, config.nats_pid);
}

}  // namespace bench
