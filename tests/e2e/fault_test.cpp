// Fault tests of the built binary: a broker killed with SIGKILL (durable and
// default mode), connections cut under load by a TCP forwarder, subscribers
// that stop reading while senders flood, and a clean restart on the same
// history file. Senders and listeners are real `connect --json` and
// `listen --json` processes (the flood uses client-library connections),
// the broker is always the real `broadcast-server start`. Every test prints
// what it measured (sent, acked, seen, lost, duplicates, memory) and then
// checks the guarantees the README and PROTOCOL.md give: per room and epoch
// every seq shown once and in order, every gap reported, no seq carrying
// two texts, every acknowledged message delivered or reported lost.
// This file owns the scenarios and their bookkeeping; the forwarder lives in
// tests/support/tcp_forwarder.*, processes in tests/support/process.*.
// BCAST_FAULT_TRACE=1 prints every line the clients print to stderr.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <zmq_addon.hpp>

#include "bcast/client/connection.hpp"
#include "bcast/proto/codec.hpp"
#include "broker_banner.hpp"
#include "deadline.hpp"
#include "log_records.hpp"
#include "process.hpp"
#include "raw_peer.hpp"
#include "tcp_forwarder.hpp"

namespace bcast::test {
namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

const std::string binary = BCAST_BINARY;

// Heartbeats in the crash tests: clients notice a dead broker after
// 3 × 200 ms and retry unacked messages every 400 ms, well above the
// scheduling noise of a loaded 2-core machine.
constexpr const char* fast_heartbeat = "200";
// Unacked lines a test lets a sender have before it waits: senders keep
// sending while the broker is down, without an unbounded backlog.
constexpr std::size_t max_unacked_lines = 200;
// Lines written to a sender at a time.
constexpr std::size_t lines_per_batch = 5;
// How long one step of a scenario may take before the test fails: a step
// takes about a second here, up to ~10 s in a sanitizer build on a loaded
// 2-core machine.
constexpr milliseconds step_patience{30000};

// ---------------------------------------------------------------------------
// The CLI's --json lines: flat objects in a fixed key order. A value is read
// by its key; only our own texts (no quotes, no escapes) are ever parsed.

std::optional<std::string> json_raw(const std::string& line, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const auto at = line.find(needle);
  if (at == std::string::npos) return std::nullopt;
  std::size_t i = at + needle.size();
  if (i < line.size() && line[i] == '"') {
    std::string out;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  const auto end = line.find_first_of(",}", i);
  return line.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

std::string json_str(const std::string& line, std::string_view key) {
  return json_raw(line, key).value_or("");
}

std::uint64_t json_uint(const std::string& line, std::string_view key) {
  const auto raw = json_raw(line, key);
  return raw && !raw->empty() ? std::stoull(*raw) : 0;
}

// ---------------------------------------------------------------------------
// What a test measured: printed (so `ctest -V` shows it) and recorded as a
// test property (so the XML report keeps it).

void report(const std::string& key, const std::string& value) {
  std::cout << "  [numbers] " << key << " = " << value << "\n" << std::flush;
  ::testing::Test::RecordProperty(key, value);
}

void report(const std::string& key, std::uint64_t value) { report(key, std::to_string(value)); }

// A history directory in the test's temporary directory, removed before and
// after the test.
class temp_db {
 public:
  explicit temp_db(const std::string& name)
      : path_(::testing::TempDir() + "bcast-fault-" + name + "-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(path_);
  }
  ~temp_db() { std::filesystem::remove_all(path_); }
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// The broker: `broadcast-server start` in a child process.

class broker_process {
 public:
  // Starts a broker with `args` on `in`/`out` (ports or endpoints; "0": a
  // free port) and reads its banner. Fails the test if there is none.
  broker_process(std::vector<std::string> args, const std::string& in = "0", const std::string& out = "0",
                 std::vector<std::string> env = {}) {
    std::vector<std::string> argv{binary, "start", "--in", in, "--out", out};
    argv.insert(argv.end(), args.begin(), args.end());
    proc_ = std::make_unique<process>(argv, std::move(env));
    const auto banner = proc_->line();
    const auto endpoints = banner ? endpoints_in_banner(*banner) : std::nullopt;
    if (!endpoints) {
      ADD_FAILURE() << "no banner from the broker; stderr: " << proc_->err();
      return;
    }
    in_ = endpoints->in;
    out_ = endpoints->out;
  }

  [[nodiscard]] bool started() const { return !in_.empty(); }
  [[nodiscard]] const std::string& in() const { return in_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] pid_t pid() const { return proc_->pid(); }
  // Reads its log so far (stderr must be read, or a chatty broker blocks).
  std::string log() { return proc_->err(); }

  // SIGKILL: no shutdown notice, no final commit.
  void kill_hard() {
    proc_->signal(SIGKILL);
    EXPECT_EQ(proc_->wait(), 128 + SIGKILL);
  }
  // SIGTERM: returns the exit code (nullopt if it did not exit in time).
  std::optional<int> stop() {
    proc_->signal(SIGTERM);
    return proc_->wait();
  }
  void signal(int sig) { proc_->signal(sig); }

 private:
  std::unique_ptr<process> proc_;
  std::string in_;
  std::string out_;
};

// VmRSS and VmHWM of a process, in KiB (0 when unreadable).
struct memory_kib {
  std::uint64_t rss = 0;
  std::uint64_t hwm = 0;
};

memory_kib memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  memory_kib m;
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") status >> m.rss;
    if (key == "VmHWM:") status >> m.hwm;
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return m;
}

// Lines of a broker log that contain `text`.
std::size_t log_lines_with(const std::string& log, const std::string& text) {
  std::size_t n = 0;
  for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++n;
  return n;
}

// What the broker loaded from its history file ("history FILE: epoch E,
// N rooms, M messages loaded"), its own account at stop ("stopped: N
// requests, M published, ..."), and how many clients came back to a session: live ("resume") or one kept
// after a timeout or a restart ("rejoin ... with its earlier session").
void report_broker_log(const std::string& prefix, const std::string& log) {
  const auto line_from = [&log](std::size_t at) { return log.substr(at, log.find('\n', at) - at); };
  if (const auto opened = log.find(" info history "); opened != std::string::npos) {
    report(prefix + "opened", line_from(opened + 6));
  }
  if (const auto stopped = log.find("stopped: "); stopped != std::string::npos) {
    report(prefix + "stats", line_from(stopped));
  }
  report(prefix + "resumed_sessions", log_lines_with(log, " info resume "));
  report(prefix + "rejoined_sessions", log_lines_with(log, "with its earlier session"));
}

// ---------------------------------------------------------------------------
// A client process (`connect --json` or `listen --json`) and what it said.
// Its epoch counter starts at 0 and counts the `epoch-reset` lines: a seq is
// identified by (epoch, room, seq) across clients because every client here
// sees the same broker runs.

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
  json_client(std::string label, std::vector<std::string> args, const std::string& in, const std::string& out)
      : label_(std::move(label)) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--json", "--in", in, "--out", out});
    proc_ = std::make_unique<process>(argv);
  }

  [[nodiscard]] const std::string& label() const { return label_; }

  // Reads what it printed so far (at most `max_lines` lines).
  void pump(std::size_t max_lines = 4000) {
    for (std::size_t i = 0; i < max_lines; ++i) {
      // 2 ms: line() rounds what is left down to whole milliseconds.
      auto line = proc_->line(milliseconds(2));
      if (!line) break;
      take(*line);
    }
    (void)proc_->err();  // keep its stderr pipe from filling
    if (!exit_code_) exit_code_ = proc_->wait(milliseconds(0));
  }

  // A sender's input: `count` more lines "LABEL-000123" (line k is id k).
  void write_lines(std::size_t count) {
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
  void end_input() {
    proc_->close_stdin();
    input_ended_ = true;
  }
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
  [[nodiscard]] int status_count(const std::string& status) const {
    const auto found = statuses_.find(status);
    return found == statuses_.end() ? 0 : found->second;
  }
  [[nodiscard]] bool has_text(const std::string& text) const { return texts_seen_.contains(text); }
  [[nodiscard]] std::uint64_t lost_total() const {
    std::uint64_t total = 0;
    for (const auto& l : lost_) total += l.count;
    return total;
  }
  // True when a lost report of this client covers seq `seq` of `room` in `epoch`.
  [[nodiscard]] bool reported_lost(int epoch, const std::string& room, std::uint64_t seq) const {
    return std::any_of(lost_.begin(), lost_.end(), [&](const seen_lost& l) {
      return l.epoch == epoch && l.room == room && seq >= l.first_seq && seq < l.first_seq + l.count;
    });
  }
  // Per (epoch, room): what it showed and reported lost, in printed order.
  [[nodiscard]] const std::map<std::pair<int, std::string>, std::vector<stream_item>>& streams() const {
    return streams_;
  }

 private:
  void take(const std::string& line) {
    if (std::getenv("BCAST_FAULT_TRACE") != nullptr) {
      const auto ms = std::chrono::duration_cast<milliseconds>(clock_type::now().time_since_epoch()).count() % 100000;
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
// (PROTOCOL.md 8.2). Such a loss is allowed only
// after everything the client accounted for in that epoch, never a hole.
bool in_abandoned_tail(const json_client& c, int epoch, const std::string& room,
                       std::uint64_t seq) {
  if (epoch >= c.epoch()) return false;  // the client's current epoch
  const auto found = c.streams().find({epoch, room});
  const std::uint64_t accounted = found == c.streams().end() ? 0 : found->second.back().last;
  return seq > accounted;
}


// ---------------------------------------------------------------------------
// A scenario: senders and followers (every client follows the lobby; the
// senders too), driven by one loop that reads every process and keeps the
// senders writing while `feeding`.

class scenario {
 public:
  json_client& add_sender(const std::string& name, const std::string& in, const std::string& out) {
    senders_.push_back(std::make_unique<json_client>(
        name, std::vector<std::string>{"connect", "--name", name, "--timeout", "60"}, in, out));
    return *senders_.back();
  }
  json_client& add_listener(const std::string& label, std::vector<std::string> args, const std::string& in,
                            const std::string& out) {
    // --presence: the auditor counts joins and leaves (timeouts) too.
    args.insert(args.begin(), {"listen", "--presence"});
    return add_follower(label, std::move(args), in, out);
  }
  // A client that follows to the end like a listener (`args` name the subcommand).
  json_client& add_follower(const std::string& label, std::vector<std::string> args, const std::string& in,
                            const std::string& out) {
    listeners_.push_back(std::make_unique<json_client>(label, std::move(args), in, out));
    return *listeners_.back();
  }

  // Runs the loop until `done()` or `limit`; returns whether `done()` held.
  bool drive(const std::function<bool()>& done, milliseconds limit = step_patience) {
    const auto end = clock_type::now() + limit;
    while (true) {
      for (auto* c : clients()) c->pump();
      if (broker_ != nullptr) (void)broker_->log();
      if (done()) return true;
      if (clock_type::now() >= end) return false;
      if (feeding_) feed();
    }
  }

  void watch_log_of(broker_process* broker) { broker_ = broker; }
  void set_feeding(bool on) { feeding_ = on; }

  [[nodiscard]] std::vector<json_client*> clients() const {
    std::vector<json_client*> all;
    for (const auto& s : senders_) all.push_back(s.get());
    for (const auto& l : listeners_) all.push_back(l.get());
    return all;
  }
  [[nodiscard]] std::vector<json_client*> senders() const {
    std::vector<json_client*> all;
    for (const auto& s : senders_) all.push_back(s.get());
    return all;
  }
  [[nodiscard]] std::vector<json_client*> listeners() const {
    std::vector<json_client*> all;
    for (const auto& l : listeners_) all.push_back(l.get());
    return all;
  }
  [[nodiscard]] std::size_t acked() const {
    std::size_t n = 0;
    for (const auto& s : senders_) n += s->acks().size();
    return n;
  }
  [[nodiscard]] std::size_t written() const {
    std::size_t n = 0;
    for (const auto& s : senders_) n += s->written();
    return n;
  }

  // Waits until every client printed `joined`.
  bool all_joined() {
    return drive([this] {
      const auto all = clients();
      return std::all_of(all.begin(), all.end(), [](json_client* c) { return c->status_count("joined") > 0; });
    });
  }

  // Every acked message of every sender is shown by `c`, covered by one of
  // its lost reports, or in the tail of an epoch a crash abandoned.
  [[nodiscard]] bool has_everything(const json_client& c) const {
    for (const auto& s : senders_) {
      for (const auto& [id, ack] : s->acks()) {
        const std::string& text = s->texts().at(id - 1);
        if (!c.has_text(text) && !c.reported_lost(ack.epoch, ack.room, ack.seq) &&
            !in_abandoned_tail(c, ack.epoch, ack.room, ack.seq)) {
          return false;
        }
      }
    }
    return true;
  }
  [[nodiscard]] bool listeners_have_everything() const {
    return std::all_of(listeners_.begin(), listeners_.end(), [this](const auto& l) { return has_everything(*l); });
  }

  // Ends every sender's input and waits for them to exit (each waits for its
  // acks and for its own messages to come back from the room).
  bool finish_senders(milliseconds limit) {
    set_feeding(false);
    for (auto& s : senders_) s->end_input();
    return drive(
        [this] {
          return std::all_of(senders_.begin(), senders_.end(), [](const auto& s) { return s->exit_code().has_value(); });
        },
        limit);
  }

 private:
  void feed() {
    for (auto& s : senders_) {
      if (!s->input_ended() && s->unacked() < max_unacked_lines) s->write_lines(lines_per_batch);
    }
  }

  std::vector<std::unique_ptr<json_client>> senders_;
  std::vector<std::unique_ptr<json_client>> listeners_;
  broker_process* broker_ = nullptr;
  bool feeding_ = false;
};

// ---------------------------------------------------------------------------
// The audit: what every client printed, checked against the guarantees.

struct client_numbers {
  std::string label;
  bool listener = false;  // else a sender
  std::size_t shown = 0;
  std::uint64_t lost = 0;
  std::size_t repeated_in_epoch = 0;      // a text shown twice within one epoch
  std::size_t repeated_across_epochs = 0;  // a text shown again in a later epoch
  std::size_t out_of_order = 0;           // a seq not above the previous one of its stream
  std::size_t silent_gaps = 0;            // seqs skipped with no lost report
  std::size_t acked_seen = 0;             // acked messages it showed (a sender: its own)
  std::size_t acked_reported_lost = 0;    // acked messages it did not show but reported lost
  std::size_t acked_in_crash_tail = 0;    // acked after all it heard of an abandoned epoch
  std::size_t acked_vanished = 0;         // acked messages neither shown nor reported
  int epoch_resets = 0;
};

struct audit_result {
  std::vector<client_numbers> clients;
  std::size_t seq_conflicts = 0;         // one (epoch, room, seq) carrying two texts
  std::size_t texts_published_twice = 0;  // a sender's text at two different (epoch, seq)
  std::vector<std::string> examples;     // the first problems, for failure messages

  [[nodiscard]] std::size_t sum(std::size_t client_numbers::*field) const {
    std::size_t total = 0;
    for (const auto& c : clients) total += c.*field;
    return total;
  }
  [[nodiscard]] std::uint64_t lost_total() const {
    std::uint64_t total = 0;
    for (const auto& c : clients) total += c.lost;
    return total;
  }
  [[nodiscard]] std::string problems() const {
    std::string all;
    for (const auto& e : examples) all += "\n  " + e;
    return all;
  }
};

class auditor {
 public:
  audit_result run(const scenario& s) {
    const auto listeners = s.listeners();
    for (auto* c : s.clients()) {
      audit_client(*c, std::find(listeners.begin(), listeners.end(), c) != listeners.end());
    }
    for (auto* sender : s.senders()) audit_acks(*sender);
    for (auto* c : s.clients()) audit_delivery(s, *c, result_.clients[index_of(*c, s)]);
    return std::move(result_);
  }

 private:
  // Keeps the first few problems of each kind.
  void problem(const std::string& kind, const std::string& text) {
    if (++problems_of_kind_[kind] <= 4) result_.examples.push_back(text);
  }

  static std::size_t index_of(const json_client& c, const scenario& s) {
    const auto all = s.clients();
    return static_cast<std::size_t>(std::find(all.begin(), all.end(), &c) - all.begin());
  }

  // Remembers that (epoch, room, seq) carried `text`; a different text there
  // is a seq used twice (or an ack that lied about its seq).
  void claim(int epoch, const std::string& room, std::uint64_t seq, const std::string& text, const std::string& who) {
    const auto [it, added] = seq_text_.try_emplace(std::make_tuple(epoch, room, seq), text);
    if (!added && it->second != text) {
      ++result_.seq_conflicts;
      problem("conflict", who + ": epoch#" + std::to_string(epoch) + " " + room + " seq " + std::to_string(seq) + " carries '" +
              text + "' but elsewhere '" + it->second + "'");
    }
    auto& places = text_places_[text];
    const auto place = std::make_tuple(epoch, room, seq);
    if (std::find(places.begin(), places.end(), place) == places.end()) {
      places.push_back(place);
      if (places.size() == 2) {
        ++result_.texts_published_twice;
        problem("twice", "'" + text + "' was published at two seqs (seen by " + who + ")");
      }
    }
  }

  void audit_client(const json_client& c, bool listener) {
    client_numbers n;
    n.label = c.label();
    n.listener = listener;
    n.shown = c.msgs().size();
    n.lost = c.lost_total();
    n.epoch_resets = c.epoch();
    for (const auto& [key, items] : c.streams()) {
      for (std::size_t i = 1; i < items.size(); ++i) {
        const auto& prev = items[i - 1];
        const auto& item = items[i];
        if (item.first <= prev.last) {
          ++n.out_of_order;
          problem("order", c.label() + ": epoch#" + std::to_string(key.first) + " " + key.second + " seq " +
                  std::to_string(item.first) + " after " + std::to_string(prev.last));
        } else if (item.first != prev.last + 1) {
          ++n.silent_gaps;
          problem("gap", c.label() + ": epoch#" + std::to_string(key.first) + " " + key.second + " seqs " +
                  std::to_string(prev.last + 1) + ".." + std::to_string(item.first - 1) +
                  " neither shown nor reported lost");
        }
      }
    }
    std::unordered_map<std::string, int> epoch_of_text;
    for (const auto& m : c.msgs()) {
      const auto [it, added] = epoch_of_text.try_emplace(m.text, m.epoch);
      if (!added) {
        if (it->second == m.epoch) {
          ++n.repeated_in_epoch;
          problem("repeat", c.label() + ": '" + m.text + "' shown twice in epoch#" + std::to_string(m.epoch));
        } else {
          ++n.repeated_across_epochs;
        }
      }
      claim(m.epoch, m.room, m.seq, m.text, c.label());
    }
    result_.clients.push_back(std::move(n));
  }

  void audit_acks(const json_client& sender) {
    for (const auto& [id, ack] : sender.acks()) {
      claim(ack.epoch, ack.room, ack.seq, sender.texts().at(id - 1), sender.label() + " (ack " + std::to_string(id) + ")");
    }
  }

  // A listener runs to the end and must account for every acked message; a
  // sender exits once its own are acked and shown, so only those count.
  void audit_delivery(const scenario& s, const json_client& c, client_numbers& n) {
    const auto senders = s.senders();
    const bool is_sender = std::find(senders.begin(), senders.end(), &c) != senders.end();
    for (auto* sender : senders) {
      if (is_sender && sender != &c) continue;
      for (const auto& [id, ack] : sender->acks()) {
        const std::string& text = sender->texts().at(id - 1);
        if (c.has_text(text)) {
          ++n.acked_seen;
        } else if (c.reported_lost(ack.epoch, ack.room, ack.seq)) {
          ++n.acked_reported_lost;
        } else if (in_abandoned_tail(c, ack.epoch, ack.room, ack.seq)) {
          ++n.acked_in_crash_tail;
        } else {
          ++n.acked_vanished;
          problem("vanished", c.label() + ": acked '" + text + "' (epoch#" + std::to_string(ack.epoch) + " seq " +
                  std::to_string(ack.seq) + ") neither shown nor reported lost");
        }
      }
    }
  }

  audit_result result_;
  std::map<std::string, std::size_t> problems_of_kind_;
  std::map<std::tuple<int, std::string, std::uint64_t>, std::string> seq_text_;
  std::unordered_map<std::string, std::vector<std::tuple<int, std::string, std::uint64_t>>> text_places_;
};

void report_audit(const scenario& s, const audit_result& a) {
  for (auto* sender : s.senders()) {
    report(sender->label() + ".written", sender->written());
    report(sender->label() + ".acked", sender->acks().size());
    report(sender->label() + ".exit", sender->exit_code() ? std::to_string(*sender->exit_code()) : "running");
  }
  for (const auto& n : a.clients) {
    std::ostringstream line;
    line << "shown " << n.shown << ", lost " << n.lost << ", epoch resets " << n.epoch_resets << ", repeated in epoch "
         << n.repeated_in_epoch << ", repeated across epochs " << n.repeated_across_epochs << ", out of order "
         << n.out_of_order << ", silent gaps " << n.silent_gaps << "; acked: seen " << n.acked_seen
         << ", reported lost " << n.acked_reported_lost << ", lost in the crash's tail "
         << n.acked_in_crash_tail << ", vanished " << n.acked_vanished;
    report(n.label, line.str());
  }
  report("seq_conflicts", a.seq_conflicts);
  report("texts_published_twice", a.texts_published_twice);
}

// The guarantees that hold whatever the fault: order and once per (epoch,
// room), gaps reported, no seq with two texts.
void expect_order_and_once(const audit_result& a) {
  EXPECT_EQ(a.sum(&client_numbers::out_of_order), 0U) << a.problems();
  EXPECT_EQ(a.sum(&client_numbers::repeated_in_epoch), 0U) << a.problems();
  EXPECT_EQ(a.sum(&client_numbers::silent_gaps), 0U) << a.problems();
  EXPECT_EQ(a.seq_conflicts, 0U) << a.problems();
}

// ---------------------------------------------------------------------------
// Reading the history directory the broker leaves behind (its format is in
// broker/src/log_format.md; records are read with the broker's own codec).

struct stored_msg {
  std::string room;
  std::uint64_t seq = 0;
  std::string text;
  std::string sender;
  std::optional<std::uint64_t> req;
};

// Every message record in the directory's segments, by room and seq.
std::vector<stored_msg> read_stored(const std::string& dir, std::string& error) {
  std::map<std::pair<std::string, std::uint64_t>, stored_msg> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".seg") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto header = broker::log::decode_header(bytes);
    if (!header) continue;
    broker::log::scan(std::string_view(bytes).substr(broker::log::header_size),
                      [&](const broker::log::record& r, std::size_t) {
                        const auto* m = std::get_if<broker::log::msg_record>(&r);
                        if (m == nullptr) return;
                        stored_msg s{std::string(m->room), m->seq, {}, std::string(m->name), std::nullopt};
                        if (m->id != 0) s.req = m->id;
                        const auto decoded = proto::decode_event(m->body);
                        if (const auto* e = std::get_if<proto::any_event>(&decoded)) {
                          if (const auto* msg = std::get_if<proto::event::msg>(e)) s.text = msg->text;
                        }
                        auto& slot = found[{s.room, s.seq}];
                        if (!slot.req) slot = std::move(s);  // a copy forward carries no origin
                      },
                      broker::log::seed_of(*header));
  }
  if (ec) error = "cannot list " + dir + ": " + ec.message();
  std::vector<stored_msg> out;
  for (auto& [key, m] : found) out.push_back(std::move(m));
  return out;
}

// Which acks a check is about: (sender, request id, ack).
using ack_filter = std::function<bool(const json_client&, std::uint64_t, const seen_ack&)>;

// How many of the acked messages that `wanted` selects the file holds at
// their acked seq, with the sender's name and request id; the first few
// missing ones in `missing`.
std::size_t acked_in_store(const scenario& s, const std::vector<stored_msg>& stored, std::vector<std::string>& missing,
                           const ack_filter& wanted) {
  std::unordered_map<std::string, const stored_msg*> by_text;
  for (const auto& m : stored) by_text[m.text] = &m;
  std::size_t found = 0;
  for (auto* sender : s.senders()) {
    for (const auto& [id, ack] : sender->acks()) {
      if (!wanted(*sender, id, ack)) continue;
      const std::string& text = sender->texts().at(id - 1);
      const auto it = by_text.find(text);
      if (it != by_text.end() && it->second->seq == ack.seq && it->second->room == ack.room &&
          it->second->sender == sender->label() && it->second->req == id) {
        ++found;
      } else if (missing.size() < 10) {
        missing.push_back(text + " (ack seq " + std::to_string(ack.seq) + ")" +
                          (it == by_text.end() ? " not stored" : " stored at seq " + std::to_string(it->second->seq)));
      }
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// Crash scenarios: three senders, two listeners, SIGKILL in the middle.

struct crash_outcome {
  audit_result audit;
  std::vector<stored_msg> stored;           // the file at the end
  std::vector<stored_msg> stored_at_kill;   // the file as the SIGKILL left it
  std::map<std::string, std::set<std::uint64_t>> acked_ids_at_kill;  // per sender
  std::string store_error;
  std::size_t acked_at_kill = 0;
  std::size_t written_at_kill = 0;
  std::uint64_t recovery_ms = 0;  // from the kill to the first ack of the next broker
};

// Messages acked before the kill, and after the restart before the senders
// stop: some hundreds each, a second or two of traffic.
constexpr std::size_t messages_before_kill = 1200;
constexpr std::size_t messages_after_restart = 900;
// Lines each sender gets just before the kill (at the burst's first ack).
constexpr std::size_t burst_at_kill = 1000;
// History kept per room where nothing may be reported lost: the whole run
// (a listener reconnecting after a cut may be far behind), and in the crash
// tests every acked message can be looked up in the file afterwards.
constexpr const char* whole_run_history = "100000";

// Runs the crash scenario; `durable` adds --durable. Fatal failures return early.
void run_crash(bool durable, const std::string& name, crash_outcome& outcome, scenario& s) {
  temp_db db(name);
  std::vector<std::string> args{"--heartbeat", fast_heartbeat, "--db",     db.path(),
                                "--history",   whole_run_history,  "--log-level", "info"};
  if (durable) args.emplace_back("--durable");
  auto broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  const std::string in = broker->in();
  const std::string out = broker->out();
  s.watch_log_of(broker.get());

  s.add_listener("listener-all", {"--all"}, in, out);
  s.add_listener("listener-lobby", {"--room", "lobby"}, in, out);
  ASSERT_TRUE(s.all_joined()) << "listeners did not start";
  for (const char* sender : {"s1", "s2", "s3"}) s.add_sender(sender, in, out);
  ASSERT_TRUE(s.all_joined()) << "senders did not join";

  const auto started = clock_type::now();
  s.set_feeding(true);
  ASSERT_TRUE(s.drive([&] { return s.acked() >= messages_before_kill; })) << "acked " << s.acked();
  // Kill in the middle of a burst: some of it acked, some published and not
  // acked yet, some still in the senders, in their pipes or on the wire.
  s.set_feeding(false);
  for (auto* sender : s.senders()) sender->write_lines(burst_at_kill);
  const std::size_t before_burst = s.acked();
  ASSERT_TRUE(s.drive([&] { return s.acked() > before_burst; }));
  broker->kill_hard();
  const auto killed = clock_type::now();
  s.watch_log_of(nullptr);
  for (auto* c : s.clients()) c->pump();  // acks already on their way are the dead broker's too
  outcome.acked_at_kill = s.acked();
  outcome.written_at_kill = s.written();
  for (auto* sender : s.senders()) {
    for (const auto& [id, ack] : sender->acks()) outcome.acked_ids_at_kill[sender->label()].insert(id);
  }
  outcome.stored_at_kill = read_stored(db.path(), outcome.store_error);
  s.set_feeding(true);  // senders keep writing into the outage (up to max_unacked_lines each)
  broker = std::make_unique<broker_process>(args, in, out);
  ASSERT_TRUE(broker->started()) << "the broker did not start again on " << in << " and " << out;
  s.watch_log_of(broker.get());
  ASSERT_TRUE(s.drive([&] { return s.acked() > outcome.acked_at_kill; })) << "no ack after the restart";
  outcome.recovery_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(clock_type::now() - killed).count());
  ASSERT_TRUE(s.drive([&] { return s.acked() >= outcome.acked_at_kill + messages_after_restart; }))
      << "acked " << s.acked() << " of " << s.written() << " after the restart";
  ASSERT_TRUE(s.finish_senders(step_patience)) << "senders did not finish";
  for (auto* sender : s.senders()) {
    EXPECT_EQ(sender->exit_code(), 0) << sender->label() << ": " << sender->stderr_text();
  }
  EXPECT_TRUE(s.drive([&] { return s.listeners_have_everything(); })) << "a listener misses acked messages";
  report("run_ms", static_cast<std::uint64_t>(
                       std::chrono::duration_cast<milliseconds>(clock_type::now() - started).count()));
  EXPECT_EQ(broker->stop(), 0) << broker->log();
  s.watch_log_of(nullptr);
  report_broker_log("restarted_broker.", broker->log());

  outcome.audit = auditor().run(s);
  outcome.stored = read_stored(db.path(), outcome.store_error);
}

void report_crash(const scenario& s, const crash_outcome& o) {
  report("acked_at_kill", o.acked_at_kill);
  report("written_at_kill", o.written_at_kill);
  report("recovery_ms", o.recovery_ms);
  report_audit(s, o.audit);
  report("stored_rows_at_kill", o.stored_at_kill.size());
  report("stored_rows_at_end", o.stored.size());
}

// Messages acked before the kill (as far as the test had read the senders'
// output when the broker was dead).
ack_filter acked_before_kill(const crash_outcome& o) {
  return [&o](const json_client& sender, std::uint64_t id, const seen_ack&) {
    const auto found = o.acked_ids_at_kill.find(sender.label());
    return found != o.acked_ids_at_kill.end() && found->second.contains(id);
  };
}

// What a broker killed with SIGKILL keeps, in either mode (PROTOCOL.md 8.2):
// the same epoch after the restart, nothing lost, nothing shown twice, every
// message acked before the kill in the directory the kill left, and at the
// end every acked message there at its seq with its sender and request id.
void expect_crash_loses_nothing(const scenario& s, const crash_outcome& o) {
  const auto& a = o.audit;
  expect_order_and_once(a);
  for (const auto& n : a.clients) {
    EXPECT_EQ(n.epoch_resets, 0) << n.label;
    EXPECT_EQ(n.lost, 0U) << n.label << a.problems();
    EXPECT_EQ(n.repeated_across_epochs, 0U) << n.label;
    EXPECT_EQ(n.acked_vanished, 0U) << n.label << a.problems();
    EXPECT_EQ(n.acked_reported_lost, 0U) << n.label;
    if (n.listener) {
      EXPECT_EQ(n.acked_seen, s.acked()) << n.label;
    }
  }
  // A retried message is de-duplicated across the restart, not published again.
  EXPECT_EQ(a.texts_published_twice, 0U) << a.problems();
  ASSERT_TRUE(o.store_error.empty()) << o.store_error;
  std::vector<std::string> missing;
  const std::size_t at_kill = acked_in_store(s, o.stored_at_kill, missing, acked_before_kill(o));
  report("acked_at_kill_in_file", at_kill);
  EXPECT_EQ(at_kill, o.acked_at_kill) << ::testing::PrintToString(missing);
  missing.clear();
  const std::size_t at_end = acked_in_store(s, o.stored, missing, [](auto&&...) { return true; });
  report("acked_in_file_at_end", at_end);
  EXPECT_EQ(at_end, s.acked()) << ::testing::PrintToString(missing);
}

TEST(fault, crash_durable) {
  scenario s;
  crash_outcome o;
  run_crash(true, "durable", o, s);
  if (HasFatalFailure()) return;
  report_crash(s, o);
  expect_crash_loses_nothing(s, o);
}

// The default mode writes each turn to the kernel before it publishes or
// acks it: a SIGKILL (or OOM kill) takes nothing back either.
TEST(fault, crash_default) {
  scenario s;
  crash_outcome o;
  run_crash(false, "default", o, s);
  if (HasFatalFailure()) return;
  report_crash(s, o);
  expect_crash_loses_nothing(s, o);
}

// ---------------------------------------------------------------------------
// Cut connections: every client reaches the broker through two forwarders
// (IN and OUT) that are cut twice: once briefly (sessions survive), once for
// longer than the liveness (the broker times the sessions out). The broker
// never restarts, so nothing may be lost and nothing published twice: a
// client resumes with its session token and its retried messages are acked
// with their original seqs.

constexpr const char* cut_heartbeat = "250";  // liveness 3 × 250 ms

TEST(fault, cut_connection) {
  broker_process broker({"--heartbeat", cut_heartbeat, "--db", ":memory:", "--history", whole_run_history,
                         "--log-level", "info"});
  ASSERT_TRUE(broker.started());
  tcp_forwarder in_cut(port_of(broker.in()));
  tcp_forwarder out_cut(port_of(broker.out()));
  scenario s;
  s.watch_log_of(&broker);
  // One listener straight to the broker: it sees the sessions time out.
  auto& direct = s.add_listener("listener-direct", {"--room", "lobby"}, broker.in(), broker.out());
  s.add_listener("listener-all", {"--all"}, in_cut.endpoint(), out_cut.endpoint());
  s.add_listener("listener-lobby", {"--room", "lobby"}, in_cut.endpoint(), out_cut.endpoint());
  ASSERT_TRUE(s.all_joined()) << "listeners did not start";
  for (const char* sender : {"s1", "s2", "s3"}) s.add_sender(sender, in_cut.endpoint(), out_cut.endpoint());
  ASSERT_TRUE(s.all_joined()) << "senders did not join";
  const auto timeouts = [&direct] {
    return std::count_if(direct.presence().begin(), direct.presence().end(),
                         [](const seen_presence& p) { return p.type == "leave" && p.reason == "timeout"; });
  };
  const auto started = clock_type::now();

  s.set_feeding(true);
  ASSERT_TRUE(s.drive([&] { return s.acked() >= 600; })) << "acked " << s.acked();
  // A short cut: reconnected within ZeroMQ's first reconnect interval.
  const std::size_t acked_before_short = s.acked();
  in_cut.stop();
  out_cut.stop();
  in_cut.start();
  out_cut.start();
  ASSERT_TRUE(s.drive([&] { return s.acked() >= acked_before_short + 600; }))
      << "acked " << s.acked() << " of " << s.written() << " after the short cut";
  const auto timeouts_after_short = timeouts();

  // A long cut: until the broker has timed out every sender's session.
  const std::size_t acked_before_long = s.acked();
  const auto long_cut = clock_type::now();
  in_cut.stop();
  out_cut.stop();
  ASSERT_TRUE(s.drive([&] { return timeouts() >= timeouts_after_short + 3; }))
      << "the broker did not time the senders out";
  const auto long_cut_ms = std::chrono::duration_cast<milliseconds>(clock_type::now() - long_cut).count();
  in_cut.start();
  out_cut.start();
  ASSERT_TRUE(s.drive([&] { return s.acked() >= acked_before_long + 600; }))
      << "acked " << s.acked() << " of " << s.written() << " after the long cut";

  ASSERT_TRUE(s.finish_senders(step_patience)) << "senders did not finish";
  for (auto* sender : s.senders()) EXPECT_EQ(sender->exit_code(), 0) << sender->label() << ": " << sender->stderr_text();
  EXPECT_TRUE(s.drive([&] { return s.listeners_have_everything(); })) << "a listener misses acked messages";
  report("run_ms", static_cast<std::uint64_t>(
                       std::chrono::duration_cast<milliseconds>(clock_type::now() - started).count()));
  report("acked_before_short_cut", acked_before_short);
  report("acked_before_long_cut", acked_before_long);
  report("long_cut_ms", static_cast<std::uint64_t>(long_cut_ms));
  report("session_timeouts_in_short_cut", static_cast<std::uint64_t>(timeouts_after_short));
  report("session_timeouts_total", static_cast<std::uint64_t>(timeouts()));
  report("connections_through_in", in_cut.accepted());
  report("connections_through_out", out_cut.accepted());
  EXPECT_EQ(broker.stop(), 0);
  s.watch_log_of(nullptr);
  report_broker_log("broker.", broker.log());

  const auto a = auditor().run(s);
  report_audit(s, a);
  expect_order_and_once(a);
  for (const auto& n : a.clients) {
    EXPECT_EQ(n.epoch_resets, 0) << n.label;
    EXPECT_EQ(n.lost, 0U) << n.label << a.problems();
    EXPECT_EQ(n.acked_vanished, 0U) << n.label << a.problems();
    if (n.listener) {
      EXPECT_EQ(n.acked_seen, s.acked()) << n.label;
    }
  }
  EXPECT_EQ(a.texts_published_twice, 0U) << "a retried message was published again" << a.problems();
}

// ---------------------------------------------------------------------------
// Stalled subscribers: while three senders flood a room, one raw SUB stops
// reading and one `listen` process is frozen (SIGSTOP: its ZeroMQ threads
// stop too, so TCP pushes back to the broker). A client-library connection
// in this process also stops being polled; its own I/O thread keeps reading
// into its SUB queue, so it costs this process memory, not the broker.
// The broker's memory must stay bounded by its --pub-hwm and its history;
// the stalled clients, resumed, must recover from history or report exactly
// what history no longer holds.

constexpr int flood_senders = 3;
constexpr std::size_t flood_messages = 10000;  // per sender
constexpr std::size_t flood_text_bytes = 1024;
constexpr std::size_t stall_pub_hwm = 1000;
constexpr std::size_t stall_history = 5000;

// The text of message `k` of flood sender `i`: unique, exactly 1 KiB.
std::string flood_text(int sender, std::size_t k) {
  char head[32];
  std::snprintf(head, sizeof head, "p%d-%06zu-", sender, k);
  std::string text(head);
  text.resize(flood_text_bytes, 'x');
  return text;
}

struct flood_sender {
  std::map<std::uint64_t, std::uint64_t> seq_of_id;  // acks
  std::string error;
};

// Joins as `name` following an idle room and sends the flood to "bulk" as
// fast as the client's send window allows; returns when all are acked.
void flood(zmq::context_t& context, const std::string& in, const std::string& out, int index, flood_sender& result) {
  client::options opts;
  opts.in_endpoint = in;
  opts.out_endpoint = out;
  opts.name = "p" + std::to_string(index);
  opts.rooms = {"quiet"};  // so the senders do not read the flood themselves
  client::connection conn(context, opts);
  const auto end = clock_type::now() + std::chrono::seconds(90);  // generous: a sanitizer build on a loaded machine takes ~20 s
  while (!conn.joined() && clock_type::now() < end) {
    conn.wait(milliseconds(20));
    while (conn.next_event()) {
    }
  }
  if (!conn.joined()) {
    result.error = opts.name + " did not join";
    return;
  }
  for (std::size_t k = 1; k <= flood_messages; ++k) conn.send(flood_text(index, k), "bulk");
  while ((conn.unacked() > 0 || result.seq_of_id.size() < flood_messages) && clock_type::now() < end) {
    conn.wait(milliseconds(20));
    while (auto e = conn.next_event()) {
      if (const auto* ack = std::get_if<client::ack_event>(&*e)) result.seq_of_id[ack->id] = ack->seq.value_or(0);
      if (const auto* error = std::get_if<client::error_event>(&*e)) result.error = error->code + ": " + error->reason;
    }
  }
  if (result.seq_of_id.size() < flood_messages) result.error += " only " + std::to_string(result.seq_of_id.size()) + " acked";
  conn.leave();
}

// What a stalled client showed of room "bulk": stream items and texts by seq.
struct bulk_view {
  std::vector<stream_item> items;
  std::map<std::uint64_t, std::string> texts;
  [[nodiscard]] std::uint64_t last() const { return items.empty() ? 0 : items.back().last; }
  [[nodiscard]] std::uint64_t lost() const {
    std::uint64_t n = 0;
    for (const auto& i : items) n += i.lost ? i.last - i.first + 1 : 0;
    return n;
  }
};

// Checks a stalled client's view against the acked flood: every seq from 1
// to `last` shown or reported lost, in order, each once, with the text that
// was acked at it; every seq history still keeps was shown.
void expect_recovered(const std::string& who, const bulk_view& view, const std::map<std::uint64_t, std::string>& acked_text,
                      std::uint64_t last) {
  std::uint64_t next = 1;
  std::size_t problems = 0;
  for (const auto& item : view.items) {
    if (item.first != next && ++problems <= 5) {
      ADD_FAILURE() << who << ": expected seq " << next << ", got " << item.first << (item.lost ? " (lost)" : "");
    }
    next = item.last + 1;
  }
  EXPECT_EQ(next, last + 1) << who << " stopped at " << next - 1;
  EXPECT_EQ(view.texts.size() + view.lost(), last) << who;
  for (const auto& [seq, text] : view.texts) {
    const auto acked = acked_text.find(seq);
    if (acked == acked_text.end() || acked->second != text) {
      if (++problems <= 10) ADD_FAILURE() << who << ": seq " << seq << " shows '" << text.substr(0, 12) << "…'";
    }
  }
  for (std::uint64_t seq = last > stall_history ? last - stall_history + 1 : 1; seq <= last; ++seq) {
    if (!view.texts.contains(seq) && ++problems <= 15) ADD_FAILURE() << who << ": seq " << seq << " is in history but not shown";
  }
}

TEST(fault, stalled_subscriber_memory) {
  broker_process broker({"--heartbeat", fast_heartbeat, "--pub-hwm", std::to_string(stall_pub_hwm), "--db", ":memory:",
                         "--history", std::to_string(stall_history), "--log-level", "warn"});
  ASSERT_TRUE(broker.started());
  zmq::context_t context;

  // The raw SUB: reads nothing after the warm-up; a queue of one message.
  zmq::socket_t raw(context, zmq::socket_type::sub);
  raw.set(zmq::sockopt::rcvhwm, 1);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::subscribe, "");
  raw.connect(broker.out());
  // The listener to freeze, and the library connection to stop polling.
  json_client frozen("listener-frozen", {"listen", "--room", "bulk"}, broker.in(), broker.out());
  client::options lib_opts;
  lib_opts.in_endpoint = broker.in();
  lib_opts.out_endpoint = broker.out();
  lib_opts.rooms = {"bulk"};
  client::connection lib(context, lib_opts);
  bulk_view lib_view;
  const auto poll_lib = [&] {
    lib.wait(milliseconds(2));
    while (auto e = lib.next_event()) {
      if (auto* m = std::get_if<client::message_event>(&*e)) {
        lib_view.items.push_back({m->seq, m->seq, false});
        lib_view.texts[m->seq] = m->text;
      } else if (auto* l = std::get_if<client::lost_event>(&*e)) {
        lib_view.items.push_back({l->first_seq, l->first_seq + l->count - 1, true});
      }
    }
  };

  // Warm-up: one message in "bulk" that every stalled client has seen, so
  // each one's stream starts at seq 1.
  ASSERT_TRUE(eventually([&] {
    frozen.pump();
    poll_lib();
    return frozen.status_count("joined") > 0 && lib.ever_connected();
  })) << "listeners did not start";
  process warm({binary, "send", "--name", "warm", "--room", "bulk", "--in", broker.in(), "--out", broker.out(), "warm-up"});
  ASSERT_EQ(warm.wait(), 0) << warm.err();
  ASSERT_TRUE(eventually([&] {
    frozen.pump();
    poll_lib();
    return frozen.has_text("warm-up") && lib_view.texts.size() == 1;
  })) << "the warm-up message did not arrive";
  ASSERT_TRUE(eventually([&] {
    zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, milliseconds(5)) == 0) return false;
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(raw, std::back_inserter(frames));
    return frames.size() == 2 && frames[0].to_string_view() == "room/bulk/";
  })) << "the raw SUB did not get the warm-up message";

  (void)broker.log();
  const memory_kib baseline = memory_of(broker.pid());
  frozen.signal(SIGSTOP);

  std::vector<flood_sender> results(flood_senders);
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  const auto flood_start = clock_type::now();
  for (int i = 0; i < flood_senders; ++i) {
    threads.emplace_back([&, i] {
      flood(context, broker.in(), broker.out(), i + 1, results[static_cast<std::size_t>(i)]);
      ++done;
    });
  }
  std::uint64_t peak_rss = 0;
  const bool flooded = eventually(
      [&] {
        peak_rss = std::max(peak_rss, memory_of(broker.pid()).rss);
        (void)broker.log();
        return done == flood_senders;
      },
      std::chrono::seconds(100), milliseconds(10));
  for (auto& t : threads) t.join();
  const auto flood_ms = std::chrono::duration_cast<milliseconds>(clock_type::now() - flood_start).count();
  const memory_kib after = memory_of(broker.pid());
  ASSERT_TRUE(flooded);
  std::map<std::uint64_t, std::string> acked_text{{1, "warm-up"}};
  for (int i = 0; i < flood_senders; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    EXPECT_TRUE(r.error.empty()) << "p" << i + 1 << ": " << r.error;
    for (const auto& [id, seq] : r.seq_of_id) acked_text[seq] = flood_text(i + 1, id);
  }
  const std::uint64_t last = flood_senders * flood_messages + 1;
  ASSERT_EQ(acked_text.size(), last) << "acks do not cover seqs 1.." << last;
  ASSERT_EQ(acked_text.rbegin()->first, last);

  // The bound. A subscriber that falls behind holds at most --pub-hwm
  // messages in the broker (past that ZeroMQ drops for it alone): count
  // each as a full frame plus ZeroMQ's and malloc's overhead (256 B), for
  // three such subscribers (the raw SUB, the frozen listener, and the
  // unpolled library connection, whose I/O thread is shared with the
  // senders here and may fall behind too). History holds --history bodies
  // of the room plus their index (the same 256 B each). Add the senders'
  // requests in flight (3 x 256-message window) and 16 MiB for allocator
  // arenas and fragmentation. Measured on a 2-core machine: ~8 MiB at
  // rest, ~18 MiB peak; without the HWM one stalled subscriber alone would
  // add ~25 MiB (30 MiB of flood less what the TCP buffers hold).
  const std::uint64_t frame = flood_text_bytes + 64;  // text + the msg body's other keys
  const std::uint64_t per_message = frame + 256;
  const std::uint64_t queues = 3 * stall_pub_hwm * per_message;
  const std::uint64_t history = stall_history * per_message;
  const std::uint64_t in_flight = 3 * 256 * per_message;
  const std::uint64_t slack = 16 << 20;
  const std::uint64_t bound_kib = baseline.rss + (queues + history + in_flight + slack) / 1024;
  report("flood_messages", last - 1);
  report("flood_ms", static_cast<std::uint64_t>(flood_ms));
  report("broker_rss_baseline_kib", baseline.rss);
  report("broker_rss_peak_sampled_kib", peak_rss);
  report("broker_vmhwm_kib", after.hwm);
  report("broker_rss_after_kib", after.rss);
  report("broker_rss_bound_kib", bound_kib);
#ifndef BCAST_SANITIZED
  EXPECT_LE(after.hwm, bound_kib) << "the broker's peak memory exceeds what --pub-hwm and --history allow";
#endif

  // The raw SUB missed messages: the broker dropped for it, not queued.
  std::uint64_t raw_got = 0;
  const std::uint64_t flood_end_wall = static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ASSERT_TRUE(eventually([&] {
    zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, milliseconds(5)) > 0) {
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(raw, std::back_inserter(frames));
      if (frames.size() != 2) continue;
      if (frames[0].to_string_view() == "room/bulk/") {
        const auto batch = proto::split_batch(frames[1].to_string_view());
        raw_got += batch ? batch->size() : 1;
        continue;
      }
      auto decoded = proto::decode_event(frames[1].to_string_view());
      const auto* e = std::get_if<proto::any_event>(&decoded);
      const auto* hb = e ? std::get_if<proto::event::hb>(e) : nullptr;
      if (hb != nullptr && hb->ts > flood_end_wall) return true;  // everything before it has arrived
    }
    return false;
  })) << "no heartbeat after the flood on the raw SUB";
  report("raw_sub_received", raw_got);
  EXPECT_LT(raw_got, last - 1) << "the raw SUB missed nothing: it did not stall the broker";

