// Conversion of an earlier version's SQLite history file (schema 1: tables
// meta, rooms, messages) into one segment of a new history directory.
#include "bcast/broker/sqlite_import.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "log_meta.hpp"
#include "log_records.hpp"
#include "sqlite_db.hpp"

namespace bcast::broker {
namespace {

constexpr std::string_view sqlite_magic{"SQLite format 3\0", 16};
constexpr std::int64_t known_schema = 1;

std::int64_t meta_value(sqlite::database& db, const char* key, std::int64_t otherwise) {
  sqlite::statement get(db, "SELECT value FROM meta WHERE key = ?1");
  get.bind(1, std::string_view(key));
  return get.step() ? get.integer(0) : otherwise;
}

std::uint64_t as_uint(std::int64_t v) { return static_cast<std::uint64_t>(v); }

}  // namespace

bool is_sqlite_history(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(sqlite_magic.size(), '\0');
  if (!in.read(head.data(), static_cast<std::streamsize>(head.size())) || head != sqlite_magic) {
    return false;
  }
  try {
    sqlite::database db(path);
    sqlite::statement tables(db, R"sql(
        SELECT count(*) FROM sqlite_master WHERE type = 'table'
        AND name IN ('meta', 'rooms', 'messages'))sql");
    return tables.step() && tables.integer(0) == 3 && meta_value(db, "schema", 0) == known_schema;
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::size_t import_sqlite_history(const std::string& file, const std::string& dir) {
  sqlite::database db(file);
  const auto epoch = as_uint(meta_value(db, "epoch", 0));
  const bool clean = meta_value(db, "clean", 1) == 1 || meta_value(db, "durable", 0) == 1;

  const log::segment_header header{epoch, 1};
  const std::uint32_t seed = log::seed_of(header);
  std::string bytes = log::encode_header(header);
  std::vector<std::string> names;
  log::checkpoint_record checkpoint{as_uint(meta_value(db, "sys_seq", 0)), {}};
  sqlite::statement rooms(db, "SELECT name, last_seq FROM rooms ORDER BY name");
  while (rooms.step()) {
    names.push_back(rooms.text(0));
    checkpoint.rooms.emplace_back(std::string_view{}, as_uint(rooms.integer(1)));
  }
  for (std::size_t i = 0; i < names.size(); ++i) checkpoint.rooms[i].first = names[i];
  log::append(bytes, checkpoint, seed);

  std::size_t converted = 0;
  sqlite::statement messages(db, R"sql(
      SELECT room, seq, ts, body, token, sender, req FROM messages ORDER BY id)sql");
  while (messages.step()) {
    const std::string room = messages.text(0);
    const std::string body = messages.text(3);
    const std::string token = messages.is_null(4) ? "" : messages.text(4);
    const std::string name = messages.is_null(5) ? "" : messages.text(5);
    const std::uint64_t id = messages.is_null(6) ? 0 : as_uint(messages.integer(6));
    if (room.empty() || body.empty() || room.size() > 255 || token.size() > 255 || name.size() > 255) continue;
    log::append(bytes, log::msg_record{room, as_uint(messages.integer(1)), as_uint(messages.integer(2)),
                                       id, token, name, body}, seed);
    ++converted;
  }

  if (::mkdir(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
  }
  const std::string segment = dir + "/00000000000000000001.seg";
  const int fd = ::open(segment.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (std::string_view rest = bytes; ok && !rest.empty();) {
    const auto n = ::write(fd, rest.data(), rest.size());
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ok = ok && ::fdatasync(fd) == 0;
  const int error = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + segment + ": " + std::strerror(error));
  // Not clean: no boot id, so the next start begins a new epoch.
  log::write_meta(dir, {epoch, clean, false, clean ? log::boot_id() : "", 1, bytes.size()});
  return converted;
}

}  // namespace bcast::broker
