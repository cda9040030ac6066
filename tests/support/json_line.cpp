// Reading values out of --json lines.
#include "json_line.hpp"

namespace bcast::test {

std::optional<std::string> json_raw(const std::string& line, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const auto at = line.find(needle);
  if (at == std::string::npos) return std::nullopt;
  std::size_t i = at + needle.size();
  if (i < line.size() && line[i] == '"') {
    std::string out;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  const auto end = line.find_first_of(",}", i);
  return line.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

std::string json_str(const std::string& line, std::string_view key) {
  return json_raw(line, key).value_or("");
}

std::uint64_t json_uint(const std::string& line, std::string_view key) {
  const auto raw = json_raw(line, key);
  return raw && !raw->empty() ? std::stoull(*raw) : 0;
}

}  // namespace bcast::test
