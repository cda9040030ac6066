// One relay thread per started forwarder: poll() over the listener, the
// wake pipe and both ends of every relayed connection; non-blocking reads
// into a bounded buffer per direction, written on as the other end takes it.
// Closing uses SO_LINGER 0 (a reset), so a cut is abrupt and leaves no
// TIME_WAIT behind to stop the port being bound again.
#include "tcp_forwarder.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <string>
#include <system_error>
#include <vector>

namespace bcast::test {
namespace {

// Bytes held per direction before the relay stops reading from the sender:
// backpressure goes through, as it would through a router.
constexpr std::size_t max_buffered = 1 << 20;

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes with a reset: the peer sees ECONNRESET at once, like a cut line.
void reset_close(int fd) {
  const linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

int listen_on(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const auto addr = loopback(port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("bind/listen");
  }
  set_nonblocking(fd);
  return fd;
}

// A blocking connect to the target: on loopback it is answered at once.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const auto addr = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_nonblocking(fd);
  return fd;
}

// One relayed connection: end 0 is the client, end 1 the target;
// buffer[i] holds what end i sent and end 1-i has not taken yet.
struct relayed {
  int end[2];
  std::string buffer[2];
  bool dead = false;
};

// Moves what can move between the two ends; marks the pair dead on EOF or error.
void pump(relayed& r, const pollfd* polled) {
  for (int i = 0; i < 2 && !r.dead; ++i) {
    if ((polled[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && r.buffer[i].size() < max_buffered) {
      char chunk[65536];
      const ssize_t n = ::read(r.end[i], chunk, sizeof chunk);
      if (n > 0) {
        r.buffer[i].append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        r.dead = true;
      }
    }
  }
  for (int i = 0; i < 2 && !r.dead; ++i) {
    if (r.buffer[i].empty()) continue;
    const ssize_t n = ::send(r.end[1 - i], r.buffer[i].data(), r.buffer[i].size(), MSG_NOSIGNAL);
    if (n > 0) {
      r.buffer[i].erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      r.dead = true;
    }
  }
}

}  // namespace

std::uint16_t port_of(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::stoul(endpoint.substr(colon + 1)));
}

tcp_forwarder::tcp_forwarder(std::uint16_t target_port) : target_port_(target_port) { start(); }

tcp_forwarder::~tcp_forwarder() { stop(); }

std::string tcp_forwarder::endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

void tcp_forwarder::start() {
  if (thread_.joinable()) return;
  const int listener = listen_on(port_);
  if (port_ == 0) {
    sockaddr_in bound{};
    socklen_t size = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &size);
    port_ = ntohs(bound.sin_port);
  }
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listener);
    fail("pipe");
  }
  thread_ = std::thread([this, listener] { relay(listener); });
}

void tcp_forwarder::stop() {
  if (!thread_.joinable()) return;
  const char byte = 1;
  (void)!::write(wake_[1], &byte, 1);
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
  wake_[0] = wake_[1] = -1;
}

void tcp_forwarder::relay(int listener) {
  std::list<relayed> pairs;
  std::vector<pollfd> fds;
  while (true) {
    fds.assign({{wake_[0], POLLIN, 0}, {listener, POLLIN, 0}});
    for (const auto& r : pairs) {
      for (int i = 0; i < 2; ++i) {
        short events = 0;
        if (r.buffer[i].size() < max_buffered) events |= POLLIN;
        if (!r.buffer[1 - i].empty()) events |= POLLOUT;
        fds.push_back({r.end[i], events, 0});
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if ((fds[0].revents & POLLIN) != 0) break;
    std::size_t index = 2;
    for (auto& r : pairs) {
      pump(r, &fds[index]);
      index += 2;
    }
    for (auto it = pairs.begin(); it != pairs.end();) {
      if (!it->dead) {
        ++it;
        continue;
      }
      reset_close(it->end[0]);
      reset_close(it->end[1]);
      it = pairs.erase(it);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      while (true) {
        const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) break;
        ++accepted_;
        const int target = connect_to(target_port_);
        if (target < 0) {
          reset_close(client);
          continue;
        }
        const int one = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pairs.push_back({{client, target}, {}, false});
      }
    }
  }
  for (auto& r : pairs) {
    reset_close(r.end[0]);
    reset_close(r.end[1]);
  }
  ::close(listener);
}

}  // namespace bcast::test
