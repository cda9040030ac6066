// The terminal chat's slash commands and what it sends: a line to the
// current room, shown with "(pending)" while the broker has not taken it
// (chat_model watches it), private messages and /reply, /join, /leave,
// /rooms, /history, /who, /help and /quit. Lines come from
// client::command::parse; answers from the broker are chat_events.cpp's.
#include <algorithm>

#include "chat_session.hpp"
#include "exit_codes.hpp"

namespace bcast::app {

namespace {
constexpr const char* not_asked = "* not asked: not connected, or 8 questions still wait for the broker's answer";
}  // namespace

namespace command = client::command;

void chat_session::say(const std::string& text) {
  if (text.size() > conn_.max_text()) return refuse_too_long(text.size());
  if (auto why = conn_.why_unsendable(text)) return notice("* not sent: it " + *why);
  const std::string room = model_.current();
  const auto id = conn_.send(text, room);
  const client::message_event own{0, 0, now_ms(), room, self_name(), text};
  std::vector<std::string> lines;
  for (auto& line : client::text_lines(own, style_)) lines.push_back(line + "  (pending)");
  model_.watch_pending(id, room, std::move(lines), conn_.joined(), std::chrono::steady_clock::now());
}

void chat_session::send_private(const std::string& to, const std::string& text) {
  if (auto why = conn_.why_unsendable(text)) return notice("* not sent: it " + *why);
  const auto id = conn_.send_dm(to, text);
  private_sent_[id] = {to, text};
  model_.watch_pending(id, model_.current(),
                       {client::sent_private_line(to, text, now_ms(), style_) + "  (pending)"},
                       conn_.joined(), std::chrono::steady_clock::now());
}

void chat_session::run_command(const command::say& c) { say(c.text); }
void chat_session::run_command(const command::dm& c) { send_private(c.to, c.text); }

void chat_session::run_command(const command::reply& c) {
  if (last_private_from_.empty()) return notice("* nobody has sent you a private message yet");
  send_private(last_private_from_, c.text);
}

void chat_session::run_command(const command::who&) { ask_who(who_purpose::show); }

void chat_session::run_command(const command::join& c) {
  const auto& followed = conn_.rooms();
  if (std::find(followed.begin(), followed.end(), c.room) == followed.end() &&
      !conn_.join_room(c.room)) {
    return notice("* you follow 64 rooms, the most there can be: /leave one first");
  }
  model_.switch_to(c.room);
  notice("* talking in " + c.room);
}

void chat_session::run_command(const command::leave& c) {
  const std::string room = c.room.value_or(model_.current());
  if (!conn_.leave_room(room)) {
    return notice("* you cannot leave " + room + ": it is your only room, or not one of yours");
  }
  model_.unfollow(room);
  notice("* left " + room);
}

void chat_session::run_command(const command::rooms&) {
  std::string line = "* you follow:";
  for (const auto& r : model_.rooms()) line += " " + r + (r == model_.current() ? " (current)" : "");
  notice(line);
  // The broker's answer follows: every live room, to /join.
  if (!conn_.list_rooms()) {
    notice(not_asked);
  }
}

void chat_session::run_command(const command::history& c) {
  if (!conn_.request_history(model_.current(), c.count)) {
    notice("* not sent: not connected to the broker right now");
  }
}

void chat_session::run_command(const command::help&) {
  for (auto& line : command::help_lines()) notice(line);
  notice("keys: PgUp/PgDn scroll, Tab completes, Alt-1..9 or Ctrl-N/Ctrl-P switch rooms");
}

void chat_session::run_command(const command::quit&) { exit_code_ = exit_ok; }
void chat_session::run_command(const command::hint& c) { notice("* " + c.text); }
void chat_session::run_command(const command::nothing&) {}

void chat_session::ask_who(who_purpose purpose) {
  if (!conn_.who()) {
    if (purpose == who_purpose::show) notice(not_asked);
    return;
  }
  who_asked_.push_back(purpose);
}

}  // namespace bcast::app
