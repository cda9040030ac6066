// Terminal chat on libedit's readline interface in callback mode: the event
// loop polls the broker's sockets, the signal fd and the terminal together,
// hands terminal bytes to libedit one read at a time, and prints incoming
// lines above the prompt by clearing the input block, printing, and asking
// libedit to redraw it. The input history lives in
// $XDG_STATE_HOME/broadcast-server/history (~/.local/state/… by default).
#include "chat_terminal.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <editline/readline.h>
#include <map>
#include <optional>

#include "bcast/client/commands.hpp"
#include "exit_codes.hpp"
#include "state_dir.hpp"

namespace bcast::app {
namespace {

namespace command = client::command;

// Lines of input history kept on disk.
constexpr int history_lines = 1000;

// Columns `text` takes on the terminal (wide characters count two).
std::size_t display_width(std::string_view text) {
  std::mbstate_t state{};
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    wchar_t wc = 0;
    const std::size_t n = std::mbrtowc(&wc, text.data() + i, text.size() - i, &state);
    if (n == 0 || n > text.size() - i) break;
    const int w = ::wcwidth(wc);
    width += w > 0 ? static_cast<std::size_t>(w) : 0;
    i += n;
  }
  return width;
}

std::size_t terminal_columns() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// SIGWINCH as a readable fd, so a resize is handled between reads.
class resize_signal {
 public:
  resize_signal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~resize_signal() {
    if (fd_ >= 0) ::close(fd_);
  }
  resize_signal(const resize_signal&) = delete;
  resize_signal& operator=(const resize_signal&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  void drain() const {
    signalfd_siginfo info{};
    while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
  }

 private:
  int fd_ = -1;
};

class chat {
 public:
  chat(client::connection& conn, const client_args& args, bool colour)
      : conn_(conn), args_(args), history_file_(state_file("history")) {
    style_.colour = colour;
    current_room_ = conn.rooms().front();
  }

  int run(const stop_signals& signals) {
    using_history();
    stifle_history(history_lines);
    if (!history_file_.empty()) read_history(history_file_.c_str());
    active_ = this;
    prompt_ = prompt_text();
    rl_callback_handler_install(prompt_.c_str(), &chat::on_line_callback);
    resize_signal resize;
    const auto started = std::chrono::steady_clock::now();
    while (!exit_code_) {
      std::vector<int> fds{signals.fd(), resize.fd(), STDIN_FILENO};
      for (const int fd : conn_.wait(std::chrono::milliseconds(100), fds)) {
        if (fd == signals.fd()) {
          exit_code_ = exit_ok;
        } else if (fd == resize.fd()) {
          resize.drain();
          rl_resize_terminal();
        } else {
          rl_callback_read_char();
        }
      }
      show_events();
      if (!conn_.ever_connected() && std::chrono::steady_clock::now() - started > timeout_of(args_)) {
        print({"* no answer from the broker within the timeout"});
        exit_code_ = exit_unreachable;
      }
    }
    rl_callback_handler_remove();
    std::printf("\n");
    flush_unacked();
    if (!history_file_.empty()) write_history(history_file_.c_str());
    active_ = nullptr;
    return *exit_code_;
  }

 private:
  // What was typed just before leaving still goes out: wait a moment for
  // the acks (the session ends with bye either way).
  void flush_unacked() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (conn_.joined() && conn_.unacked() > 0 && std::chrono::steady_clock::now() < until) {
      conn_.wait(std::chrono::milliseconds(50));
      while (conn_.next_event()) {
      }
    }
  }

  static void on_line_callback(char* line) {
    if (active_ != nullptr) active_->on_line(line);
    std::free(line);
  }

  std::string prompt_text() const { return current_room_ + "> "; }

  // Prints `lines` above the prompt and redraws the input line as it was.
  void print(const std::vector<std::string>& lines) {
    if (lines.empty()) return;
    const std::size_t cols = terminal_columns();
    const std::size_t before_cursor =
        display_width(prompt_) + display_width(std::string_view(rl_line_buffer, static_cast<std::size_t>(rl_point)));
    const std::size_t rows_up = before_cursor / cols;
    if (rows_up > 0) std::printf("\x1b[%zuA", rows_up);
    std::printf("\r\x1b[J");
    for (const auto& line : lines) std::printf("%s\r\n", line.c_str());
    std::fflush(stdout);
    rl_forced_update_display();
  }

  void show_events() {
    style_.show_room = conn_.rooms().size() > 1;
    while (auto e = conn_.next_event()) {
      if (const auto* s = std::get_if<client::status_event>(&*e); s && s->what == client::status::joined) {
        style_.self = conn_.name();
        asked_online_ = true;
        conn_.who();
      } else if (const auto* w = std::get_if<client::who_event>(&*e); w && asked_online_) {
        asked_online_ = false;
        print({std::string(style_.colour ? "\x1b[2m" : "") + "— " + std::to_string(w->users.size()) +
               " online —" + (style_.colour ? "\x1b[0m" : "")});
        continue;
      } else if (const auto* error = std::get_if<client::error_event>(&*e)) {
        on_error(*error);
        continue;
      } else if (const auto* ack = std::get_if<client::ack_event>(&*e)) {
        on_ack(*ack);
        continue;
      }
      print(client::text_lines(*e, style_));
    }
  }

