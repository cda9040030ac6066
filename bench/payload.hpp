// The 21 bytes every benchmark message ends with, whichever system carries
// it: a marker ('W' warm-up, 'M' measured), the publisher's index (4 hex
// digits) and a CLOCK_MONOTONIC time in ns (16 hex digits: the send time the
// schedule gave the message). All ASCII, so it is valid text for BCAST/1.
// Every body the benchmark sends ends with its text, so the receivers read
// the tail from the end of any body without decoding it.
#pragma once

#include <cstdint>
#include <string_view>

namespace bench {

inline constexpr std::size_t tail_size = 21;
inline constexpr char warm_marker = 'W';
inline constexpr char measured_marker = 'M';

inline void write_hex(char* out, std::uint64_t value, int digits) {
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = hex[value & 0xf];
    value >>= 4;
  }
}

inline std::uint64_t read_hex(const char* in, int digits) {
  std::uint64_t value = 0;
  for (int i = 0; i < digits; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    const unsigned digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    value = (value << 4) | (digit & 0xf);
  }
  return value;
}

// Writes the tail over the last tail_size bytes ending at `end`.
inline void write_tail(char* end, char marker, std::uint32_t publisher, std::uint64_t ts_ns) {
  char* t = end - tail_size;
  t[0] = marker;
  write_hex(t + 1, publisher, 4);
  write_hex(t + 5, ts_ns, 16);
}

struct tail {
  char marker = 0;
  std::uint32_t publisher = 0;
  std::uint64_t ts_ns = 0;
};

inline bool read_tail(std::string_view body, tail& out) {
  if (body.size() < tail_size) return false;
  const char* t = body.data() + body.size() - tail_size;
  out.marker = t[0];
  out.publisher = static_cast<std::uint32_t>(read_hex(t + 1, 4));
  out.ts_ns = read_hex(t + 5, 16);
  return out.marker == warm_marker || out.marker == measured_marker;
}

}  // namespace bench
