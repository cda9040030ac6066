// CRC-32C (Castagnoli), the checksum of every record in the history log: the
// polynomial with hardware support on x86-64 (SSE4.2) and ARMv8, as Kafka,
// ext4 and iSCSI use it. Debian ships no CRC-32C library for C++ (zlib's is
// CRC-32, three to four times slower here), so this is the usual few lines.
#pragma once

#include <cstdint>
#include <string_view>

namespace bcast::broker {

// Returns the CRC-32C of `bytes` continued from `crc` (0 to start).
[[nodiscard]] std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

}  // namespace bcast::broker
