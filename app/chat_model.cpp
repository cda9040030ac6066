// The terminal chat's state without sockets or ncurses (see chat_model.hpp).
#include "chat_model.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cwchar>

#include "bcast/client/commands.hpp"
#include "chat_input.hpp"

namespace bcast::app {
namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

// The slash commands, as /help lists them.
std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const auto& line : client::command::help_lines()) {
    if (line.empty() || line.front() != '/' || line.substr(0, 2) == "//") continue;
    names.push_back(line.substr(0, line.find(' ')));
  }
  return names;
}

// Applies one SGR parameter list ("1;38;5;33", "0", "2") to `span`.
void apply_sgr(std::string_view params, styled_span& span) {
  std::vector<int> values;
  for (std::size_t start = 0; start <= params.size();) {
    const std::size_t end = std::min(params.find(';', start), params.size());
    int value = 0;
    std::from_chars(params.data() + start, params.data() + end, value);
    values.push_back(value);
    start = end + 1;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] == 0) {
      span = styled_span{};
    } else if (values[i] == 1) {
      span.bold = true;
    } else if (values[i] == 2) {
      span.dim = true;
    } else if (values[i] == 38 && i + 2 < values.size() && values[i + 1] == 5) {
      span.colour = values[i + 2];
      i += 2;
    }
  }
}

}  // namespace

std::vector<styled_span> styled_spans(std::string_view line) {
  std::vector<styled_span> spans(1);
  for (std::size_t pos = 0; pos < line.size();) {
    const std::size_t esc = line.find("\x1b[", pos);
    const std::size_t end = esc == std::string_view::npos ? std::string_view::npos : line.find('m', esc);
    if (end == std::string_view::npos) {
      spans.back().text.append(line.substr(pos));
      break;
    }
    spans.back().text.append(line.substr(pos, esc - pos));
    styled_span next = spans.back();
    next.text.clear();
    apply_sgr(line.substr(esc + 2, end - esc - 2), next);
    if (spans.back().text.empty()) spans.pop_back();
    spans.push_back(std::move(next));
    pos = end + 1;
  }
  if (spans.size() > 1 && spans.back().text.empty()) spans.pop_back();
  return spans;
}

bool mentions(std::string_view text, std::string_view name) {
  if (name.empty()) return false;
  const auto part_of_name = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  };
  for (std::size_t at = 0; at + name.size() <= text.size(); ++at) {
    if (!starts_with_nocase(text.substr(at), name)) continue;
    const bool starts = at == 0 || !part_of_name(text[at - 1]);
    const std::size_t end = at + name.size();
    if (starts && (end == text.size() || !part_of_name(text[end]))) return true;
  }
  return false;
}

std::size_t column_width(char32_t c) {
  const int w = ::wcwidth(static_cast<wchar_t>(c));
  return w < 0 ? 1 : static_cast<std::size_t>(w);
}

std::vector<std::vector<styled_span>> wrap_spans(const std::vector<styled_span>& spans,
                                                 std::size_t width) {
  std::vector<std::vector<styled_span>> rows(1);
  std::size_t used = 0;
  for (const auto& span : spans) {
    styled_span piece = span;
    piece.text.clear();
    for (const char32_t c : from_utf8(span.text)) {
      const std::size_t w = column_width(c);
      if (used + w > width && used > 0) {
        if (!piece.text.empty()) rows.back().push_back(piece);
        piece.text.clear();
        rows.emplace_back();
        used = 0;
      }
      piece.text += to_utf8(std::u32string_view(&c, 1));
      used += w;
    }
    if (!piece.text.empty()) rows.back().push_back(std::move(piece));
  }
  return rows;
}

chat_model::chat_model(const std::vector<std::string>& rooms) : rooms_(rooms) {
  for (const auto& room : rooms_) views_[room];
  current_ = rooms_.front();
}

void chat_model::switch_to(const std::string& room) {
  if (std::find(rooms_.begin(), rooms_.end(), room) == rooms_.end()) rooms_.push_back(room);
  current_ = room;
  views_[room].unread = 0;
  offset_ = 0;
}

