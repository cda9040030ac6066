// The broker's side of a new user's first hour (issue 17), through the built
// binary: SIGHUP stops it cleanly and keeps the history, SIGPIPE does not
// kill it, an oversized request is answered at once, a second broker on the
// same endpoint is refused with a sentence, --bind takes host names and
// IPv6, an unknown subcommand and --version say what they should, and the
// log levels hold what they promise.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "bcast/proto/codec.hpp"
#include "broker_banner.hpp"
#include "process.hpp"
#include "raw_peer.hpp"

namespace bcast::test {
namespace {

const std::string binary = BCAST_BINARY;
using clock_type = std::chrono::steady_clock;

// A fresh directory, removed with everything in it at the end.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bcast-first-hour-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A broker started with `args`; in() and out() are where its banner says it
// listens (empty when it did not start).
class broker_run {
 public:
  explicit broker_run(const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary, "start"};
    // A fast heartbeat unless the test chose one.
    if (std::find(args.begin(), args.end(), "--heartbeat") == args.end()) {
      argv.insert(argv.end(), {"--heartbeat", "200"});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    proc_ = std::make_unique<process>(argv);
    if (const auto endpoints = read_banner(*proc_)) {
      in_ = endpoints->in;
      out_ = endpoints->out;
    }
  }
  [[nodiscard]] bool started() const { return !in_.empty(); }
  [[nodiscard]] const std::string& in() const { return in_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  process& proc() { return *proc_; }
  // Waits until the log holds `text`; false if it does not within patience.
  bool log_has(const std::string& text) {
    return eventually([&] { return log().find(text) != std::string::npos; });
  }
  // Everything it logged so far.
  const std::string& log() { return log_ = proc_->err(); }

 private:
  std::unique_ptr<process> proc_;
  std::string in_;
  std::string out_;
  std::string log_;
};

// Runs the binary with `args` to its end; returns the exit code.
struct finished {
  std::optional<int> code;
  std::string out;
  std::string err;
  std::chrono::milliseconds took{};
};

finished run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto start = clock_type::now();
  process p(argv);
  finished f;
  f.code = p.wait();
  f.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  while (auto l = p.line(std::chrono::milliseconds(100))) f.out += *l + "\n";
  f.err = p.err();
  return f;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The room's history as an anonymous peer reads it.
proto::event::history history_of(const std::string& in, const std::string& out) {
  zmq::context_t context;
  raw_peer peer(context, in, out);
  peer.send(proto::request::history{"lobby", std::nullopt, 100, 1});
  return peer.expect<proto::event::history>();
}

TEST(first_hour_broker, sighup_stops_cleanly_and_the_history_and_epoch_are_kept) {
  temp_dir dir;
  const std::vector<std::string> args{"--db", dir / "rooms", "--in", "0", "--out", "0"};
  auto first = std::make_unique<broker_run>(args);
  ASSERT_TRUE(first->started()) << first->log();
  const auto sent = run({"send", "--name", "hupper", "--in", first->in(), "--out", first->out(),
                         "kept across SIGHUP"});
  ASSERT_EQ(sent.code, 0) << sent.err;
  const auto before = history_of(first->in(), first->out());
  ASSERT_EQ(before.msgs.size(), 1U);

  first->proc().signal(SIGHUP);
  EXPECT_EQ(first->proc().wait(), 0) << first->log();
  EXPECT_NE(first->log().find("stopping on SIGHUP"), std::string::npos) << first->log();
  EXPECT_NE(first->log().find("stopped:"), std::string::npos) << first->log();

  broker_run second(args);
  ASSERT_TRUE(second.started()) << second.log();
  EXPECT_TRUE(second.log_has("(continued)")) << second.log();
  const auto after = history_of(second.in(), second.out());
  EXPECT_EQ(after.epoch, before.epoch);
  ASSERT_EQ(after.msgs.size(), 1U);
  EXPECT_EQ(after.msgs[0].text, "kept across SIGHUP");
  EXPECT_EQ(after.msgs[0].seq, before.msgs[0].seq);
  second.proc().signal(SIGTERM);
  EXPECT_EQ(second.proc().wait(), 0);
}

TEST(first_hour_broker, sigpipe_does_not_kill_the_broker) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0"});
  ASSERT_TRUE(b.started()) << b.log();
  b.proc().signal(SIGPIPE);
  const auto sent = run({"send", "--name", "piped", "--in", b.in(), "--out", b.out(), "still here"});
  EXPECT_EQ(sent.code, 0) << sent.err << b.log();
  b.proc().signal(SIGTERM);
  EXPECT_EQ(b.proc().wait(), 0) << b.log();
}

TEST(first_hour_broker, an_oversized_request_is_answered_too_large_at_once_and_logged_once) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0"});
  ASSERT_TRUE(b.started()) << b.log();
  zmq::context_t context;
  raw_peer peer(context, b.in(), b.out());
  peer.join("paster");
  const std::string text(100000, 'x');
  for (std::uint64_t id = 7; id <= 8; ++id) {
    const auto start = clock_type::now();
    peer.send(proto::request::msg{text, "lobby", id});
    const auto error = peer.expect_error("too-large");
    const auto took = clock_type::now() - start;
    EXPECT_EQ(error.id, id);
    EXPECT_EQ(error.reason, "the request is 100032 bytes; this broker takes at most 65536 per "
                            "request and 4096 of text");
    EXPECT_LT(took, std::chrono::seconds(2));
    std::printf("oversized request %llu answered in %lld ms\n", static_cast<unsigned long long>(id),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  }
  // The connection and the session are still there.
  peer.send(proto::request::msg{"after the paste", "lobby", 9});
  EXPECT_EQ(peer.expect<proto::event::ack>().id, 9U);
  ASSERT_TRUE(b.log_has("answered too-large")) << b.log();
  EXPECT_EQ(occurrences(b.log(), "answered too-large"), 1U) << b.log();
  EXPECT_TRUE(std::regex_search(b.log(), std::regex(
      R"(warning a request of 100032 bytes from 127\.0\.0\.1:\d+ answered too-large: over --max-frame \(65536 bytes\))")))
      << b.log();
}

TEST(first_hour_broker, send_refuses_a_text_over_max_text_at_once_and_frees_its_name) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0"});
  ASSERT_TRUE(b.started()) << b.log();
  const auto big = run({"send", "--name", "big", "--in", b.in(), "--out", b.out(), std::string(100000, 'L')});
  EXPECT_EQ(big.code, 5);
  EXPECT_EQ(big.err, "broadcast-server: not sent: the text is 100000 bytes; the broker takes at most 4096\n");
  EXPECT_LT(big.took, std::chrono::seconds(2));
  std::printf("a 100000-byte send refused in %lld ms\n", static_cast<long long>(big.took.count()));
  const auto next = run({"send", "--name", "big", "--in", b.in(), "--out", b.out(), "short"});
  EXPECT_EQ(next.code, 0) << next.err;
}

TEST(first_hour_broker, a_second_broker_on_the_same_ipc_path_is_refused) {
  temp_dir dir;
  const std::string in = "ipc://" + (dir / "in");
  const std::string out = "ipc://" + (dir / "out");
  broker_run first({"--db", ":memory:", "--in", in, "--out", out});
  ASSERT_TRUE(first.started()) << first.log();
  const auto second = run({"start", "--db", ":memory:", "--in", in, "--out", out});
  EXPECT_EQ(second.code, 1);
  EXPECT_EQ(second.err, "broadcast-server: " + in + " is in use by another running broker (choose another --in)\n");
  // The first one still has its socket.
  const auto sent = run({"send", "--name", "ipc", "--in", in, "--out", out, "still mine"});
  EXPECT_EQ(sent.code, 0) << sent.err;
  first.proc().signal(SIGTERM);
  EXPECT_EQ(first.proc().wait(), 0);
}

TEST(first_hour_broker, a_stale_ipc_socket_is_replaced_and_a_file_is_left_alone) {
  temp_dir dir;
  // A socket file nobody listens on: what a killed broker leaves.
  const std::string stale = dir / "stale";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, stale.c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ::close(fd);
  broker_run b({"--db", ":memory:", "--in", "ipc://" + stale, "--out", "0"});
  EXPECT_TRUE(b.started()) << b.log();

  const std::string file = dir / "notes.txt";
  { std::FILE* f = std::fopen(file.c_str(), "w"); ASSERT_NE(f, nullptr); std::fputs("mine\n", f); std::fclose(f); }
  const auto refused = run({"start", "--db", ":memory:", "--in", "0", "--out", "ipc://" + file});
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.err, "broadcast-server: ipc://" + file + " exists and is not a socket; it is left "
                         "as it is (choose another --out)\n");
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST(first_hour_broker, a_port_in_use_is_named_with_the_option_to_change) {
  broker_run first({"--db", ":memory:", "--in", "0", "--out", "0"});
  ASSERT_TRUE(first.started()) << first.log();
  const std::string in_port = first.in().substr(first.in().rfind(':') + 1);
  const std::string out_port = first.out().substr(first.out().rfind(':') + 1);
  const auto on_in = run({"start", "--db", ":memory:", "--in", in_port, "--out", "0"});
  EXPECT_EQ(on_in.code, 1);
  EXPECT_EQ(on_in.err, "broadcast-server: address already in use: tcp://127.0.0.1:" + in_port +
                           " (another broker? choose another --in)\n");
  const auto on_out = run({"start", "--db", ":memory:", "--in", "0", "--out", out_port});
  EXPECT_EQ(on_out.code, 1);
  EXPECT_EQ(on_out.err, "broadcast-server: address already in use: tcp://127.0.0.1:" + out_port +
                            " (another broker? choose another --out)\n");
}

TEST(first_hour_broker, the_same_port_for_in_and_out_is_named_as_such) {
  const auto same = run({"start", "--db", ":memory:", "--in", "5575", "--out", "5575"});
  EXPECT_EQ(same.code, 2);
  EXPECT_EQ(same.err, "broadcast-server: --out: is the same endpoint as --in (tcp://127.0.0.1:5575): "
                      "the broker needs two, e.g. --in 5555 --out 5556\n");
}

TEST(first_hour_broker, bind_takes_localhost) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--bind", "localhost"});
  ASSERT_TRUE(b.started()) << b.log();
  EXPECT_EQ(b.in().rfind("tcp://127.0.0.1:", 0), 0U) << b.in();
  const auto sent = run({"send", "--name", "local", "--in", b.in(), "--out", b.out(), "hi"});
  EXPECT_EQ(sent.code, 0) << sent.err;
}

