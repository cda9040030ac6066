// The string rules of proto/validate.hpp: UTF-8 well-formedness (every
// sequence length, and the overlong, surrogate, out-of-range, truncated and
// stray-continuation forms that must be refused), code point counting, the
// user-name rule (1-32 code points, none of them whitespace, control,
// invisible or direction-changing) and the room-name rule (1-32 of
// [a-z0-9_-]), and the PUB topics that carry room names.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/topics.hpp"
#include "bcast/proto/validate.hpp"

namespace {

using namespace bcast::proto;

std::string repeat(std::string_view piece, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// Asks `check` (check_name, check_room) about each of `inputs`: each must be
// refused (a reason returned) when `refused`, else accepted.
constexpr bool refused = true;
constexpr bool accepted = false;

void expect_each(std::optional<std::string_view> (*check)(std::string_view), bool verdict,
                 std::initializer_list<std::string_view> inputs) {
  for (const auto input : inputs) {
    EXPECT_EQ(check(input).has_value(), verdict) << ::testing::PrintToString(std::string(input));
  }
}

// --- is_valid_utf8 -------------------------------------------------------

TEST(validate, utf8_accepts_ascii) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("hello, world"));
  EXPECT_TRUE(is_valid_utf8(std::string_view("\0\x7f", 2)));
}

// ASCII is checked 32 and 8 bytes at a time: a bad byte or a sequence is
// found wherever it sits relative to those blocks.
TEST(validate, utf8_finds_bytes_anywhere_in_long_ascii_text) {
  for (std::size_t at = 0; at < 100; ++at) {
    std::string text(100, 'a');
    text[at] = '\xff';
    EXPECT_FALSE(is_valid_utf8(text)) << at;
    text.replace(at, 1, "\xe2\x82\xac");  // €
    EXPECT_TRUE(is_valid_utf8(text)) << at;
    text.erase(at + 2, 1);  // cut short
    EXPECT_FALSE(is_valid_utf8(text)) << at;
  }
}

TEST(validate, utf8_accepts_multibyte_sequences) {
  EXPECT_TRUE(is_valid_utf8("\xc2\x80"));          // U+0080, smallest 2-byte
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9"));          // é
  EXPECT_TRUE(is_valid_utf8("\xdf\xbf"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xe0\xa0\x80"));      // U+0800, smallest 3-byte
  EXPECT_TRUE(is_valid_utf8("\xe4\xb8\xad"));      // 中
  EXPECT_TRUE(is_valid_utf8("\xed\x9f\xbf"));      // U+D7FF, just below surrogates
  EXPECT_TRUE(is_valid_utf8("\xee\x80\x80"));      // U+E000, just above them
  EXPECT_TRUE(is_valid_utf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xf0\x90\x80\x80"));  // U+10000, smallest 4-byte
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));  // 😀
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last one
  EXPECT_TRUE(is_valid_utf8("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z"));
}

TEST(validate, utf8_rejects_overlongs) {
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));          // NUL in two bytes
  EXPECT_FALSE(is_valid_utf8("\xc1\xbf"));
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\x80"));      // NUL in three bytes
  EXPECT_FALSE(is_valid_utf8("\xe0\x9f\xbf"));
  EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\x80"));  // NUL in four bytes
  EXPECT_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));
}

TEST(validate, utf8_rejects_surrogates) {
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(is_valid_utf8("\xed\xbf\xbf"));  // U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\xbd\xed\xb8\x80"));  // CESU-8 pair
}

TEST(validate, utf8_rejects_code_points_above_10ffff) {
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xf7\xbf\xbf\xbf"));
  EXPECT_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));  // old 5-byte form
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xfe"));
}

TEST(validate, utf8_rejects_truncated_sequences) {
  EXPECT_FALSE(is_valid_utf8("\xc3"));
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));
  EXPECT_FALSE(is_valid_utf8("\xf0\x9f\x98"));
  EXPECT_FALSE(is_valid_utf8("abc\xf0\x9f"));
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8z"));  // cut short by an ASCII byte
  EXPECT_FALSE(is_valid_utf8("\xc3\xc3\xa9"));
}

TEST(validate, utf8_rejects_lone_continuation_bytes) {
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xbf"));
  EXPECT_FALSE(is_valid_utf8("a\x80z"));
  EXPECT_FALSE(is_valid_utf8("\xc3\xa9\xa9"));  // one continuation too many
}

// --- utf8_length / next_code_point ---------------------------------------

TEST(validate, utf8_length_counts_code_points) {
  EXPECT_EQ(utf8_length(""), 0U);
  EXPECT_EQ(utf8_length("abc"), 3U);
  EXPECT_EQ(utf8_length("\xc3\xa9"), 1U);
  EXPECT_EQ(utf8_length("\xe4\xb8\xad\xe6\x96\x87"), 2U);  // 中文
  EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80"), 1U);
  EXPECT_EQ(utf8_length("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"), 4U);
}

