// How events look: text lines for people (with received text neutralised
// for the terminal) and one JSON object per event for programs.
#include <gtest/gtest.h>

#include <regex>

#include "bcast/client/format.hpp"

namespace bcast::client {
namespace {

TEST(format, sanitize_neutralises_control_characters_and_escapes) {
  EXPECT_EQ(sanitize("plain text, ünïcödé ✓"), "plain text, ünïcödé ✓");
  EXPECT_EQ(sanitize("\x1b[2J\x1b]0;pwned\x07"), "^[[2J^[]0;pwned^G");
  EXPECT_EQ(sanitize("two\nlines\r"), "two^Jlines^M");
  EXPECT_EQ(sanitize("del\x7f"), "del^?");
  EXPECT_EQ(sanitize("csi\xc2\x9b" "31m"), "csi\\u009b31m");
}

TEST(format, message_lines_have_time_name_and_text) {
  const message_event m{1, 3, 0, "lobby", "bob", "hi\x1b[31m"};
  const auto line = text_line(m, false);
  ASSERT_TRUE(line);
  EXPECT_TRUE(std::regex_match(*line, std::regex(R"(\d\d:\d\d:\d\d bob: hi\^\[\[31m)"))) << *line;
  EXPECT_NE(text_line(m, true)->find("[lobby] bob: "), std::string::npos);
}

TEST(format, presence_and_status_lines) {
  EXPECT_EQ(text_line(presence_event{true, "bob", "", 0}, false), "* bob joined");
  EXPECT_EQ(text_line(presence_event{false, "bob", "bye", 0}, false), "* bob left");
  EXPECT_EQ(text_line(presence_event{false, "bob", "timeout", 0}, false), "* bob left (timeout)");
  EXPECT_EQ(text_line(status_event{status::server_shutdown, ""}, false),
            "* server shut down — waiting for it to return");
  EXPECT_EQ(text_line(lost_event{"lobby", 3, 12}, false),
            "* 12 message(s) in lobby could not be recovered (seq 3-14)");
  EXPECT_FALSE(text_line(ack_event{1, "lobby", 1}, false));
  EXPECT_FALSE(text_line(status_event{status::joined, "bob"}, false));
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

}  // namespace
}  // namespace bcast::client
