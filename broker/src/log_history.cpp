// The segment-log history store (see log_history.hpp and log_format.md):
// opening and recovering the directory, the write path, segment rolls,
// space reservation, and dropping segments that hold nothing live.
#include "bcast/broker/log_history.hpp"

#include <spdlog/spdlog.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <system_error>

#include "bcast/proto/clock.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"
#include "bcast/proto/validate.hpp"
#include "log_records.hpp"
#include "log_syncer.hpp"

namespace bcast::broker {
namespace {

// Acks restored at a start: enough for every recent sender's retry window.
constexpr std::size_t restored_acks = 65536;
// How long a stop waits for the disk before it gives up on it.
constexpr auto stop_patience = std::chrono::seconds(5);
// Bodies from this size on are written from where they are (one more
// iovec); smaller ones are copied after their record's head, which costs
// less than the kernel's walk over another iovec.
constexpr std::size_t body_by_reference = 512;
// Disk space kept reserved ahead of the writes: far more than a turn usually
// takes (64 messages of 1 KiB are 70 KiB), so a disk that fills shows as
// refused messages, not as failed writes. It is taken 4 MiB at a time, or
// just this much when no more is free; messages are taken while at least
// half of it is left. A bigger turn on a nearly full disk can still fail a
// write: it is then held and retried (log_format.md).
constexpr std::uint64_t reserve_bytes = 1 << 20;
constexpr std::uint64_t reserve_chunk = 4 << 20;
// Errors of a failing disk are logged at most this often.
constexpr std::uint64_t complain_every_ms = 10000;
constexpr std::string_view segment_suffix = ".seg";
// A deleted segment's file, kept to be the next segment: writing over pages
// the kernel still caches costs half of appending to a new file (no page to
// allocate, no block to find; measured in docs/performance.md).
constexpr std::string_view spare_name = "spare";
constexpr std::size_t segment_digits = 20;

std::runtime_error os_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

std::string segment_name(std::uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(segment_digits - digits.size(), '0') + digits + std::string(segment_suffix);
}

std::optional<std::uint64_t> segment_number(std::string_view name) {
  if (name.size() != segment_digits + segment_suffix.size() ||
      name.substr(segment_digits) != segment_suffix) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (const char c : name.substr(0, segment_digits)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Frees the space reserved past `size` (fallocate with KEEP_SIZE leaves it
// allocated after the end of the file): ext4 frees it when the file is
// truncated to its own size, tmpfs when a hole is punched there.
void release_reserve(int fd, std::uint64_t size) {
  constexpr off_t past_any_reserve = off_t{1} << 34;
  [[maybe_unused]] const int t = ::ftruncate(fd, static_cast<off_t>(size));
  [[maybe_unused]] const int p =
      ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size), past_any_reserve);
}

// Writes all of `bytes` at `offset`; false on an error (errno says which).
bool write_at(int fd, std::string_view bytes, std::uint64_t offset) {
  while (!bytes.empty()) {
    const auto n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// A segment file mapped for reading during recovery.
class mapped_file {
 public:
  explicit mapped_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw os_error("cannot read " + path);
    struct stat st {};
    ::fstat(fd, &st);
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      // Populated at once: recovery reads every byte, and one call maps
      // them faster than a page fault each.
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        throw os_error("cannot map " + path);
      }
      ::madvise(p, size_, MADV_SEQUENTIAL);
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
  }
  ~mapped_file() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  [[nodiscard]] std::string_view bytes() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// A stored `msg` body as published again in `epoch` with `seq` (encoded
// into `scratch`). The body passed its record's checksum, so it decodes.
shared_body renumbered(std::string_view body, std::uint64_t epoch, std::uint64_t seq, std::string& scratch) {
  const auto decoded = proto::decode_event(body);
  const auto* event = std::get_if<proto::any_event>(&decoded);
  const auto* m = event != nullptr ? std::get_if<proto::event::msg>(event) : nullptr;
  if (m == nullptr) return shared_body(body);
  proto::encode_msg({epoch, seq, m->ts, m->room, m->from, m->text}, scratch);
  return shared_body(scratch);
}

using seq_range = std::pair<std::uint64_t, std::uint64_t>;
using range_map = std::unordered_map<std::string, seq_range, string_hash, std::equal_to<>>;

void widen(range_map& ranges, std::string_view room, std::uint64_t seq) {
  auto found = ranges.find(room);
  if (found == ranges.end()) {
    ranges.emplace(std::string(room), seq_range{seq, seq});
  } else {
    found->second.first = std::min(found->second.first, seq);
    found->second.second = std::max(found->second.second, seq);
  }
}

}  // namespace

struct log_history::segment {
  std::uint64_t number = 0;
  std::uint64_t bytes = 0;          // file size (the newest: see size_)
  std::uint64_t start_written = 0;  // written_ once its header and checkpoint were
  range_map ranges;                 // the seqs of each room it holds
};

struct log_history::room_state {
  std::uint64_t last = 0;
  // The seqs of this room in the newest segment (`segment` names it).
  std::uint64_t segment = 0;
  seq_range range{0, 0};
};

// What recovery found in the directory.
struct log_history::recovery {
  struct found {
    std::uint64_t number = 0;
    std::unique_ptr<mapped_file> file;
    std::uint64_t valid_end = 0;  // header plus intact records
    bool header_ok = false;
    std::uint32_t seed = 0;  // of its records' CRCs
    range_map ranges;
  };
  struct message {
    std::string_view room;
    std::uint64_t seq = 0;
    std::uint64_t ts = 0;
    std::string_view body;
  };
  std::optional<log::store_meta> meta;
  std::vector<found> segments;
  std::vector<std::uint64_t> stale;  // segments of another epoch
  std::unordered_map<std::string_view, std::vector<message>> messages;
  std::deque<restored_ack> acks;
  std::uint64_t lost_bytes = 0;
  std::uint64_t cut_bytes = 0;  // past the newest segment's records
  std::string reset_reason;  // why the epoch cannot continue
};

log_history::log_history(const log_history_options& opts)
    : opts_(opts),
      cache_(std::make_unique<memory_history>(opts.per_room, opts.max_bytes, 0, opts.max_age_ms)) {
  if (::mkdir(opts_.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw os_error("cannot create the history directory " + opts_.dir);
  }
  struct stat st {};
  if (::stat(opts_.dir.c_str(), &st) != 0) throw os_error("cannot open " + opts_.dir);
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error(opts_.dir + " is not a directory");
  // Refuse anything that is not ours before changing a thing.
  const auto numbers = list_segments();
  const auto meta_text = log::read_meta(opts_.dir);
  if (meta_text && !log::looks_like_meta(*meta_text)) {
    throw std::runtime_error(opts_.dir + "/meta is not a broadcast-server history file");
  }
  // History and session tokens are nobody else's business.
  if ((st.st_mode & 077) != 0 && ::chmod(opts_.dir.c_str(), 0700) != 0) {
    throw os_error("cannot make " + opts_.dir + " private (chmod 700)");
  }
  lock_dir();
  recover(numbers);
}

std::vector<std::uint64_t> log_history::list_segments() const {
  DIR* dir = ::opendir(opts_.dir.c_str());
  if (dir == nullptr) throw os_error("cannot list " + opts_.dir);
  std::vector<std::uint64_t> numbers;
  std::string foreign;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    // Ours are regular files, never links that lead elsewhere.
    struct stat st {};
    const bool regular = ::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISREG(st.st_mode);
    const auto n = segment_number(name);
    const bool known = name == "lock" || name == "meta" || name == "meta.new" || name == spare_name ||
                       n.has_value();
    if (known && regular) {
      if (n) numbers.push_back(*n);
    } else if (foreign.empty()) {
      foreign = name;
    }
  }
  ::closedir(dir);
  if (!foreign.empty()) {
    throw std::runtime_error(opts_.dir + " is not a broadcast-server history directory (it holds " +
                             foreign + ", which is none of its files, or not a plain file); give "
                             "--db an empty or new directory");
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

void log_history::lock_dir() {
  const std::string path = opts_.dir + "/lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw os_error("cannot open " + path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw std::runtime_error(opts_.dir + " is in use by another broker");
  }
}

void log_history::recover(const std::vector<std::uint64_t>& numbers) {
  recovery found;
  const auto meta_text = log::read_meta(opts_.dir);
  if (meta_text) found.meta = log::decode_meta(*meta_text);
  if (!found.meta && !numbers.empty()) {
    // Which run the segments belong to, from the newest one that says so:
    // its messages are kept in a new epoch (whether the run ended cleanly
    // cannot be known).
    found.reset_reason = meta_text ? "its meta file is damaged" : "its meta file is missing";
    for (auto n = numbers.rbegin(); n != numbers.rend() && !found.meta; ++n) {
      const mapped_file file(opts_.dir + "/" + segment_name(*n));
      if (const auto header = log::decode_header(file.bytes())) {
        found.meta = log::store_meta{header->epoch, false, false, "", *n, 0};
      }
    }
  }

  if (found.meta) {
    // A segment of another epoch below every one of this epoch was left by
    // a stop while a new epoch began; anything else that does not match is
    // damage, counted as lost, never deleted.
    std::vector<std::optional<log::segment_header>> headers;
    std::uint64_t first_current = UINT64_MAX;
    for (const auto n : numbers) {
      recovery::found seg;
      seg.number = n;
      seg.file = std::make_unique<mapped_file>(opts_.dir + "/" + segment_name(n));
      headers.push_back(log::decode_header(seg.file->bytes()));
      if (headers.back() && headers.back()->epoch == found.meta->epoch) first_current = std::min(first_current, n);
      found.segments.push_back(std::move(seg));
    }
    std::vector<recovery::found> current;
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      auto& seg = found.segments[i];
      if (headers[i] && headers[i]->epoch != found.meta->epoch && seg.number < first_current) {
        found.stale.push_back(seg.number);
        continue;
      }
      seg.header_ok = headers[i] && headers[i]->epoch == found.meta->epoch && headers[i]->number == seg.number;
      if (seg.header_ok) seg.seed = log::seed_of(*headers[i]);
      current.push_back(std::move(seg));
    }
    found.segments = std::move(current);
    load(found);
  } else {
    found.stale = numbers;
  }

  const bool continue_epoch = found.meta && found.reset_reason.empty();
  if (!found.meta) {
    opening_ = found.reset_reason.empty() ? log_opening::fresh : log_opening::reset;
  } else if (!continue_epoch) {
    opening_ = log_opening::reset;
  } else if (opts_.new_epoch) {
    opening_ = log_opening::new_epoch;
  } else {
    opening_ = log_opening::continued;
  }
  open_new_epoch(found);
}

void log_history::load(recovery& found) {
  const log::store_meta& meta = *found.meta;
  const bool same_boot = !meta.boot_id.empty() && meta.boot_id == log::boot_id();
  if (!meta.clean && !meta.durable && !same_boot && found.reset_reason.empty()) {
    found.reset_reason = "its last run stopped uncleanly and the machine restarted since: up to "
                         "one sync interval of what it published may be gone";
  }
  std::uint64_t expected = found.segments.empty() ? meta.segment : found.segments.front().number;
  for (auto& seg : found.segments) {
    if (seg.number != expected && found.reset_reason.empty()) {
      found.reset_reason = "segment " + segment_name(expected) + " is missing";
    }
    expected = seg.number + 1;
    if (!seg.header_ok) {
      found.lost_bytes += seg.file->bytes().size();
      continue;
    }
    const auto data = seg.file->bytes().substr(log::header_size);
    const auto scanned = log::scan(data, [&](const log::record& r, std::size_t) {
      if (const auto* m = std::get_if<log::msg_record>(&r)) {
        if (proto::check_room(m->room)) return;  // a file edited by hand cannot reach screens
        auto& room = room_of(m->room);
        room.last = std::max(room.last, m->seq);
        widen(seg.ranges, m->room, m->seq);
        found.messages[m->room].push_back({m->room, m->seq, m->ts, m->body});
        if (m->id != 0) {
          found.acks.push_back({std::string(m->token), std::string(m->name),
                                proto::event::ack{m->id, std::string(m->room), m->seq}});
          if (found.acks.size() > restored_acks) found.acks.pop_front();
        }
      } else if (const auto* s = std::get_if<log::sys_record>(&r)) {
        sys_seq_ = std::max(sys_seq_, s->sys_seq);
      } else if (const auto* c = std::get_if<log::checkpoint_record>(&r)) {
        sys_seq_ = std::max(sys_seq_, c->sys_seq);
        for (const auto& [name, last] : c->rooms) {
          if (proto::check_room(name)) continue;
          auto& room = room_of(name);
          room.last = std::max(room.last, last);
        }
      }
    }, seg.seed);
    seg.valid_end = log::header_size + scanned.valid;
    // Past the newest segment's records lie the last turn of a crash (never
    // published: `meta.size` tells, below) or what a reused file held
    // before: neither is a lost message.
    (&seg == &found.segments.back() ? found.cut_bytes : found.lost_bytes) += data.size() - scanned.valid;
  }
  const bool has_newest = !found.segments.empty() && found.segments.back().number >= meta.segment;
  const auto newest_known = std::find_if(found.segments.begin(), found.segments.end(),
                                         [&](const auto& s) { return s.number == meta.segment; });
  if (!found.reset_reason.empty()) return;
  // The segment `meta` names may have been deleted since, once nothing in
  // it was kept (a newer one holds every seq it knew); never the newest.
  if (!has_newest) {
    found.reset_reason = "its newest segment " + segment_name(meta.segment) + " is missing";
  } else if (newest_known != found.segments.end() && newest_known->valid_end < meta.size) {
    found.reset_reason = "segment " + segment_name(meta.segment) + " holds " +
                         std::to_string(newest_known->valid_end) + " intact bytes of the " +
                         std::to_string(meta.size) + " known to be on disk";
  }
}

void log_history::open_new_epoch(recovery& found) {
  const bool continued = opening_ == log_opening::continued;
  const std::uint64_t wall_now = proto::wall_ms();
  const std::uint64_t old_epoch = found.meta ? found.meta->epoch : 0;
  epoch_ = continued ? old_epoch : std::max(wall_now, old_epoch + 1);
  if (!continued) {
    // A new epoch knows no seq of the old one: what it keeps is numbered
    // again from 1, and no retry id of the old one is remembered.
    rooms_.clear();
    sys_seq_ = 0;
    found.acks.clear();
  }
  cache_ = std::make_unique<memory_history>(opts_.per_room, opts_.max_bytes, epoch_, opts_.max_age_ms);

  // Each room's stored messages: the newest consecutive run, oldest first.
  struct keep {
    std::uint64_t key;  // ts, never below an earlier seq's: the order of appending
    const recovery::message* m;
  };
  std::vector<keep> kept;
  const std::uint64_t oldest_ts =
      opts_.max_age_ms == 0 || wall_now < opts_.max_age_ms ? 0 : wall_now - opts_.max_age_ms;
  for (auto& [room, list] : found.messages) {
    // In the order they were written, but for copies forward.
    const auto by_seq = [](const auto& a, const auto& b) { return a.seq < b.seq; };
    if (!std::is_sorted(list.begin(), list.end(), by_seq)) std::sort(list.begin(), list.end(), by_seq);
    list.erase(std::unique(list.begin(), list.end(),
                           [](const auto& a, const auto& b) { return a.seq == b.seq; }),
               list.end());
    std::size_t begin = list.size();
    while (begin > 0 && list.size() - begin < opts_.per_room &&
           (begin == list.size() || list[begin - 1].seq + 1 == list[begin].seq)) {
      --begin;
    }
    std::uint64_t key = 0;
    for (std::size_t i = begin; i < list.size(); ++i) {
      key = std::max(key, list[i].ts);
      if (list[i].ts >= oldest_ts) kept.push_back({key, &list[i]});
    }
  }
  // Each room's run is in seq order with keys that never fall, so a stable
  // sort by key keeps it so.
  const auto by_key = [](const keep& a, const keep& b) { return a.key < b.key; };
  if (!std::is_sorted(kept.begin(), kept.end(), by_key)) std::stable_sort(kept.begin(), kept.end(), by_key);
  std::vector<std::pair<std::uint64_t, shared_body>> bodies;  // seq and body of each kept
  bodies.reserve(kept.size());
  std::string encoded;
  for (const auto& k : kept) {
    if (continued) {
      bodies.emplace_back(k.m->seq, shared_body(k.m->body));
    } else {
      const std::uint64_t seq = ++room_of(k.m->room).last;
      bodies.emplace_back(seq, renumbered(k.m->body, epoch_, seq, encoded));
    }
    cache_->append({k.m->room, bodies.back().first, k.m->ts, bodies.back().second, std::nullopt});
  }
  restored_.sys_seq = sys_seq_;
  for (const auto& [name, room] : rooms_) restored_.rooms.push_back({name, room.last});
  std::sort(restored_.rooms.begin(), restored_.rooms.end(),
            [](const auto& a, const auto& b) { return a.room < b.room; });
  restored_.acks.assign(std::make_move_iterator(found.acks.begin()),
                        std::make_move_iterator(found.acks.end()));

  // The segments kept go on; a new epoch starts in a segment of its own.
  std::uint64_t next = 1;
  for (auto& seg : found.segments) next = std::max(next, seg.number + 1);
  for (const auto n : found.stale) next = std::max(next, n + 1);
  if (continued) {
    for (auto& seg : found.segments) {
      // A torn tail (the last turn of a crash, never published) goes, and
      // so does the space a crashed run had reserved.
      const std::string path = opts_.dir + "/" + segment_name(seg.number);
      const std::uint64_t size = seg.file->bytes().size();
      const std::uint64_t end = seg.header_ok ? std::min<std::uint64_t>(seg.valid_end, size) : size;
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || (end < size && ::ftruncate(fd, static_cast<off_t>(end)) != 0)) {
        if (fd >= 0) ::close(fd);
        throw os_error("cannot truncate " + path);
      }
      release_reserve(fd, end);
      ::close(fd);
      segments_.push_back({seg.number, seg.valid_end, 0, std::move(seg.ranges)});
    }
  }
  log::store_meta meta{epoch_, false, opts_.durable, log::boot_id(), 0, 0};
  syncer_ = std::make_unique<log::syncer>(opts_.dir, meta, std::chrono::milliseconds(opts_.fsync_interval_ms));
  start_segment(next);
  if (!continued) {
    // A new epoch's segment holds everything it keeps, before anything else.
    for (std::size_t i = 0; i < kept.size(); ++i) {
      const auto& [seq, body] = bodies[i];
      note_range(room_of(kept[i].m->room), seq);
      log::append(pending_, log::msg_record{kept[i].m->room, seq, kept[i].m->ts, 0, {}, {}, body.view()}, seed_);
    }
    if (!write_pending()) throw os_error("cannot write " + opts_.dir);
  }
  try {
    syncer_->record({written_, segments_.back().number, size_});
  } catch (const std::system_error& e) {
    throw std::runtime_error(e.what());
  }
  // Only now that the meta names the new segment may the old ones go.
  if (!continued) {
    for (const auto& seg : found.segments) ::unlink((opts_.dir + "/" + segment_name(seg.number)).c_str());
  }
  for (const auto n : found.stale) ::unlink((opts_.dir + "/" + segment_name(n)).c_str());
  // The last run's spare file may not be cached any more: a new one comes.
  ::unlink((opts_.dir + "/" + std::string(spare_name)).c_str());

  std::size_t messages = 0;
  for (const auto& [room, list] : found.messages) messages += list.size();
  const char* how = opening_ == log_opening::continued ? "continued"
                    : opening_ == log_opening::fresh  ? "new"
                                                      : "new; the messages kept are numbered from 1";
  if (opening_ == log_opening::reset) {
    spdlog::warn("history {}: a new epoch begins: {}; clients start over, with what could be "
                 "read (epoch {} abandoned)", opts_.dir, found.reset_reason, old_epoch);
  }
  if (found.cut_bytes != 0) {
    spdlog::info("history {}: {} bytes after the newest segment's last record were cut (a turn "
                 "torn by a crash, never published, or what the reused file held)", opts_.dir,
                 found.cut_bytes);
  }
  if (found.lost_bytes != 0) {
    spdlog::warn("history {}: {} bytes unreadable (cut short or damaged) were skipped", opts_.dir,
                 found.lost_bytes);
  }
  spdlog::info("history {}: epoch {} ({}), {} rooms, {} messages kept of {} stored, sys seq {}",
               opts_.dir, epoch_, how, restored_.rooms.size(), kept.size(), messages, sys_seq_);
}

log_history::~log_history() {
  if (syncer_ == nullptr) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    return;
  }
  if (!write_pending()) {
    spdlog::error("history {}: {} bytes could not be written at the stop", opts_.dir,
                  appended() - written_);
  }
  if (fd_ >= 0 && (reserve_supported_ || reused_)) release_reserve(fd_, size_);
  const bool written_all = pending_.empty();
  if (written_all && syncer_->close({written_, segments_.back().number, size_}, stop_patience)) {
    ::close(fd_);
  } else {
    if (written_all) {
      spdlog::error("history {}: the disk did not finish syncing within {} s; stopping anyway (the "
                    "next start checks what reached it)", opts_.dir, stop_patience.count());
    }
    // The sync thread may still be on it: it closes it, or its state does when it ends.
    if (fd_ >= 0) syncer_->retire(fd_);
  }
  syncer_.reset();
  ::close(lock_fd_);
}

void log_history::start_segment(std::uint64_t number) {
  const std::string path = opts_.dir + "/" + segment_name(number);
  const log::segment_header header{epoch_, number};
  std::string head = log::encode_header(header);
  log::checkpoint_record checkpoint{sys_seq_, {}};
  checkpoint.rooms.reserve(rooms_.size());
  for (const auto& [name, room] : rooms_) checkpoint.rooms.emplace_back(name, room.last);
  log::append(head, checkpoint, log::seed_of(header));
  // The spare's blocks are allocated already: they count as reserved.
  std::uint64_t got = 0;
  int fd = reuse_spare(path, head, got);
  const bool reused = fd >= 0;
  if (fd < 0) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw os_error("cannot create " + path);
    // A roll needs room ahead in the new segment, or the current one (which
    // has its reserve) goes on: a full disk must leave room for copies forward.
    const bool head_written = write_at(fd, head, 0);
    got = head_written && reserve_supported_ ? reserve_at(fd, head.size()) : 0;
    if (!head_written || (fd_ >= 0 && reserve_supported_ && got == 0)) {
      const int saved = head_written ? ENOSPC : errno;
      ::close(fd);
      ::unlink(path.c_str());
      errno = saved;
      throw os_error("cannot start " + path);
    }
  }
  if (fd_ >= 0) {
    // The full segment keeps its bytes, not the space reserved past them
    // (nor what a reused file held there).
    if (reserve_supported_ || reused_) release_reserve(fd_, size_);
    segments_.back().bytes = size_;
    syncer_->retire(fd_);
  }
  fd_ = fd;
  seed_ = log::seed_of(header);
  reused_ = reused;
  size_ = head.size();
  reserved_ = size_ + got;
  written_ += head.size();
  segments_.push_back({number, size_, written_, {}});
  syncer_->wrote(fd_, {written_, number, size_});
  accepting_ = !gone_ && reserve_ahead();
  if (!accepting_) {
    spdlog::error("history {}: the disk is full: new messages are refused (error `unavailable`) "
                  "until space returns", opts_.dir);
  }
}

