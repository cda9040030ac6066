// The terminal chat's ncurses screen (see chat_screen.hpp).
#include "chat_screen.hpp"

#include <curses.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace bcast::app {
namespace {

// Key codes of our own for the bracketed-paste markers, above ncurses' own.
constexpr int paste_begin_code = KEY_MAX + 1;
constexpr int paste_end_code = KEY_MAX + 2;

// xterm's bracketed paste mode: a paste arrives between ESC[200~ and ESC[201~.
constexpr const char* paste_mode_on = "\x1b[?2004h";
constexpr const char* paste_mode_off = "\x1b[?2004l";

// Editing keys as terminals send them in either cursor mode, whatever
// terminfo names for this TERM (tmux sends Home as ESC [ 1 ~ under an xterm
// TERM whose terminfo says ESC O H): ncurses decodes them all, so
// decode_code is the one place where a key gets its meaning. A sequence
// nobody defines reaches esc_prefix, which drops it as one ignored key.
constexpr std::pair<const char*, int> key_sequences[] = {
    {"\x1b[A", KEY_UP},     {"\x1bOA", KEY_UP},     {"\x1b[B", KEY_DOWN},   {"\x1bOB", KEY_DOWN},
    {"\x1b[C", KEY_RIGHT},  {"\x1bOC", KEY_RIGHT},  {"\x1b[D", KEY_LEFT},   {"\x1bOD", KEY_LEFT},
    {"\x1b[H", KEY_HOME},   {"\x1bOH", KEY_HOME},   {"\x1b[1~", KEY_HOME},  {"\x1b[7~", KEY_HOME},
    {"\x1b[F", KEY_END},    {"\x1bOF", KEY_END},    {"\x1b[4~", KEY_END},   {"\x1b[8~", KEY_END},
    {"\x1b[3~", KEY_DC},    {"\x1b[5~", KEY_PPAGE}, {"\x1b[6~", KEY_NPAGE},
    {"\x1b[200~", paste_begin_code}, {"\x1b[201~", paste_end_code},
};

key decode_char(wint_t c) {
  if (c == 27) return key{key_kind::escape};
  if (c == '\r') return key{key_kind::enter};
  if (c == '\t') return key{key_kind::tab};
  if (c == 127 || c == 8) return key{key_kind::backspace};
  if (c >= 1 && c <= 26) return key{key_kind::control, static_cast<char32_t>('a' + c - 1)};
  if (c < 0x20 || (c >= 0x80 && c <= 0x9F)) return key{key_kind::other};
  return key{key_kind::text, static_cast<char32_t>(c)};
}

key decode_code(wint_t code) {
  switch (code) {
    case KEY_ENTER: return key{key_kind::enter};
    case KEY_BACKSPACE: return key{key_kind::backspace};
    case KEY_DC: return key{key_kind::del};
    case KEY_LEFT: return key{key_kind::left};
    case KEY_RIGHT: return key{key_kind::right};
    case KEY_UP: return key{key_kind::up};
    case KEY_DOWN: return key{key_kind::down};
    case KEY_HOME: return key{key_kind::home};
    case KEY_END: return key{key_kind::end};
    case KEY_PPAGE: return key{key_kind::page_up};
    case KEY_NPAGE: return key{key_kind::page_down};
    case paste_begin_code: return key{key_kind::paste_begin};
    case paste_end_code: return key{key_kind::paste_end};
    default: return key{key_kind::other};  // F-keys, Insert, KEY_RESIZE, mouse…
  }
}

std::wstring wide(std::string_view utf8) {
  std::wstring out;
  for (const char32_t c : from_utf8(utf8)) out += static_cast<wchar_t>(c);
  return out;
}

// The start of `text` that fits in `columns` (whole characters only).
std::string fit_columns(std::string_view text, std::size_t columns) {
  std::u32string fits;
  std::size_t used = 0;
  for (const char32_t c : from_utf8(text)) {
    used += column_width(c);
    if (used > columns) break;
    fits += c;
  }
  return to_utf8(fits);
}

// The terminal's size from the kernel (ncurses' LINES/COLS lag behind a SIGWINCH).
std::pair<int, int> terminal_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0) {
    return {size.ws_row, size.ws_col};
  }
  return {LINES, COLS};
}

}  // namespace

