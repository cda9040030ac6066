// The history directory's `meta` file (log_format.md): which epoch the
// segments belong to, whether the last run stopped cleanly, in which mode it
// ran, the boot it ran in, and how far its writes were known to be on disk.
// Small, text, checksummed, and replaced whole (write, fdatasync, rename), so
// it is always either the old or the new version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bcast::broker::log {

struct store_meta {
  std::uint64_t epoch = 0;
  bool clean = false;     // the run stopped cleanly: `segment`/`size` is the end
  bool durable = false;   // the run published only what was on disk
  std::string boot_id;    // the kernel's boot id during the run
  std::uint64_t segment = 0;  // the newest segment known to the run
  std::uint64_t size = 0;     // bytes of it on disk (synced), or its end when clean
};

inline constexpr std::string_view meta_file = "meta";

[[nodiscard]] std::string encode_meta(const store_meta& meta);
// Returns the meta, or nullopt when `text` is not a meta file of this format
// (or fails its checksum).
[[nodiscard]] std::optional<store_meta> decode_meta(std::string_view text);
// Whether `text` starts like a meta file (even a damaged one).
[[nodiscard]] bool looks_like_meta(std::string_view text);

// Replaces `dir`/meta. Throws std::system_error.
void write_meta(const std::string& dir, const store_meta& meta);
// Returns the contents of `dir`/meta, or nullopt when it does not exist.
// Throws std::system_error on other errors.
[[nodiscard]] std::optional<std::string> read_meta(const std::string& dir);

// The kernel's id of the current boot (empty when unknown): a process crash
// leaves every write(2) in the page cache, a reboot may not.
[[nodiscard]] std::string boot_id();

}  // namespace bcast::broker::log
