// The input side of the terminal chat, free of ncurses so it can be tested:
// the keys (chat_screen turns what wget_wch returns into them), Alt as an
// ESC prefix resolved by time, bracketed paste collected as one bounded
// unit, the line editor with its bounded buffer, input history and tab
// completion, and the history file. Drawing is chat_screen's.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bcast::app {

enum class key_kind {
  text,         // a printable character in `ch`
  control,      // Ctrl-<ch>, ch in 'a'..'z' (Tab, Enter, Backspace have their own)
  enter,
  backspace,
  del,
  left,
  right,
  home,
  end,
  up,
  down,
  page_up,
  page_down,
  tab,
  escape,
  paste_begin,  // ESC [ 200 ~ (bracketed paste)
  paste_end,    // ESC [ 201 ~
  other,        // F-keys, Insert, mouse…: decoded and ignored
};

struct key {
  key_kind kind = key_kind::other;
  char32_t ch = 0;
  bool alt = false;  // ESC came just before (Alt-x)
};

using input_clock = std::chrono::steady_clock;

// How long an ESC waits for the rest of a key (Alt-x, an arrow's ESC [ D):
// terminals send a key's bytes in one write, so 25 ms is plenty, and short
// enough that a lone Esc never feels slow (ncurses' default is 1 s).
inline constexpr std::chrono::milliseconds esc_delay{25};

// Turns a lone ESC followed quickly by a key into Alt-key, and a lone ESC
// followed by nothing into Esc once `delay` passed: the caller's loop calls
// expire() when deadline() is reached, nobody waits for the next byte. An
// escape sequence ncurses did not decode (ESC [ 2 5 ~, ESC O P) is read
// here as one key_kind::other, never typed as text; the keys that mean
// something are all decoded by ncurses (chat_screen's key_sequences).
class esc_prefix {
 public:
  explicit esc_prefix(std::chrono::milliseconds delay) : delay_(delay) {}
  // The keys `k` completes, oldest first (none while an ESC waits).
  [[nodiscard]] std::vector<key> feed(key k, input_clock::time_point now);
  // The lone Esc, once its delay passed; nullopt otherwise.
  [[nodiscard]] std::optional<key> expire(input_clock::time_point now);
  // When a waiting ESC becomes a lone Esc; nullopt when none waits.
  [[nodiscard]] std::optional<input_clock::time_point> deadline() const;

 private:
  enum class state { idle, esc, csi, ss3 };
  // The keys that end (or break) an unknown sequence after ESC [ or ESC O.
  std::vector<key> feed_sequence(key k, input_clock::time_point now);

  std::chrono::milliseconds delay_;
  state state_ = state::idle;
  input_clock::time_point since_{};
  std::size_t sequence_length_ = 0;  // parameter bytes of the CSI being read
};

// A bracketed paste, collected as one unit: newlines kept, other control
// characters dropped, at most `limit_bytes` kept while every byte is counted.
struct paste {
  std::string text;        // UTF-8, lines joined by '\n', trailing newlines dropped
  std::size_t bytes = 0;   // the whole paste's size, kept or not
  std::size_t lines = 0;
  [[nodiscard]] bool cut() const { return bytes > text.size(); }
};

class paste_collector {
 public:
  explicit paste_collector(std::size_t limit_bytes) : limit_(limit_bytes) {}
  [[nodiscard]] bool active() const { return active_; }
  void begin();
  // Adds one key typed (pasted) between paste_begin and paste_end.
  void add(const key& k);
  // Ends the paste and returns it.
  [[nodiscard]] paste end();
  void set_limit(std::size_t limit_bytes) { limit_ = limit_bytes; }

 private:
  void append(char32_t c);
  std::size_t limit_;
  bool active_ = false;
  bool after_cr_ = false;
  paste current_;
};

// Candidates for completing `word` (the word before the cursor), given
// what the line holds before it (empty for the first word).
using completion_source =
    std::function<std::vector<std::string>(std::string_view word, std::string_view before)>;

// The line being typed: code points with a cursor, bounded in UTF-8 bytes,
// with Up/Down through earlier lines and Tab cycling through completions.
class line_editor {
 public:
  explicit line_editor(std::size_t limit_bytes, std::size_t history_limit);

  // Inserts `text` at the cursor; returns the bytes that did not fit (0 when all did).
  std::size_t insert(std::u32string_view text);
  void backspace();
  void del();
  void left();
  void right();
  void home() { cursor_ = 0; }
  void end() { cursor_ = line_.size(); }
  void kill_before();  // Ctrl-U
  void kill_word();    // Ctrl-W: the word before the cursor
  void history_up();
  void history_down();
  // Replaces the word before the cursor by the next candidate (cycling on
  // repeated calls); returns false when there is none.
  bool complete(const completion_source& source);
  // The line as UTF-8; it is cleared and (unless empty) added to the history.
  [[nodiscard]] std::string take();
  void clear();

  [[nodiscard]] const std::u32string& chars() const { return line_; }
  [[nodiscard]] std::size_t cursor() const { return cursor_; }
  [[nodiscard]] bool empty() const { return line_.empty(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  void set_limit(std::size_t limit_bytes) { limit_ = limit_bytes; }

  void load_history(const std::vector<std::string>& lines);
  [[nodiscard]] std::vector<std::string> history() const;

 private:
  void set_line(std::u32string line);
  void edited() { completing_ = false; }
  void remember(std::u32string line);

  std::u32string line_;
  std::size_t cursor_ = 0;
  std::size_t bytes_ = 0;
  std::size_t limit_;
  std::size_t history_limit_;
  std::vector<std::u32string> history_;
  std::size_t history_at_ = 0;  // == history_.size(): the draft
  std::u32string draft_;
  // Tab cycling: the candidates for the word as it was first typed.
  bool completing_ = false;
  std::vector<std::string> candidates_;
  std::size_t candidate_ = 0;
  std::size_t word_start_ = 0;
};

// UTF-8 <-> code points (invalid bytes become U+FFFD).
[[nodiscard]] std::string to_utf8(std::u32string_view text);
[[nodiscard]] std::u32string from_utf8(std::string_view text);

// The input history file: one line per entry, oldest first. A file written
// by libedit (earlier versions: "_HiStOrY_V2_" and octal escapes) is read too.
[[nodiscard]] std::vector<std::string> read_history_file(const std::string& path);
// Writes the newest `limit` lines (none with a newline); false on failure.
bool write_history_file(const std::string& path, const std::vector<std::string>& lines,
                        std::size_t limit);

}  // namespace bcast::app