int log_history::reuse_spare(const std::string& path, std::string_view head, std::uint64_t& got) {
  if (!spare_) return -1;
  spare_ = false;
  const std::string spare = opts_.dir + "/" + std::string(spare_name);
  const int fd = ::open(spare.c_str(), O_WRONLY | O_CLOEXEC);
  struct stat st {};
  // The new header goes in before the file takes its name: a crash in
  // between leaves a spare (deleted at the next start) or a segment whose
  // records end after its checkpoint (older ones fail their CRC: another
  // segment's number began it).
  if (fd < 0 || ::fstat(fd, &st) != 0 || !write_at(fd, head, 0) ||
      ::rename(spare.c_str(), path.c_str()) != 0) {
    if (fd >= 0) ::close(fd);
    ::unlink(spare.c_str());
    return -1;
  }
  got = std::max<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), head.size()) - head.size();
  return fd;
}

void log_history::retire_oldest() {
  const std::string path = opts_.dir + "/" + segment_name(segments_.front().number);
  segments_.erase(segments_.begin());
  // Kept as the next segment, unless the disk is short of space.
  const std::string spare = opts_.dir + "/" + std::string(spare_name);
  if (!spare_ && accepting_ && ::rename(path.c_str(), spare.c_str()) == 0) {
    spare_ = true;
    return;
  }
  ::unlink(path.c_str());
}

