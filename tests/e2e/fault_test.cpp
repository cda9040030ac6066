// Fault tests of the built binary: a broker killed with SIGKILL (durable and
// default mode), connections cut under load by a TCP forwarder, subscribers
// that stop reading while senders flood, a full disk, an upgrade from an
// earlier history file, and a clean restart on the same history file.
// Senders and listeners are real `connect --json` and `listen --json`
// processes (the flood uses client-library connections), the broker is
// always the real `broadcast-server start`. Every test prints what it
// measured (sent, acked, seen, lost, duplicates, memory) and then checks the
// guarantees the README and PROTOCOL.md give: per room and epoch every seq
// shown once and in order, every gap reported, no seq carrying two texts,
// every acknowledged message delivered or reported lost.
// This file owns the scenarios; the harness they are told with lives in
// tests/support/: the broker process (broker_process.*), the clients
// (json_client.*), the loop that drives them (scenario.*), the audit of what
// they printed (audit.*), the history directory left behind
// (stored_history.*), the flood of a room and its subscribers' views
// (bulk_flood.*), the forwarder (tcp_forwarder.*).
// BCAST_FAULT_TRACE=1 prints every line the clients print to stderr.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "audit.hpp"
#include "bcast/proto/codec.hpp"
#include "broker_process.hpp"
#include "bulk_flood.hpp"
#include "deadline.hpp"
#include "raw_peer.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "stored_history.hpp"
#include "tcp_forwarder.hpp"

