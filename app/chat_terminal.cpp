// The terminal chat's loop: it waits on the broker's sockets, the stop
// signals, SIGWINCH and the terminal together; reads every key that is
// there without ever blocking (chat_screen), turns keys into edits, pastes
// and commands (chat_input), events into lines of the right room
// (chat_model, worded by client::text_lines), and redraws once per turn.
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
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <system_error>

#include "bcast/client/commands.hpp"
#include "bcast/client/format.hpp"
#include "bcast/proto/endpoint.hpp"
#include "chat_input.hpp"
#include "chat_model.hpp"
#include "chat_screen.hpp"
#include "exit_codes.hpp"
#include "state_dir.hpp"

namespace bcast::app {
namespace {

namespace command = client::command;

// Lines of input history kept on disk.
constexpr std::size_t history_lines = 1000;
// The input line (and a paste) holds at most this many times the broker's
// max_text: enough to see how much too long a text is and trim it, while a
// 1 MiB paste costs 16 KiB (at the default 4 KiB max_text), not 1 MiB.
constexpr std::size_t input_limit_factor = 4;
// Keys handled per loop turn before the broker gets its turn again: a
// 1 MiB paste must not hold up heartbeats (16 Ki keys take ~10 ms).
constexpr std::size_t keys_per_turn = 16384;
// The longest wait when nothing happens (timers are checked after it).
constexpr std::chrono::milliseconds idle_wait{100};
// After /quit, what was typed just before still gets this long to be acked.
constexpr std::chrono::seconds flush_time{1};
// A line typed while connected shows once it comes back from the broker; if
// no ack came within this, it is shown marked pending (the broker may have
// stopped without the client knowing yet), so the person never types it again.
constexpr std::chrono::milliseconds pending_mark_after{700};

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

// Today's local midnight in ms since the Unix epoch: older messages show their date.
std::uint64_t start_of_today_ms() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  local.tm_hour = local.tm_min = local.tm_sec = 0;
  return static_cast<std::uint64_t>(std::mktime(&local)) * 1000;
}

std::uint64_t now_ms() { return static_cast<std::uint64_t>(std::time(nullptr)) * 1000; }

// True when the terminal hung up (stdin at EOF or in error).
bool terminal_gone() {
  pollfd in{STDIN_FILENO, POLLIN, 0};
  return ::poll(&in, 1, 0) == 1 && (in.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

class chat {
 public:
  chat(client::connection& conn, const client_args& args, bool colour, const stop_signals& signals)
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

  int run() {
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

 private:
  void loop(const resize_signal& resize) {
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
      mark_overdue();
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
  std::vector<int> wait(std::chrono::milliseconds timeout, std::span<const int> fds = {}) {
    try {
      return conn_.wait(timeout, fds);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return {};
    }
  }

  std::chrono::milliseconds wait_time() const {
    if (input_backlog_) return std::chrono::milliseconds(0);
    if (const auto deadline = esc_.deadline()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - input_clock::now());
      return std::clamp(left, std::chrono::milliseconds(0), idle_wait);
    }
    return idle_wait;
  }

  // What was typed just before leaving still goes out: wait a moment for
  // the acks (the session ends with bye either way).
  void flush_unacked() {
    const auto until = std::chrono::steady_clock::now() + flush_time;
    while (conn_.joined() && conn_.unacked() > 0 && std::chrono::steady_clock::now() < until) {
      wait(std::chrono::milliseconds(50));
      while (conn_.next_event()) {
      }
    }
  }

  [[nodiscard]] std::size_t input_limit() const { return input_limit_factor * conn_.max_text(); }

  // ---- keys ----------------------------------------------------------------

  void read_keys() {
    input_backlog_ = false;
    std::size_t n = 0;
    for (; n < keys_per_turn && !exit_code_; ++n) {
      const auto k = screen_->read_key();
      if (!k) break;
      for (const key& decoded : esc_.feed(*k, input_clock::now())) on_key(decoded);
    }
    if (n == keys_per_turn) input_backlog_ = true;
    if (n == 0 && terminal_gone()) exit_code_ = exit_ok;
    dirty_ = true;
  }

  void on_key(const key& k) {
    if (paste_.active()) {
      if (k.kind == key_kind::paste_end) return on_paste(paste_.end());
      return paste_.add(k);
    }
    if (k.kind == key_kind::control && k.ch == 'c') {
      exit_code_ = exit_ok;
    } else if (k.kind == key_kind::paste_begin) {
      paste_.set_limit(input_limit());
      paste_.begin();
    } else if (question_) {
      answer(k);
    } else if (k.alt) {
      on_alt(k);
    } else if (k.kind == key_kind::control) {
      on_control(k.ch);
    } else {
      on_edit_key(k);
    }
  }

  void on_edit_key(const key& k) {
    switch (k.kind) {
      case key_kind::text: return insert(std::u32string(1, k.ch));
      case key_kind::enter: return submit();
      case key_kind::backspace: return editor_.backspace();
      case key_kind::del: return editor_.del();
      case key_kind::left: return editor_.left();
      case key_kind::right: return editor_.right();
      case key_kind::home: return editor_.home();
      case key_kind::end: return editor_.end();
      case key_kind::up: return editor_.history_up();
      case key_kind::down: return editor_.history_down();
      case key_kind::page_up:
        model_.scroll(screen_->pane_rows() - 1);
        return model_.limit_scroll(screen_->top_offset(model_));
      case key_kind::page_down: return model_.scroll(1 - screen_->pane_rows());
      case key_kind::tab: return complete();
      default: return;  // Esc, F-keys and the like do nothing here
    }
  }

  void on_control(char32_t c) {
    switch (c) {
      case 'a': return editor_.home();
      case 'e': return editor_.end();
      case 'b': return editor_.left();
      case 'f': return editor_.right();
      case 'u': return editor_.kill_before();
      case 'w': return editor_.kill_word();
      case 'j': return submit();
      case 'n': return model_.switch_by(1);
      case 'p': return model_.switch_by(-1);
      case 'l': return screen_->resize();
      case 'd':
        if (editor_.empty()) {
          exit_code_ = exit_ok;
          return;
        }
        return editor_.del();
      default: return;  // Ctrl-R (no search here) and the rest do nothing
    }
  }

  // Alt-1…Alt-9 look at the n-th followed room; other Alt keys do nothing.
  void on_alt(const key& k) {
    if (k.kind != key_kind::text || k.ch < U'1' || k.ch > U'9') return;
    const auto index = static_cast<std::size_t>(k.ch - U'1');
    if (index < model_.rooms().size()) model_.switch_to(model_.rooms()[index]);
  }

  void insert(const std::u32string& text) {
    const std::size_t dropped = editor_.insert(text);
    if (dropped == 0) return;
    if (dropped_bytes_ == 0) {
      notice("* too long: the input line holds at most " + std::to_string(input_limit()) +
             " bytes; a message at most " + std::to_string(conn_.max_text()));
    }
    dropped_bytes_ += dropped;
  }

  void complete() {
    const bool found = editor_.complete([this](std::string_view word, std::string_view before) {
      return model_.completions(word, before);
    });
    if (!found) screen_->bell();
  }

  void submit() {
    const std::size_t dropped = std::exchange(dropped_bytes_, 0);
    const std::string line = editor_.take();
    if (dropped > 0) return refuse_too_long(line.size() + dropped);
    std::visit([this](const auto& c) { run_command(c); }, command::parse(line));
  }

  void refuse_too_long(std::size_t bytes) {
    notice("* not sent: too long: " + std::to_string(bytes) + " bytes, the most is " +
           std::to_string(conn_.max_text()));
  }

  // ---- pastes ----------------------------------------------------------------

  void on_paste(paste p) {
    if (p.bytes == 0) return;
    if (p.bytes > conn_.max_text()) {
      return notice("* paste not used: too long: " + std::to_string(p.bytes) +
                    " bytes, the most is " + std::to_string(conn_.max_text()));
    }
    if (p.lines <= 1) return insert(from_utf8(p.text));
    question_ = std::move(p);
  }

  void answer(const key& k) {
    const bool yes = k.kind == key_kind::text && (k.ch == U'y' || k.ch == U'Y');
    const bool no = (k.kind == key_kind::text && (k.ch == U'n' || k.ch == U'N')) ||
                    k.kind == key_kind::escape;
    if (!yes && !no) return;
    const paste asked = std::move(*question_);
    question_.reset();
    if (yes) {
      say(asked.text);
    } else {
      notice("* paste of " + std::to_string(asked.lines) + " lines dropped");
    }
  }

  // ---- commands ----------------------------------------------------------------

  void say(const std::string& text) {
    if (text.size() > conn_.max_text()) return refuse_too_long(text.size());
    if (auto why = conn_.why_unsendable(text)) return notice("* not sent: it " + *why);
    const std::string room = model_.current();
    const auto id = conn_.send(text, room);
    const client::message_event own{0, 0, now_ms(), room, self_name(), text};
    std::vector<std::string> lines;
    for (auto& line : client::text_lines(own, style_)) lines.push_back(line + "  (pending)");
    show_pending(id, room, std::move(lines));
  }

  // Shows `lines` for message `id` as pending now when disconnected, else
  // once its ack is overdue (mark_overdue).
  void show_pending(std::uint64_t id, const std::string& room, std::vector<std::string> lines) {
    if (conn_.joined()) {
      unacked_[id] = {std::chrono::steady_clock::now() + pending_mark_after, room, std::move(lines)};
      return;
    }
    for (auto& line : lines) model_.add_pending(room, std::move(line), id);
  }

  void mark_overdue() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = unacked_.begin(); it != unacked_.end();) {
      if (it->second.due > now) {
        ++it;
        continue;
      }
      for (auto& line : it->second.lines) model_.add_pending(it->second.room, std::move(line), it->first);
      dirty_ = true;
      it = unacked_.erase(it);
    }
  }

  void send_private(const std::string& to, const std::string& text) {
    if (auto why = conn_.why_unsendable(text)) return notice("* not sent: it " + *why);
    const auto id = conn_.send_dm(to, text);
    private_sent_[id] = {to, text};
    show_pending(id, model_.current(), {client::sent_private_line(to, text, now_ms(), style_) + "  (pending)"});
  }

  void run_command(const command::say& c) { say(c.text); }
  void run_command(const command::dm& c) { send_private(c.to, c.text); }
  void run_command(const command::reply& c) {
    if (last_private_from_.empty()) return notice("* nobody has sent you a private message yet");
    send_private(last_private_from_, c.text);
  }
  void run_command(const command::who&) { ask_who(who_purpose::show); }
  void run_command(const command::join& c) {
    const auto& followed = conn_.rooms();
    if (std::find(followed.begin(), followed.end(), c.room) == followed.end() &&
        !conn_.join_room(c.room)) {
      return notice("* you follow 64 rooms, the most there can be: /leave one first");
    }
    model_.switch_to(c.room);
    notice("* talking in " + c.room);
  }
  void run_command(const command::leave& c) {
    const std::string room = c.room.value_or(model_.current());
    if (!conn_.leave_room(room)) {
      return notice("* you cannot leave " + room + ": it is your only room, or not one of yours");
    }
    model_.unfollow(room);
    notice("* left " + room);
  }
  void run_command(const command::rooms&) {
    std::string line = "* rooms:";
    for (const auto& r : model_.rooms()) line += " " + r + (r == model_.current() ? " (current)" : "");
    notice(line);
  }
  void run_command(const command::history& c) {
    if (!conn_.request_history(model_.current(), c.count)) {
      notice("* not sent: not connected to the broker right now");
    }
  }
  void run_command(const command::help&) {
    for (auto& line : command::help_lines()) notice(line);
    notice("keys: PgUp/PgDn scroll, Tab completes, Alt-1..9 or Ctrl-N/Ctrl-P switch rooms");
  }
  void run_command(const command::quit&) { exit_code_ = exit_ok; }
  void run_command(const command::hint& c) { notice("* " + c.text); }
  void run_command(const command::nothing&) {}

  enum class who_purpose { announce, show, silent };
  void ask_who(who_purpose purpose) {
    if (!conn_.who()) {
      if (purpose == who_purpose::show) notice("* not sent: not connected to the broker right now");
      return;
    }
    who_asked_.push_back(purpose);
  }

  // ---- events ------------------------------------------------------------------

  void show_events() {
    style_.dated_before_ms = start_of_today_ms();
    while (auto e = conn_.next_event()) {
      std::visit([this](const auto& event) { on_event(event); }, *e);
      dirty_ = true;
    }
  }

  void on_event(const client::message_event& m) {
    const bool mention = m.from != conn_.name() && mentions(m.text, conn_.name());
    if (mention) screen_->bell();
    // A message of several lines (a confirmed paste) reads as several lines.
    client::message_event part = m;
    for (std::size_t start = 0; start <= m.text.size();) {
      const std::size_t end = std::min(m.text.find('\n', start), m.text.size());
      part.text = m.text.substr(start, end - start);
      for (auto& line : client::text_lines(part, style_)) {
        model_.add_message(m.room, std::move(line), mention ? line_mark::highlight : line_mark::plain);
      }
      start = end + 1;
    }
  }
  void on_event(const client::direct_event& d) {
    last_private_from_ = d.from;
    screen_->bell();
    for (auto& line : client::text_lines(d, style_)) model_.add_notice(std::move(line), line_mark::highlight);
  }
  void on_event(const client::presence_event& p) {
    if (p.joined) {
      model_.user_joined(p.name);
    } else {
      model_.user_left(p.name);
    }
    add_notices(p);
  }
  void on_event(const client::lost_event& l) {
    for (auto& line : client::text_lines(l, style_)) model_.add_message(l.room, std::move(line));
  }
  void on_event(const client::history_event& h) {
    for (auto& line : client::text_lines(h, style_)) model_.add_message(h.room, std::move(line));
  }
  void on_event(const client::who_event& w) {
    std::vector<std::string> names;
    for (const auto& user : w.users) names.push_back(user.name);
    model_.set_users(std::move(names));
    const who_purpose purpose = who_asked_.empty() ? who_purpose::show : who_asked_.front();
    if (!who_asked_.empty()) who_asked_.pop_front();
    if (purpose == who_purpose::announce) {
      notice("— " + std::to_string(w.users.size()) + " online —");
    } else if (purpose == who_purpose::show) {
      add_notices(w);
    }
  }
  void on_event(const client::status_event& s) {
    using client::status;
    if (s.what == status::joined || s.what == status::reconnected) {
      style_.self = conn_.name();
      editor_.set_limit(input_limit());  // the broker's max_text is known now
      ask_who(s.what == status::joined ? who_purpose::announce : who_purpose::silent);
    }
    if (s.what == status::joined || s.what == status::reconnected || s.what == status::store_accepting) {
      state_ = "connected";
    } else if (s.what != status::epoch_reset) {
      state_ = std::string(client::status_name(s.what));
    }
    add_notices(s);
  }
  // A private message is not published: it is shown once the broker took it.
  void on_event(const client::ack_event& ack) {
    unacked_.erase(ack.id);
    model_.settle(ack.id);
    told_errors_.clear();  // messages get through again: a new refusal is news
    const auto dm = private_sent_.find(ack.id);
    if (dm == private_sent_.end()) return;
    model_.add_notice(client::sent_private_line(dm->second.first, dm->second.second, now_ms(), style_));
    private_sent_.erase(dm);
  }
  void on_event(const client::error_event& error) {
    if (auto fatal = fatal_exit_code(error)) {
      farewell_ = client::sanitize(error.code) + ": " + client::sanitize(error.reason);
      exit_code_ = *fatal;
      return;
    }
    std::string what = "message not sent";
    if (error.id) {
      unacked_.erase(*error.id);
      model_.settle(*error.id);
      const auto dm = private_sent_.find(*error.id);
      if (dm != private_sent_.end()) {
        what = "private message to " + client::sanitize(dm->second.first) + " not sent";
        private_sent_.erase(dm);
      }
    }
    // A run of refusals for one reason (rate limit, full disk) is said once.
    if (!told_errors_.insert(error.code).second) return;
    notice("* " + what + ": " + client::sanitize(error.code) + ": " + client::sanitize(error.reason));
  }

  template <typename event>
  void add_notices(const event& e) {
    for (auto& line : client::text_lines(e, style_)) model_.add_notice(std::move(line));
  }

  void notice(std::string line) {
    model_.add_notice(style_.colour ? "\x1b[2m" + line + "\x1b[0m" : std::move(line));
    dirty_ = true;
  }

  // ---- drawing ----------------------------------------------------------------

  [[nodiscard]] std::string self_name() const { return conn_.name().empty() ? args_.name : conn_.name(); }

  [[nodiscard]] std::string status_text() const {
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

  void draw() {
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

  client::connection& conn_;
  const client_args& args_;
  const stop_signals& signals_;
  bool colour_;
  std::string endpoint_;  // the broker's request endpoint, as the user is told
  chat_screen* screen_ = nullptr;
  chat_model model_;
  esc_prefix esc_;
  paste_collector paste_;
  line_editor editor_;
  std::string history_file_;
  client::line_style style_;
  std::string state_;  // the connection as the status bar says it
  std::optional<paste> question_;  // a multi-line paste waiting for y/n
  std::size_t dropped_bytes_ = 0;  // typed past the input limit on this line
  bool input_backlog_ = false;     // keys_per_turn reached: more may be buffered
  bool dirty_ = true;
  std::deque<who_purpose> who_asked_;
  std::set<std::string> told_errors_;
  std::string last_private_from_;
  std::map<std::uint64_t, std::pair<std::string, std::string>> private_sent_;  // id -> to, text
  // Messages sent while connected, not acked yet: shown pending when `due`.
  struct overdue_watch {
    std::chrono::steady_clock::time_point due;
    std::string room;
    std::vector<std::string> lines;
  };
  std::map<std::uint64_t, overdue_watch> unacked_;
  std::string farewell_;  // said on stderr once the terminal is restored
  std::optional<int> exit_code_;
};

}  // namespace

int run_chat_terminal(client::connection& conn, const client_args& args, bool colour,
                      const stop_signals& signals) {
  std::setlocale(LC_ALL, "");
  chat session(conn, args, colour, signals);
  return session.run();
}

}  // namespace bcast::app
