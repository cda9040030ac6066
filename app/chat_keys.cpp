// The terminal chat's keys: read from the screen without blocking, an ESC
// prefix resolved by time (chat_input's esc_prefix), then turned into edits
// of the input line, room switches, scrolling, tab completion, a bracketed
// paste (inserted, or confirmed y/n when it has several lines, or refused
// when too long) and, on Enter, a command for chat_commands.cpp.
#include <poll.h>
#include <unistd.h>

#include <utility>
#include <variant>

#include "chat_session.hpp"
#include "exit_codes.hpp"

namespace bcast::app {
namespace {

// Keys handled per loop turn before the broker gets its turn again: a
// 1 MiB paste must not hold up heartbeats (16 Ki keys take ~10 ms).
constexpr std::size_t keys_per_turn = 16384;

// True when the terminal hung up (stdin at EOF or in error).
bool terminal_gone() {
  pollfd in{STDIN_FILENO, POLLIN, 0};
  return ::poll(&in, 1, 0) == 1 && (in.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace

void chat_session::read_keys() {
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

void chat_session::on_key(const key& k) {
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

void chat_session::on_edit_key(const key& k) {
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

void chat_session::on_control(char32_t c) {
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
void chat_session::on_alt(const key& k) {
  if (k.kind != key_kind::text || k.ch < U'1' || k.ch > U'9') return;
  const auto index = static_cast<std::size_t>(k.ch - U'1');
  if (index < model_.rooms().size()) model_.switch_to(model_.rooms()[index]);
}

void chat_session::insert(const std::u32string& text) {
  const std::size_t dropped = editor_.insert(text);
  if (dropped == 0) return;
  if (dropped_bytes_ == 0) {
    notice("* too long: the input line holds at most " + std::to_string(input_limit()) +
           " bytes; a message at most " + std::to_string(conn_.max_text()));
  }
  dropped_bytes_ += dropped;
}

void chat_session::complete() {
  const bool found = editor_.complete([this](std::string_view word, std::string_view before) {
    return model_.completions(word, before);
  });
  if (!found) screen_->bell();
}

void chat_session::submit() {
  const std::size_t dropped = std::exchange(dropped_bytes_, 0);
  const std::string line = editor_.take();
  if (dropped > 0) {
    // The line kept input_limit() bytes of what was typed: name both counts.
    return notice("* not sent: you typed " + std::to_string(line.size() + dropped) +
                  " bytes (the input line kept " + std::to_string(line.size()) +
                  "), the most is " + std::to_string(conn_.max_text()));
  }
  std::visit([this](const auto& c) { run_command(c); }, client::command::parse(line));
}

void chat_session::refuse_too_long(std::size_t bytes) {
  notice("* not sent: too long: " + std::to_string(bytes) + " bytes, the most is " +
         std::to_string(conn_.max_text()));
}

void chat_session::on_paste(paste p) {
  if (p.bytes == 0) return;
  if (p.bytes > conn_.max_text()) {
    return notice("* paste not used: too long: " + std::to_string(p.bytes) +
                  " bytes, the most is " + std::to_string(conn_.max_text()));
  }
  if (p.lines <= 1) return insert(from_utf8(p.text));
  question_ = std::move(p);
}

void chat_session::answer(const key& k) {
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

}  // namespace bcast::app
