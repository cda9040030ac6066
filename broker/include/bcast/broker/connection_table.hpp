// Who is connected to the broker's two sockets, by the address at the other
// end: a bound on connections in total and per address, so one host cannot
// take the broker's file descriptors and lock everyone else out. Fed the
// connection events of ZeroMQ's socket monitors (accepted, disconnected,
// each with its fd); knows nothing of sockets itself.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace bcast::broker {

class connection_table {
 public:
  // `total`: connections on both sockets together; `per_address`: from one
  // address (connections without one, such as ipc, count in the total only).
  connection_table(std::size_t total, std::size_t per_address)
      : total_(total), per_address_(per_address) {}

  // A connection was accepted on `fd` from `address` ("" if it has none).
  // Returns false when it is over a bound: the caller closes it, and its
  // disconnection is reported as for any other.
  [[nodiscard]] bool accept(int fd, const std::string& address);
  // The connection on `fd` is closed.
  void close(int fd);

  [[nodiscard]] std::size_t open() const { return by_fd_.size(); }
  [[nodiscard]] std::vector<int> fds() const;
  [[nodiscard]] std::size_t from(const std::string& address) const;

 private:
  std::size_t total_;
  std::size_t per_address_;
  std::unordered_map<int, std::string> by_fd_;
  std::unordered_map<std::string, std::size_t> by_address_;
};

}  // namespace bcast::broker