chat_screen::chat_screen(bool colour) {
  set_escdelay(static_cast<int>(esc_delay.count()));
  screen_ = newterm(nullptr, stdout, stdin);
  if (screen_ == nullptr) {
    const char* term = std::getenv("TERM");
    throw std::runtime_error("TERM=" + std::string(term != nullptr ? term : "") +
                             " is no terminal type ncurses knows (try TERM=xterm-256color)");
  }
  raw();  // Ctrl-C and Ctrl-D are keys here, read like any other
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  for (const auto& [sequence, code] : key_sequences) define_key(sequence, code);
  if (colour && has_colors()) {
    start_color();
    use_default_colors();
    colour_ = COLORS >= 256;
  }
  putp(paste_mode_on);
  std::fflush(stdout);
}

chat_screen::~chat_screen() {
  putp(paste_mode_off);
  endwin();
  delscreen(screen_);
  // Out of the alternate screen now, not at exit: what is printed after
  // (a reason on stderr) must land on the normal screen.
  std::fflush(stdout);
}

std::optional<key> chat_screen::read_key() {
  wint_t c = 0;
  const int rc = wget_wch(stdscr, &c);
  if (rc == ERR) return std::nullopt;
  return rc == KEY_CODE_YES ? decode_code(c) : decode_char(c);
}

void chat_screen::resize() {
  const auto [rows, cols] = terminal_size();
  resizeterm(rows, cols);
  clearok(curscr, TRUE);
}

int chat_screen::pane_rows() const { return std::max(LINES - 2, 1); }

int chat_screen::pane_columns() const {
  return COLS - user_list_columns >= min_pane_columns ? COLS - user_list_columns : COLS;
}

std::size_t chat_screen::top_offset(const chat_model& model) const {
  const auto& lines = model.lines(model.current());
  std::size_t rows = 0;
  std::size_t filling = 0;  // the oldest lines that fill the pane
  while (filling < lines.size() && rows < static_cast<std::size_t>(pane_rows())) {
    rows += wrap_spans(styled_spans(lines[filling++].text), static_cast<std::size_t>(pane_columns())).size();
  }
  return lines.size() - filling;
}

void chat_screen::bell() { beep(); }

short chat_screen::pair_for(int colour) {
  const auto it = pairs_.find(colour);
  if (it != pairs_.end()) return it->second;
  const auto pair = static_cast<short>(pairs_.size() + 1);
  if (pair >= COLOR_PAIRS) return 0;
  init_pair(pair, static_cast<short>(colour), -1);
  pairs_[colour] = pair;
  return pair;
}

void chat_screen::put_span(const styled_span& span, int extra_attributes) {
  attr_t attributes = static_cast<attr_t>(extra_attributes);
  if (span.bold) attributes |= A_BOLD;
  if (span.dim) attributes |= A_DIM;
  const short pair = colour_ && span.colour >= 0 ? pair_for(span.colour) : 0;
  attr_set(attributes, pair, nullptr);
  const std::wstring text = wide(span.text);
  addnwstr(text.c_str(), static_cast<int>(text.size()));
  attr_set(A_NORMAL, 0, nullptr);
}

void chat_screen::draw(const chat_model& model, const screen_bottom& bottom) {
  erase();
  const int width = pane_columns();
  draw_pane(model, width);
  if (width < COLS) draw_users(model, width);
  draw_bottom(bottom);
  refresh();
}

