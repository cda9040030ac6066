// Secrets given as files, so they never show in `ps` or shell history: the
// join token on both sides (--join-token-file, --token-file).
#pragma once

#include <string>

namespace bcast::app {

// The first line of `path`, without its line end or surrounding blanks.
// Throws CLI::ValidationError (naming `flag`) when it cannot be read or is
// empty, or when other users may read it (as ssh refuses a readable key).
[[nodiscard]] std::string read_secret_file(const std::string& path, const char* flag);

}  // namespace bcast::app
