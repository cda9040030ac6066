// A child process of the built binary for end-to-end tests: its stdin,
// stdout and stderr are pipes; lines are read with deadlines; it is killed
// if still running when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "deadline.hpp"

namespace bcast::test {

class process {
 public:
  // Starts `argv[0]` with `argv`; `env` entries (NAME=value) are added.
  explicit process(std::vector<std::string> argv, std::vector<std::string> env = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  void write(const std::string& text);
  void close_stdin();
  // The next stdout line (without '\n'); nullopt at end of output or timeout.
  std::optional<std::string> line(std::chrono::milliseconds limit = patience);
  // Reads stdout lines until one contains `text`; returns it, or nullopt.
  std::optional<std::string> line_containing(const std::string& text,
                                             std::chrono::milliseconds limit = patience);
  // Everything written to stderr so far (reads what is available).
  std::string err();
  void signal(int sig);
  // The child's process id (for /proc/<pid>/status).
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Waits for the exit; returns the exit code (128+N for signal N), or
  // nullopt if it is still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds limit = patience);

 private:
  void read_available(int fd, std::string& into, std::chrono::milliseconds limit);

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string out_buffer_;
  std::string err_buffer_;
  std::optional<int> status_;
};

}  // namespace bcast::test
