// The segment-log history store: its checksum and record codec, and the store
// itself on a real directory: what a restart keeps after a clean stop, after
// a crash (a child process that ends without closing the store) and after a
// reboot; damage of every kind (segments missing, cut short, bytes flipped at
// thousands of places) never serving a corrupted message nor reusing a seq;
// refusing what is not ours; dropping segments that hold nothing live; a
// full disk; converting a history file of the earlier SQLite store.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "bcast/broker/log_history.hpp"
#include "bcast/broker/sqlite_import.hpp"
#include "bcast/proto/codec.hpp"
#include "bcast/proto/msg_view.hpp"
#include "crc32c.hpp"
#include "log_meta.hpp"
#include "log_records.hpp"
#include "test_dir.hpp"

namespace {

namespace fs = std::filesystem;
using bcast::broker::crc32c;
using bcast::broker::log_history;
using bcast::broker::log_history_options;
using bcast::broker::log_opening;
using bcast::broker::message_origin;
using bcast::broker::new_message;
using bcast::broker::shared_body;
namespace blog = bcast::broker::log;

// ---------------------------------------------------------------------------
// CRC-32C and records

TEST(crc32c, matches_the_published_check_values) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283U);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aaU);    // RFC 3720 B.4
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43U);
}

TEST(crc32c, three_streams_give_what_one_byte_at_a_time_gives) {
  std::mt19937 random(7);
  for (const std::size_t size : {0U, 1U, 767U, 768U, 769U, 1024U, 5000U, 65536U}) {
    std::string data(size, '\0');
    for (auto& c : data) c = static_cast<char>(random());
    std::uint32_t bytewise = 0;
    for (const char c : data) bytewise = crc32c(std::string_view(&c, 1), bytewise);
    EXPECT_EQ(crc32c(data), bytewise) << size;
  }
}

TEST(log_records, round_trip_and_a_body_written_from_elsewhere) {
  std::string bytes;
  blog::append(bytes, blog::msg_record{"lobby", 7, 1700, 42, "token", "alice", "body-7"});
  blog::append(bytes, blog::sys_record{9});
  blog::append(bytes, blog::checkpoint_record{9, {{"lobby", 7}, {"dev", 3}}});
  std::string split;
  blog::append_head(split, blog::msg_record{"lobby", 7, 1700, 42, "token", "alice", "body-7"});
  split += "body-7";
  EXPECT_EQ(split, bytes.substr(0, split.size()));
  std::vector<blog::record> seen;
  const auto result = blog::scan(bytes, [&](const blog::record& r, std::size_t) { seen.push_back(r); });
  EXPECT_EQ(result.valid, bytes.size());
  ASSERT_EQ(seen.size(), 3U);
  const auto& m = std::get<blog::msg_record>(seen[0]);
  EXPECT_EQ(m.room, "lobby");
  EXPECT_EQ(m.seq, 7U);
  EXPECT_EQ(m.id, 42U);
  EXPECT_EQ(m.name, "alice");
  EXPECT_EQ(m.body, "body-7");
  EXPECT_EQ(std::get<blog::sys_record>(seen[1]).sys_seq, 9U);
  EXPECT_EQ(std::get<blog::checkpoint_record>(seen[2]).rooms.size(), 2U);
}

TEST(log_records, a_scan_returns_only_whole_intact_records) {
  std::string bytes;
  for (std::uint64_t seq = 1; seq <= 20; ++seq) {
    blog::append(bytes, blog::msg_record{"r", seq, seq, 0, {}, {}, "text-" + std::to_string(seq)});
  }
  const auto count = [](std::string_view data) {
    std::size_t n = 0;
    blog::scan(data, [&](const blog::record& r, std::size_t) {
      const auto& m = std::get<blog::msg_record>(r);
      EXPECT_EQ(m.body, "text-" + std::to_string(m.seq));
      EXPECT_EQ(m.seq, ++n);
    });
    return n;
  };
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) count(std::string_view(bytes).substr(0, cut));
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    EXPECT_LT(count(flipped), 20U) << "a flip at " << at << " went unnoticed";
  }
}

