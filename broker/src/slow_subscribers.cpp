// slow_subscribers: progress tracked in bytes published, the two cut rules.
#include "bcast/broker/slow_subscribers.hpp"

#include <tuple>

namespace bcast::broker {

void slow_subscribers::watch(int fd, std::uint64_t published) {
  subs_[fd] = subscriber{published, 0, 0, false, false};
}

void slow_subscribers::forget(int fd) { subs_.erase(fd); }

std::vector<int> slow_subscribers::fds() const {
  std::vector<int> out;
  out.reserve(subs_.size());
  for (const auto& [fd, sub] : subs_) out.push_back(fd);
  return out;
}

std::uint64_t slow_subscribers::behind(int fd, std::uint64_t published) const {
  const auto found = subs_.find(fd);
  return found == subs_.end() ? 0 : published - found->second.progress_at;
}

std::vector<int> slow_subscribers::judge(std::uint64_t published, std::size_t held,
                                         const std::function<sample(int)>& look) {
  std::vector<int> cut;
  for (auto& [fd, sub] : subs_) {
    if (sub.cut) continue;
    const sample s = look(fd);
    sub.taken = s.mark > sub.mark ? s.mark - sub.mark : sub.mark - s.mark;
    if (!s.pending || s.mark != sub.mark) sub.progress_at = published;
    sub.mark = s.mark;
    sub.pending = s.pending;
    if (sub.pending && published - sub.progress_at > per_subscriber_) {
      sub.cut = true;
      cut.push_back(fd);
    }
  }
  if (held <= total_ || !cut.empty()) return cut;
  // Over the total: the one furthest behind, then the one reading least.
  subscriber* slowest = nullptr;
  int slowest_fd = -1;
  for (auto& [fd, sub] : subs_) {
    if (sub.cut || !sub.pending) continue;
    if (slowest == nullptr ||
        std::tie(sub.progress_at, sub.taken) < std::tie(slowest->progress_at, slowest->taken)) {
      slowest = &sub;
      slowest_fd = fd;
    }
  }
  if (slowest != nullptr) {
    slowest->cut = true;
    cut.push_back(slowest_fd);
  }
  return cut;
}

}  // namespace bcast::broker
