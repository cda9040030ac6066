// Byte accounting of replies in flight: a holder owns each body and a share
// of its peer's account; ZeroMQ's free callback returns both.
#include "bcast/broker/reply_queues.hpp"

#include <algorithm>

namespace bcast::broker {
namespace {

struct held_body {
  std::string body;
  std::shared_ptr<void> account;  // keeps the counters alive
  std::atomic<std::size_t>* queued;
  std::atomic<std::size_t>* total;
};

void release(void* /*data*/, void* hint) {
  auto* held = static_cast<held_body*>(hint);
  held->queued->fetch_sub(held->body.size(), std::memory_order_relaxed);
  held->total->fetch_sub(held->body.size(), std::memory_order_relaxed);
  delete held;
}

}  // namespace

reply_queues::reply_queues(std::size_t per_peer, std::size_t total)
    : per_peer_(per_peer), total_limit_(total) {}

const std::shared_ptr<reply_queues::account>& reply_queues::of(std::string_view routing_id) {
  auto found = accounts_.find(routing_id);
  if (found == accounts_.end()) {
    auto fresh = std::make_shared<account>();
    fresh->all = counters_;
    found = accounts_.emplace(std::string(routing_id), std::move(fresh)).first;
  }
  return found->second;
}

reply_queues::verdict reply_queues::admit(std::string_view routing_id, std::size_t bytes) {
  account& a = *of(routing_id);
  const std::size_t queued = a.queued.load(std::memory_order_relaxed);
  if (a.cut) {
    if (queued != 0) return verdict::drop;
    a.cut = false;  // it drained (read, or its connection closed)
  }
  if (queued + bytes > per_peer_) {
    a.cut = true;
    return verdict::cut;
  }
  if (total() + bytes > total_limit_) {
    const std::size_t share = total_limit_ / std::max<std::size_t>(accounts_.size(), 1);
    if (queued + bytes > share) {
      a.cut = true;
      return verdict::cut;
    }
    return verdict::drop;
  }
  return verdict::send;
}

zmq::message_t reply_queues::message(std::string_view routing_id, std::string&& body) {
  const std::shared_ptr<account>& a = of(routing_id);
  auto* held = new held_body{std::move(body), a, &a->queued, &counters_->total};
  const std::size_t size = held->body.size();
  a->queued.fetch_add(size, std::memory_order_relaxed);
  counters_->total.fetch_add(size, std::memory_order_relaxed);
  return zmq::message_t(held->body.data(), size, release, held);
}

std::size_t reply_queues::queued(std::string_view routing_id) const {
  const auto found = accounts_.find(routing_id);
  return found == accounts_.end() ? 0 : found->second->queued.load();
}

void reply_queues::sweep() {
  std::erase_if(accounts_, [](const auto& entry) { return entry.second->queued.load() == 0; });
}

}  // namespace bcast::broker
