// The byte layout of the history log (specified in log_format.md): segment
// headers and the records inside a segment, encoded for appending and decoded
// for recovery. Pure functions over bytes: no files, no clock. Decoding never
// trusts its input: a record is only ever returned whole and with a matching
// CRC-32C, and a scan stops at the first one that is not.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace bcast::broker::log {

inline constexpr std::string_view segment_magic = "BCASTLOG";
// 2: a record's CRC starts from its segment's number (see seed_of); 1 is
// still read.
inline constexpr std::uint32_t format_version = 2;
inline constexpr std::size_t header_size = 32;
// Length and CRC before every payload.
inline constexpr std::size_t record_overhead = 8;
// No record is longer: a message is at most a frame (16 MiB); a checkpoint
// of every room is far below. A longer length field is damage.
inline constexpr std::size_t max_payload = std::size_t{64} << 20;

struct segment_header {
  std::uint64_t epoch = 0;
  std::uint64_t number = 0;  // segments of a store are numbered 1, 2, 3…
  std::uint32_t version = format_version;
};

// What the CRC-32C of every record in a segment with this header starts
// from: its number (version 2), so that records left from an earlier use of
// a reused file never pass as this segment's; 0 in version 1.
[[nodiscard]] std::uint32_t seed_of(const segment_header& header);

enum class record_type : std::uint8_t { msg = 1, sys = 2, checkpoint = 3 };

// A message as stored: its room, seq, time, who sent it under which request
// id (so a retry after a restart gets its original ack) and the encoded body.
struct msg_record {
  std::string_view room;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  std::uint64_t id = 0;         // 0 with no origin
  std::string_view token;       // empty with no origin
  std::string_view name;
  std::string_view body;
};

// The `sys` stream's latest seq.
struct sys_record {
  std::uint64_t sys_seq = 0;
};

// Every room's last seq and the `sys` seq, at the start of each segment: a
// segment can be dropped without losing any seq a later one depends on.
struct checkpoint_record {
  std::uint64_t sys_seq = 0;
  std::vector<std::pair<std::string_view, std::uint64_t>> rooms;
};

using record = std::variant<msg_record, sys_record, checkpoint_record>;

[[nodiscard]] std::string encode_header(const segment_header& header);
// Returns the header, or nullopt when `bytes` does not start with one of
// a format version this code reads (1 or 2).
[[nodiscard]] std::optional<segment_header> decode_header(std::string_view bytes);

// Append one encoded record to `out`, its CRC started from `seed` (the
// segment's seed_of).
void append(std::string& out, const msg_record& m, std::uint32_t seed = 0);
// Appends all of a message's record but its body, which must follow it
// (written from where it is, without a copy).
void append_head(std::string& out, const msg_record& m, std::uint32_t seed = 0);
void append(std::string& out, const sys_record& s, std::uint32_t seed = 0);
void append(std::string& out, const checkpoint_record& c, std::uint32_t seed = 0);

// Bytes `append` adds for a message of these sizes.
[[nodiscard]] std::size_t msg_record_size(std::size_t room, std::size_t token, std::size_t name,
                                          std::size_t body);

struct scan_result {
  std::size_t valid = 0;    // bytes of whole, intact records from the start
  std::size_t records = 0;  // how many
};

// Calls `visit(record, offset)` for each intact record at the start of
// `data` (a segment's bytes after its header), in order, and stops at the end
// or at the first record that is cut short, fails its CRC or does not
// decode (its CRC started from `seed`). The views in a record point into
// `data`.
scan_result scan(std::string_view data,
                 const std::function<void(const record&, std::size_t offset)>& visit,
                 std::uint32_t seed = 0);

}  // namespace bcast::broker::log