bool has_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

// Says hello over IPv6 with a plain DEALER; true when a welcome comes back.
bool welcomed_over_ipv6(const std::string& in) {
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::ipv6, 1);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(in);
  dealer.send(zmq::buffer(proto::encode(proto::request::hello{proto::protocol_version, "six", {}, {}, {}})));
  std::vector<zmq::pollitem_t> items{{dealer.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, patience);
  zmq::message_t answer;
  if (!dealer.recv(answer, zmq::recv_flags::dontwait)) return false;
  const auto decoded = proto::decode_event(answer.to_string_view());
  const auto* event = std::get_if<proto::any_event>(&decoded);
  return event != nullptr && std::holds_alternative<proto::event::welcome>(*event);
}

TEST(first_hour_broker, bind_takes_ipv6_addresses) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "this machine has no IPv6 loopback (::1)";
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--bind", "::1"});
  ASSERT_TRUE(b.started()) << b.log();
  EXPECT_EQ(b.in().rfind("tcp://[::1]:", 0), 0U) << b.in();
  EXPECT_TRUE(welcomed_over_ipv6(b.in())) << b.log();
  broker_run any({"--db", ":memory:", "--in", "0", "--out", "0", "--bind", "::"});
  ASSERT_TRUE(any.started()) << any.log();
  EXPECT_EQ(any.in().rfind("tcp://[::]:", 0), 0U) << any.in();
  const std::string port = any.in().substr(any.in().rfind(':') + 1);
  EXPECT_TRUE(welcomed_over_ipv6("tcp://[::1]:" + port)) << any.log();
}

