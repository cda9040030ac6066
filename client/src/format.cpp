// Text and JSON renderings of client events. Colour is applied only here,
// and only when the caller's line_style asks for it.
#include "bcast/client/format.hpp"

#include <array>
#include <ctime>
#include <variant>

#include "bcast/proto/overloaded.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::client {
namespace {

// Mid-tone 256-colour entries, readable on dark and light backgrounds.
constexpr std::array<int, 16> palette{33, 35, 37, 40, 71, 74, 97, 103,
                                      130, 133, 136, 166, 167, 169, 172, 176};
constexpr std::string_view action_prefix = "/me ";

std::string hex_escape(char32_t c) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
  return buffer;
}

std::string number(std::uint64_t n) { return std::to_string(n); }

// A span of milliseconds the way a person says it: "40 s", "5 min", "3 h", "2 d".
std::string span(std::uint64_t ms) {
  const std::uint64_t s = ms / 1000;
  if (s < 60) return number(s) + " s";
  if (s < 3600) return number(s / 60) + " min";
  if (s < 48 * 3600) return number(s / 3600) + " h";
  return number(s / 86400) + " d";
}

// Invisible and direction-changing characters: shown, never obeyed, so no
// one can reorder or hide text on another person's screen.
bool is_invisible_format(char32_t c) {
  return c == 0x061C || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2060 && c <= 0x2069) || c == 0xFEFF;
}

class painter {
 public:
  explicit painter(const line_style& style) : style_(style) {}

  std::string name(std::string_view raw) const {
    const bool own = !style_.self.empty() && raw == style_.self;
    std::string shown = sanitize(raw);
    if (style_.colour) {
      shown = "\x1b[" + std::string(own ? "1;" : "") + "38;5;" +
              std::to_string(name_colour(raw)) + "m" + shown + "\x1b[0m";
    }
    return own ? shown + " (you)" : shown;
  }

  // System lines (presence, status) are dimmed; trouble is bold.
  std::string system(const std::string& line, bool trouble = false) const {
    if (!style_.colour) return line;
    return (trouble ? "\x1b[1m" : "\x1b[2m") + line + "\x1b[0m";
  }

  std::string message(const message_event& m) const {
    std::string line = (m.ts < style_.dated_before_ms ? date_time(m.ts) : clock_time(m.ts)) + " ";
    if (style_.show_room) line += "[" + m.room + "] ";
    if (std::string_view(m.text).substr(0, action_prefix.size()) == action_prefix) {
      return line + "* " + name(m.from) + " " + sanitize(m.text.substr(action_prefix.size()));
    }
    return line + name(m.from) + ": " + sanitize(m.text);
  }

