// One followed stream of room messages, seen through PUB/SUB (which may drop
// or arrive late) and repaired from `history`: shows each seq once, in order,
// and counts as lost only what the broker no longer keeps. Pure logic: the
// connection feeds it and sends the history requests it asks for.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "bcast/proto/messages.hpp"

namespace bcast::client {

// A run of seqs that no one can deliver any more (older than history keeps).
struct lost_run {
  std::uint64_t first_seq = 0;
  std::uint64_t count = 0;
};

using delivery = std::variant<proto::event::msg, lost_run>;

// Messages held while an earlier gap is being filled, by count and by their
// footprint(). Past either, the newest are let go: history has them too.
inline constexpr std::size_t max_held_messages = 100000;
inline constexpr std::size_t max_held_bytes = std::size_t{64} << 20;

// What a message kept in memory is counted as: the struct, its strings, and
// a container node's worth besides.
[[nodiscard]] inline std::size_t footprint(const proto::event::msg& m) {
  return sizeof(proto::event::msg) + 48 + m.text.size() + m.from.size() + m.room.size();
}

class room_stream {
 public:
  // Counts every seq up to `last` as already seen (what a new member skips).
  void start_at(std::uint64_t last);
  // Starts with the newest messages from a history answer still to come
  // (`backlog` on join): live messages are held until it arrives.
  void expect_backlog() { awaiting_backlog_ = true; }
  [[nodiscard]] bool awaiting_backlog() const { return awaiting_backlog_; }
  // Forgets everything: a new epoch starts at seq 1. First appends to `out`
  // what the old epoch still owes: held messages in order, and as lost the
  // seqs missing between them and up to the last one announced.
  void reset(std::vector<delivery>& out);
  [[nodiscard]] bool started() const { return started_; }
  [[nodiscard]] std::uint64_t last() const { return last_; }

  // A message from SUB. Appends what is now ready to show to `out`.
  void on_live(proto::event::msg message, std::vector<delivery>& out);
  // The broker announced `seq` as published (welcome, hb): a later seq than
  // ours means we missed something even if nothing else arrives.
  void on_announced(std::uint64_t seq);
  // A `history` answer to our fill request. Appends deliveries to `out`.
  void on_history(const proto::event::history& answer, std::vector<delivery>& out);

  // Returns the `after` of a history request to send now, if a gap is open and
  // no request is in flight; marks one in flight.
  [[nodiscard]] std::optional<std::uint64_t> take_fill_request();
  // True (once per attempt) when the backlog should be asked for now.
  [[nodiscard]] bool take_backlog_request();
  // The in-flight request went unanswered; the next take_fill_request repeats it.
  void fill_timed_out() { fill_in_flight_ = false; }

 private:
  using held_map = std::map<std::uint64_t, proto::event::msg>;
  void hold(proto::event::msg message);
  // Removes held_[at], keeping held_bytes_ right.
  held_map::node_type unhold(held_map::iterator at);
  void release_ready(std::vector<delivery>& out);

  bool started_ = false;
  bool awaiting_backlog_ = false;
  std::uint64_t last_ = 0;       // highest seq shown (or skipped as seen)
  std::uint64_t announced_ = 0;  // highest seq known to exist
  bool fill_in_flight_ = false;
  held_map held_;
  std::size_t held_bytes_ = 0;  // of held_'s messages (footprint())
};

}  // namespace bcast::client
