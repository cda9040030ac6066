// Parsing of the chat prompt's input: messages, slash commands, hints.
#include "bcast/client/commands.hpp"

#include <charconv>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::client::command {
namespace {

// Splits off the first word of `rest` (after spaces); `rest` keeps the remainder.
std::string_view next_word(std::string_view& rest) {
  const auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const auto end = rest.find(' ');
  const std::string_view word = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
  return word;
}

std::string_view trimmed(std::string_view text) {
  const auto start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(' ');
  return text.substr(start, end - start + 1);
}

any parse_history(std::string_view rest) {
  const std::string_view arg = trimmed(rest);
  if (arg.empty()) return history{default_history};
  std::size_t count = 0;
  const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), count);
  if (ec != std::errc{} || end != arg.data() + arg.size() || count == 0 ||
      count > proto::max_history_limit) {
    return hint{"usage: /history [N], N from 1 to 1000"};
  }
  return history{count};
}

any parse_room_command(std::string_view verb, std::string_view rest) {
  const std::string_view room = trimmed(rest);
  if (verb == "/leave" && room.empty()) return leave{std::nullopt};
  if (room.empty()) return hint{"usage: /join ROOM"};
  if (auto why = proto::check_room(room)) return hint{std::string(*why)};
  if (verb == "/join") return join{std::string(room)};
  return leave{std::string(room)};
}

}  // namespace

any parse(std::string_view line) {
  if (trimmed(line).empty()) return nothing{};
  const std::string_view bare = trimmed(line);
  if (bare == "exit" || bare == "quit") return quit{};
  if (line.front() != '/') return say{std::string(line)};
  if (line.substr(0, 2) == "//") return say{std::string(line.substr(1))};
  if (line.substr(0, 4) == "/me " && !trimmed(line.substr(4)).empty()) return say{std::string(line)};
  std::string_view rest = line;
  const std::string_view verb = next_word(rest);
  if (verb == "/quit" || verb == "/exit") return quit{};
  if (verb == "/help") return help{};
  if (verb == "/who") return who{};
  if (verb == "/rooms") return rooms{};
  if (verb == "/history") return parse_history(rest);
  if (verb == "/join" || verb == "/leave") return parse_room_command(verb, rest);
  if (verb == "/msg") {
    const std::string_view to = next_word(rest);
    if (to.empty() || trimmed(rest).empty()) return hint{"usage: /msg NAME TEXT"};
    return dm{std::string(to), std::string(rest)};
  }
  if (verb == "/reply") {
    if (trimmed(rest).empty()) return hint{"usage: /reply TEXT"};
    return reply{std::string(rest)};
  }
  if (verb == "/me") return hint{"usage: /me ACTION"};
  if (verb == "/nick") return hint{"renaming is not supported: reconnect with --name NAME"};
  return hint{"unknown command " + std::string(verb) + " — /help lists the commands"};
}

std::vector<std::string> help_lines() {
  return {
      "/who                 who is online, since when",
      "/msg NAME TEXT       a private message",
      "/reply TEXT          a private message to who last sent you one",
      "/join ROOM           follow ROOM and talk there",
      "/leave [ROOM]        stop following ROOM (default: the current one)",
      "/rooms               the rooms you follow, and every room on the broker",
      "/history [N]         the last N messages of the current room (default 20)",
      "/me ACTION           say what you do: * you ACTION",
      "/help                this list",
      "/quit (or exit)      leave; Ctrl-D and Ctrl-C leave too",
      "//text               send a message that starts with /",
  };
}

}  // namespace bcast::client::command
