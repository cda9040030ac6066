// Sockets for the peers' clients.
#include "tcp.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace bench {

int tcp_connect(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected host:port, got " + host_port);
  const std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve " + host_port);
  }
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  const int rc = fd < 0 ? -1 : connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot connect to " + host_port + ": " + std::strerror(errno));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
  }
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (line.size() < 65536) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n <= 0) throw std::runtime_error("connection closed during setup");
    line.push_back(c);
    if (line.ends_with("\r\n")) return line.substr(0, line.size() - 2);
  }
  throw std::runtime_error("line too long during setup");
}

bool read_buffer::fill(int fd) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > data_.size() / 2 || data_.size() - end_ < 65536) {
    std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == data_.size()) data_.resize(data_.size() * 2);
  const ssize_t n = ::recv(fd, data_.data() + end_, data_.size() - end_, MSG_DONTWAIT);
  if (n == 0) closed_ = true;
  if (n <= 0) return false;
  end_ += static_cast<std::size_t>(n);
  return true;
}

}  // namespace bench