void log_history::roll_if_full() {
  if (size_ < opts_.segment_bytes) return;
  // The full segment's ranges move from the room table into its record.
  const std::uint64_t full = segments_.back().number;
  range_map ranges;
  for (const auto& [name, room] : rooms_) {
    if (room.segment == full) ranges.emplace(name, room.range);
  }
  // The oldest segment, once dead, becomes the new one's file now rather
  // than at the next tick: a busy store rolls several times a second.
  drop_dead_segments();
  try {
    start_segment(full + 1);
    segments_[segments_.size() - 2].ranges = std::move(ranges);
  } catch (const std::runtime_error& e) {
    if (proto::mono_ms() >= next_complaint_ms_) {
      spdlog::error("history {}: cannot start a new segment ({}); the current one grows", opts_.dir, e.what());
      next_complaint_ms_ = proto::mono_ms() + complain_every_ms;
    }
  }
}

std::uint64_t log_history::reserve_at(int fd, std::uint64_t from) {
  for (const std::uint64_t chunk : {reserve_chunk, reserve_bytes}) {
    if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from), static_cast<off_t>(chunk)) == 0) {
      return chunk;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
      spdlog::warn("history {}: this file system cannot reserve space (fallocate); a full disk "
                   "will show as failing writes", opts_.dir);
      reserve_supported_ = false;
      return 0;
    }
  }
  return 0;
}

