// The per-user state directory (see state_dir.hpp).
#include "state_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace bcast::app {

std::string state_file(const std::string& file) {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path dir;
  if (state != nullptr && *state != '\0') {
    dir = state;
  } else if (home != nullptr && *home != '\0') {
    dir = std::filesystem::path(home) / ".local" / "state";
  } else {
    return {};
  }
  dir /= "broadcast-server";
  std::error_code ec;
  // Chat input and room history are nobody else's business.
  if (std::filesystem::create_directories(dir, ec)) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  return ec ? std::string() : (dir / file).string();
}

}  // namespace bcast::app
