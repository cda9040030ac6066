// Who is connected to the broker's two sockets, by the address at the other
// end: a bound on connections in total and per address, so one host cannot
// take the broker's file descriptors and lock everyone else out. Fed the
// connection events of ZeroMQ's socket monitors (accepted, disconnected,
// each with its fd); knows nothing of sockets itself. When the table is
// full, a host holding fewer connections than the busiest one still gets in:
// one of the busiest host's connections makes way (fair share), so a few
// hosts cannot take every slot.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bcast::broker {

class connection_table {
 public:
  // `total`: connections on both sockets together; `per_address`: from one
  // address (connections without one, such as ipc, count in the total only).
  connection_table(std::size_t total, std::size_t per_address)
      : total_(total), per_address_(per_address) {}

  struct admission {
    bool admitted = false;  // false: over a bound, the caller closes it
    int evict = -1;         // admitted in place of this connection (close it)
  };
  // A connection was accepted on `fd` from `address` ("" if it has none).
  // The caller closes what is refused or evicted; their disconnections are
  // reported as for any other (and the evicted one no longer counts).
  [[nodiscard]] admission accept(int fd, const std::string& address);
  // The connection on `fd` is closed.
  void close(int fd);

  [[nodiscard]] std::size_t open() const { return by_fd_.size(); }
  [[nodiscard]] std::size_t from(const std::string& address) const;

 private:
  std::size_t total_;
  std::size_t per_address_;
  // A connection of the address holding the most, if it holds more than a
  // client's two connections more than `address` (-1 otherwise).
  [[nodiscard]] int fair_share_victim(const std::string& address) const;
  admission refuse(int fd);

  std::unordered_map<int, std::string> by_fd_;
  std::unordered_map<std::string, std::size_t> by_address_;
  // Refused or evicted connections whose close has not been reported yet.
  std::unordered_set<int> evicted_;
};

}  // namespace bcast::broker
