// Writes one MessagePack map body. Callers give the entry count first (the
// MessagePack map header needs it), then the entries; `put_opt` skips absent
// optionals, and `count` says how many of them are present.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::proto::detail {

class body_writer {
 public:
  // `expected_bytes`: room reserved up front, so most bodies never grow.
  explicit body_writer(std::size_t expected_bytes = 128) { sink_.bytes.reserve(expected_bytes); }

  void map(std::size_t entries) { packer_.pack_map(static_cast<std::uint32_t>(entries)); }
  void array(std::size_t entries) { packer_.pack_array(static_cast<std::uint32_t>(entries)); }

  void value(std::string_view text) {
    packer_.pack_str(static_cast<std::uint32_t>(text.size()));
    packer_.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
  }
  void value(std::uint64_t number) { packer_.pack_uint64(number); }

  // Appends bytes that are already one encoded MessagePack object.
  void raw(std::string_view encoded) { sink_.bytes.append(encoded); }

  template <typename T>
  void put(std::string_view key, const T& v) {
    value(key);
    value(v);
  }

  template <typename T>
  void put_opt(std::string_view key, const std::optional<T>& v) {
    if (v) put(key, *v);
  }

  template <typename... Opt>
  static std::size_t count(const Opt&... optionals) {
    return (std::size_t{0} + ... + (optionals.has_value() ? 1U : 0U));
  }

  [[nodiscard]] std::string take() { return std::move(sink_.bytes); }

 private:
  // The packer writes straight into the body's string (an sbuffer would
  // allocate 8 KiB per body and then be copied).
  struct string_sink {
    std::string bytes;
    void write(const char* data, std::size_t size) { bytes.append(data, size); }
  };
  string_sink sink_;
  msgpack::packer<string_sink> packer_{sink_};
};

}  // namespace bcast::proto::detail
