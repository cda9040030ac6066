// The terminal chat's input side without a terminal: Alt and lone Esc by
// time, unknown escape sequences swallowed, bracketed pastes bounded, the
// line editor's keys and limit, history and completion, the history file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "chat_input.hpp"

namespace bcast::app {
namespace {

using namespace std::chrono_literals;

key text(char32_t c) { return key{key_kind::text, c}; }

std::vector<key> feed_all(esc_prefix& esc, const std::vector<key>& keys, input_clock::time_point at) {
  std::vector<key> out;
  for (const key& k : keys) {
    for (const key& done : esc.feed(k, at)) out.push_back(done);
  }
  return out;
}

TEST(esc_prefix, esc_then_a_key_at_once_is_alt) {
  esc_prefix esc(esc_delay);
  const auto t = input_clock::now();
  const auto out = feed_all(esc, {key{key_kind::escape}, text(U'2')}, t);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].kind, key_kind::text);
  EXPECT_EQ(out[0].ch, U'2');
  EXPECT_TRUE(out[0].alt);
  EXPECT_FALSE(esc.deadline());
}

TEST(esc_prefix, a_lone_esc_is_resolved_by_the_timer_not_by_waiting) {
  esc_prefix esc(esc_delay);
  const auto t = input_clock::now();
  EXPECT_TRUE(esc.feed(key{key_kind::escape}, t).empty());
  ASSERT_TRUE(esc.deadline());
  EXPECT_EQ(*esc.deadline(), t + esc_delay);
  EXPECT_FALSE(esc.expire(t + esc_delay / 2));
  const auto lone = esc.expire(t + esc_delay);
  ASSERT_TRUE(lone);
  EXPECT_EQ(lone->kind, key_kind::escape);
  EXPECT_FALSE(esc.deadline());
  // A key after the delay is a key of its own, not Alt-key.
  EXPECT_TRUE(esc.feed(key{key_kind::escape}, t).empty());
  const auto late = esc.feed(text(U'x'), t + 2 * esc_delay);
  ASSERT_EQ(late.size(), 2U);
  EXPECT_EQ(late[0].kind, key_kind::escape);
  EXPECT_FALSE(late[1].alt);
}

TEST(esc_prefix, unknown_sequences_are_one_ignored_key) {
  esc_prefix esc(esc_delay);
  const auto t = input_clock::now();
  // ESC [ 2 5 ~ (F13 on some terminals) and ESC O P, then plain text.
  const auto out = feed_all(esc, {key{key_kind::escape}, text(U'['), text(U'2'), text(U'5'), text(U'~'),
                                  key{key_kind::escape}, text(U'O'), text(U'P'), text(U'a')},
                            t);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].kind, key_kind::other);
  EXPECT_EQ(out[1].kind, key_kind::other);
  EXPECT_EQ(out[2].kind, key_kind::text);
  EXPECT_EQ(out[2].ch, U'a');
  // A sequence cut short ends at the timer too.
  EXPECT_TRUE(feed_all(esc, {key{key_kind::escape}, text(U'['), text(U'1')}, t).empty());
  const auto cut = esc.expire(t + esc_delay);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->kind, key_kind::other);
}

TEST(esc_prefix, every_sequence_that_reaches_it_is_ignored_whole) {
  // ncurses decodes the keys that mean something (chat_screen's
  // key_sequences); what reaches esc_prefix is one ignored key, whatever
  // its parameters, never text.
  esc_prefix esc(esc_delay);
  const auto t = input_clock::now();
  const auto sequence = [&](std::u32string_view rest, char32_t introducer = U'[') {
    std::vector<key> keys{key{key_kind::escape}, text(introducer)};
    for (const char32_t c : rest) keys.push_back(text(c));
    const auto out = feed_all(esc, keys, t);
    EXPECT_EQ(out.size(), 1U);
    return out.empty() ? key_kind::escape : out[0].kind;
  };
  EXPECT_EQ(sequence(U"1~"), key_kind::other);
  EXPECT_EQ(sequence(U"H", U'O'), key_kind::other);
  EXPECT_EQ(sequence(U"1;5D"), key_kind::other);  // Ctrl-Left
}

TEST(paste_collector, keeps_lines_and_counts_what_it_drops) {
  paste_collector paste(10);
  paste.begin();
  for (const char c : std::string("ab")) paste.add(text(static_cast<char32_t>(c)));
  paste.add(key{key_kind::enter});
  paste.add(key{key_kind::control, 'j'});  // CR LF is one newline
  for (const char c : std::string("cdefghijkl")) paste.add(text(static_cast<char32_t>(c)));
  paste.add(key{key_kind::escape});  // no control characters in a paste
  const auto done = paste.end();
  EXPECT_FALSE(paste.active());
  EXPECT_EQ(done.text, "ab\ncdefghi");
  EXPECT_EQ(done.bytes, 13U);
  EXPECT_TRUE(done.cut());
  EXPECT_EQ(done.lines, 2U);
}