TEST(validate, next_code_point_decodes_and_advances) {
  const std::string_view text = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
  std::size_t pos = 0;
  EXPECT_EQ(next_code_point(text, pos), U'a');
  EXPECT_EQ(pos, 1U);
  EXPECT_EQ(next_code_point(text, pos), U'\u00e9');
  EXPECT_EQ(pos, 3U);
  EXPECT_EQ(next_code_point(text, pos), U'\u4e2d');
  EXPECT_EQ(pos, 6U);
  EXPECT_EQ(next_code_point(text, pos), U'\U0001F600');
  EXPECT_EQ(pos, text.size());
}

// --- check_name ----------------------------------------------------------

TEST(validate, name_accepts_ascii_emoji_and_cjk) {
  EXPECT_FALSE(check_name("alice"));
  EXPECT_FALSE(check_name("a"));
  EXPECT_FALSE(check_name("Bob_the-2nd.!"));
  EXPECT_FALSE(check_name("\xf0\x9f\x98\x80"));            // 😀
  EXPECT_FALSE(check_name("\xe5\xb0\x8f\xe6\x98\x8e"));    // 小明
  EXPECT_FALSE(check_name("h\xc3\xa9lo\xc3\xafse"));       // héloïse
}

TEST(validate, name_allows_32_code_points_and_refuses_33) {
  EXPECT_FALSE(check_name(repeat("a", max_name_chars)));
  EXPECT_TRUE(check_name(repeat("a", max_name_chars + 1)));
  // Counted in characters, not bytes: 32 CJK are 96 bytes and fine; 33 are
  // 99 bytes, still under 128, and refused.
  EXPECT_FALSE(check_name(repeat("\xe4\xb8\xad", 32)));
  EXPECT_TRUE(check_name(repeat("\xe4\xb8\xad", 33)));
  EXPECT_FALSE(check_name(repeat("\xf0\x9f\x98\x80", 32)));  // 128 bytes
  EXPECT_TRUE(check_name(repeat("\xc3\xa9", 33)));           // 66 bytes
}

TEST(validate, name_refuses_empty) { EXPECT_TRUE(check_name("")); }

TEST(validate, name_refuses_whitespace_and_controls) {
  expect_each(check_name, refused, {
      "al ice",
      " alice",
      "alice ",
      "al\tice",
      "al\nice",
      "al\rice",
      std::string_view("al\0ice", 6),
      "al\x1b[31mice",  // ESC: terminal escapes
      "al\x7fice",  // DEL
      "al\xc2\x85ice",  // U+0085 NEL
  });
}

TEST(validate, name_refuses_invisible_and_direction_characters) {
  expect_each(check_name, refused, {
      "al\xc2\xa0ice",  // U+00A0 no-break space
      "al\xe2\x80\x8bice",  // U+200B zero width space
      "al\xe2\x80\xaeice",  // U+202E right-to-left override
      "al\xc2\xadice",  // U+00AD soft hyphen
      "al\xe2\x81\xa6ice",  // U+2066 left-to-right isolate
      "al\xe3\x80\x80ice",  // U+3000 ideographic space
      "\xef\xbb\xbf" "alice",  // U+FEFF byte order mark
  });
}

TEST(validate, name_refuses_invalid_utf8) {
  expect_each(check_name, refused, {
      "al\xffice",
      "\xc0\x80",
      "\xed\xa0\x80",
      "abc\xe4\xb8",
  });
}

// --- check_room ----------------------------------------------------------

TEST(validate, room_accepts_the_allowed_alphabet) {
  expect_each(check_room, accepted, {
      "lobby",
      default_room,
      "abcdefghijklmnopqrstuvwxyz",
      "0123456789",
      "dev_ops-2",
      "-",
      "_",
  });
}

TEST(validate, room_allows_32_characters_and_refuses_33) {
  EXPECT_FALSE(check_room(repeat("r", max_room_chars)));
  EXPECT_TRUE(check_room(repeat("r", max_room_chars + 1)));
}

TEST(validate, room_refuses_other_characters) {
  expect_each(check_room, refused, {
      "Lobby",
      "LOBBY",
      "a/b",
      "a b",
      "a.b",
      "caf\xc3\xa9",
      std::string_view("a\0", 2),
  });
}

TEST(validate, room_refuses_empty) { EXPECT_TRUE(check_room("")); }

TEST(topics, room_of_topic_gives_back_the_room_and_no_room_for_other_topics) {
  EXPECT_EQ(room_topic("dev"), "room/dev/");
  EXPECT_EQ(room_of_topic(room_topic("dev")), "dev");
  EXPECT_EQ(room_of_topic(room_topic("a-b_9")), "a-b_9");
  EXPECT_EQ(room_of_topic(sys_topic), "");
  EXPECT_EQ(room_of_topic("room/dev"), "");  // not a topic: no trailing '/'
  EXPECT_EQ(room_of_topic("room/"), "");
  EXPECT_EQ(room_of_topic("room//"), "");
  EXPECT_EQ(room_of_topic("rooms/dev/"), "");
}

}  // namespace
