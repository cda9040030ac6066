// PUB topics (PROTOCOL.md "Topics"): every topic ends in '/', so a SUB prefix
// subscription to "room/dev/" never also matches "room/dev2/".
#pragma once

#include <string>
#include <string_view>

namespace bcast::proto {

inline constexpr std::string_view sys_topic = "sys/";
inline constexpr std::string_view room_topic_prefix = "room/";

// Returns "room/<room>/".
[[nodiscard]] inline std::string room_topic(std::string_view room) {
  std::string topic;
  topic.reserve(room_topic_prefix.size() + room.size() + 1);
  topic.append(room_topic_prefix).append(room).push_back('/');
  return topic;
}

// The room a "room/<room>/" topic names; empty for any other topic (sys/).
[[nodiscard]] inline std::string_view room_of_topic(std::string_view topic) {
  const std::size_t prefix = room_topic_prefix.size();
  if (topic.size() < prefix + 2 || !topic.starts_with(room_topic_prefix) || !topic.ends_with('/')) {
    return {};
  }
  return topic.substr(prefix, topic.size() - prefix - 1);
}

}  // namespace bcast::proto
