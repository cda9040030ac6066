// The built `broadcast-server` binary in subprocesses, as users and scripts
// run it: start, connect over pipes, send, listen, exit codes, graceful
// shutdown on SIGTERM/SIGINT.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "broker_banner.hpp"
#include "process.hpp"

namespace bcast::test {
namespace {

const std::string binary = BCAST_BINARY;

class cli : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<process>(std::vector<std::string>{
        binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "200", "--log-level", "warn"});
    const auto banner = broker_->line();
    ASSERT_TRUE(banner) << broker_->err();
    const auto endpoints = endpoints_in_banner(*banner);
    ASSERT_TRUE(endpoints) << *banner;
    in_ = endpoints->in;
    out_ = endpoints->out;
  }

  std::unique_ptr<process> client(std::vector<std::string> args) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--in", in_, "--out", out_});
    return std::make_unique<process>(argv);
  }

  std::unique_ptr<process> broker_;
  std::string in_;
  std::string out_;
};

TEST_F(cli, start_prints_where_it_listens) {
  EXPECT_EQ(in_.rfind("tcp://127.0.0.1:", 0), 0U);
  EXPECT_EQ(out_.rfind("tcp://127.0.0.1:", 0), 0U);
  EXPECT_NE(in_, out_);
}

TEST_F(cli, connect_sends_stdin_lines_and_prints_the_room) {
  auto bob = client({"connect", "--name", "bob", "--json"});
  ASSERT_TRUE(bob->line_containing(R"("status":"joined")")) << bob->err();
  auto alice = client({"connect", "--name", "alice"});
  alice->write("hello bob\nsecond line\n");
  alice->close_stdin();
  EXPECT_TRUE(bob->line_containing(R"({"type":"join","name":"alice")"));
  EXPECT_TRUE(bob->line_containing(R"("from":"alice","text":"hello bob"})"));
  EXPECT_TRUE(bob->line_containing(R"("from":"alice","text":"second line"})"));
  EXPECT_TRUE(bob->line_containing(R"({"type":"leave","name":"alice","reason":"bye")"));
  // Alice shows her own messages, once each, then exits 0.
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  std::vector<std::string> alice_lines;
  while (auto l = alice->line(std::chrono::milliseconds(100))) alice_lines.push_back(*l);
  ASSERT_EQ(alice_lines.size(), 2U);
  EXPECT_TRUE(std::regex_match(alice_lines[0], std::regex(R"(\d\d:\d\d:\d\d alice: hello bob)")))
      << alice_lines[0];
  EXPECT_TRUE(std::regex_match(alice_lines[1], std::regex(R"(\d\d:\d\d:\d\d alice: second line)")))
      << alice_lines[1];
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 0);
}

TEST_F(cli, json_output_is_one_object_per_event) {
  auto watcher = client({"connect", "--name", "watcher", "--json"});
  ASSERT_TRUE(watcher->line_containing(R"("status":"joined")")) << watcher->err();
  auto ci = client({"send", "--name", "ci", "build \"812\" passed"});
  EXPECT_EQ(ci->wait(), 0) << ci->err();
  EXPECT_TRUE(watcher->line_containing(R"({"type":"join","name":"ci")"));
  const auto msg = watcher->line_containing(R"("type":"msg")");
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find(R"("from":"ci","text":"build \"812\" passed"})"), std::string::npos) << *msg;
  watcher->close_stdin();
  EXPECT_EQ(watcher->wait(), 0);
}