TEST(first_hour_broker, an_unknown_subcommand_is_named_with_the_list) {
  const auto frob = run({"frob"});
  EXPECT_EQ(frob.code, 2);
  EXPECT_EQ(frob.err, "broadcast-server: unknown subcommand 'frob'; the subcommands are start, "
                      "connect, send, listen, keygen (broadcast-server --help)\n");
}

TEST(first_hour_broker, version_names_the_release_and_what_it_is_built_on) {
  const auto version = run({"--version"});
  EXPECT_EQ(version.code, 0) << version.err;
  EXPECT_TRUE(std::regex_match(version.out, std::regex(
      "broadcast-server 0\\.1\\.0( \\(git [0-9a-z.-]+\\))?\n"
      "libzmq \\d+\\.\\d+\\.\\d+, msgpack-c \\d+\\.\\d+\\.\\d+, history store: segment log v2\n")))
      << version.out;
}

TEST(first_hour_broker, debug_and_trace_say_who_came_and_went_and_info_holds_no_text) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--log-level", "trace"});
  ASSERT_TRUE(b.started()) << b.log();
  const auto sent = run({"send", "--name", "tracy", "--in", b.in(), "--out", b.out(), "private words"});
  ASSERT_EQ(sent.code, 0) << sent.err;
  ASSERT_TRUE(b.log_has("bye from tracy")) << b.log();
  const std::string log = b.log();
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(debug hello from 127\.0\.0\.1 as 'tracy' \(connection [0-9a-f]+)"))) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(debug welcome tracy \(127\.0\.0\.1\): epoch \d+, 1 room\(s\))"))) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(trace msg from tracy to room lobby \(\d+ bytes\))"))) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(debug connection accepted on in from 127\.0\.0\.1)"))) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(info join tracy)"))) << log;
  EXPECT_EQ(log.find("private words"), std::string::npos) << log;
}

