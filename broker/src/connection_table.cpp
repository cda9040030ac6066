// Connection counting by fd and by address.
#include "bcast/broker/connection_table.hpp"

namespace bcast::broker {

bool connection_table::accept(int fd, const std::string& address) {
  close(fd);  // an fd reused before its close event was seen
  by_fd_.emplace(fd, address);
  std::size_t& same = by_address_[address];
  ++same;
  return by_fd_.size() <= total_ && (address.empty() || same <= per_address_);
}

void connection_table::close(int fd) {
  const auto found = by_fd_.find(fd);
  if (found == by_fd_.end()) return;
  const auto count = by_address_.find(found->second);
  if (count != by_address_.end() && --count->second == 0) by_address_.erase(count);
  by_fd_.erase(found);
}

std::vector<int> connection_table::fds() const {
  std::vector<int> out;
  out.reserve(by_fd_.size());
  for (const auto& [fd, address] : by_fd_) out.push_back(fd);
  return out;
}

std::size_t connection_table::from(const std::string& address) const {
  const auto found = by_address_.find(address);
  return found == by_address_.end() ? 0 : found->second;
}

}  // namespace bcast::broker
