// What a person types at the chat prompt: a message, or one of the slash
// commands. Parsing is pure; the terminal client carries the commands out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bcast::client::command {

struct say { std::string text; };             // a message to the current room
struct dm { std::string to; std::string text; };  // /msg NAME TEXT
struct reply { std::string text; };           // /reply TEXT: to whoever wrote us privately last
struct who {};                                // /who
struct join { std::string room; };            // /join ROOM
struct leave { std::optional<std::string> room; };  // /leave [ROOM]
struct rooms {};                              // /rooms
struct history { std::size_t count; };        // /history [N]
struct help {};                               // /help
struct quit {};                               // /quit, exit, quit
struct hint { std::string text; };            // a usage error: shown, not sent
struct nothing {};                            // an empty line

using any = std::variant<say, dm, reply, who, join, leave, rooms, history, help, quit, hint, nothing>;

// /history without a count shows this many.
inline constexpr std::size_t default_history = 20;

// Parses one input line. "/me waves" is a message (the text "/me waves",
// shown to everyone as an action); "//text" sends "/text".
[[nodiscard]] any parse(std::string_view line);

// The lines /help prints.
[[nodiscard]] std::vector<std::string> help_lines();

}  // namespace bcast::client::command