void chat_screen::draw_pane(const chat_model& model, int width) {
  const int rows = pane_rows();
  const auto& lines = model.lines(model.current());
  const std::size_t offset = model.scroll_offset();
  // Rows from the bottom up: only the lines that can be seen are wrapped.
  std::vector<std::pair<std::vector<styled_span>, int>> shown;
  for (std::size_t i = lines.size() - std::min(offset, lines.size()); i-- > 0 && std::ssize(shown) < rows;) {
    const auto& line = lines[i];
    const int attributes = line.mark == line_mark::highlight ? A_REVERSE
                           : line.mark == line_mark::pending ? A_DIM
                                                              : A_NORMAL;
    auto wrapped = wrap_spans(styled_spans(line.text), static_cast<std::size_t>(width));
    for (auto row = wrapped.rbegin(); row != wrapped.rend() && std::ssize(shown) < rows; ++row) {
      shown.emplace_back(std::move(*row), attributes);
    }
  }
  int y = rows - 1;
  for (const auto& [spans, attributes] : shown) {
    move(y--, 0);
    for (const auto& span : spans) put_span(span, attributes);
  }
  if (offset > 0) {
    const std::string marker = "-- more below (" + std::to_string(offset) + ") --";
    move(rows - 1, 0);
    clrtoeol();
    put_span(styled_span{marker}, A_REVERSE);
  }
}

void chat_screen::draw_users(const chat_model& model, int left) {
  const int rows = pane_rows();
  // A character, not ACS_VLINE: the alternate character set is one more
  // terminal mode to get wrong, and copy-paste and capture show it as 'x'.
  const wchar_t* border = MB_CUR_MAX > 1 ? L"\u2502" : L"|";
  for (int y = 0; y < rows; ++y) mvaddwstr(y, left, border);
  const int width = user_list_columns - 2;
  const auto& users = model.users();
  move(0, left + 2);
  put_span(styled_span{std::to_string(users.size()) + " online", true}, 0);
  int y = 1;
  for (auto it = users.begin(); it != users.end() && y < rows; ++it, ++y) {
    move(y, left + 2);
    const bool last_row = y == rows - 1 && std::next(it) != users.end();
    const std::string shown = last_row ? "+" + std::to_string(std::distance(it, users.end())) + " more"
                                       : fit_columns(*it, static_cast<std::size_t>(width));
    put_span(styled_span{shown}, 0);
  }
}

void chat_screen::draw_bottom(const screen_bottom& bottom) {
  const int status_row = LINES - 2;
  const int input_row = LINES - 1;
  if (status_row >= 0) {
    move(status_row, 0);
    attr_set(A_REVERSE, 0, nullptr);
    hline(' ', COLS);
    const std::wstring status = wide(bottom.status);
    addnwstr(status.c_str(), std::min(static_cast<int>(status.size()), COLS));
    attr_set(A_NORMAL, 0, nullptr);
  }
  move(input_row, 0);
  const std::wstring prompt = wide(bottom.prompt);
  addnwstr(prompt.c_str(), static_cast<int>(prompt.size()));
  if (bottom.input == nullptr) return;
  const std::u32string& input = *bottom.input;
  // Scrolled sideways just enough that the cursor is on screen, and no
  // further (a window made wider again shows the start of the line).
  const std::size_t room = static_cast<std::size_t>(std::max(COLS - getcurx(stdscr) - 1, 1));
  input_from_ = std::min(input_from_, bottom.cursor);
  std::size_t before = 0;
  for (std::size_t i = input_from_; i < bottom.cursor; ++i) before += column_width(input[i]);
  while (before > room && input_from_ < bottom.cursor) before -= column_width(input[input_from_++]);
  while (input_from_ > 0 && before + column_width(input[input_from_ - 1]) <= room) {
    before += column_width(input[--input_from_]);
  }
  const int cursor_x = getcurx(stdscr) + static_cast<int>(before);
  std::wstring shown;
  std::size_t used = 0;
  for (std::size_t i = input_from_; i < input.size(); ++i) {
    const std::size_t w = column_width(input[i]);
    if (used + w > room) break;
    shown += static_cast<wchar_t>(input[i]);
    used += w;
  }
  addnwstr(shown.c_str(), static_cast<int>(shown.size()));
  move(input_row, cursor_x);
}

}  // namespace bcast::app
