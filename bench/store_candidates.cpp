// store-candidates: the cost per message of persisting the broker's published
// messages, to choose a store. Messages come in turns of 32; a turn's messages are
// handed to the kernel (or committed) before the turn is published. Candidates:
// `log` (CRC32C-framed segment, one write(2) per turn, room -> (seq, offset) index),
// `lmdb` (a DB per room, MDB_APPEND, a commit per turn, no sync), `sqlite` (WAL,
// synchronous=NORMAL, a transaction per turn), `memory` (log without the syscall).
// --recover times reading a written log and LMDB back, as at start.
#include <fcntl.h>
#include <lmdb.h>
#include <nmmintrin.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

static_assert(std::endian::native == std::endian::little, "records are encoded little-endian by memcpy");
namespace fs = std::filesystem;

constexpr std::string_view origin_token = "6f1c0e9a4b7d2e58a3c9f0b1d4e7a285";
constexpr std::string_view origin_name = "alice";
constexpr std::uint64_t origin_id = 0x5eed'0000'0000'0042;
constexpr std::size_t room_count = 8;
const std::array<std::string, room_count> room_names{"room0", "room1", "room2", "room3",
                                                     "room4", "room5", "room6", "room7"};

struct options {
  std::size_t count = 1'000'000, body = 1024, turn = 32, runs = 3;
  fs::path dir = "/tmp/storebench/data";
  bool recover = false;
};

struct message {
  std::size_t room;
  std::uint64_t seq, ts;
  std::string_view body;
};

// Messages in random rooms, seq consecutive per room, bodies cut from random bytes.
class message_source {
 public:
  explicit message_source(std::size_t body) : body_(body), pool_(body + window, '\0') {
    for (auto& c : pool_) c = static_cast<char>(random_() >> 56);
  }
  message next() {
    const std::uint64_t r = random_();
    const std::size_t room = r % room_count;
    return {room, ++seqs_[room], ts_++, std::string_view(pool_).substr((r >> 32) % window, body_)};
  }

 private:
  static constexpr std::size_t window = 65536;
  std::size_t body_;
  std::string pool_;
  std::mt19937_64 random_;
  std::uint64_t ts_ = 1'700'000'000'000'000'000ULL;
  std::array<std::uint64_t, room_count> seqs_{};
};

__attribute__((target("sse4.2"))) std::uint32_t crc32c(const char* p, std::size_t n) {
  std::uint64_t crc = 0xffffffffU;
  for (std::uint64_t word; n >= 8; p += 8, n -= 8) crc = _mm_crc32_u64(crc, (std::memcpy(&word, p, 8), word));
  auto c = static_cast<std::uint32_t>(crc);
  for (; n > 0; ++p, --n) c = _mm_crc32_u8(c, static_cast<std::uint8_t>(*p));
  return ~c;
}

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// [u8 type=1][u64 seq][u64 ts][u8 len, room][u64 id][u8 len, token][u8 len, name][body]
void append_payload(std::string& out, const message& m) {
  const std::string& room = room_names[m.room];
  put<std::uint8_t>(out, 1);
  put(out, m.seq);
  put(out, m.ts);
  put(out, static_cast<std::uint8_t>(room.size()));
  out += room;
  put(out, origin_id);
  put(out, static_cast<std::uint8_t>(origin_token.size()));
  out += origin_token;
  put(out, static_cast<std::uint8_t>(origin_name.size()));
  out += origin_name;
  out += m.body;
}

using room_index = std::unordered_map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>>;

// One turn's records framed [u32 payload length][u32 CRC32C][payload] in one
// buffer; each record indexed by room at the file offset it will have.
class turn_encoder {
 public:
  const std::string& encode(std::span<const message> turn) {
    buffer_.clear();
    for (const auto& m : turn) {
      const std::size_t at = buffer_.size();
      index_[room_names[m.room]].emplace_back(m.seq, offset_ + at);
      buffer_.append(8, '\0');
      append_payload(buffer_, m);
      const auto len = static_cast<std::uint32_t>(buffer_.size() - at - 8);
      const std::uint32_t crc = crc32c(buffer_.data() + at + 8, len);
      std::memcpy(&buffer_[at], &len, 4);
      std::memcpy(&buffer_[at + 4], &crc, 4);
    }
    offset_ += buffer_.size();
    return buffer_;
  }

 private:
  std::string buffer_;
  room_index index_;
  std::uint64_t offset_ = 0;
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}
void check_mdb(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}

struct memory_store {
  explicit memory_store(const fs::path&) {}
  void publish(std::span<const message> turn) { encoder.encode(turn); }
  turn_encoder encoder;
};

class log_store {
 public:
  explicit log_store(const fs::path& dir)
      : fd_(::open((dir / "segment.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {
    check(fd_ >= 0, "open segment.log");
  }
  ~log_store() { ::close(fd_); }
  void publish(std::span<const message> turn) {
    const std::string& buffer = encoder_.encode(turn);
    for (; written_ + buffer.size() > allocated_; allocated_ += chunk)
      check(::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_), chunk) == 0, "fallocate");
    check(::write(fd_, buffer.data(), buffer.size()) == static_cast<ssize_t>(buffer.size()), "write");
    written_ += buffer.size();
  }

