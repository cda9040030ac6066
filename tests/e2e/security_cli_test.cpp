// The binary's security options, as an operator uses them (issue 15): the
// join token from a private file on both sides (a file others may read is
// refused), a wrong token refused, and a warning when the broker listens
// beyond loopback without a token.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <fstream>

#include "broker_banner.hpp"
#include "process.hpp"

namespace bcast::test {
namespace {

const std::string binary = BCAST_BINARY;

// A file holding `text`, with `mode`, removed at the end of the test.
struct temp_file {
  temp_file(const std::string& text, mode_t mode) {
    char name[] = "/tmp/bcast-secret-XXXXXX";
    const int fd = ::mkstemp(name);
    path = name;
    std::ofstream(path) << text;
    ::fchmod(fd, mode);
    ::close(fd);
  }
  ~temp_file() { std::remove(path.c_str()); }
  std::string path;
};

broker_endpoints banner_of(process& broker) {
  const auto endpoints = read_banner(broker);
  if (!endpoints) {
    ADD_FAILURE() << "no banner: " << broker.err();
    return {};
  }
  return *endpoints;
}

TEST(security_cli, a_join_token_from_private_files_admits_and_a_wrong_one_is_refused) {
  temp_file broker_secret("  s3cret-token \n", 0600);
  process broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0",
                  "--join-token-file", broker_secret.path, "--log-level", "warn"});
  const auto at = banner_of(broker);
  temp_file client_secret("s3cret-token\n", 0600);
  process good({binary, "send", "--name", "ci", "--token-file", client_secret.path, "--in", at.in,
                "--out", at.out, "built"});
  EXPECT_EQ(good.wait(), 0) << good.err();
  temp_file wrong("not-it\n", 0600);
  process bad({binary, "send", "--name", "eve", "--token-file", wrong.path, "--in", at.in, "--out",
               at.out, "hi"});
  EXPECT_EQ(bad.wait(), 5) << bad.err();
  EXPECT_NE(bad.err().find("unauthorized"), std::string::npos);
  process from_env({binary, "send", "--name", "env", "--in", at.in, "--out", at.out, "via env"},
                   {"BCAST_TOKEN=s3cret-token"});
  EXPECT_EQ(from_env.wait(), 0) << from_env.err();
}

TEST(security_cli, a_token_file_others_can_read_is_refused) {
  temp_file shared("s3cret\n", 0644);
  process broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0",
                  "--join-token-file", shared.path});
  EXPECT_EQ(broker.wait(), 2);
  EXPECT_NE(broker.err().find("readable by other users"), std::string::npos) << broker.err();
}

TEST(security_cli, listening_beyond_loopback_without_a_token_warns) {
  process open_broker({binary, "start", "--db", ":memory:", "--bind", "0.0.0.0", "--in", "0",
                       "--out", "0"});
  (void)banner_of(open_broker);
  std::string log;
  EXPECT_TRUE(eventually([&] {
    log += open_broker.err();
    return log.find("without --join-token or --allow") != std::string::npos;
  })) << log;
  open_broker.signal(SIGTERM);
  EXPECT_EQ(open_broker.wait(), 0);

  process local_broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0"});
  (void)banner_of(local_broker);
  local_broker.signal(SIGTERM);
  EXPECT_EQ(local_broker.wait(), 0);
  EXPECT_EQ(local_broker.err().find("without --join-token"), std::string::npos);
}

// CURVE as an operator sets it up from the README: keygen, --curve-secret,
// --allow; a refused key and a wrong server key are told apart at once.
TEST(security_cli, curve_admits_allowed_keys_and_says_why_others_fail) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bcast-curve-" + std::to_string(::getpid()));
  fs::create_directories(dir / "allow");
  const auto keygen = [&](const std::string& name, const fs::path& where) {
    process p({binary, "keygen", name, "--dir", where.string()});
    EXPECT_EQ(p.wait(), 0) << p.err();
  };
  keygen("chat", dir);
  keygen("alice", dir / "allow");
  keygen("mallory", dir);
  keygen("impostor", dir);
  EXPECT_EQ(fs::status(dir / "chat.key_secret").permissions() & fs::perms::group_read, fs::perms::none);
  process broker({binary, "start", "--db", ":memory:", "--in", "0", "--out", "0", "--curve-secret",
                  (dir / "chat.key_secret").string(), "--allow", (dir / "allow").string(),
                  "--log-level", "warn"});
  const auto at = banner_of(broker);
  const auto send_as = [&](const std::string& name, const fs::path& server, const fs::path& key) {
    return std::make_unique<process>(std::vector<std::string>{
        binary, "send", "--name", name, "--in", at.in, "--out", at.out, "--timeout", "5",
        "--server-key", server.string(), "--key", key.string(), "hello"});
  };
  auto alice = send_as("alice", dir / "chat.key", dir / "allow" / "alice.key_secret");
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  auto mallory = send_as("mallory", dir / "chat.key", dir / "mallory.key_secret");
  EXPECT_EQ(mallory->wait(), 5);
  EXPECT_NE(mallory->err().find("refused this client's CURVE key"), std::string::npos) << mallory->err();
  auto lost = send_as("alice", dir / "impostor.key", dir / "allow" / "alice.key_secret");
  EXPECT_EQ(lost->wait(), 5);
  EXPECT_NE(lost->err().find("is --server-key the broker's public key"), std::string::npos) << lost->err();
  // Found by the newcomer session: listen with a refused key printed the
  // error and went on waiting; a plain client got only a timeout; a public
  // key given as --key was called a permissions problem.
  process listener({binary, "listen", "--in", at.in, "--out", at.out, "--server-key",
                    (dir / "chat.key").string(), "--key", (dir / "mallory.key_secret").string()});
  EXPECT_EQ(listener.wait(), 5) << listener.err();
  EXPECT_NE(listener.err().find("refused this client's CURVE key"), std::string::npos) << listener.err();
  process plain({binary, "send", "--name", "alice", "--in", at.in, "--out", at.out, "--timeout", "20", "hi"});
  EXPECT_EQ(plain.wait(), 5) << plain.err();
  EXPECT_NE(plain.err().find("the broker requires CURVE: pass --server-key"), std::string::npos) << plain.err();
  process wrong_file({binary, "send", "--name", "alice", "--in", at.in, "--out", at.out, "--server-key",
                      (dir / "chat.key").string(), "--key", (dir / "chat.key").string(), "hi"});
  EXPECT_EQ(wrong_file.wait(), 2);
  EXPECT_NE(wrong_file.err().find("holds no secret-key"), std::string::npos) << wrong_file.err();
  broker.signal(SIGTERM);
  EXPECT_EQ(broker.wait(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bcast::test
