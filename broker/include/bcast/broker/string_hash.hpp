// The hash of the broker's string-keyed tables (sessions, rooms, history,
// addresses, reply accounts): transparent, so a lookup by string_view makes
// no std::string. An implementation detail, yet public: those tables are
// members of public classes, whose layout needs it.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace bcast::broker {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace bcast::broker
