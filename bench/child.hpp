// A system under test in its own process (the broker, the proxy), so its CPU
// and memory can be read from /proc: started with its stdout on a pipe, killed
// with the benchmark (PR_SET_PDEATHSIG), stopped with SIGTERM then SIGKILL.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace bench {

class child_process {
 public:
  explicit child_process(const std::vector<std::string>& argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // The first stdout line containing `text`; throws after `timeout_ms` or at EOF.
  std::string line_containing(const std::string& text, int timeout_ms = 10000);
  [[nodiscard]] pid_t pid() const { return pid_; }
  // SIGTERM, at most 3 s for the exit, then SIGKILL.
  void stop();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
};

}  // namespace bench