  // Resume the frozen listener and poll the library connection again.
  frozen.signal(SIGCONT);
  const auto view_of = [](const json_client& c) {
    bulk_view v;
    const auto found = c.streams().find({0, "bulk"});
    if (found != c.streams().end()) v.items = found->second;
    for (const auto& m : c.msgs()) v.texts[m.seq] = m.text;
    return v;
  };
  const auto last_of = [](const json_client& c) {
    const auto found = c.streams().find({0, "bulk"});
    return found == c.streams().end() || found->second.empty() ? 0 : found->second.back().last;
  };
  const auto resumed = clock_type::now();
  std::uint64_t frozen_ms = 0, lib_ms = 0;
  const auto since_resumed = [&resumed] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(clock_type::now() - resumed).count());
  };
  EXPECT_TRUE(eventually([&] {
    if (last_of(frozen) < last) {
      frozen.pump();
      if (last_of(frozen) >= last) frozen_ms = since_resumed();
    }
    if (lib_view.last() < last) {
      poll_lib();
      if (lib_view.last() >= last) lib_ms = since_resumed();
    }
    return last_of(frozen) >= last && lib_view.last() >= last;
  }, std::chrono::seconds(60), milliseconds(1)))
      << "frozen listener at " << last_of(frozen) << ", library client at " << lib_view.last() << " of " << last;
  report("listener_frozen.recovery_ms", frozen_ms);
  report("library_client.recovery_ms", lib_ms);
  const auto frozen_view = view_of(frozen);
  report("listener_frozen.shown", frozen_view.texts.size());
  report("listener_frozen.lost", frozen_view.lost());
  report("library_client.shown", lib_view.texts.size());
  report("library_client.lost", lib_view.lost());
  expect_recovered("listener-frozen", frozen_view, acked_text, last);
  expect_recovered("library client", lib_view, acked_text, last);
  EXPECT_EQ(frozen.epoch(), 0);
  EXPECT_EQ(broker.stop(), 0);
}