TEST_F(cli, send_and_listen_work_like_mosquitto_pub_and_sub) {
  auto listener = client({"listen", "--room", "lobby", "--count", "1"});
  // Repeat until the listener's subscription is live and it prints one.
  std::optional<std::string> seen;
  for (int attempt = 0; attempt < 50 && !seen; ++attempt) {
    auto ci = client({"send", "--name", "ci", "build 812 passed"});
    ASSERT_EQ(ci->wait(), 0) << ci->err();
    seen = listener->line_containing("ci: build 812 passed", std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(seen);
  EXPECT_EQ(listener->wait(), 0);
}

// Found by a newcomer: `--room ops "deploy ok"` took the text as a second room.
TEST_F(cli, room_before_the_text_takes_one_room) {
  auto listener = client({"listen", "--room", "ops", "--count", "1"});
  std::optional<std::string> seen;
  for (int attempt = 0; attempt < 50 && !seen; ++attempt) {
    auto ci = client({"send", "--name", "ci", "--room", "ops", "deploy ok"});
    ASSERT_EQ(ci->wait(), 0) << ci->err();
    seen = listener->line_containing("ci: deploy ok", std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(seen);
  EXPECT_EQ(listener->wait(), 0);
}

TEST_F(cli, exit_codes_say_what_went_wrong) {
  auto holder = client({"connect", "--name", "taken", "--json"});
  ASSERT_TRUE(holder->line_containing(R"("status":"joined")"));
  auto second = client({"send", "--name", "taken", "hi"});
  EXPECT_EQ(second->wait(), 4);
  EXPECT_NE(second->err().find("name-taken"), std::string::npos);

  auto nobody = std::make_unique<process>(std::vector<std::string>{
      binary, "connect", "--name", "x", "--in", "tcp://127.0.0.1:1", "--out", "tcp://127.0.0.1:1",
      "--timeout", "0.5"});
  EXPECT_EQ(nobody->wait(), 3);
  EXPECT_NE(nobody->err().find("no answer from the broker"), std::string::npos);

  auto usage = std::make_unique<process>(std::vector<std::string>{binary, "send", "--in", "nope", "x"});
  EXPECT_EQ(usage->wait(), 2);
  holder->close_stdin();
  EXPECT_EQ(holder->wait(), 0);
}

TEST_F(cli, lines_the_broker_would_refuse_are_reported_and_the_rest_sent) {
  auto alice = client({"connect", "--name", "alice"});
  alice->write("ok one\n" + std::string(5000, 'x') + "\nbad \xff utf8\nok two\n");
  alice->close_stdin();
  EXPECT_TRUE(alice->line_containing("alice: ok one"));
  EXPECT_TRUE(alice->line_containing("alice: ok two"));
  EXPECT_EQ(alice->wait(), 5);
  const auto err = alice->err();
  EXPECT_NE(err.find("line 2 not sent: it is 5000 bytes"), std::string::npos) << err;
  EXPECT_NE(err.find("line 3 not sent: it is not valid UTF-8"), std::string::npos) << err;
}

TEST_F(cli, thousands_of_piped_lines_arrive_once_each_and_in_order) {
  auto listener = client({"listen", "--json", "--count", "3000"});
  ASSERT_TRUE(listener->line_containing(R"("status":"joined")")) << listener->err();
  auto alice = client({"connect", "--name", "alice", "--timeout", "60"});
  std::string input;
  for (int i = 1; i <= 3000; ++i) input += "line " + std::to_string(i) + "\n";
  alice->write(input);
  alice->close_stdin();
  for (int i = 1; i <= 3000; ++i) {
    const auto msg = listener->line_containing(R"("type":"msg")");
    ASSERT_TRUE(msg) << "message " << i << " missing";
    ASSERT_NE(msg->find(R"("text":"line )" + std::to_string(i) + "\"}"), std::string::npos)
        << "expected line " << i << ", got " << *msg;
    // Alice shows her own messages too (and must be read, or her pipe fills).
    const auto own = alice->line();
    ASSERT_TRUE(own);
    ASSERT_TRUE(own->ends_with("alice: line " + std::to_string(i))) << *own;
  }
  EXPECT_EQ(listener->wait(), 0);
  EXPECT_EQ(alice->wait(std::chrono::seconds(60)), 0) << alice->err();
}

TEST_F(cli, a_failed_send_frees_its_name_at_once) {
  auto lost = client({"send", "--name", "ci", "--to", "nobody", "hello?"});
  EXPECT_EQ(lost->wait(), 5);
  EXPECT_NE(lost->err().find("unknown-user"), std::string::npos) << lost->err();
  auto next = client({"send", "--name", "ci", "build 813 passed"});
  EXPECT_EQ(next->wait(), 0) << next->err();
}

TEST_F(cli, sigterm_shuts_the_broker_down_and_clients_say_so) {
  auto alice = client({"connect", "--name", "alice", "--json"});
  ASSERT_TRUE(alice->line_containing(R"("status":"joined")")) << alice->err();
  broker_->signal(SIGTERM);
  EXPECT_EQ(broker_->wait(), 0) << broker_->err();
  EXPECT_TRUE(alice->line_containing(R"("status":"server-shutdown")"));
  alice->signal(SIGINT);
  EXPECT_EQ(alice->wait(), 0);
}

TEST_F(cli, sigint_stops_the_broker_with_exit_0) {
  broker_->signal(SIGINT);
  EXPECT_EQ(broker_->wait(), 0) << broker_->err();
}

TEST(cli_endpoints, a_join_token_keeps_strangers_out) {
  process broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--join-token", "s3cret",
                  "--log-level", "off"});
  const auto banner = broker.line();
  ASSERT_TRUE(banner);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*banner, match, std::regex("in (\\S+) .*out (\\S+) ")));
  const std::string in = match[1], out = match[2];
  process stranger({binary, "send", "--name", "eve", "--in", in, "--out", out, "hi"});
  EXPECT_EQ(stranger.wait(), 5);
  EXPECT_NE(stranger.err().find("unauthorized"), std::string::npos);
  process member({binary, "send", "--name", "ann", "--token", "s3cret", "--in", in, "--out", out, "hi"});
  EXPECT_EQ(member.wait(), 0) << member.err();
  broker.signal(SIGTERM);
  EXPECT_EQ(broker.wait(), 0);
}