TEST(paste_collector, a_copied_line_with_its_newline_is_one_line) {
  paste_collector paste(100);
  paste.begin();
  paste.add(text(U'h'));
  paste.add(text(U'\u00e9'));
  paste.add(key{key_kind::enter});
  const auto done = paste.end();
  EXPECT_EQ(done.text, "h\u00e9");
  EXPECT_EQ(done.bytes, 3U);
  EXPECT_EQ(done.lines, 1U);
}

TEST(paste_collector, a_megabyte_costs_only_the_limit) {
  paste_collector paste(4 * 4096);
  paste.begin();
  for (int i = 0; i < 1 << 20; ++i) paste.add(text(U'x'));
  const auto done = paste.end();
  EXPECT_EQ(done.bytes, std::size_t{1} << 20);
  EXPECT_EQ(done.text.size(), 4U * 4096);
}

TEST(line_editor, edits_at_the_cursor) {
  line_editor line(100, 10);
  line.insert(U"hello world");
  line.left();
  line.left();
  line.backspace();
  EXPECT_EQ(to_utf8(line.chars()), "hello wold");
  line.home();
  line.del();
  line.end();
  line.insert(U"!");
  EXPECT_EQ(to_utf8(line.chars()), "ello wold!");
  line.kill_word();
  EXPECT_EQ(to_utf8(line.chars()), "ello ");
  line.left();
  line.kill_before();
  EXPECT_EQ(to_utf8(line.chars()), " ");
  EXPECT_EQ(line.cursor(), 0U);
}

TEST(line_editor, is_bounded_in_bytes) {
  line_editor line(5, 10);
  EXPECT_EQ(line.insert(U"ab\u00e9"), 0U);    // 4 bytes
  EXPECT_EQ(line.insert(U"\u00e9c"), 2U);    // é does not fit, c does
  EXPECT_EQ(to_utf8(line.chars()), "ab\u00e9c");
  EXPECT_EQ(line.bytes(), 5U);
  line.backspace();
  line.backspace();
  EXPECT_EQ(line.bytes(), 2U);
}

TEST(line_editor, up_and_down_walk_the_history_and_keep_the_draft) {
  line_editor line(100, 2);
  line.load_history({"one", "two", "three"});  // only the newest 2 kept
  line.insert(U"draft");
  line.history_up();
  EXPECT_EQ(to_utf8(line.chars()), "three");
  line.history_up();
  line.history_up();
  EXPECT_EQ(to_utf8(line.chars()), "two");
  line.history_down();
  line.history_down();
  EXPECT_EQ(to_utf8(line.chars()), "draft");
  EXPECT_EQ(line.take(), "draft");
  EXPECT_TRUE(line.empty());
  EXPECT_EQ(line.history(), (std::vector<std::string>{"three", "draft"}));
}

TEST(line_editor, tab_cycles_through_completions) {
  line_editor line(100, 10);
  const completion_source names = [](std::string_view word, std::string_view before) {
    std::vector<std::string> out;
    for (const char* name : {"bob", "bobby", "carol"}) {
      if (std::string_view(name).substr(0, word.size()) == word) out.emplace_back(name);
    }
    if (before.empty() && word == "/jo") out = {"/join"};
    return out;
  };
  line.insert(U"bo");
  ASSERT_TRUE(line.complete(names));
  EXPECT_EQ(to_utf8(line.chars()), "bob: ");
  ASSERT_TRUE(line.complete(names));
  EXPECT_EQ(to_utf8(line.chars()), "bobby: ");
  line.insert(U"hi ca");
  ASSERT_TRUE(line.complete(names));
  EXPECT_EQ(to_utf8(line.chars()), "bobby: hi carol ");
  line.clear();
  line.insert(U"/jo");
  ASSERT_TRUE(line.complete(names));
  EXPECT_EQ(to_utf8(line.chars()), "/join ");
  line.insert(U"zz");
  EXPECT_FALSE(line.complete(names));
}

TEST(history_file, round_trips_and_reads_libedit_files) {
  const auto dir = std::filesystem::temp_directory_path() / ("chat_input_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "history").string();
  ASSERT_TRUE(write_history_file(path, {"a", "two\nlines", "b", "c"}, 2));
  EXPECT_EQ(read_history_file(path), (std::vector<std::string>{"b", "c"}));
  {
    std::ofstream old(path, std::ios::trunc);
    old << "_HiStOrY_V2_\nhello\\040world\nback\\134slash\n";
  }
  EXPECT_EQ(read_history_file(path), (std::vector<std::string>{"hello world", "back\\slash"}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bcast::app