TEST(log_meta, round_trip_and_a_flipped_byte_is_damage) {
  const blog::store_meta meta{1700000000000, true, false, "boot-1", 3, 4096};
  const std::string text = blog::encode_meta(meta);
  const auto decoded = blog::decode_meta(text);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->epoch, meta.epoch);
  EXPECT_TRUE(decoded->clean);
  EXPECT_EQ(decoded->boot_id, "boot-1");
  EXPECT_EQ(decoded->size, 4096U);
  for (std::size_t at = 0; at < text.size(); ++at) {
    std::string flipped = text;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x01);
    EXPECT_FALSE(blog::decode_meta(flipped)) << at;
  }
}

// ---------------------------------------------------------------------------
// The store on a directory

class log_history_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = bcast::test::test_dir("bcast-log");
    fs::remove_all(root_);
    fs::create_directories(root_);
    opts_.dir = (root_ / "rooms").string();
    opts_.per_room = 1000;
    opts_.max_bytes = std::size_t{64} << 20;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<log_history> open() { return std::make_unique<log_history>(opts_); }

  // Opens a store, lets `fill` write to it and closes it cleanly; returns
  // the store's epoch.
  std::uint64_t first_run(const std::function<void(log_history&)>& fill) {
    auto store = open();
    fill(*store);
    return store->epoch();
  }

  // Small segments and a short window: segments roll, fill and go often.
  void use_small_segments() {
    opts_.segment_bytes = 4096;
    opts_.per_room = 10;
  }

  // Runs `work` on a store in a child process that then ends at once, as a
  // crash or `kill -9` would end the broker: nothing closes the store.
  void crash_after(const std::function<void(log_history&)>& work) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto* store = new log_history(opts_);
      work(*store);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  // Appends `count` messages to `room` from `first` on, and writes them.
  static void send(log_history& store, std::string_view room, std::uint64_t first, std::size_t count) {
    for (std::uint64_t seq = first; seq < first + count; ++seq) {
      const std::string token = "token-" + std::string(room);
      store.append({room, seq, 1000 + seq, shared_body(body(room, seq)),
                    message_origin{token, "alice", seq}});
      if (seq % 7 == 0) {
        ASSERT_TRUE(store.write_pending());
      }
    }
    ASSERT_TRUE(store.write_pending());
  }
  // The `msg` event published as `seq` of `room` (in epoch 1: the epoch
  // of a body is not the store's business, but a new epoch rewrites it).
  static std::string body(std::string_view room, std::uint64_t seq) {
    return bcast::proto::encode_msg({1, seq, 1000 + seq, room, "alice", text(room, seq)});
  }
  static std::string text(std::string_view room, std::uint64_t seq) {
    return std::string(room) + "#" + std::to_string(seq) + std::string(seq % 50, '.');
  }
  static bcast::proto::event::msg decoded(std::string_view bytes) {
    const auto event = bcast::proto::decode_event(bytes);
    const auto* any = std::get_if<bcast::proto::any_event>(&event);
    const auto* m = any != nullptr ? std::get_if<bcast::proto::event::msg>(any) : nullptr;
    return m != nullptr ? *m : bcast::proto::event::msg{};
  }
  static std::uint64_t last_seq(const log_history& store, std::string_view room) {
    for (const auto& r : store.restored().rooms) {
      if (r.room == room) return r.seq;
    }
    return 0;
  }
  std::string segment_path(std::uint64_t number) const {
    std::string digits = std::to_string(number);
    return opts_.dir + "/" + std::string(20 - digits.size(), '0') + digits + ".seg";
  }
  blog::store_meta meta() const { return *blog::decode_meta(*blog::read_meta(opts_.dir)); }

  fs::path root_;
  log_history_options opts_;
};

