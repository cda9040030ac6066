// The receiver threads' epoll loop and the aggregation of their atomics.
#include "receiver.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "clock.hpp"

namespace bench {

receiver_pool::receiver_pool(std::vector<std::unique_ptr<sub_conn>> subs, std::uint32_t publishers,
                             bool measure_latency, int threads)
    : subscribers_(subs.size()), publishers_(publishers) {
  const std::size_t n =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, std::max<std::size_t>(subs.size(), 1));
  for (std::size_t t = 0; t < n; ++t) workers_.push_back(std::make_unique<worker>());
  for (std::size_t i = 0; i < subs.size(); ++i) {
    worker& w = *workers_[i * n / subs.size()];
    w.subs.push_back(std::move(subs[i]));
    w.states.emplace_back();
    w.states.back().heard.assign(publishers, 0);
  }
  for (auto& w : workers_) {
    if (measure_latency) {
      for (auto& s : w->states) s.latency = &w->latency;
    }
    w->thread = std::thread([this, &w = *w] { run(w); });
  }
}

receiver_pool::~receiver_pool() { stop(); }

void receiver_pool::run(worker& w) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const std::size_t n = w.subs.size();
  for (std::size_t i = 0; i < n; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, w.subs[i]->fd(), &ev) != 0) {
      std::perror("receiver: epoll_ctl");
    }
  }
  // A ZeroMQ socket may hold messages without its ZMQ_FD being readable, so
  // every subscriber starts queued for a drain.
  std::vector<std::size_t> queue(n);
  for (std::size_t i = 0; i < n; ++i) queue[i] = i;
  std::vector<std::uint8_t> queued(n, 1);
  std::vector<std::size_t> next;
  std::vector<epoll_event> events(256);
  std::uint64_t last_total = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), queue.empty() ? 10 : 0);
    for (int j = 0; j < k; ++j) {
      const auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(j)].data.u64);
      if (queued[i] == 0) {
        queued[i] = 1;
        queue.push_back(i);
      }
    }
    const bool idle = queue.empty();
    next.clear();
    for (const std::size_t i : queue) {
      bool more = false;
      try {
        more = w.subs[i]->drain(w.states[i]);
      } catch (const std::exception& e) {
        if (failures_.fetch_add(1) == 0) {
          std::fprintf(stderr, "receiver: a subscriber failed and is left out: %s\n", e.what());
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, w.subs[i]->fd(), nullptr);
      }
      if (more) {
        next.push_back(i);
      } else {
        queued[i] = 0;
      }
    }
    queue.swap(next);
    publish(w, idle, last_total);
  }
  close(ep);
}

void receiver_pool::publish(worker& w, bool idle, std::uint64_t& last_total) {
  std::uint64_t min = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t total = 0;
  std::uint64_t activity = 0;
  std::uint64_t ready = 0;
  for (const auto& s : w.states) {
    min = std::min(min, s.measured);
    total += s.measured;
    activity += s.measured + s.warm + s.foreign;
    if (s.heard_count >= publishers_) ++ready;
  }
  if (w.states.empty()) min = 0;
  if (total != last_total) {
    w.last_ns.store(now_ns(), std::memory_order_relaxed);
    last_total = total;
  }
  w.min.store(min);
  w.total.store(total, std::memory_order_relaxed);
  w.activity.store(activity);
  w.ready.store(ready, std::memory_order_relaxed);
  tick_.fetch_add(1);
  const std::uint64_t target = wake_target_.load();
  if (target != never && (min >= target || idle)) tick_.notify_all();
}

bool receiver_pool::wait_for_min(std::uint64_t target, std::uint64_t stall_ns) const {
  wake_target_.store(target);
  std::uint64_t last_activity = activity();
  std::uint64_t progress_at = now_ns();
  bool reached = true;
  while (true) {
    const std::uint64_t seen = tick_.load();
    if (min_received() >= target) break;
    const std::uint64_t now = now_ns();
    if (const std::uint64_t a = activity(); a != last_activity) {
      last_activity = a;
      progress_at = now;
    } else if (now - progress_at > stall_ns) {
      reached = false;
      break;
    }
    tick_.wait(seen);
  }
  wake_target_.store(never);
  return reached;
}

std::size_t receiver_pool::ready() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->ready.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t receiver_pool::min_received() const {
  std::uint64_t min = std::numeric_limits<std::uint64_t>::max();
  for (const auto& w : workers_) min = std::min(min, w->min.load());
  return workers_.empty() ? 0 : min;
}

std::uint64_t receiver_pool::total_received() const {
  std::uint64_t total = 0;
  for (const auto& w : workers_) total += w->total.load(std::memory_order_relaxed);
  return total;
}

std::uint64_t receiver_pool::activity() const {
  std::uint64_t total = 0;
  for (const auto& w : workers_) total += w->activity.load();
  return total;
}

std::uint64_t receiver_pool::last_receive_ns() const {
  std::uint64_t last = 0;
  for (const auto& w : workers_) last = std::max(last, w->last_ns.load(std::memory_order_relaxed));
  return last;
}

void receiver_pool::stop() {
  stop_.store(true);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (const auto n = failures_.exchange(0); n > 1) {
    std::fprintf(stderr, "receiver: %llu subscribers failed in all\n", static_cast<unsigned long long>(n));
  }
}

histogram receiver_pool::latency() const {
  histogram merged;
  for (const auto& w : workers_) merged.merge(w->latency);
  return merged;
}

std::uint64_t receiver_pool::foreign() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    for (const auto& s : w->states) n += s.foreign;
  }
  return n;
}

}  // namespace bench
