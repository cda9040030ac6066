// Reading and writing zcert-style key files.
#include "bcast/proto/curve_cert.hpp"

#include <fstream>
#include <string_view>

namespace bcast::proto {
namespace {

constexpr std::string_view z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// The quoted value of a `key = "value"` line, if the line sets `key`.
std::optional<std::string> value_of(std::string_view line, std::string_view key) {
  const auto start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos || line.substr(start, key.size()) != key) return std::nullopt;
  const auto open = line.find('"', start + key.size());
  const auto close = open == std::string_view::npos ? open : line.find('"', open + 1);
  if (close == std::string_view::npos) return std::nullopt;
  const auto between = line.substr(start + key.size(), open - start - key.size());
  if (between.find_first_not_of(" \t=") != std::string_view::npos) return std::nullopt;
  return std::string(line.substr(open + 1, close - open - 1));
}

}  // namespace

bool is_z85_key(const std::string& text) {
  return text.size() == 40 && text.find_first_not_of(z85_alphabet) == std::string::npos;
}

std::optional<curve_cert> read_curve_cert(const std::string& path, bool need_secret,
                                          std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = "cannot read " + path;
    return std::nullopt;
  }
  curve_cert cert;
  std::string line;
  while (std::getline(in, line)) {
    if (auto v = value_of(line, "public-key")) cert.public_key = *v;
    if (auto v = value_of(line, "secret-key")) cert.secret_key = *v;
  }
  if (!is_z85_key(cert.public_key)) {
    why = path + " holds no public-key (40 Z85 characters)";
    return std::nullopt;
  }
  if (need_secret && !is_z85_key(cert.secret_key)) {
    why = path + " holds no secret-key: give the NAME.key_secret file";
    return std::nullopt;
  }
  return cert;
}

std::string curve_cert_text(const curve_cert& cert, const std::string& comment) {
  std::string text = "#   " + comment + "\n";
  text += "#   ZeroMQ CURVE ";
  text += cert.secret_key.empty() ? "Public" : "**Secret**";
  text += " Certificate (zcert format)\n\nmetadata\ncurve\n";
  text += "    public-key = \"" + cert.public_key + "\"\n";
  if (!cert.secret_key.empty()) text += "    secret-key = \"" + cert.secret_key + "\"\n";
  return text;
}

}  // namespace bcast::proto