TEST_F(log_history_test, a_clean_stop_keeps_epoch_seqs_messages_and_acks) {
  const std::uint64_t epoch = first_run([](log_history& store) {
    EXPECT_EQ(store.opening(), log_opening::fresh);
    send(store, "lobby", 1, 30);
    send(store, "dev", 1, 5);
    store.note_sys_seq(12);
  });
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "lobby"), 30U);
  EXPECT_EQ(last_seq(*store, "dev"), 5U);
  EXPECT_EQ(store->restored().sys_seq, 12U);
  EXPECT_EQ(store->restored().acks.size(), 35U);
  const auto slice = store->read("lobby", 25, 100);
  ASSERT_EQ(slice.bodies.size(), 5U);
  EXPECT_EQ(*slice.bodies.front(), body("lobby", 26));
  EXPECT_EQ(slice.first, 1U);
}

TEST_F(log_history_test, a_crash_keeps_the_epoch_and_everything_written) {
  const std::uint64_t epoch = first_run([](log_history& store) { send(store, "lobby", 1, 10); });
  crash_after([](log_history& store) {
    send(store, "lobby", 11, 40);
    store.note_sys_seq(3);
    [[maybe_unused]] const bool ok = store.write_pending();
  });
  EXPECT_FALSE(meta().clean);
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "lobby"), 50U);
  EXPECT_EQ(store->restored().sys_seq, 3U);
  EXPECT_EQ(store->read("lobby", std::nullopt, 1000).bodies.size(), 50U);
}

TEST_F(log_history_test, after_a_reboot_only_the_durable_mode_keeps_its_epoch) {
  const auto crash_then_reboot = [this](bool durable) {
    opts_.durable = durable;
    crash_after([](log_history& store) { send(store, "lobby", 1, 10); });
    auto m = meta();
    m.boot_id = "another-boot";
    blog::write_meta(opts_.dir, m);
    return m.epoch;
  };
  const auto epoch = crash_then_reboot(false);
  {
    // A new epoch, with what reached the disk numbered from 1 in it.
    auto store = open();
    EXPECT_EQ(store->opening(), log_opening::reset);
    EXPECT_NE(store->epoch(), epoch);
    EXPECT_EQ(last_seq(*store, "lobby"), 10U);
    EXPECT_TRUE(store->restored().acks.empty());
    const auto slice = store->read("lobby", std::nullopt, 100);
    ASSERT_EQ(slice.bodies.size(), 10U);
    EXPECT_EQ(decoded(*slice.bodies[3]).epoch, store->epoch());
    EXPECT_EQ(decoded(*slice.bodies[3]).text, text("lobby", 4));
  }
  fs::remove_all(opts_.dir);
  const auto durable_epoch = crash_then_reboot(true);
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), durable_epoch);
  EXPECT_EQ(last_seq(*store, "lobby"), 10U);
}

TEST_F(log_history_test, a_missing_or_shortened_newest_segment_begins_a_new_epoch) {
  for (const bool remove : {true, false}) {
    std::uint64_t epoch = 0;
    {
      auto store = open();
      epoch = store->epoch();
      send(*store, "lobby", 1, 20);
    }
    const std::string newest = segment_path(meta().segment);
    if (remove) {
      fs::remove(newest);
    } else {
      fs::resize_file(newest, fs::file_size(newest) - 5);
    }
    // A new epoch: what could be read is kept, numbered from 1.
    auto store = open();
    EXPECT_EQ(store->opening(), log_opening::reset) << remove;
    EXPECT_NE(store->epoch(), epoch);
    EXPECT_LT(last_seq(*store, "lobby"), 20U);
    const auto slice = store->read("lobby", std::nullopt, 100);
    EXPECT_EQ(slice.bodies.size(), last_seq(*store, "lobby"));
    for (std::size_t i = 0; i < slice.bodies.size(); ++i) {
      EXPECT_EQ(decoded(*slice.bodies[i]).seq, i + 1);
      EXPECT_EQ(decoded(*slice.bodies[i]).epoch, store->epoch());
    }
    store.reset();
    fs::remove_all(opts_.dir);
  }
}

