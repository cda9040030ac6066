// How events look: text lines for people (with received text neutralised
// for the terminal) and one JSON object per event for programs.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "bcast/client/format.hpp"

namespace bcast::client {
namespace {

// The single line `e` renders to ("" when none).
std::string one(const client_event& e, bool show_room = false) {
  line_style style;
  style.show_room = show_room;
  const auto lines = text_lines(e, style);
  return lines.empty() ? "" : lines.at(0);
}

TEST(format, sanitize_neutralises_control_characters_and_escapes) {
  EXPECT_EQ(sanitize("plain text, ünïcödé ✓"), "plain text, ünïcödé ✓");
  EXPECT_EQ(sanitize("\x1b[2J\x1b]0;pwned\x07"), "^[[2J^[]0;pwned^G");
  EXPECT_EQ(sanitize("two\nlines\r"), "two^Jlines^M");
  EXPECT_EQ(sanitize("del\x7f"), "del^?");
  EXPECT_EQ(sanitize("csi\xc2\x9b" "31m"), "csi\\u009b31m");
  EXPECT_EQ(sanitize("abc\xe2\x80\xae" "fed"), "abc\\u202efed");  // right-to-left override
  EXPECT_EQ(sanitize("zero\xe2\x80\x8bwidth"), "zero\\u200bwidth");
}

TEST(format, message_lines_have_time_name_and_text) {
  const message_event m{1, 3, 0, "lobby", "bob", "hi\x1b[31m"};
  const auto line = one(m);
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d\d:\d\d:\d\d bob: hi\^\[\[31m)"))) << line;
  EXPECT_NE(one(m, true).find("[lobby] bob: "), std::string::npos);
}

TEST(format, messages_from_before_the_given_day_show_their_date) {
  const std::uint64_t day_start = 1'800'000'000'000;
  line_style style;
  style.dated_before_ms = day_start;
  const message_event old{1, 3, day_start - 1000, "lobby", "bob", "late"};
  const message_event today{1, 4, day_start + 1000, "lobby", "bob", "early"};
  const std::regex dated(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d bob: late)");
  EXPECT_TRUE(std::regex_match(text_lines(old, style).at(0), dated)) << text_lines(old, style).at(0);
  EXPECT_TRUE(std::regex_match(text_lines(today, style).at(0),
                               std::regex(R"(\d\d:\d\d:\d\d bob: early)")));
}

TEST(format, presence_and_status_lines) {
  EXPECT_EQ(one(presence_event{true, "bob", "", 0}), "* bob joined");
  EXPECT_EQ(one(presence_event{false, "bob", "bye", 0}), "* bob left");
  EXPECT_EQ(one(presence_event{false, "bob", "timeout", 0}), "* bob left (timeout)");
  EXPECT_EQ(one(status_event{status::server_shutdown, ""}),
            "* server shut down — waiting for it to return");
  EXPECT_EQ(one(lost_event{"lobby", 3, 12}),
            "* 12 message(s) in lobby could not be recovered (seq 3-14)");
  EXPECT_EQ(one(ack_event{1, "lobby", 1}), "");
  EXPECT_EQ(one(status_event{status::joined, "bob"}), "");
  EXPECT_EQ(one(status_event{status::rate_limited, "too many messages"}),
            "* sending too fast for the server (too many messages): your messages wait and are "
            "sent again");
  EXPECT_EQ(one(status_event{status::sending_again, "x"}),
            "* sending again: the server took every message it held back");
  EXPECT_EQ(json_line(status_event{status::rate_limited, "too many messages"}),
            R"({"type":"status","status":"rate-limited","detail":"too many messages"})");
  EXPECT_EQ(json_line(status_event{status::sending_again, "x"}),
            R"({"type":"status","status":"sending-again","detail":"x"})");
}

TEST(format, json_lines_escape_strings) {
  const message_event m{1, 3, 42, "lobby", "bob", "say \"hi\"\\\n"};
  EXPECT_EQ(json_line(m),
            R"({"type":"msg","room":"lobby","seq":3,"ts":42,"from":"bob","text":"say \"hi\"\\\u000a"})");
  EXPECT_EQ(json_line(presence_event{false, "bob", "timeout", 7}),
            R"({"type":"leave","name":"bob","reason":"timeout","ts":7})");
  EXPECT_EQ(json_line(error_event{"too-large", "big", 4}),
            R"({"type":"error","code":"too-large","reason":"big","id":4})");
  EXPECT_EQ(json_line(status_event{status::connection_lost, "x"}),
            R"({"type":"status","status":"connection-lost","detail":"x"})");
}

// Issue 15 (--json carried raw C1 and bidi characters): they are escaped,
// the JSON still decodes to the same text, other UTF-8 stays as it is.
TEST(format, json_lines_escape_del_c1_and_bidi_controls) {
  const message_event m{1, 3, 42, "lobby", "bob",
                        "a\x7f" "b\xc2\x9b" "c\xe2\x80\xae" "d\xe2\x81\xa6" "e\xc3\xa9"};
  EXPECT_EQ(json_line(m), R"({"type":"msg","room":"lobby","seq":3,"ts":42,"from":"bob",)"
                          R"("text":"a\u007fb\u009bc\u202ed\u2066e)" "\xc3\xa9" R"("})");
}

TEST(format, actions_render_as_star_lines) {
  const message_event m{1, 3, 0, "lobby", "alice", "/me waves"};
  EXPECT_TRUE(std::regex_match(one(m), std::regex(R"(\d\d:\d\d:\d\d \* alice waves)"))) << one(m);
}

TEST(format, colour_marks_names_own_messages_and_dims_system_lines) {
  line_style style;
  style.colour = true;
  style.self = "alice";
  const auto own = text_lines(message_event{1, 1, 0, "lobby", "alice", "hi"}, style).at(0);
  EXPECT_NE(own.find("\x1b[1;38;5;" + std::to_string(name_colour("alice")) + "malice\x1b[0m (you): hi"),
            std::string::npos)
      << own;
  const auto other = text_lines(message_event{1, 2, 0, "lobby", "bob", "yo"}, style).at(0);
  EXPECT_NE(other.find("\x1b[38;5;" + std::to_string(name_colour("bob")) + "mbob\x1b[0m: yo"),
            std::string::npos);
  EXPECT_EQ(text_lines(presence_event{true, "bob", "", 0}, style).at(0), "\x1b[2m* bob joined\x1b[0m");
  // Without colour: no escape at all, own messages still marked.
  style.colour = false;
  const auto plain = text_lines(message_event{1, 1, 0, "lobby", "alice", "hi"}, style).at(0);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(plain.find("alice (you): hi"), std::string::npos);
}

TEST(format, name_colours_are_stable_and_spread) {
  EXPECT_EQ(name_colour("alice"), name_colour("alice"));
  std::set<int> used;
  for (const char* n : {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}) {
    used.insert(name_colour(n));
  }
  EXPECT_GE(used.size(), 5U);
}

TEST(format, history_renders_a_header_and_its_messages) {
  const auto lines = text_lines(history_event{"dev", {{1, 4, 0, "dev", "bob", "old"}}}, line_style{});
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], "— last 1 message(s) in dev —");
  EXPECT_NE(lines[1].find("bob: old"), std::string::npos);
}

}  // namespace
}  // namespace bcast::client