bool log_history::reserve_ahead() {
  if (!reserve_supported_ || reserved_ >= size_ + reserve_bytes) return true;
  const std::uint64_t from = std::max(reserved_, size_);
  auto got = reserve_at(fd_, from);
  if (got == 0 && spare_) {
    // The spare's blocks are worth more as room for messages.
    ::unlink((opts_.dir + "/" + std::string(spare_name)).c_str());
    spare_ = false;
    got = reserve_at(fd_, from);
  }
  if (got != 0) reserved_ = from + got;
  return !reserve_supported_ || reserved_ >= size_ + reserve_bytes / 2;
}

log_history::room_state& log_history::room_of(std::string_view name) {
  auto found = rooms_.find(name);
  if (found == rooms_.end()) found = rooms_.emplace(std::string(name), room_state{}).first;
  return found->second;
}

void log_history::note_range(room_state& room, std::uint64_t seq) {
  const std::uint64_t newest = segments_.back().number;
  if (room.segment != newest) {
    room.segment = newest;
    room.range = {seq, seq};
  } else {
    room.range.first = std::min(room.range.first, seq);
    room.range.second = std::max(room.range.second, seq);
  }
}

void log_history::append(const new_message& m) {
  cache_->append(m);
  // A turn's messages mostly go to the room of the one before.
  if (last_room_ == nullptr || last_room_name_ != m.room) {
    last_room_ = &room_of(m.room);
    last_room_name_ = m.room;
  }
  room_state& room = *last_room_;
  room.last = m.seq;
  note_range(room, m.seq);
  log::msg_record record{m.room, m.seq, m.ts, 0, {}, {}, m.body.view()};
  if (m.origin) {
    record.id = m.origin->id;
    record.token = m.origin->token;
    record.name = m.origin->name;
  }
  if (m.body->size() < body_by_reference) {
    log::append(pending_, record, seed_);
  } else {
    log::append_head(pending_, record, seed_);
    pending_bodies_.push_back({pending_.size(), m.body});
    pending_body_bytes_ += m.body->size();
  }
}

