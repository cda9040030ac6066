// The terminal chat's session: the state its loop, its keys, its commands
// and its events share, declared once here and defined by owner:
//   chat_terminal.cpp  the loop (waiting on sockets, signals and the
//                      terminal), leaving, and drawing the status bar
//   chat_keys.cpp      keys into edits, pastes and the y/n question
//   chat_commands.cpp  slash commands and what is sent
//   chat_events.cpp    the broker's events into lines of the right room
// What is shown lives in chat_model; the terminal in chat_screen.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "bcast/client/commands.hpp"
#include "bcast/client/connection.hpp"
#include "bcast/client/format.hpp"
#include "chat_input.hpp"
#include "chat_model.hpp"
#include "chat_screen.hpp"
#include "client_cli.hpp"

namespace bcast::app {

class resize_signal;

class chat_session {
 public:
  chat_session(client::connection& conn, const client_args& args, bool colour,
               const stop_signals& signals);
  // Says `line` in the message pane as a notice (before or during run()).
  void notice(std::string line);
  // Runs until the person leaves; returns the exit code.
  int run();

 private:
  // ---- the loop (chat_terminal.cpp) ----
  void loop(const resize_signal& resize);
  std::vector<int> wait(std::chrono::milliseconds timeout, std::span<const int> fds = {});
  [[nodiscard]] std::chrono::milliseconds wait_time() const;
  void flush_unacked();
  [[nodiscard]] std::size_t input_limit() const;
  [[nodiscard]] std::string self_name() const;
  [[nodiscard]] std::string status_text() const;
  void draw();

  // ---- keys and pastes (chat_keys.cpp) ----
  void read_keys();
  void on_key(const key& k);
  void on_edit_key(const key& k);
  void on_control(char32_t c);
  void on_alt(const key& k);
  void insert(const std::u32string& text);
  void complete();
  void submit();
  void refuse_too_long(std::size_t bytes);
  void on_paste(paste p);
  void answer(const key& k);

  // ---- commands (chat_commands.cpp) ----
  void say(const std::string& text);
  void send_private(const std::string& to, const std::string& text);
  void run_command(const client::command::say& c);
  void run_command(const client::command::dm& c);
  void run_command(const client::command::reply& c);
  void run_command(const client::command::who&);
  void run_command(const client::command::join& c);
  void run_command(const client::command::leave& c);
  void run_command(const client::command::rooms&);
  void run_command(const client::command::history& c);
  void run_command(const client::command::help&);
  void run_command(const client::command::quit&);
  void run_command(const client::command::hint& c);
  void run_command(const client::command::nothing&);
  enum class who_purpose { announce, show, silent };
  void ask_who(who_purpose purpose);

  // ---- events (chat_events.cpp) ----
  void show_events();
  void on_event(const client::message_event& m);
  void on_event(const client::direct_event& d);
  void on_event(const client::presence_event& p);
  void on_event(const client::lost_event& l);
  void on_event(const client::history_event& h);
  void on_event(const client::who_event& w);
  void on_event(const client::rooms_event& r);
  void on_event(const client::status_event& s);
  void on_event(const client::ack_event& ack);
  void on_event(const client::error_event& error);
  template <typename event>
  void add_notices(const event& e) {
    for (auto& line : client::text_lines(e, style_)) model_.add_notice(std::move(line));
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
  std::string farewell_;  // said on stderr once the terminal is restored
  std::optional<int> exit_code_;
};

// Wall-clock milliseconds since the Unix epoch (for lines of our own).
[[nodiscard]] std::uint64_t now_ms();

}  // namespace bcast::app
