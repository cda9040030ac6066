// The real broker for the fault tests: `broadcast-server start` in a child
// process, found by its banner, stopped with SIGTERM or killed with SIGKILL;
// a history directory it may keep; its memory as /proc tells it; and what
// its log says it loaded, served and resumed. Clients are json_client.hpp's.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace bcast::test {

// The built `broadcast-server` every child process runs.
extern const std::string binary;

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

class broker_process {
 public:
  // Starts a broker with `args` on `in`/`out` (ports or endpoints; "0": a
  // free port) and reads its banner. Fails the test if there is none.
  explicit broker_process(std::vector<std::string> args, const std::string& in = "0", const std::string& out = "0",
                          std::vector<std::string> env = {});

  [[nodiscard]] bool started() const { return !in_.empty(); }
  [[nodiscard]] const std::string& in() const { return in_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] pid_t pid() const { return proc_->pid(); }
  // Reads its log so far (stderr must be read, or a chatty broker blocks).
  std::string log() { return proc_->err(); }

  // SIGKILL: no shutdown notice, no final commit.
  void kill_hard();
  // SIGTERM: returns the exit code (nullopt if it did not exit in time).
  std::optional<int> stop();
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

[[nodiscard]] memory_kib memory_of(pid_t pid);

// Lines of a broker log that contain `text`.
[[nodiscard]] std::size_t log_lines_with(const std::string& log, const std::string& text);

// Reports, under `prefix`, what the broker loaded from its history file
// ("history FILE: epoch E, N rooms, M messages loaded"), its own account at
// stop ("stopped: N requests, M published, ..."), and how many clients came
// back to a session: live ("resume") or one kept after a timeout or a
// restart ("rejoin ... with its earlier session").
void report_broker_log(const std::string& prefix, const std::string& log);

}  // namespace bcast::test
