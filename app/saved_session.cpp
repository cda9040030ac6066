// A crashed `connect`'s session token, kept to resume it (saved_session.hpp).
#include "saved_session.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "state_dir.hpp"

namespace bcast::app {
namespace {

// The largest token file read back: a token is 32 hex digits.
constexpr std::size_t max_token_bytes = 128;

// One file per (name, broker): FNV-1a of both, so any name or endpoint
// makes a plain file name.
std::string file_for(const std::string& name, const std::string& in_endpoint) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : name + '\n' + in_endpoint) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "session-%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

}  // namespace

saved_session::saved_session(const std::string& name, const std::string& in_endpoint) {
  const std::string path = state_file(file_for(name, in_endpoint));
  if (path.empty()) return;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return;
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {  // another run of ours holds it
    ::close(fd_);
    fd_ = -1;
    return;
  }
  char buffer[max_token_bytes];
  const ssize_t n = ::pread(fd_, buffer, sizeof buffer, 0);
  if (n > 0 && static_cast<std::size_t>(n) < sizeof buffer) token_ = std::string(buffer, static_cast<std::size_t>(n));
}

saved_session::~saved_session() {
  if (fd_ < 0) return;
  (void)::ftruncate(fd_, 0);
  ::close(fd_);  // releases the lock
}

void saved_session::save(const std::string& token) {
  if (fd_ < 0 || token.size() >= max_token_bytes) return;
  if (::ftruncate(fd_, 0) != 0) return;
  (void)::pwrite(fd_, token.data(), token.size(), 0);  // at worst the next run starts anew
}

}  // namespace bcast::app