void log_history::note_sys_seq(std::uint64_t seq) {
  sys_seq_ = seq;
  sys_pending_ = true;
}

history_slice log_history::read(std::string_view room, std::optional<std::uint64_t> after,
                                std::size_t limit) const {
  return cache_->read(room, after, limit);
}

bool log_history::write_pending() {
  if (sys_pending_) {
    log::append(pending_, log::sys_record{sys_seq_}, seed_);
    sys_pending_ = false;
  }
  if (pending_.empty()) return true;
  if (!write_all_pending()) {
    const int error = errno;
    // Nothing of a failed write counts: the next try starts where it did.
    [[maybe_unused]] const int r = ::ftruncate(fd_, static_cast<off_t>(size_));
    if (!failing_ || proto::mono_ms() >= next_complaint_ms_) {
      spdlog::error("history {}: writing failed ({}): nothing more is published or acknowledged "
                    "until a write succeeds; new messages are refused meanwhile",
                    opts_.dir, std::strerror(error));
      next_complaint_ms_ = proto::mono_ms() + complain_every_ms;
    }
    failing_ = true;
    accepting_ = false;
    return false;
  }
  if (failing_) spdlog::info("history {}: writing works again", opts_.dir);
  failing_ = false;
  const std::size_t bytes = pending_.size() + pending_body_bytes_;
  size_ += bytes;
  written_ += bytes;
  pending_.clear();
  pending_bodies_.clear();
  pending_body_bytes_ = 0;
  syncer_->wrote(fd_, {written_, segments_.back().number, size_});
  const bool was_accepting = accepting_;
  accepting_ = !gone_ && reserve_ahead();
  if (was_accepting && !accepting_ && !gone_) {
    spdlog::error("history {}: the disk is full: new messages are refused (error `unavailable`) "
                  "until space returns; everything stored is still delivered", opts_.dir);
  }
  // After the write: what is appended next is encoded for the segment it
  // goes to (its CRCs start from that segment's number).
  roll_if_full();
  return true;
}

