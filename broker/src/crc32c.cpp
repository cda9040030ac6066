// CRC-32C: the SSE4.2 instruction when the CPU has it (chosen once), else a
// table, byte by byte. Both give the same value (tests/unit/log_records_test).
// The instruction takes three cycles but starts one every cycle, so three
// independent streams over 3 × 256-byte blocks run three times as fast; they
// are joined by shifting a CRC over 256 zero bytes (a GF(2) operator turned
// into tables, as in Mark Adler's crc32c.c).
#include "crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace bcast::broker {
namespace {

constexpr std::uint32_t polynomial = 0x82f63b78;  // reflected Castagnoli

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto table = make_table();

std::uint32_t crc32c_table(std::string_view bytes, std::uint32_t crc) {
  for (const char b : bytes) crc = table[(crc ^ static_cast<std::uint8_t>(b)) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// The operator that appends `len` (a power of two) zero bytes to a CRC, as
// tables by byte position.
using shift_tables = std::array<std::array<std::uint32_t, 256>, 4>;

std::uint32_t gf2_times(const std::array<std::uint32_t, 32>& matrix, std::uint32_t vector) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; vector != 0; ++i, vector >>= 1) {
    if ((vector & 1) != 0) sum ^= matrix[i];
  }
  return sum;
}

std::array<std::uint32_t, 32> gf2_square(const std::array<std::uint32_t, 32>& matrix) {
  std::array<std::uint32_t, 32> square{};
  for (std::size_t i = 0; i < 32; ++i) square[i] = gf2_times(matrix, matrix[i]);
  return square;
}

shift_tables zeros_tables(std::size_t len) {
  std::array<std::uint32_t, 32> odd{};  // one zero bit
  odd[0] = polynomial;
  for (std::size_t i = 1; i < 32; ++i) odd[i] = std::uint32_t{1} << (i - 1);
  std::array<std::uint32_t, 32> even = gf2_square(odd);  // two zero bits
  odd = gf2_square(even);                                 // four
  // Each square doubles: the first gives one zero byte.
  for (;;) {
    even = gf2_square(odd);
    len >>= 1;
    if (len == 0) break;
    odd = gf2_square(even);
    len >>= 1;
    if (len == 0) {
      even = odd;
      break;
    }
  }
  shift_tables tables{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    for (std::size_t b = 0; b < 4; ++b) tables[b][n] = gf2_times(even, n << (8 * b));
  }
  return tables;
}

constexpr std::size_t block = 256;
const shift_tables block_shift = zeros_tables(block);

std::uint32_t shift_block(std::uint32_t crc) {
  return block_shift[0][crc & 0xff] ^ block_shift[1][(crc >> 8) & 0xff] ^
         block_shift[2][(crc >> 16) & 0xff] ^ block_shift[3][crc >> 24];
}

__attribute__((target("sse4.2"))) std::uint64_t crc_words(std::uint64_t crc, const char* p) {
  std::uint64_t word = 0;
  std::memcpy(&word, p, sizeof word);
  return _mm_crc32_u64(crc, word);
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view bytes,
                                                             std::uint32_t crc) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t c = crc;
  for (; n >= 3 * block; p += 3 * block, n -= 3 * block) {
    std::uint64_t c1 = 0;
    std::uint64_t c2 = 0;
    for (std::size_t i = 0; i < block; i += 8) {
      c = crc_words(c, p + i);
      c1 = crc_words(c1, p + block + i);
      c2 = crc_words(c2, p + 2 * block + i);
    }
    c = shift_block(static_cast<std::uint32_t>(c)) ^ c1;
    c = shift_block(static_cast<std::uint32_t>(c)) ^ c2;
  }
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, sizeof word);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<std::uint8_t>(*p));
  return c32;
}

const bool has_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
  crc = ~crc;
#if defined(__x86_64__)
  crc = has_sse42 ? crc32c_sse42(bytes, crc) : crc32c_table(bytes, crc);
#else
  crc = crc32c_table(bytes, crc);
#endif
  return ~crc;
}

}  // namespace bcast::broker
