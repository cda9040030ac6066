// A --json client process and the bookkeeping of what it printed.
#include "json_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "broker_process.hpp"
#include "json_line.hpp"

namespace bcast::test {

using std::chrono::milliseconds;

json_client::json_client(std::string label, std::vector<std::string> args, const std::string& in,
                         const std::string& out)
    : label_(std::move(label)) {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--json", "--in", in, "--out", out});
  proc_ = std::make_unique<process>(argv);
}

void json_client::pump(std::size_t max_lines) {
  for (std::size_t i = 0; i < max_lines; ++i) {
    // 2 ms: line() rounds what is left down to whole milliseconds.
    auto line = proc_->line(milliseconds(2));
    if (!line) break;
    take(*line);
  }
  (void)proc_->err();  // keep its stderr pipe from filling
  if (!exit_code_) exit_code_ = proc_->wait(milliseconds(0));
}

void json_client::write_lines(std::size_t count) {
  std::string chunk;
  for (std::size_t i = 0; i < count; ++i) {
    char text[64];
    std::snprintf(text, sizeof text, "%s-%06zu", label_.c_str(), texts_.size() + 1);
    texts_.emplace_back(text);
    chunk += text;
    chunk += '\n';
  }
  proc_->write(chunk);
}

void json_client::end_input() {
  proc_->close_stdin();
  input_ended_ = true;
}

int json_client::status_count(const std::string& status) const {
  const auto found = statuses_.find(status);
  return found == statuses_.end() ? 0 : found->second;
}

std::uint64_t json_client::lost_total() const {
  std::uint64_t total = 0;
  for (const auto& l : lost_) total += l.count;
  return total;
}

bool json_client::reported_lost(int epoch, const std::string& room, std::uint64_t seq) const {
  return std::any_of(lost_.begin(), lost_.end(), [&](const seen_lost& l) {
    return l.epoch == epoch && l.room == room && seq >= l.first_seq && seq < l.first_seq + l.count;
  });
}

void json_client::take(const std::string& line) {
  if (std::getenv("BCAST_FAULT_TRACE") != nullptr) {
    const auto ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count() % 100000;
    std::cerr << ms << " " << label_ << ": " << line.substr(0, 160) << "\n";
  }
  const std::string type = json_str(line, "type");
  if (type == "msg") {
    seen_msg m{epoch_, json_str(line, "room"), json_uint(line, "seq"), json_str(line, "text")};
    streams_[{epoch_, m.room}].push_back({m.seq, m.seq, false});
    texts_seen_.insert(m.text);
    msgs_.push_back(std::move(m));
  } else if (type == "lost") {
    seen_lost l{epoch_, json_str(line, "room"), json_uint(line, "first_seq"), json_uint(line, "count")};
    streams_[{epoch_, l.room}].push_back({l.first_seq, l.first_seq + l.count - 1, true});
    lost_.push_back(std::move(l));
  } else if (type == "ack") {
    acks_.emplace(json_uint(line, "id"), seen_ack{epoch_, json_str(line, "room"), json_uint(line, "seq")});
  } else if (type == "status") {
    const std::string status = json_str(line, "status");
    if (status == "epoch-reset") ++epoch_;
    ++statuses_[status];
  } else if (type == "join" || type == "leave") {
    presence_.push_back({type, json_str(line, "name"), json_str(line, "reason")});
  } else if (type == "error") {
    errors_.push_back(line);
  }
}

bool in_abandoned_tail(const json_client& c, int epoch, const std::string& room, std::uint64_t seq) {
  if (epoch >= c.epoch()) return false;  // the client's current epoch
  const auto found = c.streams().find({epoch, room});
  const std::uint64_t accounted = found == c.streams().end() ? 0 : found->second.back().last;
  return seq > accounted;
}

}  // namespace bcast::test
