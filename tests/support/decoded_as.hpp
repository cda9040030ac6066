// A decoded body read as one message type: the tests' single place that
// says why a body is not the message they expected (undecodable, another
// type, an error event with its code and reason).
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "bcast/proto/codec.hpp"

namespace bcast::test {

// Returns the `T` in `decoded`, or nullopt with `why` set.
template <typename T, typename Any>
std::optional<T> decoded_as(std::variant<Any, proto::decode_error> decoded, std::string& why) {
  if (const auto* error = std::get_if<proto::decode_error>(&decoded)) {
    why = "undecodable: " + error->reason;
    return std::nullopt;
  }
  auto& any = std::get<Any>(decoded);
  if (auto* wanted = std::get_if<T>(&any)) return std::move(*wanted);
  why = "a " + std::string(std::visit([](const auto& m) { return m.type; }, any)) + " instead";
  if constexpr (std::is_same_v<Any, proto::any_event>) {
    if (const auto* e = std::get_if<proto::event::error>(&any)) why += " (" + e->code + ": " + e->reason + ")";
  }
  return std::nullopt;
}

}  // namespace bcast::test
