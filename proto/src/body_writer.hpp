// Writes one MessagePack map body. Callers give the entry count first (the
// MessagePack map header needs it), then the entries; `put_opt` skips absent
// optionals, and `count` says how many of them are present. The format is
// written here directly, into the body's own string: the broker writes one
// body per message, and msgpack-c's packer cost it an append per field.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::proto::detail {

class body_writer {
 public:
  // `expected_bytes`: room made up front, so most bodies never grow.
  explicit body_writer(std::size_t expected_bytes = 128) { bytes_.resize(expected_bytes); }
  // Writes into `buffer`'s memory (what it held is overwritten).
  body_writer(std::string buffer, std::size_t expected_bytes) : bytes_(std::move(buffer)) {
    bytes_.resize(std::max(bytes_.capacity(), expected_bytes));
  }

  void map(std::size_t entries) { container(entries, 0x80, 0xDE); }
  void array(std::size_t entries) { container(entries, 0x90, 0xDC); }

  // The shortest MessagePack form, as msgpack-c writes it (the test vectors
  // hold the bytes): fixstr, str 8, 16, 32.
  void value(std::string_view text) {
    const std::size_t n = text.size();
    if (n < 32) {
      byte(0xA0 | n);
    } else if (n <= 0xFF) {
      byte(0xD9);
      byte(n);
    } else if (n <= 0xFFFF) {
      byte(0xDA);
      big_endian(n, 2);
    } else {
      byte(0xDB);
      big_endian(n, 4);
    }
    append(text);
  }
  // Positive fixint, uint 8, 16, 32, 64.
  void value(std::uint64_t number) {
    if (number < 0x80) {
      byte(number);
    } else if (number <= 0xFF) {
      byte(0xCC);
      byte(number);
    } else if (number <= 0xFFFF) {
      byte(0xCD);
      big_endian(number, 2);
    } else if (number <= 0xFFFFFFFF) {
      byte(0xCE);
      big_endian(number, 4);
    } else {
      byte(0xCF);
      big_endian(number, 8);
    }
  }

  // Appends bytes that are already one encoded MessagePack object.
  void raw(std::string_view encoded) { append(encoded); }

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

  [[nodiscard]] std::string take() {
    bytes_.resize(used_);
    return std::move(bytes_);
  }

 private:
  // fix (entries < 16), 16-bit or 32-bit count; `wide16` + 1 is the 32-bit tag.
  void container(std::size_t entries, unsigned fix, unsigned wide16) {
    if (entries < 16) {
      byte(fix | entries);
    } else if (entries <= 0xFFFF) {
      byte(wide16);
      big_endian(entries, 2);
    } else {
      byte(wide16 + 1);
      big_endian(entries, 4);
    }
  }

  // The next `n` bytes of the body, growing it when they do not fit (rarely:
  // the caller made room up front, so the common path stays inline).
  char* claim(std::size_t n) {
    if (bytes_.size() - used_ < n) grow(n);
    char* at = bytes_.data() + used_;
    used_ += n;
    return at;
  }
  [[gnu::noinline]] void grow(std::size_t n) { bytes_.resize(std::max(2 * bytes_.size(), used_ + n)); }
  void byte(std::size_t v) { *claim(1) = static_cast<char>(v); }
  void big_endian(std::uint64_t v, std::size_t width) {
    char* at = claim(width);
    for (std::size_t i = width; i-- > 0; v >>= 8) at[i] = static_cast<char>(v & 0xFF);
  }
  void append(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(claim(bytes.size()), bytes.data(), bytes.size());
  }

  std::string bytes_;  // [0, used_) written, the rest room to write in
  std::size_t used_ = 0;
};

}  // namespace bcast::proto::detail
