// The terminal chat's screen, and the only code that calls ncurses: it sets
// the terminal up (raw keys, keypad, bracketed paste, colours unless told
// not to) and restores it, reads keys without ever waiting longer than
// esc_delay, and draws the layout — the message pane of the current room
// (with a "-- more below --" marker when scrolled up), the user list on the
// right when the terminal is wide enough, the status bar and the input line.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "chat_input.hpp"
#include "chat_model.hpp"

// ncurses' SCREEN, kept out of this header.
struct screen;

namespace bcast::app {

// The user list takes this many columns (with its border) and is shown only
// when the message pane keeps at least min_pane_columns beside it.
inline constexpr int user_list_columns = 19;
inline constexpr int min_pane_columns = 41;

// What the two bottom rows show.
struct screen_bottom {
  std::string status;          // the status bar's text
  std::string prompt;          // before the input ("lobby> ", or a question)
  const std::u32string* input = nullptr;
  std::size_t cursor = 0;      // in code points of *input
};

class chat_screen {
 public:
  // Takes the terminal over; throws std::runtime_error when it cannot.
  explicit chat_screen(bool colour);
  ~chat_screen();
  chat_screen(const chat_screen&) = delete;
  chat_screen& operator=(const chat_screen&) = delete;

  // The next key the terminal sent, or nullopt when none is buffered.
  [[nodiscard]] std::optional<key> read_key();
  // Takes the terminal's new size (after SIGWINCH) and redraws all of it.
  void resize();
  // Draws the current room of `model` and the bottom rows.
  void draw(const chat_model& model, const screen_bottom& bottom);
  // Rows of the message pane (PgUp/PgDn scroll by one less).
  [[nodiscard]] int pane_rows() const;
  // The scroll offset that shows the current room's oldest line on the
  // pane's top row: scrolling further would only show blank rows.
  [[nodiscard]] std::size_t top_offset(const chat_model& model) const;
  void bell();

 private:
  [[nodiscard]] int pane_columns() const;
  void draw_pane(const chat_model& model, int width);
  void draw_users(const chat_model& model, int left);
  void draw_bottom(const screen_bottom& bottom);
  void put_span(const styled_span& span, int extra_attributes);
  [[nodiscard]] short pair_for(int colour);

  ::screen* screen_ = nullptr;
  bool colour_ = false;
  std::map<int, short> pairs_;  // palette colour -> ncurses colour pair
  std::size_t input_from_ = 0;  // first code point of the input shown
};

}  // namespace bcast::app
