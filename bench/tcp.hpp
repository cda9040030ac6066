// Plain TCP for the peers' clients (NATS text protocol, Redis via hiredis):
// connecting to host:port, writing everything, and a growable read buffer.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// A connected, blocking TCP socket with TCP_NODELAY; throws on failure.
int tcp_connect(const std::string& host_port);
// Writes all of `data` (polls when the socket is non-blocking and full).
void write_all(int fd, std::string_view data);
// One line ending in "\r\n" read byte by byte from a blocking socket (setup only).
std::string read_line(int fd);

// Bytes read from a socket and not yet parsed.
class read_buffer {
 public:
  explicit read_buffer(std::size_t capacity = 1 << 20) : data_(capacity) {}
  // Reads once without blocking; false when nothing was read (EAGAIN or EOF).
  bool fill(int fd);
  [[nodiscard]] std::string_view pending() const { return {data_.data() + begin_, end_ - begin_}; }
  void consume(std::size_t n) { begin_ += n; }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  std::vector<char> data_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool closed_ = false;
};

}  // namespace bench