 private:
  const line_style& style_;
};

}  // namespace

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    const char32_t c = proto::next_code_point(text, pos);
    if (c < 0x20) {
      out += '^';
      out += static_cast<char>(c + 0x40);
    } else if (c == 0x7F) {
      out += "^?";
    } else if ((c >= 0x80 && c <= 0x9F) || is_invisible_format(c)) {
      out += hex_escape(c);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

namespace {

// `ts_ms` in local time, as strftime's `format` writes it.
std::string local_time(std::uint64_t ts_ms, const char* format) {
  const std::time_t seconds = static_cast<std::time_t>(ts_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, format, &local);
  return buffer;
}

}  // namespace

std::string clock_time(std::uint64_t ts_ms) { return local_time(ts_ms, "%H:%M:%S"); }

std::string date_time(std::uint64_t ts_ms) { return local_time(ts_ms, "%Y-%m-%d %H:%M:%S"); }

int name_colour(std::string_view name) {
  std::uint32_t hash = 2166136261U;  // FNV-1a
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return palette[hash % palette.size()];
}

std::string_view status_name(status s) {
  switch (s) {
    case status::joined: return "joined";
    case status::connection_lost: return "connection-lost";
    case status::reconnected: return "reconnected";
    case status::server_shutdown: return "server-shutdown";
    case status::epoch_reset: return "epoch-reset";
    case status::store_refusing: return "store-refusing";
    case status::store_accepting: return "store-accepting";
    case status::rate_limited: return "rate-limited";
    case status::sending_again: return "sending-again";
    case status::unreachable: return "unreachable";
    case status::no_broadcasts: return "no-broadcasts";
    case status::no_requests: return "no-requests";
  }
  return "unknown";
}

namespace {

// The line a change of the connection's state shows, if any.
std::vector<std::string> status_lines(const status_event& m, const painter& paint) {
  switch (m.what) {
    case status::joined: return {};
    case status::connection_lost: return {paint.system("* connection lost — reconnecting…", true)};
    case status::reconnected: return {paint.system("* reconnected")};
    case status::server_shutdown:
      return {paint.system("* server shut down — waiting for it to return", true)};
    case status::epoch_reset:
      return {paint.system("* the server started a new history; numbering restarts", true)};
    case status::store_refusing:
      return {paint.system("* the server cannot store messages now (its disk is full or "
                           "failing); yours wait and are sent again",
                           true)};
    case status::store_accepting: return {paint.system("* the server takes messages again")};
    case status::rate_limited:
      return {paint.system("* sending too fast for the server (" + sanitize(m.detail) +
                               "): your messages wait and are sent again",
                           true)};
    case status::sending_again:
      return {paint.system("* sending again: the server took every message it held back")};
    case status::unreachable: return {paint.system("* " + m.detail + "; still trying", true)};
    case status::no_broadcasts:
    case status::no_requests: return {paint.system("* " + m.detail, true)};
  }
  return {};
}

}  // namespace

std::vector<std::string> text_lines(const client_event& e, const line_style& style) {
  const painter paint(style);
  using lines = std::vector<std::string>;
  return std::visit(
      proto::overloaded{
          [&](const message_event& m) -> lines { return {paint.message(m)}; },
          [&](const presence_event& m) -> lines {
            std::string line = "* " + sanitize(m.name) + (m.joined ? " joined" : " left");
            if (!m.joined && m.reason != "bye" && !m.reason.empty()) line += " (" + sanitize(m.reason) + ")";
            return {paint.system(line)};
          },
          [&](const direct_event& m) -> lines {
            return {clock_time(m.ts) + " (private) " + paint.name(m.from) + ": " + sanitize(m.text)};
          },
          [&](const lost_event& m) -> lines {
            return {paint.system("* " + number(m.count) + " message(s) in " + m.room +
                                     " could not be recovered (seq " + number(m.first_seq) + "-" +
                                     number(m.first_seq + m.count - 1) + ")",
                                 true)};
          },
          [&](const who_event& m) -> lines {
            std::string line = "* online:";
            for (std::size_t i = 0; i < m.users.size(); ++i) {
              line += std::string(i == 0 ? " " : ", ") + sanitize(m.users[i].name) + " (since " +
                      clock_time(m.users[i].since) + ")";
            }
            return {paint.system(line)};
          },
          [&](const rooms_event& m) -> lines {
            std::string line = "* rooms on the broker:";
            for (std::size_t i = 0; i < m.rooms.size(); ++i) {
              const auto& r = m.rooms[i];
              line += std::string(i == 0 ? " " : ", ") + sanitize(r.room) + " (" +
                      (r.last == 0 ? "no messages" : "last #" + number(r.last)) +
                      (r.idle ? ", " + span(*r.idle) + " ago" : "") + ")";
            }
            if (m.rooms.empty()) line += " none yet";
            return {paint.system(line)};
          },
          [&](const history_event& m) -> lines {
            lines out{paint.system("— last " + number(m.msgs.size()) + " message(s) in " + m.room + " —")};
            for (const auto& msg : m.msgs) out.push_back(paint.message(msg));
            return out;
          },
          [&](const status_event& m) -> lines { return status_lines(m, paint); },
          // Acks and errors: the program reports them.
          [](const ack_event&) -> lines { return {}; },
          [](const error_event&) -> lines { return {}; },
      },
      e);
}

std::string sent_private_line(std::string_view to, std::string_view text, std::uint64_t ts_ms,
                              const line_style& style) {
  const painter paint(style);
  return clock_time(ts_ms) + " (private to " + paint.name(to) + ") " + paint.name(style.self) +
         ": " + sanitize(text);
}

std::string json_string(std::string_view text) {
  // Valid JSON either way; escaped, DEL, C1 and bidi or invisible format
  // characters cannot act on a terminal that shows the line (issue 15).
  std::string out = "\"";
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    const char32_t c = proto::next_code_point(text, pos);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || is_invisible_format(c)) {
      out += hex_escape(c);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out + "\"";
}

namespace {

std::string json_msg(const message_event& m, std::string_view type) {
  return R"({"type":")" + std::string(type) + R"(","room":)" + json_string(m.room) +
         R"(,"seq":)" + number(m.seq) + R"(,"ts":)" + number(m.ts) + R"(,"from":)" +
         json_string(m.from) + R"(,"text":)" + json_string(m.text) + "}";
}

}  // namespace

std::string json_line(const client_event& e) {
  return std::visit(
      proto::overloaded{
          [](const message_event& m) { return json_msg(m, "msg"); },
          [](const presence_event& m) {
            std::string line = R"({"type":")" + std::string(m.joined ? "join" : "leave") +
                               R"(","name":)" + json_string(m.name);
            if (!m.joined) line += R"(,"reason":)" + json_string(m.reason);
            return line + R"(,"ts":)" + number(m.ts) + "}";
          },
          [](const direct_event& m) {
            return R"({"type":"dm","from":)" + json_string(m.from) + R"(,"text":)" +
                   json_string(m.text) + R"(,"ts":)" + number(m.ts) + "}";
          },
          [](const lost_event& m) {
            return R"({"type":"lost","room":)" + json_string(m.room) + R"(,"first_seq":)" +
                   number(m.first_seq) + R"(,"count":)" + number(m.count) + "}";
          },
          [](const ack_event& m) {
            std::string line = R"({"type":"ack","id":)" + number(m.id);
            if (m.room) line += R"(,"room":)" + json_string(*m.room);
            if (m.seq) line += R"(,"seq":)" + number(*m.seq);
            return line + "}";
          },
          [](const error_event& m) {
            std::string line = R"({"type":"error","code":)" + json_string(m.code) +
                               R"(,"reason":)" + json_string(m.reason);
            if (m.id) line += R"(,"id":)" + number(*m.id);
            return line + "}";
          },
          [](const who_event& m) {
            std::string line = R"({"type":"who","users":[)";
            for (std::size_t i = 0; i < m.users.size(); ++i) {
              if (i != 0) line += ",";
              line += R"({"name":)" + json_string(m.users[i].name) + R"(,"since":)" +
                      number(m.users[i].since) + "}";
            }
            return line + "]}";
          },
          [](const rooms_event& m) {
            std::string line = R"({"type":"rooms","rooms":[)";
            for (std::size_t i = 0; i < m.rooms.size(); ++i) {
              line += std::string(i != 0 ? "," : "") + R"({"room":)" + json_string(m.rooms[i].room) +
                      R"(,"last":)" + number(m.rooms[i].last);
              if (m.rooms[i].idle) line += R"(,"idle_ms":)" + number(*m.rooms[i].idle);
              line += "}";
            }
            return line + "]}";
          },
          [](const history_event& m) {
            std::string line = R"({"type":"history","room":)" + json_string(m.room) + R"(,"msgs":[)";
            for (std::size_t i = 0; i < m.msgs.size(); ++i) {
              line += (i != 0 ? "," : "") + json_msg(m.msgs[i], "msg");
            }
            return line + "]}";
          },
          [](const status_event& m) {
            return R"({"type":"status","status":")" + std::string(status_name(m.what)) +
                   R"(","detail":)" + json_string(m.detail) + "}";
          },
      },
      e);
}

}  // namespace bcast::client
