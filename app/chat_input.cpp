// The chat's input line, keys, pastes and history file (see chat_input.hpp).
#include "chat_input.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "bcast/proto/validate.hpp"

namespace bcast::app {
namespace {

constexpr char32_t replacement_char = 0xFFFD;

std::size_t utf8_size(char32_t c) {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c < 0x10000) return 3;
  return 4;
}

std::size_t utf8_size(std::u32string_view text) {
  std::size_t n = 0;
  for (const char32_t c : text) n += utf8_size(c);
  return n;
}

bool is_space(char32_t c) { return c == U' ' || c == U'\t'; }

// libedit's history file escapes spaces and backslashes as \040 and \134.
std::string unescape_libedit(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 3 < line.size() &&
        std::all_of(line.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    line.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((line[i + 1] - '0') * 64 + (line[i + 2] - '0') * 8 + (line[i + 3] - '0'));
      i += 3;
    } else {
      out += line[i];
    }
  }
  return out;
}

// Appends `c` to `out` as UTF-8 (U+FFFD for what is no code point).
void append_utf8(std::string& out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = replacement_char;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) append_utf8(out, c);
  return out;
}

std::u32string from_utf8(std::string_view text) {
  std::u32string out;
  if (!proto::is_valid_utf8(text)) {
    for (const char c : text) out += static_cast<unsigned char>(c) < 0x80 ? static_cast<char32_t>(c) : replacement_char;
    return out;
  }
  for (std::size_t pos = 0; pos < text.size();) out += proto::next_code_point(text, pos);
  return out;
}

// ---- esc_prefix ----------------------------------------------------------

std::vector<key> esc_prefix::feed(key k, input_clock::time_point now) {
  if (state_ == state::csi || state_ == state::ss3) return feed_sequence(k, now);
  std::vector<key> out;
  if (state_ == state::esc) {
    state_ = state::idle;
    if (now - since_ <= delay_ && k.kind == key_kind::text && (k.ch == U'[' || k.ch == U'O')) {
      state_ = k.ch == U'[' ? state::csi : state::ss3;
      sequence_length_ = 0;
      return out;
    }
    if (now - since_ <= delay_ && (k.kind == key_kind::text || k.kind == key_kind::control)) {
      k.alt = true;
      out.push_back(k);
      return out;
    }
    out.push_back(key{key_kind::escape});
  }
  if (k.kind == key_kind::escape) {
    state_ = state::esc;
    since_ = now;
  } else {
    out.push_back(k);
  }
  return out;
}

std::vector<key> esc_prefix::feed_sequence(key k, input_clock::time_point now) {
  // Parameters and intermediates are 0x20-0x3F; a CSI longer than this is garbage.
  constexpr std::size_t longest_sequence = 32;
  const bool inside = k.kind == key_kind::text && k.ch >= 0x20 && k.ch <= 0x3F;
  if (state_ == state::csi && inside && sequence_length_ < longest_sequence) {
    ++sequence_length_;
    return {};
  }
  const bool final_byte = k.kind == key_kind::text && k.ch >= 0x40 && k.ch <= 0x7E;
  state_ = state::idle;
  if (final_byte) return {key{key_kind::other}};
  std::vector<key> out{key{key_kind::other}};
  for (const key& next : feed(k, now)) out.push_back(next);
  return out;
}

std::optional<key> esc_prefix::expire(input_clock::time_point now) {
  if (state_ == state::idle || now - since_ < delay_) return std::nullopt;
  const bool lone = state_ == state::esc;
  state_ = state::idle;
  return key{lone ? key_kind::escape : key_kind::other};
}

std::optional<input_clock::time_point> esc_prefix::deadline() const {
  if (state_ == state::idle) return std::nullopt;
  return since_ + delay_;
}

// ---- paste_collector -------------------------------------------------------

void paste_collector::begin() {
  active_ = true;
  after_cr_ = false;
  current_ = paste{};
}

void paste_collector::append(char32_t c) {
  const std::size_t size = utf8_size(c);
  current_.bytes += size;
  if (current_.bytes <= limit_) append_utf8(current_.text, c);
}

void paste_collector::add(const key& k) {
  const bool cr = k.kind == key_kind::enter || (k.kind == key_kind::control && k.ch == 'm');
  const bool lf = k.kind == key_kind::control && k.ch == 'j';
  if (lf && after_cr_) {  // CR LF is one newline
    after_cr_ = false;
    return;
  }
  after_cr_ = cr;
  if (cr || lf) {
    append(U'\n');
  } else if (k.kind == key_kind::tab) {
    append(U'\t');
  } else if (k.kind == key_kind::text) {
    append(k.ch);
  }
}

paste paste_collector::end() {
  active_ = false;
  paste done = std::move(current_);
  current_ = paste{};
  // Trailing newlines (a copied line usually ends with one) are not content.
  while (!done.text.empty() && done.text.back() == '\n' && done.bytes == done.text.size()) {
    done.text.pop_back();
    --done.bytes;
  }
  done.lines = done.bytes == 0 ? 0 : 1 + static_cast<std::size_t>(std::count(done.text.begin(), done.text.end(), '\n'));
  return done;
}

// ---- line_editor -----------------------------------------------------------

line_editor::line_editor(std::size_t limit_bytes, std::size_t history_limit)
    : limit_(limit_bytes), history_limit_(history_limit) {}