// Found by the attack session: old segments are deleted at the first
// heartbeat after a roll, while `meta` (rewritten once a second) may still
// name one of them; a crash then looked like a missing newest segment.
TEST_F(log_history_test, a_crash_right_after_old_segments_went_keeps_the_epoch) {
  use_small_segments();
  const std::uint64_t epoch = first_run([](log_history&) {});
  crash_after([](log_history& store) {
    for (std::uint64_t seq = 1; seq <= 2000; seq += 50) {
      send(store, "busy", seq, 50);
      store.tick(0);
    }
  });
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "busy"), 2000U);
  EXPECT_EQ(store->read("busy", std::nullopt, 100).bodies.size(), 10U);
}

// A segment whose messages all left the window gives its file to the next
// segment (the kernel still caches its pages: overwriting them costs half of
// appending to a new file). What the file held before lies past the new
// records, intact under the old segment's CRC seed: a crash must not make
// recovery read it as messages of the new segment.
TEST_F(log_history_test, a_reused_segment_file_never_yields_what_it_held_before) {
  use_small_segments();
  std::uint64_t epoch = 0;
  {
    auto store = open();
    epoch = store->epoch();
    std::map<std::uint64_t, std::uint64_t> inode_of;  // segment number -> file
    for (std::uint64_t seq = 1; seq <= 600; seq += 20) {
      send(*store, "busy", seq, 20);
      for (const auto& entry : fs::directory_iterator(opts_.dir)) {
        if (entry.path().extension() != ".seg") continue;
        struct stat st {};
        ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
        inode_of.emplace(std::stoull(entry.path().stem().string()), st.st_ino);
      }
    }
    std::set<std::uint64_t> files;
    for (const auto& [number, inode] : inode_of) files.insert(inode);
    EXPECT_GT(inode_of.size(), 10U);
    EXPECT_LE(files.size(), 3U) << "segments reuse the files of dead ones";
  }
  // Records of one size from here on: a reused file's older records then
  // begin exactly where the new segment's end, as readable as they were.
  const auto fixed = [](std::uint64_t seq) {
    return bcast::proto::encode_msg({1, seq, 1000 + seq, "busy", "alice", "fixed size " + std::to_string(seq)});
  };
  crash_after([&](log_history& store) {
    for (std::uint64_t seq = 601; seq <= 2003; ++seq) {
      store.append({"busy", seq, 1000 + seq, shared_body(fixed(seq)), message_origin{"token-busy", "alice", seq}});
      if (seq % 20 == 0) {
        ASSERT_TRUE(store.write_pending());
      }
      if (seq % 100 == 0) store.tick(0);
    }
    ASSERT_TRUE(store.write_pending());
  });
  // The newest segment yields no record older than its own checkpoint.
  std::uint64_t newest = 0;
  for (const auto& entry : fs::directory_iterator(opts_.dir)) {
    if (entry.path().extension() == ".seg") newest = std::max<std::uint64_t>(newest, std::stoull(entry.path().stem().string()));
  }
  {
    std::ifstream in(segment_path(newest), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto header = blog::decode_header(bytes);
    ASSERT_TRUE(header);
    std::uint64_t floor = 0;
    std::uint64_t older = 0;
    std::uint64_t records = 0;
    blog::scan(std::string_view(bytes).substr(blog::header_size), [&](const blog::record& r, std::size_t) {
      if (const auto* c = std::get_if<blog::checkpoint_record>(&r)) {
        for (const auto& [room, last] : c->rooms) floor = room == "busy" ? last : floor;
      } else if (const auto* m = std::get_if<blog::msg_record>(&r)) {
        ++records;
        if (m->seq <= floor) ++older;
      }
    }, blog::seed_of(*header));
    EXPECT_GT(records, 0U);
    EXPECT_GT(bytes.size(), blog::header_size + 1000) << "the file was reused";
    EXPECT_EQ(older, 0U) << "records of the file's earlier use were read";
  }
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "busy"), 2003U);
  const auto busy = store->read("busy", std::nullopt, 100);
  ASSERT_EQ(busy.bodies.size(), 10U);
  for (std::size_t i = 0; i < busy.bodies.size(); ++i) EXPECT_EQ(*busy.bodies[i], fixed(1994 + i));
  EXPECT_FALSE(fs::exists(opts_.dir + "/spare"));
  // Appending goes on without tripping over what recovery cut.
  send(*store, "busy", 2004, 200);
  store.reset();
  store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(last_seq(*store, "busy"), 2203U);
}

