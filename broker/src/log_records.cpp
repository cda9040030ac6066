// Encoding and decoding of log records (log_format.md). Integers are little
// endian and fixed size; strings carry a one-byte (names, rooms, tokens) or
// no length (a message body takes the rest of its record).
#include "log_records.hpp"

#include <bit>
#include <cstring>

#include "crc32c.hpp"

namespace bcast::broker::log {
namespace {

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

// Integers are stored little endian, as this machine keeps them.
static_assert(std::endian::native == std::endian::little, "log records are little endian");

template <typename T>
void put_int(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_short_string(std::string& out, std::string_view s) {
  put_u8(out, static_cast<std::uint8_t>(s.size()));
  out.append(s.substr(0, 255));
}

// A reader over one payload that fails (sticky) instead of reading past it.
class reader {
 public:
  explicit reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T integer() {
    if (bytes_.size() < sizeof(T)) return fail<T>();
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      v |= std::uint64_t{static_cast<std::uint8_t>(bytes_[i])} << (8 * i);
    }
    bytes_.remove_prefix(sizeof(T));
    return static_cast<T>(v);
  }
  std::string_view short_string() {
    const auto n = integer<std::uint8_t>();
    if (bytes_.size() < n) return fail<std::string_view>();
    const auto s = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return s;
  }
  std::string_view rest() {
    const auto s = bytes_;
    bytes_ = {};
    return s;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool done() const { return ok_ && bytes_.empty(); }

 private:
  template <typename T>
  T fail() {
    ok_ = false;
    bytes_ = {};
    return T{};
  }
  std::string_view bytes_;
  bool ok_ = true;
};

// Writes the length and CRC of the payload that starts at `start` + 8 and
// goes on with `tail` (not in `out`: a body written from where it is).
void seal(std::string& out, std::size_t start, std::uint32_t seed, std::string_view tail = {}) {
  const auto payload = static_cast<std::uint32_t>(out.size() - start - record_overhead + tail.size());
  auto crc = crc32c(std::string_view(out).substr(start + record_overhead), seed);
  if (!tail.empty()) crc = crc32c(tail, crc);
  std::memcpy(out.data() + start, &payload, sizeof payload);
  std::memcpy(out.data() + start + 4, &crc, sizeof crc);
}

// Appends a record's length and CRC (still unset) and its type; returns
// where the record starts, for seal().
std::size_t open_record(std::string& out, record_type type) {
  const std::size_t start = out.size();
  out.resize(start + record_overhead);
  put_u8(out, static_cast<std::uint8_t>(type));
  return start;
}

// Appends a message record's length and CRC (still unset) and its payload
// but the body, in one resize: the publish path encodes one per message.
void put_msg_head(std::string& out, const msg_record& m) {
  const std::string_view room = m.room.substr(0, 255);
  const std::string_view token = m.token.substr(0, 255);
  const std::string_view name = m.name.substr(0, 255);
  const std::size_t start = out.size();
  out.resize(start + msg_record_size(room.size(), token.size(), name.size(), 0));
  char* p = out.data() + start + record_overhead;
  const auto put = [&p](const void* v, std::size_t n) {
    if (n == 0) return;  // an empty view's data may be null
    std::memcpy(p, v, n);
    p += n;
  };
  const auto put_short = [&](std::string_view v) {
    *p++ = static_cast<char>(v.size());
    put(v.data(), v.size());
  };
  *p++ = static_cast<char>(record_type::msg);
  put(&m.seq, sizeof m.seq);
  put(&m.ts, sizeof m.ts);
  put_short(room);
  put(&m.id, sizeof m.id);
  put_short(token);
  put_short(name);
}

std::optional<record> decode(std::string_view payload) {
  reader in(payload);
  switch (static_cast<record_type>(in.integer<std::uint8_t>())) {
    case record_type::msg: {
      msg_record m;
      m.seq = in.integer<std::uint64_t>();
      m.ts = in.integer<std::uint64_t>();
      m.room = in.short_string();
      m.id = in.integer<std::uint64_t>();
      m.token = in.short_string();
      m.name = in.short_string();
      m.body = in.rest();
      if (!in.ok() || m.room.empty() || m.body.empty()) return std::nullopt;
      return m;
    }
    case record_type::sys: {
      sys_record s{in.integer<std::uint64_t>()};
      if (!in.done()) return std::nullopt;
      return s;
    }
    case record_type::checkpoint: {
      checkpoint_record c;
      c.sys_seq = in.integer<std::uint64_t>();
      const auto count = in.integer<std::uint32_t>();
      for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
        const auto room = in.short_string();
        c.rooms.emplace_back(room, in.integer<std::uint64_t>());
      }
      if (!in.done()) return std::nullopt;
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace

std::uint32_t seed_of(const segment_header& header) {
  return header.version == 1 ? 0 : static_cast<std::uint32_t>(header.number);
}

std::string encode_header(const segment_header& header) {
  std::string out(segment_magic);
  put_int(out, header.version);
  put_int(out, std::uint32_t{0});
  put_int(out, header.epoch);
  put_int(out, header.number);
  return out;
}

std::optional<segment_header> decode_header(std::string_view bytes) {
  if (bytes.size() < header_size || bytes.substr(0, segment_magic.size()) != segment_magic) {
    return std::nullopt;
  }
  reader in(bytes.substr(segment_magic.size(), header_size - segment_magic.size()));
  segment_header h;
  h.version = in.integer<std::uint32_t>();
  if ((h.version != 1 && h.version != format_version) || in.integer<std::uint32_t>() != 0) {
    return std::nullopt;
  }
  h.epoch = in.integer<std::uint64_t>();
  h.number = in.integer<std::uint64_t>();
  return h;
}

std::size_t msg_record_size(std::size_t room, std::size_t token, std::size_t name,
                            std::size_t body) {
  return record_overhead + 1 + 8 + 8 + 1 + room + 8 + 1 + token + 1 + name + body;
}

void append_head(std::string& out, const msg_record& m, std::uint32_t seed) {
  const std::size_t start = out.size();
  put_msg_head(out, m);
  seal(out, start, seed, m.body);
}

void append(std::string& out, const msg_record& m, std::uint32_t seed) {
  const std::size_t start = out.size();
  put_msg_head(out, m);
  out.append(m.body);
  seal(out, start, seed);
}

void append(std::string& out, const sys_record& s, std::uint32_t seed) {
  const std::size_t start = open_record(out, record_type::sys);
  put_int(out, s.sys_seq);
  seal(out, start, seed);
}

void append(std::string& out, const checkpoint_record& c, std::uint32_t seed) {
  const std::size_t start = open_record(out, record_type::checkpoint);
  put_int(out, c.sys_seq);
  put_int(out, static_cast<std::uint32_t>(c.rooms.size()));
  for (const auto& [room, last] : c.rooms) {
    put_short_string(out, room);
    put_int(out, last);
  }
  seal(out, start, seed);
}

scan_result scan(std::string_view data,
                 const std::function<void(const record&, std::size_t offset)>& visit,
                 std::uint32_t seed) {
  scan_result result;
  while (data.size() - result.valid >= record_overhead) {
    reader head(data.substr(result.valid, record_overhead));
    const auto length = head.integer<std::uint32_t>();
    const auto crc = head.integer<std::uint32_t>();
    if (length == 0 || length > max_payload) break;
    if (data.size() - result.valid - record_overhead < length) break;
    const auto payload = data.substr(result.valid + record_overhead, length);
    if (crc32c(payload, seed) != crc) break;
    const auto decoded = decode(payload);
    if (!decoded) break;
    visit(*decoded, result.valid);
    result.valid += record_overhead + length;
    ++result.records;
  }
  return result;
}

}  // namespace bcast::broker::log
