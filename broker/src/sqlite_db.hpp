// A thin RAII layer over the SQLite C API, to read history files of earlier
// versions (sqlite_import): one read-only connection, prepared statements
// with positional binds, and errors turned into std::runtime_error carrying
// SQLite's message. Nothing else in the broker includes sqlite3.h.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace bcast::broker::sqlite {

class database {
 public:
  // Opens the file at `path` to read only; throws on failure.
  explicit database(const std::string& path);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  [[nodiscard]] std::string error() const { return sqlite3_errmsg(db_); }
  [[nodiscard]] sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class statement {
 public:
  // Prepares `sql`; throws on failure (e.g. a table that does not exist).
  statement(database& db, const char* sql);
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  // Binds a positional parameter (1-based); the text is copied.
  statement& bind(int index, std::string_view text);
  // Steps once: true while a row is available; throws on errors.
  bool step();

  [[nodiscard]] std::int64_t integer(int column) const;
  // A text or blob column's bytes.
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] bool is_null(int column) const;

 private:
  database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace bcast::broker::sqlite
