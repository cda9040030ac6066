// Parsing of untrusted bytes into a keyed view of one MessagePack map.
#include "body_reader.hpp"

#include <algorithm>
#include <exception>

#include "bcast/proto/limits.hpp"
#include "bcast/proto/validate.hpp"

namespace bcast::proto::detail {
namespace {

// No container or string in a body can hold more entries than the body has
// bytes (nor than a frame has), so these caps refuse a forged length before
// the decoder reserves room for it: a 5-byte body claiming 65535 map entries
// would otherwise cost 2 MiB.
msgpack::unpack_limit wire_limits(std::size_t body_bytes) {
  const std::size_t most = std::min(body_bytes, default_max_frame);
  return msgpack::unpack_limit(most, most, most, most, most, max_decode_depth);
}

// One zone per thread, emptied for each body: msgpack's unpack() would
// allocate a fresh 8 KiB zone for every body, which was the largest cost of
// a message in the broker. A reader's objects live until the next body is
// read on the same thread, and no reader outlives its decode call.
msgpack::zone& emptied_zone() {
  thread_local msgpack::zone zone;
  zone.clear();
  return zone;
}

}  // namespace

body_reader::body_reader(std::string_view bytes) {
  std::size_t offset = 0;
  msgpack::object root;
  try {
    bool referenced = false;
    const auto parsed = msgpack::detail::unpack_imp(bytes.data(), bytes.size(), offset, emptied_zone(), root,
                                                    referenced, nullptr, nullptr, wire_limits(bytes.size()));
    // As unpack() does: an incomplete body yields no object.
    if (parsed != msgpack::PARSE_SUCCESS && parsed != msgpack::PARSE_EXTRA_BYTES) root = msgpack::object();
  } catch (const std::exception& e) {
    fail(std::string("body is not valid MessagePack (") + e.what() + ")");
    return;
  }
  if (offset != bytes.size()) {
    fail("body has bytes after its MessagePack map");
    return;
  }
  index(root);
}

body_reader::body_reader(const msgpack::object& map) { index(map); }

void body_reader::index(const msgpack::object& root) {
  if (root.type != msgpack::type::MAP) {
    fail("body is not a MessagePack map");
    return;
  }
  fields_.reserve(root.via.map.size);
  for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
    const auto& kv = root.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) {
      fail("map key is not a string");
      return;
    }
    const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
    if (!is_valid_utf8(key)) {
      fail("map key is not valid UTF-8");
      return;
    }
    if (find(key) != nullptr) {
      fail("key '" + std::string(key) + "' appears twice");
      return;
    }
    fields_.emplace_back(key, &kv.val);
  }
}

void body_reader::fail(std::string reason) {
  if (!error_) error_ = std::move(reason);
}

const msgpack::object* body_reader::find(std::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return v;
  }
  return nullptr;
}

const msgpack::object* body_reader::typed(std::string_view key, msgpack::type::object_type type,
                                          std::string_view type_name) {
  const msgpack::object* value = find(key);
  if (value != nullptr && value->type != type) {
    fail("key '" + std::string(key) + "' must be " + std::string(type_name));
    return nullptr;
  }
  return value;
}

std::optional<std::string> body_reader::as_str(const msgpack::object& value, std::string_view what) {
  if (value.type != msgpack::type::STR) {
    fail(std::string(what) + " must be a string");
    return std::nullopt;
  }
  std::string_view text(value.via.str.ptr, value.via.str.size);
  if (!is_valid_utf8(text)) {
    fail(std::string(what) + " is not valid UTF-8");
    return std::nullopt;
  }
  return std::string(text);
}

std::optional<std::uint64_t> body_reader::as_u64(const msgpack::object& value,
                                                 std::string_view what) {
  if (value.type != msgpack::type::POSITIVE_INTEGER) {
    fail(std::string(what) + " must be an unsigned integer");
    return std::nullopt;
  }
  return value.via.u64;
}

std::optional<std::string> body_reader::opt_str(std::string_view key) {
  const msgpack::object* value = find(key);
  if (value == nullptr) return std::nullopt;
  return as_str(*value, "key '" + std::string(key) + "'");
}

std::optional<std::uint64_t> body_reader::opt_u64(std::string_view key) {
  const msgpack::object* value = find(key);
  if (value == nullptr) return std::nullopt;
  return as_u64(*value, "key '" + std::string(key) + "'");
}

std::string body_reader::str(std::string_view key) {
  if (find(key) == nullptr) fail("key '" + std::string(key) + "' is missing");
  return opt_str(key).value_or(std::string());
}

std::uint64_t body_reader::u64(std::string_view key) {
  if (find(key) == nullptr) fail("key '" + std::string(key) + "' is missing");
  return opt_u64(key).value_or(0);
}

const msgpack::object* body_reader::opt_array(std::string_view key) {
  return typed(key, msgpack::type::ARRAY, "an array");
}

const msgpack::object* body_reader::opt_map(std::string_view key) {
  return typed(key, msgpack::type::MAP, "a map");
}

}  // namespace bcast::proto::detail
