// Text and JSON renderings of client events.
#include "bcast/client/format.hpp"

#include <ctime>
#include <type_traits>

#include "bcast/proto/validate.hpp"

namespace bcast::client {
namespace {

std::string hex_escape(char32_t c) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
  return buffer;
}

std::string number(std::uint64_t n) { return std::to_string(n); }

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
    } else if (c >= 0x80 && c <= 0x9F) {
      out += hex_escape(c);
    } else {
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

std::string clock_time(std::uint64_t ts_ms) {
  const std::time_t seconds = static_cast<std::time_t>(ts_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", &local);
  return buffer;
}

std::string_view status_name(status s) {
  switch (s) {
    case status::joined: return "joined";
    case status::connection_lost: return "connection-lost";
    case status::reconnected: return "reconnected";
    case status::server_shutdown: return "server-shutdown";
    case status::epoch_reset: return "epoch-reset";
  }
  return "unknown";
}

std::optional<std::string> text_line(const client_event& e, bool show_room) {
  return std::visit(
      [show_room](const auto& m) -> std::optional<std::string> {
        using type = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<type, message_event>) {
          std::string line = clock_time(m.ts) + " ";
          if (show_room) line += "[" + m.room + "] ";
          return line + sanitize(m.from) + ": " + sanitize(m.text);
        } else if constexpr (std::is_same_v<type, presence_event>) {
          if (m.joined) return "* " + sanitize(m.name) + " joined";
          if (m.reason == "bye" || m.reason.empty()) return "* " + sanitize(m.name) + " left";
          return "* " + sanitize(m.name) + " left (" + sanitize(m.reason) + ")";
        } else if constexpr (std::is_same_v<type, direct_event>) {
          return clock_time(m.ts) + " (private) " + sanitize(m.from) + ": " + sanitize(m.text);
        } else if constexpr (std::is_same_v<type, lost_event>) {
          return "* " + number(m.count) + " message(s) in " + m.room +
                 " could not be recovered (seq " + number(m.first_seq) + "-" +
                 number(m.first_seq + m.count - 1) + ")";
        } else if constexpr (std::is_same_v<type, who_event>) {
          std::string line = "* online:";
          for (const auto& u : m.users) {
            line += " " + sanitize(u.name) + " (since " + clock_time(u.since) + ")";
          }
          return line;
        } else if constexpr (std::is_same_v<type, status_event>) {
          switch (m.what) {
            case status::joined: return std::nullopt;
            case status::connection_lost: return "* connection lost — reconnecting…";
            case status::reconnected: return "* reconnected";
            case status::server_shutdown: return "* server shut down — waiting for it to return";
            case status::epoch_reset: return "* the server started a new history; numbering restarts";
          }
          return std::nullopt;
        } else {
          return std::nullopt;  // acks and errors: the program reports them
        }
      },
      e);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += hex_escape(c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_line(const client_event& e) {
  return std::visit(
      [](const auto& m) -> std::string {
        using type = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<type, message_event>) {
          return R"({"type":"msg","room":)" + json_string(m.room) + R"(,"seq":)" + number(m.seq) +
                 R"(,"ts":)" + number(m.ts) + R"(,"from":)" + json_string(m.from) +
                 R"(,"text":)" + json_string(m.text) + "}";
        } else if constexpr (std::is_same_v<type, presence_event>) {
          std::string line = R"({"type":")" + std::string(m.joined ? "join" : "leave") +
                             R"(","name":)" + json_string(m.name);
          if (!m.joined) line += R"(,"reason":)" + json_string(m.reason);
          return line + R"(,"ts":)" + number(m.ts) + "}";
        } else if constexpr (std::is_same_v<type, direct_event>) {
          return R"({"type":"dm","from":)" + json_string(m.from) + R"(,"text":)" +
                 json_string(m.text) + R"(,"ts":)" + number(m.ts) + "}";
        } else if constexpr (std::is_same_v<type, lost_event>) {
          return R"({"type":"lost","room":)" + json_string(m.room) + R"(,"first_seq":)" +
                 number(m.first_seq) + R"(,"count":)" + number(m.count) + "}";
        } else if constexpr (std::is_same_v<type, ack_event>) {
          std::string line = R"({"type":"ack","id":)" + number(m.id);
          if (m.room) line += R"(,"room":)" + json_string(*m.room);
          if (m.seq) line += R"(,"seq":)" + number(*m.seq);
          return line + "}";
        } else if constexpr (std::is_same_v<type, error_event>) {
          std::string line = R"({"type":"error","code":)" + json_string(m.code) +
                             R"(,"reason":)" + json_string(m.reason);
          if (m.id) line += R"(,"id":)" + number(*m.id);
          return line + "}";
        } else if constexpr (std::is_same_v<type, who_event>) {
          std::string line = R"({"type":"who","users":[)";
          for (std::size_t i = 0; i < m.users.size(); ++i) {
            if (i != 0) line += ",";
            line += R"({"name":)" + json_string(m.users[i].name) + R"(,"since":)" +
                    number(m.users[i].since) + "}";
          }
          return line + "]}";
        } else {
          return R"({"type":"status","status":")" + std::string(status_name(m.what)) +
                 R"(","detail":)" + json_string(m.detail) + "}";
        }
      },
      e);
}

}  // namespace bcast::client
