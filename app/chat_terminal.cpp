// The terminal chat's loop: it waits on the broker's sockets, the stop
// signals, SIGWINCH and the terminal together, hands keys to chat_keys.cpp
// and events to chat_events.cpp, shows overdue lines as pending, leaves
// when told to, and redraws once per turn (the status bar is made here).
// The input history lives in $XDG_STATE_HOME/broadcast-server/history.
#include "chat_terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "bcast/proto/endpoint.hpp"
#include "chat_session.hpp"
#include "exit_codes.hpp"
#include "state_dir.hpp"

namespace bcast::app {
namespace {

// Lines of input history kept on disk.
constexpr std::size_t history_lines = 1000;
// The input line (and a paste) holds at most this many times the broker's
// max_text: enough to see how much too long a text is and trim it, while a
// 1 MiB paste costs 16 KiB (at the default 4 KiB max_text), not 1 MiB.
constexpr std::size_t input_limit_factor = 4;
// The longest wait when nothing happens (timers are checked after it).
constexpr std::chrono::milliseconds idle_wait{100};
// After /quit, what was typed just before still gets this long to be acked.
constexpr std::chrono::seconds flush_time{1};

}  // namespace

// SIGWINCH as a readable fd. A handler writing to a pipe, not a signalfd:
// ZeroMQ's threads, started before us, do not block SIGWINCH, so a signalfd
// could miss it; the handler runs in whichever thread gets it.
class resize_signal {
 public:
  resize_signal() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    struct sigaction action{};
    action.sa_handler = &resize_signal::on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGWINCH, &action, &previous_);
  }
  ~resize_signal() {
    ::sigaction(SIGWINCH, &previous_, nullptr);
    ::close(write_fd_.exchange(-1));
    ::close(read_fd_);
  }
  resize_signal(const resize_signal&) = delete;
  resize_signal& operator=(const resize_signal&) = delete;
  [[nodiscard]] int fd() const { return read_fd_; }
  void drain() const {
    char buffer[64];
    while (::read(read_fd_, buffer, sizeof buffer) > 0) {
    }
  }

 private:
  static void on_signal(int) {
    const int saved = errno;
    const char byte = 1;
    if (const int fd = write_fd_.load(); fd >= 0) (void)!::write(fd, &byte, 1);
    errno = saved;
  }
  static inline std::atomic<int> write_fd_{-1};
  int read_fd_ = -1;
  struct sigaction previous_{};
};

std::uint64_t now_ms() { return static_cast<std::uint64_t>(std::time(nullptr)) * 1000; }

chat_session::chat_session(client::connection& conn, const client_args& args, bool colour,
                           const stop_signals& signals)
    : conn_(conn),
      args_(args),
      signals_(signals),
      colour_(colour),
      endpoint_(proto::resolve_endpoint(args.in, args.host).value_or(args.in)),
      model_(conn.rooms()),
      esc_(esc_delay),
      paste_(input_limit()),
      editor_(input_limit(), history_lines),
      history_file_(state_file("history")) {
  style_.colour = colour;
  state_ = "connecting to " + endpoint_ + "…";
  if (!history_file_.empty()) editor_.load_history(read_history_file(history_file_));
}

int chat_session::run() {
  {
    resize_signal resize;  // before the screen, so ncurses keeps our handler
    chat_screen screen(colour_);
    screen_ = &screen;
    loop(resize);
    if (*exit_code_ == exit_ok) flush_unacked();
    screen_ = nullptr;
  }
  if (!farewell_.empty()) std::fprintf(stderr, "broadcast-server: %s\n", farewell_.c_str());
  if (!history_file_.empty()) write_history_file(history_file_, editor_.history(), history_lines);
  return *exit_code_;
}

void chat_session::loop(const resize_signal& resize) {
  const auto started = std::chrono::steady_clock::now();
  draw();
  while (!exit_code_) {
    const std::vector<int> fds{signals_.fd(), resize.fd(), STDIN_FILENO};
    bool keys = input_backlog_;
    for (const int fd : wait(wait_time(), fds)) {
      if (fd == signals_.fd()) {
        exit_code_ = exit_ok;
      } else if (fd == resize.fd()) {
        resize.drain();
        screen_->resize();
        dirty_ = true;
      } else {
        keys = true;
      }
    }
    if (keys && !exit_code_) read_keys();
    if (const auto lone = esc_.expire(input_clock::now())) on_key(*lone);
    show_events();
    if (model_.mark_overdue(std::chrono::steady_clock::now())) dirty_ = true;
    if (!conn_.ever_connected() && std::chrono::steady_clock::now() - started > timeout_of(args_)) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", args_.timeout_s);
      farewell_ = "no answer from the broker at " + endpoint_ + " within " + seconds + " s";
      exit_code_ = exit_unreachable;
    }
    if (dirty_) draw();
  }
}

// conn_.wait(), where a SIGWINCH that interrupted the poll is a wake-up
// like any other (its byte is in the resize pipe), not an error.
std::vector<int> chat_session::wait(std::chrono::milliseconds timeout, std::span<const int> fds) {
  try {
    return conn_.wait(timeout, fds);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    return {};
  }
}

std::chrono::milliseconds chat_session::wait_time() const {
  if (input_backlog_) return std::chrono::milliseconds(0);
  if (const auto deadline = esc_.deadline()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - input_clock::now());
    return std::clamp(left, std::chrono::milliseconds(0), idle_wait);
  }
  return idle_wait;
}

// What was typed just before leaving still goes out: wait a moment for
// the acks (the session ends with bye either way).
void chat_session::flush_unacked() {
  const auto until = std::chrono::steady_clock::now() + flush_time;
  while (conn_.joined() && conn_.unacked() > 0 && std::chrono::steady_clock::now() < until) {
    wait(std::chrono::milliseconds(50));
    while (conn_.next_event()) {
    }
  }
}

std::size_t chat_session::input_limit() const { return input_limit_factor * conn_.max_text(); }

void chat_session::notice(std::string line) {
  model_.add_notice(style_.colour ? "\x1b[2m" + line + "\x1b[0m" : std::move(line));
  dirty_ = true;
}

std::string chat_session::self_name() const { return conn_.name().empty() ? args_.name : conn_.name(); }

std::string chat_session::status_text() const {
  std::string text = " " + self_name() + " | " + model_.current() + " | " + state_;
  std::string unread;
  for (const auto& room : model_.rooms()) {
    const std::size_t n = room == model_.current() ? 0 : model_.unread(room);
    if (n > 0) unread += " " + room + " (" + std::to_string(n) + ")";
  }
  if (!unread.empty()) text += " | unread:" + unread;
  if (conn_.unacked() > 0) text += " | " + std::to_string(conn_.unacked()) + " pending";
  return text;
}

void chat_session::draw() {
  screen_bottom bottom;
  bottom.status = status_text();
  if (question_) {
    bottom.prompt = "send " + std::to_string(question_->lines) + " lines as one message? (y/n) ";
  } else {
    bottom.prompt = model_.current() + "> ";
    bottom.input = &editor_.chars();
    bottom.cursor = editor_.cursor();
  }
  screen_->draw(model_, bottom);
  dirty_ = false;
}

int run_chat_terminal(client::connection& conn, const client_args& args, bool colour,
                      const stop_signals& signals, const std::vector<std::string>& notices) {
  std::setlocale(LC_ALL, "");
  chat_session session(conn, args, colour, signals);
  for (const auto& line : notices) session.notice("* " + line);
  return session.run();
}

}  // namespace bcast::app
