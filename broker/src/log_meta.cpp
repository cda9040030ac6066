// Reading and writing the history directory's `meta` file.
#include "log_meta.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

#include "crc32c.hpp"

namespace bcast::broker::log {
namespace {

constexpr std::string_view first_line = "broadcast-server history\n";
constexpr std::string_view version_line = "version 1\n";

std::system_error os_error(const std::string& what) {
  return {errno, std::generic_category(), what};
}

// Writes all of `bytes` to `fd`; false on an error (errno says which).
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string encode_meta(const store_meta& m) {
  std::ostringstream out;
  out << first_line << version_line << "epoch " << m.epoch << "\nstate "
      << (m.clean ? "clean" : "running") << "\nmode " << (m.durable ? "durable" : "default")
      << "\nboot " << (m.boot_id.empty() ? "unknown" : m.boot_id) << "\nsegment " << m.segment
      << "\nsize " << m.size << "\n";
  std::string text = out.str();
  char crc[16];
  const auto [end, ec] = std::to_chars(crc, crc + sizeof crc, crc32c(text), 16);
  text += "crc ";
  text.append(crc, end);
  text += "\n";
  return text;
}

bool looks_like_meta(std::string_view text) { return text.substr(0, first_line.size()) == first_line; }

std::optional<store_meta> decode_meta(std::string_view text) {
  const auto crc_at = text.rfind("crc ");
  if (!looks_like_meta(text) || crc_at == std::string_view::npos) return std::nullopt;
  std::uint32_t crc = 0;
  const auto crc_text = text.substr(crc_at + 4);
  const auto [end, ec] = std::from_chars(crc_text.data(), crc_text.data() + crc_text.size(), crc, 16);
  if (ec != std::errc() || std::string_view(end, crc_text.data() + crc_text.size()) != "\n" ||
      crc32c(text.substr(0, crc_at)) != crc) {
    return std::nullopt;
  }
  store_meta m;
  int seen = 0;
  std::istringstream lines{std::string(text.substr(first_line.size(), crc_at - first_line.size()))};
  std::string key;
  std::string value;
  while (lines >> key >> value) {
    if (key == "version") {
      if (value != "1") return std::nullopt;
    } else if (key == "state") {
      m.clean = value == "clean";
    } else if (key == "mode") {
      m.durable = value == "durable";
    } else if (key == "boot") {
      m.boot_id = value == "unknown" ? "" : value;
    } else if (auto v = number(value); v && key == "epoch") {
      m.epoch = *v;
      ++seen;
    } else if (v && key == "segment") {
      m.segment = *v;
      ++seen;
    } else if (v && key == "size") {
      m.size = *v;
      ++seen;
    } else {
      return std::nullopt;
    }
  }
  if (seen != 3) return std::nullopt;
  return m;
}

void write_meta(const std::string& dir, const store_meta& meta) {
  const std::string path = dir + "/" + std::string(meta_file);
  const std::string temporary = path + ".new";
  // A new file of our own: never through a link someone left in its place.
  ::unlink(temporary.c_str());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw os_error("cannot write " + temporary);
  const bool ok = write_all(fd, encode_meta(meta)) && ::fdatasync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(temporary.c_str());  // the old meta stays: a lower bound, still true
    errno = saved;
    throw os_error("cannot write " + temporary);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) throw os_error("cannot replace " + path);
}

std::optional<std::string> read_meta(const std::string& dir) {
  const std::string path = dir + "/" + std::string(meta_file);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw os_error("cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  in >> id;
  return id;
}

}  // namespace bcast::broker::log
