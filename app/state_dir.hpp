// Where broadcast-server keeps a user's state between runs:
// $XDG_STATE_HOME/broadcast-server, or ~/.local/state/broadcast-server.
#pragma once

#include <string>

namespace bcast::app {

// The path of `file` in the state directory, which is created if missing;
// empty when there is no such directory (no HOME) or it cannot be made.
std::string state_file(const std::string& file);

// Why state_file() returns empty, as a sentence naming the variable or the
// path ("HOME is not set…", "cannot create /x/.local/state/…: Permission
// denied"); empty when the state directory is fine.
std::string state_dir_problem();

}  // namespace bcast::app
