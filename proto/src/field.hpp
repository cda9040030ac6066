// How the codec describes a message: `schema<Message>` (generated from
// proto/schema/bcast1.json into schema_tables.hpp) names its `t` and lists
// its keys in canonical order as `field`s, each a wire key, the member that
// holds it and its presence. encode.cpp and decode.cpp walk these lists, so
// a key or a message type is a schema edit, not a codec edit; the value
// types themselves (uint, str, arrays, maps) are read and written there.
#pragma once

#include <cstddef>
#include <limits>
#include <string_view>

namespace bcast::proto::detail {

enum class presence {
  required,    // absent: the body is refused
  optional,    // a std::optional member: absent is nullopt, and is not written
  defaulted,   // absent: the member keeps its initialiser; always written
  omit_empty,  // an array: absent is empty, and an empty one is not written
};

template <typename Message, typename Member>
struct field {
  std::string_view key;
  Member Message::*member;
  presence how;
  std::size_t max_entries;  // arrays: more is refused
};

template <typename Message, typename Member>
constexpr field<Message, Member> make_field(
    std::string_view key, Member Message::*member, presence how,
    std::size_t max_entries = std::numeric_limits<std::size_t>::max()) {
  return {key, member, how, max_entries};
}

// Specialised for every message (with `type`, its `t`) and every nested map
// (without): `fields`, a tuple of `field`s in canonical order, and
// `decode_order`, the indexes of `fields` in the order decoding reads them.
template <typename Message>
struct schema;

}  // namespace bcast::proto::detail