TEST(first_hour_broker, ordinary_client_events_are_not_warnings) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--log-level", "info"});
  ASSERT_TRUE(b.started()) << b.log();
  auto holder = std::make_unique<process>(std::vector<std::string>{
      binary, "connect", "--name", "holder", "--json", "--in", b.in(), "--out", b.out()});
  ASSERT_TRUE(holder->line_containing(R"("status":"joined")")) << holder->err();
  const auto taken = run({"send", "--name", "holder", "--in", b.in(), "--out", b.out(), "hi"});
  EXPECT_EQ(taken.code, 4);
  ASSERT_TRUE(b.log_has("name-taken to")) << b.log();
  // The crashed client times out: an ordinary event too.
  holder->signal(SIGKILL);
  ASSERT_TRUE(b.log_has("leave holder (timeout)")) << b.log();
  const std::string log = b.log();
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(info name-taken to connection [0-9a-f]+…?: the name 'holder' is in use)")))
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(info leave holder \(timeout\))"))) << log;
  EXPECT_EQ(log.find("warning"), std::string::npos) << log;
  EXPECT_EQ(log.find("connection accepted"), std::string::npos) << log;
}

// A `connect` killed with -9, started again at once under the same name:
// it resumes the session the dead one saved (before, it waited out liveness
// x heartbeat, 3 s, then the 30 s the name was kept for the dead token).
TEST(first_hour_broker, a_crashed_client_started_again_resumes_its_session_at_once) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "1000", "--log-level", "debug"});
  ASSERT_TRUE(b.started()) << b.log();
  const temp_dir state;
  const std::vector<std::string> argv{binary, "connect", "--name", "crashy", "--json", "--in", b.in(), "--out", b.out()};
  const std::vector<std::string> env{"XDG_STATE_HOME=" + state.path()};
  auto first = std::make_unique<process>(argv, env);
  ASSERT_TRUE(first->line_containing(R"("status":"joined")")) << first->err();
  first->write("before 1\nbefore 2\n");
  ASSERT_TRUE(first->line_containing(R"("type":"ack","id":2)")) << first->err();
  first->signal(SIGKILL);
  ASSERT_TRUE(b.log_has("the connection of crashy closed")) << b.log();
  const auto start = clock_type::now();
  auto again = std::make_unique<process>(argv, env);
  ASSERT_TRUE(again->line_containing(R"("status":"joined")")) << again->err() << b.log();
  EXPECT_TRUE(b.log_has("resume crashy")) << b.log();
  // Its ids go on above the dead run's: the broker would take a reused id as
  // a retry of the old message and drop the new one (the recheck session).
  again->write("after\n");
  EXPECT_TRUE(again->line_containing(R"("text":"after")")) << again->err();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  EXPECT_LT(took, std::chrono::seconds(2));
  std::printf("the restarted client had its name after %lld ms\n", static_cast<long long>(took.count()));
  again->close_stdin();
  EXPECT_EQ(again->wait(), 0) << again->err();
}

// Killed and not started again: the session ends after two heartbeats of
// silence; its name is kept for its token, as after any timeout (the broker
// cannot tell a crash from a cut connection).
TEST(first_hour_broker, a_crashed_clients_session_ends_after_two_heartbeats_its_name_kept) {
  broker_run b({"--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "500", "--liveness", "10"});
  ASSERT_TRUE(b.started()) << b.log();
  auto first = std::make_unique<process>(std::vector<std::string>{
      binary, "connect", "--name", "gone", "--json", "--in", b.in(), "--out", b.out()});
  ASSERT_TRUE(first->line_containing(R"("status":"joined")")) << first->err();
  const auto start = clock_type::now();
  first->signal(SIGKILL);
  ASSERT_TRUE(b.log_has("leave gone (timeout)")) << b.log();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  // Two intervals, not the ten of --liveness.
  EXPECT_LT(took, std::chrono::milliseconds(3500));
  std::printf("the crashed client's session ended after %lld ms\n", static_cast<long long>(took.count()));
  const auto taken = run({"send", "--name", "gone", "--in", b.in(), "--out", b.out(), "mine now"});
  EXPECT_EQ(taken.code, 4) << taken.err;
}

}  // namespace
}  // namespace bcast::test
