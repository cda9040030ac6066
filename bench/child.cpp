// fork/exec with a stdout pipe; only async-signal-safe calls between fork and exec.
#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "clock.hpp"

namespace bench {

child_process::child_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  stdout_fd_ = fds[0];
}

child_process::~child_process() {
  stop();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::string child_process::line_containing(const std::string& text, int timeout_ms) {
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
  while (true) {
    for (auto eol = pending_.find('\n'); eol != std::string::npos; eol = pending_.find('\n')) {
      std::string line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      if (line.find(text) != std::string::npos) return line;
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline) throw std::runtime_error("no '" + text + "' line from the child in time");
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000) + 1) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n == 0) throw std::runtime_error("the child exited before saying '" + text + "'");
    if (n > 0) pending_.append(buf, static_cast<std::size_t>(n));
  }
}

void child_process::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const std::uint64_t deadline = now_ns() + 3 * ns_per_s;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (now_ns() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    sleep_ms(5);
  }
  pid_ = -1;
}

}  // namespace bench
