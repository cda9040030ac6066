// History files of earlier versions (one SQLite file, read here only to
// convert it): recognising one, and writing its history into a new history
// directory of `log_history`, so an upgrade keeps every room, seq, stored
// message and retry id, and the epoch when the old file was closed cleanly.
#pragma once

#include <cstddef>
#include <string>

namespace bcast::broker {

// Whether `path` is a history file of an earlier broadcast-server: a SQLite
// database with this program's tables. Reads it only; false for anything
// else (another program's database, garbage, a directory).
[[nodiscard]] bool is_sqlite_history(const std::string& path);

// Writes the history in `file` into the directory `dir`, which must not
// exist yet. The epoch continues when the file was closed cleanly (or
// written with --durable); otherwise the directory is marked so that opening
// it begins a new, empty epoch, as the old store would have. Returns the
// number of messages converted. Throws std::runtime_error naming the path.
std::size_t import_sqlite_history(const std::string& file, const std::string& dir);

}  // namespace bcast::broker
