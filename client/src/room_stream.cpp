// Ordering, de-duplication and gap repair for one room stream. Messages
// wait in `held_` (keyed by seq) until every earlier seq has been shown or
// declared lost; a gap is known when a later seq is seen or announced, and
// closed by a history answer. The connection owns the sockets and timers.
#include "bcast/client/room_stream.hpp"

#include <algorithm>

namespace bcast::client {

void room_stream::start_at(std::uint64_t last) {
  started_ = true;
  last_ = last;
  announced_ = std::max(announced_, last);
  while (!held_.empty() && held_.begin()->first <= last) unhold(held_.begin());
}

void room_stream::reset(std::vector<delivery>& out) {
  // The old epoch's last word: held messages are real, gaps and the seqs
  // announced but never received are lost for good.
  if (started_ && !awaiting_backlog_) {
    for (auto& [seq, message] : held_) {
      if (seq > last_ + 1) out.emplace_back(lost_run{last_ + 1, seq - last_ - 1});
      out.emplace_back(std::move(message));
      last_ = seq;
    }
    if (announced_ > last_) out.emplace_back(lost_run{last_ + 1, announced_ - last_});
  }
  awaiting_backlog_ = false;
  started_ = true;
  last_ = 0;
  announced_ = 0;
  fill_in_flight_ = false;
  held_.clear();
  held_bytes_ = 0;
}

void room_stream::on_live(proto::event::msg message, std::vector<delivery>& out) {
  if (message.seq == 0) return;  // seqs start at 1
  if (awaiting_backlog_) {
    hold(std::move(message));
    return;
  }
  if (!started_) start_at(message.seq - 1);
  if (message.seq <= last_) return;
  announced_ = std::max(announced_, message.seq);
  hold(std::move(message));
  release_ready(out);
}

void room_stream::on_announced(std::uint64_t seq) {
  if (!started_ && !awaiting_backlog_) {
    start_at(seq);
    return;
  }
  announced_ = std::max(announced_, seq);
}

void room_stream::on_history(const proto::event::history& answer, std::vector<delivery>& out) {
  if (awaiting_backlog_) {
    // The backlog: show it all, then carry on from its end.
    awaiting_backlog_ = false;
    start_at(answer.msgs.empty() ? answer.last : answer.msgs.front().seq - 1);
  }
  fill_in_flight_ = false;
  announced_ = std::max(announced_, answer.last);
  for (const auto& m : answer.msgs) {
    if (m.seq > last_) hold(m);
  }
  // Seqs below the oldest one kept, and not held from SUB, are gone for good.
  const std::uint64_t next_known = held_.empty() ? announced_ + 1 : held_.begin()->first;
  const std::uint64_t gone_until = std::min(answer.first, next_known);
  if (gone_until > last_ + 1) {
    out.emplace_back(lost_run{last_ + 1, gone_until - last_ - 1});
    last_ = gone_until - 1;
  }
  release_ready(out);
}

std::optional<std::uint64_t> room_stream::take_fill_request() {
  if (!started_ || awaiting_backlog_ || fill_in_flight_ || announced_ <= last_) return std::nullopt;
  fill_in_flight_ = true;
  return last_;
}

bool room_stream::take_backlog_request() {
  if (!awaiting_backlog_ || fill_in_flight_) return false;
  fill_in_flight_ = true;
  return true;
}

void room_stream::hold(proto::event::msg message) {
  const std::size_t bytes = footprint(message);
  if (!held_.emplace(message.seq, std::move(message)).second) return;  // held already
  held_bytes_ += bytes;
  while (held_.size() > max_held_messages || held_bytes_ > max_held_bytes) unhold(std::prev(held_.end()));
}

room_stream::held_map::node_type room_stream::unhold(held_map::iterator at) {
  held_bytes_ -= footprint(at->second);
  return held_.extract(at);
}

void room_stream::release_ready(std::vector<delivery>& out) {
  while (!held_.empty() && held_.begin()->first <= last_ + 1) {
    auto node = unhold(held_.begin());
    if (node.key() == last_ + 1) {
      last_ = node.key();
      out.emplace_back(std::move(node.mapped()));
    }
  }
}

}  // namespace bcast::client