// ---------------------------------------------------------------------------
// A full disk (a 4 MiB tmpfs, filled by another file; needs root to mount,
// skipped otherwise): the broker refuses new messages with `unavailable`
// instead of acknowledging what it cannot store, keeps its heartbeats and
// its other answers going, takes messages again by itself once space
// returns, and after a `kill -9` still has every message it acknowledged.

std::uint64_t history_epoch(zmq::context_t& context, broker_process& broker) {
  raw_peer peer(context, broker.in(), broker.out());
  peer.send(proto::request::history{"lobby", 0, 0, 1});
  return peer.expect<proto::event::history>().epoch;
}

TEST(fault, disk_full) {
  namespace fs = std::filesystem;
  const fs::path small = ::testing::TempDir() + "bcast-fault-full-" + std::to_string(::getpid());
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=4m") != 0) {
    fs::remove(small);
    GTEST_SKIP() << "cannot mount a tmpfs to fill (" << std::strerror(errno) << "): needs root";
  }
  struct unmount {
    fs::path at;
    ~unmount() {
      ::umount2(at.c_str(), MNT_DETACH);
      fs::remove(at);
    }
  } unmount_at_end{small};
  const std::string db = (small / "rooms").string();
  const std::vector<std::string> args{"--heartbeat", fast_heartbeat, "--db",        db,
                                      "--max-frame", "4096",         "--max-text", "2048"};
  auto broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  zmq::context_t context;
  raw_peer alice(context, broker->in(), broker->out());
  alice.join("alice");
  std::uint64_t id = 0;
  const auto send_one = [&] {
    alice.send(proto::request::msg{std::string(2000, 'a'), "lobby", ++id});
    return alice.reply();
  };
  // Fill the disk but for a little, then send until the broker refuses.
  {
    std::ofstream filler(small / "filler", std::ios::binary);
    const std::string chunk(64 << 10, 'f');
    while (fs::space(small).available > (std::uintmax_t{600} << 10) && filler.write(chunk.data(), chunk.size())) {
    }
  }
  std::uint64_t acked = 0;
  std::optional<proto::event::error> refused;
  for (int i = 0; i < 2000 && !refused; ++i) {
    const auto answer = send_one();
    ASSERT_TRUE(answer.has_value()) << "no answer to message " << id;
    if (const auto* ack = std::get_if<proto::event::ack>(&*answer)) {
      acked = ack->seq.value_or(0);
    } else if (const auto* e = std::get_if<proto::event::error>(&*answer)) {
      ASSERT_EQ(e->code, "unavailable") << e->reason;
      refused = *e;
    }
  }
  ASSERT_TRUE(refused) << "the broker never refused a message on a full disk";
  report("acked_before_full", acked);
  EXPECT_EQ(refused->id, std::optional<std::uint64_t>(id)) << "the refusal names the message";
  // Full, it still answers other requests, and a newcomer still joins.
  alice.send(proto::request::ping{9});
  EXPECT_TRUE(alice.reply().has_value());
  raw_peer carol(context, broker->in(), broker->out());
  EXPECT_EQ(carol.join("carol").epoch, history_epoch(context, *broker));
  EXPECT_NE(broker->log().find("the disk is full"), std::string::npos);
  // Space returns: taken again within a heartbeat or two.
  fs::remove(small / "filler");
  bool accepted = false;
  for (const auto deadline = clock_type::now() + step_patience; !accepted && clock_type::now() < deadline;) {
    const auto answer = send_one();
    if (answer && std::holds_alternative<proto::event::ack>(*answer)) {
      accepted = true;
      acked = std::get<proto::event::ack>(*answer).seq.value_or(0);
    }
  }
  ASSERT_TRUE(accepted) << "messages were not accepted again after space returned";
  EXPECT_NE(broker->log().find("disk space is back"), std::string::npos);
  broker->kill_hard();
  broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  raw_peer bob(context, broker->in(), broker->out());
  bob.send(proto::request::history{"lobby", 0, proto::max_history_limit, 1});
  const auto history = bob.expect<proto::event::history>();
  report("history_after_kill", history.last);
  EXPECT_EQ(history.last, acked);
  EXPECT_EQ(broker->stop(), 0);
}

