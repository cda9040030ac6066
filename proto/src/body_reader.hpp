// Reads one MessagePack body as a map with string keys and hands out typed
// fields. The first problem found sticks: callers read every field they need
// and check `failed()` once, so each message's decoder stays a list of keys.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bcast::proto::detail {

class body_reader {
 public:
  // Parses `bytes`; on failure `failed()` is true and `error()` says why.
  explicit body_reader(std::string_view bytes);

  // A reader over a nested map (a `msg` inside `history.msgs`).
  explicit body_reader(const msgpack::object& map);

  [[nodiscard]] bool failed() const { return error_.has_value(); }
  [[nodiscard]] const std::string& error() const { return *error_; }

  // Required fields: a missing or mistyped one marks the reader failed.
  std::string str(std::string_view key);
  std::uint64_t u64(std::string_view key);

  // Optional fields: absent gives nullopt; present with a wrong type fails.
  std::optional<std::string> opt_str(std::string_view key);
  std::optional<std::uint64_t> opt_u64(std::string_view key);

  // Arrays and maps, for the few bodies that nest; nullptr when absent.
  const msgpack::object* opt_array(std::string_view key);
  const msgpack::object* opt_map(std::string_view key);

  // Reads a string object, checking UTF-8; `what` names it in errors.
  std::optional<std::string> as_str(const msgpack::object& value, std::string_view what);
  std::optional<std::uint64_t> as_u64(const msgpack::object& value, std::string_view what);

  void fail(std::string reason);

 private:
  void index(const msgpack::object& root);
  const msgpack::object* find(std::string_view key) const;
  const msgpack::object* typed(std::string_view key, msgpack::type::object_type type,
                               std::string_view type_name);

  std::vector<std::pair<std::string_view, const msgpack::object*>> fields_;
  std::optional<std::string> error_;
};

}  // namespace bcast::proto::detail