// Directories written before version 2 (records' CRCs from 0) are read.
TEST_F(log_history_test, a_segment_of_format_version_1_is_read) {
  const std::uint64_t epoch = 1700000000000;
  const blog::segment_header header{epoch, 1, 1};
  ASSERT_EQ(blog::seed_of(header), 0U);
  std::string bytes = blog::encode_header(header);
  blog::append(bytes, blog::checkpoint_record{4, {}});
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    blog::append(bytes, blog::msg_record{"lobby", seq, 1000 + seq, seq, "token-lobby", "alice", body("lobby", seq)});
  }
  fs::create_directories(opts_.dir);
  fs::permissions(opts_.dir, fs::perms::owner_all);
  {
    std::ofstream out(segment_path(1), std::ios::binary);
    out << bytes;
  }
  fs::permissions(segment_path(1), fs::perms::owner_read | fs::perms::owner_write);
  blog::write_meta(opts_.dir, {epoch, true, false, blog::boot_id(), 1, bytes.size()});
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "lobby"), 5U);
  EXPECT_EQ(store->restored().sys_seq, 4U);
  const auto lobby = store->read("lobby", std::nullopt, 10);
  ASSERT_EQ(lobby.bodies.size(), 5U);
  EXPECT_EQ(*lobby.bodies[4], body("lobby", 5));
  ASSERT_EQ(store->restored().acks.size(), 5U);
}

// A damaged meta file: which run the segments belong to is not known, so a
// new epoch begins, with every readable message numbered from 1.
TEST_F(log_history_test, a_damaged_meta_keeps_the_messages_in_a_new_epoch) {
  const std::uint64_t epoch = first_run([](log_history& store) { send(store, "lobby", 1, 20); });
  std::string meta_text = *blog::read_meta(opts_.dir);
  meta_text[meta_text.find("size ") + 5] ^= 1;
  std::ofstream(opts_.dir + "/meta", std::ios::trunc) << meta_text;
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::reset);
  EXPECT_NE(store->epoch(), epoch);
  EXPECT_EQ(last_seq(*store, "lobby"), 20U);
  EXPECT_EQ(decoded(*store->read("lobby", std::nullopt, 100).bodies.back()).text, text("lobby", 20));
}

TEST_F(log_history_test, new_epoch_keeps_the_stored_messages) {
  const std::uint64_t epoch =
      first_run([](log_history& store) { send(store, "lobby", 93, 8); });  // seqs 93-100 become 1-8
  opts_.new_epoch = true;
  {
    // Numbered from 1 in the new epoch, the bodies rewritten to say so.
    auto store = open();
    EXPECT_EQ(store->opening(), log_opening::new_epoch);
    EXPECT_NE(store->epoch(), epoch);
    EXPECT_EQ(last_seq(*store, "lobby"), 8U);
    const auto slice = store->read("lobby", std::nullopt, 100);
    ASSERT_EQ(slice.bodies.size(), 8U);
    EXPECT_EQ(decoded(*slice.bodies[7]).epoch, store->epoch());
    EXPECT_EQ(decoded(*slice.bodies[7]).seq, 8U);
    EXPECT_EQ(decoded(*slice.bodies[7]).text, text("lobby", 100));
  }
  opts_.new_epoch = false;
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->read("lobby", std::nullopt, 100).bodies.size(), 8U);
}

