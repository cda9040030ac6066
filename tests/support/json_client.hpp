// A client process of the fault tests (`connect --json` or `listen --json`)
// and what it said: messages, lost runs, acks, statuses, presence, errors.
// Its epoch counter starts at 0 and counts the `epoch-reset` lines: a seq is
// identified by (epoch, room, seq) across clients because every client of a
// test sees the same broker runs. Driving several clients is scenario.hpp's.
// BCAST_FAULT_TRACE=1 prints every line the clients print.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "process.hpp"

namespace bcast::test {

struct seen_msg {
  int epoch = 0;
  std::string room;
  std::uint64_t seq = 0;
  std::string text;
};

struct seen_lost {
  int epoch = 0;
  std::string room;
  std::uint64_t first_seq = 0;
  std::uint64_t count = 0;
};

struct seen_ack {
  int epoch = 0;
  std::string room;
  std::uint64_t seq = 0;
};

struct seen_presence {
  std::string type;  // join or leave
  std::string name;
  std::string reason;
};

// One shown message or one lost run, in the order the client printed them.
struct stream_item {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool lost = false;
};

class json_client {
 public:
  // Runs `broadcast-server ARGS --json --in IN --out OUT`.
  json_client(std::string label, std::vector<std::string> args, const std::string& in, const std::string& out);

  [[nodiscard]] const std::string& label() const { return label_; }

  // Reads what it printed so far (at most `max_lines` lines).
  void pump(std::size_t max_lines = 4000);

  // A sender's input: `count` more lines "LABEL-000123" (line k is id k).
  void write_lines(std::size_t count);
  void end_input();
  void signal(int sig) { proc_->signal(sig); }

  [[nodiscard]] bool input_ended() const { return input_ended_; }
  [[nodiscard]] std::size_t written() const { return texts_.size(); }
  [[nodiscard]] std::size_t unacked() const { return texts_.size() - acks_.size(); }
  [[nodiscard]] const std::vector<std::string>& texts() const { return texts_; }
  [[nodiscard]] const std::map<std::uint64_t, seen_ack>& acks() const { return acks_; }
  [[nodiscard]] const std::vector<seen_msg>& msgs() const { return msgs_; }
  [[nodiscard]] const std::vector<seen_lost>& lost() const { return lost_; }
  [[nodiscard]] const std::vector<seen_presence>& presence() const { return presence_; }
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }
  [[nodiscard]] int epoch() const { return epoch_; }
  [[nodiscard]] std::optional<int> exit_code() const { return exit_code_; }
  [[nodiscard]] std::string stderr_text() { return proc_->err(); }
  [[nodiscard]] int status_count(const std::string& status) const;
  [[nodiscard]] bool has_text(const std::string& text) const { return texts_seen_.contains(text); }
  [[nodiscard]] std::uint64_t lost_total() const;
  // True when a lost report of this client covers seq `seq` of `room` in `epoch`.
  [[nodiscard]] bool reported_lost(int epoch, const std::string& room, std::uint64_t seq) const;
  // Per (epoch, room): what it showed and reported lost, in printed order.
  [[nodiscard]] const std::map<std::pair<int, std::string>, std::vector<stream_item>>& streams() const {
    return streams_;
  }

 private:
  void take(const std::string& line);

  std::string label_;
  std::unique_ptr<process> proc_;
  int epoch_ = 0;
  bool input_ended_ = false;
  std::optional<int> exit_code_;
  std::vector<std::string> texts_;
  std::map<std::uint64_t, seen_ack> acks_;
  std::vector<seen_msg> msgs_;
  std::vector<seen_lost> lost_;
  std::vector<seen_presence> presence_;
  std::vector<std::string> errors_;
  std::map<std::string, int> statuses_;
  std::unordered_set<std::string> texts_seen_;
  std::map<std::pair<int, std::string>, std::vector<stream_item>> streams_;
};

// An abandoned epoch (a reboot after an unclean stop of the default mode,
// or a damaged history) takes with it what the broker had published but not
// yet sent: a listener that was never told of those seqs cannot count them
// (PROTOCOL.md 8.2). Such a loss is allowed only after everything the client
// accounted for in that epoch, never a hole: true when seq `seq` of `room`
// lies in that tail of `epoch` for `c`.
[[nodiscard]] bool in_abandoned_tail(const json_client& c, int epoch, const std::string& room, std::uint64_t seq);

}  // namespace bcast::test
