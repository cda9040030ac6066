// A thin RAII layer over the SQLite C API for the history store: one
// connection, prepared statements with positional binds, and errors turned
// into std::runtime_error carrying SQLite's message. Nothing else in the
// broker includes sqlite3.h.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::broker::sqlite {

class statement;

class database {
 public:
  // Opens (creating if needed) the file at `path`; throws on failure.
  explicit database(const std::string& path);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  // Runs one or more statements without results.
  void exec(const char* sql);
  // Like exec, but returns SQLite's result code instead of throwing.
  int try_exec(const char* sql);
  [[nodiscard]] std::string error() const { return sqlite3_errmsg(db_); }
  [[nodiscard]] int changes() const { return sqlite3_changes(db_); }
  [[nodiscard]] sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class statement {
 public:
  statement(database& db, const char* sql);
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  // Binds positional parameters (1-based); text and blobs are copied.
  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view text);
  statement& bind_blob(int index, std::string_view bytes);
  statement& bind_null(int index);
  template <typename T>
  statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Steps once: true while a row is available; throws on errors.
  bool step();
  // Runs to completion (for statements without rows) and resets.
  void run();
  void reset();

  [[nodiscard]] std::int64_t integer(int column) const;
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] bool is_null(int column) const;

 private:
  database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace bcast::broker::sqlite