 private:
  static constexpr off_t chunk = 16 << 20;
  turn_encoder encoder_;
  int fd_;
  std::uint64_t written_ = 0, allocated_ = 0;
};

class lmdb_store {
 public:
  explicit lmdb_store(const fs::path& dir) {
    check_mdb(mdb_env_create(&env_), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env_, std::size_t{8} << 30), "mdb_env_set_mapsize");
    check_mdb(mdb_env_set_maxdbs(env_, room_count), "mdb_env_set_maxdbs");
    check_mdb(mdb_env_open(env_, dir.c_str(), MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC, 0644), "mdb_env_open");
    MDB_txn* txn;
    check_mdb(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    for (std::size_t i = 0; i < room_count; ++i)
      check_mdb(mdb_dbi_open(txn, room_names[i].c_str(), MDB_CREATE, &dbis_[i]), "mdb_dbi_open");
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~lmdb_store() { mdb_env_close(env_); }

  // Keys are big-endian seqs, ascending within each room's DB: MDB_APPEND.
  void publish(std::span<const message> turn) {
    MDB_txn* txn;
    check_mdb(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    for (const auto& m : turn) {
      std::uint64_t key = __builtin_bswap64(m.seq);
      value_.clear();
      append_payload(value_, m);
      MDB_val k{sizeof key, &key}, v{value_.size(), value_.data()};
      check_mdb(mdb_put(txn, dbis_[m.room], &k, &v, MDB_APPEND), "mdb_put");
    }
    check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
  }

  // Recovery: iterate every key of every room.
  std::size_t scan() {
    MDB_txn* txn;
    check_mdb(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    std::size_t records = 0;
    for (const MDB_dbi dbi : dbis_) {
      MDB_cursor* cursor;
      check_mdb(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open");
      for (MDB_val k, v; mdb_cursor_get(cursor, &k, &v, MDB_NEXT) == 0;) ++records;
      mdb_cursor_close(cursor);
    }
    mdb_txn_abort(txn);
    return records;
  }

 private:
  MDB_env* env_ = nullptr;
  std::array<MDB_dbi, room_count> dbis_{};
  std::string value_;
};

class sqlite_store {
 public:
  explicit sqlite_store(const fs::path& dir) {
    if (sqlite3_open((dir / "messages.db").c_str(), &db_) != SQLITE_OK) fail("sqlite3_open");
    const char* schema =
        "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT, seq INTEGER, ts INTEGER, body BLOB,"
        " token TEXT, sender TEXT, req INTEGER); CREATE UNIQUE INDEX messages_room_seq ON messages(room, seq);";
    if (sqlite3_exec(db_, schema, nullptr, nullptr, nullptr) != SQLITE_OK) fail("schema");
    for (auto [stmt, sql] : {std::pair{&insert_, "INSERT INTO messages(room, seq, ts, body, token, sender, req)"
                                                 " VALUES(?, ?, ?, ?, ?, ?, ?)"},
                             std::pair{&begin_, "BEGIN"}, std::pair{&commit_, "COMMIT"}})
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) fail(sql);
  }
  ~sqlite_store() {
    for (sqlite3_stmt* s : {insert_, begin_, commit_}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }
  void publish(std::span<const message> turn) {
    step(begin_);
    for (const auto& m : turn) {
      text(1, room_names[m.room]);
      sqlite3_bind_int64(insert_, 2, static_cast<sqlite3_int64>(m.seq));
      sqlite3_bind_int64(insert_, 3, static_cast<sqlite3_int64>(m.ts));
      sqlite3_bind_blob(insert_, 4, m.body.data(), static_cast<int>(m.body.size()), SQLITE_STATIC);
      text(5, origin_token);
      text(6, origin_name);
      sqlite3_bind_int64(insert_, 7, static_cast<sqlite3_int64>(origin_id));
      step(insert_);
    }
    step(commit_);
  }

 private:
  [[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db_)); }
  void text(int i, std::string_view s) { sqlite3_bind_text(insert_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC); }
  void step(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) fail("sqlite3_step");
    sqlite3_reset(s);
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt *insert_ = nullptr, *begin_ = nullptr, *commit_ = nullptr;
};

// Recovery: read the segment sequentially, verify every CRC, rebuild the index.
std::size_t recover_log(const fs::path& dir) {
  const int fd = ::open((dir / "segment.log").c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, "open segment.log");
  room_index index;
  std::vector<char> buffer(std::size_t{4} << 20);
  std::size_t have = 0, records = 0;
  std::uint64_t base = 0;  // file offset of buffer[0]
  for (ssize_t n; (n = ::read(fd, buffer.data() + have, buffer.size() - have)) > 0;) {
    have += static_cast<std::size_t>(n);
    std::size_t at = 0;
    for (std::uint32_t len, crc; have - at >= 8; at += 8 + len) {
      std::memcpy(&len, &buffer[at], 4);
      std::memcpy(&crc, &buffer[at + 4], 4);
      if (have - at - 8 < len) break;
      const char* payload = &buffer[at + 8];
      if (crc32c(payload, len) != crc) throw std::runtime_error("CRC mismatch in segment.log");
      std::uint64_t seq;
      std::memcpy(&seq, payload + 1, 8);
      index[std::string(payload + 18, static_cast<std::uint8_t>(payload[17]))].emplace_back(seq, base + at);
      ++records;
    }
    std::memmove(buffer.data(), buffer.data() + at, have - at);
    have -= at;
    base += at;
  }
  ::close(fd);
  return records;
}

struct sample {
  double wall_s, cpu_s, sys_s;  // CPU: user + sys of this process
};

sample now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return {std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(),
          sec(u.ru_utime) + sec(u.ru_stime), sec(u.ru_stime)};
}

sample since(const sample& start) {
  const sample t = now();
  return {t.wall_s - start.wall_s, t.cpu_s - start.cpu_s, t.sys_s - start.sys_s};
}

// Writes o.count messages in turns into a fresh dir; times the turns only (not open/close).
template <class Store>
sample write_all(const options& o, const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  message_source source(o.body);
  std::vector<message> turn(o.turn);
  Store store(dir);
  const sample start = now();
  for (std::size_t done = 0; done < o.count; done += turn.size()) {
    turn.resize(std::min(o.turn, o.count - done));
    for (auto& m : turn) m = source.next();
    store.publish(turn);
  }
  return since(start);
}

double median(const std::vector<sample>& samples, double (*metric)(const sample&)) {
  std::vector<double> v;
  for (const sample& s : samples) v.push_back(metric(s));
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
void time_recovery(const char* name, const options& o, F recover) {
  std::vector<sample> runs;
  for (std::size_t run = 0; run < o.runs; ++run) {
    const sample start = now();
    if (recover() != o.count) throw std::runtime_error(std::string(name) + ": wrong record count");
    runs.push_back(since(start));
  }
  const double wall = median(runs, [](const sample& s) { return s.wall_s; });
  std::printf("| %s | %zu | %.3f | %.3f | %.0f |\n", name, o.count, wall,
              median(runs, [](const sample& s) { return s.cpu_s; }), 1e9 * wall / static_cast<double>(o.count));
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::size_t* number = arg == "--count" ? &o.count : arg == "--body" ? &o.body
                        : arg == "--turn"  ? &o.turn  : arg == "--runs" ? &o.runs : nullptr;
    if (arg == "--recover") o.recover = true;
    else if (number && i + 1 < argc) *number = std::stoull(argv[++i]);
    else if (arg == "--dir" && i + 1 < argc) o.dir = argv[++i];
    else throw std::runtime_error("usage: store-candidates [--count N] [--body B] [--turn T] [--runs R] [--dir D] [--recover]");
  }
  if (o.count == 0 || o.turn == 0 || o.runs == 0) throw std::runtime_error("--count, --turn and --runs must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const options o = parse(argc, argv);
  if (crc32c("123456789", 9) != 0xe3069283U) throw std::runtime_error("crc32c self-check failed");
  if (o.recover) {  // page cache warm: the data was just written, and the median run is not the first
    write_all<log_store>(o, o.dir / "log");
    write_all<lmdb_store>(o, o.dir / "lmdb");
    std::printf("| recovery | records | wall s | CPU s | wall ns/record |\n|---|---|---|---|---|\n");
    time_recovery("log", o, [&] { return recover_log(o.dir / "log"); });
    time_recovery("lmdb", o, [&] { return lmdb_store(o.dir / "lmdb").scan(); });
    fs::remove_all(o.dir);
    return 0;
  }
  using writer = sample (*)(const options&, const fs::path&);
  const std::array<std::pair<const char*, writer>, 4> candidates{
      {{"log", write_all<log_store>}, {"lmdb", write_all<lmdb_store>},
       {"sqlite", write_all<sqlite_store>}, {"memory", write_all<memory_store>}}};
  std::array<std::vector<sample>, candidates.size()> runs;
  for (std::size_t run = 0; run < o.runs; ++run) {
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      runs[c].push_back(candidates[c].second(o, o.dir / candidates[c].first));
      fs::remove_all(o.dir);
      ::sync();
    }
  }
  const auto n = static_cast<double>(o.count);
  std::printf("| candidate | body B | msgs/s | CPU ns/msg | of which sys ns/msg |\n|---|---|---|---|---|\n");
  for (std::size_t c = 0; c < candidates.size(); ++c)
    std::printf("| %s | %zu | %.0f | %.0f | %.0f |\n", candidates[c].first, o.body,
                n / median(runs[c], [](const sample& s) { return s.wall_s; }),
                1e9 / n * median(runs[c], [](const sample& s) { return s.cpu_s; }),
                1e9 / n * median(runs[c], [](const sample& s) { return s.sys_s; }));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "store-candidates: %s\n", e.what());
  return 1;
}