bool log_history::write_all_pending() {
  iov_.clear();
  std::size_t from = 0;
  const auto add = [this](const char* data, std::size_t size) {
    if (size != 0) iov_.push_back({const_cast<char*>(data), size});
  };
  for (const auto& p : pending_bodies_) {
    add(pending_.data() + from, p.at - from);
    add(p.body.view().data(), p.body.view().size());
    from = p.at;
  }
  add(pending_.data() + from, pending_.size() - from);
  std::uint64_t offset = size_;
  for (std::size_t i = 0; i < iov_.size();) {
    const int count = static_cast<int>(std::min<std::size_t>(iov_.size() - i, IOV_MAX));
    const auto n = ::pwritev(fd_, iov_.data() + i, count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return false;
    }
    offset += static_cast<std::uint64_t>(n);
    // Past what was written; a part-written vector goes on from its rest.
    for (auto left = static_cast<std::size_t>(n); left != 0;) {
      const std::size_t take = std::min(left, iov_[i].iov_len);
      iov_[i].iov_base = static_cast<char*>(iov_[i].iov_base) + take;
      iov_[i].iov_len -= take;
      left -= take;
      if (iov_[i].iov_len == 0) ++i;
    }
  }
  return true;
}

void log_history::tick(std::uint64_t wall_now) {
  cache_->tick(wall_now);
  struct stat st {};
  if (!gone_ && ::fstat(fd_, &st) == 0 && st.st_nlink == 0) {
    // Its directory was deleted: nothing written now could be read back.
    gone_ = true;
    accepting_ = false;
    spdlog::critical("history {}: the history directory was deleted while the broker runs: new "
                     "messages are refused until it is restarted", opts_.dir);
  }
  if (gone_) return;
  if (failing_) {
    [[maybe_unused]] const bool ok = write_pending();
  }
  if (!accepting_ && !failing_ && reserve_ahead()) {
    accepting_ = true;
    spdlog::info("history {}: disk space is back: messages are accepted again", opts_.dir);
  }
  drop_dead_segments();
  compact_oldest();
}

