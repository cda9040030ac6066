// The session a `connect` left behind when it crashed or was killed: its
// token and the first message id it had not used, kept per name and broker
// in the state directory (mode 0600, "TOKEN ID"), so
// the same command started again resumes it at once instead of waiting for
// the broker to free the name. A running client holds an exclusive lock on
// its file: a second `connect` with the same name never takes the session
// of one that still runs (it is told the name is in use, as before).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bcast::app {

class saved_session {
 public:
  // Opens and locks the file for `name` at `in_endpoint`; without a state
  // directory, or when another running client holds the lock, nothing is
  // saved or resumed. A directory or file that cannot be used (not
  // writable, a symbolic link planted in the file's place) is not an error
  // either: problem() says why resuming is off.
  saved_session(const std::string& name, const std::string& in_endpoint);
  // A run that ends normally said bye: nothing is left to resume.
  ~saved_session();
  saved_session(const saved_session&) = delete;
  saved_session& operator=(const saved_session&) = delete;

  // The token a crashed run left, if any and if the lock is ours.
  [[nodiscard]] const std::optional<std::string>& token() const { return token_; }
  // The first message id that run had not used (1 without a token).
  [[nodiscard]] std::uint64_t first_id() const { return first_id_; }
  // Why a crashed run could not be resumed from here (a sentence naming the
  // path and the reason), or empty when it can (or when another running
  // client of ours holds the file).
  [[nodiscard]] const std::string& problem() const { return problem_; }
  // Keeps the current session's `token` and first unused id in the file.
  void save(const std::string& token, std::uint64_t first_unused_id);

 private:
  int fd_ = -1;
  std::optional<std::string> token_;
  std::uint64_t first_id_ = 1;
  std::string problem_;
};

}  // namespace bcast::app