// ---------------------------------------------------------------------------
// An upgrade: the history file an earlier version kept (SQLite, schema 1) is
// converted at the first start, with its epoch and seqs, whether it sits at
// the old default place (converted beside it, into the default directory) or
// is given as --db (converted in place; the file is kept as FILE.sqlite).

void write_sqlite_history(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL,
      ts INTEGER NOT NULL, body BLOB NOT NULL, token TEXT, sender TEXT, req INTEGER);
    INSERT INTO meta VALUES ('schema', 1), ('epoch', 1700000000123), ('sys_seq', 4), ('clean', 1);
    INSERT INTO rooms VALUES ('lobby', 2);)sql", nullptr, nullptr, &error);
  ASSERT_EQ(rc, SQLITE_OK) << error;
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO messages(room, seq, ts, body) VALUES ('lobby', ?1, 1, ?2)", -1, &insert,
                     nullptr);
  for (std::uint64_t seq = 1; seq <= 2; ++seq) {
    const std::string body =
        proto::encode(proto::any_event{proto::event::msg{1700000000123, seq, 1, "lobby", "old", "text " + std::to_string(seq)}});
    sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(seq));
    sqlite3_bind_blob(insert, 2, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
}

TEST(fault, upgrade_from_sqlite_history) {
  namespace fs = std::filesystem;
  temp_db root("upgrade");
  const fs::path state = fs::path(root.path()) / "state";
  fs::create_directories(state / "broadcast-server");
  write_sqlite_history((state / "broadcast-server" / "history.db").string());
  const std::string explicit_file = (fs::path(root.path()) / "chat.db").string();
  write_sqlite_history(explicit_file);
  zmq::context_t context;
  const auto check = [&](broker_process& broker, const std::string& what) {
    ASSERT_TRUE(broker.started()) << what << ": " << broker.log();
    raw_peer peer(context, broker.in(), broker.out());
    peer.send(proto::request::history{"lobby", 0, proto::max_history_limit, 1});
    const auto history = peer.expect<proto::event::history>();
    EXPECT_EQ(history.epoch, 1700000000123U) << what;
    EXPECT_EQ(history.last, 2U) << what;
    ASSERT_EQ(history.msgs.size(), 2U) << what;
    EXPECT_EQ(history.msgs[1].text, "text 2") << what;
    EXPECT_NE(broker.log().find("converted"), std::string::npos) << what << ": " << broker.log();
    EXPECT_EQ(broker.stop(), 0) << what;
  };
  {
    broker_process broker({"--log-level", "info"}, "0", "0", {"XDG_STATE_HOME=" + state.string()});
    check(broker, "the default place");
  }
  EXPECT_TRUE(fs::is_directory(state / "broadcast-server" / "rooms"));
  EXPECT_TRUE(fs::is_regular_file(state / "broadcast-server" / "history.db"));
  {
    broker_process broker({"--db", explicit_file, "--log-level", "info"});
    check(broker, "--db FILE");
  }
  EXPECT_TRUE(fs::is_directory(explicit_file));
  EXPECT_TRUE(fs::is_regular_file(explicit_file + ".sqlite"));
}

