// Which subscriber connections have stopped reading, and which to cut so
// that publications cannot take the broker's memory. ZeroMQ's PUB queues
// per subscriber in messages, not bytes, and says nothing of who is behind;
// the kernel does: a subscriber that reads has its TCP send queue acked, one
// that stops has it fill and stay. Fed samples of each connection's send
// queue now and then, this decides by NATS's slow-consumer rule, in bytes:
// - a subscriber that made no progress while more than `per_subscriber`
//   bytes were published is cut (what it can have queued since it stopped);
// - while the frames ZeroMQ holds for all subscribers exceed `total`, the
//   one that made progress longest ago (then: the least) is cut, one per
//   sample.
// A cut subscriber's client reconnects and fills its gap from history.
// Knows nothing of sockets; the broker reads the samples and cuts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace bcast::broker {

class slow_subscribers {
 public:
  // One look at a connection's kernel send queue.
  struct sample {
    bool pending = false;   // bytes wait in it for the peer
    std::uint64_t mark = 0; // changes whenever the peer takes some (TCP: bytes acked)
  };

  slow_subscribers(std::size_t per_subscriber, std::size_t total)
      : per_subscriber_(per_subscriber), total_(total) {}

  // A subscriber connected on `fd` when `published` bytes had been published.
  void watch(int fd, std::uint64_t published);
  void forget(int fd);

  // Samples every watched connection with `look` (`published`: bytes
  // published so far; `held`: bytes ZeroMQ still holds) and returns the
  // connections to cut, each once.
  [[nodiscard]] std::vector<int> judge(std::uint64_t published, std::size_t held,
                                       const std::function<sample(int)>& look);

  [[nodiscard]] std::size_t watched() const { return subs_.size(); }
  // Every subscriber connection watched.
  [[nodiscard]] std::vector<int> fds() const;
  // Bytes published since `fd` last made progress (0 if not watched).
  [[nodiscard]] std::uint64_t behind(int fd, std::uint64_t published) const;

 private:
  struct subscriber {
    std::uint64_t progress_at = 0;  // bytes published when it last made progress
    std::uint64_t mark = 0;
    std::uint64_t taken = 0;        // how far the mark moved at the last sample
    bool pending = false;
    bool cut = false;
  };
  std::size_t per_subscriber_;
  std::size_t total_;
  std::unordered_map<int, subscriber> subs_;
};

}  // namespace bcast::broker