TEST_F(log_history_test, is_private_locked_and_refuses_what_is_not_its_own) {
  {
    auto store = open();
    EXPECT_EQ(fs::status(opts_.dir).permissions(), fs::perms::owner_all);
    EXPECT_EQ(fs::status(opts_.dir + "/meta").permissions(), fs::perms::owner_read | fs::perms::owner_write);
    try {
      open();
      ADD_FAILURE() << "a second broker opened the same directory";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("in use by another broker"), std::string::npos);
    }
  }
  std::ofstream(opts_.dir + "/notes.txt") << "mine";
  try {
    open();
    ADD_FAILURE() << "a directory with another file was adopted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(opts_.dir), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("notes.txt"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::ifstream(opts_.dir + "/notes.txt").get(), 'm');
  const std::string file = (root_ / "file").string();
  std::ofstream(file) << "not a directory";
  opts_.dir = file;
  EXPECT_THROW(open(), std::runtime_error);
}

// Cut the newest segment at every length and flip bytes all over the
// directory's files: opening never crashes, never serves a message that
// was not written, and while it keeps the epoch every room goes on above
// the last seq that was written.
TEST_F(log_history_test, damage_anywhere_never_serves_garbage_nor_reuses_a_seq) {
  opts_.segment_bytes = 2048;  // several segments, and a checkpoint in each
  std::uint64_t epoch = 0;
  {
    auto store = open();
    epoch = store->epoch();
    send(*store, "lobby", 1, 60);
    send(*store, "dev", 1, 12);
  }
  const fs::path pristine = root_ / "pristine";
  fs::copy(opts_.dir, pristine, fs::copy_options::recursive);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(pristine)) {
    if (entry.path().filename() != "lock") files.push_back(entry.path().filename());
  }
  std::sort(files.begin(), files.end());
  const fs::path newest = fs::path(segment_path(meta().segment)).filename();
  const auto check = [&](const std::string& what) {
    std::unique_ptr<log_history> store;
    try {
      store = open();
    } catch (const std::runtime_error&) {
      return;  // refused, with a sentence: never adopted
    }
    for (const char* room : {"lobby", "dev"}) {
      const auto slice = store->read(room, 0, 1000);
      std::uint64_t previous = 0;  // renumbered in a new epoch, in the same order
      for (std::size_t i = 0; i < slice.bodies.size(); ++i) {
        if (store->epoch() == epoch) {
          EXPECT_EQ(*slice.bodies[i], body(room, slice.first + i)) << what;
          continue;
        }
        const auto m = decoded(*slice.bodies[i]);
        const std::uint64_t original = std::stoull(m.text.substr(m.text.find('#') + 1));
        EXPECT_EQ(m.text, text(room, original)) << what;
        EXPECT_GT(original, previous) << what;
        previous = original;
      }
    }
    if (store->epoch() == epoch) {
      EXPECT_GE(last_seq(*store, "lobby"), 60U) << what;
      EXPECT_GE(last_seq(*store, "dev"), 12U) << what;
    }
  };
  const auto restore = [&] {
    fs::remove_all(opts_.dir);
    fs::copy(pristine, opts_.dir, fs::copy_options::recursive);
  };
  std::size_t cases = 0;
  const auto newest_size = fs::file_size(pristine / newest);
  for (std::uintmax_t cut = 0; cut < newest_size; cut += 3, ++cases) {
    restore();
    fs::resize_file(fs::path(opts_.dir) / newest, cut);
    check("cut at " + std::to_string(cut));
  }
  std::mt19937 random(11);
  for (const auto& name : files) {
    const auto size = fs::file_size(pristine / name);
    for (int i = 0; i < 150 && size > 0; ++i, ++cases) {
      restore();
      const auto at = static_cast<std::streamoff>(random() % size);
      std::fstream f(fs::path(opts_.dir) / name, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(at);
      const char c = static_cast<char>(f.get());
      f.seekp(at);
      f.put(static_cast<char>(c ^ (1 << (random() % 8))));
      f.close();
      check(name.string() + " flipped at " + std::to_string(at));
    }
  }
  EXPECT_GT(cases, 1000U);
}

