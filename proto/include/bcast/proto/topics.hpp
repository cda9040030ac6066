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

}  // namespace bcast::proto
