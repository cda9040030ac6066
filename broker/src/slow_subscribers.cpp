// slow_subscribers: progress tracked in what was published, the two cut rules.
#include "bcast/broker/slow_subscribers.hpp"

#include <algorithm>
#include <tuple>

namespace bcast::broker {

void slow_subscribers::watch(int fd, position published) {
  subs_[fd] = subscriber{published, 0, 0, false, false};
}

void slow_subscribers::forget(int fd) { subs_.erase(fd); }

std::vector<int> slow_subscribers::fds() const {
  std::vector<int> out;
  out.reserve(subs_.size());
  for (const auto& [fd, sub] : subs_) out.push_back(fd);
  return out;
}

std::uint64_t slow_subscribers::cost(const subscriber& sub, position published) const {
  const std::uint64_t frames = std::min(published.frames - sub.progress_at.frames, hwm_);
  return published.bytes - sub.progress_at.bytes + frames * frame_overhead;
}

std::uint64_t slow_subscribers::behind(int fd, position published) const {
  const auto found = subs_.find(fd);
  return found == subs_.end() ? 0 : cost(found->second, published);
}

std::vector<int> slow_subscribers::judge(position published, std::size_t held,
                                         const std::function<sample(int)>& look) {
  std::vector<int> cut;
  std::vector<std::pair<subscriber*, int>> stopped;
  std::uint64_t queues = 0;  // what the stopped subscribers' queues cost per frame
  for (auto& [fd, sub] : subs_) {
    if (sub.cut) continue;
    const sample s = look(fd);
    sub.taken = s.mark > sub.mark ? s.mark - sub.mark : sub.mark - s.mark;
    if (!s.pending || s.mark != sub.mark) sub.progress_at = published;
    sub.mark = s.mark;
    sub.pending = s.pending;
    if (!sub.pending) continue;
    if (cost(sub, published) > per_subscriber_) {
      sub.cut = true;
      cut.push_back(fd);
      continue;
    }
    stopped.emplace_back(&sub, fd);
    queues += std::min(published.frames - sub.progress_at.frames, hwm_) * frame_overhead;
  }
  stopped_ = stopped.size();
  if (held + queues <= total_ || !cut.empty()) return cut;
  // Over the total: the ones furthest behind first, then those reading least.
  std::sort(stopped.begin(), stopped.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first->progress_at.bytes, a.first->taken) <
           std::tie(b.first->progress_at.bytes, b.first->taken);
  });
  for (auto& [sub, fd] : stopped) {
    const std::uint64_t queue = std::min(published.frames - sub->progress_at.frames, hwm_) * frame_overhead;
    sub->cut = true;
    cut.push_back(fd);
    // Held frames are given back only once ZeroMQ has closed the queues:
    // for those, one cut per sample; a queue's own cost is known now.
    if (queue == 0 || held + (queues -= queue) <= total_) break;
  }
  return cut;
}

}  // namespace bcast::broker
