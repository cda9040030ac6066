// The terminal chat's events from the broker, turned into lines of the
// right room (worded by client::text_lines): messages (a mention rings the
// bell), private messages, joins and leaves that keep the user list, the
// answers to /who and /history, gaps that could not be repaired, the
// connection's state for the status bar, and acks and refusals that settle
// what was shown pending.
#include <algorithm>
#include <ctime>

#include "chat_session.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

// Today's local midnight in ms since the Unix epoch: older messages show their date.
std::uint64_t start_of_today_ms() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  local.tm_hour = local.tm_min = local.tm_sec = 0;
  return static_cast<std::uint64_t>(std::mktime(&local)) * 1000;
}

}  // namespace

void chat_session::show_events() {
  style_.dated_before_ms = start_of_today_ms();
  while (auto e = conn_.next_event()) {
    std::visit([this](const auto& event) { on_event(event); }, *e);
    dirty_ = true;
  }
}

void chat_session::on_event(const client::message_event& m) {
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

void chat_session::on_event(const client::direct_event& d) {
  last_private_from_ = d.from;
  screen_->bell();
  for (auto& line : client::text_lines(d, style_)) model_.add_notice(std::move(line), line_mark::highlight);
}

void chat_session::on_event(const client::presence_event& p) {
  if (p.joined) {
    model_.user_joined(p.name);
  } else {
    model_.user_left(p.name);
  }
  add_notices(p);
}

void chat_session::on_event(const client::lost_event& l) {
  for (auto& line : client::text_lines(l, style_)) model_.add_message(l.room, std::move(line));
}

void chat_session::on_event(const client::history_event& h) {
  for (auto& line : client::text_lines(h, style_)) model_.add_message(h.room, std::move(line));
}

void chat_session::on_event(const client::who_event& w) {
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

void chat_session::on_event(const client::rooms_event& r) { add_notices(r); }

void chat_session::on_event(const client::status_event& s) {
  using client::status;
  if (s.what == status::joined || s.what == status::reconnected) {
    style_.self = conn_.name();
    editor_.set_limit(input_limit());  // the broker's max_text is known now
    ask_who(s.what == status::joined ? who_purpose::announce : who_purpose::silent);
  }
  if (s.what == status::joined || s.what == status::reconnected ||
      s.what == status::store_accepting || s.what == status::sending_again) {
    state_ = "connected";
  } else if (s.what != status::epoch_reset) {
    state_ = std::string(client::status_name(s.what));
  }
  add_notices(s);
}

// A private message is not published: it is shown once the broker took it.
void chat_session::on_event(const client::ack_event& ack) {
  model_.settle(ack.id);
  told_errors_.clear();  // messages get through again: a new refusal is news
  const auto dm = private_sent_.find(ack.id);
  if (dm == private_sent_.end()) return;
  model_.add_notice(client::sent_private_line(dm->second.first, dm->second.second, now_ms(), style_));
  private_sent_.erase(dm);
}

void chat_session::on_event(const client::error_event& error) {
  if (auto fatal = fatal_exit_code(error)) {
    farewell_ = client::sanitize(error.code) + ": " + client::sanitize(error.reason);
    exit_code_ = *fatal;
    return;
  }
  std::string what = "message not sent";
  if (error.id) {
    model_.settle(*error.id);
    const auto dm = private_sent_.find(*error.id);
    if (dm != private_sent_.end()) {
      what = "private message to " + client::sanitize(dm->second.first) + " not sent";
      private_sent_.erase(dm);
    }
  }
  // A run of refusals for one reason (a full disk, a refused text) is said once.
  if (!told_errors_.insert(error.code).second) return;
  notice("* " + what + ": " + client::sanitize(error.code) + ": " + client::sanitize(error.reason));
}

}  // namespace bcast::app
