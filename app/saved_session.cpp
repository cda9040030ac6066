// A crashed `connect`'s session token, kept to resume it (saved_session.hpp).
#include "saved_session.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "state_dir.hpp"

namespace bcast::app {
namespace {

// The largest session file read back: a token is 32 hex digits.
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

// What a restart after a crash does without a session file.
constexpr const char* without_resume =
    "; a connect restarted after a crash waits for the broker to free its name";

// Why `path` cannot hold the session (open's errno `error`, or 0 when it
// opened but is not a regular file).
std::string why_unusable(const std::string& path, int error) {
  std::string why = error == ELOOP   ? path + " is a symbolic link (not followed)"
                    : error == 0     ? path + " is not a regular file"
                                     : "cannot open " + path + ": " + std::strerror(error);
  return "crash resume is off: " + why + without_resume;
}

}  // namespace

saved_session::saved_session(const std::string& name, const std::string& in_endpoint) {
  const std::string path = state_file(file_for(name, in_endpoint));
  if (path.empty()) {
    const std::string dir_problem = state_dir_problem();
    if (!dir_problem.empty()) problem_ = "crash resume is off: " + dir_problem + without_resume;
    return;
  }
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd_ < 0) {
    problem_ = why_unusable(path, errno);
    return;
  }
  struct stat file{};
  if (::fstat(fd_, &file) != 0 || !S_ISREG(file.st_mode)) {  // a FIFO or device planted there
    problem_ = why_unusable(path, 0);
    ::close(fd_);
    fd_ = -1;
    return;
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {  // another run of ours holds it
    ::close(fd_);
    fd_ = -1;
    return;
  }
  char buffer[max_token_bytes];
  const ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return;
  buffer[n] = '\0';
  char token[max_token_bytes];
  unsigned long long id = 0;
  // Anything but hex digits and a number is not ours: start anew.
  if (std::sscanf(buffer, "%127[0-9a-f] %llu", token, &id) == 2 && id > 0) {
    token_ = token;
    first_id_ = id;
  }
}

saved_session::~saved_session() {
  if (fd_ < 0) return;
  (void)::ftruncate(fd_, 0);
  ::close(fd_);  // releases the lock
}

void saved_session::save(const std::string& token, std::uint64_t first_unused_id) {
  if (fd_ < 0 || token.size() >= max_token_bytes / 2) return;
  const std::string line = token + " " + std::to_string(first_unused_id) + "\n";
  if (::ftruncate(fd_, 0) != 0) return;
  (void)::pwrite(fd_, line.data(), line.size(), 0);  // at worst the next run starts anew
}

}  // namespace bcast::app