std::size_t line_editor::insert(std::u32string_view text) {
  edited();
  std::size_t dropped = 0;
  std::u32string fits;
  for (const char32_t c : text) {
    const std::size_t size = utf8_size(c);
    if (bytes_ + size > limit_) {
      dropped += size;
      continue;
    }
    bytes_ += size;
    fits += c;
  }
  line_.insert(cursor_, fits);
  cursor_ += fits.size();
  return dropped;
}

void line_editor::backspace() {
  edited();
  if (cursor_ == 0) return;
  --cursor_;
  bytes_ -= utf8_size(line_[cursor_]);
  line_.erase(cursor_, 1);
}

void line_editor::del() {
  edited();
  if (cursor_ == line_.size()) return;
  bytes_ -= utf8_size(line_[cursor_]);
  line_.erase(cursor_, 1);
}

void line_editor::left() {
  edited();
  if (cursor_ > 0) --cursor_;
}

void line_editor::right() {
  edited();
  if (cursor_ < line_.size()) ++cursor_;
}

void line_editor::kill_before() {
  edited();
  bytes_ -= utf8_size(std::u32string_view(line_).substr(0, cursor_));
  line_.erase(0, cursor_);
  cursor_ = 0;
}

void line_editor::kill_word() {
  edited();
  std::size_t start = cursor_;
  while (start > 0 && is_space(line_[start - 1])) --start;
  while (start > 0 && !is_space(line_[start - 1])) --start;
  bytes_ -= utf8_size(std::u32string_view(line_).substr(start, cursor_ - start));
  line_.erase(start, cursor_ - start);
  cursor_ = start;
}

void line_editor::set_line(std::u32string line) {
  line_ = std::move(line);
  bytes_ = utf8_size(line_);
  cursor_ = line_.size();
}

void line_editor::history_up() {
  edited();
  if (history_at_ == 0) return;
  if (history_at_ == history_.size()) draft_ = line_;
  set_line(history_[--history_at_]);
}

void line_editor::history_down() {
  edited();
  if (history_at_ == history_.size()) return;
  ++history_at_;
  set_line(history_at_ == history_.size() ? draft_ : history_[history_at_]);
}

bool line_editor::complete(const completion_source& source) {
  if (!completing_) {
    std::size_t start = cursor_;
    while (start > 0 && !is_space(line_[start - 1])) --start;
    const std::string word = to_utf8(std::u32string_view(line_).substr(start, cursor_ - start));
    candidates_ = source(word, to_utf8(std::u32string_view(line_).substr(0, start)));
    if (candidates_.empty()) return false;
    word_start_ = start;
    candidate_ = 0;
  } else {
    candidate_ = (candidate_ + 1) % candidates_.size();
  }
  // A name completed at the start of the line addresses someone: "bob: ".
  const std::string& chosen = candidates_[candidate_];
  const bool address = word_start_ == 0 && chosen.front() != '/';
  const std::u32string replacement = from_utf8(chosen + (address ? ": " : " "));
  if (utf8_size(std::u32string_view(line_).substr(0, word_start_)) + utf8_size(replacement) +
          utf8_size(std::u32string_view(line_).substr(cursor_)) > limit_) {
    return false;
  }
  line_.replace(word_start_, cursor_ - word_start_, replacement);
  cursor_ = word_start_ + replacement.size();
  bytes_ = utf8_size(line_);
  completing_ = true;
  return true;
}

void line_editor::remember(std::u32string line) {
  if (!history_.empty() && history_.back() == line) return;
  history_.push_back(std::move(line));
  if (history_.size() > history_limit_) history_.erase(history_.begin());
}

std::string line_editor::take() {
  std::string text = to_utf8(line_);
  if (!line_.empty()) remember(line_);
  clear();
  return text;
}

void line_editor::clear() {
  edited();
  line_.clear();
  cursor_ = 0;
  bytes_ = 0;
  draft_.clear();
  history_at_ = history_.size();
}

void line_editor::load_history(const std::vector<std::string>& lines) {
  for (const auto& line : lines) remember(from_utf8(line));
  history_at_ = history_.size();
}

std::vector<std::string> line_editor::history() const {
  std::vector<std::string> out;
  out.reserve(history_.size());
  for (const auto& line : history_) out.push_back(to_utf8(line));
  return out;
}

// ---- the history file ------------------------------------------------------

std::vector<std::string> read_history_file(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  bool libedit = false;
  for (bool first = true; std::getline(in, line); first = false) {
    if (first && line == "_HiStOrY_V2_") {
      libedit = true;
      continue;
    }
    if (!line.empty()) lines.push_back(libedit ? unescape_libedit(line) : line);
  }
  return lines;
}

bool write_history_file(const std::string& path, const std::vector<std::string>& lines,
                        std::size_t limit) {
  std::vector<const std::string*> kept;
  for (const auto& line : lines) {
    if (line.find('\n') == std::string::npos && !line.empty()) kept.push_back(&line);
  }
  const std::size_t skip = kept.size() > limit ? kept.size() - limit : 0;
  const std::string temporary = path + ".new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    // What was typed (private messages too) is nobody else's: 0600.
    std::error_code error;
    std::filesystem::permissions(temporary, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, error);
    if (error) return false;
    for (std::size_t i = skip; i < kept.size(); ++i) out << *kept[i] << '\n';
    if (!out.flush()) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

}  // namespace bcast::app