std::uint64_t log_history::committed() const { return opts_.durable ? syncer_->synced() : written_; }

int log_history::commit_fd() const { return opts_.durable ? syncer_->commit_fd() : -1; }

void log_history::flush() {
  if (!write_pending()) return;
  if (opts_.durable && !syncer_->wait_synced(written_, stop_patience)) {
    spdlog::error("history {}: the disk did not sync within {} s", opts_.dir, stop_patience.count());
  }
}

std::size_t log_history::segments() const { return segments_.size(); }

std::uint64_t log_history::disk_bytes() const {
  std::uint64_t total = size_;
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) total += segments_[i].bytes;
  return total;
}

bool log_history::segment_live(const segment& s) const {
  return std::any_of(s.ranges.begin(), s.ranges.end(), [this](const auto& entry) {
    const auto first = cache_->first_seq(entry.first);
    return first && entry.second.second >= *first;
  });
}

void log_history::drop_dead_segments() {
  const auto on_disk = committed();
  const auto drop_oldest = [this] { retire_oldest(); };
  if (drop_ticket_ != 0) {
    if (on_disk < drop_ticket_) return;
    drop_oldest();  // its live messages were copied forward and are on disk
    drop_ticket_ = 0;
  }
  // A segment goes once the next one's checkpoint (every seq it knew) is on disk.
  while (segments_.size() > 1 && on_disk >= segments_[1].start_written && !segment_live(segments_.front())) {
    drop_oldest();
  }
}