void chat_model::switch_by(int step) {
  const auto at = std::find(rooms_.begin(), rooms_.end(), current_) - rooms_.begin();
  const auto n = static_cast<long>(rooms_.size());
  switch_to(rooms_[static_cast<std::size_t>(((at + step) % n + n) % n)]);
}

void chat_model::unfollow(const std::string& room) {
  const auto it = std::find(rooms_.begin(), rooms_.end(), room);
  if (it == rooms_.end() || rooms_.size() == 1) return;
  rooms_.erase(it);
  views_.erase(room);
  if (current_ == room) switch_to(rooms_.front());
}

void chat_model::append(room_view& view, pane_line line, bool current) {
  view.lines.push_back(std::move(line));
  if (view.lines.size() > scrollback_lines) view.lines.pop_front();
  // Scrolled up, the view stays on the lines being read.
  if (current && offset_ > 0) offset_ = std::min(offset_ + 1, view.lines.size() - 1);
}

void chat_model::add_message(const std::string& room, std::string text, line_mark mark) {
  const bool current = room == current_;
  auto& view = views_[room];
  if (!current) ++view.unread;
  append(view, pane_line{std::move(text), mark, 0}, current);
}

void chat_model::add_notice(std::string text, line_mark mark) {
  append(views_[current_], pane_line{std::move(text), mark, 0}, true);
}

void chat_model::add_pending(const std::string& room, std::string text, std::uint64_t id) {
  append(views_[room], pane_line{std::move(text), line_mark::pending, id}, room == current_);
}

void chat_model::watch_pending(std::uint64_t id, const std::string& room,
                               std::vector<std::string> lines, bool connected,
                               std::chrono::steady_clock::time_point now) {
  if (connected) {
    watched_[id] = {now + pending_mark_after, room, std::move(lines)};
    return;
  }
  for (auto& line : lines) add_pending(room, std::move(line), id);
}

bool chat_model::mark_overdue(std::chrono::steady_clock::time_point now) {
  bool marked = false;
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (it->second.due > now) {
      ++it;
      continue;
    }
    for (auto& line : it->second.lines) add_pending(it->second.room, std::move(line), it->first);
    marked = true;
    it = watched_.erase(it);
  }
  return marked;
}

void chat_model::settle(std::uint64_t id) {
  watched_.erase(id);
  for (auto& [room, view] : views_) {
    const auto it = std::find_if(view.lines.begin(), view.lines.end(), [id](const pane_line& l) {
      return l.mark == line_mark::pending && l.pending_id == id;
    });
    if (it == view.lines.end()) continue;
    view.lines.erase(it);
    if (room == current_ && offset_ >= view.lines.size()) offset_ = view.lines.empty() ? 0 : view.lines.size() - 1;
    return;
  }
}

const std::deque<pane_line>& chat_model::lines(const std::string& room) const {
  static const std::deque<pane_line> none;
  const auto it = views_.find(room);
  return it == views_.end() ? none : it->second.lines;
}

std::size_t chat_model::unread(const std::string& room) const {
  const auto it = views_.find(room);
  return it == views_.end() ? 0 : it->second.unread;
}

void chat_model::scroll(long rows) {
  const std::size_t size = lines(current_).size();
  const long top = size == 0 ? 0 : static_cast<long>(size) - 1;
  offset_ = static_cast<std::size_t>(std::clamp(static_cast<long>(offset_) + rows, 0L, top));
}

void chat_model::set_users(std::vector<std::string> names) {
  users_ = std::set<std::string>(std::make_move_iterator(names.begin()), std::make_move_iterator(names.end()));
}

std::vector<std::string> chat_model::completions(std::string_view word,
                                                 std::string_view before) const {
  std::vector<std::string> out;
  const auto keep = [&](const std::string& candidate) {
    if (starts_with_nocase(candidate, word)) out.push_back(candidate);
  };
  if (before.empty() && !word.empty() && word.front() == '/') {
    for (const auto& name : command_names()) keep(name);
  } else if (before == "/join " || before == "/leave ") {
    for (const auto& room : rooms_) keep(room);
  } else {
    for (const auto& name : users_) keep(name);
  }
  return out;
}

}  // namespace bcast::app
