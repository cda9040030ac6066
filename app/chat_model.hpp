// What the terminal chat shows, without sockets or ncurses: a bounded
// scrollback per followed room, which room is current, unread counts of the
// others, the scroll position, who is online, lines marked pending until
// acknowledged (or, typed while connected, once their ack is overdue),
// completion candidates, and the styled pieces a line made by
// client::text_lines (ANSI SGR colours) is drawn from. The loop in
// chat_terminal fills it; chat_screen draws it.
#pragma once

#include <cstddef>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bcast::app {

// Lines kept per room: a day of a busy room, a few MB at most.
inline constexpr std::size_t scrollback_lines = 5000;
// A line typed while connected shows once it comes back from the broker; if
// no ack came within this, it is shown marked pending (the broker may have
// stopped without the client knowing yet), so the person never types it again.
inline constexpr std::chrono::milliseconds pending_mark_after{700};

enum class line_mark {
  plain,
  highlight,  // a mention of us or a private message to us
  pending,    // typed while disconnected, not acknowledged yet
};

struct pane_line {
  std::string text;  // as client::text_lines made it (may hold SGR colours)
  line_mark mark = line_mark::plain;
  std::uint64_t pending_id = 0;  // for line_mark::pending: the message id
};

// A run of text with one look, from the SGR sequences format.cpp emits.
struct styled_span {
  std::string text;
  bool bold = false;
  bool dim = false;
  int colour = -1;  // 256-colour palette index, -1 for the default
};

// Splits a line into spans at its SGR sequences (ESC [ … m); any other
// escape cannot occur (received text is sanitised) and is kept as text.
[[nodiscard]] std::vector<styled_span> styled_spans(std::string_view line);

// Columns `c` takes on the terminal (wide characters 2, combining 0, a
// character the locale does not know 1).
[[nodiscard]] std::size_t column_width(char32_t c);

// `spans` cut into rows of at most `width` columns (a wide character is
// never split); at least one row.
[[nodiscard]] std::vector<std::vector<styled_span>> wrap_spans(const std::vector<styled_span>& spans,
                                                               std::size_t width);

// True when `text` names `name` as a word of its own (any case): "hi Bob!"
// mentions bob, "bobby" does not.
[[nodiscard]] bool mentions(std::string_view text, std::string_view name);

class chat_model {
 public:
  explicit chat_model(const std::vector<std::string>& rooms);

  // The rooms followed, in order, and the one being looked at.
  [[nodiscard]] const std::vector<std::string>& rooms() const { return rooms_; }
  [[nodiscard]] const std::string& current() const { return current_; }
  // Follows `room` (if new) and looks at it: its unread count is cleared.
  void switch_to(const std::string& room);
  // Looks at the room `step` places on (Ctrl-N: 1, Ctrl-P: -1), cyclically.
  void switch_by(int step);
  // Stops following `room` and drops its lines; the first room becomes current if it was.
  void unfollow(const std::string& room);

  // A message line for `room`: counted unread unless `room` is current.
  void add_message(const std::string& room, std::string text, line_mark mark = line_mark::plain);
  // A notice (status, answers to commands): shown in the current room.
  void add_notice(std::string text, line_mark mark = line_mark::plain);
  // A line of ours typed while disconnected, until settle(id).
  void add_pending(const std::string& room, std::string text, std::uint64_t id);
  // The lines of message `id`, sent at `now`: shown pending at once when not
  // `connected`, else only if no settle(id) came by now + pending_mark_after
  // (mark_overdue).
  void watch_pending(std::uint64_t id, const std::string& room, std::vector<std::string> lines,
                     bool connected, std::chrono::steady_clock::time_point now);
  // Shows the watched lines whose time passed as pending; returns true when
  // it showed any.
  bool mark_overdue(std::chrono::steady_clock::time_point now);
  // Message `id` was acknowledged or refused: its pending lines go, and a
  // watch on them ends.
  void settle(std::uint64_t id);
  [[nodiscard]] const std::deque<pane_line>& lines(const std::string& room) const;
  [[nodiscard]] std::size_t unread(const std::string& room) const;

  // Scrolls the current room's view `rows` lines up (negative: down).
  void scroll(long rows);
  // Scrolls down to `most` lines below the view if it is further up (the
  // screen knows how many lines fill it).
  void limit_scroll(std::size_t most) { offset_ = std::min(offset_, most); }
  // Lines of the current room below the view (0: at the bottom).
  [[nodiscard]] std::size_t scroll_offset() const { return offset_; }

  // Who is online: the answer to `who`, then joins and leaves.
  void set_users(std::vector<std::string> names);
  void user_joined(const std::string& name) { users_.insert(name); }
  void user_left(const std::string& name) { users_.erase(name); }
  [[nodiscard]] const std::set<std::string>& users() const { return users_; }

  // Completions for `word`: slash commands for a first word starting with
  // '/', room names after /join and /leave, else names of who is online.
  // `before` is what the line holds before the word.
  [[nodiscard]] std::vector<std::string> completions(std::string_view word,
                                                     std::string_view before) const;

 private:
  struct room_view {
    std::deque<pane_line> lines;
    std::size_t unread = 0;
  };
  void append(room_view& view, pane_line line, bool current);

  std::vector<std::string> rooms_;
  std::string current_;
  std::map<std::string, room_view, std::less<>> views_;
  std::size_t offset_ = 0;
  std::set<std::string> users_;
  // Messages sent while connected, not acked yet: shown pending when `due`.
  struct overdue_watch {
    std::chrono::steady_clock::time_point due;
    std::string room;
    std::vector<std::string> lines;
  };
  std::map<std::uint64_t, overdue_watch> watched_;
};

}  // namespace bcast::app