void log_history::compact_oldest() {
  if (segments_.size() < 2 || drop_ticket_ != 0 || failing_) return;
  // Worth it when the segments hold far more than is live, and whenever the
  // disk is full: a quiet room's few messages must not pin a whole segment.
  if (accepting_ && disk_bytes() < 2 * (cache_->bytes() + opts_.segment_bytes)) return;
  std::string copies;
  for (const auto& entry : segments_.front().ranges) {
    const std::string_view name = entry.first;
    const auto [low, high] = entry.second;
    const auto first = cache_->first_seq(name);
    if (!first || high < *first) continue;
    cache_->visit(name, std::max(low, *first), high,
                  [&](std::uint64_t seq, std::uint64_t ts, std::string_view body) {
                    log::append(copies, log::msg_record{name, seq, ts, 0, {}, {}, body}, seed_);
                  });
  }
  // On a full disk the copies must fit in what is reserved.
  if (!accepting_ && reserve_supported_ && copies.size() > reserved_ - size_) return;
  for (const auto& entry : segments_.front().ranges) {
    const auto first = cache_->first_seq(entry.first);
    if (!first || entry.second.second < *first) continue;
    auto& room = room_of(entry.first);
    for (auto seq = std::max(entry.second.first, *first); seq <= entry.second.second; ++seq) note_range(room, seq);
  }
  pending_ += copies;
  if (write_pending()) drop_ticket_ = written_;
}

std::uint32_t log_format_version() { return log::format_version; }

}  // namespace bcast::broker