TEST(cli_endpoints, clients_notice_a_killed_broker_and_rejoin_its_successor) {
  auto first = std::make_unique<process>(std::vector<std::string>{
      binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--heartbeat", "100", "--log-level", "off"});
  const auto banner = first->line();
  ASSERT_TRUE(banner);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*banner, match, std::regex("in (\\S+) .*out (\\S+) ")));
  const std::string in = match[1], out = match[2];
  process alice({binary, "connect", "--name", "alice", "--json", "--in", in, "--out", out});
  ASSERT_TRUE(alice.line_containing(R"("status":"joined")")) << alice.err();
  first->signal(SIGKILL);  // no shutdown notice: only silence tells
  EXPECT_TRUE(first->wait());
  EXPECT_TRUE(alice.line_containing(R"("status":"connection-lost")"));
  alice.write("sent while the broker is down\n");
  process second({binary, "start", "--db", ":memory:", "--in", in, "--out", out, "--heartbeat", "100", "--log-level", "off"});
  ASSERT_TRUE(second.line()) << second.err();
  EXPECT_TRUE(alice.line_containing(R"("status":"reconnected")"));
  const auto msg = alice.line_containing(R"("type":"msg")");
  ASSERT_TRUE(msg);
  EXPECT_NE(msg->find(R"("seq":1,)"), std::string::npos) << *msg;  // a new epoch
  EXPECT_NE(msg->find("sent while the broker is down"), std::string::npos) << *msg;
  alice.close_stdin();
  EXPECT_EQ(alice.wait(), 0) << alice.err();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait(), 0);
}

TEST(cli_endpoints, connect_checks_lines_against_the_brokers_max_text) {
  process broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--max-text", "100", "--log-level", "off"});
  const auto banner = broker.line();
  ASSERT_TRUE(banner);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*banner, match, std::regex("in (\\S+) .*out (\\S+) ")));
  process alice({binary, "connect", "--name", "alice", "--in", match[1], "--out", match[2]});
  alice.write(std::string(101, 'x') + "\nshort\n");
  alice.close_stdin();
  EXPECT_TRUE(alice.line_containing("alice: short"));
  EXPECT_EQ(alice.wait(), 5);
  EXPECT_NE(alice.err().find("line 1 not sent: it is 101 bytes; the broker takes at most 100"),
            std::string::npos)
      << alice.err();
  broker.signal(SIGTERM);
  EXPECT_EQ(broker.wait(), 0);
}

TEST(cli_endpoints, ipc_endpoints_work_end_to_end) {
  const std::string dir = ::testing::TempDir();
  const std::string in = "ipc://" + dir + "bcast-e2e-in-" + std::to_string(::getpid());
  const std::string out = "ipc://" + dir + "bcast-e2e-out-" + std::to_string(::getpid());
  process broker({binary, "start", "--db", ":memory:", "--in", in, "--out", out, "--log-level", "off"});
  ASSERT_TRUE(broker.line_containing(in));
  process alice({binary, "connect", "--name", "alice", "--in", in, "--out", out});
  alice.write("over ipc\n");
  alice.close_stdin();
  EXPECT_TRUE(alice.line_containing("alice: over ipc")) << alice.err();
  EXPECT_EQ(alice.wait(), 0);
  broker.signal(SIGTERM);
  EXPECT_EQ(broker.wait(), 0);
}

}  // namespace
}  // namespace bcast::test
