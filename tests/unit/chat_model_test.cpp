// The terminal chat's state without sockets or a terminal: rooms, unread
// counts, bounded scrollback, scrolling that stays put, pending lines, the
// user list and completions, mentions, and lines split into styled spans
// and wrapped by display width.
#include <gtest/gtest.h>

#include <clocale>

#include "chat_model.hpp"

namespace bcast::app {
namespace {

TEST(chat_model, counts_unread_lines_of_other_rooms_until_looked_at) {
  chat_model model({"lobby", "dev"});
  model.add_message("dev", "a");
  model.add_message("dev", "b");
  model.add_message("lobby", "c");
  EXPECT_EQ(model.unread("dev"), 2U);
  EXPECT_EQ(model.unread("lobby"), 0U);
  model.switch_by(1);
  EXPECT_EQ(model.current(), "dev");
  EXPECT_EQ(model.unread("dev"), 0U);
  EXPECT_EQ(model.lines("dev").size(), 2U);
  model.switch_by(1);
  EXPECT_EQ(model.current(), "lobby");
  model.switch_by(-1);
  EXPECT_EQ(model.current(), "dev");
  model.add_notice("* a notice");
  EXPECT_EQ(model.lines("dev").back().text, "* a notice");
  model.switch_to("ops");
  EXPECT_EQ(model.rooms(), (std::vector<std::string>{"lobby", "dev", "ops"}));
  model.unfollow("ops");
  EXPECT_EQ(model.current(), "lobby");
  EXPECT_EQ(model.rooms().size(), 2U);
}

TEST(chat_model, scrollback_is_bounded_and_the_view_stays_when_scrolled_up) {
  chat_model model({"lobby"});
  for (std::size_t i = 0; i < scrollback_lines + 10; ++i) model.add_message("lobby", std::to_string(i));
  EXPECT_EQ(model.lines("lobby").size(), scrollback_lines);
  EXPECT_EQ(model.lines("lobby").front().text, "10");
  model.scroll(20);
  EXPECT_EQ(model.scroll_offset(), 20U);
  model.add_message("lobby", "new");
  EXPECT_EQ(model.scroll_offset(), 21U);  // the same lines stay in view
  model.scroll(-100);
  EXPECT_EQ(model.scroll_offset(), 0U);
  model.scroll(1'000'000);
  EXPECT_EQ(model.scroll_offset(), scrollback_lines - 1);
}

TEST(chat_model, pending_lines_go_when_settled) {
  chat_model model({"lobby"});
  model.add_message("lobby", "before");
  model.add_pending("lobby", "mine (pending)", 7);
  model.add_pending("lobby", "mine too (pending)", 8);
  EXPECT_EQ(model.lines("lobby").at(1).mark, line_mark::pending);
  model.settle(7);
  ASSERT_EQ(model.lines("lobby").size(), 2U);
  EXPECT_EQ(model.lines("lobby").back().pending_id, 8U);
  model.settle(99);
  EXPECT_EQ(model.lines("lobby").size(), 2U);
}

// A line typed while connected shows as pending only once its ack is
// overdue; typed while disconnected, at once; an ack ends either.
TEST(chat_model, watched_lines_show_pending_only_when_their_ack_is_overdue) {
  chat_model model({"lobby", "dev"});
  const auto t = std::chrono::steady_clock::now();
  model.watch_pending(1, "lobby", {"one (pending)"}, true, t);
  model.watch_pending(2, "dev", {"two (pending)"}, true, t);
  EXPECT_FALSE(model.mark_overdue(t + pending_mark_after - std::chrono::milliseconds(1)));
  EXPECT_TRUE(model.lines("lobby").empty());
  model.settle(1);  // acked in time: never shown pending
  EXPECT_TRUE(model.mark_overdue(t + pending_mark_after));
  EXPECT_TRUE(model.lines("lobby").empty());
  ASSERT_EQ(model.lines("dev").size(), 1U);
  EXPECT_EQ(model.lines("dev").back().mark, line_mark::pending);
  EXPECT_EQ(model.lines("dev").back().pending_id, 2U);
  EXPECT_FALSE(model.mark_overdue(t + 2 * pending_mark_after));  // shown once
  model.watch_pending(3, "lobby", {"three (pending)"}, false, t);
  ASSERT_EQ(model.lines("lobby").size(), 1U);
  EXPECT_EQ(model.lines("lobby").back().text, "three (pending)");
  model.settle(2);
  model.settle(3);
  EXPECT_TRUE(model.lines("dev").empty());
  EXPECT_TRUE(model.lines("lobby").empty());
}

TEST(chat_model, completes_commands_rooms_and_names) {
  chat_model model({"lobby", "dev"});
  model.set_users({"bob", "Bea", "carol"});
  model.user_joined("dave");
  model.user_left("carol");
  EXPECT_EQ(model.completions("b", ""), (std::vector<std::string>{"Bea", "bob"}));
  EXPECT_EQ(model.completions("d", "hi "), (std::vector<std::string>{"dave"}));
  EXPECT_EQ(model.completions("/re", ""), (std::vector<std::string>{"/reply"}));
  EXPECT_EQ(model.completions("d", "/join "), (std::vector<std::string>{"dev"}));
  EXPECT_TRUE(model.completions("zed", "").empty());
}

TEST(chat_model, mentions_are_whole_words_in_any_case) {
  EXPECT_TRUE(mentions("hi alice!", "alice"));
  EXPECT_TRUE(mentions("ALICE: look", "alice"));
  EXPECT_TRUE(mentions("thanks, alice.", "alice"));
  EXPECT_FALSE(mentions("malice aforethought", "alice"));
  EXPECT_FALSE(mentions("alice_2 is here", "alice"));
  EXPECT_FALSE(mentions("anything", ""));
}

TEST(styled_spans, follow_the_sgr_sequences_format_emits) {
  const auto spans = styled_spans("12:00 \x1b[1;38;5;33mbob\x1b[0m (you): \x1b[2mhi\x1b[0m");
  ASSERT_EQ(spans.size(), 4U);
  EXPECT_EQ(spans[0].text, "12:00 ");
  EXPECT_EQ(spans[0].colour, -1);
  EXPECT_EQ(spans[1].text, "bob");
  EXPECT_TRUE(spans[1].bold);
  EXPECT_EQ(spans[1].colour, 33);
  EXPECT_EQ(spans[2].text, " (you): ");
  EXPECT_FALSE(spans[2].bold);
  EXPECT_EQ(spans[3].text, "hi");
  EXPECT_TRUE(spans[3].dim);
  EXPECT_EQ(styled_spans("plain").at(0).text, "plain");
}

TEST(wrap_spans, cuts_rows_by_display_width_never_inside_a_wide_character) {
  ASSERT_NE(std::setlocale(LC_CTYPE, "C.UTF-8"), nullptr);
  const auto rows = wrap_spans({styled_span{"ab"}, styled_span{"\u4e16\u754c", true}}, 3);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0].size(), 1U);  // "ab" and no room for a 2-column 世
  EXPECT_EQ(rows[1].at(0).text, "\u4e16");
  EXPECT_TRUE(rows[1].at(0).bold);
  EXPECT_EQ(rows[2].at(0).text, "\u754c");
  const auto three = wrap_spans({styled_span{"abcdefg"}}, 3);
  ASSERT_EQ(three.size(), 3U);
  EXPECT_EQ(three[2].at(0).text, "g");
  EXPECT_EQ(wrap_spans({}, 10).size(), 1U);
}

}  // namespace
}  // namespace bcast::app
