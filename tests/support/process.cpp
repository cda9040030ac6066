// fork/exec with pipes, and deadline-bounded reads.
#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace bcast::test {

process::process(std::vector<std::string> argv, std::vector<std::string> env) {
  int in[2], out[2], err[2];
  // O_CLOEXEC: a later child must not inherit these ends (it would hold
  // our stdin pipe open, and its reader would never see end of input).
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe");
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    // Unblock what the test runner may have blocked, so signals behave as
    // they do for a user's shell.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (auto& e : env) ::putenv(e.data());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  ::fcntl(out_, F_SETFL, O_NONBLOCK);
  ::fcntl(err_, F_SETFL, O_NONBLOCK);
  ::signal(SIGPIPE, SIG_IGN);
}

process::~process() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    (void)wait(std::chrono::seconds(5));
  }
  for (int fd : {in_, out_, err_}) {
    if (fd >= 0) ::close(fd);
  }
}

void process::write(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(in_, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

void process::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

void process::read_available(int fd, std::string& into, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return;
  char buffer[65536];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) into.append(buffer, static_cast<std::size_t>(n));
}

std::optional<std::string> process::line(std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (true) {
    const auto nl = out_buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string text = out_buffer_.substr(0, nl);
      out_buffer_.erase(0, nl + 1);
      return text;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const std::size_t before = out_buffer_.size();
    read_available(out_, out_buffer_, std::min(left, std::chrono::milliseconds(100)));
    if (out_buffer_.size() == before && status_) return std::nullopt;
  }
}

std::optional<std::string> process::line_containing(const std::string& text,
                                                    std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto next = line(std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now()));
    if (!next) return std::nullopt;
    if (next->find(text) != std::string::npos) return next;
  }
  return std::nullopt;
}

std::string process::err() {
  read_available(err_, err_buffer_, std::chrono::milliseconds(0));
  return err_buffer_;
}

void process::signal(int sig) { ::kill(pid_, sig); }

std::optional<int> process::wait(std::chrono::milliseconds limit) {
  if (status_) return status_;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (true) {
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      read_available(err_, err_buffer_, std::chrono::milliseconds(0));
      return status_;
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace bcast::test