namespace bcast::test {
namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// Heartbeats in the crash tests: clients notice a dead broker after
// 3 × 200 ms and retry unacked messages every 400 ms, well above the
// scheduling noise of a loaded 2-core machine.
constexpr const char* fast_heartbeat = "200";

// What no fault may cost when the broker keeps its epoch: no reset, nothing
// lost, no acked message vanished.
void expect_nothing_lost(const audit_result& a) {
  for (const auto& n : a.clients) {
    EXPECT_EQ(n.epoch_resets, 0) << n.label;
    EXPECT_EQ(n.lost, 0U) << n.label << a.problems();
    EXPECT_EQ(n.acked_vanished, 0U) << n.label << a.problems();
  }
}

// Every listener showed every acked message.
void expect_listeners_saw_every_ack(const scenario& s, const audit_result& a) {
  for (const auto& n : a.clients) {
    if (n.listener) {
      EXPECT_EQ(n.acked_seen, s.acked()) << n.label;
    }
  }
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

// The crowd of the crash and cut scenarios, through `in` and `out`:
// listeners of every room and of the lobby, then senders s1, s2 and s3,
// each joined.
void join_crowd(scenario& s, const std::string& in, const std::string& out) {
  s.add_listener("listener-all", {"--all"}, in, out);
  s.add_listener("listener-lobby", {"--room", "lobby"}, in, out);
  ASSERT_TRUE(s.all_joined()) << "listeners did not start";
  for (const char* sender : {"s1", "s2", "s3"}) s.add_sender(sender, in, out);
  ASSERT_TRUE(s.all_joined()) << "senders did not join";
}

// The senders' input ends; each must exit cleanly, and every listener must
// account for every acked message. Reports the run's length since `started`.
void finish_crowd(scenario& s, clock_type::time_point started) {
  ASSERT_TRUE(s.finish_senders(step_patience)) << "senders did not finish";
  for (auto* sender : s.senders()) {
    EXPECT_EQ(sender->exit_code(), 0) << sender->label() << ": " << sender->stderr_text();
  }
  EXPECT_TRUE(s.drive([&] { return s.listeners_have_everything(); })) << "a listener misses acked messages";
  report("run_ms", ms_since(started));
}

// Kills the broker in the middle of a burst: some of it acked, some
// published and not acked yet, some still in the senders, in their pipes or
// on the wire. Records in `outcome` what was acked and what the history
// directory `db` holds as the kill left it; `killed` is when.
void kill_mid_burst(scenario& s, broker_process& broker, const std::string& db, crash_outcome& outcome,
                    clock_type::time_point& killed) {
  s.set_feeding(false);
  for (auto* sender : s.senders()) sender->write_lines(burst_at_kill);
  const std::size_t before_burst = s.acked();
  ASSERT_TRUE(s.drive([&] { return s.acked() > before_burst; }));
  broker.kill_hard();
  killed = clock_type::now();
  s.watch_log_of(nullptr);
  for (auto* c : s.clients()) c->pump();  // acks already on their way are the dead broker's too
  outcome.acked_at_kill = s.acked();
  outcome.written_at_kill = s.written();
  for (auto* sender : s.senders()) {
    for (const auto& [id, ack] : sender->acks()) outcome.acked_ids_at_kill[sender->label()].insert(id);
  }
  outcome.stored_at_kill = read_stored(db, outcome.store_error);
}

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
  join_crowd(s, in, out);
  if (::testing::Test::HasFatalFailure()) return;

  const auto started = clock_type::now();
  s.set_feeding(true);
  ASSERT_TRUE(s.drive([&] { return s.acked() >= messages_before_kill; })) << "acked " << s.acked();
  clock_type::time_point killed;
  kill_mid_burst(s, *broker, db.path(), outcome, killed);
  if (::testing::Test::HasFatalFailure()) return;
  s.set_feeding(true);  // senders keep writing into the outage (up to max_unacked_lines each)
  broker = std::make_unique<broker_process>(args, in, out);
  ASSERT_TRUE(broker->started()) << "the broker did not start again on " << in << " and " << out;
  s.watch_log_of(broker.get());
  ASSERT_TRUE(s.drive([&] { return s.acked() > outcome.acked_at_kill; })) << "no ack after the restart";
  outcome.recovery_ms = ms_since(killed);
  ASSERT_TRUE(s.drive([&] { return s.acked() >= outcome.acked_at_kill + messages_after_restart; }))
      << "acked " << s.acked() << " of " << s.written() << " after the restart";
  finish_crowd(s, started);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(broker->stop(), 0) << broker->log();
  s.watch_log_of(nullptr);
  report_broker_log("restarted_broker.", broker->log());

  outcome.audit = audit(s);
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
  expect_nothing_lost(a);
  expect_listeners_saw_every_ack(s, a);
  for (const auto& n : a.clients) {
    EXPECT_EQ(n.repeated_across_epochs, 0U) << n.label;
    EXPECT_EQ(n.acked_reported_lost, 0U) << n.label;
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

// The crash scenario in one mode, reported and checked.
void crash_and_check(bool durable, const std::string& name) {
  scenario s;
  crash_outcome o;
  run_crash(durable, name, o, s);
  if (::testing::Test::HasFatalFailure()) return;
  report_crash(s, o);
  expect_crash_loses_nothing(s, o);
}

TEST(fault, crash_durable) { crash_and_check(true, "durable"); }

// The default mode writes each turn to the kernel before it publishes or
// acks it: a SIGKILL (or OOM kill) takes nothing back either.
TEST(fault, crash_default) { crash_and_check(false, "default"); }

// ---------------------------------------------------------------------------
// Cut connections: every client reaches the broker through two forwarders
// (IN and OUT) that are cut twice: once briefly (sessions survive), once for
// longer than the liveness (the broker times the sessions out). The broker
// never restarts, so nothing may be lost and nothing published twice: a
// client resumes with its session token and its retried messages are acked
// with their original seqs.

constexpr const char* cut_heartbeat = "250";  // liveness 3 × 250 ms

// The IN and OUT forwarders, cut and mended together.
struct cut_pair {
  tcp_forwarder in;
  tcp_forwarder out;

  void cut() {
    in.stop();
    out.stop();
  }
  void mend() {
    in.start();
    out.start();
  }
};

TEST(fault, cut_connection) {
  broker_process broker({"--heartbeat", cut_heartbeat, "--db", ":memory:", "--history", whole_run_history,
                         "--log-level", "info"});
  ASSERT_TRUE(broker.started());
  cut_pair link{tcp_forwarder(port_of(broker.in())), tcp_forwarder(port_of(broker.out()))};
  scenario s;
  s.watch_log_of(&broker);
  // One listener straight to the broker: it sees the sessions time out.
  auto& direct = s.add_listener("listener-direct", {"--room", "lobby"}, broker.in(), broker.out());
  join_crowd(s, link.in.endpoint(), link.out.endpoint());
  if (HasFatalFailure()) return;
  const auto timeouts = [&direct] {
    return std::count_if(direct.presence().begin(), direct.presence().end(),
                         [](const seen_presence& p) { return p.type == "leave" && p.reason == "timeout"; });
  };
  const auto started = clock_type::now();

  s.set_feeding(true);
  ASSERT_TRUE(s.drive([&] { return s.acked() >= 600; })) << "acked " << s.acked();
  // A short cut: reconnected within ZeroMQ's first reconnect interval.
  const std::size_t acked_before_short = s.acked();
  link.cut();
  link.mend();
  ASSERT_TRUE(s.drive([&] { return s.acked() >= acked_before_short + 600; }))
      << "acked " << s.acked() << " of " << s.written() << " after the short cut";
  const auto timeouts_after_short = timeouts();

  // A long cut: until the broker has timed out every sender's session.
  const std::size_t acked_before_long = s.acked();
  const auto long_cut = clock_type::now();
  link.cut();
  ASSERT_TRUE(s.drive([&] { return timeouts() >= timeouts_after_short + 3; }))
      << "the broker did not time the senders out";
  const auto long_cut_ms = ms_since(long_cut);
  link.mend();
  ASSERT_TRUE(s.drive([&] { return s.acked() >= acked_before_long + 600; }))
      << "acked " << s.acked() << " of " << s.written() << " after the long cut";

  finish_crowd(s, started);
  if (HasFatalFailure()) return;
  report("acked_before_short_cut", acked_before_short);
  report("acked_before_long_cut", acked_before_long);
  report("long_cut_ms", long_cut_ms);
  report("session_timeouts_in_short_cut", static_cast<std::uint64_t>(timeouts_after_short));
  report("session_timeouts_total", static_cast<std::uint64_t>(timeouts()));
  report("connections_through_in", link.in.accepted());
  report("connections_through_out", link.out.accepted());
  EXPECT_EQ(broker.stop(), 0);
  s.watch_log_of(nullptr);
  report_broker_log("broker.", broker.log());

  const auto a = audit(s);
  report_audit(s, a);
  expect_order_and_once(a);
  expect_nothing_lost(a);
  expect_listeners_saw_every_ack(s, a);
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

constexpr std::size_t stall_pub_hwm = 1000;
constexpr std::size_t stall_history = 5000;

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
std::uint64_t memory_bound_kib(const memory_kib& baseline) {
  const std::uint64_t frame = flood_text_bytes + 64;  // text + the msg body's other keys
  const std::uint64_t per_message = frame + 256;
  const std::uint64_t queues = 3 * stall_pub_hwm * per_message;
  const std::uint64_t history = stall_history * per_message;
  const std::uint64_t in_flight = 3 * 256 * per_message;
  const std::uint64_t slack = 16 << 20;
  return baseline.rss + (queues + history + in_flight + slack) / 1024;
}

// Reports the broker's memory before, through and after the flood, and
// checks its peak against the bound (reported only under a sanitizer).
void check_flood_memory(const memory_kib& baseline, const flood_outcome& f, const memory_kib& after,
                        std::uint64_t messages) {
  const std::uint64_t bound_kib = memory_bound_kib(baseline);
  report("flood_messages", messages);
  report("flood_ms", f.ms);
  report("broker_rss_baseline_kib", baseline.rss);
  report("broker_rss_peak_sampled_kib", f.peak_rss_kib);
  report("broker_vmhwm_kib", after.hwm);
  report("broker_rss_after_kib", after.rss);
  report("broker_rss_bound_kib", bound_kib);
#ifndef BCAST_SANITIZED
  EXPECT_LE(after.hwm, bound_kib) << "the broker's peak memory exceeds what --pub-hwm and --history allow";
#endif
}

// Polls the resumed listener and the library connection until both reach
// seq `last` of "bulk"; the milliseconds each took from now go to
// `frozen_ms` and `lib_ms`. False when either is still behind after 60 s.
bool wait_caught_up(json_client& frozen, library_listener& lib, std::uint64_t last, std::uint64_t& frozen_ms,
                    std::uint64_t& lib_ms) {
  const auto resumed = clock_type::now();
  return eventually(
      [&] {
        if (last_in_bulk(frozen) < last) {
          frozen.pump();
          if (last_in_bulk(frozen) >= last) frozen_ms = ms_since(resumed);
        }
        if (lib.view().last() < last) {
          lib.poll();
          if (lib.view().last() >= last) lib_ms = ms_since(resumed);
        }
        return last_in_bulk(frozen) >= last && lib.view().last() >= last;
      },
      std::chrono::seconds(60), milliseconds(1));
}

TEST(fault, stalled_subscriber_memory) {
  broker_process broker({"--heartbeat", fast_heartbeat, "--pub-hwm", std::to_string(stall_pub_hwm), "--db", ":memory:",
                         "--history", std::to_string(stall_history), "--log-level", "warn"});
  ASSERT_TRUE(broker.started());
  zmq::context_t context;
  zmq::socket_t raw = stalling_raw_sub(context, broker.out());
  json_client frozen("listener-frozen", {"listen", "--room", "bulk"}, broker.in(), broker.out());
  library_listener lib(context, broker);

  // Warm-up: one message in "bulk" that every stalled client has seen, so
  // each one's stream starts at seq 1.
  const auto poll_both = [&] {
    frozen.pump();
    lib.poll();
  };
  ASSERT_TRUE(eventually([&] {
    poll_both();
    return frozen.status_count("joined") > 0 && lib.ever_connected();
  })) << "listeners did not start";
  process warm({binary, "send", "--name", "warm", "--room", "bulk", "--in", broker.in(), "--out", broker.out(), "warm-up"});
  ASSERT_EQ(warm.wait(), 0) << warm.err();
  ASSERT_TRUE(eventually([&] {
    poll_both();
    return frozen.has_text("warm-up") && lib.view().texts.size() == 1;
  })) << "the warm-up message did not arrive";
  ASSERT_TRUE(eventually([&] { return raw_got_bulk_message(raw); }))
      << "the raw SUB did not get the warm-up message";

  // The flood, with the listener frozen and nothing read by this test.
  (void)broker.log();
  const memory_kib baseline = memory_of(broker.pid());
  frozen.signal(SIGSTOP);
  const flood_outcome flooded = run_flood(context, broker);
  const memory_kib after = memory_of(broker.pid());
  ASSERT_TRUE(flooded.finished);
  const auto acked_text = acked_texts(flooded);
  const std::uint64_t last = flood_senders * flood_messages + 1;
  ASSERT_EQ(acked_text.size(), last) << "acks do not cover seqs 1.." << last;
  ASSERT_EQ(acked_text.rbegin()->first, last);
  check_flood_memory(baseline, flooded, after, last - 1);

  // The raw SUB missed messages: the broker dropped for it, not queued.
  std::uint64_t raw_got = 0;
  const std::uint64_t flood_end_wall = wall_ms();
  ASSERT_TRUE(eventually([&] { return raw_read_until_heartbeat_after(raw, flood_end_wall, raw_got); }))
      << "no heartbeat after the flood on the raw SUB";
  report("raw_sub_received", raw_got);
  EXPECT_LT(raw_got, last - 1) << "the raw SUB missed nothing: it did not stall the broker";

  // Resume the frozen listener and poll the library connection again.
  frozen.signal(SIGCONT);
  std::uint64_t frozen_ms = 0, lib_ms = 0;
  EXPECT_TRUE(wait_caught_up(frozen, lib, last, frozen_ms, lib_ms))
      << "frozen listener at " << last_in_bulk(frozen) << ", library client at " << lib.view().last() << " of " << last;
  report("listener_frozen.recovery_ms", frozen_ms);
  report("library_client.recovery_ms", lib_ms);
  const auto frozen_view = bulk_view_of(frozen);
  report("listener_frozen.shown", frozen_view.texts.size());
  report("listener_frozen.lost", frozen_view.lost());
  report("library_client.shown", lib.view().texts.size());
  report("library_client.lost", lib.view().lost());
  expect_recovered("listener-frozen", frozen_view, acked_text, last);
  expect_recovered("library client", lib.view(), acked_text, last);
  EXPECT_EQ(frozen.epoch(), 0);
  EXPECT_EQ(broker.stop(), 0);
}

// ---------------------------------------------------------------------------
// A full disk (a 4 MiB tmpfs, filled by another file; needs root to mount,
// skipped otherwise): the broker refuses new messages with `unavailable`
// instead of acknowledging what it cannot store, keeps its heartbeats and
// its other answers going, takes messages again by itself once space
// returns, and after a `kill -9` still has every message it acknowledged.

// The whole of the lobby's history, as a raw peer asks for it.
proto::event::history ask_history(zmq::context_t& context, const std::string& in, const std::string& out) {
  raw_peer peer(context, in, out);
  peer.send(proto::request::history{"lobby", 0, proto::max_history_limit, 1});
  return peer.expect<proto::event::history>();
}

std::uint64_t history_epoch(zmq::context_t& context, broker_process& broker) {
  raw_peer peer(context, broker.in(), broker.out());
  peer.send(proto::request::history{"lobby", 0, 0, 1});
  return peer.expect<proto::event::history>().epoch;
}

// A 4 MiB tmpfs in the test's temporary directory (mounting needs root),
// unmounted and removed at the end.
class small_disk {
 public:
  small_disk() : path_(::testing::TempDir() + "bcast-fault-full-" + std::to_string(::getpid())) {
    std::filesystem::create_directories(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=4m") != 0) {
      why_not_ = std::strerror(errno);
      std::filesystem::remove(path_);
    }
  }
  ~small_disk() {
    if (!mounted()) return;
    ::umount2(path_.c_str(), MNT_DETACH);
    std::filesystem::remove(path_);
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  [[nodiscard]] bool mounted() const { return why_not_.empty(); }
  [[nodiscard]] const std::string& why_not() const { return why_not_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  // Fills it with a file but for a little (600 KiB at most).
  void fill() {
    std::ofstream filler(path_ / "filler", std::ios::binary);
    const std::string chunk(64 << 10, 'f');
    while (std::filesystem::space(path_).available > (std::uintmax_t{600} << 10) &&
           filler.write(chunk.data(), chunk.size())) {
    }
  }
  // Removes what fill() wrote.
  void free_space() { std::filesystem::remove(path_ / "filler"); }

 private:
  std::filesystem::path path_;
  std::string why_not_;
};

// Sends one message and returns the answer (nullopt: none in time).
using message_sender = std::function<std::optional<proto::any_event>()>;

// Sends until the broker refuses a message (at most 2000), which must be
// with `unavailable`; `acked` is the seq of the last one acknowledged.
void send_until_refused(const message_sender& send_one, std::uint64_t& acked,
                        std::optional<proto::event::error>& refused) {
  for (int i = 0; i < 2000 && !refused; ++i) {
    const auto answer = send_one();
    ASSERT_TRUE(answer.has_value()) << "no answer to message " << i + 1 << " of the fill";
    if (const auto* ack = std::get_if<proto::event::ack>(&*answer)) {
      acked = ack->seq.value_or(0);
    } else if (const auto* e = std::get_if<proto::event::error>(&*answer)) {
      ASSERT_EQ(e->code, "unavailable") << e->reason;
      refused = *e;
    }
  }
}

// Sends until a message is acknowledged again; its seq goes to `acked`.
// False when none is within step_patience.
bool send_until_accepted(const message_sender& send_one, std::uint64_t& acked) {
  for (const auto deadline = clock_type::now() + step_patience; clock_type::now() < deadline;) {
    const auto answer = send_one();
    if (answer && std::holds_alternative<proto::event::ack>(*answer)) {
      acked = std::get<proto::event::ack>(*answer).seq.value_or(0);
      return true;
    }
  }
  return false;
}

TEST(fault, disk_full) {
  small_disk disk;
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs to fill (" << disk.why_not() << "): needs root";
  const std::string db = (disk.path() / "rooms").string();
  const std::vector<std::string> args{"--heartbeat", fast_heartbeat, "--db",        db,
                                      "--max-frame", "4096",         "--max-text", "2048"};
  auto broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  zmq::context_t context;
  raw_peer alice(context, broker->in(), broker->out());
  alice.join("alice");
  std::uint64_t id = 0;
  const message_sender send_one = [&] {
    alice.send(proto::request::msg{std::string(2000, 'a'), "lobby", ++id});
    return alice.reply();
  };
  // Fill the disk but for a little, then send until the broker refuses.
  disk.fill();
  std::uint64_t acked = 0;
  std::optional<proto::event::error> refused;
  send_until_refused(send_one, acked, refused);
  if (HasFatalFailure()) return;
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
  disk.free_space();
  ASSERT_TRUE(send_until_accepted(send_one, acked)) << "messages were not accepted again after space returned";
  EXPECT_NE(broker->log().find("disk space is back"), std::string::npos);
  broker->kill_hard();
  broker = std::make_unique<broker_process>(args);
  ASSERT_TRUE(broker->started());
  const auto history = ask_history(context, broker->in(), broker->out());
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
    const auto history = ask_history(context, broker.in(), broker.out());
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

  const auto a = audit(s);
  report_audit(s, a);
  expect_order_and_once(a);
  EXPECT_EQ(a.texts_published_twice, 0U) << a.problems();
  expect_nothing_lost(a);
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