TEST_F(log_history_test, segments_with_nothing_live_go_and_a_quiet_room_is_copied_forward) {
  use_small_segments();
  std::uint64_t peak_segments = 0;
  {
    auto store = open();
    send(*store, "quiet", 1, 2);
    for (std::uint64_t seq = 1; seq <= 2000; seq += 50) {
      send(*store, "busy", seq, 50);
      store->tick(0);
      peak_segments = std::max<std::uint64_t>(peak_segments, store->segments());
    }
    EXPECT_LT(store->segments(), 12U);
    EXPECT_LT(store->disk_bytes(), 64U << 10);
  }
  EXPECT_GT(peak_segments, 2U);
  auto store = open();
  EXPECT_EQ(last_seq(*store, "busy"), 2000U);
  const auto quiet = store->read("quiet", std::nullopt, 10);
  ASSERT_EQ(quiet.bodies.size(), 2U);
  EXPECT_EQ(*quiet.bodies[1], body("quiet", 2));
  EXPECT_EQ(store->read("busy", std::nullopt, 100).bodies.size(), 10U);
}

// A 4 MiB tmpfs to fill, mounted while it lives (needs root).
class small_disk {
 public:
  explicit small_disk(fs::path at) : path_(std::move(at)) {
    fs::create_directories(path_);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=4m") == 0;
    if (!mounted_) why_not_ = std::string("cannot mount a tmpfs to fill (") + std::strerror(errno) + "): needs root";
  }
  ~small_disk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& why_not() const { return why_not_; }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool mounted_ = false;
  std::string why_not_;
};

// A disk that fills (a 4 MiB tmpfs: needs root, skipped otherwise) stops new
// messages before anything is lost, and they are taken again when space
// returns; everything written before is kept.
TEST_F(log_history_test, a_full_disk_refuses_new_messages_until_space_returns) {
  small_disk disk(root_ / "small");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  const fs::path& small = disk.path();
  opts_.dir = (small / "rooms").string();
  const fs::path filler = small / "filler";
  std::ofstream(filler) << std::string(std::size_t{2200} << 10, 'f');
  std::uint64_t seq = 0;
  {
    auto store = open();
    while (store->accepting() && seq < 100000) {
      store->append({"lobby", ++seq, seq, shared_body(std::string(1000, 'x')), std::nullopt});
      ASSERT_TRUE(store->write_pending()) << "a write failed at seq " << seq << ": the reserve did not hold";
    }
    ASSERT_FALSE(store->accepting());
    EXPECT_GT(seq, 100U);
    store->tick(0);
    EXPECT_FALSE(store->accepting());
    fs::remove(filler);
    store->tick(0);
    ASSERT_TRUE(store->accepting());
    store->append({"lobby", ++seq, seq, shared_body(std::string(1000, 'y')), std::nullopt});
    ASSERT_TRUE(store->write_pending());
  }
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(last_seq(*store, "lobby"), seq);
  const auto slice = store->read("lobby", std::nullopt, 1000);
  EXPECT_EQ(slice.bodies.size(), seq);
  EXPECT_EQ(*slice.bodies.back(), std::string(1000, 'y'));
}

