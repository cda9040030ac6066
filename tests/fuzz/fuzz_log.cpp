// libFuzzer target for the history log's decoding (broker/src/log_format.md):
// arbitrary bytes as the records of a segment, a segment header and a meta
// file. Recovery reads whatever a crash, a full disk or a person left in the
// directory, so it must never crash, never read past its input, and return
// only records that encode back to exactly the bytes they were read from.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "log_meta.hpp"
#include "log_records.hpp"

namespace {

namespace log = bcast::broker::log;

void require(bool ok) {
  if (!ok) std::abort();
}

std::string encode(const log::record& r) {
  std::string out;
  std::visit([&](const auto& record) { log::append(out, record); }, r);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto scanned = log::scan(bytes, [&](const log::record& r, std::size_t offset) {
    const std::string again = encode(r);
    require(bytes.substr(offset, again.size()) == again);
  });
  require(scanned.valid <= size);
  if (const auto header = log::decode_header(bytes)) {
    require(log::encode_header(*header) == bytes.substr(0, log::header_size));
  }
  if (const auto meta = log::decode_meta(bytes)) {
    require(log::decode_meta(log::encode_meta(*meta)).has_value());
  }
  return 0;
}