// ---------------------------------------------------------------------------
// A clean restart (SIGTERM, then the same --db): history answers the same
// messages with the same seqs in the same epoch, and a client that stayed
// connected across the restart carries on with no reset and no repeat.

proto::event::history ask_history(zmq::context_t& context, const std::string& in, const std::string& out) {
  raw_peer peer(context, in, out);
  peer.send(proto::request::history{"lobby", 0, proto::max_history_limit, 1});
  return peer.expect<proto::event::history>();
}

TEST(fault, restart_clean) {
  temp_db db("clean");
  const std::vector<std::string> args{"--heartbeat", fast_heartbeat, "--db", db.path(), "--log-level", "info"};
  auto broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  const std::string in = broker->in();
  const std::string out = broker->out();
  zmq::context_t context;
  scenario s;
  s.watch_log_of(broker.get());
  auto& across = s.add_listener("listener-across", {"--room", "lobby"}, in, out);
  ASSERT_TRUE(s.all_joined());
  auto& stayer = s.add_sender("stayer", in, out);
  auto& once = s.add_sender("once", in, out);
  ASSERT_TRUE(s.all_joined());

  once.write_lines(300);
  stayer.write_lines(100);
  once.end_input();
  ASSERT_TRUE(s.drive([&] { return once.exit_code().has_value() && stayer.unacked() == 0; }));
  EXPECT_EQ(once.exit_code(), 0) << once.stderr_text();
  ASSERT_TRUE(s.drive([&] { return s.listeners_have_everything(); }));
  const auto before = ask_history(context, in, out);
  ASSERT_EQ(before.msgs.size(), 400U);

  ASSERT_EQ(broker->stop(), 0) << broker->log();
  s.watch_log_of(nullptr);
  ASSERT_TRUE(s.drive([&] { return stayer.status_count("server-shutdown") > 0; }));
  broker = std::make_unique<broker_process>(args, in, out);
  ASSERT_TRUE(broker->started());
  s.watch_log_of(broker.get());
  const auto after = ask_history(context, in, out);
  report("epoch_before", before.epoch);
  report("epoch_after", after.epoch);
  report("history_before", before.msgs.size());
  report("history_after", after.msgs.size());
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.first, before.first);
  EXPECT_EQ(after.last, before.last);
  EXPECT_TRUE(after.msgs == before.msgs) << "history differs after the restart";

  // The stayer goes on; a newcomer asks for the backlog.
  stayer.write_lines(100);
  auto& late = s.add_follower("late", {"connect", "--name", "late", "--history", "1000"}, in, out);
  ASSERT_TRUE(s.drive([&] { return stayer.unacked() == 0 && s.listeners_have_everything(); }));
  stayer.end_input();
  late.end_input();
  ASSERT_TRUE(s.drive([&] { return stayer.exit_code().has_value() && late.exit_code().has_value(); }));
  EXPECT_EQ(stayer.exit_code(), 0) << stayer.stderr_text();
  EXPECT_EQ(late.exit_code(), 0) << late.stderr_text();
  EXPECT_EQ(broker->stop(), 0);
  s.watch_log_of(nullptr);

  const auto a = auditor().run(s);
  report_audit(s, a);
  expect_order_and_once(a);
  EXPECT_EQ(a.texts_published_twice, 0U) << a.problems();
  for (const auto& n : a.clients) {
    EXPECT_EQ(n.epoch_resets, 0) << n.label;
    EXPECT_EQ(n.lost, 0U) << n.label;
    EXPECT_EQ(n.acked_vanished, 0U) << n.label << a.problems();
  }
  // Across the restart the stream is one: seqs go on from the last before it.
  for (const json_client* c : {&across, &stayer}) {
    ASSERT_FALSE(c->msgs().empty());
    EXPECT_EQ(c->msgs().back().seq, before.last + 100) << c->label();
    EXPECT_EQ(c->status_count("epoch-reset"), 0) << c->label();
  }
  // The newcomer's backlog: the same seqs with the same texts as before.
  std::map<std::uint64_t, std::string> late_texts;
  for (const auto& m : late.msgs()) late_texts[m.seq] = m.text;
  for (const auto& m : before.msgs) EXPECT_EQ(late_texts[m.seq], m.text) << "seq " << m.seq;
  EXPECT_EQ(late_texts.size(), before.msgs.size() + 100);
}

}  // namespace
}  // namespace bcast::test