// Found by the attack session: a quiet room's few messages pinned the oldest
// segment, and a disk filled by the busy room never had room again. On a
// full disk the oldest segment's live messages are copied forward (into the
// reserve) and the segments that hold nothing live go.
TEST_F(log_history_test, a_disk_full_of_old_segments_frees_itself) {
  small_disk disk(root_ / "small");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  const fs::path& small = disk.path();
  opts_.dir = (small / "rooms").string();
  opts_.segment_bytes = 256 << 10;
  opts_.per_room = 10;
  auto store = open();
  send(*store, "quiet", 1, 2);
  std::uint64_t seq = 0;
  while (store->accepting() && seq < 100000) {
    store->append({"busy", ++seq, seq, shared_body(std::string(1000, 'b')), std::nullopt});
    if (seq % 10 == 0) {
      ASSERT_TRUE(store->write_pending());
    }
  }
  ASSERT_FALSE(store->accepting()) << "the disk never filled";
  // Heartbeats until then (a deleted segment's space returns once the sync
  // thread has closed it, within its interval).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!store->accepting() && std::chrono::steady_clock::now() < deadline) {
    store->tick(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(store->accepting()) << "a full disk of dead segments was never freed";
  EXPECT_LE(store->segments(), 3U);
  store.reset();
  store = open();
  EXPECT_EQ(store->read("quiet", std::nullopt, 10).bodies.size(), 2U);
  EXPECT_EQ(last_seq(*store, "busy"), seq);
}

// Found by the attack session: links left in the directory were followed
// (meta.new onto another file, which was overwritten).
TEST_F(log_history_test, links_in_the_directory_are_refused_and_not_followed) {
  { auto store = open(); }
  const std::string victim = (root_ / "victim").string();
  std::ofstream(victim) << "important";
  fs::create_symlink(victim, opts_.dir + "/meta.new");
  EXPECT_THROW(open(), std::runtime_error);
  fs::remove(opts_.dir + "/meta.new");
  fs::create_symlink(victim, segment_path(99));
  EXPECT_THROW(open(), std::runtime_error);
  std::string kept;
  std::ifstream(victim) >> kept;
  EXPECT_EQ(kept, "important");
}

// Found by the attack session: with its directory deleted the broker went on
// acknowledging messages nothing could read back. Now it refuses them.
TEST_F(log_history_test, a_deleted_directory_refuses_new_messages) {
  auto store = open();
  send(*store, "lobby", 1, 3);
  store->tick(0);
  EXPECT_TRUE(store->accepting());
  fs::remove_all(opts_.dir);
  store->tick(0);
  EXPECT_FALSE(store->accepting());
  store->append({"lobby", 4, 4, shared_body(body("lobby", 4)), std::nullopt});
  EXPECT_TRUE(store->write_pending());
  EXPECT_FALSE(store->accepting());
}

// ---------------------------------------------------------------------------
// The earlier SQLite store's files

void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
}

TEST_F(log_history_test, an_earlier_sqlite_history_file_is_converted_with_its_epoch) {
  const std::string file = (root_ / "history.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  exec(db, R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL,
      ts INTEGER NOT NULL, body BLOB NOT NULL, token TEXT, sender TEXT, req INTEGER);
    INSERT INTO meta VALUES ('schema', 1), ('epoch', 1700000000123), ('sys_seq', 41), ('clean', 1);
    INSERT INTO rooms VALUES ('lobby', 3), ('old', 90);
    INSERT INTO messages(room, seq, ts, body, token, sender, req) VALUES
      ('lobby', 2, 1, X'6c6f6262792332', 'tok', 'alice', 5),
      ('lobby', 3, 2, X'6c6f6262792333', NULL, NULL, NULL);)sql");
  sqlite3_close(db);
  const std::string other = (root_ / "other.db").string();
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  exec(db, "CREATE TABLE meta(k, v); INSERT INTO meta VALUES ('schema', 1);");
  sqlite3_close(db);

  EXPECT_FALSE(bcast::broker::is_sqlite_history(other));
  EXPECT_FALSE(bcast::broker::is_sqlite_history(opts_.dir));
  ASSERT_TRUE(bcast::broker::is_sqlite_history(file));
  EXPECT_EQ(bcast::broker::import_sqlite_history(file, opts_.dir), 2U);
  auto store = open();
  EXPECT_EQ(store->opening(), log_opening::continued);
  EXPECT_EQ(store->epoch(), 1700000000123U);
  EXPECT_EQ(last_seq(*store, "old"), 90U);
  EXPECT_EQ(store->restored().sys_seq, 41U);
  ASSERT_EQ(store->restored().acks.size(), 1U);
  EXPECT_EQ(store->restored().acks[0].ack.seq, 2U);
  const auto slice = store->read("lobby", std::nullopt, 10);
  ASSERT_EQ(slice.bodies.size(), 2U);
  EXPECT_EQ(*slice.bodies[1], "lobby#3");
}

}  // namespace
