// Which subscriber connections have stopped reading, and which to cut so
// that publications cannot take the broker's memory. ZeroMQ's PUB queues
// per subscriber in messages, not bytes, and says nothing of who is behind;
// the kernel does: a subscriber that reads has its TCP send queue acked, one
// that stops has it fill and stay. Fed samples of each connection's send
// queue now and then, this decides by NATS's slow-consumer rule, in bytes:
// - a subscriber that made no progress while more than `per_subscriber`
//   bytes were published is cut (what it can have queued since it stopped);
// - while the frames ZeroMQ holds for all subscribers, and what each
//   subscriber's queue costs per frame it holds (a message reference, about
//   frame_overhead bytes, for every frame published since it stopped, up to
//   its high-water mark) exceed `total`, the subscribers that made progress
//   longest ago (then: the least) are cut, until the estimate is within it.
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

  // What ZeroMQ keeps per frame in one subscriber's queue (a 64-byte
  // message, its share of the queue's chunks, the allocator's slack),
  // measured: 300 subscribers stalled on one-byte messages at 10000 frames
  // each took ~1.2 MB apiece.
  static constexpr std::uint64_t frame_overhead = 128;

  // How far publishing has gone: bytes and frames made so far.
  struct position {
    std::uint64_t bytes = 0;
    std::uint64_t frames = 0;
  };

  // `hwm`: frames ZeroMQ queues per subscriber at most.
  slow_subscribers(std::size_t per_subscriber, std::size_t total, std::uint64_t hwm)
      : per_subscriber_(per_subscriber), total_(total), hwm_(hwm) {}

  // A subscriber connected on `fd` at `published`.
  void watch(int fd, position published);
  void forget(int fd);

  // Samples every watched connection with `look` (`held`: bytes of frames
  // ZeroMQ still holds) and returns the connections to cut, each once.
  [[nodiscard]] std::vector<int> judge(position published, std::size_t held,
                                       const std::function<sample(int)>& look);

  [[nodiscard]] std::size_t watched() const { return subs_.size(); }
  // Subscribers with bytes waiting at the last judgement, not cut.
  [[nodiscard]] std::size_t stopped() const { return stopped_; }
  // Every subscriber connection watched.
  [[nodiscard]] std::vector<int> fds() const;
  // Bytes published since `fd` last made progress (0 if not watched).
  [[nodiscard]] std::uint64_t behind(int fd, position published) const;

 private:
  struct subscriber {
    position progress_at;           // publishing when it last made progress
    std::uint64_t mark = 0;
    std::uint64_t taken = 0;        // how far the mark moved at the last sample
    bool pending = false;
    bool cut = false;
  };
  // Bytes it may hold since it last made progress: those published, and
  // the queue's cost per frame.
  [[nodiscard]] std::uint64_t cost(const subscriber& sub, position published) const;

  std::size_t per_subscriber_;
  std::size_t total_;
  std::uint64_t hwm_;
  std::unordered_map<int, subscriber> subs_;
  std::size_t stopped_ = 0;
};

}  // namespace bcast::broker
