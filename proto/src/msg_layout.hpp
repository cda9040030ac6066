// The bytes of a `msg` event's keys as encode_msg writes them (fixstrs, in
// the schema's order), shared by the writer and by read_stored_msg, which
// compares them as they are instead of decoding each. A hex escape is closed
// before a letter that is also a hex digit ("\xA4" "from").
#pragma once

#include <string_view>

namespace bcast::proto::detail::msg_layout {

// The map header of seven entries, `t` = "msg" and the `epoch` key.
inline constexpr std::string_view head = "\x87\xA1" "t" "\xA3" "msg" "\xA5" "epoch";
inline constexpr std::string_view seq = "\xA3" "seq";
inline constexpr std::string_view ts = "\xA2" "ts";
inline constexpr std::string_view room = "\xA4" "room";
inline constexpr std::string_view from = "\xA4" "from";
inline constexpr std::string_view text = "\xA4" "text";

}  // namespace bcast::proto::detail::msg_layout
