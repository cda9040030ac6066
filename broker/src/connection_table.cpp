// Connection counting by fd and by address.
#include "bcast/broker/connection_table.hpp"

#include <algorithm>

namespace bcast::broker {

connection_table::admission connection_table::accept(int fd, const std::string& address) {
  close(fd);  // an fd reused before its close event was seen
  if (!address.empty() && from(address) >= per_address_) return refuse(fd);
  admission a{true, -1};
  if (by_fd_.size() >= total_) {
    a.evict = address.empty() ? -1 : fair_share_victim(address);
    if (a.evict < 0) return refuse(fd);
    close(a.evict);
    evicted_.insert(a.evict);
  }
  by_fd_.emplace(fd, address);
  ++by_address_[address];
  return a;
}

connection_table::admission connection_table::refuse(int fd) {
  // Not counted: its close event, when it comes, is only consumed.
  evicted_.insert(fd);
  return {false, -1};
}

int connection_table::fair_share_victim(const std::string& address) const {
  const auto busiest = std::max_element(by_address_.begin(), by_address_.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
  // A client holds two connections (requests and publications): a host is
  // only made to give one up while it holds more than a client's pair more
  // than the newcomer, so hosts of one client each never evict each other.
  if (busiest == by_address_.end() || busiest->first.empty() ||
      busiest->second <= from(address) + 2) {
    return -1;
  }
  int newest = -1;
  for (const auto& [fd, from_address] : by_fd_) {
    if (from_address == busiest->first) newest = std::max(newest, fd);
  }
  return newest;
}

void connection_table::close(int fd) {
  if (evicted_.erase(fd) != 0) return;  // no longer counted
  const auto found = by_fd_.find(fd);
  if (found == by_fd_.end()) return;
  const auto count = by_address_.find(found->second);
  if (count != by_address_.end() && --count->second == 0) by_address_.erase(count);
  by_fd_.erase(found);
}

std::size_t connection_table::from(const std::string& address) const {
  const auto found = by_address_.find(address);
  return found == by_address_.end() ? 0 : found->second;
}

}  // namespace bcast::broker
