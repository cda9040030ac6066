// Parsing what a person types at the chat prompt.
#include <gtest/gtest.h>

#include "bcast/client/commands.hpp"

namespace bcast::client::command {
namespace {

template <typename T>
T as(const any& parsed) {
  EXPECT_TRUE(std::holds_alternative<T>(parsed)) << "variant index " << parsed.index();
  return std::holds_alternative<T>(parsed) ? std::get<T>(parsed) : T{};
}

TEST(commands, plain_text_is_a_message) {
  EXPECT_EQ(as<say>(parse("hello there")).text, "hello there");
  EXPECT_EQ(as<say>(parse("/me waves")).text, "/me waves");
  EXPECT_EQ(as<say>(parse("//etc/hosts is a file")).text, "/etc/hosts is a file");
  as<nothing>(parse(""));
  as<nothing>(parse("   "));
}

TEST(commands, quitting_the_ways_people_type_it) {
  as<quit>(parse("/quit"));
  as<quit>(parse("exit"));
  as<quit>(parse("quit"));
  as<quit>(parse("  exit "));
}

TEST(commands, slash_commands_with_arguments) {
  const auto d = as<dm>(parse("/msg bob see you at 5"));
  EXPECT_EQ(d.to, "bob");
  EXPECT_EQ(d.text, "see you at 5");
  EXPECT_EQ(as<reply>(parse("/reply on my way")).text, "on my way");
  EXPECT_EQ(as<join>(parse("/join dev")).room, "dev");
  EXPECT_EQ(as<leave>(parse("/leave dev")).room, "dev");
  EXPECT_FALSE(as<leave>(parse("/leave")).room);
  EXPECT_EQ(as<history>(parse("/history")).count, default_history);
  EXPECT_EQ(as<history>(parse("/history 5")).count, 5U);
  as<who>(parse("/who"));
  as<rooms>(parse("/rooms"));
  as<help>(parse("/help"));
}

TEST(commands, mistakes_get_a_hint_not_a_message_to_everyone) {
  EXPECT_NE(as<hint>(parse("/msg bob")).text.find("usage: /msg"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/join Bad Room")).text.find("a-z"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/history lots")).text.find("usage: /history"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/history 5000")).text.find("1000"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/frobnicate now")).text.find("unknown command /frobnicate"),
            std::string::npos);
  EXPECT_NE(as<hint>(parse("/nick zed")).text.find("--name"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/me")).text.find("usage: /me"), std::string::npos);
  EXPECT_NE(as<hint>(parse("/reply  ")).text.find("usage: /reply"), std::string::npos);
}

TEST(commands, help_lists_every_command) {
  std::string all;
  for (const auto& line : help_lines()) all += line + "\n";
  for (const char* c : {"/who", "/msg", "/reply", "/join", "/leave", "/rooms", "/history", "/me", "/help", "/quit"}) {
    EXPECT_NE(all.find(c), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace bcast::client::command
