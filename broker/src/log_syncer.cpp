// The sync thread of the history log (see log_syncer.hpp). Its state lives in
// a shared block, so a thread stuck in fdatasync on a dead disk can be left
// behind at a stop without pointing into freed memory.
#include "log_syncer.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace bcast::broker::log {
namespace {

// After a failed fdatasync, the next try.
constexpr auto retry_after = std::chrono::milliseconds(100);
// `meta` records the synced size at most this often.
constexpr auto meta_every = std::chrono::seconds(1);

}  // namespace

struct syncer::state {
  std::string dir;
  store_meta meta;
  std::chrono::milliseconds interval;
  int commit_fd = -1;

  std::mutex mutex;
  std::mutex meta_mutex;  // one writer of `meta` at a time (it goes through meta.new)
  std::condition_variable wake;
  std::condition_variable synced_moved;
  int fd = -1;               // newest segment
  std::vector<int> retired;  // older ones to sync once more and close
  position written;          // as far as the loop has written
  position synced;           // as far as it is on disk
  bool closing = false;
  bool clean_close = false;  // closing: sync and mark `meta` clean
  bool meta_failing = false;  // the thread's last meta write failed
  position recorded;          // in the last meta written (under meta_mutex)
  bool closed = false;

  ~state() {
    for (const int r : retired) ::close(r);
    if (commit_fd >= 0) ::close(commit_fd);
  }

  // One round: sync what was written; returns false on an error.
  bool sync_once(std::chrono::steady_clock::time_point& meta_due) {
    std::unique_lock lock(mutex);
    const position target = written;
    const int current = fd;
    std::vector<int> old;
    old.swap(retired);
    lock.unlock();
    std::size_t done = 0;
    while (done < old.size() && ::fdatasync(old[done]) == 0) ::close(old[done++]);
    bool ok = done == old.size();
    if (ok && current >= 0 && target.written > synced.written) ok = ::fdatasync(current) == 0;
    if (!ok) {
      spdlog::error("history {}: fdatasync failed: {}; retrying", dir, std::strerror(errno));
      lock.lock();
      retired.insert(retired.begin(), old.begin() + static_cast<std::ptrdiff_t>(done), old.end());
      return false;
    }
    lock.lock();
    const bool moved = target.written > synced.written;
    synced = target;
    lock.unlock();
    if (moved) {
      synced_moved.notify_all();
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto w = ::write(commit_fd, &one, sizeof one);
    }
    if (moved && std::chrono::steady_clock::now() >= meta_due) {
      record(target, false);
      meta_due = std::chrono::steady_clock::now() + meta_every;
    }
    return true;
  }

  void write(const position& at, bool clean) {
    store_meta m = meta;
    m.segment = at.segment;
    m.size = at.size;
    m.clean = clean;
    std::lock_guard lock(meta_mutex);
    if (at.written < recorded.written) return;  // never back to an older state
    write_meta(dir, m);
    recorded = at;
  }

  void record(const position& at, bool clean) {
    try {
      write(at, clean);
      meta_failing = false;
    } catch (const std::system_error& e) {
      // Said once per episode: a full disk fails it every second.
      if (!meta_failing) spdlog::error("history {}: {} (the older meta stays)", dir, e.what());
      meta_failing = true;
    }
  }

  void run() {
    auto meta_due = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex);
    while (!closing) {
      const auto due = [this] { return closing || (meta.durable && written.written > synced.written); };
      if (meta.durable) {
        wake.wait(lock, due);
      } else {
        wake.wait_for(lock, interval, due);
      }
      lock.unlock();
      if (!sync_once(meta_due)) std::this_thread::sleep_for(retry_after);
      lock.lock();
    }
    if (clean_close) {
      lock.unlock();
      while (!sync_once(meta_due)) std::this_thread::sleep_for(retry_after);
      record(synced, true);
      lock.lock();
    }
    closed = true;
    synced_moved.notify_all();
  }
};

syncer::syncer(std::string dir, store_meta meta, std::chrono::milliseconds interval)
    : state_(std::make_shared<state>()) {
  state_->dir = std::move(dir);
  state_->meta = std::move(meta);
  state_->interval = interval;
  state_->commit_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->commit_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  std::thread([s = state_] { s->run(); }).detach();
}

syncer::~syncer() {
  std::lock_guard lock(state_->mutex);
  if (state_->closing) return;
  // A stop without a clean mark (the store could not open, or a test
  // leaves as a crash would): the thread just ends.
  state_->closing = true;
  state_->wake.notify_one();
}

void syncer::wrote(int fd, const position& at) {
  {
    std::lock_guard lock(state_->mutex);
    state_->fd = fd;
    state_->written = at;
  }
  if (state_->meta.durable) state_->wake.notify_one();
}

void syncer::retire(int fd) {
  std::lock_guard lock(state_->mutex);
  state_->retired.push_back(fd);
  if (state_->fd == fd) state_->fd = -1;  // never synced after its close
}

std::uint64_t syncer::synced() const {
  std::lock_guard lock(state_->mutex);
  return state_->synced.written;
}

int syncer::commit_fd() const { return state_->commit_fd; }

void syncer::record(const position& at) { state_->write(at, false); }

bool syncer::wait_synced(std::uint64_t written, std::chrono::milliseconds patience) {
  std::unique_lock lock(state_->mutex);
  state_->wake.notify_one();
  return state_->synced_moved.wait_for(lock, patience,
                                       [&] { return state_->synced.written >= written; });
}

bool syncer::close(const position& at, std::chrono::milliseconds patience) {
  std::unique_lock lock(state_->mutex);
  state_->written = at;
  state_->closing = true;
  state_->clean_close = true;
  state_->wake.notify_one();
  return state_->synced_moved.wait_for(lock, patience, [this] { return state_->closed; });
}

}  // namespace bcast::broker::log
