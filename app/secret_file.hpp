// Secrets given as files, so they never show in `ps` or shell history: the
// join token on both sides (--join-token-file, --token-file) and CURVE key
// files (--curve-secret, --key, --server-key).
#pragma once

#include <string>

#include "bcast/proto/curve_cert.hpp"

namespace bcast::app {

// The first line of `path`, without its line end or surrounding blanks.
// Throws CLI::ValidationError (naming `flag`) when it cannot be read or is
// empty, or when other users may read it (as ssh refuses a readable key).
[[nodiscard]] std::string read_secret_file(const std::string& path, const char* flag);

// A CURVE key file (zcert format); with `secret`, it must hold the secret
// key and be private to its owner. Throws CLI::ValidationError naming `flag`.
[[nodiscard]] proto::curve_cert read_key_file(const std::string& path, bool secret, const char* flag);

}  // namespace bcast::app
