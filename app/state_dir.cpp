// The per-user state directory (see state_dir.hpp).
#include "state_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace bcast::app {
namespace {

// The state directory, or the error that stops it from being made (its
// path is empty when neither XDG_STATE_HOME nor HOME is set).
struct state_dir {
  std::filesystem::path path;
  std::error_code error;
};

state_dir find_state_dir() {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  state_dir dir;
  if (state != nullptr && *state != '\0') {
    dir.path = state;
  } else if (home != nullptr && *home != '\0') {
    dir.path = std::filesystem::path(home) / ".local" / "state";
  } else {
    return dir;
  }
  dir.path /= "broadcast-server";
  // Chat input and room history are nobody else's business.
  if (std::filesystem::create_directories(dir.path, dir.error)) {
    std::filesystem::permissions(dir.path, std::filesystem::perms::owner_all, dir.error);
  }
  return dir;
}

}  // namespace

std::string state_file(const std::string& file) {
  const state_dir dir = find_state_dir();
  return dir.path.empty() || dir.error ? std::string() : (dir.path / file).string();
}

std::string state_dir_problem() {
  const state_dir dir = find_state_dir();
  if (dir.path.empty()) return "neither HOME nor XDG_STATE_HOME is set";
  if (dir.error) return "cannot create " + dir.path.string() + ": " + dir.error.message();
  return {};
}

}  // namespace bcast::app