  void on_error(const client::error_event& error) {
    if (auto fatal = fatal_exit_code(error)) {
      print({"* " + client::sanitize(error.code) + ": " + client::sanitize(error.reason)});
      exit_code_ = *fatal;
      return;
    }
    std::string what = "message not sent";
    if (error.id) {
      const auto dm = private_sent_.find(*error.id);
      if (dm != private_sent_.end()) {
        what = "private message to " + dm->second.first + " not sent";
        private_sent_.erase(dm);
      }
    }
    print({"* " + what + ": " + client::sanitize(error.code) + ": " + client::sanitize(error.reason)});
  }

  // A private message is not published: show it once the broker took it.
  void on_ack(const client::ack_event& ack) {
    const auto dm = private_sent_.find(ack.id);
    if (dm == private_sent_.end()) return;
    const auto now_ms = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
    print({client::sent_private_line(dm->second.first, dm->second.second, now_ms, style_)});
    private_sent_.erase(dm);
  }

  void on_line(char* raw) {
    if (raw == nullptr) {  // Ctrl-D: libedit echoed "^D" on the prompt row
      std::printf("\r\x1b[2K");
      exit_code_ = exit_ok;
      return;
    }
    const std::string line(raw);
    erase_echoed_line(line);
    if (!line.empty()) add_history(raw);
    // libedit leaves callback (unbuffered) mode before calling us; installing
    // the handler again puts it back, with a fresh, empty line.
    rl_callback_handler_install(prompt_.c_str(), &chat::on_line_callback);
    std::visit([this](const auto& c) { run_command(c); }, command::parse(line));
  }

  // libedit leaves the accepted line on screen; the message comes back from
  // the broker stamped and coloured, so the raw echo goes.
  void erase_echoed_line(const std::string& line) {
    const std::size_t rows = (display_width(prompt_) + display_width(line)) / terminal_columns() + 1;
    std::printf("\x1b[%zuA\r\x1b[J", rows);
    std::fflush(stdout);
  }

  void run_command(const command::say& c) {
    if (auto why = conn_.why_unsendable(c.text)) return print({"* not sent: it " + *why});
    conn_.send(c.text, current_room_);
  }
  void run_command(const command::dm& c) {
    private_sent_[conn_.send_dm(c.to, c.text)] = {c.to, c.text};
  }
  void run_command(const command::who&) {
    if (!conn_.who()) print({"* not sent: not connected to the broker right now"});
  }
  void run_command(const command::join& c) {
    const auto& followed = conn_.rooms();
    if (std::find(followed.begin(), followed.end(), c.room) == followed.end() &&
        !conn_.join_room(c.room)) {
      return print({"* you follow 64 rooms, the most there can be: /leave one first"});
    }
    switch_room(c.room);
  }
  void run_command(const command::leave& c) {
    const std::string room = c.room.value_or(current_room_);
    if (!conn_.leave_room(room)) {
      return print({"* you cannot leave " + room + ": it is your only room, or not one of yours"});
    }
    print({"* left " + room});
    if (room == current_room_) switch_room(conn_.rooms().front());
  }
  void run_command(const command::rooms&) {
    std::string line = "* rooms:";
    for (const auto& r : conn_.rooms()) line += " " + r + (r == current_room_ ? " (current)" : "");
    print({line});
  }
  void run_command(const command::history& c) {
    if (!conn_.request_history(current_room_, c.count)) {
      print({"* not sent: not connected to the broker right now"});
    }
  }
  void run_command(const command::help&) { print(command::help_lines()); }
  void run_command(const command::quit&) { exit_code_ = exit_ok; }
  void run_command(const command::hint& c) { print({"* " + c.text}); }
  void run_command(const command::nothing&) {}

  void switch_room(const std::string& room) {
    current_room_ = room;
    prompt_ = prompt_text();
    rl_set_prompt(prompt_.c_str());
    print({"* talking in " + room});
  }

  static inline chat* active_ = nullptr;
  client::connection& conn_;
  const client_args& args_;
  std::string history_file_;
  client::line_style style_;
  std::string current_room_;
  std::string prompt_;
  bool asked_online_ = false;
  std::map<std::uint64_t, std::pair<std::string, std::string>> private_sent_;  // id -> to, text
  std::optional<int> exit_code_;
};

}  // namespace

int run_chat_terminal(client::connection& conn, const client_args& args, bool colour,
                      const stop_signals& signals) {
  std::setlocale(LC_ALL, "");
  chat session(conn, args, colour);
  return session.run(signals);
}

}  // namespace bcast::app
